"""Finished blocks of a ``map`` run kept on disk, so that a killed run continues where it stopped.

``pigmentmap map SCAN --out RES`` keeps each finished block of rows in the hidden folder
``.RES.partial`` beside ``RES`` (one ``block_NNNNNN.npz`` per block, each written under a
temporary name and renamed when complete, so a kill never leaves half a block). The folder's
``job.json`` records what the blocks depend on: the scan (path, size, modification time, shape,
calibration), the model (its card's weights hash), the instrument, the elements, the binning,
the gate and the blocks themselves. Rerun with the same arguments, ``map`` finds the folder, skips
the finished blocks and computes the rest; the results equal those of an uninterrupted run,
since each block is computed alone (:mod:`pigmentmap.mapping.blocks`). With other arguments or
a changed scan the folder is emptied and the run starts over (said in the log). When the
results folder is complete the partial folder is removed. Nothing here is ever under the final
name: a run that fails leaves only this folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.atomic import atomic_path
from pigmentmap.core.errors import PigmentmapError

JOB = "job.json"
"""The partial folder's description (and the marker that pigmentmap wrote it)."""
FORMAT = 1


def partial_folder(out: str | Path) -> Path:
    """The hidden folder that keeps the finished blocks of a run writing ``out``.

    Examples
    --------
    >>> partial_folder("runs/res").as_posix()
    'runs/.res.partial'
    """
    p = Path(out)
    return p.parent / f".{p.name}.partial"


def source_stamp(path: str | Path) -> dict[str, Any]:
    """What identifies a scan file cheaply (no read): resolved path, size and modification
    time (of every file, for a folder or a ``.raw``/``.rpl`` pair).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.npy"
    >>> _ = p.write_bytes(b"1234")
    >>> source_stamp(p)["bytes"]
    4
    """
    p = Path(path).resolve()
    if p.is_dir():
        files = sorted(q for q in p.iterdir() if q.is_file())
    elif p.suffix.lower() in (".raw", ".rpl"):
        files = [q for q in (p.with_suffix(".raw"), p.with_suffix(".rpl")) if q.exists()]
    else:
        files = [p]
    stats = [q.stat() for q in files]
    return {
        "path": str(p),
        "files": len(files),
        "bytes": sum(s.st_size for s in stats),
        "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
    }


def _normal(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists, numpy scalars plain numbers)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    )


class PartialRun:
    """The finished blocks of one run (see the module notes).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "res"
    >>> run = PartialRun.open(out, {"scan": "a"}, n_blocks=3)
    >>> run.save(1, {"prob": np.ones((2, 2, 1), dtype=np.float32)})
    >>> sorted(run.done())
    [1]
    >>> sorted(PartialRun.open(out, {"scan": "a"}, n_blocks=3).done())  # rerun: kept
    [1]
    >>> sorted(PartialRun.open(out, {"scan": "b"}, n_blocks=3).done())  # other job: anew
    []
    """

    def __init__(self, folder: Path, n_blocks: int, *, resumed: int = 0, restarted: bool = False):
        self.folder = folder
        self.n_blocks = n_blocks
        self.resumed = resumed
        """Blocks found finished when the run started."""
        self.restarted = restarted
        """Whether a partial folder of another job was emptied."""

    @classmethod
    def open(cls, out: str | Path, job: dict[str, Any], *, n_blocks: int) -> PartialRun:
        """The partial folder of ``out`` for ``job``: resumed if it holds the same job, emptied
        if another, created if none. A folder of that name that pigmentmap did not write is
        refused."""
        folder = partial_folder(out)
        description = {"format": FORMAT, "n_blocks": n_blocks, "job": _normal(job)}
        restarted = False
        if folder.exists() or folder.is_symlink():
            try:
                stored = json.loads((folder / JOB).read_text())
            except (OSError, ValueError):
                stored = None
            if not folder.is_dir() or folder.is_symlink() or not isinstance(stored, dict):
                raise PigmentmapError(
                    f"'{folder}' is in the way and was not written by pigmentmap: move it"
                )
            if stored == description:
                for stale in folder.glob(".block_*.tmp"):  # a block being written when killed
                    stale.unlink(missing_ok=True)
                run = cls(folder, n_blocks)
                run.resumed = len(run.done())
                return run
            shutil.rmtree(folder)
            restarted = True
        folder.mkdir()
        with atomic_path(folder / JOB) as tmp:
            tmp.write_text(json.dumps(description, indent=1) + "\n")
        return cls(folder, n_blocks, restarted=restarted)

    def block_path(self, index: int) -> Path:
        return self.folder / f"block_{index:06d}.npz"

    def done(self) -> set[int]:
        """Indices of the finished blocks."""
        found = set()
        for p in self.folder.glob("block_*.npz"):
            try:
                index = int(p.stem.split("_")[1])
            except (IndexError, ValueError):
                continue
            if 0 <= index < self.n_blocks:
                found.add(index)
        return found

    def save(self, index: int, arrays: dict[str, np.ndarray]) -> None:
        """Keep block ``index`` (written whole, then renamed)."""
        with atomic_path(self.block_path(index)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    def load(self, index: int, *, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Block ``index``: its arrays (those of ``keys`` only, if given). A damaged file is
        removed (a rerun computes that block again) and refused in one line."""
        path = self.block_path(index)
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in (z.files if keys is None else keys)}
        except (OSError, ValueError, KeyError, EOFError) as err:
            path.unlink(missing_ok=True)
            raise PigmentmapError(
                f"'{path}' is damaged ({type(err).__name__}); it was removed: rerun the same "
                "command to compute that block again"
            ) from None

    def remove(self) -> None:
        """Remove the folder (the results are complete)."""
        shutil.rmtree(self.folder, ignore_errors=True)
