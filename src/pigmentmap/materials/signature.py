"""Which elements of a pigment XRF can name it by: its major elements, and its signature.

A pigment's *major elements* are those that make up at least 5 % of its mass. Two subsets
matter downstream:

* the *key elements* (:func:`pigmentmap.mapping.evidence.key_elements`): major elements from Ca
  on, whose absence from a measured spectrum rules the pigment out;
* the *signature elements* (:func:`signature_elements`): major elements from Si on (lines above
  1.7 keV, inside every model's input), without the elements every ground carries
  (:data:`GROUND_ELEMENTS`). Their lines are what can name the pigment when it is there: a
  label counts only where they stand above the noise
  (:func:`pigmentmap.datasets.universal.present_class_z`).
"""

from __future__ import annotations

from pigmentmap.materials.formula import atomic_number
from pigmentmap.materials.library import PigmentLibrary, default_library

#: Smallest mass fraction of an element that makes it a major element of a pigment.
MAJOR_MASS_FRACTION = 0.05
#: Lightest signature element: Si (K-alpha 1.74 keV); lighter lines lie below the model input.
SIGNATURE_MIN_Z = 14
#: Elements that chalk, gypsum and lime grounds carry: their lines cannot name a pigment.
GROUND_ELEMENTS = ("Ca",)


def major_elements(
    pigment: str,
    *,
    library: PigmentLibrary | None = None,
    min_fraction: float = MAJOR_MASS_FRACTION,
    min_z: int = 1,
) -> tuple[str, ...]:
    """Elements of at least ``min_fraction`` of ``pigment``'s mass and atomic number ``min_z``
    or more, heaviest first; empty for a name the library does not hold.

    Examples
    --------
    >>> major_elements("chrome_yellow", min_z=14)
    ('Pb', 'Cr')
    >>> major_elements("no_such_pigment")
    ()
    """
    lib = library or default_library()
    if pigment not in lib:
        return ()
    comp = lib[pigment].composition
    return tuple(
        e
        for e in sorted(comp, key=atomic_number, reverse=True)
        if comp[e] >= min_fraction and atomic_number(e) >= min_z
    )


def signature_elements(pigment: str, *, library: PigmentLibrary | None = None) -> tuple[str, ...]:
    """The elements whose own lines can name ``pigment``: major elements from Si on, less
    :data:`GROUND_ELEMENTS`.

    Examples
    --------
    >>> signature_elements("bone_black")  # its Ca is also every chalk ground's
    ('P',)
    >>> signature_elements("ultramarine")
    ('S', 'Si')
    >>> signature_elements("barium_white")
    ('Ba', 'S')
    """
    majors = major_elements(pigment, library=library, min_z=SIGNATURE_MIN_Z)
    return tuple(e for e in majors if e not in GROUND_ELEMENTS)
