"""How the unaccounted-element flags (:mod:`pigmentmap.mapping.unaccounted`) fare against a
phantom's truth.

Two questions, both per (pixel, element) or (pixel, pigment):

- **Is a flag backed?** A flag of element ``E`` is backed where the truth holds a pigment with
  ``E`` among its key elements: the element does come from a pigment the map does not show. An
  unbacked flag points at something that is not there (a fit artefact, or an element from a
  ground or an impurity).
- **Are silent misses flagged?** A silent miss is a present, detectable pigment with key
  elements none of which any claimed pigment holds: the pigment maps say nothing about it. It
  is flagged where at least one of its key elements is.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def score_unaccounted(
    results: dict[str, Any],
    truth: np.ndarray,
    truth_names: tuple[str, ...] | list[str],
    *,
    detectable: np.ndarray | None = None,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Backed flags and flagged silent misses of one map (see the module notes).

    Parameters
    ----------
    results : dict
        :func:`pigmentmap.mapping.results.read_results` of the map (``unaccounted``, ``prob``,
        ``names``).
    truth : (H, W, T) array
        Which pigments are present.
    truth_names : the truth's pigment names
    detectable : (H, W, T) array, optional
        Which present pigments physics can detect (default: all present ones).

    Returns
    -------
    dict
        ``flags``, ``backed_share``, ``per_element`` (share of pixels flagged, backed share),
        ``silent_misses``, ``silent_misses_flagged_share``.

    Examples
    --------
    >>> import numpy as np
    >>> res = {"names": ("lead_white", "vermilion"), "prob": np.zeros((1, 2, 2)),
    ...        "unaccounted": {"elements": ("Hg", "Pb"),
    ...                        "flags": np.array([[[False, True], [False, True]]])}}
    >>> truth = np.array([[[1, 0], [0, 1]]])  # lead white, then vermilion
    >>> s = score_unaccounted(res, truth, ["lead_white", "vermilion"])
    >>> s["backed_share"], s["silent_misses"], s["silent_misses_flagged_share"]
    (0.5, 2, 0.5)
    """
    from pigmentmap.mapping.evidence import key_elements

    u = results["unaccounted"]
    flags = np.asarray(u["flags"], dtype=bool)
    elements = list(u["elements"])
    names = list(results["names"])
    truth = np.asarray(truth) > 0
    seen = truth if detectable is None else truth & (np.asarray(detectable) > 0)
    claimed = np.asarray(results["prob"]) >= threshold
    keys = {n: set(key_elements(n)) for n in list(truth_names) + names}
    per_element: dict[str, dict[str, float]] = {}
    backed_total = 0
    for j, e in enumerate(elements):
        holders = [t for t, n in enumerate(truth_names) if e in keys[n]]
        has = truth[..., holders].any(axis=-1) if holders else np.zeros(flags.shape[:-1], bool)
        f = flags[..., j]
        backed_total += int((f & has).sum())
        if f.any():
            per_element[e] = {
                "flagged_pixel_share": round(float(f.mean()), 4),
                "backed_share": round(float((f & has).sum() / f.sum()), 4),
            }
    # held[e]: some claimed pigment holds e
    held = {
        e: claimed[..., [k for k, n in enumerate(names) if e in keys[n]]].any(axis=-1)
        for e in set().union(*keys.values())
    }
    silent = flagged = 0
    for t, n in enumerate(truth_names):
        ks = [e for e in keys[n] if e in held]
        if not ks:
            continue
        miss = seen[..., t] & ~np.any([held[e] for e in ks], axis=0)
        hit = np.any([flags[..., elements.index(e)] for e in ks if e in elements], axis=0)
        silent += int(miss.sum())
        flagged += int((miss & hit).sum())
    n_flags = int(flags.sum())
    return {
        "flags": n_flags,
        "backed_share": round(backed_total / n_flags, 4) if n_flags else None,
        "per_element": per_element,
        "silent_misses": silent,
        "silent_misses_flagged_share": round(flagged / silent, 4) if silent else None,
    }
