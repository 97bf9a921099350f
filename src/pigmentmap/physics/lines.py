"""The catalogue of emission lines that the engine simulates.

Lines are named by their IUPAC transition (``KL3`` = K-alpha1, ``L3M5`` = L-alpha1, ...) and grouped
by the shell whose vacancy emits them (``Pb L3``), the grouping PyMca/fisx use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import xraylib

from pigmentmap.materials.formula import atomic_number

# Transitions considered for every element; weak ones are dropped by ``min_rate``.
_TRANSITIONS = {
    "K": ["KL2", "KL3", "KM2", "KM3", "KM4", "KM5", "KN2", "KN3"],
    "L1": ["L1M2", "L1M3", "L1M4", "L1M5", "L1N2", "L1N3", "L1O2", "L1O3"],
    "L2": ["L2M1", "L2M3", "L2M4", "L2N1", "L2N4", "L2O1", "L2O4"],
    # xraylib has L3-O4,5 (L-beta5) as one line, L3O45
    "L3": ["L3M1", "L3M4", "L3M5", "L3N1", "L3N4", "L3N5", "L3O1", "L3O45", "L3N6", "L3N7"],
    "M3": ["M3N5", "M3O5"],
    "M4": ["M4N6"],
    "M5": ["M5N6", "M5N7"],
}

#: Siegbahn names of the strongest lines, for display.
SIEGBAHN = {
    "KL2": "Ka2",
    "KL3": "Ka1",
    "KM3": "Kb1",
    "KM2": "Kb3",
    "L3M5": "La1",
    "L3M4": "La2",
    "L2M4": "Lb1",
    "L3N5": "Lb2",
    "L1M3": "Lb3",
    "L1M2": "Lb4",
    "L2N4": "Lg1",
    "L3M1": "Ll",
    "L2M1": "Leta",
    "M5N7": "Ma1",
    "M4N6": "Mb",
}


@dataclass(frozen=True)
class Line:
    """One emission line of one element.

    Examples
    --------
    >>> line = catalogue_for("Pb")[0]
    >>> line.group.startswith("Pb ")
    True
    """

    element: str
    z: int
    transition: str
    shell: str
    energy_kev: float
    code: int
    rate: float

    @property
    def group(self) -> str:
        """``"<element> <shell>"``, e.g. ``"Pb L3"``."""
        return f"{self.element} {self.shell}"

    @property
    def label(self) -> str:
        """Readable name, e.g. ``"Pb La1"``."""
        return f"{self.element} {SIEGBAHN.get(self.transition, self.transition)}"


@cache
def catalogue_for(
    element: str, *, min_energy_kev: float = 0.9, min_rate: float = 0.005
) -> tuple[Line, ...]:
    """Lines of one element above ``min_energy_kev`` with radiative rate >= ``min_rate``.

    Examples
    --------
    >>> [l.transition for l in catalogue_for("Ca")]
    ['KL2', 'KL3', 'KM2', 'KM3']
    """
    z = atomic_number(element)
    out = []
    for shell, transitions in _TRANSITIONS.items():
        for t in transitions:
            code = getattr(xraylib, f"{t}_LINE", None)
            if code is None:
                continue
            try:
                energy = float(xraylib.LineEnergy(z, code))
                rate = float(xraylib.RadRate(z, code))
            except ValueError:
                continue
            if energy >= min_energy_kev and rate >= min_rate:
                out.append(Line(element, z, t, shell, energy, int(code), rate))
    return tuple(out)


def line_energies(
    element: str, *, above_kev: float = 0.9, min_rate: float = 0.005
) -> tuple[float, ...]:
    """Energies (keV) of ``element``'s lines above ``above_kev`` with radiative rate at least
    ``min_rate``, in :func:`catalogue_for`'s order.

    Examples
    --------
    >>> [round(e, 2) for e in line_energies("Ca", above_kev=3.0, min_rate=0.05)]
    [3.69, 3.69, 4.01]
    """
    return tuple(
        line.energy_kev
        for line in catalogue_for(element)
        if line.energy_kev > above_kev and line.rate >= min_rate
    )


@dataclass(frozen=True)
class LineTable:
    """All lines of a set of elements, as arrays for the engine."""

    lines: tuple[Line, ...]

    @property
    def energies_kev(self) -> np.ndarray:
        """Line energies, shape (J,)."""
        return np.array([line.energy_kev for line in self.lines])

    @property
    def z(self) -> np.ndarray:
        """Atomic numbers, shape (J,)."""
        return np.array([line.z for line in self.lines], dtype=int)

    @property
    def codes(self) -> np.ndarray:
        """xraylib line macros, shape (J,)."""
        return np.array([line.code for line in self.lines], dtype=int)

    def groups(self) -> list[str]:
        """Distinct line groups in order of first appearance."""
        return list(dict.fromkeys(line.group for line in self.lines))


def line_table(elements: list[str], *, min_energy_kev: float = 0.9) -> LineTable:
    """Lines of every element of ``elements`` (in that order)."""
    lines: list[Line] = []
    for el in elements:
        lines.extend(catalogue_for(el, min_energy_kev=min_energy_kev))
    return LineTable(tuple(lines))
