"""Paint layers (pigments + binder) and stacks of layers, top to bottom."""

from __future__ import annotations

from dataclasses import dataclass

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.pigment import Pigment

#: Binder mass fraction of a paint layer unless told otherwise: the paper's mock-ups used
#: pigment:binder 3:1 by weight (Xu et al. 2022, section 2.1.1).
DEFAULT_BINDER_FRACTION = 0.25

_FRACTION_TOL = 1e-3


@dataclass(frozen=True)
class Layer:
    """One paint layer: pigments at mass fractions (of the pigment part), binder, thickness.

    Parameters
    ----------
    components : tuple of (Pigment, float)
        Pigments and their mass fractions within the pigment part; they sum to 1.
    thickness_um : float
        Layer thickness in micrometres (0 allowed: the layer is absent).
    binder : Pigment or None
        The binder material; ``None`` or ``binder_fraction=0`` means pure pigment.
    binder_fraction : float
        Binder mass fraction of the whole layer, in [0, 1).

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> lib = default_library()
    >>> layer = Layer(((lib["HgS"], 1.0),), thickness_um=100, binder=None, binder_fraction=0.0)
    >>> round(layer.composition["Hg"], 3)
    0.862
    """

    components: tuple[tuple[Pigment, float], ...]
    thickness_um: float
    binder: Pigment | None = None
    binder_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not self.components:
            raise PigmentmapError("a layer needs at least one pigment")
        if not self.thickness_um >= 0:
            raise PigmentmapError(f"layer thickness must be >= 0 um, got {self.thickness_um}")
        fractions = [f for _, f in self.components]
        if any(not f >= 0 for f in fractions):
            raise PigmentmapError("pigment mass fractions must be >= 0")
        total = sum(fractions)
        if abs(total - 1.0) > _FRACTION_TOL:
            names = "+".join(p.name for p, _ in self.components)
            raise PigmentmapError(
                f"mass fractions of {names} sum to {total:.4g}, not 1 (use normalise to rescale)"
            )
        if not 0.0 <= self.binder_fraction < 1.0:
            raise PigmentmapError(f"binder fraction must be in [0, 1), got {self.binder_fraction}")
        if self.binder_fraction > 0 and self.binder is None:
            raise PigmentmapError("a binder fraction was given without a binder material")

    @property
    def pigment_fractions(self) -> dict[str, float]:
        """Pigment name -> mass fraction of the whole layer (binder excluded)."""
        scale = 1.0 - self.binder_fraction
        out: dict[str, float] = {}
        for p, f in self.components:
            out[p.name] = out.get(p.name, 0.0) + f * scale
        return out

    @property
    def composition(self) -> dict[str, float]:
        """Element -> mass fraction of the whole layer, binder included."""
        parts: list[tuple[Pigment, float]] = [
            (p, f * (1.0 - self.binder_fraction)) for p, f in self.components
        ]
        if self.binder is not None and self.binder_fraction > 0:
            parts.append((self.binder, self.binder_fraction))
        out: dict[str, float] = {}
        total = sum(w for _, w in parts)
        for material, w in parts:
            for el, frac in material.composition.items():
                out[el] = out.get(el, 0.0) + frac * w / total
        return out

    @property
    def density_g_cm3(self) -> float:
        """Density assuming additive volumes (no porosity): 1/rho = sum(w_i / rho_i)."""
        inv = sum(f * (1.0 - self.binder_fraction) / p.density_g_cm3 for p, f in self.components)
        if self.binder is not None and self.binder_fraction > 0:
            inv += self.binder_fraction / self.binder.density_g_cm3
        return 1.0 / inv

    @property
    def mass_thickness_g_cm2(self) -> float:
        """Density times thickness."""
        return self.density_g_cm3 * self.thickness_um * 1e-4


@dataclass(frozen=True)
class Stack:
    """Layers from the surface down.

    Examples
    --------
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> stack = parse_stack("VM:100/LW:120/CaCO3:180", library=default_library())
    >>> [layer.thickness_um for layer in stack.layers]
    [100.0, 120.0, 180.0]
    >>> sorted(stack.pigments_present())
    ['calcium_carbonate', 'lead_white', 'vermilion']
    """

    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise PigmentmapError("a stack needs at least one layer")
        if not sum(layer.thickness_um for layer in self.layers) > 0:
            raise PigmentmapError("the total thickness of a stack must be positive")

    def pigments_present(self, *, min_fraction: float = 0.0) -> set[str]:
        """Names of pigments in any layer of non-zero thickness above ``min_fraction``."""
        out: set[str] = set()
        for layer in self.layers:
            if layer.thickness_um <= 0:
                continue
            out.update(n for n, f in layer.pigment_fractions.items() if f > min_fraction)
        return out

    @property
    def elements(self) -> set[str]:
        """Every element in a layer of non-zero thickness."""
        out: set[str] = set()
        for layer in self.layers:
            if layer.thickness_um > 0:
                out.update(el for el, f in layer.composition.items() if f > 0)
        return out

    def describe(self) -> str:
        """The stack in the STACK string syntax (pigment part only)."""
        parts = []
        for layer in self.layers:
            comps = "+".join(f"{p.name}={f:g}" for p, f in layer.components)
            parts.append(f"{comps}:{layer.thickness_um:g}")
        return "/".join(parts)
