"""Binary arrays: ``.npy`` / ``.npz`` and ``.raw`` + ``.rpl`` (Lispix/Bruker ESPRIT export).

``.raw`` cubes are never read whole: row by row on demand (vector order) or memory-mapped
(image order).
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


class RawRows:
    """A (height, width, depth) ``.raw`` cube read row by row on demand.

    Unlike a memory map, pages read once do not stay resident, so peak memory is set by the
    rows asked for at a time, whatever the file size. Indexing with a row, a slice of rows or
    ``np.asarray`` (the whole cube) reads from the file.
    """

    def __init__(
        self, path: Path, dtype: np.dtype, shape: tuple[int, int, int], offset: int
    ) -> None:
        self.path, self.dtype, self.shape, self.offset = path, dtype, shape, offset
        self.ndim = 3

    def _read(self, r0: int, r1: int) -> np.ndarray:
        _, w, d = self.shape
        n = max(0, r1 - r0) * w * d
        with open(self.path, "rb") as f:
            f.seek(self.offset + r0 * w * d * self.dtype.itemsize)
            data = np.fromfile(f, dtype=self.dtype, count=n)
        return data.reshape(max(0, r1 - r0), w, d)

    def __getitem__(self, key: object) -> np.ndarray:
        rows = key[0] if isinstance(key, tuple) else key
        rest = key[1:] if isinstance(key, tuple) else ()
        if isinstance(rows, int | np.integer):
            r = int(rows) + (self.shape[0] if rows < 0 else 0)
            block = self._read(r, r + 1)[0]
        elif isinstance(rows, slice):
            r0, r1, step = rows.indices(self.shape[0])
            block = self._read(r0, r1)[::step]
        else:
            raise TypeError("RawRows takes a row index or a slice of rows")
        return block[rest] if rest else block

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        a = self._read(0, self.shape[0])
        return a.astype(dtype) if dtype is not None else a


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
    counts: np.ndarray | RawRows
    if record == "image":
        mm = np.memmap(raw, dtype=dtype, mode="r", offset=offset, shape=(depth, height, width))
        counts = mm.transpose(1, 2, 0)
    elif record in ("vector", "dont-care"):
        counts = RawRows(raw, dtype, (height, width, depth), offset)
    else:
        raise PigmentmapError(f"'{rpl}': unknown record-by '{record}'")
    axis = None
    gain = h.get("ev-per-chan") or h.get("gain-ev")
    if gain is not None:
        zero = float(h.get("zero-offset-ev", h.get("offset-ev", "0")))
        axis = axis_from(zero, float(gain), depth)
    return RawCube(counts, axis, ".raw/.rpl (read in chunks)", None, {"record_by": record})
