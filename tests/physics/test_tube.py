import numpy as np
import pytest
import xraylib

from pigmentmap.instruments import load_instrument
from pigmentmap.instruments.instrument import Tube
from pigmentmap.physics.tube import ebel_spectrum


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
