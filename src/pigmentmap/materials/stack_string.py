"""The STACK string: ``"HgS:100/lead_white:120/CaCO3:180"``, top to bottom, thickness in um.

A layer is ``COMPONENTS:THICKNESS``; COMPONENTS is one pigment, or a mixture
``name=fraction+name=fraction...`` whose mass fractions sum to 1 (or are rescaled with
``normalise=True``). A pigment is named by its name, any alias or its formula.
"""

from __future__ import annotations

import math

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.pigment import Pigment
from pigmentmap.materials.stack import DEFAULT_BINDER_FRACTION, Layer, Stack


def _number(text: str, what: str, context: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PigmentmapError(
            f"malformed stack: {what} '{text}' in '{context}' is not a number"
        ) from None
    if not math.isfinite(value):
        raise PigmentmapError(f"malformed stack: {what} '{text}' in '{context}' is not finite")
    return value


def _parse_layer(
    text: str, library: PigmentLibrary, normalise: bool
) -> tuple[tuple[tuple[Pigment, float], ...], float]:
    comps_text, sep, thick_text = text.rpartition(":")
    if not sep or not comps_text.strip() or not thick_text.strip():
        raise PigmentmapError(
            f"malformed stack layer '{text}': expected PIGMENT:THICKNESS_UM, e.g. 'HgS:100'"
        )
    thickness = _number(thick_text.strip(), "thickness", text)
    if thickness < 0:
        raise PigmentmapError(f"layer '{text}' has a negative thickness")
    items = [c.strip() for c in comps_text.split("+")]
    if any(not c for c in items):
        raise PigmentmapError(f"malformed stack layer '{text}': empty component")
    comps: list[tuple[Pigment, float]] = []
    for item in items:
        name, eq, frac_text = item.partition("=")
        if eq:
            frac = _number(frac_text.strip(), "fraction", text)
            if frac < 0:
                raise PigmentmapError(f"layer '{text}': negative fraction for '{name.strip()}'")
        elif len(items) > 1:
            raise PigmentmapError(
                f"layer '{text}': give a mass fraction for every pigment of a mixture, "
                "e.g. 'ZnO=0.1+lead_white=0.9:120'"
            )
        else:
            frac = 1.0
        comps.append((library[name.strip()], frac))
    total = sum(f for _, f in comps)
    if normalise:
        if total <= 0:
            raise PigmentmapError(f"layer '{text}': fractions sum to 0, cannot normalise")
        comps = [(p, f / total) for p, f in comps]
    elif abs(total - 1.0) > 1e-3:
        raise PigmentmapError(
            f"layer '{text}': mass fractions sum to {total:.4g}, not 1 (use --normalise to rescale)"
        )
    return tuple(comps), thickness


#: Most layers a stack string may have (the secondary-fluorescence terms grow as its square).
MAX_LAYERS = 50


def parse_stack(
    text: str,
    *,
    library: PigmentLibrary,
    binder_fraction: float = DEFAULT_BINDER_FRACTION,
    binder: str = "linseed_oil",
    pure: bool = False,
    normalise: bool = False,
) -> Stack:
    """Parse a STACK string into a :class:`Stack`.

    Parameters
    ----------
    text : str
        Layers separated by ``/``, top first.
    library : PigmentLibrary
        Where pigment names are looked up.
    binder_fraction : float
        Binder mass fraction of every layer (default 0.25, the paper's 3:1).
    binder : str
        Library name of the binder material.
    pure : bool
        Pure pigment layers, no binder.
    normalise : bool
        Rescale each layer's fractions to sum to 1 instead of refusing.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> s = parse_stack("ZnO=0.1+lead_white=0.85+HgS=0.05:120", library=default_library())
    >>> sorted(s.layers[0].pigment_fractions)
    ['lead_white', 'vermilion', 'zinc_white']
    """
    if not text or not text.strip():
        raise PigmentmapError("empty stack string")
    binder_material = None if pure else library[binder]
    fraction = 0.0 if pure else binder_fraction
    parts = text.split("/")
    if len(parts) > MAX_LAYERS:
        raise PigmentmapError(
            f"the stack has {len(parts)} layers; at most {MAX_LAYERS} (paintings have a few)"
        )
    layers = []
    for part in parts:
        if not part.strip():
            raise PigmentmapError(f"malformed stack '{text}': empty layer between '/'")
        comps, thickness = _parse_layer(part.strip(), library, normalise)
        layers.append(
            Layer(comps, thickness_um=thickness, binder=binder_material, binder_fraction=fraction)
        )
    return Stack(tuple(layers))
