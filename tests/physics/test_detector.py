from dataclasses import replace

import numpy as np
import pytest
import xraylib

from pigmentmap.core import EnergyAxis
from pigmentmap.instruments import instrument_names, load_instrument
from pigmentmap.instruments.instrument import MN_KA_KEV
from pigmentmap.physics.detector import (
    SI_KA_KEV,
    SI_KB_KEV,
    add_pileup,
    detection_efficiency,
    escape_fraction,
    escape_fractions,
    response_matrix,
    tail_and_shelf_fractions,
)
from pigmentmap.physics.xraydata import photo_absorption


def _with(instrument, **detector_changes):
    return replace(instrument, detector=replace(instrument.detector, **detector_changes))


def _gaussian_only(instrument):
    return _with(instrument, shelf_fraction=0.0, tail_fraction=0.0)


def test_gaussian_part_conserves_area_and_has_the_profile_width(elio):
    r = response_matrix(_gaussian_only(elio), np.array([MN_KA_KEV]), escape=False)[0]
    assert r.sum() == pytest.approx(1.0, abs=1e-9)
    e = elio.axis.energies
    mean = (r * e).sum()
    sigma = np.sqrt((r * (e - mean) ** 2).sum() - elio.axis.gain_kev**2 / 12)
    assert mean == pytest.approx(MN_KA_KEV, abs=1e-4)
    assert sigma * 2.3548 == pytest.approx(0.135, rel=0.02)


@pytest.mark.parametrize("name", instrument_names())
def test_every_row_sums_to_one_inside_the_axis(name):
    inst = load_instrument(name)
    top = min(inst.axis.max_energy_kev - 1.0, inst.tube.voltage_kv)
    energies = np.linspace(1.0, top, 40)
    for kw in ({}, {"escape": False}, {"widths_kev": np.full(40, 0.2)}):
        rows = response_matrix(inst, energies, **kw).sum(axis=1)
        # The shelf's Gaussian-smeared lower end puts ~1e-5 of a row below 0 keV.
        np.testing.assert_allclose(rows, 1.0, atol=1e-4)
    broad = response_matrix(inst, energies, extra_fwhm_kev=np.full(40, 0.4)).sum(axis=1)
    inside = (energies > 3.5) & (energies < top - 2.0)  # +-4 sigma of the broadened peaks
    np.testing.assert_allclose(broad[inside], 1.0, atol=1e-4)


def test_escape_peaks_of_si_k_alpha_and_k_beta(elio):
    inst = _gaussian_only(elio)
    e = np.array([6.4])
    r = response_matrix(inst, e, escape=True)[0] - response_matrix(inst, e, escape=False)[0]
    ka, kb = escape_fractions(e)
    # K-beta: its 2.7 % share of Si K emission (xraylib rates), a little more of the escape
    # since Si is more transparent to K-beta (just below the K edge) than to K-alpha
    rates = [xraylib.RadRate(14, getattr(xraylib, f"{t}_LINE")) for t in ("KM2", "KM3")]
    assert sum(rates) < kb[0] / (ka[0] + kb[0]) < 1.2 * sum(rates)
    assert escape_fraction(e)[0] == pytest.approx(ka[0] + kb[0])
    esc = r > 0
    window = r[esc].sum()
    assert window == pytest.approx(ka[0] + kb[0], rel=1e-3)
    assert 0.001 < window < 0.02
    centroid = (r[esc] * elio.axis.energies[esc]).sum() / window
    expected = 6.4 - (ka[0] * SI_KA_KEV + kb[0] * SI_KB_KEV) / (ka[0] + kb[0])
    assert centroid == pytest.approx(expected, abs=2e-3)
    assert escape_fraction(np.array([1.8]))[0] == 0.0  # below the Si K edge


def test_tail_lies_below_the_peak_and_holds_its_share(elio):
    e = np.array([MN_KA_KEV])
    gauss = response_matrix(_gaussian_only(elio), e, escape=False)[0]
    with_tail = _with(elio, shelf_fraction=0.0)
    r = response_matrix(with_tail, e, escape=False)[0]
    share = elio.detector.tail_fraction
    tail = r - (1.0 - share) * gauss
    assert tail.min() > -1e-12
    assert tail.sum() == pytest.approx(share, rel=1e-4)
    energies = elio.axis.energies
    # its centroid sits one decay length (tail_slope_fwhm x FWHM) below the line
    decay = elio.detector.tail_slope_fwhm * elio.fwhm_kev(MN_KA_KEV)
    centroid = (tail * energies).sum() / tail.sum()
    assert centroid == pytest.approx(MN_KA_KEV - decay, abs=0.01)
    sigma = elio.fwhm_kev(MN_KA_KEV) / 2.3548
    above = energies > MN_KA_KEV + 5 * sigma
    below = (energies < MN_KA_KEV - 5 * sigma) & (energies > MN_KA_KEV - 1.0)
    assert r[above].sum() < 1e-6
    assert r[below].sum() > 100 * gauss[below].sum()
    # an exponential: the share beyond 5 sigma below is exp(-5 sigma / decay) of the tail
    assert tail[energies < MN_KA_KEV - 5 * sigma].sum() == pytest.approx(
        share * np.exp(-5 * sigma / decay + sigma**2 / (2 * decay**2)), rel=0.05
    )


def test_shelf_is_flat_from_zero_to_the_line(elio):
    e = np.array([10.0])
    inst = _with(elio, tail_fraction=0.0)
    r = response_matrix(inst, e, escape=False)[0]
    energies = elio.axis.energies
    flat = r[(energies > 1.0) & (energies < 9.0)]
    expected = elio.detector.shelf_fraction * elio.axis.gain_kev / 10.0
    np.testing.assert_allclose(flat, expected, rtol=1e-6)
    assert r[energies > 10.6].sum() < 1e-9


def test_tail_share_follows_si_photoabsorption(elio):
    energies = np.array([3.0, MN_KA_KEV, 10.0, 20.0])
    tail, shelf = tail_and_shelf_fractions(elio, energies)
    tau = photo_absorption("Si", energies)
    np.testing.assert_allclose(tail, elio.detector.tail_fraction * tau / tau[1], rtol=1e-9)
    np.testing.assert_allclose(shelf, elio.detector.shelf_fraction)
    # never more than the counts there are
    heavy = _with(elio, tail_fraction=0.4)
    t, s = tail_and_shelf_fractions(heavy, np.array([2.0]))
    assert t[0] + s[0] + escape_fraction(np.array([2.0]))[0] <= 1.0 + 1e-12


def test_efficiency_shape(elio):
    eff = detection_efficiency(elio, np.array([1.0, 3.0, 10.0, 60.0]))
    assert eff[0] < eff[1] and eff[2] > eff[3]
    assert (eff <= 1).all() and (eff >= 0).all()


def test_pileup_sum_peak_and_count_budget():
    axis = EnergyAxis(0.0, 0.1, 200)
    s = np.zeros(200)
    s[50] = 1e5
    p = add_pileup(s, axis, live_time_s=1.0, resolving_time_s=1e-6)
    assert p[100] == pytest.approx(1e5 * 1e5 * 1e-6)
    assert p.sum() == pytest.approx(s.sum() - p[100], rel=1e-9)
    assert add_pileup(s, axis, live_time_s=1.0, resolving_time_s=0.0) is s


def test_pileup_share_grows_with_rate_not_with_live_time():
    axis = EnergyAxis(0.0, 0.1, 200)
    s = np.zeros(200)
    s[30], s[60] = 4e4, 6e4

    def share(counts, live):
        out = add_pileup(counts, axis, live_time_s=live, resolving_time_s=2e-7)
        return out[90] / out.sum()

    base = share(s, 1.0)
    assert base == pytest.approx(2 * 4e4 * 6e4 * 2e-7 / (1e5 - 1e5**2 * 2e-7), rel=1e-9)
    assert share(2 * s, 1.0) == pytest.approx(2 * base, rel=0.03)  # twice the rate
    assert share(2 * s, 2.0) == pytest.approx(base, rel=1e-9)  # same rate, longer


def test_pileup_on_a_quadratic_axis_puts_the_sum_peak_at_the_sum_energy():
    axis = EnergyAxis(0.0, 0.01, 2000, quadratic_kev=1e-6)
    e = axis.energies
    s = np.zeros(2000)
    s[axis.channel_of(3.0)] = 1e5
    p = add_pileup(s, axis, live_time_s=1.0, resolving_time_s=1e-6)
    pile = p - s * (p[axis.channel_of(3.0)] / s[axis.channel_of(3.0)])
    centroid = (pile * e).sum() / pile.sum()
    assert centroid == pytest.approx(2 * e[axis.channel_of(3.0)], abs=0.02)
    assert pile.sum() == pytest.approx(1e4, rel=1e-6)
