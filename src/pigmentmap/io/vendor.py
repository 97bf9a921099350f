"""Vendor formats through other libraries: Bruker .bcf/.spx (rosettasciio), EDF (fabio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import RawCube, as_cube, axis_from


def read_bruker(path: Path) -> RawCube:
    """Bruker .spx spectra and .bcf hypermaps via rosettasciio (the EDS/XRF signal)."""
    from rsciio.bruker import file_reader

    try:
        items = file_reader(str(path))
    except Exception as err:  # rosettasciio raises many kinds
        raise PigmentmapError(f"cannot read Bruker file '{path}': {err}") from None
    spectra = [
        d
        for d in items
        if d["data"].ndim >= 1 and d["axes"] and d["axes"][-1].get("units") in ("keV", "eV")
    ]
    if not spectra:
        raise PigmentmapError(f"'{path}' holds no spectrum or spectrum image")
    item = spectra[0]
    energy = item["axes"][-1]
    counts = as_cube(np.asarray(item["data"]))
    axis = axis_from(float(energy["offset"]), float(energy["scale"]), counts.shape[-1])
    live = None
    hw = item.get("original_metadata", {}).get("Hardware", {})
    if "LifeTime" in hw:
        live = float(hw["LifeTime"]) / 1000.0
    return RawCube(counts, axis, "Bruker (rosettasciio)", live)


def read_edf(path: Path) -> RawCube:
    """EDF (ESRF data format): frames of (width, channels) rows, or one 2-D/3-D array."""
    import fabio

    try:
        img = fabio.open(str(path))
    except Exception as err:
        raise PigmentmapError(f"cannot read EDF file '{path}': {err}") from None
    frames = (
        [np.asarray(img.getframe(k).data) for k in range(img.nframes)]
        if img.nframes > 1
        else [np.asarray(img.data)]
    )
    stack = np.stack(frames) if len(frames) > 1 else frames[0]
    if stack.ndim == 2 and len(frames) == 1:
        stack = stack.reshape(1, *stack.shape)
    header = dict(img.header)
    axis = None
    if "MCA a" in header and "MCA b" in header:
        axis = axis_from(float(header["MCA a"]), float(header["MCA b"]), stack.shape[-1])
    return RawCube(as_cube(stack), axis, "EDF (fabio)")
