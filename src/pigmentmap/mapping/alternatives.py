"""Mixtures with the same key elements as one pigment: what else a claim could be.

Look-alike groups (:mod:`pigmentmap.evaluate.groups`) join pigments that XRF cannot tell apart
one for one. A pigment with two key elements has a second kind of look-alike: a mixture of two
other pigments that together hold exactly its key elements. Cerulean blue (Co, Sn) is cobalt
blue (Co) with a tin-struck lake (carmine, Sn); chrome yellow (Pb, Cr) is lead white with
chromium oxide green; emerald green (Cu, As) is azurite with orpiment. On the mock-up phantom
(ELIO), the default model claimed cerulean blue on 440 pixels and lead-tin yellow on 292 where
neither was: every one of them held cobalt blue with carmine, or lead white with carmine. No
network trained on single spectra can always tell these apart, so a claim of such a pigment
comes with its alternatives (:func:`mixture_alternatives`), named by look-alike group in the
report, in ``pigmentmap identify`` and in ``maps.h5`` (``/entry/evidence/alternatives``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pigmentmap.materials.library import PigmentLibrary


def mixture_alternatives(
    names: Sequence[str], *, library: PigmentLibrary | None = None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """For each class with two or more key elements, the pairs of other classes whose key
    elements (each a non-empty proper part of its own) together are exactly its own.

    Examples
    --------
    >>> names = ["chrome_yellow", "lead_white", "chrome_oxide_green", "vermilion", "naples_yellow"]
    >>> mixture_alternatives(names)
    {'chrome_yellow': (('lead_white', 'chrome_oxide_green'),)}
    """
    from pigmentmap.mapping.evidence import key_elements

    keys = {n: frozenset(key_elements(n, library=library)) for n in names}
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for p in names:
        own = keys[p]
        if len(own) < 2:
            continue
        parts = [q for q in names if q != p and keys[q] and keys[q] < own]
        pairs = tuple(
            (a, b) for a, b in itertools.combinations(parts, 2) if keys[a] | keys[b] == own
        )
        if pairs:
            out[p] = pairs
    return out


def describe_alternatives(
    pairs: Sequence[tuple[str, str]], groups: Sequence[Sequence[str]] = ()
) -> str:
    """The pairs in words, members of one look-alike group joined by "or".

    Examples
    --------
    >>> pairs = [("lead_white", "chrome_oxide_green"), ("red_lead", "chrome_oxide_green"),
    ...          ("lead_white", "viridian"), ("red_lead", "viridian")]
    >>> groups = [("lead_white", "red_lead"), ("chrome_oxide_green", "viridian")]
    >>> describe_alternatives(pairs, groups)
    'lead_white or red_lead with chrome_oxide_green or viridian'
    >>> describe_alternatives([("cobalt_blue", "carmine"), ("carmine", "smalt")])
    'cobalt_blue with carmine; carmine with smalt'
    """
    group_of = {m: tuple(g) for g in groups for m in g}

    def side(name: str) -> tuple[str, ...]:
        return group_of.get(name, (name,))

    seen: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for a, b in pairs:
        ga, gb = side(a), side(b)
        if (ga, gb) not in seen and (gb, ga) not in seen:
            seen.append((ga, gb))

    def words(g: tuple[str, ...], present: set[str]) -> str:
        return " or ".join(m for m in g if m in present)

    used = {n for pair in pairs for n in pair}
    return "; ".join(f"{words(ga, used)} with {words(gb, used)}" for ga, gb in seen)
