"""HDF5 and NeXus cubes: a 3-D dataset (chosen, or the best found: an NXdata signal, a detector
sum before a single detector), channel axis found or given."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import RawCube, as_cube, axis_from

_PREFERRED = ("counts", "data", "spectra", "mca", "cube")


def _nx_signals(f: h5py.File) -> set[str]:
    """Datasets named by an NXdata group's ``signal`` attribute."""
    out: set[str] = set()

    def text(v: object) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Group) and text(obj.attrs.get("NX_class", "")) == "NXdata":
            signal = obj.attrs.get("signal")
            if signal is not None and text(signal) in obj:
                out.add(f"{name}/{text(signal)}")

    f.visititems(visit)
    return out


def _candidates(f: h5py.File) -> list[str]:
    """3-D numeric datasets, best first: an NXdata signal, then a detector sum before a single
    detector (PyXRF's ``xrfmap/detsum/counts`` before ``xrfmap/det1/counts``), then the usual
    names."""
    found: list[str] = []

    def visit(name: str, obj: object) -> None:
        if (
            isinstance(obj, h5py.Dataset)
            and obj.ndim in (2, 3)
            and obj.dtype.kind in "iuf"
            and min(obj.shape) > 0
        ):
            found.append(name)

    f.visititems(visit)
    three = [n for n in found if f[n].ndim == 3]
    pool = three or [n for n in found if n.split("/")[-1] in ("spectra", "counts")]
    signals = _nx_signals(f)

    def rank(n: str) -> tuple[bool, bool, bool, str]:
        single_detector = re.search(r"(^|/)det_?\d+(/|$)", n.lower()) is not None
        return (n not in signals, single_detector, n.split("/")[-1].lower() not in _PREFERRED, n)

    return sorted(pool, key=rank)


def _channel_axis(shape: tuple[int, ...], energy_len: int | None) -> int:
    if energy_len is not None:
        hits = [k for k, s in enumerate(shape) if s == energy_len]
        if hits:
            return hits[-1]
    return int(np.argmax(shape)) if max(shape) >= 256 else len(shape) - 1


def read_hdf5(
    path: Path, *, dataset: str | None = None, channel_axis: int | None = None
) -> RawCube:
    """Read a cube from HDF5/NeXus.

    The calibration comes from an ``axis`` attribute (pigmentmap's JSON), attributes
    ``offset_kev``/``gain_kev``, or an ``energy_kev`` / ``energy`` dataset beside the data.
    """
    with h5py.File(path, "r") as f:
        if dataset is None:
            names = _candidates(f)
            if not names:
                raise PigmentmapError(f"'{path}' has no 3-D numeric dataset (use --dataset /path)")
            dataset = names[0]
        if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
            raise PigmentmapError(f"'{path}' has no dataset '{dataset}'")
        ds = f[dataset]
        if ds.ndim not in (2, 3):
            raise PigmentmapError(
                f"'{path}:{dataset}' has shape {ds.shape}; a cube needs 3 dimensions"
            )
        parent = ds.parent
        energy = None
        for key in ("energy_kev", "energy"):
            for group in (parent, f):
                if key in group and isinstance(group[key], h5py.Dataset) and group[key].ndim == 1:
                    energy = group[key][()]
                    break
            if energy is not None:
                break
        axis_k = (
            channel_axis
            if channel_axis is not None
            else _channel_axis(ds.shape, None if energy is None else len(energy))
        )
        if not -ds.ndim <= axis_k < ds.ndim:
            raise PigmentmapError(f"--channel-axis {axis_k} is out of range for shape {ds.shape}")
        data = np.moveaxis(ds[()], axis_k, -1)
        attrs = {**dict(f.attrs), **dict(ds.attrs)}
        live = None
        for key in ("live_time_s", "live_time", "livetime"):
            if key in attrs:
                live = float(np.mean(attrs[key]))
        n_ch = data.shape[-1]
        axis = None
        if "axis" in attrs:
            a = json.loads(attrs["axis"])
            axis = axis_from(a["offset_kev"], a["gain_kev"], n_ch, a.get("quadratic_kev", 0.0))
        elif "offset_kev" in attrs and "gain_kev" in attrs:
            axis = axis_from(float(attrs["offset_kev"]), float(attrs["gain_kev"]), n_ch)
        elif energy is not None and len(energy) == n_ch:
            axis = axis_from(float(energy[0]), float(energy[1] - energy[0]), n_ch)
    return RawCube(as_cube(data), axis, "HDF5", live, {"dataset": dataset, "channel_axis": axis_k})
