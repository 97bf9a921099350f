"""What every reader returns, and small parsing helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError


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


def live_or_real(
    live_s: float | None, real_s: float | None, name: str
) -> tuple[float | None, dict[str, Any]]:
    """The live time, or the real time where the live time is 0 or missing (some exporters
    write no live time, or 0).

    Returns ``(live_time_s, meta)``: ``meta`` is empty, or records the substitution as
    ``live_time_from`` and a line in ``warnings`` (which ``open_cube`` warns with). A live time
    of 0 without a real time is unknown (None).

    Examples
    --------
    >>> live_or_real(0.0, 1.5, "a.mca")
    (1.5, {'live_time_from': 'real time', 'warnings': ['live time 0 in a.mca: using real time 1.5 s']})
    >>> live_or_real(2.0, 2.5, "a.mca")
    (2.0, {})
    """
    if live_s is not None and live_s > 0:
        return live_s, {}
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
