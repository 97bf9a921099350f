"""``open_cube``: one entry point for every supported file; the reader is picked by content
and extension. ``describe`` is what ``pigmentmap info`` prints."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.io._common import (
    RawCube,
    check_alloc,
    check_raw,
    open_regular,
    reading,
)
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


def _names(files: list[Path], *, most: int = 5) -> str:
    """``a.mca, b.mca`` or ``a.mca, ... e.mca and 12 more``."""
    shown = ", ".join(f.name for f in files[:most])
    return shown + (f" and {len(files) - most} more" if len(files) > most else "")


def _pattern(name: str) -> str:
    """A file name with every run of digits replaced by ``#``: its numbering pattern."""
    return re.sub(r"\d+", "#", name)


def pixel_files(files: list[Path], *, where: str) -> tuple[list[Path], list[Path]]:
    """The files of the dominant name pattern in natural order, and the others.

    The pattern of a name is the name with its numbers replaced (``scan_0012.mca`` ->
    ``scan_#.mca``); the most common pattern wins. Names that all differ (no numbering) are all
    kept.

    Examples
    --------
    >>> from pathlib import Path
    >>> names = ["scan_10.mca", "scan_9.mca", "spot_A.mca", "scan_11.mca", "test.mca"]
    >>> kept, skipped = pixel_files([Path(n) for n in names], where="x")
    >>> [p.name for p in kept], [p.name for p in skipped]
    (['scan_9.mca', 'scan_10.mca', 'scan_11.mca'], ['spot_A.mca', 'test.mca'])
    """
    families: dict[str, list[Path]] = {}
    for f in files:
        families.setdefault(_pattern(f.name), []).append(f)
    sizes = sorted((len(v) for v in families.values()), reverse=True)
    if sizes[0] < 2:
        return sorted(files, key=_natural_key), []
    if len(sizes) > 1 and sizes[1] == sizes[0]:
        tied = [k.replace("#", "*") for k, v in families.items() if len(v) == sizes[0]]
        raise PigmentmapError(
            f"{where} holds {sizes[0]} files of each of the name patterns {', '.join(tied)}: "
            "choose one with --glob"
        )
    pattern = max(families, key=lambda k: len(families[k]))
    kept = sorted(families[pattern], key=_natural_key)
    skipped = sorted((f for f in files if _pattern(f.name) != pattern), key=_natural_key)
    return kept, skipped


def _found(files: list[Path], skipped: list[Path]) -> str:
    """What a folder holds, for messages: count, name range, gaps in the numbering, the rest."""
    text = f"{len(files)} .mca files {files[0].name} .. {files[-1].name}"
    numbered = [re.findall(r"\d+", f.name) for f in files]
    if all(len(n) == 1 for n in numbered) and len(files) > 1:
        values = sorted(int(n[0]) for n in numbered)
        missing = sorted(set(range(values[0], values[-1] + 1)) - set(values))
        if missing:
            shown = ", ".join(str(m) for m in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            text += f" (numbers {values[0]}-{values[-1]}, missing {shown}{more})"
    if skipped:
        text += f", besides {len(skipped)} other files skipped ({_names(skipped)})"
    return text


def read_mca_folder(
    folder: Path, *, shape: tuple[int, int] | None, order: str, glob: str | None = None
) -> RawCube:
    """A folder of one-spectrum-per-pixel ``.mca`` files, in natural name order.

    Parameters
    ----------
    folder : Path
        The folder.
    shape : (height, width)
        The scan's shape: the number of pixel files must be height x width.
    order : ``"row"`` or ``"column"``
        Whether consecutive files fill rows or columns.
    glob : str, optional
        Pattern of the files to use (default every ``.mca`` file). Of these, the files of the
        dominant name pattern (a common prefix and suffix around the pixel number) are the
        pixels; the others (a spot measurement, a test file) are skipped with a warning.

    Live times of 0 or none fall back to the real times. What the user should know (skipped
    files, real times used) is listed in ``meta["warnings"]``, which ``open_cube`` warns with.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for k in range(1, 7):
    ...     _ = (d / f"scan_{k:04d}.mca").write_text(f"#@CALIB 0 0.01 0\\n@A {k} 0 0\\n")
    >>> _ = (d / "spot_A.mca").write_text("#@CALIB 0 0.01 0\\n@A 9 9 9\\n")
    >>> raw = read_mca_folder(d, shape=(2, 3), order="row")
    >>> float(raw.counts[1, 0, 0]), raw.meta["warnings"][0].endswith("skipped 1 other file(s): spot_A.mca")
    (4.0, True)
    """
    where = f"'{folder}'"
    if glob is None:
        entries = [f for f in folder.iterdir() if f.suffix.lower() == ".mca"]
    else:
        try:
            entries = list(folder.glob(glob))
        except (ValueError, NotImplementedError) as err:
            raise PigmentmapError(f"--glob '{glob}': {err}") from None
        where = f"{where} (--glob '{glob}')"
    files = [f for f in entries if f.is_file()]
    odd = [f for f in entries if not f.is_file() and not f.is_dir()]
    if odd:
        raise PigmentmapError(
            f"{where}: {_names(odd)} not a regular file (a device, a FIFO or a broken link)"
        )
    if not files:
        raise PigmentmapError(
            f"folder '{folder}' holds no .mca files"
            if glob is None
            else f"no file in '{folder}' matches --glob '{glob}'"
        )
    files, skipped = pixel_files(files, where=where)
    if shape is None:
        raise PigmentmapError(
            f"{where}: give the scan shape (--shape HxW) of its {_found(files, skipped)}"
        )
    h, w = shape
    if h * w != len(files):
        raise PigmentmapError(
            f"{where} holds {_found(files, skipped)}; --shape {h}x{w} needs {h * w}"
        )
    if order not in ("row", "column"):
        raise PigmentmapError(f"--order must be row or column, got '{order}'")
    notes = []
    if skipped:
        notes.append(
            f"{where}: using the {len(files)} pixel files {files[0].name} .. {files[-1].name}; "
            f"skipped {len(skipped)} other file(s): {_names(skipped)}"
        )
    first = _read_checked(files[0])
    n_ch = first.counts.shape[-1]
    check_alloc(h * w * n_ch * 8, f"{where}: a cube of {h} x {w} pixels x {n_ch} channels")
    cube = np.zeros((h, w, n_ch), dtype=np.float64)
    lives, from_real = [], []
    for k, f in enumerate(files):
        r = first if k == 0 else _read_checked(f)
        if r.counts.shape[-1] != n_ch:
            raise PigmentmapError(
                f"'{f.name}' has {r.counts.shape[-1]} channels, '{files[0].name}' {n_ch}"
            )
        row, col = divmod(k, w) if order == "row" else (k % h, k // h)
        cube[row, col] = r.counts.reshape(-1, n_ch).sum(axis=0)
        if r.live_time_s is not None:
            lives.append(r.live_time_s)
        if r.meta.get("live_time_from") == "real time":
            from_real.append(f)
    live = float(np.mean(lives)) if lives else None
    meta: dict[str, Any] = {"files": len(files), "skipped_files": [f.name for f in skipped]}
    if from_real:
        meta["live_time_from"] = "real time"
        notes.append(
            f"live time 0 or missing in {len(from_real)} of {len(files)} .mca files "
            f"({_names(from_real, most=3)}): using their real times (mean {live:g} s)"
        )
    if notes:
        meta["warnings"] = notes
    return RawCube(cube, first.axis, f"folder of {first.reader} files ({order} order)", live, meta)


def _read_checked(path: Path) -> RawCube:
    """One pixel file of a folder, read and checked; errors name the file."""
    with reading(path):
        return check_raw(read_mca(path), str(path))


def _sniff(path: Path) -> str:
    with open_regular(path) as f:
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
    glob: str | None = None,
) -> RawCube:
    """The reader's raw result for ``path`` (no calibration override, no warnings issued).

    Whatever is wrong with the file is raised as one :class:`PigmentmapError` naming it; the
    result is checked: numeric, finite counts (H, W, C) with 2 to 2**20 channels, a live time
    that is None or a finite number >= 0.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.npy"
    >>> np.save(p, np.ones((2, 3, 10)))
    >>> read_any(p).counts.shape, read_any(p).axis
    ((2, 3, 10), None)
    """
    p = Path(path)
    with reading(p):
        if p.is_dir():
            return read_mca_folder(p, shape=shape, order=order, glob=glob)
        if glob is not None:
            raise PigmentmapError(
                f"'{p}' is not a folder: --glob selects the .mca files of a folder"
            )
        if not p.exists():
            raise PigmentmapError(f"'{p}' does not exist")
        if not p.is_file():
            raise PigmentmapError(f"'{p}' is not a regular file")
        return check_raw(_read_file(p, dataset=dataset, channel_axis=channel_axis), str(p))


def _read_file(p: Path, *, dataset: str | None, channel_axis: int | None) -> RawCube:
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
    glob: str | None = None,
    allow_uncalibrated: bool = False,
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
    glob : str, optional
        A folder of .mca files: the pattern of the files to use (e.g. ``"scan_*.mca"``).
    allow_uncalibrated : bool
        A file without a calibration opens on a channel axis (1 "keV" per channel) with
        ``meta["calibration"] == "missing"`` instead of being refused (for ``info``).

    What the reader noticed (pixel files skipped, real times used for missing live times) is
    issued with :func:`warnings.warn`, one line each.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.npz"
    >>> np.savez(p, counts=np.ones((2, 3, 100)), calibration=np.array([0.0, 0.01]))
    >>> open_cube(p).shape
    (2, 3, 100)
    """
    raw = read_any(
        path, dataset=dataset, channel_axis=channel_axis, shape=shape, order=order, glob=glob
    )
    for note in raw.meta.pop("warnings", []):
        warnings.warn(note, stacklevel=2)
    n_ch = int(raw.counts.shape[-1])
    if calibration is not None:
        axis: EnergyAxis | None = EnergyAxis(calibration[0], calibration[1], n_ch)
        source = "--calibration"
    else:
        axis, source = raw.axis, "file"
    if axis is None and allow_uncalibrated:
        axis, source = EnergyAxis(0.0, 1.0, n_ch), "missing"
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
    """Shape, dtype, calibration, live time and reader, one per line.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.core import EnergyAxis
    >>> cube = Cube(np.ones((2, 3, 10)), EnergyAxis(0.0, 0.01, 10), {"live_time_s": 0.0})
    >>> describe(cube).splitlines()[-1]
    'live time:   unknown'
    """
    h, w, c = cube.shape
    a = cube.axis
    live = cube.meta.get("live_time_s")
    if live is None or not live > 0:
        live_text = "unknown"
    elif cube.meta.get("live_time_from") == "real time":
        live_text = f"{live:g} s (the real time: the file's live time is 0 or missing)"
    else:
        live_text = f"{live:g} s"
    if cube.meta.get("calibration") == "missing":
        calibration = "missing: the file has none (give --calibration OFFSET,GAIN in keV)"
    else:
        calibration = f"E = {a.offset_kev:g} + {a.gain_kev:g} * ch keV ({a.energies[0]:.3f}-{a.energies[-1]:.3f} keV, from {cube.meta.get('calibration')})"
    lines = [
        f"file:        {cube.meta.get('source')}",
        f"reader:      {cube.meta.get('reader')}",
        f"shape:       {h} x {w} pixels x {c} channels",
        f"dtype:       {cube.counts.dtype}",
        f"calibration: {calibration}",
        f"live time:   {live_text}",
    ]
    if "dataset" in cube.meta:
        lines.append(
            f"dataset:     {cube.meta['dataset']} (channel axis {cube.meta.get('channel_axis')})"
        )
    return "\n".join(lines)
