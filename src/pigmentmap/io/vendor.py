"""Vendor formats through other libraries: Bruker .bcf/.spx (rosettasciio), EDF (fabio).

Before a library reads a file, what its header declares is checked here: an EDF header is
scanned (it is ASCII between ``{`` and ``}``) for absurd dimensions, sizes beyond the file,
data in other files and unsupported compression; a ``.bcf`` hypermap's size is checked against
the memory available."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.quiet import quiet_loggers
from pigmentmap.io._common import (
    MAX_CHANNELS,
    RawCube,
    as_cube,
    as_float,
    axis_from,
    check_alloc,
    check_time,
    inflated_size,
    one_line,
    open_regular,
    regular_size,
    run_isolated,
    size_text,
)
from pigmentmap.io.lazy import LazyRows

MAX_SPX_BYTES = 64 * 2**20
"""The largest ``.spx`` (an XML spectrum, normally well under 1 MB) handed to rosettasciio."""


def _bcf_size(path: Path) -> int:
    """The bytes a ``.bcf`` hypermap declares (height x width x channels x item size), its
    header checked; run in a child with little memory (:func:`read_bruker`)."""
    try:
        from rsciio.bruker._api import BCF_reader
    except ImportError:  # pragma: no cover - a rosettasciio without this class
        return 0
    try:
        with quiet_loggers("rsciio"):
            bcf = BCF_reader(str(path))
            index = bcf.def_index
            h, w = int(bcf.header.image.height), int(bcf.header.image.width)
            n = int(bcf.header.spectra_data[index].data.size)
            itemsize = np.dtype(bcf.header.estimate_map_depth(index=index)).itemsize
    except PigmentmapError:
        raise
    except MemoryError:
        raise PigmentmapError(
            f"'{path}': its container header asks for more memory than the file can hold (corrupt)"
        ) from None
    except Exception as err:  # rosettasciio raises many kinds
        raise PigmentmapError(f"cannot read Bruker file '{path}': {one_line(err)}") from None
    if h < 1 or w < 1 or not 2 <= n <= MAX_CHANNELS:
        raise PigmentmapError(f"'{path}' declares a hypermap of {h} x {w} pixels x {n} channels")
    nbytes = h * w * n * itemsize
    check_alloc(nbytes, f"'{path}' ({h} x {w} pixels x {n} channels)")
    return nbytes


BCF_SECONDS = 4.0
"""The time a ``.bcf`` read may take, plus one second per :data:`BCF_BYTES_PER_SECOND`."""
BCF_BYTES_PER_SECOND = 5 * 2**20
BCF_HEADER_BYTES = 256 * 2**20
"""Memory a ``.bcf`` read may take beyond 4 times the file (and 3 times the declared cube)."""


def read_bruker(path: Path) -> RawCube:
    """Bruker .spx spectra and .bcf hypermaps via rosettasciio (the EDS/XRF signal).

    A ``.bcf`` is decoded by rosettasciio's compiled reader, which can crash or loop on a
    corrupt file, or allocate without bound: it is read in child processes
    (:func:`~pigmentmap.io._common.run_isolated`) given :data:`BCF_SECONDS` plus a second per
    5 MB, and memory capped at a few times the file (its container header) and then a few
    times the declared hypermap (its data). It is read whole: its pixels are one
    compressed stream (rosettasciio's lazy mode holds the whole hypermap in one chunk too), so a
    hypermap that does not fit in memory is refused before it is decoded.
    """
    if path.suffix.lower() == ".bcf":
        size = regular_size(path)
        seconds = BCF_SECONDS + size / BCF_BYTES_PER_SECOND
        where, library = f"'{path}'", "Bruker .bcf reader (rosettasciio)"
        # Two steps, each in a child whose memory is capped: the container's header (its
        # tables are at most a few times the file), then the data (at most a few times what
        # the header declares). A corrupt header that makes the reader allocate without bound
        # stops at the cap, in one line.
        header_bytes = BCF_HEADER_BYTES + 4 * size
        nbytes = run_isolated(_bcf_size, path, seconds=seconds, what=where, library=library,
                              memory_bytes=header_bytes)  # fmt: skip
        return run_isolated(_read_bruker, path, seconds=seconds, what=where, library=library,
                            memory_bytes=header_bytes + 3 * nbytes)  # fmt: skip
    return _read_bruker(path)


def _read_bruker(path: Path) -> RawCube:
    from rsciio.bruker import file_reader

    size = regular_size(path)
    if path.suffix.lower() != ".bcf" and size > MAX_SPX_BYTES:
        raise PigmentmapError(
            f"'{path}' is {size_text(size)}: too large for a Bruker .spx spectrum"
        )
    try:
        with quiet_loggers("rsciio"):
            items = file_reader(str(path))
    except Exception as err:  # rosettasciio raises many kinds
        raise PigmentmapError(f"cannot read Bruker file '{path}': {one_line(err)}") from None
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
    axis = axis_from(
        as_float(energy.get("offset"), f"'{path}': energy offset (CalibAbs)"),
        as_float(energy.get("scale"), f"'{path}': energy gain (CalibLin)"),
        counts.shape[-1],
    )
    live = None
    hw = item.get("original_metadata", {}).get("Hardware", {})
    if "LifeTime" in hw:
        ms = as_float(hw["LifeTime"], f"'{path}': LifeTime")
        live = check_time(ms / 1000.0, "live time (LifeTime)", str(path))
    meta: dict[str, Any] = {}
    if counts.shape[0] * counts.shape[1] > 1 and len(item["axes"]) == 3:
        scale = {"µm": 1e-3, "um": 1e-3, "mm": 1.0, "nm": 1e-6}.get(
            str(item["axes"][1].get("units")), None
        )
        try:
            step = float(item["axes"][1].get("scale")) * scale if scale else None
        except (TypeError, ValueError):
            step = None
        if step is not None and math.isfinite(step) and step > 0:
            meta["pixel_size_mm"] = step
    return RawCube(counts, axis, "Bruker (rosettasciio)", live, meta)


_EDF_END = re.compile(rb"}\r?\n")
_EDF_MAX_HEADER = 2**20
_EDF_MAX_FRAMES = 100_000
_EDF_MAX_RANK = 3
_WHITESPACE = b" \t\n\r\x0b\x0c\x00"


def _edf_header(block: bytes) -> dict[str, str]:
    """``key = value ;`` pairs of an EDF header block, as fabio parses them."""
    out: dict[str, str] = {}
    for line in block.split(b";"):
        if b"=" not in line:
            continue
        key, value = line.split(b"=", 1)
        try:
            out[key.strip(_WHITESPACE).decode("ascii")] = value.strip(_WHITESPACE).decode("ascii")
        except UnicodeDecodeError:
            continue  # fabio drops such a pair too
    return out


def _edf_int(text: str) -> int | None:
    """An integer as fabio reads one (``"12"`` or ``"12.0"``), or None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value == int(value) else None


def _edf_header_at(f: Any, pos: int, k: int, path: Path) -> tuple[dict[str, str], int] | None:
    """The header block starting at ``pos`` and the offset of its data; None where there is
    none (the end of the file, or trailing bytes after a frame, which fabio ignores too)."""
    f.seek(pos)
    head = f.read(512)
    brace = head.find(b"{")
    if brace < 0 or head[:brace].strip(_WHITESPACE):
        if k == 0:
            raise PigmentmapError(f"'{path}' is not an EDF file (no '{{' header)")
        return None
    end = _EDF_END.search(head, brace)
    while end is None and len(head) < _EDF_MAX_HEADER:
        more = f.read(len(head))
        if not more:
            break
        head += more
        end = _EDF_END.search(head, brace)
    if end is None:
        raise PigmentmapError(
            f"'{path}': EDF header {k} has no end ('}}' and a new line) within "
            f"{size_text(_EDF_MAX_HEADER)}"
        )
    return _edf_header(head[brace + 1 : end.start()]), pos + end.end()


def scan_edf(path: Path) -> list[tuple[int, ...]]:
    """Check every header of an EDF file before fabio reads it; the shapes of its frames.

    Refused: a ``Dim_N`` key with N above 3 (fabio would loop up to N), a dimension that is
    not a whole number >= 1, an unknown ``DataType``, no ``ByteOrder``, data declared beyond
    the end of the file, data in another file (``EDF_BinaryFileName``), compression other than
    gzip, zlib or bzip2 (or compressed data that do not inflate to the declared size), frames
    of different shapes, and more data than the memory available.
    """
    from fabio.edfimage import DATA_TYPES

    size = regular_size(path)
    general: dict[str, str] = {}
    shapes: list[tuple[int, ...]] = []
    total, pos, blocks = 0, 0, 0
    with open_regular(path) as f:
        while pos < size:
            found = _edf_header_at(f, pos, blocks, path)
            if found is None:
                break
            header, start = found
            blocks += 1
            where = f"'{path}' (EDF frame {len(shapes)})"
            if "EDF_DataFormatVersion" in header:  # a general block: defaults for the frames
                general = header
                pos = start + max(_edf_int(header.get("EDF_BinarySize", "0")) or 0, 0)
                continue
            merged = dict(header)
            for key, default in general.items():
                if not key.startswith("EDF_") and key.upper() not in ("SIZE", "IMAGE", "HEADERID"):
                    merged.setdefault(key, default)
            caps = {key.upper(): value for key, value in merged.items()}
            if "EDF_BinaryFileName" in header:
                raise PigmentmapError(
                    f"{where} keeps its data in another file ('{header['EDF_BinaryFileName'][:60]}')"
                )
            rank = 0
            for key in caps:
                if key.startswith("DIM_") and key[4:].isdecimal():
                    index = int(key[4:])
                    if index > _EDF_MAX_RANK:
                        raise PigmentmapError(
                            f"{where}: header key '{key[:40]}': at most {_EDF_MAX_RANK} dimensions"
                        )
                    rank = max(rank, index)
            dims = []
            for i in range(1, rank + 1):
                text = caps.get(f"DIM_{i}", "1" if i > 1 else "0")
                dim = _edf_int(text)
                if dim is None or dim < 1:
                    raise PigmentmapError(
                        f"{where}: Dim_{i} '{text[:40]}' is not a whole number >= 1"
                    )
                dims.append(dim)
            if not dims:
                raise PigmentmapError(f"{where}: no Dim_1 in the header")
            shape = tuple(reversed(dims))
            type_name = caps.get("DATATYPE", "UnsignedShort")
            if type_name not in DATA_TYPES:
                raise PigmentmapError(f"{where}: unknown DataType '{type_name[:40]}'")
            if "BYTEORDER" not in caps:
                raise PigmentmapError(f"{where}: no ByteOrder in the header")
            nbytes = math.prod(shape) * np.dtype(DATA_TYPES[type_name]).itemsize
            compression = caps.get("COMPRESSION", "NONE").upper()
            compressed = compression != "NONE" and not compression.startswith("NO")
            blob = _edf_int(caps["SIZE"]) if "SIZE" in caps else None
            if blob is None and "EDF_BinarySize" in header:
                blob = _edf_int(header["EDF_BinarySize"])
            if blob is None:
                if compressed:
                    raise PigmentmapError(f"{where}: compressed data without a Size")
                blob = nbytes
            if blob < 0 or start + blob > size:
                raise PigmentmapError(
                    f"{where} declares {size_text(max(blob, nbytes))} of data ({shape} of "
                    f"{type_name}), the file holds {size_text(size - start)} after its header"
                )
            if not compressed and blob < nbytes:
                raise PigmentmapError(
                    f"{where}: Size {blob} is less than its {shape} of {type_name} ({nbytes} bytes)"
                )
            if compressed:
                kind = (
                    None
                    if "OFFSET" in compression
                    else "gzip"
                    if "GZIP" in compression
                    else "bzip2"
                    if "BZ" in compression
                    else "zlib"
                    if "Z" in compression
                    else None
                )
                if kind is None:
                    raise PigmentmapError(f"{where}: unsupported Compression '{compression[:40]}'")
                check_alloc(nbytes, where)
                f.seek(start)
                got = inflated_size(f.read(blob), kind, nbytes)
                if got != nbytes:
                    said = f"more than {nbytes}" if got > nbytes else f"{got}"
                    raise PigmentmapError(
                        f"{where}: its {kind} data inflate to {said} bytes, its header declares "
                        f"{shape} of {type_name} ({nbytes} bytes)"
                    )
            shapes.append(shape)
            total += nbytes
            if len(shapes) > _EDF_MAX_FRAMES:
                raise PigmentmapError(f"'{path}' has more than {_EDF_MAX_FRAMES} EDF frames")
            pos = start + blob
    if not shapes:
        raise PigmentmapError(f"'{path}' holds no EDF data frame")
    if len(shapes) > 1:
        if len(shapes[0]) > 2:
            raise PigmentmapError(f"'{path}': several EDF frames of {len(shapes[0])} dimensions")
        odd = next((k for k, s in enumerate(shapes) if s != shapes[0]), None)
        if odd is not None:
            raise PigmentmapError(
                f"'{path}': EDF frames of different shapes (frame 0 {shapes[0]}, frame {odd} "
                f"{shapes[odd]})"
            )
    check_alloc(2 * total, f"'{path}' ({len(shapes)} EDF frames of {shapes[0]})")
    return shapes


def read_edf(path: Path) -> RawCube:
    """EDF (ESRF data format): frames of (width, channels) rows, or one 2-D/3-D array.

    The headers are checked first (:func:`scan_edf`); then fabio reads the data: a stack of
    frames (one per row of the scan) frame by frame when used (:class:`EdfRows`), a single frame
    at once.
    """
    from fabio.edfimage import EdfImage

    shapes = scan_edf(path)
    try:
        with quiet_loggers("fabio"), EdfImage() as img:
            img.read(str(path))
            if img.nframes != len(shapes):
                raise ValueError(f"fabio found {img.nframes} frames, the headers {len(shapes)}")
            header = dict(img.header)
            first = np.asarray(img.data)
            frames = [first] if img.nframes == 1 else None
    except Exception as err:  # fabio raises many kinds
        raise PigmentmapError(f"cannot read EDF file '{path}': {one_line(err)}") from None
    counts: Any
    if frames is None:  # one frame per row, read when used
        counts = EdfRows(path, (len(shapes), *first.shape), first.dtype)
    else:
        counts = first.reshape(1, *first.shape) if first.ndim == 2 else first
        counts = as_cube(counts)
    axis = None
    if "MCA a" in header and "MCA b" in header:
        axis = axis_from(
            as_float(header["MCA a"], f"'{path}': MCA a"),
            as_float(header["MCA b"], f"'{path}': MCA b"),
            counts.shape[-1],
        )
    reader = "EDF (fabio, frame by frame)" if frames is None else "EDF (fabio)"
    return RawCube(counts, axis, reader)


class EdfRows(LazyRows):
    """An EDF stack of (width, channels) frames seen as (frames, width, channels), the frames
    of the rows asked for read on demand (fabio reads a frame's data only when asked)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        super().__init__((shape[0], shape[1], shape[2]), np.dtype(dtype), path)

    def _read(self, r0: int, r1: int) -> np.ndarray:
        from fabio.edfimage import EdfImage

        out = np.empty((max(0, r1 - r0), *self.shape[1:]), dtype=self.dtype)
        try:
            with quiet_loggers("fabio"), EdfImage() as img:
                img.read(str(self.path))
                for k in range(r0, r1):
                    out[k - r0] = np.asarray(img.getframe(k).data)
        except Exception as err:  # fabio raises many kinds
            raise PigmentmapError(f"cannot read EDF file '{self.path}': {one_line(err)}") from None
        return out
