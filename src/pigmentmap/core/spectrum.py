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
