"""Binary arrays: ``.npy`` / ``.npz`` and ``.raw`` + ``.rpl`` (Lispix/Bruker ESPRIT export).

``.raw`` cubes are memory-mapped, never read whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import RawCube, as_cube, axis_from


def read_npy(path: Path) -> RawCube:
    """A ``.npy`` array (C), (N, C) or (H, W, C), memory-mapped."""
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise PigmentmapError(f"cannot read '{path}': {err}") from None
    return RawCube(as_cube(a), None, ".npy")


def read_npz(path: Path) -> RawCube:
    """A ``.npz`` with ``counts`` (or one array) and optional ``energy_kev`` or ``calibration``."""
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise PigmentmapError(f"cannot read '{path}': {err}") from None
    with z:
        names = list(z.files)
        key = (
            "counts"
            if "counts" in names
            else next(
                (n for n in names if z[n].ndim >= 1 and n not in ("energy_kev", "calibration")),
                None,
            )
        )
        if key is None:
            raise PigmentmapError(f"'{path}' holds no counts array")
        counts = as_cube(z[key])
        axis = None
        if "energy_kev" in names:
            e = z["energy_kev"]
            axis = axis_from(float(e[0]), float(e[1] - e[0]), counts.shape[-1])
        elif "calibration" in names:
            c = z["calibration"]
            axis = axis_from(float(c[0]), float(c[1]), counts.shape[-1])
        live = float(z["live_time_s"]) if "live_time_s" in names else None
    return RawCube(counts, axis, ".npz", live, {"array": key})


_RPL_TYPES = {("signed", 1): "i1", ("signed", 2): "i2", ("signed", 4): "i4", ("signed", 8): "i8",
              ("unsigned", 1): "u1", ("unsigned", 2): "u2", ("unsigned", 4): "u4", ("unsigned", 8): "u8",
              ("float", 4): "f4", ("float", 8): "f8"}  # fmt: skip


def parse_rpl(path: Path) -> dict[str, str]:
    """The ``key value`` lines of a .rpl header (keys lower case)."""
    out: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.replace("\t", " ").split(None, 1)
        if len(parts) == 2 and not parts[0].startswith(";"):
            out[parts[0].strip().lower()] = parts[1].strip()
    return out


def read_raw_rpl(path: Path) -> RawCube:
    """``.raw`` + ``.rpl`` (give either): memory-mapped (height, width, depth)."""
    rpl, raw = path.with_suffix(".rpl"), path.with_suffix(".raw")
    if not rpl.is_file():
        raise PigmentmapError(f"'{path}': no header '{rpl.name}' beside it")
    if not raw.is_file():
        raise PigmentmapError(f"'{path}': no data file '{raw.name}' beside it")
    h = parse_rpl(rpl)
    try:
        width, height, depth = int(h["width"]), int(h["height"]), int(h["depth"])
        offset = int(h.get("offset", "0"))
        length = int(h["data-length"])
        kind = h.get("data-type", "unsigned").lower()
    except (KeyError, ValueError) as err:
        raise PigmentmapError(f"'{rpl}': missing or bad header value ({err})") from None
    if (kind, length) not in _RPL_TYPES:
        raise PigmentmapError(f"'{rpl}': unsupported data-type {kind} with data-length {length}")
    order = h.get("byte-order", "little-endian").lower()
    dtype = np.dtype(_RPL_TYPES[(kind, length)]).newbyteorder(
        ">" if order.startswith("big") else "<"
    )
    need = offset + width * height * depth * length
    have = raw.stat().st_size
    if have < need:
        raise PigmentmapError(
            f"'{raw.name}' has {have} bytes, its .rpl says {need} ({width} x {height} x {depth} x {length})"
        )
    record = h.get("record-by", "vector").lower()
    if record == "image":
        mm = np.memmap(raw, dtype=dtype, mode="r", offset=offset, shape=(depth, height, width))
        counts = mm.transpose(1, 2, 0)
    elif record in ("vector", "dont-care"):
        counts = np.memmap(raw, dtype=dtype, mode="r", offset=offset, shape=(height, width, depth))
    else:
        raise PigmentmapError(f"'{rpl}': unknown record-by '{record}'")
    axis = None
    gain = h.get("ev-per-chan") or h.get("gain-ev")
    if gain is not None:
        zero = float(h.get("zero-offset-ev", h.get("offset-ev", "0")))
        axis = axis_from(zero, float(gain), depth)
    return RawCube(counts, axis, ".raw/.rpl (memory-mapped)", None, {"record_by": record})
