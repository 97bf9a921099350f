"""Mapping in blocks of rows: equal to mapping at once, resumable after a kill, on Dask."""

import os
import socket
import time

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments import load_instrument
from pigmentmap.io.lazy import LazyRows
from pigmentmap.io.open import open_cube
from pigmentmap.mapping.blocks import MapJob, plan_blocks, read_rows
from pigmentmap.mapping.partial import partial_folder
from pigmentmap.mapping.results import read_results
from pigmentmap.mapping.run import run_map

GAIN_KEV = 0.0293
SHAPE = (7, 5, 1024)
ROW_MB = 8 * SHAPE[1] * SHAPE[2] / 1e6  # one row of float64 counts
KEYS = ("prob", "raw", "elements", "significance", "support", "missing", "groups", "layers")


def _peak(e, centre, width=0.07):
    return np.exp(-0.5 * ((e - centre) / width) ** 2)


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    """A lab-ag-like scan: lead white on the left, iron oxide on the right, Poisson noise."""
    rng = np.random.default_rng(12)
    e = GAIN_KEV * np.arange(SHAPE[2])
    lead = 600 * _peak(e, 10.55) + 450 * _peak(e, 12.61) + 90 * _peak(e, 14.76)
    iron = 800 * _peak(e, 6.40) + 110 * _peak(e, 7.06)
    base = 4 + 30 * np.exp(-((e - 20.0) ** 2) / 40.0) + 200 * _peak(e, 22.1, 0.15)
    share = np.linspace(0, 1, SHAPE[1])[None, :, None] * np.ones((SHAPE[0], 1, 1))
    counts = rng.poisson(base + (1 - share) * lead + share * iron).astype(np.float32)
    path = tmp_path_factory.mktemp("scan") / "scan.h5"
    with h5py.File(path, "w") as f:
        f["counts"] = counts
        f.attrs["offset_kev"] = 0.0
        f.attrs["gain_kev"] = GAIN_KEV
        f.attrs["pixel_size_mm"] = 0.25
    return path


def _map(scan, out, **kwargs):
    return run_map(scan, open_cube(scan), model="universal", out=out, progress=False,
                   instrument=load_instrument("lab-ag"), **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def reference(scan, tmp_path_factory):
    """The scan mapped in one block."""
    return read_results(_map(scan, tmp_path_factory.mktemp("ref") / "res", block_mb=1e3))


@pytest.fixture(scope="module")
def reference_rows(scan, tmp_path_factory):
    """The scan mapped in blocks of one row, uninterrupted."""
    out = tmp_path_factory.mktemp("rows") / "res"
    return read_results(_map(scan, out, block_mb=0.5 * ROW_MB))


def _same(a, b, *, atol=0.0):
    for key in KEYS:
        assert (key in a) == (key in b), key
        if key in a:
            np.testing.assert_allclose(a[key], b[key], atol=atol, rtol=0, err_msg=key)
    np.testing.assert_allclose(a["sum_spectrum"]["counts"], b["sum_spectrum"]["counts"])


def test_blocks_cover_the_rows_within_the_budget():
    blocks = plan_blocks(10, 5, 1024, block_mb=2.5 * ROW_MB)
    assert blocks == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert plan_blocks(3, 5, 1024, block_mb=0.1 * ROW_MB) == [(0, 1), (1, 2), (2, 3)]
    assert plan_blocks(10, 5, 1024, binning=2, block_mb=8 * ROW_MB) == [(0, 2), (2, 4),
                                                                        (4, 6), (6, 8), (8, 10)]  # fmt: skip
    with pytest.raises(PigmentmapError):
        plan_blocks(0, 5, 1024)


def test_binned_rows_equal_the_binned_cube():
    from pigmentmap.mapping.pigments import bin_cube

    a = np.random.default_rng(0).poisson(5, size=(7, 5, 6)).astype(float)
    np.testing.assert_array_equal(
        np.concatenate([read_rows(a, 0, 2, binning=2), read_rows(a, 2, 3, binning=2)]),
        bin_cube(a, 2),
    )


def test_a_map_made_of_one_row_blocks_equals_the_map_made_at_once(reference_rows, reference):
    _same(reference_rows, reference, atol=1e-5)  # other batches: float rounding only
    assert reference["attrs"]["pixel_size_mm"] == 0.25  # read from the file
    assert reference["prob"].shape[:2] == SHAPE[:2]


def test_the_scan_is_read_lazily_by_rows(scan):
    cube = open_cube(scan)
    assert isinstance(cube.counts, LazyRows)
    assert cube.counts[2:4].shape == (2, *SHAPE[1:])
    with h5py.File(scan) as f:
        np.testing.assert_array_equal(cube.counts[3], f["counts"][3])


def test_a_killed_run_continues_where_it_stopped_with_the_same_results(
    scan, reference_rows, tmp_path, monkeypatch
):
    out = tmp_path / "res"
    original = MapJob.process
    calls = []

    def dies_after_three(self, counts):
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a kill would stop it
        calls.append(1)
        return original(self, counts)

    monkeypatch.setattr(MapJob, "process", dies_after_three)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        _map(scan, out, block_mb=0.5 * ROW_MB, log=lines.append)
    assert not out.exists()  # never a results folder under the final name
    partial = partial_folder(out)
    assert len(list(partial.glob("block_*.npz"))) == 3
    assert any("3 of 7 blocks are kept" in line for line in lines)

    def counted(self, counts):
        calls.append(1)
        return original(self, counts)

    monkeypatch.setattr(MapJob, "process", counted)
    calls.clear()
    lines.clear()
    _map(scan, out, block_mb=0.5 * ROW_MB, log=lines.append)
    assert len(calls) == 4  # only the blocks that were not finished
    assert any("continuing an interrupted run: 3 of 7 blocks are done" in line for line in lines)
    _same(read_results(out), reference_rows)  # exactly the uninterrupted run's
    assert not partial.exists()


def test_a_rerun_with_other_arguments_starts_over(scan, tmp_path, monkeypatch):
    out = tmp_path / "res"
    original = MapJob.process
    calls = []

    def dies_after_two(self, counts):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return original(self, counts)

    monkeypatch.setattr(MapJob, "process", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _map(scan, out, block_mb=0.5 * ROW_MB)
    monkeypatch.setattr(MapJob, "process", original)
    lines = []
    _map(scan, out, block_mb=0.5 * ROW_MB, evidence_gate=False, log=lines.append)
    assert any("starting over" in line for line in lines)
    assert read_results(out)["evidence"]["gate"] in (False, 0)


def test_a_partial_folder_pigmentmap_did_not_write_is_refused(scan, tmp_path):
    folder = partial_folder(tmp_path / "res")
    folder.mkdir()
    (folder / "thesis.docx").write_text("mine")
    with pytest.raises(PigmentmapError, match="not written by pigmentmap"):
        _map(scan, tmp_path / "res")
    assert (folder / "thesis.docx").read_text() == "mine"


def test_a_local_dask_cluster_gives_the_same_maps(scan, reference, tmp_path):
    pytest.importorskip("distributed")
    maps = read_results(_map(scan, tmp_path / "res", block_mb=2.5 * ROW_MB, workers=2))
    _same(maps, reference, atol=1e-5)  # other processes: other thread counts


def test_the_local_cluster_listens_on_localhost_only():
    pytest.importorskip("distributed")
    import psutil

    from pigmentmap.mapping.cluster import dask_client

    with dask_client(workers=1) as client:
        info = client.scheduler_info()
        addresses = [client.scheduler.address, *info["workers"]]
        assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
        me = psutil.Process()
        listening = [
            c.laddr.ip
            for proc in (me, *me.children(recursive=True))
            for c in proc.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and set(listening) == {"127.0.0.1"}, listening


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_one_line_within_ten_seconds(scan, tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "res"
    start = time.monotonic()
    code = main(["map", str(scan), "--out", str(out), "--instrument", "lab-ag",
                 "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])  # fmt: skip
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2 and "no Dask scheduler answers" in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert elapsed < 10 + 8  # the wait, plus loading the model
    assert not out.exists()


class DiesOnSecondBlock:
    """A job whose worker process dies on the block that starts at row 2."""

    def process(self, counts):
        if counts[0, 0, 0] == 2:
            os._exit(1)
        return {"x": counts}


def test_a_worker_dying_fails_in_one_line_and_keeps_the_finished_blocks():
    pytest.importorskip("distributed")
    import dask

    from pigmentmap.mapping.cluster import run_blocks

    kept = {}
    rows = np.arange(4.0).reshape(4, 1, 1) * np.ones((1, 1, 2))
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        # the dying block, or one whose data died with that worker
        pytest.raises(PigmentmapError, match=r"worker died while mapping rows [12]-[12] "),
    ):
        run_blocks(DiesOnSecondBlock(), [(0, 0, 1), (1, 1, 2), (2, 2, 3)],
                   read=lambda a, b: rows[a:b], save=kept.__setitem__, workers=1)  # fmt: skip
    assert set(kept) <= {0, 1} and kept  # what finished before is kept


def test_workers_and_scheduler_options_are_checked(scan, tmp_path, capsys):
    argv = ["map", str(scan), "--out", str(tmp_path / "r"), "--instrument", "lab-ag"]
    assert main([*argv, "--workers", "0"]) == 2
    assert main([*argv, "--workers", "1", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "not both" in err and not (tmp_path / "r").exists()


def test_an_error_mid_run_is_one_line_of_its_own_after_the_progress_bar(tmp_path, capsys):
    rng = np.random.default_rng(4)
    counts = rng.poisson(20, size=(6, 4, 1024)).astype(np.float64)
    counts[5, 2, 100] = np.nan  # found only when the last block is read
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["counts"] = counts
        f.attrs["offset_kev"] = 0.0
        f.attrs["gain_kev"] = GAIN_KEV
    out = tmp_path / "res"
    code = main(["map", str(path), "--out", str(out), "--instrument", "lab-ag"])
    err = capsys.readouterr().err
    assert code == 2
    last = err.rstrip("\n").split("\n")[-1]
    assert last.startswith("pigmentmap: error: ") and "NaN" in last, err[-400:]
    assert err.count("pigmentmap: error") == 1
    assert not out.exists() and partial_folder(out).exists()  # finished blocks kept
