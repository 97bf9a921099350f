"""``--recalibrate``: refine offset and gain from strong known peaks present in the scan.

The cube's summed spectrum (read chunk by chunk) has its SNIP background removed; peaks are
found; each known line (Ca K-alpha, Fe K-alpha, Pb L-alpha and L-beta, Hg L-alpha, ...) within
``tolerance_kev`` of a strong peak pairs with its Gaussian-weighted centroid; a straight line
through the pairs (or an offset shift when only one pairs) is the new calibration.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from scipy.signal import find_peaks

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.spectrum import Cube
from pigmentmap.physics.lines import catalogue_for, line_table
from pigmentmap.physics.xraydata import fluorescence_cross_sections
from pigmentmap.preprocess.snip import snip_background

#: Strong peaks of painting XRF: (element, main line), looked up in xraylib.
KNOWN_PEAKS = {
    "Ar Ka": ("Ar", "KL3"), "K Ka": ("K", "KL3"), "Ca Ka": ("Ca", "KL3"), "Ti Ka": ("Ti", "KL3"),
    "Cr Ka": ("Cr", "KL3"), "Mn Ka": ("Mn", "KL3"), "Fe Ka": ("Fe", "KL3"), "Co Ka": ("Co", "KL3"),
    "Cu Ka": ("Cu", "KL3"), "Zn Ka": ("Zn", "KL3"), "Hg La": ("Hg", "L3M5"), "Pb La": ("Pb", "L3M5"),
    "Hg Lb": ("Hg", "L2M4"), "Pb Lb": ("Pb", "L2M4"), "Sr Ka": ("Sr", "KL3"), "Sn Ka": ("Sn", "KL3"),
}  # fmt: skip
_TYPICAL_FWHM_MN_KEV = 0.145


@cache
def peak_energy(element: str, line: str) -> float:
    """Where a detector sees the peak of ``line``: the apex of the element's nearby lines blended
    at a typical SDD resolution (e.g. Fe K-alpha1 + K-alpha2 sits a few eV below K-alpha1).

    Examples
    --------
    >>> round(peak_energy("Fe", "KL3"), 4)
    6.3995
    """
    lines = catalogue_for(element)
    main = next(ln for ln in lines if ln.transition == line)
    table = line_table([element])
    weights = fluorescence_cross_sections(table.z, table.codes, np.array([25.0]))[:, 0]
    e = np.array([ln.energy_kev for ln in lines])
    sigma = (
        np.sqrt(
            _TYPICAL_FWHM_MN_KEV**2 + 8 * np.log(2) * 3.85e-3 * 0.114 * (main.energy_kev - 5.895)
        )
        / 2.3548
    )
    grid = main.energy_kev + np.linspace(-0.3, 0.3, 6001)
    blend = (weights[None, :] * np.exp(-0.5 * ((grid[:, None] - e[None, :]) / sigma) ** 2)).sum(
        axis=1
    )
    near = np.abs(grid - main.energy_kev) <= sigma
    return float(grid[near][np.argmax(blend[near])])


class CalibrationWarning(UserWarning):
    """The scan's calibration could not be checked or refined."""


@dataclass(frozen=True)
class Recalibration:
    """What ``recalibrate`` found: matched lines and the shift at a few energies."""

    axis: EnergyAxis
    matched: dict[str, float]
    shift_ev_at: dict[float, float]


def sum_spectrum(counts: object, *, rows_per_chunk: int = 64) -> np.ndarray:
    """Sum over all pixels, reading rows in chunks."""
    arr = counts  # may be a memmap
    h = arr.shape[0]  # type: ignore[attr-defined]
    total = np.zeros(arr.shape[-1])  # type: ignore[attr-defined]
    for r0 in range(0, h, rows_per_chunk):
        block = np.asarray(arr[r0 : r0 + rows_per_chunk], dtype=np.float64)  # type: ignore[index]
        total += block.reshape(-1, block.shape[-1]).sum(axis=0)
    return total


def _match(
    net: np.ndarray,
    peaks: np.ndarray,
    e: np.ndarray,
    width: int,
    tolerance_kev: float,
    min_counts: float,
) -> tuple[list[tuple[float, float]], dict[str, float]]:
    """(channel centroid, line energy) pairs of known lines found near a strong peak."""
    pairs: list[tuple[float, float]] = []
    matched: dict[str, float] = {}
    for name, (element, line) in KNOWN_PEAKS.items():
        energy = peak_energy(element, line)
        near = peaks[np.abs(e[peaks] - energy) <= tolerance_kev]
        if len(near) == 0:
            continue
        p = near[np.argmax(net[near])]
        lo, hi = max(0, p - 2 * width), min(len(net), p + 2 * width + 1)
        w = np.clip(net[lo:hi], 0, None)
        if w.sum() < min_counts or not 0 < p < len(net) - 1:
            continue
        y0, y1, y2 = net[p - 1 : p + 2]
        if min(y0, y1, y2) > 0:  # a Gaussian's log is a parabola: vertex from three channels
            l0, l1, l2 = np.log([y0, y1, y2])
            centroid = p + 0.5 * (l0 - l2) / (l0 - 2 * l1 + l2)
        else:
            centroid = float((np.arange(lo, hi) * w).sum() / w.sum())
        if any(abs(centroid - c) < width for c, _ in pairs):
            continue  # one peak, two candidate lines (e.g. As Ka / Pb La): keep the first
        pairs.append((float(centroid), energy))
        matched[name] = energy
    return pairs, matched


def recalibrate(
    cube: Cube, *, tolerance_kev: float = 0.12, min_counts: float = 200.0
) -> Recalibration:
    """Refine the cube's linear calibration from known peaks; warns when none is found.

    Examples
    --------
    >>> import numpy as np
    >>> e = 0.01 * np.arange(2048)
    >>> fe, pb = peak_energy("Fe", "KL3"), peak_energy("Pb", "L3M5")
    >>> s = 5 + 1e4 * np.exp(-0.5 * ((e - fe) / 0.06) ** 2) + 1e4 * np.exp(-0.5 * ((e - pb) / 0.07) ** 2)
    >>> wrong = Cube(s.reshape(1, 1, -1), EnergyAxis(0.05, 0.01, 2048))
    >>> r = recalibrate(wrong)
    >>> sorted(r.matched), round(r.axis.offset_kev, 3) + 0.0
    (['Fe Ka', 'Pb La'], 0.0)
    """
    axis = cube.axis
    total = sum_spectrum(cube.counts)
    half = max(3, round(0.3 / axis.gain_kev))
    net = total - snip_background(total, half_window=half)
    width = max(1, round(0.04 / axis.gain_kev))
    peaks, _ = find_peaks(net, height=max(min_counts / width, 1e-9), distance=width, width=1)
    current, matched = axis, dict[str, float]()
    for _ in range(4):  # match, refit, match again with the refined axis until nothing new pairs
        pairs, found = _match(net, peaks, current.energies, width, tolerance_kev, min_counts)
        if not pairs or (matched and set(found) <= set(matched)):
            break
        matched = found
        ch = np.array([c for c, _ in pairs])
        en = np.array([x for _, x in pairs])
        if len(pairs) >= 2 and np.ptp(en) > 1.0:
            gain, offset = np.polyfit(ch, en, 1)
        else:
            gain = current.gain_kev
            offset = float(np.mean(en - gain * ch))
        current = replace(axis, offset_kev=float(offset), gain_kev=float(gain), quadratic_kev=0.0)
    if not matched:
        warnings.warn(
            "recalibration: no known peak (Ca, Fe, Cu, Zn, Pb, Hg, ...) near where the calibration puts it; "
            "calibration left unchanged",
            CalibrationWarning,
            stacklevel=2,
        )
        return Recalibration(axis, {}, {})
    new = current
    shifts = {
        x: float(
            (
                new.offset_kev
                + new.gain_kev * axis.channel_of(x)
                - (axis.offset_kev + axis.gain_kev * axis.channel_of(x))
            )
            * 1000
        )
        for x in (3.0, 10.0, 20.0)
    }
    return Recalibration(new, matched, shifts)
