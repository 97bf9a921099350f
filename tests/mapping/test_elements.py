import numpy as np
import pytest
from scipy.optimize import nnls

from pigmentmap.core import PigmentmapError
from pigmentmap.mapping.elements import fit_elements, nonnegative_fit, reference_spectra
from pigmentmap.materials import parse_stack
from pigmentmap.simulate import Simulator


def test_nonnegative_fit_matches_scipy_nnls():
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(size=(60, 6)))
    ys = rng.normal(size=(20, 60)) + a @ np.array([1.0, 0.0, 2.0, 0.0, 0.5, 0.0])
    ours = nonnegative_fit(a.T @ a, ys @ a, iterations=3000)
    for y, x in zip(ys, ours, strict=True):
        ref, _ = nnls(a, y)
        np.testing.assert_allclose(x, ref, atol=1e-5)
    assert (ours >= 0).all()


def test_references_have_unit_area_and_peak_at_the_main_line(elio):
    refs, names = reference_spectra(elio, ("Fe", "Pb", "H"), elio.axis)
    assert names == ("Fe K", "Pb L", "Pb M")  # hydrogen has no line to fit
    np.testing.assert_allclose(refs.sum(axis=1), 1.0)
    assert elio.axis.energies[np.argmax(refs[0])] == pytest.approx(6.40, abs=0.02)
    assert elio.axis.energies[np.argmax(refs[1])] == pytest.approx(10.55, abs=0.02)


def test_fit_recovers_known_amounts_and_is_zero_for_absent_elements(elio):
    refs, names = reference_spectra(elio, ("Ca", "Fe", "Cu", "Pb"), elio.axis)
    amounts = [
        {"Ca K": 500.0, "Cu K": 2000.0, "Cu L": 40.0},
        {"Fe K": 4000.0, "Pb L": 1500.0, "Pb M": 300.0},
    ]
    truth = np.array([[a.get(n, 0.0) for n in names] for a in amounts])
    cube = (truth @ refs).reshape(1, 2, -1) + 3.0  # a flat background for SNIP to remove
    maps = fit_elements(cube, elio.axis, elio, elements=("Ca", "Fe", "Cu", "Pb"))
    assert maps.names == ("Ca", "Fe", "Cu", "Pb")
    expected = np.array(
        [[a.get(f"{el} {'L' if el == 'Pb' else 'K'}", 0.0) for el in maps.names] for a in amounts]
    )
    np.testing.assert_allclose(maps.values[0], expected, rtol=0.03, atol=20)


def test_fit_on_simulated_spectra_orders_pixels_by_amount(library, elio):
    sim = Simulator(elio)
    stacks = [
        parse_stack(f"ZnO={f}+LW={1 - f}:80/CaCO3:150", library=library) for f in (0.02, 0.1, 0.3)
    ]
    cube = sim.simulate(stacks).counts.reshape(1, 3, -1)
    maps = fit_elements(cube, elio.axis, elio, elements=("Ca", "Zn", "Pb"))
    zn = maps.values[0, :, maps.names.index("Zn")]
    pb = maps.values[0, :, maps.names.index("Pb")]
    assert zn[0] < zn[1] < zn[2] and pb[0] > pb[2]


def test_fit_refuses_bad_counts(elio):
    cube = np.ones((1, 1, elio.axis.n_channels))
    cube[0, 0, 5] = np.nan
    with pytest.raises(PigmentmapError, match="NaN"):
        fit_elements(cube, elio.axis, elio, elements=("Fe",))
