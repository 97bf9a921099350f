"""Write files atomically: to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pigmentmap.core.errors import PigmentmapError


def check_output_path(path: str | Path) -> Path:
    """Refuse an output path whose folder does not exist (before any work is done).

    Examples
    --------
    >>> check_output_path("/no/such/folder/out.csv")
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: output folder '/no/such/folder' does not exist
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise PigmentmapError(f"output folder '{parent}' does not exist")
    if p.is_dir():
        raise PigmentmapError(f"output path '{p}' is a folder")
    return p


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``path``, on error it is removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    target = check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
