"""The calibration engine: recovers known errors, rejects wrong pairings, refuses bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pigmentmap.core import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments import load_instrument
from pigmentmap.instruments.calibration import calibrate, line_families, templates
from pigmentmap.io.open import open_cube
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.simulate import Simulator

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"


def _families(*names: str):
    fams = {f.name: f for f in line_families()}
    return tuple(fams[n] for n in names)


def _synthetic(
    amounts: dict[str, float], axis: EnergyAxis, *, noise_kev: float = 0.1, fano: float = 0.114
) -> np.ndarray:
    t = templates(
        _families(*amounts), axis.energies, np.full(axis.n_channels, axis.gain_kev),
        noise_kev=noise_kev, fano=fano,
    )  # fmt: skip
    return 40.0 + np.array(list(amounts.values())) @ t


@pytest.mark.parametrize("profile", ["elio", "m6-jetstream", "niton-xl3t"])
def test_recovers_an_80_ev_offset_and_a_0p7_percent_gain_error(profile):
    inst = load_instrument(profile).with_changes(live_time_s=500.0)
    lib = default_library()
    stacks = [
        parse_stack("VM:20/LW:40/CaCO3:300", library=lib),
        parse_stack("IO=0.5+ZnO=0.5:30/CaCO3:300", library=lib),
        parse_stack("emerald_green:20/CaCO3:300", library=lib),
    ]
    total = Simulator(inst).simulate(stacks).counts.sum(axis=0)
    true = inst.axis
    wrong = EnergyAxis(true.offset_kev + 0.08, true.gain_kev * 1.007, true.n_channels)
    cal = calibrate(total, axis_hint=wrong)
    e = true.energies
    band = (e >= 3.0) & (e <= 15.0)
    assert np.abs(cal.axis.energies[band] - e[band]).max() < 0.015  # 15 eV
    assert cal.rms_ev() <= 15.0
    expected_fwhm = 1e3 * inst.fwhm_kev(5.8951)
    assert cal.fwhm_mn_ev == pytest.approx(expected_fwhm, rel=0.15)


def test_a_wrong_pairing_is_rejected_by_the_partner_lines():
    # Fe K-alpha and K-beta, no cobalt: a calibration 130 eV low puts Fe K-beta (7.058) where
    # Co K-alpha (6.930) would be. Matching one peak at a time paired them; the consistency fit
    # must not (cobalt would need its own K-beta at 7.65 keV, where there is nothing).
    true = EnergyAxis(0.0, 0.01, 2048)
    s = _synthetic({"Fe K": 1e6, "Ca K": 2e5, "Pb L": 3e5}, true)
    cal = calibrate(s, axis_hint=EnergyAxis(-0.13, 0.01, 2048))
    assert "Co K" not in cal.families
    assert abs(cal.axis.offset_kev) < 0.005 and cal.axis.gain_kev == pytest.approx(0.01, rel=1e-3)
    labels = [p.label for p in cal.peaks]
    assert any(lbl.startswith("Fe K 7.0") for lbl in labels)


def test_tube_lines_of_any_anode_anchor_the_calibration():
    true = EnergyAxis(0.0, 0.0293, 1024)  # an Ag-tube lab scanner, 0-30 keV
    s = _synthetic({"Ag K": 5e5, "Hg L": 2e5, "Ca K": 3e5}, true, noise_kev=0.12)
    cal = calibrate(s, axis_hint=EnergyAxis(-0.07, 0.0293, 1024))
    assert "Ag K" in cal.families
    ag = [p for p in cal.peaks if p.label.startswith("Ag K")]
    assert ag and all(abs(p.measured_kev - p.expected_kev) < 0.02 for p in ag)
    assert abs(cal.axis.offset_kev) < 0.01


def test_quadratic_term():
    true = EnergyAxis(0.0, 0.01, 2048, quadratic_kev=5e-8)
    s = _synthetic({"Ca K": 3e5, "Fe K": 5e5, "Cu K": 2e5, "Pb L": 4e5, "Sr K": 2e5}, true)
    cal = calibrate(s, axis_hint=EnergyAxis(0.0, 0.01, 2048), quadratic=True)
    assert np.abs(cal.axis.energies[300:1600] - true.energies[300:1600]).max() < 0.006


@pytest.mark.parametrize(
    ("spectrum", "message"),
    [
        (np.full(1024, 50.0), "no recognisable peak"),
        (50 + 1e5 * np.exp(-0.5 * ((np.arange(1024) - 400) / 4.0) ** 2), "only one"),
    ],
)
def test_bad_spectra_are_refused_in_one_line(spectrum, message):
    with pytest.raises(PigmentmapError, match=message):
        calibrate(spectrum, axis_hint=EnergyAxis(0.0, 0.02, 1024))


def test_an_impossible_resolution_is_refused():
    # Peaks 25 eV wide at 6 keV: no silicon detector resolves that.
    true = EnergyAxis(0.0, 0.005, 4096)
    s = _synthetic(
        {"Fe K": 1e6, "Ca K": 3e5, "Cu K": 3e5, "Zn K": 2e5}, true, noise_kev=0.02, fano=0.005
    )
    with pytest.raises(PigmentmapError, match="outside the physical range"):
        calibrate(s, axis_hint=true)


def _real(name: str):
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_real_bruker_m6_spectrum():
    cube = open_cube(_real("bruker_m6/bruker_m6_jetstream_file_example.spx"))
    cal = calibrate(
        np.asarray(cube.counts, float).reshape(-1, cube.shape[2]).sum(0), axis_hint=cube.axis
    )
    assert cal.rms_ev() <= 15.0
    assert {"Ca K", "P K", "Rh K"} <= set(cal.families)
    assert 110 < cal.fwhm_mn_ev < 180


def test_real_uncalibrated_multi_element_standard_with_an_approximate_start():
    # README: Co K-alpha near channel 1474; the zero peak near channel 100: about -0.5 + 0.005 ch.
    cube = open_cube(_real("pymca/XRFSpectrum.mca"), calibration=(-0.5, 0.005))
    cal = calibrate(
        np.asarray(cube.counts, float).reshape(-1, cube.shape[2]).sum(0), axis_hint=cube.axis
    )
    assert cal.rms_ev() <= 15.0
    assert {"Co K", "Cu K", "Zn K", "Fe K"} <= set(cal.families)
    co = cal.axis.offset_kev + cal.axis.gain_kev * 1474
    assert co == pytest.approx(6.93, abs=0.05)
