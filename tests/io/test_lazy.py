"""Readers that read rows on demand: HDF5 (any channel axis) and EDF stacks."""

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.io.lazy import LazyRows
from pigmentmap.io.open import open_cube


def test_hdf5_cube_is_read_by_rows_whatever_its_channel_axis(tmp_path):
    rng = np.random.default_rng(1)
    cube = rng.poisson(5, size=(4, 3, 300)).astype(np.uint16)  # rows, columns, channels
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("first", data=np.moveaxis(cube, -1, 0), chunks=(300, 2, 3))
        f["last"] = cube
        f["first"].attrs["offset_kev"] = 0.0
        f["first"].attrs["gain_kev"] = 0.01
        f["last"].attrs["offset_kev"] = 0.0
        f["last"].attrs["gain_kev"] = 0.01
    for name in ("first", "last"):
        opened = open_cube(path, dataset=name)
        assert isinstance(opened.counts, LazyRows) and opened.shape == (4, 3, 300)
        np.testing.assert_array_equal(opened.counts[1:3], cube[1:3])
        np.testing.assert_array_equal(np.asarray(opened.counts), cube)
    assert open_cube(path, dataset="first").counts.rows_per_chunk == 2


def test_info_reads_headers_only(tmp_path, capsys, monkeypatch):
    from pigmentmap.io.hdf5 import HDF5Rows

    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f["counts"] = np.ones((5, 6, 256), dtype=np.float32)
    reads = []
    original = HDF5Rows._read
    monkeypatch.setattr(
        HDF5Rows, "_read", lambda self, a, b: reads.append(b - a) or original(self, a, b)
    )
    assert main(["info", str(path)]) == 0
    assert "5 x 6 pixels x 256 channels" in capsys.readouterr().out
    assert reads == []  # no row of counts was read


def test_an_edf_stack_is_read_frame_by_frame(tmp_path):
    fabio = pytest.importorskip("fabio")
    from fabio.edfimage import EdfFrame, EdfImage

    frames = [np.full((3, 50), k, dtype=np.float32) for k in range(4)]
    img = EdfImage(data=frames[0], header={"MCA a": "0.0", "MCA b": "0.02"})
    for frame in frames[1:]:
        img.append_frame(EdfFrame(data=frame))
    path = tmp_path / "s.edf"
    img.write(str(path))
    assert fabio.version
    cube = open_cube(path)
    assert isinstance(cube.counts, LazyRows) and cube.shape == (4, 3, 50)
    assert cube.counts[2:4, 0, 0].tolist() == [2.0, 3.0]
    assert cube.axis.gain_kev == pytest.approx(0.02)
