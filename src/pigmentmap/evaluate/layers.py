"""Layer calls from layer probabilities, how sure each call is, and their accuracy (numpy only;
the layer network is in :mod:`pigmentmap.ml.layers`).

How sure a call is
------------------
The layer network gives two probabilities per pigment, ``p(in the top layer | present)`` and
``p(in a lower layer | present)``. Read as independent, they give the three outcomes of a present
pigment: top only ``p_t (1 - p_u)``, under only ``(1 - p_t) p_u`` and both ``p_t p_u``, normalised
to sum to 1. The call is the likeliest outcome and its *confidence* that outcome's share.

XRF cannot always tell where a pigment sits: under a thin or light cover the pigment's line
ratios are those of a top layer within the noise, and a concentration it cannot know trades
against a cover's absorption. On held-out simulation every layer model tried stops near the
same accuracy over all calls (0.77-0.78: a head on the pigment network's features, one on
line-group sums per element, one on both, ``benchmarks/layer_inputs.py``; a second network of
its own 0.77). Confidence sorts the calls:
the card stores the least confidence at which held-out calls are right at least
:data:`SURE_ACCURACY` of the time, and a call below it is shown as ``uncertain``
(:data:`UNCERTAIN`), not as a guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The layer calls, by code (``uncertain``: below the card's confidence threshold).
LAYER_NAMES = ("top", "under", "both", "uncertain")
TOP, UNDER, BOTH, UNCERTAIN = 0, 1, 2, 3
#: The accuracy that held-out layer calls at or above the card's confidence threshold reach.
SURE_ACCURACY = 0.9
# The layer model kind that is a head on the pigment network's features (pigmentmap.ml.layers).
FEATURE_HEAD = "feature-head"


def layer_outcomes(p: np.ndarray) -> np.ndarray:
    """(..., 3) probabilities of top only, under only and both, from (..., 2) layer
    probabilities read as independent and normalised over the three (the pigment is present).

    Examples
    --------
    >>> import numpy as np
    >>> layer_outcomes(np.array([0.9, 0.1])).round(3).tolist()
    [0.89, 0.011, 0.099]
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    t, u = p[..., 0], p[..., 1]
    q = np.stack([t * (1 - u), (1 - t) * u, t * u], axis=-1)
    return q / q.sum(axis=-1, keepdims=True)


def layer_confidence(p: np.ndarray) -> np.ndarray:
    """How sure each layer call is: the share of its outcome (see :func:`layer_outcomes`),
    between 1/3 and 1.

    Examples
    --------
    >>> import numpy as np
    >>> layer_confidence(np.array([[0.99, 0.01], [0.5, 0.5]])).round(3).tolist()
    [0.99, 0.333]
    """
    return layer_outcomes(p).max(axis=-1)


def layer_calls(p: np.ndarray, *, min_confidence: float = 0.0) -> np.ndarray:
    """Codes :data:`TOP`, :data:`UNDER`, :data:`BOTH` from (..., K, 2) layer probabilities, and
    :data:`UNCERTAIN` where the call's confidence is below ``min_confidence``.

    A layer is called where its probability reaches 0.5; where neither does, the likelier one
    (the likeliest of :func:`layer_outcomes`).

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.2, 0.7], [0.8, 0.6], [0.3, 0.4]])
    >>> layer_calls(p).tolist(), layer_calls(p, min_confidence=0.6).tolist()
    ([0, 1, 2, 1], [0, 1, 3, 3])
    """
    p = np.asarray(p)
    top, under = p[..., 0] >= 0.5, p[..., 1] >= 0.5
    neither = ~top & ~under
    top = top | (neither & (p[..., 0] >= p[..., 1]))
    under = under | (neither & (p[..., 1] > p[..., 0]))
    calls = np.where(top & under, BOTH, np.where(top, TOP, UNDER)).astype(np.int8)
    if min_confidence > 0:
        calls[layer_confidence(p) < min_confidence] = UNCERTAIN
    return calls


def _true_codes(truth: np.ndarray) -> np.ndarray:
    t = np.asarray(truth) > 0
    return np.where(t[..., 0] & t[..., 1], BOTH, np.where(t[..., 0], TOP, UNDER))


def sure_threshold(
    truth: np.ndarray, p: np.ndarray, mask: np.ndarray, *, target: float = SURE_ACCURACY
) -> float | None:
    """The least confidence at which the counted calls at or above it are right at least
    ``target`` of the time, with 95 % confidence (None where no threshold reaches it).

    Parameters
    ----------
    truth, p, mask : as in :func:`layer_accuracy`

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[[1, 0]], [[1, 0]], [[0, 1]]])
    >>> p = np.array([[[0.99, 0.01]], [[0.9, 0.2]], [[0.6, 0.45]]])  # the last call is wrong
    >>> round(sure_threshold(truth, p, np.ones((3, 1)), target=0.9), 3)
    0.783
    """
    t = np.asarray(truth) > 0
    counted = (np.asarray(mask) > 0) & t.any(axis=-1)
    if not counted.any():
        return None
    conf = layer_confidence(p)[counted]
    right = (layer_calls(p) == _true_codes(truth))[counted]
    order = np.argsort(-conf, kind="stable")
    conf, right = conf[order], right[order]
    n = np.arange(1, len(right) + 1)
    running = np.cumsum(right) / n
    # the calls from the most confident down to each one: keep the longest run whose accuracy
    # is at the target with 95 % confidence (one-sided, normal approximation), so that calls
    # the threshold never saw reach it too
    lower = running - 1.645 * np.sqrt(running * (1 - running) / n)
    ok = np.nonzero(lower >= target)[0]
    if not len(ok):
        return None
    return float(conf[ok[-1]])


def layer_accuracy(
    truth: np.ndarray,
    p: np.ndarray,
    mask: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    min_confidence: float | None = None,
) -> dict[str, Any]:
    """Share of counted (present, detectable) pigment entries whose layer call is right.

    Parameters
    ----------
    truth : (N, K, 2) 0/1: [in the top layer, in a lower one]
    p : (N, K, 2) layer probabilities
    mask : (N, K) 0/1: entries to count (present and detectable)
    min_confidence : float, optional
        A confidence threshold (the card's): adds ``"sure"``, the accuracy of the calls at or
        above it and the share of counted entries they are (their coverage).

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
    true_code = _true_codes(t)
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
    out: dict[str, Any] = {
        "layer_accuracy": float(right.sum() / counted.sum()) if counted.any() else 0.0,
        "n_counted": int(counted.sum()),
        "confusion": {
            "rows_true_columns_called": list(LAYER_NAMES[:3]),
            "counts": confusion.tolist(),
        },
        "per_class": per_class,
    }
    if min_confidence is not None:
        sure = counted & (layer_confidence(p) >= min_confidence)
        out["sure"] = {
            "min_confidence": float(min_confidence),
            "accuracy": float(right[sure].sum() / sure.sum()) if sure.any() else None,
            "coverage": float(sure.sum() / counted.sum()) if counted.any() else 0.0,
            "n_sure": int(sure.sum()),
        }
    return out


def fit_sure_threshold(
    truth: np.ndarray, p: np.ndarray, mask: np.ndarray, names: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    """The card's layer-call threshold from held-out calls (:func:`sure_threshold` on all of
    them), with the accuracy and coverage it is expected to give on calls it never saw: a
    two-fold estimate (a threshold fitted on the even rows measured on the odd ones and the
    reverse, averaged; on the shipped model's held-out calls the two folds differ by 3 points).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> truth = np.zeros((400, 1, 2)); truth[:, 0, 0] = 1  # always on top
    >>> sure = rng.random(400) < 0.5  # half the calls sure and right, half a coin toss
    >>> pt = np.where(sure, 0.97, rng.uniform(0.3, 0.7, 400))
    >>> p = np.stack([pt, 1 - pt], axis=-1)[:, None, :]
    >>> entry = fit_sure_threshold(truth, p, np.ones((400, 1)), ["a"])
    >>> entry["accuracy"] >= 0.9, 0.45 < entry["coverage"] < 0.75
    (True, True)
    """
    truth, p, mask = np.asarray(truth), np.asarray(p), np.asarray(mask)
    threshold = sure_threshold(truth, p, mask)
    entry: dict[str, Any] = {
        "min_confidence": threshold,
        "target_accuracy": SURE_ACCURACY,
        "measured": "two folds (even and odd held-out rows): each fold's threshold on the other",
    }
    if threshold is None:
        entry["note"] = f"no confidence reaches {SURE_ACCURACY:g} accuracy on held-out calls"
        return entry
    even = np.arange(len(truth)) % 2 == 0
    folds = []
    for fit, test in ((even, ~even), (~even, even)):
        t = sure_threshold(truth[fit], p[fit], mask[fit])
        if t is None:
            continue
        sure = layer_accuracy(truth[test], p[test], mask[test], names, min_confidence=t)["sure"]
        if sure["accuracy"] is not None:
            folds.append({"min_confidence": t, "accuracy": sure["accuracy"],
                          "coverage": sure["coverage"]})  # fmt: skip
    if folds:
        entry.update(
            accuracy=float(np.mean([f["accuracy"] for f in folds])),
            coverage=float(np.mean([f["coverage"] for f in folds])),
            folds=folds,
        )
    entry["accuracy_all"] = layer_accuracy(truth, p, mask, names)["layer_accuracy"]
    return entry


def card_min_confidence(card: dict[str, Any]) -> float | None:
    """The layer-call threshold a model card stores (None: a model from before it, or one with
    no layer outputs; every call is then shown).

    Examples
    --------
    >>> card_min_confidence({"layers": {"min_confidence": 0.8}}), card_min_confidence({})
    (0.8, None)
    """
    spec = card.get("layers")
    value = spec.get("min_confidence") if isinstance(spec, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 < value <= 1 else None


def describe_sure(sure: dict[str, Any] | None) -> str:
    """One line on a card's layer-call threshold (from :func:`fit_sure_threshold`).

    Examples
    --------
    >>> describe_sure({"min_confidence": 0.81, "accuracy": 0.904, "coverage": 0.52})
    'calls at confidence >= 0.81 (52 % of them) right 90.4 % of the time, the rest uncertain'
    >>> describe_sure(None)
    'no confidence threshold: every call is shown'
    """
    if not sure or sure.get("min_confidence") is None:
        why = (sure or {}).get("note")
        return f"no confidence threshold{f' ({why})' if why else ''}: every call is shown"
    acc, cov = sure.get("accuracy"), sure.get("coverage")
    if not isinstance(acc, float) or not isinstance(cov, float):
        return f"calls at confidence >= {sure['min_confidence']:.2f} shown, the rest uncertain"
    return (
        f"calls at confidence >= {sure['min_confidence']:.2f} ({100 * cov:.0f} % of them) right "
        f"{100 * acc:.1f} % of the time, the rest uncertain"
    )
