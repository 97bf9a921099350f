"""Per-class accuracy, sensitivity and F1 (Xu et al. 2022, eqns 3-6), threshold 0.5."""

from __future__ import annotations

from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError


def class_metrics(
    truth: np.ndarray,
    probability: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    threshold: float = 0.5,
    mask: np.ndarray | None = None,
) -> dict[str, Any]:
    """Table-3 metrics of multi-label predictions.

    Parameters
    ----------
    truth : (N, K) array of 0/1
    probability : (N, K) array in [0, 1]
    names : K class names
    threshold : a class is predicted present when its probability is >= threshold
    mask : (N, K) array of 0/1, optional
        Entries to count (0 = left out: a pigment present but below what physics can detect,
        see :mod:`pigmentmap.datasets.universal`); accuracy is over the counted entries.

    Returns
    -------
    dict
        ``{"per_class": {name: {"accuracy", "sensitivity", "f1", "precision", "support", "tp",
        "fp", "fn", "tn"}}, "macro_f1", "n_spectra"}``; sensitivity and F1 are 0 when undefined
        (no positives).

    Examples
    --------
    >>> import numpy as np
    >>> m = class_metrics(np.array([[1], [1], [0], [0]]), np.array([[0.9], [0.2], [0.7], [0.1]]), ["VM"])
    >>> m["per_class"]["VM"]["accuracy"], m["per_class"]["VM"]["sensitivity"], m["per_class"]["VM"]["f1"]
    (0.5, 0.5, 0.5)
    """
    t = np.asarray(truth).astype(bool)
    p = np.asarray(probability) >= threshold
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != len(names):
        raise PigmentmapError(
            f"truth {t.shape}, predictions {p.shape} and {len(names)} names do not match"
        )
    if t.shape[0] == 0:
        raise PigmentmapError("no spectra to evaluate")
    m = np.ones_like(t) if mask is None else np.asarray(mask).astype(bool)
    if m.shape != t.shape:
        raise PigmentmapError(f"mask {m.shape} does not match truth {t.shape}")
    per_class = {}
    for k, name in enumerate(names):
        tp = int((t[:, k] & p[:, k] & m[:, k]).sum())
        tn = int((~t[:, k] & ~p[:, k] & m[:, k]).sum())
        fp = int((~t[:, k] & p[:, k] & m[:, k]).sum())
        fn = int((t[:, k] & ~p[:, k] & m[:, k]).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        sensitivity = tp / (tp + fn) if tp + fn else 0.0
        f1 = (
            2 * precision * sensitivity / (precision + sensitivity)
            if precision + sensitivity
            else 0.0
        )
        per_class[str(name)] = {
            "accuracy": (tp + tn) / max(1, tp + tn + fp + fn),
            "sensitivity": sensitivity,
            "precision": precision,
            "f1": f1,
            "support": tp + fn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
        }
    with_support = [m["f1"] for m in per_class.values() if m["support"] > 0]
    return {
        "per_class": per_class,
        "macro_f1": float(np.mean(with_support)) if with_support else 0.0,
        "n_spectra": int(t.shape[0]),
        "threshold": threshold,
    }


def format_table(metrics: dict[str, Any], *, title: str = "") -> str:
    """The metrics as a text table (pigment, accuracy, sensitivity, F1, support)."""
    lines = [title] if title else []
    lines.append(f"{'pigment':22} {'accuracy':>9} {'sensitivity':>12} {'F1':>7} {'support':>8}")
    for name, m in metrics["per_class"].items():
        lines.append(
            f"{name:22} {m['accuracy']:9.3f} {m['sensitivity']:12.3f} {m['f1']:7.3f} {m['support']:8d}"
        )
    lines.append(
        f"{'macro F1':22} {'':9} {'':12} {metrics['macro_f1']:7.3f} {metrics['n_spectra']:8d}"
    )
    return "\n".join(lines)
