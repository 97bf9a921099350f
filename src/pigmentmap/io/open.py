"""``open_cube``: one entry point for every supported file; the reader is picked by content
and extension. ``describe`` is what ``pigmentmap info`` prints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.io._common import RawCube
from pigmentmap.io.arrays import read_npy, read_npz, read_raw_rpl
from pigmentmap.io.hdf5 import read_hdf5
from pigmentmap.io.text_spectra import read_csv, read_mca, read_msa, read_spe
from pigmentmap.io.vendor import read_bruker, read_edf

SUFFIXES = {
    ".h5": "HDF5", ".hdf5": "HDF5", ".nxs": "NeXus", ".hdf": "HDF5",
    ".bcf": "Bruker hypermap", ".spx": "Bruker spectrum",
    ".raw": "raw + rpl", ".rpl": "raw + rpl",
    ".npy": "NumPy", ".npz": "NumPy",
    ".edf": "EDF",
    ".spe": "IAEA spe", ".mca": "MCA", ".msa": "EMSA", ".emsa": "EMSA", ".csv": "CSV", ".txt": "text",
}  # fmt: skip


def _natural_key(p: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def read_mca_folder(folder: Path, *, shape: tuple[int, int] | None, order: str) -> RawCube:
    """A folder of one-spectrum-per-pixel ``.mca`` files, in natural name order."""
    files = sorted(folder.glob("*.mca"), key=_natural_key)
    if not files:
        raise PigmentmapError(f"folder '{folder}' holds no .mca files")
    if shape is None:
        raise PigmentmapError(
            f"'{folder}': give the scan shape of its {len(files)} .mca files (--shape HxW)"
        )
    h, w = shape
    if h * w != len(files):
        raise PigmentmapError(
            f"'{folder}' holds {len(files)} .mca files, --shape {h}x{w} needs {h * w}"
        )
    if order not in ("row", "column"):
        raise PigmentmapError(f"--order must be row or column, got '{order}'")
    first = read_mca(files[0])
    n_ch = first.counts.shape[-1]
    cube = np.zeros((h, w, n_ch), dtype=np.float64)
    lives = []
    for k, f in enumerate(files):
        r = first if k == 0 else read_mca(f)
        if r.counts.shape[-1] != n_ch:
            raise PigmentmapError(
                f"'{f.name}' has {r.counts.shape[-1]} channels, '{files[0].name}' {n_ch}"
            )
        row, col = divmod(k, w) if order == "row" else (k % h, k // h)
        cube[row, col] = r.counts.reshape(-1, n_ch).sum(axis=0)
        if r.live_time_s is not None:
            lives.append(r.live_time_s)
    live = float(np.mean(lives)) if lives else None
    return RawCube(cube, first.axis, f"folder of {first.reader} files ({order} order)", live)


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x89HDF"):
        return ".h5"
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if head.startswith(b"PK"):
        return ".npz"
    text = head.decode("latin-1")
    if "$SPEC_ID" in text or "$DATA" in text:
        return ".spe"
    if "#FORMAT" in text.upper() and "EMSA" in text.upper():
        return ".msa"
    if "<<PMCA" in text or "CAL_SLOPE" in text or "#@CALIB" in text:
        return ".mca"
    if "<TRTSpectrum" in text:
        return ".spx"
    if text.lstrip().startswith("{") and "EDF" in text.upper():
        return ".edf"
    return ""


def read_any(
    path: str | Path,
    *,
    dataset: str | None = None,
    channel_axis: int | None = None,
    shape: tuple[int, int] | None = None,
    order: str = "row",
) -> RawCube:
    """The reader's raw result for ``path`` (no calibration override)."""
    p = Path(path)
    if p.is_dir():
        return read_mca_folder(p, shape=shape, order=order)
    if not p.exists() and p.suffix.lower() in (".raw", ".rpl"):
        raise PigmentmapError(f"'{p}' does not exist")
    if not p.is_file():
        raise PigmentmapError(f"'{p}' does not exist")
    suffix = p.suffix.lower()
    sniffed = _sniff(p) if suffix in ("", ".txt", ".dat") or suffix not in SUFFIXES else ""
    kind = sniffed or suffix
    if kind not in SUFFIXES:
        raise PigmentmapError(
            f"'{p.name}': unknown file type (supported: {', '.join(sorted(set(SUFFIXES)))})"
        )
    if kind in (".h5", ".hdf5", ".nxs", ".hdf"):
        if not h5py.is_hdf5(p):
            raise PigmentmapError(f"'{p}' is not an HDF5 file")
        return read_hdf5(p, dataset=dataset, channel_axis=channel_axis)
    readers = {
        ".bcf": read_bruker, ".spx": read_bruker, ".raw": read_raw_rpl, ".rpl": read_raw_rpl,
        ".npy": read_npy, ".npz": read_npz, ".edf": read_edf, ".spe": read_spe, ".mca": read_mca,
        ".msa": read_msa, ".emsa": read_msa, ".csv": read_csv, ".txt": read_csv,
    }  # fmt: skip
    return readers[kind](p)


def parse_calibration(text: str) -> tuple[float, float]:
    """``"OFFSET,GAIN"`` in keV -> (offset, gain).

    Examples
    --------
    >>> parse_calibration("-0.9555,0.009999")
    (-0.9555, 0.009999)
    """
    try:
        offset, gain = (float(v) for v in text.split(","))
    except ValueError:
        raise PigmentmapError(f"--calibration wants OFFSET,GAIN in keV, got '{text}'") from None
    if not gain > 0:
        raise PigmentmapError(f"calibration gain must be positive, got {gain}")
    return offset, gain


def open_cube(
    path: str | Path,
    *,
    dataset: str | None = None,
    channel_axis: int | None = None,
    calibration: tuple[float, float] | None = None,
    shape: tuple[int, int] | None = None,
    order: str = "row",
) -> Cube:
    """Open any supported file as a :class:`Cube` (height, width, channels).

    Parameters
    ----------
    path : path
        A file, a ``.raw``/``.rpl`` pair, or a folder of ``.mca`` files.
    dataset, channel_axis : HDF5 only: the dataset path and the axis holding the channels.
    calibration : (offset_kev, gain_kev), optional
        Overrides the file's calibration (needed when the file has none).
    shape, order : a folder of .mca files: (height, width) and ``row`` or ``column`` order.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.npz"
    >>> np.savez(p, counts=np.ones((2, 3, 100)), calibration=np.array([0.0, 0.01]))
    >>> open_cube(p).shape
    (2, 3, 100)
    """
    raw = read_any(path, dataset=dataset, channel_axis=channel_axis, shape=shape, order=order)
    n_ch = int(raw.counts.shape[-1])
    if calibration is not None:
        axis: EnergyAxis | None = EnergyAxis(calibration[0], calibration[1], n_ch)
        source = "--calibration"
    else:
        axis, source = raw.axis, "file"
    if axis is None:
        raise PigmentmapError(
            f"'{path}' carries no energy calibration: give --calibration OFFSET,GAIN (keV)"
        )
    meta = {
        "reader": raw.reader,
        "source": str(path),
        "calibration": source,
        "live_time_s": raw.live_time_s,
        **raw.meta,
    }
    return Cube(raw.counts, axis, meta)


def describe(cube: Cube) -> str:
    """Shape, dtype, calibration, live time and reader, one per line."""
    h, w, c = cube.shape
    a = cube.axis
    live = cube.meta.get("live_time_s")
    lines = [
        f"file:        {cube.meta.get('source')}",
        f"reader:      {cube.meta.get('reader')}",
        f"shape:       {h} x {w} pixels x {c} channels",
        f"dtype:       {cube.counts.dtype}",
        f"calibration: E = {a.offset_kev:g} + {a.gain_kev:g} * ch keV ({a.energies[0]:.3f}-{a.energies[-1]:.3f} keV, from {cube.meta.get('calibration')})",
        f"live time:   {'unknown' if live is None else f'{live:g} s'}",
    ]
    if "dataset" in cube.meta:
        lines.append(
            f"dataset:     {cube.meta['dataset']} (channel axis {cube.meta.get('channel_axis')})"
        )
    return "\n".join(lines)
