"""Spectra and cubes: counts on an energy axis, channel axis last."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError


@dataclass(frozen=True)
class Spectrum:
    """One spectrum: ``counts`` (n_channels,) on ``axis``.

    Examples
    --------
    >>> import numpy as np
    >>> s = Spectrum(np.zeros(10), EnergyAxis(0.0, 0.01, 10))
    >>> s.counts.shape
    (10,)
    """

    counts: np.ndarray
    axis: EnergyAxis
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.counts.ndim != 1 or self.counts.shape[0] != self.axis.n_channels:
            raise PigmentmapError(
                f"spectrum has shape {self.counts.shape}, its axis {self.axis.n_channels} channels"
            )


@dataclass(frozen=True)
class Cube:
    """A scan: ``counts`` (height, width, n_channels) on ``axis``; may be memory-mapped.

    Examples
    --------
    >>> import numpy as np
    >>> c = Cube(np.zeros((2, 3, 10)), EnergyAxis(0.0, 0.01, 10))
    >>> c.shape
    (2, 3, 10)
    """

    counts: np.ndarray
    axis: EnergyAxis
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.counts.ndim != 3 or self.counts.shape[2] != self.axis.n_channels:
            raise PigmentmapError(
                f"cube has shape {self.counts.shape}, its axis {self.axis.n_channels} channels"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, n_channels)."""
        h, w, c = self.counts.shape
        return int(h), int(w), int(c)


def row_blocks(
    n_rows: int, row_bytes: float, *, budget_bytes: float, multiple: int = 1
) -> list[tuple[int, int]]:
    """Consecutive blocks of rows ``[(r0, r1), ...]`` of at most ``budget_bytes`` each (at least
    one row per block): how every pass over a cube keeps its memory bounded.

    ``multiple`` (the rows a stored chunk of the file spans) rounds the rows of a block down to
    a multiple of it, so that no chunk is read twice, unless one chunk's rows hold more than 4
    times the budget.

    Examples
    --------
    >>> row_blocks(5, 100.0, budget_bytes=250.0)
    [(0, 2), (2, 4), (4, 5)]
    >>> row_blocks(2, 1e9, budget_bytes=1.0)
    [(0, 1), (1, 2)]
    >>> row_blocks(9, 100.0, budget_bytes=500.0, multiple=4)
    [(0, 4), (4, 8), (8, 9)]
    """
    rows = max(1, int(budget_bytes // max(row_bytes, 1.0)))
    if multiple > 1 and multiple * row_bytes <= 4 * budget_bytes:
        rows = max(multiple, rows // multiple * multiple)
    return [(r0, min(n_rows, r0 + rows)) for r0 in range(0, n_rows, rows)]
