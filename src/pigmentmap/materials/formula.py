"""Chemical formulas -> atom counts -> element mass fractions.

Handles groups in ``()``, ``[]`` and ``{}``, decimal counts (``CdS0.6Se0.4``) and adducts joined
by ``.`` or ``·`` with a leading multiplier (``2PbCO3.Pb(OH)2``, ``Cu(CH3COO)2.3Cu(AsO2)2``).
"""

from __future__ import annotations

import re
from functools import cache

import xraylib

from pigmentmap.core.errors import PigmentmapError

_TOKEN = re.compile(r"([A-Z][a-z]?)|(\d+(?:\.\d+)?|\.\d+)|([(\[{])|([)\]}])")
_CLOSE = {"(": ")", "[": "]", "{": "}"}


@cache
def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol, or a PigmentmapError.

    Examples
    --------
    >>> atomic_number("Pb")
    82
    """
    try:
        z = int(xraylib.SymbolToAtomicNumber(symbol))
    except ValueError:
        z = 0
    if z <= 0:
        raise PigmentmapError(f"unknown element symbol '{symbol}'")
    return z


def _parse_part(text: str, formula: str) -> dict[str, float]:
    stack: list[tuple[dict[str, float], str]] = [({}, "")]
    pos = 0
    last: dict[str, float] | str | None = None
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PigmentmapError(f"invalid formula '{formula}': cannot read '{text[pos:]}'")
        pos = m.end()
        element, number, opening, closing = m.groups()
        counts = stack[-1][0]
        if element:
            atomic_number(element)
            counts[element] = counts.get(element, 0.0) + 1.0
            last = element
        elif number:
            n = float(number)
            if last is None:
                raise PigmentmapError(
                    f"invalid formula '{formula}': a count with nothing before it"
                )
            if isinstance(last, str):
                counts[last] += n - 1.0
            else:
                for el, c in last.items():
                    counts[el] = counts.get(el, 0.0) + c * (n - 1.0)
            last = None
        elif opening:
            stack.append(({}, opening))
            last = None
        else:
            group, opener = stack.pop() if len(stack) > 1 else ({}, "")
            if not opener or _CLOSE[opener] != closing:
                raise PigmentmapError(f"invalid formula '{formula}': unbalanced '{closing}'")
            outer = stack[-1][0]
            for el, c in group.items():
                outer[el] = outer.get(el, 0.0) + c
            last = group
    if len(stack) != 1:
        raise PigmentmapError(f"invalid formula '{formula}': unclosed '{stack[-1][1]}'")
    return stack[0][0]


def _split_adducts(text: str) -> list[str]:
    """Split ``2PbCO3.Pb(OH)2`` at adduct dots; ``0.76`` (a lone 0 before the dot) is a decimal."""
    parts, start = [], 0
    for i, ch in enumerate(text):
        if ch != ".":
            continue
        decimal = i >= 1 and text[i - 1] == "0" and (i < 2 or not text[i - 2].isdigit())
        if not decimal and re.match(r"\d*[A-Z(\[{]", text[i + 1 :]):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@cache
def _parse_cached(formula: str) -> tuple[tuple[str, float], ...]:
    text = formula.strip().replace("·", ".").replace("*", ".")
    if not text:
        raise PigmentmapError("empty formula")
    total: dict[str, float] = {}
    for part in _split_adducts(text):
        m = re.match(r"^(\d+(?:\.\d+)?)?(.*)$", part)
        assert m is not None
        mult = float(m.group(1)) if m.group(1) else 1.0
        body = m.group(2)
        if not body:
            raise PigmentmapError(f"invalid formula '{formula}': empty part")
        for el, c in _parse_part(body, formula).items():
            total[el] = total.get(el, 0.0) + mult * c
    if not total or any(c <= 0 for c in total.values()):
        raise PigmentmapError(f"invalid formula '{formula}'")
    return tuple(sorted(total.items()))


def parse_formula(formula: str) -> dict[str, float]:
    """Atom counts of a formula.

    Examples
    --------
    >>> parse_formula("2PbCO3.Pb(OH)2")
    {'C': 2.0, 'H': 2.0, 'O': 8.0, 'Pb': 3.0}
    >>> parse_formula("Fe4[Fe(CN)6]3")["Fe"]
    7.0
    """
    return dict(_parse_cached(formula))


def mass_fractions(formula: str) -> dict[str, float]:
    """Element mass fractions of a formula, summing to 1.

    Examples
    --------
    >>> round(mass_fractions("HgS")["Hg"], 4)
    0.8622
    """
    counts = parse_formula(formula)
    masses = {el: c * float(xraylib.AtomicWeight(atomic_number(el))) for el, c in counts.items()}
    total = sum(masses.values())
    return {el: m / total for el, m in masses.items()}
