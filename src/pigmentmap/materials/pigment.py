"""A pigment (or ground, or binder): composition, density, colour, names, source."""

from __future__ import annotations

from dataclasses import dataclass

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.formula import atomic_number, mass_fractions


@dataclass(frozen=True)
class Pigment:
    """A material of the library.

    Parameters
    ----------
    name : str
        Canonical name, lower case with underscores (``lead_white``).
    composition : dict
        Element symbol -> mass fraction, summing to 1.
    density_g_cm3 : float
        Density of the pure material.
    colour_srgb : tuple of int
        Approximate display colour (0-255 each).
    aliases : tuple of str
        Other names (the paper's abbreviations, common names, the formula).
    formula : str or None
        Chemical formula when the material has one.
    kind : str
        ``pigment``, ``ground`` or ``binder``.
    note : str
        One-line source note.

    Examples
    --------
    >>> p = Pigment.from_formula("vermilion", "HgS", density_g_cm3=8.1)
    >>> round(p.composition["S"], 3)
    0.138
    """

    name: str
    composition: dict[str, float]
    density_g_cm3: float
    colour_srgb: tuple[int, int, int] = (128, 128, 128)
    aliases: tuple[str, ...] = ()
    formula: str | None = None
    kind: str = "pigment"
    note: str = ""

    def __post_init__(self) -> None:
        if not self.composition:
            raise PigmentmapError(f"pigment '{self.name}' has an empty composition")
        for el, frac in self.composition.items():
            atomic_number(el)
            if not frac >= 0:
                raise PigmentmapError(f"pigment '{self.name}': negative fraction for {el}")
        total = sum(self.composition.values())
        if abs(total - 1.0) > 1e-3:
            raise PigmentmapError(
                f"pigment '{self.name}': element mass fractions sum to {total:.4f}, not 1"
            )
        if not (self.density_g_cm3 > 0):
            raise PigmentmapError(f"pigment '{self.name}': density must be positive")
        if len(self.colour_srgb) != 3 or not all(0 <= c <= 255 for c in self.colour_srgb):
            raise PigmentmapError(f"pigment '{self.name}': colour_srgb must be 3 values in 0-255")
        if self.kind not in ("pigment", "ground", "binder"):
            raise PigmentmapError(
                f"pigment '{self.name}': kind must be pigment, ground or binder, got '{self.kind}'"
            )

    @classmethod
    def from_formula(cls, name: str, formula: str, *, density_g_cm3: float, **kw) -> Pigment:
        """Build a pigment whose composition comes from its formula."""
        return cls(
            name=name,
            composition=mass_fractions(formula),
            density_g_cm3=density_g_cm3,
            formula=formula,
            **kw,
        )

    @property
    def elements(self) -> tuple[str, ...]:
        """Element symbols, heaviest first."""
        return tuple(sorted(self.composition, key=atomic_number, reverse=True))
