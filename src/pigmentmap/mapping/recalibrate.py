"""``--recalibrate``: refine a scan's calibration with the instrument-fit engine.

The cube's summed spectrum is calibrated by
:func:`pigmentmap.instruments.calibration.calibrate` (robust peak matching over all element and
tube lines, consistency checked by a full-spectrum fit, offset and gain refined by least
squares) within 0.4 keV and 5 % of the file's calibration; every explained peak's residual is
kept so that it can be printed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.instruments.calibration import Calibration, calibrate
from pigmentmap.instruments.fit import sum_spectrum

__all__ = ["CalibrationWarning", "Recalibration", "recalibrate", "sum_spectrum"]


class CalibrationWarning(UserWarning):
    """The scan's calibration could not be checked or refined."""


@dataclass(frozen=True)
class Recalibration:
    """What :func:`recalibrate` found: the new axis, the fit (None when nothing was found) and
    the shift at a few energies (eV)."""

    axis: EnergyAxis
    calibration: Calibration | None
    shift_ev_at: dict[float, float]

    @property
    def matched(self) -> tuple[str, ...]:
        """Labels of the explained peaks (``"Fe K 6.404"``)."""
        return tuple(p.label for p in self.calibration.peaks) if self.calibration else ()


def recalibrate(cube: Cube, *, quadratic: bool = False) -> Recalibration:
    """Refine the cube's calibration from its own peaks; warns and keeps it when none fits.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments.calibration import line_families, templates
    >>> fams = tuple(f for f in line_families() if f.name in ("Ca K", "Fe K", "Pb L"))
    >>> true = EnergyAxis(0.0, 0.01, 2048)
    >>> s = 20 + np.array([2e5, 5e5, 4e5]) @ templates(fams, true.energies, np.full(2048, 0.01), noise_kev=0.1, fano=0.114)
    >>> r = recalibrate(Cube(s.reshape(1, 1, -1), EnergyAxis(0.07, 0.01, 2048)))
    >>> round(r.shift_ev_at[10.0])
    -70
    """
    axis = cube.axis
    total = sum_spectrum(cube.counts)
    try:
        cal = calibrate(total, axis_hint=axis, quadratic=quadratic)
    except PigmentmapError as err:
        warnings.warn(
            f"recalibration: {err}; calibration left unchanged", CalibrationWarning, stacklevel=2
        )
        return Recalibration(axis, None, {})
    new = cal.axis
    shifts = {
        x: float((new.energies[axis.channel_of(x)] - axis.energies[axis.channel_of(x)]) * 1000)
        for x in (3.0, 10.0, 20.0)
        if 0 <= axis.channel_of(x) < axis.n_channels
    }
    return Recalibration(new, cal, shifts)
