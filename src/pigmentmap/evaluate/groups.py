"""Look-alike groups: the pigments XRF cannot tell apart under given conditions, found from data.

Lead white and red lead are both lead (and little else XRF sees); iron oxide, the ochres and
Prussian blue are all iron; azurite and malachite are both copper. A network asked to split them
splits them arbitrarily. :func:`find_groups` finds such groups from a model's own errors on
held-out simulation, backed by the pigments' element signatures:

1. classes with the same non-empty set of key elements are one group: iron oxide, the ochres
   and Prussian blue (Fe), azurite and malachite (Cu). Nothing XRF sees in air separates them,
   and a network spreads its probability over them: on held-out universal spectra where an Fe
   pigment is present and detectable at 50 sigma or more, the shipped model claimed none of the
   five Fe classes in 29 % of cases, its largest Fe probability being 0.34-0.45 (quartiles), so
   a group of two of them missed what all four together catch;
2. confusion of ``i`` for ``j``: among the counted spectra where ``j`` is present and ``i`` is
   absent, the share where ``i`` is claimed (p >= 0.5);
3. pairs are taken from the most confused down to ``min_confusion``; a pair joins its two groups
   when all their members still share a key element
   (:func:`pigmentmap.mapping.evidence.key_elements`), or when none has any (invisible to XRF:
   ultramarine, organic lakes). A model error between pigments with nothing in common is a model
   error, not a limit of XRF, and is not grouped; a pigment with two key elements does not chain
   two groups (chrome yellow, Pb and Cr, joins the lead whites or the chromium greens, not both);
4. every class not joined is a group of its own.

A group's probability is ``1 - prod(1 - p_i)`` over its members (at least one of them is
present), and its truth is the OR of its members'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary

#: Share of confusions from which two classes sharing a key element are one look-alike group.
MIN_CONFUSION = 0.1


@dataclass(frozen=True)
class Group:
    """A look-alike group: its members (class names), why they cannot be told apart, and what
    the model's split between them rests on (``basis``: energy windows, see
    :mod:`pigmentmap.ml.split_basis`; empty for a group of one or a model calibrated before)."""

    members: tuple[str, ...]
    why: str = ""
    basis: tuple[dict[str, Any], ...] = ()

    @property
    def name(self) -> str:
        """``"lead_white | red_lead"``."""
        return " | ".join(self.members)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a model card."""
        out: dict[str, Any] = {"members": list(self.members), "why": self.why}
        if self.basis:
            out["basis"] = [dict(w) for w in self.basis]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Group:
        """Read back :meth:`to_dict`."""
        try:
            members = tuple(str(m) for m in d["members"])
        except (KeyError, TypeError):
            raise PigmentmapError("the model card's look-alike groups are malformed") from None
        if not members:
            raise PigmentmapError("the model card has an empty look-alike group")
        basis = d.get("basis", [])
        try:
            windows = tuple(
                {"kev": [float(w["kev"][0]), float(w["kev"][1])], "share": float(w["share"]),
                 "lines": [str(v) for v in w["lines"]]}
                for w in basis
            )  # fmt: skip
        except (KeyError, TypeError, IndexError, ValueError):
            raise PigmentmapError("the model card's look-alike group basis is malformed") from None
        return cls(members, str(d.get("why", "")), windows)


def confusion(
    truth: np.ndarray,
    prob: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    """``c[i, j]``: share of spectra with ``j`` present and ``i`` absent where ``i`` is claimed.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([[1, 0], [1, 0], [0, 1]])
    >>> p = np.array([[0.9, 0.8], [0.9, 0.1], [0.2, 0.9]])
    >>> confusion(t, p).tolist()
    [[0.0, 0.0], [0.5, 0.0]]
    """
    t = np.asarray(truth) > 0
    claimed = np.asarray(prob) >= threshold
    m = np.ones_like(t) if mask is None else np.asarray(mask) > 0
    k = t.shape[1]
    out = np.zeros((k, k))
    for j in range(k):
        for i in range(k):
            if i == j:
                continue
            rows = t[:, j] & ~t[:, i] & m[:, j] & m[:, i]
            if rows.any():
                out[i, j] = float(claimed[rows, i].mean())
    return out


def find_groups(
    truth: np.ndarray,
    prob: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    mask: np.ndarray | None = None,
    min_confusion: float = MIN_CONFUSION,
    library: PigmentLibrary | None = None,
) -> list[Group]:
    """Look-alike groups of ``names`` from held-out predictions (see the module notes).

    Examples
    --------
    >>> import numpy as np
    >>> names = ["lead_white", "red_lead", "vermilion"]
    >>> t = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]] * 10)
    >>> p = np.array([[0.9, 0.6, 0.0], [0.7, 0.8, 0.0], [0.0, 0.0, 0.9]] * 10)
    >>> [g.members for g in find_groups(t, p, names)]
    [('lead_white', 'red_lead'), ('vermilion',)]
    """
    from pigmentmap.mapping.evidence import key_elements

    c = confusion(truth, prob, mask=mask)
    names = list(names)
    keys = {n: set(key_elements(n, library=library)) for n in names}
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Strongest confusions first; a merge must leave every member of the group sharing a key
    # element (or all invisible): chrome yellow (Pb, Cr) must not chain the lead whites to the
    # chromium greens.
    pairs = sorted(
        (
            (max(c[i, j], c[j, i]), i, j)
            for i in range(len(names))
            for j in range(i + 1, len(names))
        ),
        reverse=True,
    )
    common = {i: set(keys[names[i]]) for i in range(len(names))}
    reasons: dict[tuple[int, int], str] = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if keys[names[i]] and keys[names[i]] == keys[names[j]] and root(i) != root(j):
                parent[root(i)] = root(j)
                els = "/".join(sorted(keys[names[i]]))
                reasons[(i, j)] = f"{names[i]} / {names[j]}: the same key elements ({els})"
    for rate, i, j in pairs:
        if rate < min_confusion:
            break
        ri, rj = root(i), root(j)
        if ri == rj:
            continue
        shared = common[ri] & common[rj]
        invisible = not common[ri] and not common[rj]
        if not (shared or invisible):
            continue
        parent[ri] = rj
        common[rj] = shared
        what = (
            f"both {'/'.join(sorted(keys[names[i]] & keys[names[j]]))}"
            if shared
            else ("no element XRF sees in air")
        )
        reasons[(i, j)] = (
            f"{names[i]} / {names[j]}: {what}; confused in {rate:.0%} of held-out spectra"
        )
    members: dict[int, list[int]] = {}
    for i in range(len(names)):
        members.setdefault(root(i), []).append(i)
    groups = []
    for idx in sorted(members.values(), key=lambda m: m[0]):
        why = "; ".join(r for (i, j), r in reasons.items() if i in idx and j in idx)
        groups.append(Group(tuple(names[i] for i in idx), why))
    return groups


def group_matrix(groups: list[Group], names: tuple[str, ...] | list[str]) -> np.ndarray:
    """(K, G) 0/1 membership of each class in each group; refuses unknown members.

    Examples
    --------
    >>> group_matrix([Group(("a", "b")), Group(("c",))], ["a", "b", "c"]).tolist()
    [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    names = list(names)
    out = np.zeros((len(names), len(groups)))
    for g, group in enumerate(groups):
        for m in group.members:
            if m not in names:
                raise PigmentmapError(f"look-alike group member '{m}' is not a class of the model")
            out[names.index(m), g] = 1.0
    return out


def group_probabilities(
    prob: np.ndarray, groups: list[Group], names: tuple[str, ...] | list[str]
) -> np.ndarray:
    """``1 - prod(1 - p)`` over each group's members; the class axis is last.

    Examples
    --------
    >>> import numpy as np
    >>> group_probabilities(np.array([[0.5, 0.5, 0.2]]), [Group(("a", "b")), Group(("c",))],
    ...                     ["a", "b", "c"]).astype(float).round(2).tolist()
    [[0.75, 0.2]]
    """
    member = group_matrix(groups, names)
    p = np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0 - 1e-7)
    return (1.0 - np.exp(np.log1p(-p) @ member)).astype(np.float32)


def group_truth(
    truth: np.ndarray,
    groups: list[Group],
    names: tuple[str, ...] | list[str],
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Group labels (OR of members) and a group mask: a group is left out where any member is
    left out and none counted is present (a present but undetectable member does not make a
    group claim wrong).

    Examples
    --------
    >>> import numpy as np
    >>> y, m = group_truth(np.array([[0, 1, 0]]), [Group(("a", "b")), Group(("c",))], ["a", "b", "c"])
    >>> y.tolist(), m.tolist()
    ([[1.0, 0.0]], [[1.0, 1.0]])
    """
    member = group_matrix(groups, names)
    t = (np.asarray(truth) > 0).astype(np.float64)
    m = np.ones_like(t) if mask is None else (np.asarray(mask) > 0).astype(np.float64)
    y = ((t * m) @ member > 0).astype(np.float64)
    left_out = ((1 - m) @ member) > 0
    gm = np.where(left_out & (y == 0), 0.0, 1.0)
    return y, gm
