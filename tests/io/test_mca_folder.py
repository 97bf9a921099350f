"""Folders of .mca files (pixel files among others, --glob, the error naming what was found) and
live times that fall back to real times."""

import warnings

import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core import PigmentmapError
from pigmentmap.io import describe, open_cube
from pigmentmap.io.open import pixel_files, read_mca_folder


def _spec(path, first, *, ctime="10 9 10"):
    path.write_text(f"#@CALIB 0 0.01 0\n#@CTIME {ctime}\n@A {first} 1 2 3\n")


def _amptek(path, *, live, real):
    times = "".join(
        f"{key} - {value}\n"
        for key, value in (("LIVE_TIME", live), ("REAL_TIME", real))
        if value is not None
    )
    path.write_text(f"<<PMCA SPECTRUM>>\n{times}<<DATA>>\n5\n6\n7\n<<END>>\n")


@pytest.fixture(scope="module")
def scan_folder(tmp_path_factory):
    """7200 pixel files scan_0001 .. scan_7200 (first channel = the pixel number) and 4 others."""
    d = tmp_path_factory.mktemp("scan")
    for k in range(1, 7201):
        _spec(d / f"scan_{k:04d}.mca", k)
    for name in ("spot_A.mca", "spot_B.mca", "test.mca", "scan_test.mca"):
        _spec(d / name, 99999)
    (d / "notes.txt").write_text("not a spectrum")
    return d


def test_pixel_files_are_the_dominant_numbered_pattern(scan_folder):
    with pytest.warns(UserWarning, match="skipped 4 other file") as caught:
        cube = open_cube(scan_folder, shape=(60, 120), calibration=(0.0, 0.01))
    message = str(caught[0].message)
    assert "scan_0001.mca .. scan_7200.mca" in message
    assert all(n in message for n in ("spot_A.mca", "spot_B.mca", "test.mca", "scan_test.mca"))
    assert cube.shape == (60, 120, 4)
    first = cube.counts[..., 0]
    np.testing.assert_array_equal(first.ravel(), np.arange(1, 7201))  # row order, no stray file
    assert cube.meta["skipped_files"] == ["scan_test.mca", "spot_A.mca", "spot_B.mca", "test.mca"]


def test_a_shape_that_does_not_fit_names_what_was_found(scan_folder):
    with pytest.raises(PigmentmapError) as err:
        open_cube(scan_folder, shape=(60, 100))
    text = str(err.value)
    assert "7200 .mca files scan_0001.mca .. scan_7200.mca" in text
    assert "4 other files skipped" in text and "--shape 60x100 needs 6000" in text
    assert "\n" not in text
    with pytest.raises(PigmentmapError, match="give the scan shape"):
        open_cube(scan_folder)


def test_gaps_in_the_numbering_are_named(tmp_path):
    for k in (1, 2, 4, 5, 7, 8):
        _spec(tmp_path / f"p{k}.mca", k)
    with pytest.raises(PigmentmapError, match=r"numbers 1-8, missing 3, 6\); --shape 2x4 needs 8"):
        open_cube(tmp_path, shape=(2, 4))


def test_glob_selects_the_files(tmp_path):
    for k in range(6):
        _spec(tmp_path / f"a_{k}.mca", k)
        _spec(tmp_path / f"b_{k}.mca", 100 + k)
    with pytest.raises(PigmentmapError, match=r"a_\*\.mca, b_\*\.mca: choose one with --glob"):
        open_cube(tmp_path, shape=(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped, nothing to say
        cube = open_cube(tmp_path, shape=(2, 3), glob="b_*.mca")
    assert cube.counts[1, 2, 0] == 105
    with pytest.raises(PigmentmapError, match=r"no file in .* matches --glob 'c_\*\.mca'"):
        open_cube(tmp_path, shape=(2, 3), glob="c_*.mca")
    with pytest.raises(PigmentmapError, match="not a folder"):
        open_cube(tmp_path / "a_0.mca", glob="*.mca")


def test_unnumbered_names_are_all_used_in_name_order(tmp_path):
    for k, name in enumerate(("left.mca", "middle.MCA", "right.mca")):
        _spec(tmp_path / name, k)
    raw = read_mca_folder(tmp_path, shape=(1, 3), order="row")
    assert raw.counts[0, :, 0].tolist() == [0.0, 1.0, 2.0]
    assert "warnings" not in raw.meta
    kept, skipped = pixel_files(sorted(tmp_path.iterdir()), where="here")
    assert len(kept) == 3 and not skipped


def test_zero_live_time_falls_back_to_the_real_time(tmp_path):
    _amptek(tmp_path / "amp.mca", live=0, real=2.5)
    with pytest.warns(UserWarning, match=r"live time 0 in amp\.mca: using real time 2\.5 s"):
        cube = open_cube(tmp_path / "amp.mca", calibration=(0.0, 0.01))
    assert cube.meta["live_time_s"] == 2.5
    line = describe(cube).splitlines()[-1]
    assert "2.5 s (the real time" in line and " 0 s" not in line
    _amptek(tmp_path / "missing.mca", live=None, real=1.5)
    with pytest.warns(UserWarning, match="live time missing in missing.mca: using real time 1.5"):
        assert open_cube(tmp_path / "missing.mca", calibration=(0, 0.01)).meta["live_time_s"] == 1.5
    _amptek(tmp_path / "none.mca", live=0, real=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cube = open_cube(tmp_path / "none.mca", calibration=(0.0, 0.01))
    assert cube.meta["live_time_s"] is None
    assert describe(cube).splitlines()[-1].endswith("unknown")
    _spec(tmp_path / "spec.mca", 1, ctime="10 0 9.5")  # preset, live, real
    with pytest.warns(UserWarning, match="using real time 9.5 s"):
        assert open_cube(tmp_path / "spec.mca").meta["live_time_s"] == 9.5
    _amptek(tmp_path / "good.mca", live=2.0, real=2.5)
    assert open_cube(tmp_path / "good.mca", calibration=(0, 0.01)).meta["live_time_s"] == 2.0
    (tmp_path / "s.spe").write_text("$MEAS_TIM:\n0 4\n$DATA:\n0 2\n1 2 3\n")
    with pytest.warns(UserWarning, match=r"live time 0 in s\.spe: using real time 4 s"):
        assert open_cube(tmp_path / "s.spe", calibration=(0, 0.01)).meta["live_time_s"] == 4.0
    (tmp_path / "s.msa").write_text(
        "#FORMAT : EMSA/MAS\n#XPERCHAN : 0.01\n#OFFSET : 0\n#REALTIME : 3.0\n"
        "#SPECTRUM :\n0, 1\n0.01, 2\n#ENDOFDATA :\n"
    )
    with pytest.warns(UserWarning, match=r"live time missing in s\.msa: using real time 3 s"):
        assert open_cube(tmp_path / "s.msa").meta["live_time_s"] == 3.0


def test_a_folder_with_zero_live_times_warns_once(tmp_path):
    for k in range(6):
        _spec(tmp_path / f"px_{k:02d}.mca", k, ctime=f"1 0 {1.0 + 0.1 * k:g}")
    with pytest.warns(UserWarning) as caught:
        cube = open_cube(tmp_path, shape=(2, 3))
    assert len(caught) == 1
    assert "live time 0 or missing in 6 of 6 .mca files (px_00.mca, px_01.mca, px_02.mca" in str(
        caught[0].message
    )
    assert cube.meta["live_time_s"] == pytest.approx(1.25)
    assert "1.25 s (the real time" in describe(cube)


def test_info_prints_the_warnings_on_one_line_each(scan_folder, capsys):
    assert main(["info", str(scan_folder), "--shape", "60x120", "--calibration", "0,0.01"]) == 0
    captured = capsys.readouterr()
    assert "60 x 120 pixels x 4 channels" in captured.out
    warning_lines = [ln for ln in captured.err.splitlines() if "skipped 4 other file" in ln]
    assert len(warning_lines) == 1 and warning_lines[0].startswith("pigmentmap: warning:")
