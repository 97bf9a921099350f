import numpy as np
import pytest
import xraylib

from pigmentmap.instruments import load_instrument
from pigmentmap.instruments.instrument import Tube
from pigmentmap.physics.tube import backscatter_coefficient, ebel_spectrum


def _tube(**kw):
    base = {"anode": "Rh", "voltage_kv": 40.0, "current_ua": 40.0, "window_be_um": 0.0}
    base.update(kw)
    return Tube(**base)


def test_continuum_ends_at_the_voltage():
    ex = ebel_spectrum(_tube(voltage_kv=30.0))
    assert ex.max_energy_kev <= 30.0 + 1e-9
    cont = ex.widths_kev > 0
    # Kramers-like: falls towards E0
    e, n = ex.energies_kev[cont], ex.photons[cont] / ex.widths_kev[cont]
    assert n[e > 25].max() < n[(e > 10) & (e < 15)].min()


def test_k_lines_only_above_the_k_edge():
    edge = xraylib.EdgeEnergy(45, xraylib.K_SHELL)
    below = ebel_spectrum(_tube(voltage_kv=edge - 1.0))
    above = ebel_spectrum(_tube(voltage_kv=edge + 5.0))
    ka = xraylib.LineEnergy(45, xraylib.KL3_LINE)
    assert not np.any(np.isclose(below.energies_kev, ka))
    assert np.any(np.isclose(above.energies_kev, ka))


def test_tungsten_tube_has_l_lines():
    ex = ebel_spectrum(_tube(anode="W", voltage_kv=50.0))
    la = xraylib.LineEnergy(74, xraylib.L3M5_LINE)
    lines = ex.energies_kev[ex.widths_kev == 0]
    assert np.any(np.isclose(lines, la))


def test_window_and_filters_cut_low_energies():
    open_ = ebel_spectrum(_tube())
    be = ebel_spectrum(_tube(window_be_um=500.0))
    low = open_.energies_kev < 3.0
    assert (be.photons[low] < 0.5 * open_.photons[low]).all()
    high = open_.energies_kev > 20.0
    assert be.photons[high] == pytest.approx(
        open_.photons[high], rel=0.03
    )  # mu(Be, 20 keV) rho t = 0.021


def test_silver_profile_filter_applied():
    inst = load_instrument("niton-xl3t")
    ex = ebel_spectrum(inst.tube)
    assert ex.photons[ex.energies_kev < 2.0].sum() < 1e-3 * ex.photons.sum()


@pytest.mark.parametrize(
    "symbol,measured",
    [("C", 0.06), ("Al", 0.15), ("Cu", 0.30), ("Ag", 0.40), ("Au", 0.50)],
)
def test_backscatter_coefficient_matches_measured_values(symbol, measured):
    """Ebel's eq. 4 against the measured electron backscatter coefficients at 20 keV found in
    electron-microscopy textbooks (C 0.06, Al 0.15, Cu 0.30, Ag 0.40, Au 0.50)."""
    z = xraylib.SymbolToAtomicNumber(symbol)
    assert backscatter_coefficient(z, 20.0) == pytest.approx(measured, abs=0.02)


def test_rhodium_backscatter_coefficient_is_0p39_at_any_voltage():
    # Ebel 1999, eq. 4: eta(Rh) = 0.39, nearly independent of the voltage for Z ~ 45
    assert backscatter_coefficient(45, 40.0) == pytest.approx(0.390, abs=0.002)
    assert backscatter_coefficient(45, 20.0) == pytest.approx(0.390, abs=0.002)


def test_continuum_matches_pymca_ebel_model():
    """The same published model (PyMca5's XRayTubeEbel) gives the same continuum shape."""
    pytest.importorskip("PyMca5")
    from PyMca5.PyMcaPhysics.xrf import XRayTubeEbel

    tube = _tube(window_be_um=75.0)
    ex = ebel_spectrum(tube)
    cont = ex.widths_kev > 0
    e = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 38.0])
    ours = np.interp(e, ex.energies_kev[cont], ex.photons[cont] / ex.widths_kev[cont])
    theirs = XRayTubeEbel.continuumEbel(
        ["Rh", 12.41, 0.1], 40.0, e, ["Be", 1.848, 75e-4], alphae=90.0, alphax=45.0
    )
    # photoabsorption tables differ slightly (xraylib vs PyMca's)
    np.testing.assert_allclose(ours, theirs, rtol=0.01)
