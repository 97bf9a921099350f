import numpy as np
import pytest

from pigmentmap.core import EnergyAxis
from pigmentmap.physics.detector import (
    SI_KA_KEV,
    add_pileup,
    detection_efficiency,
    escape_fraction,
    response_matrix,
)


def test_response_conserves_area_and_has_right_width(elio):
    r = response_matrix(elio, np.array([5.8951]), escape=False)[0]
    assert r.sum() == pytest.approx(1.0, abs=1e-6)
    e = elio.axis.energies
    mean = (r * e).sum()
    sigma = np.sqrt((r * (e - mean) ** 2).sum() - elio.axis.gain_kev**2 / 12)
    assert mean == pytest.approx(5.8951, abs=1e-4)
    assert sigma * 2.3548 == pytest.approx(0.135, rel=0.02)


def test_escape_peak_position_and_share(elio):
    r = response_matrix(elio, np.array([6.4]), escape=True)[0]
    esc = elio.axis.channel_of(6.4 - SI_KA_KEV)
    window = r[esc - 22 : esc + 23].sum()  # +-4 sigma
    assert window == pytest.approx(escape_fraction(np.array([6.4]))[0], rel=0.05)
    assert 0.001 < window < 0.02


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
