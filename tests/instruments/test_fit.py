"""instrument fit: a profile from a scan, each value with its provenance; the CLI around it."""

from __future__ import annotations

import tomllib
import warnings

import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core import Cube, EnergyAxis
from pigmentmap.instruments import load_instrument
from pigmentmap.instruments.fit import (
    FitWarning,
    continuum_end_kev,
    fit_instrument,
    scattering_angle_deg,
)
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.simulate import Simulator


@pytest.fixture(scope="module")
def scan():
    """A 2 x 3 elio scan (long dwell, so that its sum has a real scan's counts)."""
    inst = load_instrument("elio").with_changes(live_time_s=300.0)
    lib = default_library()
    texts = ["VM:20/LW:40/CaCO3:300", "IO=0.5+ZnO=0.5:30/CaCO3:300", "emerald_green:20/CaCO3:300"]
    counts = Simulator(inst).simulate([parse_stack(t, library=lib) for t in texts * 2]).counts
    return inst, counts.reshape(2, 3, -1)


def test_fit_recovers_calibration_anode_angle_and_voltage(scan):
    inst, counts = scan
    wrong = EnergyAxis(0.08, 0.01 * 1.007, 4096)
    cube = Cube(counts, wrong, {"live_time_s": 300.0})
    fit = fit_instrument(cube, start=load_instrument("m6-jetstream"), source="scan.h5")
    got = fit.instrument
    assert np.abs(got.axis.energies[300:1500] - inst.axis.energies[300:1500]).max() < 0.015
    assert fit.anode == "Rh"
    # elio: incidence 45 + take-off 45 = 90 degrees; the Compton apex sits low, so "about".
    assert 70 <= got.geometry.scattering_angle_deg <= 130
    assert 33 <= got.tube.voltage_kv <= 45
    assert got.live_time_s == 300.0
    assert got.detector.fwhm_mn_ka_ev == pytest.approx(135, rel=0.15)
    assert "fitted from scan.h5" in fit.provenance["calibration.offset_kev"]
    assert fit.provenance["tube.current_ua"].startswith("default")
    assert fit.continuum.shape == (4096,) and fit.continuum.min() >= 0


def test_live_time_falls_back_to_real_time_with_a_warning(scan):
    _, counts = scan
    cube = Cube(counts, EnergyAxis(0.0, 0.01, 4096), {"live_time_s": 0.0, "real_time_s": 12.5})
    with pytest.warns(FitWarning, match="real time 12.5 s"):
        fit = fit_instrument(cube, start=load_instrument("elio"), source="x", count_scale=False)
    assert fit.instrument.live_time_s == 12.5


def test_geometry_helpers():
    assert scattering_angle_deg(22.163, 21.0) > scattering_angle_deg(22.163, 21.5)
    axis = EnergyAxis(0.0, 0.01, 4096)
    e = axis.energies
    cont = 300 * np.clip(25 - e, 0, None) / np.maximum(e, 1)
    assert continuum_end_kev(cont + 0.5, axis) == pytest.approx(25, abs=1.0)
    assert continuum_end_kev(300 / np.maximum(e, 1), axis) is None  # still high at the end


def _write_scan(tmp_path, counts, calibration):
    path = tmp_path / "scan.npz"
    np.savez(path, counts=counts, calibration=np.array(calibration), live_time_s=np.array(300.0))
    return path


def test_cli_writes_a_loadable_profile_with_provenance_everywhere(scan, tmp_path, capsys):
    _, counts = scan
    path = _write_scan(tmp_path, counts, [0.08, 0.01007])
    out = tmp_path / "mine.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["instrument", "fit", str(path), "--out", str(out), "--instrument", "elio"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "RMS residual" in printed and "eV" in printed and "anode:       Rh" in printed
    inst = load_instrument(out)
    assert abs(inst.axis.offset_kev) < 0.015
    data = tomllib.loads(out.read_text())
    assert data["calibration"]["n_channels"] == 4096
    value_lines = [
        ln for ln in out.read_text().splitlines()
        if "=" in ln and not ln.startswith(("#", "name", "description", '"'))
    ]  # fmt: skip
    assert value_lines and all("#" in ln for ln in value_lines)
    assert (tmp_path / "mine.continuum.csv").exists()
    # Refuses to replace without --overwrite; --overwrite replaces.
    assert main(["instrument", "fit", str(path), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_cli_flat_scan_says_why_and_writes_nothing(tmp_path, capsys):
    rng = np.random.default_rng(1)
    path = _write_scan(tmp_path, rng.poisson(40.0, (2, 2, 1024)).astype(float), [0.0, 0.02])
    out = tmp_path / "flat.toml"
    assert main(["instrument", "fit", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no recognisable peak" in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "flat.continuum.csv").exists()


def test_instrument_list_and_show_still_work(capsys):
    assert main(["instrument", "list"]) == 0
    assert "elio" in capsys.readouterr().out
    assert main(["instrument", "show", "elio"]) == 0
    assert "40 kV" in capsys.readouterr().out
