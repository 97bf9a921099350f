"""Dataset designs. ``paper``: the grid of Xu et al. (JAAS 2022) section 2.1.2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.stack import DEFAULT_BINDER_FRACTION, Layer, Stack

#: The 11 pigment classes of the paper's Table 1 (the CaCO3 ground is not a class).
PAPER_LABELS = (
    "chrome_oxide_green",
    "chrome_yellow",
    "cobalt_blue",
    "emerald_green",
    "iron_oxide",
    "lead_white",
    "prussian_blue",
    "red_lead",
    "carmine",
    "vermilion",
    "zinc_white",
)
_PAPER_MATERIALS = ("calcium_carbonate", *PAPER_LABELS)
PAPER_TOP_UM = tuple(range(50, 201, 10))  # 16 values
PAPER_BOTTOM_UM = tuple(range(100, 151, 10))  # 6 values
#: Ground thickness of the paper design: the mock-ups had 150-200 um; the middle is used.
PAPER_GROUND_UM = 175.0


@dataclass(frozen=True)
class Design:
    """Stacks with their multi-hot labels."""

    stacks: tuple[Stack, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]


def paper_design(
    library: PigmentLibrary,
    *,
    binder_fraction: float = DEFAULT_BINDER_FRACTION,
    binder: str = "linseed_oil",
) -> Design:
    """The paper's 16,224 stacks: 13 x 13 layer choices x 16 top x 6 bottom thicknesses.

    Each of the top and bottom layers is one of the 12 Table-1 materials or absent (zero
    thickness); the ground is CaCO3. Labels mark the 11 pigment classes present.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> d = paper_design(default_library())
    >>> len(d.stacks), d.labels.shape
    (16224, (16224, 11))
    """
    b = library[binder] if binder_fraction > 0 else None
    mats = [library[n] for n in _PAPER_MATERIALS]
    ground = Layer(((library["calcium_carbonate"], 1.0),), PAPER_GROUND_UM, b, binder_fraction)
    stacks, labels = [], []
    choices = [*mats, None]
    for top in choices:
        for bottom in choices:
            for t_top in PAPER_TOP_UM:
                for t_bot in PAPER_BOTTOM_UM:
                    layers = []
                    for mat, thick in ((top, t_top), (bottom, t_bot)):
                        m = mat if mat is not None else mats[0]
                        layers.append(
                            Layer(((m, 1.0),), float(thick) if mat else 0.0, b, binder_fraction)
                        )
                    stack = Stack((*layers, ground))
                    present = stack.pigments_present()
                    stacks.append(stack)
                    labels.append([name in present for name in PAPER_LABELS])
    return Design(tuple(stacks), np.array(labels, dtype=np.uint8), PAPER_LABELS)
