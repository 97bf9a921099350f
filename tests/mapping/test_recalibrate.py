"""--recalibrate: the instrument-fit engine on a scan, residuals printed."""

from __future__ import annotations

import numpy as np

from pigmentmap.cli import main
from pigmentmap.core import Cube, EnergyAxis
from pigmentmap.mapping.recalibrate import recalibrate
from pigmentmap.materials import parse_stack
from pigmentmap.simulate import Simulator


def test_recalibrate_recovers_a_wrong_calibration(library, elio, tmp_path, capsys):
    inst = elio.with_changes(live_time_s=200.0)
    counts = (
        Simulator(inst)
        .simulate([parse_stack("IO=0.3+LW=0.7:60/CaCO3:150", library=library)])
        .counts
    )
    wrong = EnergyAxis(0.04, 0.01 * 1.006, 4096)
    found = recalibrate(Cube(counts.reshape(1, 1, -1), wrong))
    assert any(m.startswith("Fe K") for m in found.matched)
    assert any(m.startswith("Pb L") for m in found.matched)
    true_e = elio.axis.energies
    assert np.abs(found.axis.energies[300:1500] - true_e[300:1500]).max() < 0.005  # 5 eV
    np.savez(
        tmp_path / "c.npz",
        counts=counts.reshape(1, 1, -1).repeat(2, axis=1),
        calibration=np.array([0.04, 0.01006]),
    )
    assert main(["info", str(tmp_path / "c.npz"), "--recalibrate"]) == 0
    err = capsys.readouterr().err
    assert "recalibrated from" in err and "eV at 10 keV" in err and "RMS residual" in err
    assert "Fe K 6.40" in err  # the residual table names each peak


def test_recalibrate_warns_and_keeps_the_file_calibration_without_peaks(tmp_path, capsys):
    rng = np.random.default_rng(0)
    flat = rng.poisson(50.0, size=(1, 2, 1024)).astype(float)
    np.savez(tmp_path / "flat.npz", counts=flat, calibration=np.array([0.0, 0.02]))
    assert main(["info", str(tmp_path / "flat.npz"), "--recalibrate"]) == 0
    captured = capsys.readouterr()
    assert "no recognisable peak" in captured.err and "left unchanged" in captured.err
    assert "E = 0 + 0.02 * ch" in captured.out
