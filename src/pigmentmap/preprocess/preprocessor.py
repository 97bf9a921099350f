"""The model's input: resample to its energy axis, crop, log-log-sqrt, normalise.

A :class:`Preprocessor` is stored in every model card, so that inference rebuilds exactly the
preprocessing the model was trained with.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError

TRANSFORMS = ("loglogsqrt", "none")
NORMALISATIONS = ("max", "sum", "none")


def check_counts(counts: np.ndarray, *, what: str = "counts") -> None:
    """Refuse NaN, infinite or negative counts, and empty arrays, with one clear line.

    Examples
    --------
    >>> import numpy as np
    >>> check_counts(np.array([1.0, -2.0]))
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: counts has 1 negative value(s)
    """
    if counts.size == 0:
        raise PigmentmapError(f"{what} is empty")
    finite = np.isfinite(counts)
    if not finite.all():
        raise PigmentmapError(f"{what} has {int((~finite).sum())} NaN or infinite value(s)")
    negative = int((counts < 0).sum())
    if negative:
        raise PigmentmapError(f"{what} has {negative} negative value(s)")


def resample(counts: np.ndarray, source: EnergyAxis, target_kev: np.ndarray) -> np.ndarray:
    """Counts per channel on ``source`` -> counts per channel at ``target_kev`` (linear).

    Counts are interpolated as a density (per keV) and multiplied by the target channel width,
    so areas are kept when the gain changes. The target must lie inside the source range; up to
    one source channel beyond either end is tolerated (a recalibrated scan may end a few eV short
    of a model's axis): those channels are padded from the edge channel, with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> src = EnergyAxis(0.0, 0.01, 1000)
    >>> out = resample(np.ones(1000), src, np.arange(1.0, 5.0, 0.02))
    >>> round(float(out.mean()), 9)
    2.0
    """
    e_src = source.energies
    lo, hi = float(e_src[0]), float(e_src[-1])
    tol = float(np.abs(e_src[1] - e_src[0])) + 1e-9
    if target_kev[0] < lo - tol or target_kev[-1] > hi + tol:
        raise PigmentmapError(
            f"the spectra cover {lo:.3f}-{hi:.3f} keV; the model needs "
            f"{target_kev[0]:.3f}-{target_kev[-1]:.3f} keV: cannot resample"
        )
    if target_kev[0] < lo - 1e-9 or target_kev[-1] > hi + 1e-9:
        beyond = 1e3 * max(lo - float(target_kev[0]), float(target_kev[-1]) - hi)
        warnings.warn(
            f"the model's axis reaches {beyond:.0f} eV beyond the spectra ({lo:.3f}-{hi:.3f} "
            "keV): the edge channels are padded from the last measured channel",
            EdgePaddingWarning,
            stacklevel=2,
        )
    width_src = np.gradient(e_src)
    width_tgt = np.gradient(target_kev) if len(target_kev) > 1 else np.array([source.gain_kev])
    flat = counts.reshape(-1, counts.shape[-1]) / width_src
    out = np.empty((flat.shape[0], len(target_kev)), dtype=np.float64)
    for i, row in enumerate(flat):
        out[i] = np.interp(target_kev, e_src, row)
    return (out * width_tgt).reshape(*counts.shape[:-1], len(target_kev))


class EdgePaddingWarning(UserWarning):
    """A model's axis reached up to one channel beyond the spectra: edges were padded."""


@dataclass(frozen=True)
class Preprocessor:
    """Spectra (..., C) on any axis -> model input (..., n_channels) float32.

    Parameters
    ----------
    offset_kev, gain_kev : float
        The model's energy calibration.
    first_channel, n_channels : int
        The crop: channels ``first_channel .. first_channel + n_channels - 1`` of that
        calibration (paper: 281 and 3815 on the ELIO axis, i.e. from 2.81 keV).
    transform : str
        ``loglogsqrt`` (the paper's X' = ln(1 + ln(1 + sqrt(X)))) or ``none``.
    normalise : str
        ``max`` (each spectrum divided by its maximum), ``sum`` or ``none``.

    Examples
    --------
    >>> import numpy as np
    >>> pre = Preprocessor.paper()
    >>> x = pre(np.full((2, 4096), 9.0), EnergyAxis(0.0, 0.01, 4096))
    >>> x.shape, x.dtype, float(x.max())
    ((2, 3815), dtype('float32'), 1.0)
    """

    offset_kev: float
    gain_kev: float
    first_channel: int
    n_channels: int
    transform: str = "loglogsqrt"
    normalise: str = "max"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise PigmentmapError(f"unknown transform '{self.transform}' (use {TRANSFORMS})")
        if self.normalise not in NORMALISATIONS:
            raise PigmentmapError(
                f"unknown normalisation '{self.normalise}' (use {NORMALISATIONS})"
            )
        if self.n_channels < 8 or self.first_channel < 0 or not self.gain_kev > 0:
            raise PigmentmapError(
                "preprocessor needs n_channels >= 8, first_channel >= 0, gain > 0"
            )

    @classmethod
    def paper(cls) -> Preprocessor:
        """The paper's: ELIO axis (4096 x 10 eV), from channel 281 (2.81 keV), 3815 channels."""
        return cls(offset_kev=0.0, gain_kev=0.01, first_channel=281, n_channels=3815)

    @classmethod
    def for_axis(cls, axis: EnergyAxis, *, start_kev: float = 2.80, **kw: Any) -> Preprocessor:
        """Crop ``axis`` from the first channel above ``start_kev`` to its end."""
        first = int(np.searchsorted(axis.energies, start_kev + 1e-9))
        return cls(axis.offset_kev, axis.gain_kev, first, axis.n_channels - first, **kw)

    @property
    def energies_kev(self) -> np.ndarray:
        """Energies of the model's input channels."""
        ch = self.first_channel + np.arange(self.n_channels, dtype=np.float64)
        return self.offset_kev + self.gain_kev * ch

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the model card."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """Inverse of :meth:`to_dict`; refuses unknown keys."""
        try:
            return cls(**data)
        except TypeError as err:
            raise PigmentmapError(f"bad preprocessor in model card: {err}") from None

    def __call__(self, counts: np.ndarray, axis: EnergyAxis) -> np.ndarray:
        """Preprocess counts (..., axis.n_channels)."""
        counts = np.asarray(counts)
        if counts.shape[-1] != axis.n_channels:
            raise PigmentmapError(
                f"spectra have {counts.shape[-1]} channels, their axis {axis.n_channels}"
            )
        check_counts(counts)
        same = (
            abs(axis.offset_kev - self.offset_kev) < 1e-9
            and abs(axis.gain_kev - self.gain_kev) < 1e-12
            and axis.quadratic_kev == 0
            and self.first_channel + self.n_channels <= axis.n_channels
        )
        if same:
            x = counts[..., self.first_channel : self.first_channel + self.n_channels].astype(
                np.float64
            )
        else:
            x = resample(counts, axis, self.energies_kev)
            x = np.clip(x, 0.0, None)
        if self.transform == "loglogsqrt":
            x = np.log1p(np.log1p(np.sqrt(x)))
        if self.normalise != "none":
            scale = (
                x.max(axis=-1, keepdims=True)
                if self.normalise == "max"
                else x.sum(axis=-1, keepdims=True)
            )
            x = np.divide(x, scale, out=np.zeros_like(x), where=scale > 0)
        return x.astype(np.float32)
