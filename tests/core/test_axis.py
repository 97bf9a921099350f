import numpy as np
import pytest

from pigmentmap.core import Cube, EnergyAxis, PigmentmapError, Spectrum
from pigmentmap.core.atomic import atomic_path, check_output_path


def test_energies_and_channel_of_round_trip():
    axis = EnergyAxis(offset_kev=-0.9555, gain_kev=0.009999, n_channels=4096)
    e = axis.energies
    assert e.shape == (4096,)
    assert e[0] == pytest.approx(-0.9555)
    for ch in (0, 281, 1000, 4095):
        assert axis.channel_of(float(e[ch])) == ch


def test_quadratic_axis_channel_of():
    axis = EnergyAxis(0.0, 0.01, 100, quadratic_kev=1e-5)
    assert axis.channel_of(float(axis.energies[50])) == 50


@pytest.mark.parametrize("gain,n", [(0.0, 10), (-0.01, 10), (0.01, 1)])
def test_bad_axis_rejected(gain, n):
    with pytest.raises(PigmentmapError):
        EnergyAxis(0.0, gain, n)


def test_spectrum_and_cube_shapes_checked():
    axis = EnergyAxis(0.0, 0.01, 8)
    with pytest.raises(PigmentmapError):
        Spectrum(np.zeros(7), axis)
    with pytest.raises(PigmentmapError):
        Cube(np.zeros((2, 2, 7)), axis)
    assert Cube(np.zeros((2, 3, 8)), axis).shape == (2, 3, 8)


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("precious")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "precious"


def test_check_output_path_rejects_missing_folder(tmp_path):
    with pytest.raises(PigmentmapError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "x.csv")
    with pytest.raises(PigmentmapError, match="is a folder"):
        check_output_path(tmp_path)


def test_atomic_dir_never_replaces_a_foreign_folder(tmp_path):
    from pigmentmap.core.atomic import atomic_dir

    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    with (
        pytest.raises(PigmentmapError, match="holds other files"),
        atomic_dir(mine, overwrite=True, marker="card.json") as tmp,
    ):
        (tmp / "card.json").write_text("{}")
    assert (mine / "thesis.txt").read_text() == "precious"
    model = tmp_path / "model"
    for _ in range(2):  # created, then replaced (it holds the marker)
        with atomic_dir(model, overwrite=True, marker="card.json") as tmp:
            (tmp / "card.json").write_text("{}")
    assert sorted(p.name for p in model.iterdir()) == [".pigmentmap-files", "card.json"]
    with (
        pytest.raises(PigmentmapError, match="exists"),
        atomic_dir(model, overwrite=False, marker="card.json"),
    ):
        pass
