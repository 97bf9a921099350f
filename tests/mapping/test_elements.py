import json

import h5py
import numpy as np
import pytest
from scipy.optimize import nnls

from pigmentmap.core import PigmentmapError
from pigmentmap.mapping.elements import (
    COINCIDENT_SIGNIFICANCE,
    SIGNIFICANCE_THRESHOLD,
    ElementMaps,
    fit_elements,
    nonnegative_fit,
    reference_spectra,
    tube_coincidences,
    tube_line_references,
    write_element_file,
)
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
    with pytest.raises(PigmentmapError, match="expected a cube"):
        fit_elements(np.ones(elio.axis.n_channels), elio.axis, elio, elements=("Fe",))


# --- an Ag-tube scan, significance, elements under tube lines, the element file ---------------

AG_SCAN = {  # stack -> elements seen (none holds Cd, Sn or Sb; lead hides the chalk)
    "VM:30/LW:60/CaCO3:300": ("Hg", "Pb"),
    "IO:40/CaCO3:300": ("Fe", "Ca"),
    "VG:40/CaCO3:300": ("Cu", "Ca"),
    "LW:60/CaCO3:300": ("Pb",),
    "CaCO3:300": ("Ca",),
    "VM=0.5+LW=0.5:60/CaCO3:300": ("Hg", "Pb"),
}


@pytest.fixture(scope="module")
def lab_ag():
    from pigmentmap.instruments import load_instrument

    return load_instrument("lab-ag")


def _scan(instrument, library, stacks, *, seed=0):
    """Poisson counts of ``stacks`` as a 1 x N cube (pile-up as the profile's detector has it)."""
    expected = Simulator(instrument).simulate([parse_stack(s, library=library) for s in stacks])
    rng = np.random.default_rng(seed)
    return rng.poisson(expected.counts).astype(float).reshape(1, len(stacks), -1)


def test_ag_tube_scan_shows_no_cd_sn_sb_but_the_real_elements(library, lab_ag):
    inst = lab_ag.with_changes(live_time_s=0.5)
    _, names = tube_line_references(inst, inst.axis)
    assert {"Ag Ka Rayleigh", "Ag Ka Compton", "Ag Kb Rayleigh", "Ag Kb Compton"} <= set(names)
    maps = fit_elements(_scan(inst, library, list(AG_SCAN)), inst.axis, inst)
    sig = {el: maps.significance[0, :, k] for k, el in enumerate(maps.names)}
    for el in ("Cd", "Sn", "Sb"):
        assert sig[el].max() < SIGNIFICANCE_THRESHOLD, (el, sig[el])
    for pixel, present in enumerate(AG_SCAN.values()):
        for el in present:
            assert sig[el][pixel] > 10, (el, pixel, sig[el][pixel])
    assert sig["Fe"][1] > 100 and sig["Cu"][2] > 100  # thousands of counts each
    assert set(maps.flags) == {"K"}  # K K-alpha 3.31 keV sits on the Ag L scatter (3.35 keV)


def test_significance_rises_with_the_counts(library, lab_ag):
    stacks = ["IO:40/CaCO3:300", "VG:40/CaCO3:300"]
    short, long = (
        fit_elements(
            _scan(lab_ag.with_changes(live_time_s=t), library, stacks), lab_ag.axis, lab_ag
        )
        for t in (0.1, 1.0)
    )
    for pixel, el in enumerate(("Fe", "Cu")):
        k = short.names.index(el)
        ratio = long.significance[0, pixel, k] / short.significance[0, pixel, k]
        assert 2.5 < ratio < 4.0  # sqrt(10) for Poisson counts
        assert long.values[0, pixel, k] / short.values[0, pixel, k] == pytest.approx(10, rel=0.1)


def test_sigma_is_the_scatter_of_the_amplitudes(library, lab_ag):
    inst = lab_ag.with_changes(live_time_s=0.2)
    cube = _scan(inst, library, ["IO=0.1+LW=0.3+CaCO3=0.6:40/CaCO3:300"] * 200, seed=3)
    maps = fit_elements(cube, inst.axis, inst, elements=("Ca", "Fe", "Pb"))
    for k in range(3):
        values = maps.values[0, :, k]
        sigma = values / maps.significance[0, :, k]
        assert 0.6 < values.std() / sigma.mean() < 1.2, maps.names[k]


def test_elements_under_tube_lines_are_shown_only_when_highly_significant(lab_ag):
    axis = lab_ag.axis
    flags = tube_coincidences(lab_ag, ("K", "Ca", "Cd", "Ag"), axis)
    assert set(flags) == {"K", "Ag"} and "Ag L scatter" in flags["K"]
    refs, _ = reference_spectra(lab_ag, ("K", "Ca"), axis)
    tube_refs, tube_names = tube_line_references(lab_ag, axis)
    scatter = 3000 * tube_refs[tube_names.index("Ag L scatter")]
    cube = np.stack([amount * refs[0] + 5000 * refs[1] + scatter + 2.0 for amount in (20, 2e5)])
    maps = fit_elements(cube[None], axis, lab_ag, elements=("K", "Ca"))
    k = maps.names.index("K")
    assert maps.values[0, 0, k] == 0 and maps.significance[0, 0, k] == 0  # hidden
    assert maps.significance[0, 1, k] > COINCIDENT_SIGNIFICANCE
    assert maps.values[0, 1, k] == pytest.approx(2e5, rel=0.05)
    assert maps.significance[0, 0, maps.names.index("Ca")] > 10  # Ca is not flagged


def test_element_file_round_trip(tmp_path, elio):
    maps = ElementMaps(
        np.arange(6.0).reshape(1, 2, 3),
        ("Fe", "Cd", "Pb"),
        np.full((1, 2, 3), 4.0),
        flags={"Cd": "Cd K: under the Rh K-beta scatter"},
    )
    path = write_element_file(tmp_path / "e.h5", maps, source="scan.h5")
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["element_maps"][()], maps.values)
        np.testing.assert_array_equal(f["element_significance"][()], maps.significance)
        assert [n.decode() for n in f["element_names"][()]] == ["Fe", "Cd", "Pb"]
        assert f.attrs["units"] == "counts" and f.attrs["source"] == "scan.h5"
        assert json.loads(f.attrs["element_flags"]) == maps.flags
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.h5"]  # no temporary left
    with pytest.raises(PigmentmapError, match="does not exist"):
        write_element_file(tmp_path / "no" / "e.h5", maps, source="scan.h5")
