"""Training-time instrument randomisation for the ``universal`` design (numpy only).

The stored spectra are noise-free expected counts on one fine axis
(:data:`pigmentmap.datasets.universal.SIM_AXIS`). Every time a spectrum is drawn for training it
becomes a new measurement by a new instrument:

1. a smooth extra background (half the spectra): a falling exponential, a broad hump or a flat
   level holding 0-15 % of the counts (sample holders, scatter from the air, detector noise);
2. a count level drawn log-uniformly over three decades (1e3-1e6 counts per spectrum);
3. the scan's own channels: a gain of 10-40 eV per channel, an offset of -0.2 to +0.1 keV and an
   upper end of 20-41 keV (counts rebinned, area-preserving);
4. Poisson noise;
5. a calibration error: what the file says is the true calibration with up to +-80 eV offset
   and +-0.7 % gain error; the spectrum is read through the model's preprocessor with that
   wrong axis, exactly as a user's mis-calibrated scan would be.

Labels: a present class whose significance at the drawn counts and upper end is below
:data:`~pigmentmap.datasets.universal.DETECTABLE_SIGMA` gets weight 0 (masked out of the loss).
With ``label_z`` (the layer labels), a label whose own significance is below it is 0 instead: a
pigment in both layers whose lower part the top layer hides is labelled "top".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.universal import DETECTABILITY_UPPER_KEV, DETECTABLE_SIGMA
from pigmentmap.preprocess.preprocessor import Preprocessor, channel_edges, rebin


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of what a new instrument and measurement vary (see the module docstring)."""

    total_counts: tuple[float, float] = (1e3, 1e6)
    gain_kev: tuple[float, float] = (0.010, 0.040)
    offset_kev: tuple[float, float] = (-0.2, 0.1)
    upper_kev: tuple[float, float] = (20.0, 41.0)  # both axes reach at least this
    offset_error_kev: float = 0.080
    gain_error: float = 0.007
    background_probability: float = 0.5
    background_fraction: tuple[float, float] = (0.0, 0.15)
    sigma: float = DETECTABLE_SIGMA

    def to_dict(self) -> dict[str, object]:
        """Plain values for the model card."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Measurement:
    """One drawn measurement: counts on the scan's channels, its true axis and the axis its file
    would state (with the calibration error), the labels and their loss weights; ``z_scale``
    and ``range_index`` turn a stored significance into this measurement's (``z[:, range_index]
    * z_scale``: its counts, and the detectability range its axis covers)."""

    counts: np.ndarray
    true_axis: EnergyAxis
    nominal_axis: EnergyAxis
    labels: np.ndarray
    weights: np.ndarray
    z_scale: float = 1.0
    range_index: int = -1


def _background(energies: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = int(rng.integers(3))
    if kind == 0:
        shape = np.exp(-energies / rng.uniform(2.0, 10.0))
    elif kind == 1:
        shape = np.exp(-0.5 * ((energies - rng.uniform(3.0, 15.0)) / rng.uniform(2.0, 8.0)) ** 2)
    else:
        shape = np.ones_like(energies)
    shape = np.where(energies > 0.5, shape, 0.0)
    return shape / shape.sum()


class Augmenter:
    """Draw fresh measurements of stored expected spectra.

    Parameters
    ----------
    spectra : (N, C) array
        Noise-free expected counts on ``axis``.
    axis : EnergyAxis
    labels : (N, K) array of 0/1
    detectability : (N, K, R) array
        Significance of each present class at the stored counts, over 1 keV up to each of
        ``DETECTABILITY_UPPER_KEV``.
    preprocessor : Preprocessor
        The model's (masked, rebinning) preprocessor.
    settings : AugmentSettings
    present : (N, K) array of 0/1, optional
        For targets defined only where a class is present (its layer): weight 1 only where
        ``present`` and the class is detectable. Default: every entry counts except present
        classes below detection.
    label_z : (N, K, R) array, optional
        Significance of each label itself (e.g. a class's part in the lower layers): at the
        drawn counts, a label below the threshold becomes 0 (what XRF cannot see is not a label).

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.datasets.universal import SIM_AXIS
    >>> rng = np.random.default_rng(0)
    >>> spectra = rng.uniform(1, 100, (4, SIM_AXIS.n_channels))
    >>> aug = Augmenter(spectra, SIM_AXIS, np.ones((4, 2)), np.full((4, 2, 5), 1e3),
    ...                 Preprocessor.canonical())
    >>> x, y, w = aug.draw(np.arange(4), rng)
    >>> x.shape, y.shape, w.shape
    ((4, 2, 2000), (4, 2), (4, 2))
    """

    def __init__(
        self,
        spectra: np.ndarray,
        axis: EnergyAxis,
        labels: np.ndarray,
        detectability: np.ndarray,
        preprocessor: Preprocessor,
        settings: AugmentSettings = AugmentSettings(),
        *,
        present: np.ndarray | None = None,
        label_z: np.ndarray | None = None,
    ) -> None:
        if spectra.shape[1] != axis.n_channels:
            raise PigmentmapError("spectra and axis disagree on the channel count")
        if detectability.shape[:2] != labels.shape or labels.shape[0] != spectra.shape[0]:
            raise PigmentmapError("spectra, labels and detectability disagree in shape")
        if not preprocessor.masked:
            raise PigmentmapError("instrument randomisation needs a masked (canonical) input")
        hi = axis.energies[-1] + axis.gain_kev / 2
        if settings.upper_kev[1] + 0.35 > hi:
            raise PigmentmapError(f"stored spectra end at {hi:.2f} keV, below the upper ends")
        self.spectra = spectra
        self.axis = axis
        self.edges = channel_edges(axis)
        self.energies = axis.energies
        self.labels = labels.astype(np.float32)
        self.detectability = detectability
        self.pre = preprocessor
        self.s = settings
        self.totals = spectra.sum(axis=1)
        if present is not None and present.shape != labels.shape:
            raise PigmentmapError("present and labels disagree in shape")
        self.present = None if present is None else present > 0
        if label_z is not None and label_z.shape != detectability.shape:
            raise PigmentmapError("label_z and detectability disagree in shape")
        self.label_z = label_z

    def measure(self, i: int, rng: np.random.Generator) -> Measurement:
        """Row ``i`` as a new measurement: counts on the scan's channels and both axes."""
        s = self.s
        expected = np.asarray(self.spectra[i], dtype=np.float64)
        total = float(self.totals[i])
        extra = 0.0
        if rng.random() < s.background_probability:
            extra = float(rng.uniform(*s.background_fraction))
            expected = expected + extra * total * _background(self.energies, rng)
        counts_wanted = math.exp(rng.uniform(*np.log(s.total_counts)))
        scale = counts_wanted / max(total * (1.0 + extra), 1e-12)
        expected = expected * scale
        gain = float(rng.uniform(*s.gain_kev))
        offset = float(rng.uniform(*s.offset_kev))
        upper = float(rng.uniform(*s.upper_kev))
        offset_nominal = offset + float(rng.uniform(-s.offset_error_kev, s.offset_error_kev))
        gain_nominal = gain * (1.0 + float(rng.uniform(-s.gain_error, s.gain_error)))
        # Enough channels that both the true and the stated axis reach ``upper``.
        n_ch = 1 + math.ceil((upper - min(offset, offset_nominal)) / min(gain, gain_nominal))
        true_axis = EnergyAxis(offset, gain, n_ch)
        measured, _ = rebin(expected, self.edges, channel_edges(true_axis))
        measured = rng.poisson(np.clip(measured, 0.0, None)).astype(np.float64)
        nominal = EnergyAxis(offset_nominal, gain_nominal, n_ch)
        # Significance at these counts over the range the scan covers (a background adds noise).
        r = max(0, int(np.searchsorted(DETECTABILITY_UPPER_KEV, upper, side="right")) - 1)
        z_scale = math.sqrt(scale / (1.0 + extra))
        z = self.detectability[i, :, r] * z_scale
        y = self.labels[i]
        if self.label_z is not None:
            y = y * (self.label_z[i, :, r] * z_scale >= s.sigma)
        if self.present is None:
            w = np.where((y > 0) & (z < s.sigma), 0.0, 1.0).astype(np.float32)
        else:
            w = (self.present[i] & (z >= s.sigma)).astype(np.float32)
        return Measurement(measured, true_axis, nominal, y, w, z_scale, r)

    def _one(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.measure(i, rng)
        return self.pre(m.counts[None], m.nominal_axis)[0], m.labels, m.weights

    def draw(
        self, index: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs (B, 2, n), labels (B, K) and loss weights (B, K) for rows ``index``."""
        parts = [self._one(int(i), rng) for i in index]
        x = np.stack([p[0] for p in parts]).astype(np.float32)
        y = np.stack([p[1] for p in parts]).astype(np.float32)
        w = np.stack([p[2] for p in parts]).astype(np.float32)
        return x, y, w


def draw_dataset(
    data: Any,
    preprocessor: Preprocessor,
    *,
    seed: int,
    label_names: tuple[str, ...] | None = None,
    settings: AugmentSettings = AugmentSettings(),
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every row of a universal dataset drawn once as a measurement (seeded): inputs, labels and
    weights, for evaluation. ``label_names`` picks and orders classes (all must exist).

    Examples
    --------
    >>> draw_dataset  # doctest: +ELLIPSIS
    <function draw_dataset at ...>
    """
    if data.detectability is None or data.labels is None:
        raise PigmentmapError(f"'{data.path}' is not a universal dataset (no /detectability)")
    cols = list(range(len(data.label_names)))
    if label_names is not None:
        missing = [n for n in label_names if n not in data.label_names]
        if missing:
            raise PigmentmapError(
                f"the data has no label(s) {', '.join(missing[:5])} that the model predicts"
            )
        cols = [data.label_names.index(n) for n in label_names]
    aug = Augmenter(
        data.spectra,
        data.axis,
        data.labels[:, cols],
        data.detectability[:, cols],
        preprocessor,
        settings,
    )
    rng = np.random.default_rng(seed)
    if not progress:
        return aug.draw(np.arange(len(data.spectra)), rng)
    from tqdm import tqdm

    parts = [  # in order with one generator: the same draws as without progress
        aug.draw(idx, rng)
        for idx in tqdm(np.array_split(np.arange(len(data.spectra)), max(1, len(data.spectra) // 512)),
                        desc="draw measurements", unit="block")
    ]  # fmt: skip
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]
