"""How often a false claim of a pigment is one of its same-element mixtures
(:mod:`pigmentmap.mapping.alternatives`), against a phantom's truth."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def score_alternatives(
    prob: np.ndarray,
    names: Sequence[str],
    truth: np.ndarray,
    truth_names: Sequence[str],
    *,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """For each class with mixture alternatives, its false claims (claimed, not in the truth)
    and how many of them hold one of its alternatives (both pigments of a pair in the truth).

    Parameters
    ----------
    prob : (..., K) array of the classes ``names``
    truth : (..., T) array of the pigments ``truth_names``

    Examples
    --------
    >>> import numpy as np
    >>> prob = np.array([[0.9, 0.0, 0.0], [0.8, 0.0, 0.0]])
    >>> truth = np.array([[0, 1, 1], [0, 1, 0]])  # lead white + chromium oxide green, then white
    >>> s = score_alternatives(prob, ["chrome_yellow", "lead_white", "chrome_oxide_green"], truth,
    ...                        ["chrome_yellow", "lead_white", "chrome_oxide_green"])
    >>> s["false_claims"], s["a_listed_mixture"], s["per_pigment"]["chrome_yellow"]
    (2, 1, {'false_claims': 2, 'a_listed_mixture': 1})
    """
    from pigmentmap.mapping.alternatives import mixture_alternatives

    names, truth_names = list(names), list(truth_names)
    t = np.asarray(truth) > 0
    p = np.asarray(prob)
    per: dict[str, dict[str, int]] = {}
    for name, pairs in mixture_alternatives(names).items():
        claimed = p[..., names.index(name)] >= threshold
        present = t[..., truth_names.index(name)] if name in truth_names else False
        false = claimed & ~present
        held = np.zeros(false.shape, dtype=bool)
        for a, b in pairs:
            if a in truth_names and b in truth_names:
                held |= t[..., truth_names.index(a)] & t[..., truth_names.index(b)]
        if false.any():
            per[name] = {
                "false_claims": int(false.sum()),
                "a_listed_mixture": int((false & held).sum()),
            }
    return {
        "false_claims": sum(v["false_claims"] for v in per.values()),
        "a_listed_mixture": sum(v["a_listed_mixture"] for v in per.values()),
        "per_pigment": per,
    }
