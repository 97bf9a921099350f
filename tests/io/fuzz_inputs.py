"""Valid inputs of every format the readers accept, the mutations that corrupt them, and what a
read of any input must return (issue 13).

Shared by the fuzz suite (``tests/io/test_fuzz.py``, part of ``make test``) and the longer fuzz
campaign (``benchmarks/fuzz_campaign.py``, ``make fuzz``): each :class:`Seed` is a small valid
file (or set of files) that ``open_cube`` opens; :func:`mutated_files` corrupts one of its files
(truncation, flipped bits, boundary integers, header values replaced with garbage); whatever the
input, :func:`read` returns a cube or raises :class:`PigmentmapError`, and :func:`violation` says
what is wrong with its outcome, if anything.
"""

from __future__ import annotations

import base64
import gzip
import io
import math
import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.io import describe, open_cube

RNG = np.random.default_rng(13)
CUBE = RNG.poisson(5.0, size=(3, 4, 64)).astype(np.uint16)
SPEC = RNG.poisson(20.0, size=128).astype(float)

# --- valid seed files -----------------------------------------------------------------------


@dataclass
class Seed:
    """Files (name -> bytes) that make one valid input, and what ``open_cube`` is given."""

    files: dict[str, bytes]
    target: str
    text: bool
    kwargs: dict[str, Any] = field(default_factory=dict)
    pack: Callable[[dict[str, bytes]], dict[str, bytes]] | None = None
    """Turns the (mutated) files into what is written: the members of an archive into it."""
    text_names: tuple[str, ...] = ()
    """Files mutated as text even where ``text`` is False (the XML member of a container)."""

    def write(self, folder: Path, files: dict[str, bytes] | None = None) -> Path:
        for old in folder.iterdir():
            old.unlink()
        files = files or self.files
        for name, data in (self.pack(files) if self.pack else files).items():
            (folder / name).write_bytes(data)
        return folder / self.target if self.target != "." else folder


def npy_bytes(a: np.ndarray | np.generic) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def npz_bytes(compressed: bool, **arrays: Any) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def zip_members(members: dict[str, bytes]) -> dict[str, bytes]:
    """``.npy`` members zipped into ``c.npz`` (stored, as ``np.savez`` does)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return {"c.npz": buf.getvalue()}


def _h5(build: Callable[[h5py.File], None]) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def _h5_plain(f: h5py.File) -> None:
    f["entry/data/counts"] = CUBE
    f["entry/data/energy_kev"] = 0.1 + 0.02 * np.arange(64)
    f["entry/data/counts"].attrs["live_time_s"] = 2.5


def _h5_chunked(f: h5py.File) -> None:
    g = f.create_group("entry/xrf")
    g.attrs["NX_class"] = "NXdata"
    g.attrs["signal"] = "spectra"
    ds = g.create_dataset("spectra", data=CUBE.astype(np.float32), chunks=(1, 4, 64))
    ds.attrs["axis"] = '{"offset_kev": 0.1, "gain_kev": 0.02}'
    f.create_dataset("other", data=np.arange(300.0).reshape(3, 100), compression="gzip")
    f.attrs["livetime"] = np.array([1.0, 2.0])


_EDF_TYPES = {"uint16": "UnsignedShort", "uint32": "UnsignedInteger", "float32": "FloatValue"}


def edf_frame(
    data: np.ndarray, header: dict[str, str] | None = None, *, compress: str | None = None
) -> bytes:
    """One EDF frame: an ASCII header padded to 512 bytes, then the data (gzip if asked)."""
    raw = data.astype(data.dtype.newbyteorder("<")).tobytes()
    if compress == "gzip":
        raw = gzip.compress(raw)
    keys = {
        "HeaderID": "EH:000001:000000:000000",
        "Image": "1",
        "ByteOrder": "LowByteFirst",
        "DataType": _EDF_TYPES[str(data.dtype)],
        "Dim_1": str(data.shape[-1]),
        "Dim_2": str(data.shape[0]),
        "Size": str(len(raw)),
    }
    if compress:
        keys["Compression"] = compress
    keys.update(header or {})
    text = "{\n" + "".join(f"{k} = {v} ;\n" for k, v in keys.items())
    return (text + " " * (-(len(text) + 2) % 512) + "}\n").encode("latin-1") + raw


CAL = {"MCA a": "0.1", "MCA b": "0.02"}


def trt_spectrum(channels: str, calib_abs: str = "-9.555E-1", indent: str = "  ") -> str:
    """A Bruker ``TRTSpectrum`` class instance (an ``.spx`` spectrum, a ``.bcf`` sum spectrum)."""
    layers = base64.b64encode(zlib.compress(b"<DetLayers/>")).decode()
    block = f"""<ClassInstance Type="TRTSpectrum" Name="fuzz">
  <TRTHeaderedClass>
    <ClassInstance Type="TRTSpectrumHardwareHeader">
      <RealTime>30000</RealTime>
      <LifeTime>28046</LifeTime>
      <Amplification>4E4</Amplification>
    </ClassInstance>
    <ClassInstance Type="TRTDetectorHeader">
      <Type>XFlash 430</Type>
      <DetLayers>{layers}</DetLayers>
    </ClassInstance>
    <ClassInstance Type="TRTXrfHeader">
      <Voltage>50</Voltage>
      <ExcitationAngle>45</ExcitationAngle>
    </ClassInstance>
  </TRTHeaderedClass>
  <ClassInstance Type="TRTSpectrumHeader">
    <Date>23.3.2021</Date>
    <Time>10:57:41</Time>
    <ChannelCount>{channels.count(",") + 1}</ChannelCount>
    <CalibAbs>{calib_abs}</CalibAbs>
    <CalibLin>1E-2</CalibLin>
  </ClassInstance>
  <Channels>{channels}</Channels>
</ClassInstance>"""
    return "\n".join(indent + line for line in block.splitlines())


SPEC_CHANNELS = ",".join(str(int(v)) for v in SPEC)


def spx_text(channels: str = SPEC_CHANNELS, calib_abs: str = "-9.555E-1") -> str:
    return (
        '<?xml version="1.0" encoding="WINDOWS-1252" standalone="yes"?>\n<TRTSpectrum>\n'
        f"{trt_spectrum(channels, calib_abs)}\n</TRTSpectrum>\n"
    )


# A Bruker .bcf hypermap is an AidAim "single file system" (SFS) container: a header, then
# chunks of ``chunk`` bytes (32 of header, the rest data) from file offset 0x118; chunk 0 holds
# the container's header, chunk 1 its file tree (512 bytes an item); each file has a chunk that
# lists its data chunks. rosettasciio reads ``EDSDatabase/HeaderData`` (XML: the image size, the
# sum spectrum and its calibration) and ``EDSDatabase/SpectrumData0`` (the pixels' pulses).

_SFS_HEADER = 0x118
_FILETIME = 132_600_000_000_000_000  # 2021, in 100 ns ticks from 1601


def _sfs_item(name: str, parent: int, *, is_dir: bool, pointers: int = 0, size: int = 0) -> bytes:
    times = (_FILETIME, _FILETIME, _FILETIME)
    return struct.pack(
        "<iQQQQIi176s?3s256s32s",
        pointers, size, *times, 0, parent, b"", is_dir, b"", name.encode(), b"",
    )  # fmt: skip


def _aacs(data: bytes, block: int) -> bytes:
    """``data`` zlib-compressed as SFS stores it: a 128-byte AACS header, then blocks of
    ``block`` bytes, each compressed behind a 16-byte header."""
    blocks = [zlib.compress(data[i : i + block]) for i in range(0, len(data), block)]
    head = struct.pack("<4sIII", b"AACS", block, 0, len(blocks)).ljust(0x80, b"\0")
    body = b"".join(
        struct.pack("<IIII", len(b), min(block, len(data) - k * block), 0, len(b) + 16) + b
        for k, b in enumerate(blocks)
    )
    return head + body


def sfs_container(members: dict[str, bytes], *, chunk: int = 2048, compress: bool = False) -> bytes:
    """An SFS container holding ``members`` (path -> bytes; folders made from the paths).

    Parameters
    ----------
    members : dict
        Paths (``"EDSDatabase/HeaderData"``) to contents.
    chunk : int
        The container's chunk size in bytes.
    compress : bool
        Store every file zlib-compressed (AACS blocks), as recent Bruker software does.

    Returns
    -------
    bytes
        The container.
    """
    usable = chunk - 32
    folders = sorted({m.rsplit("/", 1)[0] for m in members if "/" in m})
    index = {f: k for k, f in enumerate(folders)}
    items = [_sfs_item(f, -1, is_dir=True) for f in folders]
    chunks: list[bytes] = [b"", b""]  # 0: the container header, 1: the file tree
    for path, data in members.items():
        folder, _, name = path.rpartition("/")
        stored = _aacs(data, 4 * usable) if compress else data
        table = len(chunks)
        first = table + 1
        pieces = [stored[i : i + usable] for i in range(0, len(stored), usable)]
        assert len(pieces) <= usable // 4, "pointer table of one chunk only"
        chunks.append(struct.pack(f"<{len(pieces)}I", *range(first, first + len(pieces))))
        chunks.extend(pieces)
        parent = index[folder] if folder else -1
        items.append(_sfs_item(name, parent, is_dir=False, pointers=table, size=len(stored)))
    tree = b"".join(items)
    assert len(tree) <= usable, "file tree of one chunk only"
    chunks[1] = tree
    out = bytearray(_SFS_HEADER)
    out[:8] = b"AAMVHFSS"
    out += bytes(32) + bytes(usable)  # chunk 0
    for data in chunks[1:]:
        out += bytes(32) + data.ljust(usable, b"\0")
    struct.pack_into("<fI", out, 0x124, 2.6, chunk)
    struct.pack_into("<III", out, 0x140, 1, len(items), len(chunks))
    return bytes(out)


def bcf_header(cube: np.ndarray) -> bytes:
    """``EDSDatabase/HeaderData`` of a hypermap of ``cube`` (H, W, C): XML with the image size, a
    BSE image, the sum spectrum and its calibration."""
    h, w, c = cube.shape
    plane = base64.b64encode((np.arange(h * w) + 1).astype("<u2").tobytes()).decode()
    total = ",".join(str(int(v)) for v in cube.sum(axis=(0, 1)))
    text = f"""<?xml version="1.0" encoding="WINDOWS-1252" standalone="yes"?>
<TRTSpectrumDatabase>
  <ClassInstance Type="TRTSpectrumDatabase" Name="fuzz">
    <Header>
      <Date>23.3.2021</Date>
      <Time>10:57:41</Time>
      <FileVersion>2</FileVersion>
    </Header>
    <ClassInstance Type="TRTSEMData">
      <HV>50</HV>
      <DX>25.5</DX>
      <DY>25.5</DY>
    </ClassInstance>
    <ClassInstance Type="TRTSEMStageData">
      <X>1.5</X>
      <Y>2.5</Y>
    </ClassInstance>
    <ClassInstance Type="TRTDSPConfiguration">
      <LineAverage>1</LineAverage>
      <PixelAverage>1</PixelAverage>
      <PixelTime>1000</PixelTime>
    </ClassInstance>
    <ClassInstance Type="TRTImageData">
      <Width>{w}</Width>
      <Height>{h}</Height>
      <ItemSize>2</ItemSize>
      <PlaneCount>1</PlaneCount>
      <Plane0>
        <Description>BSE</Description>
        <Data>{plane}</Data>
      </Plane0>
    </ClassInstance>
    <LineCounter>{",".join([str(w)] * h)}</LineCounter>
    <ChCount>{c}</ChCount>
    <DetectorCount>1</DetectorCount>
    <SpectrumData0>
{trt_spectrum(total, "-9.555E-1", indent="      ")}
    </SpectrumData0>
  </ClassInstance>
</TRTSpectrumDatabase>
"""
    return text.encode("cp1252")


def bcf_pixels(cube: np.ndarray) -> bytes:
    """``EDSDatabase/SpectrumData0`` of ``cube`` (H, W, C): height and width, then from 0x1A0
    each line's pixels, each a 22-byte header and its pulses (16-bit channel numbers)."""
    h, w, c = cube.shape
    out = bytearray(struct.pack("<ii", h, w).ljust(0x1A0, b"\0"))
    for y in range(h):
        out += struct.pack("<i", w)
        for x in range(w):
            pulses = np.repeat(np.arange(c), cube[y, x]).astype("<u2").tobytes()
            n = len(pulses) // 2
            out += struct.pack("<IHHIHHHI", x, c, c, 0, 0, 0, n, len(pulses)) + pulses
    return bytes(out)


def bcf_members(cube: np.ndarray) -> dict[str, bytes]:
    """The files of a ``.bcf`` hypermap of ``cube`` inside its SFS container."""
    return {
        "EDSDatabase/HeaderData": bcf_header(cube),
        "EDSDatabase/SpectrumData0": bcf_pixels(cube),
    }


def _bcf_pack(members: dict[str, bytes]) -> dict[str, bytes]:
    return {"s.bcf": sfs_container(members)}


def rpl_text(**values: object) -> str:
    keys: dict[str, object] = {"width": 4, "height": 3, "depth": 64, "offset": 0}
    keys |= {"data-length": 2}
    keys |= {"data-type": "unsigned", "byte-order": "little-endian", "record-by": "vector"}
    keys |= {"ev-per-chan": 10, **values}
    return "key value\n" + "".join(f"{k} {v}\n" for k, v in keys.items())


_SPE_VALUES = "\n".join(" ".join(f"{v:.0f}" for v in SPEC[i : i + 8]) for i in range(0, 128, 8))
_ROWS = "\n".join(f"{0.2 + 0.01 * i:.3f}, {v:.0f}" for i, v in enumerate(SPEC))
_BODY = "\n".join(f"{v:.0f}" for v in SPEC)


def spec_mca_text(first: int = 1, calib: str = "0.5 0.01 0", ctime: str = "10 9 10") -> str:
    return (
        f"#F x\n#@CALIB {calib}\n#@CTIME {ctime}\n@A {first} "
        + " ".join(f"{v:.0f}" for v in SPEC[:63])
        + "\n"
    )


def amptek_text(calibration: str = "10 1.0\n110 2.0") -> str:
    return (
        "<<PMCA SPECTRUM>>\nREAL_TIME - 13.0\nLIVE_TIME - 12.5\n<<CALIBRATION>>\n"
        f"LABEL - Channel\n{calibration}\n<<DATA>>\n{_BODY}\n<<END>>\n"
    )


def gsecars_text(rows: str | None = None) -> str:
    data = rows or "\n".join(f"{v:.0f} {v + 1:.0f} {v + 2:.0f}" for v in SPEC)
    return (
        "VERSION:    3.1\nELEMENTS:   3\nCHANNELS:   128\nREAL_TIME:  10.0 10.0 10.0\n"
        "LIVE_TIME:  9.5 9.0 8.5\nCAL_OFFSET: -0.01 -0.01 -0.01\nCAL_SLOPE:  0.0146 0.0146 "
        f"0.0146\nCAL_QUAD:   0 0 0\nDATA: \n{data}\n"
    )


def msa_text(offset: str = "0.2", livetime: str = "3.5") -> str:
    return (
        "#FORMAT : EMSA/MAS Spectral Data File\n#NPOINTS : 128\n#XUNITS : keV\n"
        f"#XPERCHAN : 0.01\n#OFFSET : {offset}\n#LIVETIME : {livetime}\n#REALTIME : 4.0\n"
        f"#SPECTRUM :\n{_ROWS}\n#ENDOFDATA :\n"
    )


def _seeds() -> dict[str, Seed]:
    raw_vector = CUBE.astype("<u2").tobytes()
    raw_image = np.ascontiguousarray(CUBE.transpose(2, 0, 1)).astype(">u2").tobytes()
    bcf = bcf_members(CUBE)
    folder = {f"px_{k}.mca": spec_mca_text(first=k, calib="0 0.01 0").encode() for k in range(6)}
    return {
        "npy": Seed({"c.npy": npy_bytes(CUBE)}, "c.npy", False),
        "npz": Seed(
            {
                "c.npz": npz_bytes(
                    False, counts=CUBE, energy_kev=0.5 + 0.01 * np.arange(64), live_time_s=2.0
                )
            },
            "c.npz",
            False,
        ),
        "npz-members": Seed(
            {
                "counts.npy": npy_bytes(CUBE.astype(np.float32)),
                "energy_kev.npy": npy_bytes(0.5 + 0.01 * np.arange(64)),
                "live_time_s.npy": npy_bytes(np.float64(2.0)),
            },
            "c.npz",
            True,
            pack=zip_members,
        ),
        "npz-compressed": Seed(
            {
                "c.npz": npz_bytes(
                    True, counts=CUBE.astype(float), calibration=np.array([0.0, 0.01])
                )
            },
            "c.npz",
            False,
        ),
        "raw+rpl": Seed({"s.raw": raw_vector, "s.rpl": rpl_text().encode()}, "s.rpl", True),
        "raw+rpl-image": Seed(
            {
                "s.raw": raw_image,
                "s.rpl": rpl_text(**{"record-by": "image", "byte-order": "big-endian"}).encode(),
            },
            "s.raw",
            True,
        ),
        "h5": Seed({"c.h5": _h5(_h5_plain)}, "c.h5", False),
        "h5-chunked": Seed({"c.nxs": _h5(_h5_chunked)}, "c.nxs", False),
        "edf": Seed({"c.edf": b"".join(edf_frame(CUBE[k], CAL) for k in range(3))}, "c.edf", True),
        "edf-gzip": Seed(
            {"c.edf": b"".join(edf_frame(CUBE[k], CAL, compress="gzip") for k in range(3))},
            "c.edf",
            False,
        ),
        "spe": Seed(
            {
                "s.spe": (
                    f"$SPEC_ID:\ntest\n$MEAS_TIM:\n100 120\n$DATA:\n0 127\n{_SPE_VALUES}\n"
                    "$MCA_CAL:\n2\n0.1 0.02\n"
                ).encode()
            },
            "s.spe",
            True,
        ),
        "mca-spec": Seed({"s.mca": spec_mca_text().encode()}, "s.mca", True),
        "mca-amptek": Seed({"a.mca": amptek_text().encode()}, "a.mca", True),
        "mca-gsecars": Seed({"g.mca": gsecars_text().encode()}, "g.mca", True),
        "msa": Seed({"s.msa": msa_text().encode()}, "s.msa", True),
        "csv": Seed(
            {"s.csv": ("energy_kev,counts\n" + _ROWS.replace(", ", ",") + "\n").encode()},
            "s.csv",
            True,
        ),
        "spx": Seed({"s.spx": spx_text().encode("cp1252")}, "s.spx", True),
        "mca-folder": Seed(folder, ".", True, {"shape": (2, 3)}),
        "bcf": Seed({"s.bcf": sfs_container(bcf)}, "s.bcf", False),
        "bcf-zlib": Seed({"s.bcf": sfs_container(bcf, compress=True)}, "s.bcf", False),
        "bcf-members": Seed(
            bcf, "s.bcf", False, pack=_bcf_pack, text_names=("EDSDatabase/HeaderData",)
        ),
    }


SEEDS = _seeds()


# --- mutations ----------------------------------------------------------------------------

GARBAGE = [
    b"nan", b"-nan", b"NaN", b"inf", b"-inf", b"-1", b"0", b"-0", b"1e308", b"-1e308",
    b"1e-320", b"2147483648", b"4294967296", b"9223372036854775808", b"99999999999999999999",
    b"4000000", b"999999999999", b"abc", b"", b" ", b"0,2", b"3 s", b"20 eV", b"1_0", b"0x1F",
    b"\x00", b"\xff\xfe", b"\xc3\xa9", b"[", b"{", b"}", b";", b"=", b"\n", b"\\", b"<", b"1.5",
]  # fmt: skip
_INTS = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1]
_TOKEN = re.compile(rb"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[A-Za-z_]+")


def mutate(data: bytes, rng: random.Random, *, text: bool) -> bytes:
    """1 to 3 random mutations of ``data``: a token (number or word) replaced with garbage, a
    truncation, a bit flipped, bytes overwritten (with random bytes or a boundary integer),
    bytes inserted or deleted."""
    out = bytearray(data)
    ops: tuple[str, ...] = ("token", "token", "token", "truncate", "flip", "bytes", "insert")
    ops += ("delete",)
    if not text:
        ops = ("token", "truncate", "flip", "flip", "bytes", "int", "int", "insert", "delete")
    for _ in range(rng.randint(1, 3)):
        op, n = rng.choice(ops), len(out)
        if op == "token":
            matches = list(_TOKEN.finditer(out))
            if matches:
                m = rng.choice(matches)
                out[m.start() : m.end()] = rng.choice(GARBAGE)
        elif op == "truncate":
            del out[rng.randint(0, n) :]
        elif op == "flip" and n:
            out[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == "bytes" and n:
            i = rng.randrange(n)
            out[i : i + 8] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == "int" and n:
            i, fmt = rng.randrange(n), rng.choice("<I <Q >I <H".split())
            value = rng.choice(_INTS) % (1 << (8 * struct.calcsize(fmt)))
            out[i : i + struct.calcsize(fmt)] = struct.pack(fmt, value)
        elif op == "insert":
            chunk = rng.choice(GARBAGE) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 16))
            i = rng.randint(0, n)
            out[i:i] = chunk
        elif op == "delete" and n:
            i = rng.randrange(n)
            del out[i : i + rng.randint(1, 64)]
    return bytes(out)


def mutated_files(seed: Seed, rng: random.Random) -> dict[str, bytes]:
    """The seed's files with one of them mutated."""
    files = dict(seed.files)
    name = rng.choice(sorted(files))
    text = seed.text or name.endswith(".rpl") or name in seed.text_names
    files[name] = mutate(files[name], rng, text=text)
    return files


# --- what every read must return ------------------------------------------------------------


def read(path: Path, **kwargs: Any) -> tuple[Cube | PigmentmapError, np.ndarray | None]:
    """``open_cube(path, allow_uncalibrated=True, **kwargs)``, described and its counts read.

    Returns
    -------
    tuple
        ``(cube, counts)``, or ``(error, None)`` for the :class:`PigmentmapError` it raised.
        Any other exception propagates.
    """
    try:
        cube = open_cube(path, allow_uncalibrated=True, **kwargs)
        describe(cube)
        return cube, np.asarray(cube.counts)
    except PigmentmapError as err:
        return err, None


def violation(path: Path, result: Cube | PigmentmapError, counts: np.ndarray | None) -> str | None:
    """What is wrong with the outcome of :func:`read`, or None.

    A refusal must be one line naming the file (the ``.raw`` or ``.rpl`` of a pair); a cube must
    be described, hold finite numbers in three dimensions, and have a live time that is None or
    finite and >= 0.
    """
    if isinstance(result, PigmentmapError):
        text = str(result)
        if not text or "\n" in text:
            return f"the error is not one line: {text!r}"
        if path.name not in text and str(path.with_suffix("")) not in text:
            return f"the error does not name the file: {text!r}"
        return None
    if counts is None or counts.dtype.kind not in "iuf" or counts.ndim != 3:
        kind = "no counts" if counts is None else f"{counts.dtype} counts of shape {counts.shape}"
        return f"the cube holds {kind}"
    if not np.isfinite(counts).all():
        return "the cube holds NaN or infinite counts"
    if not describe(result):
        return "describe() returned nothing"
    live = result.meta.get("live_time_s")
    if live is not None and not (math.isfinite(live) and live >= 0):
        return f"live time {live!r}"
    return None
