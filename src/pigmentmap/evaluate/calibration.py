"""Calibrated probabilities: per-class temperature (or Platt) scaling, expected calibration
error, reliability.

A network trained with binary cross-entropy on simulation is over- or under-confident on data
unlike its training (other instruments, counts, look-alike pigments). Calibration maps each
class's raw probability ``p`` to ``sigmoid(a * logit(p) + b)``, with ``a`` (and for Platt
scaling ``b``) fitted on held-out simulation (drawn measurements the network never trained on)
by minimising the cross-entropy; ``a = 1, b = 0`` is the identity. The default, temperature
scaling (``b = 0``), keeps p = 0.5 where it is: it changes how sure a claim is, never which
claims are made.

Expected calibration error (:func:`expected_calibration_error`): every counted (spectrum,
class) entry is put in one of ``n_bins`` equal bins of predicted probability; ECE is the mean
over entries of |observed frequency of the bin - mean probability of the bin|. Over a multi-label
set most entries are confident negatives (p near 0, absent), which makes ECE small;
:func:`expected_calibration_error` with ``min_probability`` scores the claims only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError

_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-6, 1 - 1e-6]."""
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(q / (1.0 - q))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def fit_platt(
    truth: np.ndarray,
    prob: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    intercept: bool = True,
    iterations: int = 50,
) -> tuple[float, float]:
    """``(a, b)`` minimising the weighted cross-entropy of ``sigmoid(a * logit(prob) + b)``.

    Newton's method (steps halved until the loss falls), with a small ridge towards the
    identity (a = 1, b = 0) so that a class without positives (or negatives) keeps its raw
    probabilities. ``intercept=False`` fits ``a`` alone (``b = 0``: temperature scaling, which
    keeps p = 0.5 where it is, so that no claim changes).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 3, 4000)
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(float)  # calibrated at slope 1
    >>> a, b = fit_platt(y, 1 / (1 + np.exp(-2 * z)))  # an overconfident network: slope 2
    >>> round(a, 1), abs(b) < 0.1
    (0.5, True)
    """
    y = np.asarray(truth, dtype=np.float64).ravel()
    x = logit(prob).ravel()
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (y.shape == x.shape == w.shape):
        raise PigmentmapError("truth, probabilities and weights differ in size")
    ridge = 1e-3 * max(1.0, float(w.sum()))
    prior = np.array([1.0, 0.0]) if intercept else np.array([1.0])
    design = np.stack([x, np.ones_like(x)], axis=1) if intercept else x[:, None]

    def loss(t: np.ndarray) -> float:
        z = design @ t  # cross-entropy with logits, stable for large |z|
        return float(w @ (np.logaddexp(0.0, z) - y * z)) + 0.5 * ridge * float(
            (t - prior) @ (t - prior)
        )

    theta = prior.copy()
    current = loss(theta)
    for _ in range(iterations):  # Newton steps, halved until the loss falls
        p = _sigmoid(design @ theta)
        grad = design.T @ (w * (p - y)) + ridge * (theta - prior)
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + ridge * np.eye(len(prior))
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-6 and loss(theta - scale * step) > current:
            scale *= 0.5
        if scale <= 1e-6:
            break
        theta = theta - scale * step
        new = loss(theta)
        if current - new < 1e-10 * max(1.0, abs(current)):
            break
        current = new
    return float(theta[0]), float(theta[1]) if intercept else 0.0


@dataclass(frozen=True)
class Calibration:
    """Per-class Platt scaling: ``p' = sigmoid(a[k] * logit(p) + b[k])``.

    Examples
    --------
    >>> import numpy as np
    >>> c = Calibration(np.array([1.0, 0.5]), np.array([0.0, 0.0]))
    >>> c.apply(np.array([[0.9, 0.9]])).astype(float).round(3).tolist()
    [[0.9, 0.75]]
    >>> Calibration.from_dict(c.to_dict()).b.tolist()
    [0.0, 0.0]
    """

    a: np.ndarray
    b: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def apply(self, prob: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (same shape, float32); the last axis is the class axis."""
        p = np.asarray(prob)
        if p.shape[-1] != len(self.a):
            raise PigmentmapError(
                f"calibration has {len(self.a)} classes, probabilities {p.shape[-1]}"
            )
        return _sigmoid(self.a * logit(p) + self.b).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a model card."""
        method = "temperature" if not np.any(self.b) else "platt"
        return {"method": method, "a": self.a.tolist(), "b": self.b.tolist(), **self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """Read back :meth:`to_dict`; refuses malformed entries."""
        try:
            a = np.asarray(d["a"], dtype=np.float64)
            b = np.asarray(d["b"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            raise PigmentmapError("the model card's calibration is malformed") from None
        if a.shape != b.shape or a.ndim != 1 or not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise PigmentmapError("the model card's calibration is malformed")
        info = {k: v for k, v in d.items() if k not in ("method", "a", "b")}
        return cls(a, b, info)


def fit_calibration(
    truth: np.ndarray,
    prob: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    method: str = "temperature",
) -> Calibration:
    """Calibration of every class (columns of ``truth`` / ``prob``), ``mask`` 0 = left out.

    ``method="temperature"`` (default) scales each class's logit (``b = 0``): probabilities
    become honest while every claim at p >= 0.5 stays as the network made it (a bias fitted on
    simulation moved the threshold on data unlike it: on the mock-up phantom a full Platt
    scaling halved Prussian blue's F1). ``"platt"`` fits the bias too.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = (rng.random((500, 2)) < 0.3).astype(float)
    >>> p = np.clip(0.5 * y + 0.25 + rng.normal(0, 0.1, y.shape), 0.01, 0.99)
    >>> fit_calibration(y, p).a.shape
    (2,)
    """
    t, p = np.asarray(truth), np.asarray(prob)
    if t.shape != p.shape or t.ndim != 2:
        raise PigmentmapError(f"truth {t.shape} and probabilities {p.shape} differ")
    if method not in ("temperature", "platt"):
        raise PigmentmapError(
            f"calibration method must be 'temperature' or 'platt', not {method!r}"
        )
    m = np.ones_like(p) if mask is None else np.asarray(mask)
    ab = [
        fit_platt(t[:, k], p[:, k], weights=m[:, k], intercept=method == "platt")
        for k in range(t.shape[1])
    ]
    return Calibration(np.array([x[0] for x in ab]), np.array([x[1] for x in ab]), {"fit": method})


def reliability(
    truth: np.ndarray,
    prob: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    n_bins: int = 10,
    min_probability: float = 0.0,
) -> dict[str, list[float]]:
    """Bins of predicted probability: mean probability, observed frequency and count of each.

    Entries with ``mask`` 0, or a probability below ``min_probability``, are left out.

    Examples
    --------
    >>> import numpy as np
    >>> r = reliability(np.array([[1], [0]]), np.array([[0.95], [0.05]]), n_bins=2)
    >>> r["frequency"], r["count"]
    ([0.0, 1.0], [1, 1])
    """
    t = np.asarray(truth, dtype=np.float64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    keep = np.ones_like(p, bool) if mask is None else np.asarray(mask).ravel() > 0
    keep &= p >= min_probability
    t, p = t[keep], p[keep]
    which = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out: dict[str, list[Any]] = {"lower": [], "probability": [], "frequency": [], "count": []}
    for b in range(n_bins):
        sel = which == b
        if not sel.any():
            continue
        out["lower"].append(b / n_bins)
        out["probability"].append(float(p[sel].mean()))
        out["frequency"].append(float(t[sel].mean()))
        out["count"].append(int(sel.sum()))
    return out


def expected_calibration_error(
    truth: np.ndarray,
    prob: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    n_bins: int = 10,
    min_probability: float = 0.0,
) -> float:
    """ECE over all counted entries (see the module notes); ``min_probability`` scores claims only.

    Examples
    --------
    >>> import numpy as np
    >>> expected_calibration_error(np.array([[1], [0]]), np.array([[0.9], [0.1]]), n_bins=5)
    0.1
    """
    r = reliability(truth, prob, mask=mask, n_bins=n_bins, min_probability=min_probability)
    n = sum(r["count"])
    if n == 0:
        return 0.0
    gaps = [
        abs(f - q) * c for f, q, c in zip(r["frequency"], r["probability"], r["count"], strict=True)
    ]
    return round(float(sum(gaps) / n), 12)
