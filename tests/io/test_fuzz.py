"""Readers never crash, hang or eat the machine (issue 13).

Small valid files of every format the readers accept (``fuzz_inputs.py``, Bruker ``.bcf``
included) are mutated (truncated, bytes flipped or overwritten, header values replaced with
garbage: NaN, negative, huge, non-numeric, empty) with hypothesis, and each finding of the issue
has a hand-written case. ``make fuzz`` (``benchmarks/fuzz_campaign.py``) reads many more mutated
files, each in a child process under time and memory limits. Whatever the input,
``open_cube`` either returns a cube of finite numbers or raises :class:`PigmentmapError` with one
line naming the file, within a few seconds; size bombs are refused without allocating.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import random
import re
import signal
import struct
import sys
import threading
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.io import _common, hdf5, open_cube, vendor
from tests.io.fuzz_inputs import (
    CUBE,
    SEEDS,
    amptek_text,
    edf_frame,
    gsecars_text,
    msa_text,
    mutated_files,
    npy_bytes,
    npz_bytes,
    read,
    rpl_text,
    spec_mca_text,
    spx_text,
    violation,
)

SECONDS = 5.0
"""Every read, refused or not, finishes within this."""
PEAK_BYTES = 64 * 2**20
"""The most a refused size bomb may allocate (traced by tracemalloc)."""
EXAMPLES = 300
"""Mutated inputs per format in the hypothesis tests."""
FEWER_EXAMPLES = {"bcf": 60, "bcf-zlib": 60, "bcf-members": 60}
"""Formats whose every read forks a child (the .bcf reader is isolated): fewer inputs here, the
fuzz campaign (``make fuzz``) reads thousands."""

HDF5_SECONDS = 3.0
"""How long the HDF5 library may explore a file in these tests before it is stopped."""
BCF_SECONDS = 2.0
"""How long rosettasciio may read a (small) .bcf in these tests before it is stopped."""


@pytest.fixture(scope="module", autouse=True)
def _reader_libraries_imported():
    """Import the readers' libraries once before any read is timed: on a fresh install their
    first import compiles them (seconds under load), which is no read time. A .bcf is read in a
    forked child, which inherits what is imported here."""
    import importlib

    for module in ("rsciio.bruker", "rsciio.bruker._api", "fabio", "fabio.edfimage"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass


@pytest.fixture(autouse=True)
def _short_library_timeouts(monkeypatch):
    monkeypatch.setattr(hdf5, "METADATA_SECONDS", HDF5_SECONDS)
    monkeypatch.setattr(vendor, "BCF_SECONDS", BCF_SECONDS, raising=False)


# --- what every read must do --------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm when a read runs too long (a BaseException: no reader catches it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (where SIGALRM is available, in the main thread)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(path: Path, **kwargs: Any) -> Any:
    """``open_cube(path)``: the cube, or the :class:`PigmentmapError` it raised.

    Fails the test for any other exception, a read longer than :data:`SECONDS`, an error message
    that is not one line naming the file, or a cube that is not finite numbers
    (:func:`~tests.io.fuzz_inputs.violation`).
    """
    start = time.monotonic()
    with warnings.catch_warnings(), time_limit(3 * SECONDS):
        warnings.simplefilter("ignore")
        result, counts = read(path, **kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < SECONDS, f"reading {path.name} took {elapsed:.1f} s"
    problem = violation(path, result, counts)
    assert problem is None, problem
    return result


@contextlib.contextmanager
def memory_cap(extra: int = 2**30) -> Iterator[None]:
    """Limit the address space to what the process has now plus ``extra`` (Linux), so that a
    reader that tries to allocate a size bomb fails instead of eating the machine."""
    try:
        import resource

        status = Path("/proc/self/status").read_text()
        vm = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, AttributeError):
        yield
        return
    cap = vm + extra if hard == resource.RLIM_INFINITY else min(vm + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def refused(path: Path, match: str, **kwargs: Any) -> str:
    """The read is refused (message matching ``match``), quickly and without allocating."""
    tracemalloc.start()
    try:
        with memory_cap():
            result = outcome(path, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(result, PigmentmapError), f"{path.name} was read"
    assert re.search(match, str(result)), str(result)
    assert "not enough memory" not in str(result)
    assert peak < PEAK_BYTES, f"{peak / 2**20:.0f} MiB allocated to refuse {path.name}"
    return str(result)


# --- the seeds are valid; mutations of them never escape as anything else -------------------


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_opens(tmp_path, name):
    seed = SEEDS[name]
    cube = outcome(seed.write(tmp_path), **seed.kwargs)
    assert not isinstance(cube, PigmentmapError), str(cube)
    assert cube.meta["calibration"] == ("missing" if name == "npy" else "file")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mutated_files_only_raise_pigmentmap_errors(tmp_path, name):
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seed = SEEDS[name]

    @settings(
        max_examples=FEWER_EXAMPLES.get(name, EXAMPLES),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.randoms(use_true_random=False))
    def check(rng: random.Random) -> None:
        path = seed.write(tmp_path, mutated_files(seed, rng))
        with memory_cap():  # a reader's blow-up fails there, not the machine (see make fuzz)
            outcome(path, **seed.kwargs)

    check()


# --- the findings of the issue, one by one ------------------------------------------------


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("latin-1") if isinstance(data, str) else data)
    return path


def test_corrupt_hdf5(tmp_path):
    data = SEEDS["h5"].files["c.h5"]
    for k, cut in enumerate((0, 8, 100, len(data) // 2, len(data) - 10)):
        outcome(_write(tmp_path / f"t{k}.h5", data[:cut]))
    for k in range(0, len(data) - 64, 512):
        bad = bytearray(data)
        bad[k : k + 64] = b"\xff" * 64
        outcome(_write(tmp_path / f"flipped{k}.h5", bytes(bad)))
    with h5py.File(tmp_path / "names.h5", "w") as f:
        f.create_dataset(b"\xff\xfe", data=np.ones((2, 3, 300)))
    assert "no 3-D numeric dataset" in str(outcome(tmp_path / "names.h5"))


@pytest.mark.parametrize(
    "attrs,match",
    [
        ({"offset_kev": "abc", "gain_kev": 0.01}, r"offset_kev' 'abc' is not a number"),
        ({"offset_kev": 0.0, "gain_kev": np.nan}, r"gain_kev' is nan"),
        ({"offset_kev": 0.0, "gain_kev": -0.01}, r"gain must be positive"),
        (
            {"offset_kev": 0.0, "gain_kev": np.array([0.01, 0.02])},
            r"gain_kev' '.*' is not a number",
        ),
        ({"axis": "{not json"}, r"attribute 'axis' is not a JSON energy axis"),
        ({"axis": '{"offset_kev": 0}'}, r"attribute 'axis' is not a JSON energy axis"),
        ({"axis": "[1, 2]"}, r"attribute 'axis' is not a JSON energy axis"),
        (
            {"axis": '{"offset_kev": 0, "gain_kev": "x"}'},
            r"attribute 'axis': .*'x' is not a number",
        ),
        ({"axis": '{"offset_kev": 0, "gain_kev": 1e400}'}, r"attribute 'axis': .*inf"),
        ({"live_time_s": -1.0}, r"'live_time_s' must hold finite times >= 0"),
        ({"live_time_s": np.array([1.0, np.nan])}, r"'live_time_s' must hold finite times >= 0"),
        ({"live_time_s": "abc"}, r"'live_time_s' is not numbers"),
    ],
)
def test_bad_hdf5_calibration_and_live_time_attributes(tmp_path, attrs, match):
    p = tmp_path / "a.h5"
    with h5py.File(p, "w") as f:
        f["counts"] = CUBE
        for key, value in attrs.items():
            f["counts"].attrs[key] = value
    assert re.search(match, str(outcome(p))), str(outcome(p))


def test_hdf5_energy_datasets_of_the_wrong_kind_are_not_used(tmp_path):
    p = tmp_path / "e.h5"
    with h5py.File(p, "w") as f:
        f["counts"] = CUBE
        f["energy"] = np.array([b"a", b"b"])
        f["energy_kev"] = np.ones((2, 64))
    assert outcome(p).meta["calibration"] == "missing"
    with h5py.File(p, "a") as f:
        f["energy_kev_"] = 0.01 * np.arange(10)  # beside, but not the name looked for
        del f["energy_kev"]
        f["energy_kev"] = np.full(64, 0.5)  # gain 0
    assert "gain must be positive" in str(outcome(p))


def test_hdf5_sparse_dataset_declaring_2_gb_in_a_6_kb_file(tmp_path):
    p = tmp_path / "sparse.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("counts", shape=(1000, 1000, 512), dtype="f4", chunks=(10, 10, 512))
    assert p.stat().st_size < 10_000
    refused(p, r"declares \(1000, 1000, 512\) of float32 \(1\.9 GiB .* stores 0 bytes")
    with h5py.File(p, "w") as f:
        f.create_dataset("counts", shape=(2000, 1000, 512), dtype="u2")  # never written
    refused(p, r"stores 0 bytes: sparse, never written or corrupt")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_hdf5_data_outside_the_file_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["d"] = CUBE
    os.mkfifo(tmp_path / "fifo.h5")  # opening it would block forever
    p = tmp_path / "links.h5"
    with h5py.File(p, "w") as f:
        f["x"] = np.ones(3)
        f["ext"] = h5py.ExternalLink("other.h5", "/d")
        f["fifo"] = h5py.ExternalLink("fifo.h5", "/d")
        f["soft"] = h5py.SoftLink("/fifo")
        f["loop"] = h5py.SoftLink("/loop2")
        f["loop2"] = h5py.SoftLink("/loop")
        f.create_dataset("extstore", shape=(2, 3, 300), dtype="f4", external=[("raw.bin", 0, 7200)])
        layout = h5py.VirtualLayout(shape=(3, 4, 64), dtype="u2")
        layout[:] = h5py.VirtualSource("other.h5", "d", shape=(3, 4, 64))
        f.create_virtual_dataset("virtual", layout)
    _write(tmp_path / "raw.bin", bytes(7200))
    refused(p, r"'/ext' links to the file 'other.h5'", dataset="ext")
    refused(p, r"'/fifo' links to the file 'fifo.h5'", dataset="fifo")
    refused(p, r"'/fifo' links to the file 'fifo.h5'", dataset="soft/d")
    refused(p, r"nest too deeply", dataset="loop")
    refused(p, r"external file", dataset="extstore")
    refused(p, r"virtual dataset", dataset="virtual")
    refused(p, r"extstore' keeps its data in the external file")  # the only 3-D candidate
    with h5py.File(p, "a") as f:
        del f["extstore"], f["virtual"]
    assert "no 3-D numeric dataset" in str(outcome(p))


def test_hdf5_non_numeric_dataset(tmp_path):
    p = tmp_path / "compound.h5"
    with h5py.File(p, "w") as f:
        f["c"] = np.zeros((2, 3, 4), dtype=[("a", "f4"), ("b", "i4")])
    assert "not numbers" in str(outcome(p, dataset="c"))


@pytest.mark.parametrize(
    "name,data,match",
    [
        ("empty.npy", b"", "not a .npy file"),
        ("empty.npz", b"", "File is not a zip file"),
        ("text.npy", b"1 2 3\n", "not a .npy file"),
        ("pk.npz", b"PK\x03\x04garbage", "corrupt or unsupported file"),
        ("cut.npy", npy_bytes(CUBE)[:100], "bad .npy header|declares"),
        (
            "cut2.npy",
            npy_bytes(CUBE)[:-10],
            r"declares an array \(3, 4, 64\) of uint16 \(1536 bytes\)",
        ),
        ("cut.npz", SEEDS["npz"].files["c.npz"][:-30], "corrupt or unsupported file"),
        ("object.npy", npy_bytes(np.array([{"a": 1}, None], dtype=object)), "object array"),
        ("structured.npy", npy_bytes(np.zeros(3, dtype=[("a", "f4")])), "not numbers"),
        ("complex.npy", npy_bytes(np.ones((2, 3, 4), dtype=complex)), "not numbers"),
        ("scalar.npy", npy_bytes(np.float64(3.0)), "holds no spectra"),
        (
            "nan.npy",
            npy_bytes(np.where(CUBE == 3, np.nan, CUBE)),
            r"NaN or infinite values \(first at",
        ),
        ("4d.npy", npy_bytes(np.ones((2, 2, 2, 2))), "expected a spectrum or a cube"),
        ("one.npy", npy_bytes(np.ones((3, 1))), "needs 2 to 1048576 channels, got 1"),
    ],
)
def test_corrupt_or_odd_numpy_files(tmp_path, name, data, match):
    assert re.search(match, str(outcome(_write(tmp_path / name, data))))


def test_npz_object_array(tmp_path):
    buf = io.BytesIO()
    np.savez(buf, counts=np.array([[1, "a"]], dtype=object))
    assert "object array" in str(outcome(_write(tmp_path / "o.npz", buf.getvalue())))


@pytest.mark.parametrize(
    "extra,match",
    [
        ({"energy_kev": 0.01 * np.arange(10)}, r"energy_kev has shape \(10,\), the counts 64"),
        ({"energy_kev": np.ones((2, 64))}, r"energy_kev has shape \(2, 64\)"),
        ({"energy_kev": np.full(64, 0.5)}, "gain must be positive"),
        ({"energy_kev": np.r_[np.nan, 0.01 * np.arange(63)]}, "offset is nan"),
        ({"calibration": np.array([0.01])}, "got 1 values"),
        ({"calibration": np.array([0.0, np.inf])}, "gain is inf"),
        ({"live_time_s": np.array([1.0, 2.0, 3.0])}, "live_time_s must be a single number"),
        ({"live_time_s": -1.0}, "live time -1 s .* not a finite number >= 0"),
        ({"live_time_s": np.nan}, "live_time_s is nan"),
        ({"live_time_s": "ten"}, "not numbers"),
    ],
)
def test_npz_arrays_of_the_wrong_shape_or_value(tmp_path, extra, match):
    p = _write(tmp_path / "c.npz", npz_bytes(False, counts=CUBE, **extra))
    assert re.search(match, str(outcome(p))), str(outcome(p))


def _npy_header_only(shape: tuple[int, ...], body: bytes = b"") -> bytes:
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + body


def test_numpy_headers_declaring_huge_arrays(tmp_path):
    p = _write(tmp_path / "huge.npy", _npy_header_only((100_000, 100_000, 4096), bytes(800)))
    refused(p, r"declares an array \(100000, 100000, 4096\) of float64 .*its file holds 800")
    member = _npy_header_only((10**9,), bytes(64))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("counts.npy", member)
    refused(
        _write(tmp_path / "huge.npz", buf.getvalue()), r"declares \(1000000000,\).*member holds"
    )


def test_arrays_larger_than_the_memory_budget_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "memory_budget", lambda: 1000)
    p = _write(tmp_path / "c.npz", npz_bytes(True, counts=CUBE))
    assert re.search(r"would need 1536 bytes of memory; at most 1000 bytes", str(outcome(p)))
    for k in range(6):
        _write(tmp_path / f"px_{k}.mca", spec_mca_text(first=k))
    (tmp_path / "c.npz").unlink()
    assert "would need" in str(outcome(tmp_path, shape=(2, 3)))


@pytest.mark.parametrize(
    "values,match",
    [
        ({"width": -4}, "width -4 must be at least 1"),
        ({"height": 0}, "height 0 must be at least 1"),
        ({"depth": -1}, "depth -1 must be at least 1"),
        ({"offset": -100}, "offset -100 must be at least 0"),
        ({"width": "4.5"}, "width '4.5' is not a whole number"),
        ({"data-length": 3}, "unsupported data-type unsigned with data-length 3"),
        ({"data-length": 99999999999999999999}, "unsupported data-type"),
        ({"ev-per-chan": "20 eV"}, "ev-per-chan '20 eV' is not a number"),
        ({"ev-per-chan": "nan"}, "ev-per-chan is nan"),
        ({"ev-per-chan": -10}, "gain must be positive"),
        ({"zero-offset-ev": "inf"}, "zero-offset-ev is inf"),
        ({"record-by": "sideways"}, "unknown record-by 'sideways'"),
        ({"width": 4000, "height": 3000}, r"has 1536 bytes, its \.rpl says 1536000000"),
    ],
)
def test_bad_rpl_headers(tmp_path, values, match):
    _write(tmp_path / "s.raw", SEEDS["raw+rpl"].files["s.raw"])
    _write(tmp_path / "s.rpl", rpl_text(**values))
    assert re.search(match, str(outcome(tmp_path / "s.rpl"))), str(outcome(tmp_path / "s.rpl"))


@pytest.mark.parametrize(
    "values,match",
    [
        ({"width": 0, "depth": 2**31}, "width 0 must be at least 1"),
        ({"width": 1, "height": 1, "depth": 2**31}, "depth 2147483648 is more than 1048576"),
        ({"width": 10**5, "height": 10**5, "depth": 4096}, r"its \.rpl says"),
    ],
)
def test_rpl_size_bombs_are_refused_without_allocating(tmp_path, values, match):
    _write(tmp_path / "s.raw", SEEDS["raw+rpl"].files["s.raw"])
    _write(tmp_path / "s.rpl", rpl_text(**values))
    refused(tmp_path / "s.rpl", match)


@pytest.mark.parametrize(
    "data,cal,times,match",
    [
        (
            "0 3\n1 nan 3 4",
            "0.1 0.02",
            "1 2",
            r"NaN or infinite values \(first at pixel \(0, 0\), channel 1\)",
        ),
        ("0 3\n1 inf 3 4", "0.1 0.02", "1 2", "NaN or infinite"),
        ("0 3\n1 2 3 4", "nan 0.02", "1 2", "offset is nan"),
        ("0 3\n1 2 3 4", "0.1 -inf", "1 2", "gain is -inf"),
        ("0 nan\n1 2 3 4", "0.1 0.02", "1 2", r"\$DATA channels '0 nan'"),
        ("0 inf\n1 2 3 4", "0.1 0.02", "1 2", r"\$DATA channels"),
        ("5 2\n1 2 3 4", "0.1 0.02", "1 2", r"\$DATA channels '5 2'"),
        ("0 99999999999\n1 2", "0.1 0.02", "1 2", r"\$DATA channels"),
        ("0 3\n1 2 3 4", "0.1 0.02", "nan 10", "live time nan s"),
        ("0 3\n1 2 3 4", "0.1 0.02", "-5 10", "live time -5 s"),
        ("0 3\n1 2 3 4", "0.1 0.02", "0 -inf", "real time -inf s"),
    ],
)
def test_bad_spe_files(tmp_path, data, cal, times, match):
    text = f"$SPEC_ID:\nx\n$MEAS_TIM:\n{times}\n$DATA:\n{data}\n$MCA_CAL:\n2\n{cal}\n"
    result = outcome(_write(tmp_path / "s.spe", text))
    assert re.search(match, str(result)), str(result)


def test_ragged_gsecars_rows(tmp_path):
    rows = "1 2 3\n4 5 6\n7 8\n9 10 11\n"
    result = str(outcome(_write(tmp_path / "g.mca", gsecars_text(rows))))
    assert "GSECARS data row 3 has 2 values, row 1 3" in result


@pytest.mark.parametrize(
    "calib,match",
    [("0", r"#@CALIB needs an offset and a gain, got \[0.0\]"), ("0 nan 0", "gain is nan")],
)
def test_spec_mca_calib(tmp_path, calib, match):
    assert re.search(match, str(outcome(_write(tmp_path / "s.mca", spec_mca_text(calib=calib)))))


def test_spec_mca_gain_zero_means_uncalibrated(tmp_path):
    cube = outcome(_write(tmp_path / "s.mca", spec_mca_text(calib="0 0 0")))
    assert cube.meta["calibration"] == "missing"


@pytest.mark.parametrize(
    "calibration,match",
    [
        ("10 nan\n110 2.0", "<<CALIBRATION>> holds a value that is not finite"),
        ("10 1.0\n10 2.0", "points all at one channel"),
        ("10 2.0\n110 1.0", "gain must be positive"),
    ],
)
def test_amptek_calibration(tmp_path, calibration, match):
    result = outcome(_write(tmp_path / "a.mca", amptek_text(calibration)))
    assert re.search(match, str(result)), str(result)


@pytest.mark.parametrize(
    "offset,livetime,match",
    [
        ("0,2", "3.5", "#OFFSET '0,2' is not a number"),
        ("", "3.5", "#OFFSET '' is not a number"),
        ("0.2", "3 ms", "#LIVETIME '3 ms' is not a time in seconds"),
        ("0.2", "-1", "live time -1 s"),
        ("0.2", "nan", "#LIVETIME 'nan' is not a time in seconds"),
        ("0.2", "3 m", "#LIVETIME '3 m' is not a time in seconds"),
    ],
)
def test_msa_header_values(tmp_path, offset, livetime, match):
    result = outcome(_write(tmp_path / "s.msa", msa_text(offset, livetime)))
    assert re.search(match, str(result)), str(result)


@pytest.mark.parametrize("livetime", ["3 s", "3s", "3.0 sec", "3 seconds", "3"])
def test_msa_live_time_with_a_unit(tmp_path, livetime):
    assert (
        outcome(_write(tmp_path / "s.msa", msa_text(livetime=livetime))).meta["live_time_s"] == 3.0
    )


def test_spx_with_a_bad_calibration(tmp_path):
    result = str(outcome(_write(tmp_path / "s.spx", spx_text(calib_abs="abc"))))
    assert "energy offset (CalibAbs) 'abc' is not a number" in result
    result = str(outcome(_write(tmp_path / "n.spx", spx_text(calib_abs="nan"))))
    assert "CalibAbs" in result
    assert "cannot read Bruker file" in str(outcome(_write(tmp_path / "x.bcf", b"AAMVHFSS" * 100)))


def test_edf_header_values(tmp_path):
    frames = [edf_frame(CUBE[k], {"MCA a": "zero", "MCA b": "0.02"}) for k in range(3)]
    assert "MCA a 'zero' is not a number" in str(
        outcome(_write(tmp_path / "a.edf", b"".join(frames)))
    )
    frames = [edf_frame(CUBE[0]), edf_frame(CUBE[1, :3])]
    result = str(outcome(_write(tmp_path / "b.edf", b"".join(frames))))
    assert "EDF frames of different shapes (frame 0 (4, 64), frame 1 (3, 64))" in result
    cases = {
        "Dim_1": ("-64", "Dim_1 '-64' is not a whole number >= 1"),
        "Dim_2": ("nan", "Dim_2 'nan' is not a whole number >= 1"),
        "DataType": ("Complex", "unknown DataType 'Complex'"),
        "ByteOrder": ("", "no ByteOrder in the header"),
        "EDF_BinaryFileName": ("data.bin", "keeps its data in another file"),
        "Compression": ("ByteOffset", "unsupported Compression 'BYTEOFFSET'"),
        "Size": ("100", "Size 100 is less than"),
    }
    for key, (value, match) in cases.items():
        frame = edf_frame(CUBE[0], {key: value})
        if not value:
            frame = frame.replace(f"{key} =  ;".encode(), b"")
        result = str(outcome(_write(tmp_path / f"{key}.edf", frame)))
        assert match in result, result


def test_edf_dimension_key_that_made_fabio_loop(tmp_path):
    frame = edf_frame(CUBE[0], {"Dim_999999999999": "1"})
    start = time.monotonic()
    refused(_write(tmp_path / "dim.edf", frame), "'DIM_999999999999': at most 3 dimensions")
    assert time.monotonic() - start < 1.0


def test_edf_size_bombs(tmp_path):
    frame = edf_frame(CUBE[0], {"Dim_2": "4000000", "Size": str(4000000 * 64 * 2)})
    p = _write(tmp_path / "big.edf", frame)
    assert p.stat().st_size < 1100
    refused(
        p,
        r"declares 488\.3 MiB .* of data \(\(4000000, 64\) of UnsignedShort\), the file holds 512",
    )
    frame = edf_frame(CUBE[0], {"Dim_2": "4000000"})
    refused(_write(tmp_path / "big2.edf", frame), r"Size 512 is less than its \(4000000, 64\)")
    bomb = gzip.compress(bytes(200 * 2**20))
    frame = edf_frame(CUBE[0], compress="gzip").split(b"}\n", 1)[0]
    frame = frame.replace(b"Size = ", f"Size = {len(bomb)} ;\nX = ".encode()) + b"}\n" + bomb
    refused(_write(tmp_path / "bomb.edf", frame), r"gzip data inflate to more than 512 bytes")


@pytest.fixture
def dev_zero(tmp_path):
    if not Path("/dev/zero").exists() or not hasattr(os, "mkfifo"):
        pytest.skip("needs /dev/zero and FIFOs")
    return Path("/dev/zero")


def test_devices_fifos_and_broken_links_are_refused(tmp_path, dev_zero):
    for k in range(6):
        _write(tmp_path / f"px_{k}.mca", spec_mca_text(first=k))
    (tmp_path / "px_6.mca").symlink_to(dev_zero)
    refused(tmp_path, r"px_6\.mca not a regular file", shape=(2, 3))
    (tmp_path / "px_6.mca").unlink()
    os.mkfifo(tmp_path / "px_6.mca")
    refused(tmp_path, r"px_6\.mca not a regular file", shape=(2, 3))
    (tmp_path / "px_6.mca").unlink()
    (tmp_path / "px_6.mca").symlink_to(tmp_path / "nowhere.mca")
    refused(tmp_path, r"px_6\.mca not a regular file", shape=(2, 3))
    (tmp_path / "px_6.mca").unlink()
    assert outcome(tmp_path, shape=(2, 3)).shape == (2, 3, 64)
    single = tmp_path / "single"
    single.mkdir()
    for name in ("z.mca", "z.spe", "z.h5", "z.edf", "z.npy", "z.rpl", "z.dat"):
        (single / name).symlink_to(dev_zero)
        refused(single / name, "is not a regular file")
    os.mkfifo(single / "f.msa")
    refused(single / "f.msa", "is not a regular file")
    _write(single / "r.rpl", rpl_text())
    (single / "r.raw").symlink_to(dev_zero)
    refused(single / "r.rpl", "r.raw' is not a regular file")


def test_text_files_too_large_for_a_spectrum(tmp_path):
    p = tmp_path / "big.mca"
    with open(p, "wb") as f:
        f.truncate(20 * 2**20)  # sparse: nothing written
    refused(p, "too large for a text file")


class _Boom:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self, path: Path) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error,match",
    [
        (
            KeyError("counts"),
            r"cannot read '.*s\.csv': corrupt or unsupported file \(KeyError: 'counts'\)",
        ),
        (struct.error("unpack requires a buffer of 4 bytes"), r"struct\.error|error: unpack"),
        (zipfile.BadZipFile("bad"), "BadZipFile: bad"),
        (EOFError(), r"\(EOFError\)"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "UnicodeDecodeError"),
        (RuntimeError("line one\nline two"), r"RuntimeError: line one line two\)$"),
        (OverflowError("too big"), "OverflowError: too big"),
        (PermissionError(13, "Permission denied"), r"cannot read '.*s\.csv': Permission denied$"),
        (MemoryError(), r"cannot read '.*s\.csv': not enough memory$"),
        (PigmentmapError("bad axis"), r"^'.*s\.csv': bad axis$"),
    ],
)
def test_every_reader_error_becomes_one_line_naming_the_file(tmp_path, monkeypatch, error, match):
    monkeypatch.setattr("pigmentmap.io.open.read_csv", _Boom(error))
    result = outcome(_write(tmp_path / "s.csv", "1\n2\n"))
    assert isinstance(result, PigmentmapError) and re.search(match, str(result)), str(result)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), AttributeError("a bug stays a bug")])
def test_interrupts_and_bugs_are_not_swallowed(tmp_path, monkeypatch, error):
    monkeypatch.setattr("pigmentmap.io.open.read_csv", _Boom(error))
    with pytest.raises(type(error)):
        open_cube(_write(tmp_path / "s.csv", "1\n2\n"), calibration=(0.0, 0.01))


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    from pigmentmap.cli import main

    p = _write(tmp_path / "c.h5", SEEDS["h5"].files["c.h5"][:3000])
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pigmentmap: error: cannot read") and "\n" not in err and "c.h5" in err


def _loop_forever() -> None:
    while True:
        pass


def _crash() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)  # as a C library may


def _refuse() -> None:
    raise PigmentmapError("refused in the child")


def _bug() -> None:
    raise AttributeError("a bug in the child")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks a child (Linux)")
def test_run_isolated_stops_loops_and_survives_crashes():
    start = time.monotonic()
    with pytest.raises(PigmentmapError, match=r"'x': given up after 0\.5 s: the lib loops"):
        _common.run_isolated(_loop_forever, seconds=0.5, what="'x'", library="lib")
    assert time.monotonic() - start < 3
    with pytest.raises(PigmentmapError, match=r"'x': the lib crashed on this file \(signal 11"):
        _common.run_isolated(_crash, seconds=5, what="'x'", library="lib")
    with pytest.raises(PigmentmapError, match="refused in the child"):
        _common.run_isolated(_refuse, seconds=5, what="'x'", library="lib")
    with pytest.raises(_common.IsolatedBug, match="AttributeError: a bug in the child"):
        _common.run_isolated(_bug, seconds=5, what="'x'", library="lib")
    assert _common.run_isolated(divmod, 7, 2, seconds=5, what="'x'", library="lib") == (3, 1)


def test_hdf5_global_heap_that_makes_the_library_loop(tmp_path):
    """A free-space object of size 0 in a global heap collection (where variable-length strings
    live) makes libhdf5 loop forever in C; the file is explored in a child process that is
    stopped."""
    p = tmp_path / "heap.nxs"
    with h5py.File(p, "w") as f:
        g = f.create_group("entry")
        g.attrs["NX_class"] = "NXdata"
        g["counts"] = CUBE
    data = bytearray(p.read_bytes())
    heap = data.find(b"GCOL")
    assert heap > 0
    at, end = heap + 16, heap + struct.unpack_from("<Q", data, heap + 8)[0]
    while struct.unpack_from("<H", data, at)[0] != 0:  # to the free-space object (index 0)
        at += 16 + (struct.unpack_from("<Q", data, at + 8)[0] + 7) // 8 * 8
        assert at < end
    data[at + 8 : at + 16] = bytes(8)
    p.write_bytes(bytes(data))
    start = time.monotonic()
    refused(p, r"given up after 3 s: the HDF5 library loops on this file")
    assert time.monotonic() - start < HDF5_SECONDS + 2
