import numpy as np
from scipy.special import expn

from pigmentmap.physics.expint import expn3, expn3_exact


def test_exact_e3_matches_scipy():
    x = np.concatenate([[0.0], np.geomspace(1e-8, 60, 200)])
    assert np.allclose(expn3_exact(x), expn(3, x), rtol=1e-10, atol=1e-300)


def test_tabulated_e3_close_to_exact():
    x = np.random.default_rng(1).exponential(3.0, 100_000)
    assert np.abs(expn3(x) - expn3_exact(x)).max() < 1e-7
    assert expn3(np.array([0.0]))[0] == 0.5
