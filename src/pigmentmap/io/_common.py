"""What every reader returns, and small parsing helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError


@dataclass
class RawCube:
    """A reader's result: counts (H, W, C) (maybe memory-mapped), calibration if the file has one."""

    counts: Any
    axis: EnergyAxis | None
    reader: str
    live_time_s: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


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
    """An axis in keV; a gain above 0.5 is taken as eV per channel."""
    if gain > 0.5:  # eV
        offset, gain, quadratic = offset / 1000.0, gain / 1000.0, quadratic / 1000.0
    return EnergyAxis(float(offset), float(gain), int(n), float(quadratic))


def numbers(text: str) -> list[float]:
    """Every number in a string."""
    out = []
    for tok in text.replace(",", " ").split():
        try:
            out.append(float(tok))
        except ValueError:
            continue
    return out
