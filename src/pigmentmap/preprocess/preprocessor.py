"""The model's input: resample to its energy axis, crop, log-log-sqrt, normalise.

A :class:`Preprocessor` is stored in every model card, so that inference rebuilds exactly the
preprocessing the model was trained with.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError

TRANSFORMS = ("loglogsqrt", "none")
NORMALISATIONS = ("max", "sum", "none")
RESAMPLINGS = ("interp", "rebin")

#: The canonical input of instrument-independent models: 2000 bins of 20 eV from 1 to 41 keV.
CANONICAL_START_KEV = 1.0
CANONICAL_BIN_KEV = 0.02
CANONICAL_N_BINS = 2000
#: The energy range a scan must cover for an instrument-independent model.
CANONICAL_REQUIRED_KEV = (2.0, 20.0)


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


def channel_edges(axis: EnergyAxis) -> np.ndarray:
    """Channel boundaries (n_channels + 1 values, keV): midpoints between channel centres.

    Examples
    --------
    >>> channel_edges(EnergyAxis(0.0, 0.01, 3)).round(3).tolist()
    [-0.005, 0.005, 0.015, 0.025]
    """
    e = axis.energies
    mid = 0.5 * (e[1:] + e[:-1])
    return np.concatenate([[e[0] - (mid[0] - e[0])], mid, [e[-1] + (e[-1] - mid[-1])]])


def rebin(
    counts: np.ndarray, source_edges: np.ndarray, target_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts in source bins -> counts in target bins, area-preserving; and which bins are covered.

    The cumulative counts are interpolated linearly at the target edges (counts spread evenly
    within each source bin), so every count lands in exactly one place whatever the two gains:
    no interpolation ripple, no stripes when a coarse scan is read on a finer axis. A target bin
    not wholly inside the source range is not covered: its counts are 0 and ``covered`` is False.

    Parameters
    ----------
    counts : array (..., C)
    source_edges : array (C + 1,)
        Increasing bin edges of the counts (keV).
    target_edges : array (M + 1,)
        Increasing bin edges wanted (keV).

    Returns
    -------
    out : array (..., M) float64
    covered : array (M,) bool

    Examples
    --------
    >>> import numpy as np
    >>> out, cov = rebin(np.ones(10), np.arange(11.0), np.array([-1.0, 0.0, 2.5, 5.0, 11.0]))
    >>> out.tolist(), cov.tolist()
    ([0.0, 2.5, 2.5, 0.0], [False, True, True, False])
    """
    counts = np.asarray(counts, dtype=np.float64)
    cum = np.concatenate([np.zeros((*counts.shape[:-1], 1)), np.cumsum(counts, axis=-1)], axis=-1)
    idx, frac, covered = _edge_positions(source_edges, target_edges)
    at = cum[..., idx] * (1.0 - frac) + cum[..., idx + 1] * frac
    out = np.diff(at, axis=-1)
    out[..., ~covered] = 0.0
    return out, covered


def _edge_positions(
    source_edges: np.ndarray, target_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each target edge falls: its source bin, the fraction into that bin, and which
    target bins lie wholly inside the source range."""
    t = np.clip(target_edges, source_edges[0], source_edges[-1])
    idx = np.clip(np.searchsorted(source_edges, t, side="right") - 1, 0, len(source_edges) - 2)
    width = source_edges[idx + 1] - source_edges[idx]
    frac = np.clip((t - source_edges[idx]) / width, 0.0, 1.0)
    tol = 1e-9
    covered = (target_edges[:-1] >= source_edges[0] - tol) & (
        target_edges[1:] <= source_edges[-1] + tol
    )
    return idx, frac, covered


def rebin_matrix(source_edges: np.ndarray, target_edges: np.ndarray) -> tuple[Any, np.ndarray]:
    """The linear map of :func:`rebin` as a sparse (C, M) matrix: ``counts @ R``.

    Each source bin feeds the two or three target bins it overlaps, so applying it costs a few
    operations per channel; build it once per scan and apply it to every pixel.

    Examples
    --------
    >>> import numpy as np
    >>> src, tgt = np.arange(11.0), np.array([-1.0, 0.0, 2.5, 5.0, 11.0])
    >>> r, covered = rebin_matrix(src, tgt)
    >>> np.allclose(np.ones(10) @ r, rebin(np.ones(10), src, tgt)[0])
    True
    """
    from scipy import sparse

    n_src = len(source_edges) - 1
    idx, frac, covered = _edge_positions(source_edges, target_edges)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for k in np.flatnonzero(covered):
        lo, hi = int(idx[k]), int(idx[k + 1])
        whole = np.arange(lo, hi)
        rows += [whole, np.array([hi, lo])]
        cols += [np.full(len(whole) + 2, k)]
        vals += [np.ones(len(whole)), np.array([frac[k + 1], -frac[k]])]
    m = sparse.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, int),
                np.concatenate(cols) if cols else np.zeros(0, int),
            ),
        ),
        shape=(n_src, len(target_edges) - 1),
    )
    m.sum_duplicates()
    return m, covered


@lru_cache(maxsize=8)
def _cached_rebin_matrix(axis: EnergyAxis, pre: Preprocessor) -> tuple[Any, np.ndarray]:
    """float32 :func:`rebin_matrix` from ``axis`` to ``pre``'s bins, built once per pair (a scan
    is mapped chunk by chunk on one axis)."""
    matrix, covered = rebin_matrix(channel_edges(axis), pre.edges_kev)
    return matrix.astype(np.float32), covered


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
    resampling: str = "interp"
    masked: bool = False
    required_kev: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.resampling not in RESAMPLINGS:
            raise PigmentmapError(f"unknown resampling '{self.resampling}' (use {RESAMPLINGS})")
        if self.required_kev is not None:
            lo, hi = (float(v) for v in self.required_kev)
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise PigmentmapError(f"bad required energy range {self.required_kev}")
            object.__setattr__(self, "required_kev", (lo, hi))
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
    def canonical(cls) -> Preprocessor:
        """The instrument-independent input: 1-41 keV in 2000 bins of 20 eV, rebinned, masked.

        Any scan covering at least 2-20 keV is accepted whatever its gain, channel count or
        offset; bins the scan does not cover are 0 and flagged in the mask (the second input
        channel), never extrapolated.

        Examples
        --------
        >>> import numpy as np
        >>> pre = Preprocessor.canonical()
        >>> x = pre(np.ones((3, 1024)), EnergyAxis(0.0, 0.0293, 1024))
        >>> x.shape, float(x[0, 1].sum())
        ((3, 2, 2000), 1449.0)
        """
        return cls(
            offset_kev=CANONICAL_START_KEV + CANONICAL_BIN_KEV / 2,
            gain_kev=CANONICAL_BIN_KEV,
            first_channel=0,
            n_channels=CANONICAL_N_BINS,
            resampling="rebin",
            masked=True,
            required_kev=CANONICAL_REQUIRED_KEV,
        )

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

    @property
    def edges_kev(self) -> np.ndarray:
        """Bin edges of the model's input channels (n_channels + 1 values)."""
        ch = self.first_channel + np.arange(self.n_channels + 1, dtype=np.float64) - 0.5
        return self.offset_kev + self.gain_kev * ch

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one preprocessed spectrum: (n_channels,) or (2, n_channels) when masked."""
        return (2, self.n_channels) if self.masked else (self.n_channels,)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the model card."""
        out = asdict(self)
        if self.required_kev is not None:
            out["required_kev"] = list(self.required_kev)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """Inverse of :meth:`to_dict`; refuses unknown keys."""
        data = dict(data)
        if isinstance(data.get("required_kev"), list):
            data["required_kev"] = tuple(data["required_kev"])
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
        if self.resampling == "rebin":
            return self._rebinned(counts, axis)
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
        return self.finish(x)

    def check_range(self, axis: EnergyAxis) -> None:
        """Refuse an axis that does not cover ``required_kev``, in one line."""
        if self.required_kev is None:
            return
        edges = channel_edges(axis)
        lo, hi = float(edges[0]), float(edges[-1])
        need_lo, need_hi = self.required_kev
        if lo > need_lo + 1e-9 or hi < need_hi - 1e-9:
            raise PigmentmapError(
                f"the spectra cover {max(lo, 0.0):.2f}-{hi:.2f} keV; this model needs at least "
                f"{need_lo:.2f}-{need_hi:.2f} keV"
            )

    def _rebinned(self, counts: np.ndarray, axis: EnergyAxis) -> np.ndarray:
        self.check_range(axis)
        edges = channel_edges(axis)
        if not np.all(np.diff(edges) > 0):
            raise PigmentmapError("the energy axis is not increasing over the spectra's channels")
        if counts.ndim == 1 or counts.reshape(-1, counts.shape[-1]).shape[0] < 32:
            x, covered = rebin(counts, edges, self.edges_kev)
        else:  # many spectra on one axis: the rebin as one sparse product
            matrix, covered = _cached_rebin_matrix(axis, self)
            flat = counts.reshape(-1, counts.shape[-1]).astype(np.float32, copy=False)
            x = np.asarray(flat @ matrix).reshape(*counts.shape[:-1], -1)
        return self.finish(x, covered)

    def finish(self, x: np.ndarray, covered: np.ndarray | None = None) -> np.ndarray:
        """Counts already on the model's bins -> transformed, normalised model input.

        ``covered`` (bool per bin, or per spectrum and bin) marks the bins the scan reaches;
        with ``masked`` it becomes the second input channel and the maximum is taken over
        covered bins only.
        """
        x = np.array(x, dtype=np.float32)  # a copy: the steps below work in place
        np.clip(x, 0.0, None, out=x)
        if covered is not None and not np.all(covered):
            x *= covered
        if self.transform == "loglogsqrt":
            np.sqrt(x, out=x)
            np.log1p(x, out=x)
            np.log1p(x, out=x)
        if self.normalise != "none":
            scale = (
                x.max(axis=-1, keepdims=True)
                if self.normalise == "max"
                else x.sum(axis=-1, keepdims=True)
            )
            np.divide(x, scale, out=x, where=scale > 0)
            x[np.broadcast_to(scale <= 0, x.shape)] = 0.0
        if not self.masked:
            return x
        out = np.empty((*x.shape[:-1], 2, x.shape[-1]), dtype=np.float32)
        out[..., 0, :] = x
        out[..., 1, :] = 1.0 if covered is None else covered
        return out
