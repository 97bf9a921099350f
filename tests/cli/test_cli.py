"""The command line: outputs, and every bad input gives one line, exit 2, nothing written."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core.errors import PigmentmapError


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_csv_and_plot(tmp_path, capsys):
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    code, stdout, _ = run(
        capsys, "simulate", "VM:100/LW:120/CaCO3:180", "--instrument", "elio",
        "--out", str(out), "--plot", str(png),
    )  # fmt: skip
    assert code == 0 and "Hg L3" in stdout
    lines = out.read_text().splitlines()
    assert lines[0] == "energy_kev,counts" and len(lines) == 4097
    data = np.loadtxt(out, delimiter=",", skiprows=1)
    assert data[281, 0] == pytest.approx(2.81) and data[:, 1].sum() > 1e4
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_h5_poisson_seeded(tmp_path, capsys):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    for path in (a, b):
        code, _, _ = run(
            capsys, "simulate", "ZnO=0.1+lead_white=0.85+HgS=0.05:120/CaCO3:180", "--instrument",
            "elio", "--out", str(path), "--poisson", "--seed", "7", "--live-time-s", "0.1",
        )  # fmt: skip
        assert code == 0
    with h5py.File(a) as fa, h5py.File(b) as fb:
        np.testing.assert_array_equal(fa["counts"][()], fb["counts"][()])
        assert fa["energy_kev"].shape == (4096,)
        assert fa.attrs["live_time_s"] == 0.1 and fa.attrs["poisson_seed"] == 7


def test_pure_and_live_time(tmp_path, capsys):
    base, pure = tmp_path / "a.csv", tmp_path / "b.csv"
    run(capsys, "simulate", "LW:100", "--instrument", "elio", "--out", str(base))
    run(capsys, "simulate", "LW:100", "--instrument", "elio", "--out", str(pure), "--pure")
    a = np.loadtxt(base, delimiter=",", skiprows=1)[:, 1]
    b = np.loadtxt(pure, delimiter=",", skiprows=1)[:, 1]
    assert b.sum() > a.sum()  # no binder: more lead per unit mass


@pytest.mark.parametrize(
    "argv,message",
    [
        (["simulate", "unobtainium:100", "--instrument", "elio"], "unknown pigment"),
        (["simulate", "HgS100", "--instrument", "elio"], "malformed stack"),
        (["simulate", "HgS:0/LW:0", "--instrument", "elio"], "total thickness"),
        (["simulate", "HgS:-10/LW:5", "--instrument", "elio"], "negative thickness"),
        (["simulate", "ZnO=0.5+LW=0.4:10", "--instrument", "elio"], "sum to 0.9"),
        (["simulate", "HgS:100", "--instrument", "nope"], "unknown instrument"),
        (
            ["simulate", "IO:100", "--instrument", "elio", "--voltage-kv", "5"],
            "below every absorption edge",
        ),
        (["simulate", "HgS:100", "--instrument", "elio", "--seed", "3"], "--seed only applies"),
        (["simulate", "HgS:100", "--instrument", "elio", "--live-time-s", "0"], "--live-time-s"),
    ],
)
def test_bad_simulate_inputs(tmp_path, capsys, argv, message):
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, *argv, "--out", str(out))
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_output_in_missing_folder(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "simulate",
        "HgS:100",
        "--instrument",
        "elio",
        "--out",
        str(tmp_path / "no" / "s.csv"),
    )
    assert code == 2 and "does not exist" in err


def test_normalise_accepts_unscaled_fractions(tmp_path, capsys):
    out = tmp_path / "s.csv"
    code, _, _ = run(
        capsys,
        "simulate",
        "ZnO=1+LW=3:50",
        "--instrument",
        "elio",
        "--out",
        str(out),
        "--normalise",
    )
    assert code == 0 and out.exists()


def test_user_library_bad_entries(tmp_path, capsys):
    bad_formula = tmp_path / "a.toml"
    bad_formula.write_text('[pigments.x]\nformula = "Pb(CO3"\ndensity_g_cm3 = 3.0\n')
    no_density = tmp_path / "b.toml"
    no_density.write_text('[pigments.x]\nformula = "PbO"\n')
    for f, msg in ((bad_formula, "invalid formula"), (no_density, "no density")):
        code, _, err = run(capsys, "library", "check", str(f))
        assert code == 2 and msg in err
        code, _, err = run(
            capsys,
            "simulate",
            "x:10",
            "--instrument",
            "elio",
            "--library",
            str(f),
            "--out",
            str(tmp_path / "s.csv"),
        )
        assert code == 2 and msg in err
    assert not (tmp_path / "s.csv").exists()


def test_user_library_pigment_simulates(tmp_path, capsys):
    lib = tmp_path / "mine.toml"
    lib.write_text(
        '[pigments.my_green]\nformula = "CoCr2O4"\ndensity_g_cm3 = 5.1\naliases = ["MG"]\n'
    )
    code, out, _ = run(capsys, "library", "check", str(lib))
    assert code == 0 and "ok: 1 materials" in out
    code, out, _ = run(
        capsys,
        "simulate",
        "MG:50/CaCO3:100",
        "--instrument",
        "elio",
        "--library",
        str(lib),
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert code == 0 and "Co K" in out and "Cr K" in out


def test_library_and_instrument_listing(capsys):
    code, out, _ = run(capsys, "library", "list")
    assert code == 0 and "vermilion" in out and "lead_tin_yellow_i" in out
    code, out, _ = run(capsys, "library", "show", "VM")
    assert code == 0 and "8.1 g/cm3" in out and "Hg 86.22 %" in out and "#e34234" in out
    code, out, _ = run(capsys, "instrument", "list")
    assert code == 0 and "elio" in out and "m6-jetstream" in out
    code, out, _ = run(capsys, "instrument", "show", "elio")
    assert code == 0 and "40 kV" in out and "4096 channels" in out
    code, _, err = run(capsys, "library", "show", "nothing_like_it")
    assert code == 2 and "unknown pigment" in err


def test_installed_command_has_no_traceback_and_debug_shows_one(tmp_path):
    exe = [sys.executable, "-m", "pigmentmap.cli"]
    bad = subprocess.run(
        [*exe, "simulate", "Xx:1", "--instrument", "elio", "--out", str(tmp_path / "a.csv")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    dbg = subprocess.run(
        [
            *exe,
            "--debug",
            "simulate",
            "Xx:1",
            "--instrument",
            "elio",
            "--out",
            str(tmp_path / "a.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert dbg.returncode != 0 and "Traceback" in dbg.stderr
    helped = subprocess.run([*exe, "simulate", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "Example" in helped.stdout


def test_version_and_debug_after_the_subcommand(capsys):
    from pigmentmap import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pigmentmap {__version__}"
    with pytest.raises(PigmentmapError):  # --debug after the subcommand shows the traceback
        main(["simulate", "VM:100", "--instrument", "elio", "--out", "/no/such/x.csv", "--debug"])


def test_help_shows_defaults(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "(default: 150)" in text and "(default: 0)" in text


def test_every_single_file_output_refuses_to_replace_without_overwrite(tmp_path, capsys):
    out = tmp_path / "s.csv"
    out.write_text("the user's")
    argv = ["simulate", "VM:100/CaCO3:100", "--instrument", "elio", "--out", str(out)]
    assert main(argv) == 2
    assert "exists (use --overwrite" in capsys.readouterr().err and out.read_text() == "the user's"
    plot = tmp_path / "s.png"
    plot.write_text("mine")
    assert main(["simulate", "VM:100/CaCO3:100", "--instrument", "elio", "--out",
                 str(tmp_path / "t.csv"), "--plot", str(plot)]) == 2  # fmt: skip
    assert not (tmp_path / "t.csv").exists() and plot.read_text() == "mine"
    assert main([*argv, "--overwrite"]) == 0 and out.read_text() != "the user's"


def test_outputs_respect_the_umask(tmp_path, capsys):
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "s.csv"
        assert (
            main(["simulate", "VM:100/CaCO3:100", "--instrument", "elio", "--out", str(out)]) == 0
        )
        assert out.stat().st_mode & 0o777 == 0o644  # colleagues can read it
    finally:
        os.umask(old)


def test_info_shows_what_it_knows_of_a_file_without_calibration(tmp_path, capsys):
    scan = tmp_path / "nocal.h5"
    with h5py.File(scan, "w") as f:
        f["counts"] = np.ones((3, 4, 512), dtype=np.float32)
    assert main(["info", str(scan)]) == 0
    out = capsys.readouterr().out
    assert "3 x 4 pixels x 512 channels" in out and "calibration: missing" in out
    # commands that need energies still refuse it in one line
    assert main(["map", str(scan), "--out", str(tmp_path / "r")]) == 2
    assert "carries no energy calibration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dataset", "--design", "mixtures", "--n", "0", "--out", "x.h5"], "--n: 0 is not in [1"),
        (["dataset", "--design", "mixtures", "--n", "1e12", "--out", "x.h5"], "not an integer"),
        (["simulate", "VM:1", "--instrument", "elio", "--voltage-kv", "10000", "--out", "x.csv"],
         "--voltage-kv: 10000 is not in [2, 160]"),
        (["simulate", "VM:1", "--instrument", "elio", "--pileup-ns", "-5", "--out", "x.csv"],
         "--pileup-ns"),
        (["simulate", "VM:1", "--instrument", "elio", "--live-time-s", "nan", "--out", "x.csv"],
         "not finite"),
        (["simulate", "/".join(["VM:1"] * 3000), "--instrument", "elio", "--out", "x.csv"],
         "at most 50"),
        (["phantom", "--seed", "-1", "--out", "p.h5"], "--seed: -1 is not in [0"),
        (["evaluate", "universal", "x.h5", "--threshold", "1.5"], "--threshold: 1.5 is not in (0, 1)"),
        (["info", "x.h5", "--shape=-2x-3"], "height and width must be 1-100000"),
        (["train", "x.h5", "--out", "m", "--folds", "1"], "--folds: 1 is not in [2, 100]"),
    ],
)  # fmt: skip
def test_numbers_out_of_bounds_are_one_line_before_any_work(tmp_path, capsys, argv, message):
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, _, err = run(capsys, *argv)
    finally:
        os.chdir(here)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []
