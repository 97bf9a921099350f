"""What every reader returns, small parsing helpers, and the checks that keep a corrupt or hostile
file from crashing, hanging or exhausting the machine."""

from __future__ import annotations

import bz2
import errno
import faulthandler
import math
import os
import pickle
import select
import signal
import stat
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError

_T = TypeVar("_T")

MAX_CHANNELS = 2**20
"""The most channels a spectrum may have (a header declaring more is refused)."""
MAX_TEXT_BYTES = 16 * 2**20
"""The largest text spectrum or text header read (real ones are well under 1 MB)."""
CHUNK_BYTES = 16 * 2**20
"""Block size of the checks that scan a memory-mapped or lazily read cube."""

READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    LookupError,  # KeyError, IndexError
    TypeError,
    ValueError,  # UnicodeDecodeError, numpy's AxisError and LinAlgError
    RuntimeError,  # RecursionError, h5py's errors
    ArithmeticError,  # OverflowError, ZeroDivisionError
    struct.error,
    zipfile.BadZipFile,
    zlib.error,
)
"""What reading a corrupt file raises; ``reading`` turns these into :class:`PigmentmapError`."""


@dataclass
class RawCube:
    """A reader's result: counts (H, W, C) (maybe memory-mapped), calibration if the file has one.

    ``meta["warnings"]``, when present, lists what the user should be told (``open_cube`` warns
    with each line); readers themselves never warn.
    """

    counts: Any
    axis: EnergyAxis | None
    reader: str
    live_time_s: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


_SYSTEM_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR,
                  errno.ELOOP, errno.ENAMETOOLONG, errno.EIO, errno.ENXIO, errno.ENODEV}  # fmt: skip


def _system_error(err: BaseException) -> bool:
    """An OSError about the file system (permission denied, no such file), not the content."""
    return isinstance(err, OSError) and bool(err.strerror) and err.errno in _SYSTEM_ERRNOS


def one_line(err: BaseException) -> str:
    """An exception as one short line: its type and message, whitespace collapsed (an
    ``OSError``: its system message alone).

    Examples
    --------
    >>> one_line(ValueError("bad   value"))
    'ValueError: bad value'
    """
    if isinstance(err, OSError) and _system_error(err):
        text = str(err.strerror)
    else:
        text = " ".join(str(err).split())
        kind = type(err).__name__
        text = f"{kind}: {text}" if text else kind
    return text if len(text) <= 300 else text[:297] + "..."


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn what reading ``path`` may raise into one-line :class:`PigmentmapError` naming it.

    A :class:`PigmentmapError` that does not name the file gets the name in front; the errors
    of :data:`READ_ERRORS` become ``cannot read 'path': what``; a :class:`MemoryError` becomes
    one line too. ``KeyboardInterrupt`` and every other exception pass unchanged.

    Examples
    --------
    >>> from pathlib import Path
    >>> with reading(Path("a.h5")):
    ...     raise KeyError("counts")
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: cannot read 'a.h5': corrupt or unsupported file (KeyError: 'counts')
    """
    try:
        yield
    except PigmentmapError as err:
        text = " ".join(str(err).split())
        named = str(path) in text or path.name in text or str(path.with_suffix("")) in text
        if named and text == str(err):
            raise
        raise PigmentmapError(text if named else f"'{path}': {text}") from None
    except MemoryError:
        raise PigmentmapError(f"cannot read '{path}': not enough memory") from None
    except READ_ERRORS as err:
        raise PigmentmapError(f"cannot read '{path}': {_read_error(err)}") from None


def _read_error(err: BaseException) -> str:
    """What a read error says about the file, in one line."""
    what = one_line(err)
    return what if _system_error(err) else f"corrupt or unsupported file ({what})"


def size_text(n: int) -> str:
    """A byte count for messages: exact below 1 MiB, else rounded with the exact count.

    Examples
    --------
    >>> size_text(1530), size_text(3 * 2**30)
    ('1530 bytes', '3.0 GiB (3221225472 bytes)')
    """
    if n < 2**20:
        return f"{n} bytes"
    value, unit = n / 2**20, "MiB"
    for bigger in ("GiB", "TiB", "PiB", "EiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({n} bytes)"


def memory_budget() -> int:
    """The most bytes a reader may allocate: half of the machine's (or container's) memory."""
    total = 0
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0:
            total = min(total, int(text)) if total else int(text)
    return (total or 8 * 2**30) // 2


def check_alloc(nbytes: int, what: str) -> None:
    """Refuse to allocate more than :func:`memory_budget`.

    Parameters
    ----------
    nbytes : int
        The bytes a reader is about to allocate.
    what : str
        What they are for, named in the message (the file, the array).

    Raises
    ------
    PigmentmapError
        If ``nbytes`` is more than the budget.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise PigmentmapError(
            f"{what} would need {size_text(nbytes)} of memory; at most {size_text(budget)} "
            "(half of this machine's memory) may be used"
        )


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading in binary, refused unless it is a regular file.

    Opening does not block on a FIFO, and a device (``/dev/zero``) is refused before a byte is
    read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PigmentmapError(f"'{path}' is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def regular_size(path: Path) -> int:
    """The size of ``path`` in bytes; refused unless it is a regular file (links followed)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise PigmentmapError(f"'{path}' is not a regular file")
    return st.st_size


def read_limited(path: Path, limit: int = MAX_TEXT_BYTES, *, what: str = "text file") -> bytes:
    """The bytes of a small regular file.

    Parameters
    ----------
    path : Path
        The file (links followed).
    limit : int
        The most bytes read; a larger file is refused without being read.
    what : str
        What the file is meant to be, for the message.

    Returns
    -------
    bytes
        The whole file.

    Raises
    ------
    PigmentmapError
        If ``path`` is not a regular file or is larger than ``limit``.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise PigmentmapError(
            f"'{path}' is {size_text(max(size, len(data)))}: too large for a {what} "
            f"(at most {size_text(limit)})"
        )
    return data


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """A text file (UTF-8, undecodable bytes replaced) of at most ``limit`` bytes."""
    return read_limited(path, limit).decode("utf-8", errors="replace")


def inflated_size(blob: bytes, kind: str, limit: int) -> int:
    """How many bytes a compressed stream inflates to, counted without holding them.

    Parameters
    ----------
    blob : bytes
        The compressed data.
    kind : ``"gzip"``, ``"zlib"`` or ``"bzip2"``
        The format (gzip may hold several members, and trailing zero bytes).
    limit : int
        Counting stops once past this: a decompression bomb costs no more.

    Returns
    -------
    int
        The inflated size, or a number above ``limit``.

    Raises
    ------
    PigmentmapError
        For corrupt or truncated data, or garbage after the stream.

    Examples
    --------
    >>> import zlib
    >>> inflated_size(zlib.compress(bytes(1000)), "zlib", 10**6)
    1000
    >>> inflated_size(zlib.compress(bytes(10**6)), "zlib", 5000) > 5000
    True
    """
    try:
        return _inflated_size(blob, kind, limit)
    except (zlib.error, OSError, EOFError, ValueError) as err:
        if isinstance(err, PigmentmapError):
            raise
        raise PigmentmapError(f"corrupt {kind} data ({one_line(err)})") from None


def _inflated_size(blob: bytes, kind: str, limit: int) -> int:
    total, data = 0, blob
    while data:
        d: Any = (
            bz2.BZ2Decompressor()
            if kind == "bzip2"
            else zlib.decompressobj(31 if kind == "gzip" else 15)
        )
        if kind == "bzip2":
            out = d.decompress(data, min(2**20, limit + 1))
            total += len(out)
            while not d.eof and not d.needs_input and total <= limit:
                out = d.decompress(b"", min(2**20, limit - total + 1))
                total += len(out)
        else:
            tail = data
            while total <= limit:
                out = d.decompress(tail, min(2**20, limit - total + 1))
                total += len(out)
                tail = d.unconsumed_tail
                if d.eof or not (tail or out):
                    break
        if total > limit:
            return total
        if not d.eof:
            raise PigmentmapError(f"the {kind} stream is truncated")
        rest = d.unused_data
        if not rest.strip(b"\0"):
            break
        if kind != "gzip" or not rest.startswith(b"\x1f\x8b"):
            raise PigmentmapError(f"{len(rest)} bytes of garbage follow the {kind} stream")
        data = rest
    return total


def as_float(value: object, what: str) -> float:
    """A header or attribute value as a finite float.

    Parameters
    ----------
    value : object
        A number, a one-element array, a string or bytes.
    what : str
        What the value is (the file and key), for the message.

    Returns
    -------
    float
        The value.

    Raises
    ------
    PigmentmapError
        If it is not one number, or is NaN or infinite.

    Examples
    --------
    >>> as_float("2.5", "live time"), as_float(np.array([3]), "gain")
    (2.5, 3.0)
    >>> as_float("abc", "CalibAbs")
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: CalibAbs 'abc' is not a number
    """
    try:
        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in "biufUSO":
            raise TypeError
        item = arr.reshape(()).item()
        if isinstance(item, bytes):
            item = item.decode("latin-1")
        if not isinstance(item, str | int | float):
            raise TypeError
        out = float(item.strip() if isinstance(item, str) else item)
    except (TypeError, ValueError, OverflowError):
        text = " ".join(str(value).split())
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise PigmentmapError(f"{what} '{shown}' is not a number") from None
    if not math.isfinite(out):
        raise PigmentmapError(f"{what} is {out}, not a finite number")
    return out


def as_cube(counts: np.ndarray) -> np.ndarray:
    """A spectrum (C,) becomes a 1 x 1 x C cube; stacks (N, C) become 1 x N x C."""
    a = np.asarray(counts)
    if a.ndim == 1:
        return a.reshape(1, 1, -1)
    if a.ndim == 2:
        return a.reshape(1, *a.shape)
    if a.ndim == 3:
        return a
    raise PigmentmapError(f"expected a spectrum or a cube, got an array of shape {a.shape}")


def axis_from(offset: float, gain: float, n: int, quadratic: float = 0.0) -> EnergyAxis:
    """An axis in keV; a gain above 0.5 is taken as eV per channel.

    Parameters
    ----------
    offset, gain, quadratic : float
        ``E(ch) = offset + gain * ch + quadratic * ch**2``, finite; ``gain`` > 0.
    n : int
        The number of channels, 2 to :data:`MAX_CHANNELS`.

    Returns
    -------
    EnergyAxis
        The axis in keV.

    Raises
    ------
    PigmentmapError
        For a coefficient that is not a finite number, a gain <= 0 or a bad channel count.

    Examples
    --------
    >>> axis_from(-955.5, 10.0, 4096).gain_kev
    0.01
    >>> axis_from(0.0, float("nan"), 4096)
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: energy calibration gain is nan, not a finite number
    """
    offset = as_float(offset, "energy calibration offset")
    gain = as_float(gain, "energy calibration gain")
    quadratic = as_float(quadratic, "energy calibration quadratic term")
    if not gain > 0:
        raise PigmentmapError(f"energy calibration gain must be positive, got {gain:g}")
    if not 2 <= n <= MAX_CHANNELS:
        raise PigmentmapError(f"an energy axis needs 2 to {MAX_CHANNELS} channels, got {n}")
    if gain > 0.5:  # eV
        offset, gain, quadratic = offset / 1000.0, gain / 1000.0, quadratic / 1000.0
    return EnergyAxis(float(offset), float(gain), int(n), float(quadratic))


def check_time(value: float | None, what: str, name: str) -> float | None:
    """A live or real time, refused unless it is None or a finite number >= 0.

    Parameters
    ----------
    value : float or None
        Seconds.
    what : str
        ``"live time"`` or ``"real time"``, for the message.
    name : str
        The file, for the message.

    Returns
    -------
    float or None
        ``value``.
    """
    if value is None:
        return None
    if not math.isfinite(value) or value < 0:
        raise PigmentmapError(f"{what} {value:g} s in '{name}' is not a finite number >= 0")
    return float(value)


def live_or_real(
    live_s: float | None, real_s: float | None, name: str
) -> tuple[float | None, dict[str, Any]]:
    """The live time, or the real time where the live time is 0 or missing (some exporters
    write no live time, or 0).

    Returns ``(live_time_s, meta)``: ``meta`` is empty, or records the substitution as
    ``live_time_from`` and a line in ``warnings`` (which ``open_cube`` warns with). A live time
    of 0 without a real time is unknown (None). A negative or non-finite time is refused.

    Examples
    --------
    >>> live_or_real(0.0, 1.5, "a.mca")
    (1.5, {'live_time_from': 'real time', 'warnings': ['live time 0 in a.mca: using real time 1.5 s']})
    >>> live_or_real(2.0, 2.5, "a.mca")
    (2.0, {})
    """
    live_s = check_time(live_s, "live time", name)
    if live_s is not None and live_s > 0:
        return live_s, {}
    real_s = check_time(real_s, "real time", name)
    if real_s is not None and real_s > 0:
        what = "missing" if live_s is None else f"{live_s:g}"
        return real_s, {
            "live_time_from": "real time",
            "warnings": [f"live time {what} in {name}: using real time {real_s:g} s"],
        }
    return None, {}


def numbers(text: str) -> list[float]:
    """Every number in a string."""
    out = []
    for tok in text.replace(",", " ").split():
        try:
            out.append(float(tok))
        except ValueError:
            continue
    return out


def _first_bad(counts: Any) -> tuple[int, ...] | None:
    """The index of the first NaN or infinite count, scanning in blocks of rows."""
    if counts.dtype.kind != "f":
        return None
    h = int(counts.shape[0])
    row_bytes = max(1, int(np.prod(counts.shape[1:])) * counts.dtype.itemsize)
    step = max(1, CHUNK_BYTES // row_bytes)
    for r0 in range(0, h, step):
        block = np.asarray(counts[r0 : r0 + step])
        bad = ~np.isfinite(block)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), block.shape)
            return (int(first[0]) + r0, *(int(i) for i in first[1:]))
    return None


def check_raw(raw: RawCube, name: str) -> RawCube:
    """Refuse a reader's result that is not a numeric, finite (H, W, C) cube with a sane live time.

    Float cubes held in memory are scanned for NaN and infinities; a memory-mapped or lazily read
    cube is not read whole to be opened: its chunks are checked where they are used.

    Parameters
    ----------
    raw : RawCube
        What a reader returned.
    name : str
        The file, for the messages.

    Returns
    -------
    RawCube
        ``raw`` (its live time as a float).

    Raises
    ------
    PigmentmapError
        For counts that are not int/float numbers, not 3-D, without pixels, with fewer than 2
        or more than :data:`MAX_CHANNELS` channels, or NaN/infinite; an energy axis of another
        length; a live time that is negative or not finite.
    """
    counts = raw.counts
    dtype = getattr(counts, "dtype", None)
    shape = tuple(getattr(counts, "shape", ()))
    if dtype is None or dtype.kind not in "iuf":
        kind = "no array" if dtype is None else f"dtype {dtype}"
        raise PigmentmapError(f"'{name}': the counts must be numbers, found {kind}")
    if len(shape) != 3:
        raise PigmentmapError(f"'{name}': expected a (height, width, channels) cube, got {shape}")
    h, w, c = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise PigmentmapError(f"'{name}' holds no spectra (shape {shape})")
    if not 2 <= c <= MAX_CHANNELS:
        raise PigmentmapError(f"'{name}': a spectrum needs 2 to {MAX_CHANNELS} channels, got {c}")
    # A cube in memory is scanned now; a memory-mapped or lazily read one is not read whole just
    # to open it (``info`` on a 50 GB scan reads headers only): every chunk that is used later is
    # checked there (``check_counts`` in the element fit and the model's preprocessing).
    in_memory = isinstance(counts, np.ndarray) and not isinstance(counts, np.memmap)
    bad = _first_bad(counts) if in_memory else None
    if bad is not None:
        raise PigmentmapError(
            f"'{name}': the counts hold NaN or infinite values (first at pixel {bad[:2]}, "
            f"channel {bad[2]})"
        )
    if raw.axis is not None and raw.axis.n_channels != c:
        raise PigmentmapError(
            f"'{name}': its energy axis has {raw.axis.n_channels} channels, the counts {c}"
        )
    raw.live_time_s = check_time(raw.live_time_s, "live time", name)
    return raw


class IsolatedBug(Exception):
    """An exception that is not a read error, raised in the child of :func:`run_isolated`."""


def _child(fn: Callable[..., Any], args: tuple[Any, ...], fd: int, what: str) -> None:
    """Run ``fn(*args)`` and write the pickled outcome to ``fd`` (in the forked child)."""
    try:
        out: tuple[str, Any] = ("ok", fn(*args))
    except PigmentmapError as err:
        out = ("refused", str(err))
    except MemoryError:
        out = ("refused", f"cannot read {what}: not enough memory")
    except READ_ERRORS as err:
        out = ("refused", f"cannot read {what}: {_read_error(err)}")
    except BaseException as err:  # a bug: reported as one in the parent
        out = ("bug", f"{type(err).__name__}: {err}")
    data = pickle.dumps(out)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _limit_memory(extra_bytes: int) -> None:
    """Cap this process's address space at its present size plus ``extra_bytes`` (a forked
    child: what it inherited stays usable, a runaway allocation gets a MemoryError)."""
    import resource

    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        now = pages * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (now + extra_bytes, now + extra_bytes))
    except (OSError, ValueError, IndexError):  # pragma: no cover - no /proc or no rlimit
        pass


def run_isolated(
    fn: Callable[..., _T],
    *args: Any,
    seconds: float,
    what: str,
    library: str,
    memory_bytes: int | None = None,
) -> _T:
    """``fn(*args)`` run in a forked child that is killed after ``seconds``.

    Parameters
    ----------
    fn : callable
        What to run; it returns something small that pickles.
    *args
        Its arguments.
    seconds : float
        How long the child may run.
    what : str
        The file, quoted, for the messages.
    library : str
        The library that may loop or crash, for the messages.
    memory_bytes : int, optional
        The most the child may allocate beyond what it inherits (a library that allocates
        without bound on a corrupt file then fails with one line instead of eating the machine).

    Returns
    -------
    object
        What ``fn`` returned.

    Raises
    ------
    PigmentmapError
        What ``fn`` raised as such or as a read error; or the child ran out of time or died.
    IsolatedBug
        Any other exception in the child.

    Notes
    -----
    For calls into ``library`` that can loop forever in C code (no signal reaches Python
    there) or crash on a corrupt file. ``fn`` must return something small that pickles. Its
    :class:`PigmentmapError` and read errors are raised here as :class:`PigmentmapError`; a
    child that runs out of time or dies raises :class:`PigmentmapError` naming ``what`` (the
    file, quoted); any other exception in the child is raised as :class:`IsolatedBug`. Where
    ``fork`` is not available (not Linux), ``fn`` runs in this process.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return fn(*args)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs atexit handlers
        try:
            faulthandler.disable()  # a crash is reported by the parent, in one line
            os.close(r)
            if memory_bytes is not None:
                _limit_memory(memory_bytes)
            _child(fn, args, w, what)
        finally:
            os._exit(0)
    os.close(w)
    chunks: list[bytes] = []
    status = 0
    try:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                raise PigmentmapError(
                    f"{what}: given up after {seconds:g} s: the {library} loops on this file "
                    "(corrupt)"
                )
            chunk = os.read(r, 2**16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - already reaped
            pass
        status = os.waitpid(pid, 0)[1]
    if not chunks:
        died = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else "no answer"
        raise PigmentmapError(f"{what}: the {library} crashed on this file ({died}; corrupt)")
    kind, value = pickle.loads(b"".join(chunks))
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "refused":
        raise PigmentmapError(value)
    raise IsolatedBug(value)
