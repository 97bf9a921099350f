"""Write files atomically: to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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


def check_new_file(path: str | Path, *, overwrite: bool) -> Path:
    """:func:`check_output_path`, and refuse an existing file unless ``overwrite`` (the one
    overwrite rule of every command).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("mine")
    >>> check_new_file(p, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: '...x.csv' exists (use --overwrite to replace it)
    """
    p = check_output_path(path)
    if p.exists() and not overwrite:
        raise PigmentmapError(f"'{p}' exists (use --overwrite to replace it)")
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private; colleagues must read results
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


#: The list of files pigmentmap wrote into a folder it made (JSON): ``--overwrite`` replaces a
#: folder only when everything in it is on that list, so no user file is ever deleted.
MANIFEST = ".pigmentmap-files"


def _manifest(folder: Path) -> set[str]:
    try:
        names = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    return {str(n) for n in names} if isinstance(names, list) else set()


def record_written(folder: str | Path, name: str) -> None:
    """Add ``name`` to the list of files pigmentmap wrote into ``folder`` (if it keeps one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> record_written(d, "report.html")  # no list: nothing to do
    >>> (d / MANIFEST).exists()
    False
    """
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        return
    names = _manifest(folder) | {name}
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(sorted(names)) + "\n")


def check_replaceable(target: Path, *, overwrite: bool, marker: str) -> None:
    """Refuse to replace ``target`` unless ``overwrite`` and everything in it is ours.

    "Ours": the folder holds ``marker`` and every entry is on the list of files pigmentmap
    wrote there (:data:`MANIFEST`); an empty folder is fine too.
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise PigmentmapError(f"'{target}' exists and is not a folder")
    if not overwrite:
        raise PigmentmapError(f"'{target}' exists (use --overwrite to replace it)")
    entries = {p.name for p in target.iterdir()}
    if not entries:
        return
    if marker not in entries:
        raise PigmentmapError(
            f"'{target}' holds other files (no {marker}): choose a new or empty folder"
        )
    foreign = sorted(entries - _manifest(target) - {MANIFEST})
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise PigmentmapError(
            f"'{target}' holds files pigmentmap did not write ({shown}): --overwrite never "
            "deletes them; move them away or choose another folder"
        )


#: In a temporary folder while it is being written: the writing process's id.
OWNER = ".pigmentmap-owner"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary folders a killed run left beside ``target`` (``.NAME.XXXX`` holding
    our owner file with the id of a process that is gone); returns what was removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / ".res.abc123").mkdir()
    >>> _ = (d / ".res.abc123" / OWNER).write_text("999999999")  # no such process
    >>> [p.name for p in remove_stale_temporaries(d / "res")]
    ['.res.abc123']
    """
    parent = target.parent if str(target.parent) else Path(".")
    removed = []
    for cand in parent.glob(f".{target.name}.*"):
        owner = cand / OWNER
        if not (cand.is_dir() and owner.is_file()):
            continue  # not one of ours: never touched
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(cand, ignore_errors=True)
            removed.append(cand)
    return removed


@contextlib.contextmanager
def atomic_dir(path: str | Path, *, overwrite: bool, marker: str) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` (files 0644,
    folder 0755), on error it is removed.

    An existing ``path`` is refused unless ``overwrite``; even then, a non-empty folder is only
    replaced when it holds ``marker`` and nothing but the files listed in its :data:`MANIFEST`
    (written here), so that no user file is ever deleted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_dir(target, overwrite=False, marker="card.json") as tmp:
    ...     _ = (tmp / "card.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['.pigmentmap-files', 'card.json']
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise PigmentmapError(f"output folder '{parent}' does not exist")
    check_replaceable(target, overwrite=overwrite, marker=marker)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    owner = tmp / OWNER
    owner.write_text(f"{os.getpid()}\n")
    try:
        yield tmp
        owner.unlink()
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; results are ordinary data
        written = sorted(f.name for f in tmp.iterdir())
        (tmp / MANIFEST).write_text(json.dumps(written) + "\n")
        for f in tmp.iterdir():
            if f.is_file():
                f.chmod(0o644)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
