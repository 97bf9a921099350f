"""Layer calls from layer probabilities, and their accuracy (numpy only; the layer network is in
:mod:`pigmentmap.ml.layers`)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: The layer calls, by code.
LAYER_NAMES = ("top", "under", "both")
TOP, UNDER, BOTH = 0, 1, 2
# The layer model kind that is a head on the pigment network's features (pigmentmap.ml.layers).
FEATURE_HEAD = "feature-head"


def layer_calls(p: np.ndarray) -> np.ndarray:
    """Codes :data:`TOP`, :data:`UNDER`, :data:`BOTH` from (..., K, 2) layer probabilities.

    A layer is called where its probability reaches 0.5; where neither does, the likelier one.

    Examples
    --------
    >>> import numpy as np
    >>> layer_calls(np.array([[0.9, 0.1], [0.2, 0.7], [0.8, 0.6], [0.3, 0.4]])).tolist()
    [0, 1, 2, 1]
    """
    p = np.asarray(p)
    top, under = p[..., 0] >= 0.5, p[..., 1] >= 0.5
    neither = ~top & ~under
    top = top | (neither & (p[..., 0] >= p[..., 1]))
    under = under | (neither & (p[..., 1] > p[..., 0]))
    return np.where(top & under, BOTH, np.where(top, TOP, UNDER)).astype(np.int8)


def layer_accuracy(
    truth: np.ndarray, p: np.ndarray, mask: np.ndarray, names: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    """Share of counted (present, detectable) pigment entries whose layer call is right.

    Parameters
    ----------
    truth : (N, K, 2) 0/1: [in the top layer, in a lower one]
    p : (N, K, 2) layer probabilities
    mask : (N, K) 0/1: entries to count (present and detectable)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[[1, 0], [0, 1]]])
    >>> r = layer_accuracy(t, np.array([[[0.9, 0.2], [0.8, 0.1]]]), np.ones((1, 2)), ["a", "b"])
    >>> r["layer_accuracy"], r["per_class"]["b"]["accuracy"]
    (0.5, 0.0)
    """
    t = np.asarray(truth) > 0
    counted = (np.asarray(mask) > 0) & t.any(axis=-1)
    true_code = np.where(t[..., 0] & t[..., 1], BOTH, np.where(t[..., 0], TOP, UNDER))
    right = (layer_calls(p) == true_code) & counted
    per_class = {
        str(n): {
            "accuracy": float(right[:, k].sum() / counted[:, k].sum())
            if counted[:, k].any()
            else 0.0,
            "support": int(counted[:, k].sum()),
        }
        for k, n in enumerate(names)
    }
    confusion = np.zeros((3, 3), dtype=int)
    calls = layer_calls(p)
    for a in range(3):
        for b in range(3):
            confusion[a, b] = int(((true_code == a) & (calls == b) & counted).sum())
    return {
        "layer_accuracy": float(right.sum() / counted.sum()) if counted.any() else 0.0,
        "n_counted": int(counted.sum()),
        "confusion": {"rows_true_columns_called": list(LAYER_NAMES), "counts": confusion.tolist()},
        "per_class": per_class,
    }
