"""Binary arrays: ``.npy`` / ``.npz`` and ``.raw`` + ``.rpl`` (Lispix/Bruker ESPRIT export).

``.raw`` cubes are never read whole: row by row on demand (vector order) or memory-mapped
(image order). Sizes declared in headers are checked against the file before anything is
allocated.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import (
    MAX_CHANNELS,
    RawCube,
    as_cube,
    as_float,
    axis_from,
    check_alloc,
    one_line,
    open_regular,
    read_text,
    regular_size,
    size_text,
)
from pigmentmap.io.lazy import LazyRows

_NPY_MAGIC = b"\x93NUMPY"


def _npy_header(fp: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data size in bytes from the header of a ``.npy`` stream (left at the
    start of the data); object and other non-numeric arrays are refused."""
    version = np.lib.format.read_magic(fp)
    if version not in ((1, 0), (2, 0)):
        raise PigmentmapError(f"{where}: unsupported .npy format version {version}")
    try:
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except PigmentmapError:
        raise
    except Exception as err:  # numpy parses the header with tokenize and ast: many kinds
        raise PigmentmapError(f"{where}: bad .npy header ({one_line(err)})") from None
    if dtype.hasobject:
        raise PigmentmapError(f"{where} holds Python objects (an object array), not numbers")
    if dtype.kind not in "biuf" or dtype.subdtype is not None:
        raise PigmentmapError(f"{where} holds {dtype}, not numbers")
    return tuple(int(s) for s in shape), dtype, math.prod(shape) * dtype.itemsize


def read_npy(path: Path) -> RawCube:
    """A ``.npy`` array (C), (N, C) or (H, W, C), memory-mapped.

    The header's shape must fit in the file; object and structured arrays are refused.
    """
    with open_regular(path) as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise PigmentmapError(f"'{path}' is not a .npy file")
        f.seek(0)
        shape, dtype, nbytes = _npy_header(f, f"'{path}'")
        start = f.tell()
        have = regular_size(path) - start
    if nbytes > have:
        raise PigmentmapError(
            f"'{path}' declares an array {shape} of {dtype} ({size_text(nbytes)}), "
            f"its file holds {size_text(max(have, 0))}"
        )
    if 0 in shape or not shape:
        raise PigmentmapError(f"'{path}' holds no spectra (shape {shape})")
    a = np.load(path, mmap_mode="r", allow_pickle=False)
    return RawCube(as_cube(a), None, ".npy")


class _Npz:
    """The ``.npy`` members of an ``.npz``, each checked before it is read."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf, self.path = zf, path
        self.members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
        info = self.members[name]
        where = f"'{self.path}' array '{name}'"
        with self.zf.open(info) as fp:
            shape, dtype, nbytes = _npy_header(fp, where)
            start = fp.tell()
        if start + nbytes > info.file_size:
            raise PigmentmapError(
                f"{where} declares {shape} of {dtype} ({size_text(nbytes)}), the member holds "
                f"{size_text(max(info.file_size - start, 0))}"
            )
        return shape, dtype, nbytes

    def load(self, name: str) -> np.ndarray:
        shape, _, nbytes = self.header(name)
        check_alloc(nbytes, f"'{self.path}' array '{name}' {shape}")
        with self.zf.open(self.members[name]) as fp:
            return np.asarray(np.lib.format.read_array(fp, allow_pickle=False))


def read_npz(path: Path) -> RawCube:
    """A ``.npz`` with ``counts`` (or one array) and optional ``energy_kev`` or ``calibration``
    (offset, gain[, quadratic]) and ``live_time_s``.

    Each array's header is checked against its member's size and the memory available before
    it is read; ``energy_kev`` must have one value per channel.
    """
    with open_regular(path) as fh, zipfile.ZipFile(fh) as zf:
        z = _Npz(zf, path)
        extras = ("energy_kev", "calibration", "live_time_s")
        key = (
            "counts"
            if "counts" in z.members
            else next((n for n in z.members if n not in extras and len(z.header(n)[0]) >= 1), None)
        )
        if key is None:
            raise PigmentmapError(f"'{path}' holds no counts array")
        counts = as_cube(z.load(key))
        n_ch = int(counts.shape[-1])
        if n_ch < 2:
            raise PigmentmapError(f"'{path}': a spectrum needs at least 2 channels, got {n_ch}")
        axis = None
        if "energy_kev" in z.members:
            e = z.load("energy_kev").astype(np.float64)
            if e.shape != (n_ch,):
                raise PigmentmapError(
                    f"'{path}': energy_kev has shape {e.shape}, the counts {n_ch} channels"
                )
            axis = axis_from(float(e[0]), float(e[1] - e[0]), n_ch)
        elif "calibration" in z.members:
            c = z.load("calibration").astype(np.float64).ravel()
            if c.size not in (2, 3):
                raise PigmentmapError(
                    f"'{path}': calibration must be (offset, gain) or (offset, gain, "
                    f"quadratic), got {c.size} values"
                )
            axis = axis_from(float(c[0]), float(c[1]), n_ch, float(c[2]) if c.size > 2 else 0.0)
        live = None
        if "live_time_s" in z.members:
            if z.header("live_time_s")[0] not in ((), (1,)):
                raise PigmentmapError(f"'{path}': live_time_s must be a single number")
            live = as_float(z.load("live_time_s"), f"'{path}': live_time_s")
    return RawCube(counts, axis, ".npz", live, {"array": key})


_RPL_TYPES = {("signed", 1): "i1", ("signed", 2): "i2", ("signed", 4): "i4", ("signed", 8): "i8",
              ("unsigned", 1): "u1", ("unsigned", 2): "u2", ("unsigned", 4): "u4", ("unsigned", 8): "u8",
              ("float", 4): "f4", ("float", 8): "f8"}  # fmt: skip


def parse_rpl(path: Path) -> dict[str, str]:
    """The ``key value`` lines of a .rpl header (keys lower case; at most 1 MiB read)."""
    out: dict[str, str] = {}
    for line in read_text(path, 2**20).splitlines():
        parts = line.replace("\t", " ").split(None, 1)
        if len(parts) == 2 and not parts[0].startswith(";"):
            out[parts[0].strip().lower()] = parts[1].strip()
    return out


class RawRows(LazyRows):
    """A (height, width, depth) ``.raw`` cube read row by row on demand.

    Unlike a memory map, pages read once do not stay resident, so peak memory is set by the
    rows asked for at a time, whatever the file size. Indexing with a row, a slice of rows or
    ``np.asarray`` (the whole cube) reads from the file.
    """

    def __init__(
        self, path: Path, dtype: np.dtype, shape: tuple[int, int, int], offset: int
    ) -> None:
        super().__init__(shape, dtype, path)
        self.offset = offset

    def _read(self, r0: int, r1: int) -> np.ndarray:
        _, w, d = self.shape
        n = max(0, r1 - r0) * w * d
        with open(self.path, "rb") as f:
            f.seek(self.offset + r0 * w * d * self.dtype.itemsize)
            data = np.fromfile(f, dtype=self.dtype, count=n)
        return data.reshape(max(0, r1 - r0), w, d)


def _rpl_int(
    h: dict[str, str], key: str, rpl: Path, *, least: int, default: str | None = None
) -> int:
    text = h.get(key, default)
    if text is None:
        raise PigmentmapError(f"'{rpl}': no '{key}' in the header")
    try:
        value = int(text)
    except ValueError:
        raise PigmentmapError(f"'{rpl}': {key} '{text[:40]}' is not a whole number") from None
    if value < least:
        raise PigmentmapError(f"'{rpl}': {key} {value} must be at least {least}")
    return value


def _rpl_number(h: dict[str, str], key: str, rpl: Path, default: str) -> float:
    try:
        return as_float(h.get(key, default), key)
    except PigmentmapError as err:
        raise PigmentmapError(f"'{rpl}': {err}") from None


def read_raw_rpl(path: Path) -> RawCube:
    """``.raw`` + ``.rpl`` (give either): memory-mapped (height, width, depth).

    Width, height and depth must be at least 1 (depth at most 2**20 channels), the offset at
    least 0, and the ``.raw`` must hold what the header declares.
    """
    rpl, raw = path.with_suffix(".rpl"), path.with_suffix(".raw")
    if not rpl.exists():
        raise PigmentmapError(f"'{path}': no header '{rpl.name}' beside it")
    if not raw.exists():
        raise PigmentmapError(f"'{path}': no data file '{raw.name}' beside it")
    h = parse_rpl(rpl)
    width = _rpl_int(h, "width", rpl, least=1)
    height = _rpl_int(h, "height", rpl, least=1)
    depth = _rpl_int(h, "depth", rpl, least=1)
    if depth > MAX_CHANNELS:
        raise PigmentmapError(f"'{rpl}': depth {depth} is more than {MAX_CHANNELS} channels")
    offset = _rpl_int(h, "offset", rpl, least=0, default="0")
    length = _rpl_int(h, "data-length", rpl, least=1)
    kind = h.get("data-type", "unsigned").lower()
    if (kind, length) not in _RPL_TYPES:
        raise PigmentmapError(
            f"'{rpl}': unsupported data-type {kind[:40]} with data-length {length}"
        )
    order = h.get("byte-order", "little-endian").lower()
    dtype = np.dtype(_RPL_TYPES[(kind, length)]).newbyteorder(
        ">" if order.startswith("big") else "<"
    )
    need = offset + width * height * depth * length
    have = regular_size(raw)
    if have < need:
        raise PigmentmapError(
            f"'{raw.name}' has {have} bytes, its .rpl says {need} ({width} x {height} x {depth} x {length})"
        )
    record = h.get("record-by", "vector").lower()
    counts: Any
    if record == "image":
        mm = np.memmap(raw, dtype=dtype, mode="r", offset=offset, shape=(depth, height, width))
        counts = mm.transpose(1, 2, 0)
    elif record in ("vector", "dont-care"):
        counts = RawRows(raw, dtype, (height, width, depth), offset)
    else:
        raise PigmentmapError(f"'{rpl}': unknown record-by '{record[:40]}'")
    axis = None
    gain_key = "ev-per-chan" if h.get("ev-per-chan") else "gain-ev"
    if h.get(gain_key):
        zero_key = "zero-offset-ev" if "zero-offset-ev" in h else "offset-ev"
        try:
            axis = axis_from(
                _rpl_number(h, zero_key, rpl, "0"), _rpl_number(h, gain_key, rpl, "0"), depth
            )
        except PigmentmapError as err:
            text = str(err)
            raise PigmentmapError(text if str(rpl) in text else f"'{rpl}': {text}") from None
    return RawCube(counts, axis, ".raw/.rpl (read in chunks)", None, {"record_by": record})
