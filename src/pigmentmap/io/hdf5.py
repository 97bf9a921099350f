"""HDF5 and NeXus cubes: a 3-D dataset (chosen, or the best found: an NXdata signal, a detector
sum before a single detector), channel axis found or given.

Only data inside the file are read: external links, external storage and virtual datasets are
refused, and a dataset is read only after its declared size has been checked against what the
file stores and the memory available."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import (
    MAX_CHANNELS,
    RawCube,
    as_cube,
    as_float,
    axis_from,
    check_alloc,
    run_isolated,
    size_text,
)
from pigmentmap.io.lazy import LazyRows

_PREFERRED = ("counts", "data", "spectra", "mca", "cube")
_SMALL = 64 * 2**20
"""Declared sizes up to this are read even when the file stores less (fill values)."""
_RATIO = 1024
"""About the most a compression filter shrinks data by: a dataset declaring more than this
times what it stores (and more than ``_SMALL``) is sparse, unwritten or corrupt."""
_ATTR_BYTES = 2**20
METADATA_SECONDS = 30.0
"""How long the child process exploring an HDF5 file may take (see :func:`read_hdf5`)."""


def _text(v: object) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


def _local(f: h5py.File, name: str, where: str, depth: int = 0) -> Any:
    """The object at ``name`` (from the root), following only links that stay inside the file;
    None where there is nothing."""
    if depth > 16:
        raise PigmentmapError(f"{where}: the links to '{name}' nest too deeply")
    obj: Any = f["/"]
    path = ""
    for part in (p for p in name.split("/") if p and p != "."):
        if not isinstance(obj, h5py.Group):
            return None
        link = obj.get(part, getlink=True)
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise PigmentmapError(
                f"{where}: '{path}/{part}' links to the file '{link.filename}'; "
                "only data inside the file are read"
            )
        if isinstance(link, h5py.SoftLink):
            target = link.path if link.path.startswith("/") else f"{path}/{link.path}"
            obj = _local(f, target, where, depth + 1)
        elif isinstance(link, h5py.HardLink):
            obj = obj[part]
        else:
            raise PigmentmapError(f"{where}: '{path}/{part}' is a user-defined link")
        if obj is None:
            return None
        path = f"{path}/{part}"
    return obj


def _nx_signals(f: h5py.File) -> set[str]:
    """Datasets named by an NXdata group's ``signal`` attribute."""
    out: set[str] = set()

    def visit(name: str, obj: object) -> None:
        try:
            if isinstance(obj, h5py.Group) and _text(obj.attrs.get("NX_class", "")) == "NXdata":
                signal = obj.attrs.get("signal")
                if signal is not None and _text(signal) in obj.keys():
                    out.add(f"{name}/{_text(signal)}")
        except (OSError, KeyError, TypeError, ValueError, RuntimeError):
            pass  # an unreadable attribute: not a usable NXdata group

    f.visititems(visit)
    return out


def _candidates(f: h5py.File) -> list[str]:
    """3-D numeric datasets, best first: an NXdata signal, then a detector sum before a single
    detector (PyXRF's ``xrfmap/detsum/counts`` before ``xrfmap/det1/counts``), then the usual
    names."""
    found: dict[str, int] = {}

    def visit(name: str, obj: object) -> None:
        try:
            if (
                isinstance(name, str)  # a name that is not UTF-8 cannot be asked for anyway
                and isinstance(obj, h5py.Dataset)
                and obj.ndim in (2, 3)
                and obj.dtype.kind in "iuf"
                and min(obj.shape) > 0
            ):
                found[name] = obj.ndim
        except (OSError, KeyError, TypeError, ValueError, RuntimeError):
            pass  # an unreadable dataset is no candidate

    f.visititems(visit)
    three = [n for n, ndim in found.items() if ndim == 3]
    pool = three or [n for n in found if n.split("/")[-1] in ("spectra", "counts")]
    signals = _nx_signals(f)

    def rank(n: str) -> tuple[bool, bool, bool, str]:
        single_detector = re.search(r"(^|/)det_?\d+(/|$)", n.lower()) is not None
        return (n not in signals, single_detector, n.split("/")[-1].lower() not in _PREFERRED, n)

    return sorted(pool, key=rank)


def _check(ds: h5py.Dataset, path: Path, where: str, *, whole: bool = True) -> None:
    """Refuse a dataset that is not numeric, keeps its data outside the file, or declares far
    more than it stores (or, read ``whole``, than the memory holds); walk its chunk index."""
    if ds.is_virtual:
        raise PigmentmapError(f"{where} is a virtual dataset: its data lie in other files")
    if ds.external:
        raise PigmentmapError(
            f"{where} keeps its data in the external file(s) {ds.external[0][0]!r}"
        )
    if ds.dtype.kind not in "iuf":
        raise PigmentmapError(f"{where} holds {ds.dtype}, not numbers")
    shape = tuple(int(s) for s in (ds.shape or ()))
    nbytes = int(np.prod(shape, dtype=object)) * ds.dtype.itemsize
    stored = int(ds.id.get_storage_size())
    if nbytes > max(_SMALL, _RATIO * stored):
        raise PigmentmapError(
            f"{where} declares {shape} of {ds.dtype} ({size_text(nbytes)}) but stores "
            f"{size_text(stored)}: sparse, never written or corrupt"
        )
    if ds.chunks is None:
        start = ds.id.get_offset()
        size = path.stat().st_size
        if start is not None and start + nbytes > size:
            raise PigmentmapError(
                f"{where}: its data run past the end of the file ({size_text(size)}): truncated"
            )
    if whole:
        check_alloc(nbytes, f"{where} {shape}")
    if ds.chunks is not None and hasattr(ds.id, "get_num_chunks"):
        ds.id.get_num_chunks()  # walks the chunk index, as reading will


def _read(ds: h5py.Dataset, path: Path, where: str) -> np.ndarray:
    """The whole of a numeric dataset, after checking what it declares against what it stores."""
    _check(ds, path, where)
    return np.asarray(ds[()])


def _attr(objs: tuple[Any, ...], keys: tuple[str, ...], where: str) -> tuple[str, Any] | None:
    """The first of ``keys`` found among the attributes of ``objs`` (in order), with its value."""
    for key in keys:
        for obj in objs:
            try:
                if key not in obj.attrs:
                    continue
                stored = obj.attrs.get_id(key).get_storage_size()
                if stored <= _ATTR_BYTES:
                    return key, obj.attrs[key]
            except (OSError, KeyError, TypeError, ValueError, RuntimeError) as err:
                raise PigmentmapError(
                    f"{where}: cannot read attribute '{key}' ({type(err).__name__}: {err})"
                ) from None
            raise PigmentmapError(f"{where}: attribute '{key}' is too large ({stored} bytes)")
    return None


def _live_time(value: Any, key: str, where: str) -> float:
    try:
        times = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise PigmentmapError(f"{where}: attribute '{key}' is not numbers") from None
    if times.size == 0 or not np.isfinite(times).all() or (times < 0).any():
        raise PigmentmapError(f"{where}: attribute '{key}' must hold finite times >= 0")
    return float(times.mean())


def _axis_attr(value: Any, n_ch: int, where: str) -> Any:
    try:
        a = json.loads(value if isinstance(value, str | bytes) else str(value))
        if not isinstance(a, dict):
            raise TypeError("not an object")
        offset, gain = a["offset_kev"], a["gain_kev"]
        quadratic = a.get("quadratic_kev", 0.0)
    except (ValueError, TypeError, KeyError, RecursionError) as err:
        raise PigmentmapError(
            f"{where}: attribute 'axis' is not a JSON energy axis ({type(err).__name__}: {err})"
        ) from None
    try:
        return axis_from(offset, gain, n_ch, quadratic)
    except PigmentmapError as err:
        raise PigmentmapError(f"{where}: attribute 'axis': {err}") from None


def _plan(path: Path, dataset: str | None, channel_axis: int | None) -> dict[str, Any]:
    """Everything ``read_hdf5`` needs but the data: the dataset, its channel axis, calibration
    and live time, every check done (run in a child process: see :func:`read_hdf5`)."""
    with h5py.File(path, "r") as f:
        if dataset is None:
            names = _candidates(f)
            if not names:
                raise PigmentmapError(f"'{path}' has no 3-D numeric dataset (use --dataset /path)")
            dataset = names[0]
        where = f"'{path}:{dataset}'"
        ds = _local(f, dataset, f"'{path}'")
        if not isinstance(ds, h5py.Dataset):
            raise PigmentmapError(f"'{path}' has no dataset '{dataset}'")
        if ds.ndim not in (2, 3):
            raise PigmentmapError(f"{where} has shape {ds.shape}; a cube needs 3 dimensions")
        parent = dataset.rstrip("/").rsplit("/", 1)[0] if "/" in dataset.strip("/") else ""
        energy = None
        for key in ("energy_kev", "energy"):
            for group in (parent, ""):
                e = _local(f, f"{group}/{key}", f"'{path}'")
                if (
                    isinstance(e, h5py.Dataset)
                    and e.ndim == 1
                    and e.dtype.kind in "iuf"
                    and 2 <= e.shape[0] <= MAX_CHANNELS
                ):
                    energy = _read(e, path, f"'{path}:{e.name}'").astype(np.float64)
                    break
            if energy is not None:
                break
        shape = tuple(int(n) for n in ds.shape)
        axis_k = (
            channel_axis
            if channel_axis is not None
            else _channel_axis(shape, None if energy is None else len(energy))
        )
        if not -ds.ndim <= axis_k < ds.ndim:
            raise PigmentmapError(f"--channel-axis {axis_k} is out of range for shape {ds.shape}")
        _check(ds, path, where, whole=ds.ndim != 3)  # a cube is read block by block
        n_ch = shape[axis_k]
        objs = (ds, f)
        live = None
        found = _attr(objs, ("live_time_s", "live_time", "livetime"), where)
        if found is not None:
            live = _live_time(found[1], found[0], where)
        axis = None
        if (found := _attr(objs, ("axis",), where)) is not None:
            axis = _axis_attr(found[1], n_ch, where)
        elif (off := _attr(objs, ("offset_kev",), where)) is not None and (
            gain := _attr(objs, ("gain_kev",), where)
        ) is not None:
            axis = axis_from(
                as_float(off[1], f"{where}: attribute 'offset_kev'"),
                as_float(gain[1], f"{where}: attribute 'gain_kev'"),
                n_ch,
            )
        elif energy is not None and len(energy) == n_ch:
            axis = axis_from(float(energy[0]), float(energy[1] - energy[0]), n_ch)
        size = _attr(objs, ("pixel_size_mm",), where)
        pixel_mm = None
        if size is not None:
            value = as_float(size[1], f"{where}: attribute 'pixel_size_mm'")
            pixel_mm = value if value > 0 else None
    return {"dataset": dataset, "shape": shape, "axis_k": axis_k, "axis": axis, "live": live,
            "dtype": str(ds.dtype), "pixel_size_mm": pixel_mm, "chunks": ds.chunks}  # fmt: skip


def read_hdf5(
    path: Path, *, dataset: str | None = None, channel_axis: int | None = None
) -> RawCube:
    """Read a cube from HDF5/NeXus.

    The calibration comes from an ``axis`` attribute (pigmentmap's JSON), attributes
    ``offset_kev``/``gain_kev``, or an ``energy_kev`` / ``energy`` dataset beside the data.

    The HDF5 library can loop forever on some corrupt files (a broken global heap), where no
    signal reaches Python: the file is first explored in a child process (where ``fork`` is
    available) that gets :data:`METADATA_SECONDS` to choose the dataset and check it, its
    links, attributes and chunk index; then this process reads the data alone.
    """
    plan = run_isolated(
        _plan,
        path,
        dataset,
        channel_axis,
        seconds=METADATA_SECONDS,
        what=f"'{path}'",
        library="HDF5 library",
    )
    meta: dict[str, Any] = {"dataset": plan["dataset"], "channel_axis": plan["axis_k"]}
    if plan["pixel_size_mm"] is not None:
        meta["pixel_size_mm"] = plan["pixel_size_mm"]
    if len(plan["shape"]) == 3:  # read block by block of rows when used
        rows = HDF5Rows(path, plan["dataset"], plan["shape"], plan["axis_k"], plan["dtype"],
                        chunks=plan["chunks"])  # fmt: skip
        return RawCube(rows, plan["axis"], "HDF5 (read in blocks of rows)", plan["live"], meta)
    with h5py.File(path, "r") as f:
        data = np.asarray(f[plan["dataset"]][()])
    if data.shape != plan["shape"]:
        raise PigmentmapError(f"'{path}:{plan['dataset']}' changed while it was read")
    data = np.moveaxis(data, plan["axis_k"], -1)
    return RawCube(as_cube(data), plan["axis"], "HDF5", plan["live"], meta)


class HDF5Rows(LazyRows):
    """A 3-D HDF5 dataset seen as (height, width, channels), read block by block of rows.

    The channel axis may be any of the three; the other two, in order, are the rows and the
    columns. The file is opened for each read and closed after it (a file kept open would be
    read through the library's stale view if it were replaced meanwhile); ``rows_per_chunk``
    tells how many rows a stored chunk spans, so that blocks of rows can follow the chunks
    instead of inflating a chunk once per row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.h5"
    >>> with h5py.File(p, "w") as f:
    ...     f["counts"] = np.arange(24.0).reshape(4, 2, 3)  # channels, rows, columns
    >>> rows = HDF5Rows(p, "counts", (4, 2, 3), 0, "float64")
    >>> rows.shape, rows[1].tolist()
    ((2, 3, 4), [[3.0, 9.0, 15.0, 21.0], [4.0, 10.0, 16.0, 22.0], [5.0, 11.0, 17.0, 23.0]])
    """

    def __init__(
        self,
        path: Path,
        dataset: str,
        shape: tuple[int, ...],
        channel_axis: int,
        dtype: Any,
        *,
        chunks: tuple[int, ...] | None = None,
    ) -> None:
        k = channel_axis % 3
        self.order = [d for d in range(3) if d != k] + [k]
        super().__init__(
            (shape[self.order[0]], shape[self.order[1]], shape[k]), np.dtype(dtype), path
        )
        self.dataset, self.source_shape = dataset, tuple(shape)
        self.rows_per_chunk = int(chunks[self.order[0]]) if chunks else 1

    def _read(self, r0: int, r1: int) -> np.ndarray:
        with h5py.File(self.path, "r") as f:
            ds = f[self.dataset]
            if tuple(ds.shape) != self.source_shape:
                raise PigmentmapError(f"'{self.path}:{self.dataset}' changed while it was read")
            index: list[slice] = [slice(None)] * 3
            index[self.order[0]] = slice(r0, r1)
            block = np.asarray(ds[tuple(index)])
        return np.transpose(block, self.order)  # (rows, columns, channels)


def _channel_axis(shape: tuple[int, ...], energy_len: int | None) -> int:
    if energy_len is not None:
        hits = [k for k, s in enumerate(shape) if s == energy_len]
        if hits:
            return hits[-1]
    return int(np.argmax(shape)) if max(shape) >= 256 else len(shape) - 1
