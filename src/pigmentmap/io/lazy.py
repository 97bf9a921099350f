"""Cubes read row block by row block on demand: scans larger than memory.

A reader that can read part of a file returns a :class:`LazyRows` instead of an array: it has
``shape``, ``dtype`` and ``ndim``, and indexing it with a row, a slice of rows (and optionally
more indices after it) reads only those rows. ``np.asarray`` reads the whole cube (after checking
that it fits in memory). Opening a scan (``pigmentmap info``) therefore reads headers only, and
``pigmentmap map`` holds one block of rows at a time (:mod:`pigmentmap.mapping.blocks`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class LazyRows:
    """A (height, width, channels) cube whose rows are read when asked for.

    Subclasses implement :meth:`_read` (rows ``r0:r1`` as an array (r1 - r0, W, C)).

    Examples
    --------
    >>> class Ramp(LazyRows):
    ...     def _read(self, r0, r1):
    ...         return np.arange(r0, r1, dtype=float).reshape(-1, 1, 1) * np.ones((1, 2, 3))
    >>> cube = Ramp((4, 2, 3), np.dtype(float))
    >>> cube[2:4, 0, 1].tolist(), cube[:1, :1].shape, cube[3, 1].shape, np.asarray(cube).shape
    ([2.0, 3.0], (1, 1, 3), (3,), (4, 2, 3))
    """

    def __init__(self, shape: tuple[int, int, int], dtype: np.dtype, path: Any = "scan") -> None:
        self.path = Path(path)
        """The file read (named in errors)."""
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = 3

    @property
    def nbytes(self) -> int:
        """Bytes of the whole cube in memory."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def _read(self, r0: int, r1: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` read and checked: whatever reading raises becomes one
        :class:`PigmentmapError` naming the file, and NaN or infinite counts are refused (they
        are found here, where rows are read, not when the file is opened)."""
        from pigmentmap.core.errors import PigmentmapError
        from pigmentmap.io._common import reading

        path = self.path
        with reading(path):
            block = self._read(r0, r1)
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            raise PigmentmapError(
                f"'{path}': the counts hold NaN or infinite values in rows {r0}-{r1 - 1}"
            )
        return block

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: object) -> np.ndarray:
        rows = key[0] if isinstance(key, tuple) else key
        rest = key[1:] if isinstance(key, tuple) else ()
        if isinstance(rows, int | np.integer):
            r = int(rows) + (self.shape[0] if rows < 0 else 0)
            if not 0 <= r < self.shape[0]:
                raise IndexError(f"row {rows} is outside the {self.shape[0]} rows")
            block = self._rows(r, r + 1)[0]
            return block[rest] if rest else block
        elif isinstance(rows, slice):
            r0, r1, step = rows.indices(self.shape[0])
            if step < 0:
                raise TypeError("rows are read forwards (a step below 0 is not supported)")
            block = self._rows(r0, max(r0, r1))[::step]
        else:
            raise TypeError(f"{type(self).__name__} takes a row index or a slice of rows")
        return block[(slice(None), *rest)] if rest else block

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        from pigmentmap.io._common import check_alloc

        check_alloc(self.nbytes, f"the whole cube {self.shape}")
        a = self._rows(0, self.shape[0])
        return a.astype(dtype) if dtype is not None else a
