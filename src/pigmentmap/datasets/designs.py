"""Dataset designs: which stacks to simulate, their labels and their instrument variation.

* ``paper``: the grid of Xu et al. (JAAS 2022) section 2.1.2;
* ``mockup``: the paper's Table 2 mixtures, the stand-in for its measured mock-ups;
* ``mixtures``: random 1-2 layer paints of 1-4 pigments, with random instrument variation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
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
#: Materials that stand in for a class (Table 1 footnote b: verdigris + sodium arsenite = EG).
STAND_INS = {"verdigris": "emerald_green", "sodium_arsenite": "emerald_green"}
_PAPER_MATERIALS = ("calcium_carbonate", *PAPER_LABELS)
PAPER_TOP_UM = tuple(range(50, 201, 10))  # 16 values
PAPER_BOTTOM_UM = tuple(range(100, 151, 10))  # 6 values
#: Ground thickness of the paper design: the mock-ups had 150-200 um; the middle is used.
PAPER_GROUND_UM = 175.0

#: Table 2 of the paper: mass fractions (%) of the mock-ups' top and bottom mixtures.
MOCKUP_TOPS: dict[str, dict[str, float]] = {
    "Top 1": {"LW": 55, "CM": 10, "PB": 25, "CB": 10},
    "Top 2": {"VM": 30, "CM": 30, "CB": 40},
    "Top 3": {"VM": 39, "CrY": 6, "IO": 39, "VG": 6, "SA": 10},
    "Top 4": {"VM": 100},
}
MOCKUP_BOTTOMS: dict[str, dict[str, float]] = {
    "Bottom 1A": {"ZW": 10, "LW": 10, "RL": 10, "VM": 70},
    "Bottom 1B": {"ZW": 10, "LW": 20, "RL": 50, "VM": 20},
    "Bottom 1C": {"ZW": 10, "LW": 50, "RL": 20, "VM": 20},
    "Bottom 2A": {"ZW": 10, "LW": 85, "VM": 5},
    "Bottom 2B": {"ZW": 10.7, "LW": 88.7, "VM": 0.6},
    "Bottom 2C": {"ZW": 10, "LW": 50, "VM": 40},
    "Bottom 3A": {"ZW": 10, "LW": 15, "CB": 15, "CrG": 60},
    "Bottom 3B": {"ZW": 10, "LW": 15, "CB": 60, "CrG": 15},
    "Bottom 3C": {"ZW": 10, "LW": 60, "CB": 15, "CrG": 15},
    "Bottom 4A": {"ZW": 10, "LW": 45, "CrY": 15, "VG": 12, "SA": 18},
    "Bottom 4B": {"ZW": 10, "LW": 30, "CrY": 30, "VG": 12, "SA": 18},
    "Bottom 4C": {"ZW": 10, "LW": 15, "CrY": 15, "VG": 24, "SA": 36},
    "Bottom 5A": {"ZW": 10, "VM": 5, "CrY": 5, "VG": 32, "SA": 48},
    "Bottom 5B": {"ZW": 78, "VM": 6, "CrY": 6, "VG": 4, "SA": 6},
    "Bottom 5C": {"ZW": 10, "VM": 15, "CrY": 15, "VG": 24, "SA": 36},
    "Bottom 6": {"VM": 100},
}
MOCKUP_TOP_UM = (30.0, 200.0)
MOCKUP_BOTTOM_UM = (50.0, 150.0)  # not given in the paper: an assumption
MOCKUP_GROUND_UM = (150.0, 200.0)


@dataclass(frozen=True)
class Design:
    """Stacks, multi-hot labels and, optionally, per-stack instrument variation.

    ``variant[i]`` indexes ``variants`` (changes of the instrument: calibration, resolution);
    ``live_time_factor[i]`` scales the instrument's live time for stack i. With
    ``detectability`` the dataset stores how significant each present class's contribution is
    (see :mod:`pigmentmap.datasets.universal`). ``simulation`` holds options of the
    :class:`~pigmentmap.simulate.simulator.Simulator` (depth cells, tube spectrum step).
    """

    name: str
    stacks: tuple[Stack, ...]
    labels: np.ndarray
    label_names: tuple[str, ...]
    variant: np.ndarray | None = None
    variants: tuple[dict[str, Any], ...] = ()
    live_time_factor: np.ndarray | None = None
    background_factor: np.ndarray | None = None
    info: dict[str, str] = field(default_factory=dict)
    detectability: bool = False
    simulation: dict[str, float] = field(default_factory=dict)


def labels_of(
    stack: Stack, label_names: tuple[str, ...], *, min_fraction: float = 0.0
) -> list[int]:
    """Multi-hot labels: a class is present when it (or its stand-in) is in any layer."""
    present = stack.pigments_present(min_fraction=min_fraction)
    present |= {STAND_INS[p] for p in present if p in STAND_INS}
    return [int(name in present) for name in label_names]


def layer_labels_of(stack: Stack, label_names: tuple[str, ...]) -> list[list[int]]:
    """Per class: [in the top layer, in a lower layer] (the first layer of some thickness is the
    top; grounds count as lower).

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> from pigmentmap.materials.stack import Layer, Stack
    >>> lib = default_library()
    >>> s = Stack((Layer(((lib["vermilion"], 1.0),), 40.0), Layer(((lib["lead_white"], 1.0),), 100.0)))
    >>> layer_labels_of(s, ("vermilion", "lead_white", "zinc_white"))
    [[1, 0], [0, 1], [0, 0]]
    """
    layers = [layer for layer in stack.layers if layer.thickness_um > 0]
    sets = []
    for layer in layers:
        names = {p.name for p, f in layer.components if f > 0}
        sets.append(names | {STAND_INS[p] for p in names if p in STAND_INS})
    return [
        [int(bool(sets) and n in sets[0]), int(any(n in s for s in sets[1:]))] for n in label_names
    ]


def _binder(library: PigmentLibrary, binder_fraction: float, binder: str):
    return library[binder] if binder_fraction > 0 else None


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
    b = _binder(library, binder_fraction, binder)
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
                    stacks.append(stack)
                    labels.append(labels_of(stack, PAPER_LABELS))
    return Design("paper", tuple(stacks), np.array(labels, dtype=np.uint8), PAPER_LABELS)


def _mixture_layer(library: PigmentLibrary, fractions: dict[str, float], thickness: float, b, bf):
    total = sum(fractions.values())
    comps = tuple((library[name], pct / total) for name, pct in fractions.items())
    return Layer(comps, thickness, b, bf)


def mockup_design(
    library: PigmentLibrary,
    *,
    n: int = 6604,
    seed: int = 0,
    binder_fraction: float = DEFAULT_BINDER_FRACTION,
    binder: str = "linseed_oil",
) -> Design:
    """The paper's Table 2 mock-ups: 4 tops x 16 bottoms on a CaCO3 ground, ``n`` spectra.

    The 64 structures are used in turn; top 30-200 um, bottom 50-150 um (an assumption: the paper
    gives no bottom thickness), ground 150-200 um, drawn uniformly; pigment:binder 3:1.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> d = mockup_design(default_library(), n=64)
    >>> d.labels.shape, d.info["structure_0"]
    ((64, 11), 'Top 1 / Bottom 1A')
    """
    if n < 1:
        raise PigmentmapError("a mockup design needs n >= 1")
    rng = np.random.default_rng(seed)
    b = _binder(library, binder_fraction, binder)
    structures = [(t, bo) for t in MOCKUP_TOPS for bo in MOCKUP_BOTTOMS]
    stacks, labels = [], []
    info = {}
    for i in range(n):
        top_name, bottom_name = structures[i % len(structures)]
        if i < len(structures):
            info[f"structure_{i}"] = f"{top_name} / {bottom_name}"
        layers = (
            _mixture_layer(
                library, MOCKUP_TOPS[top_name], rng.uniform(*MOCKUP_TOP_UM), b, binder_fraction
            ),
            _mixture_layer(
                library,
                MOCKUP_BOTTOMS[bottom_name],
                rng.uniform(*MOCKUP_BOTTOM_UM),
                b,
                binder_fraction,
            ),
            Layer(
                ((library["calcium_carbonate"], 1.0),),
                rng.uniform(*MOCKUP_GROUND_UM),
                b,
                binder_fraction,
            ),
        )
        stack = Stack(layers)
        stacks.append(stack)
        labels.append(labels_of(stack, PAPER_LABELS))
    return Design(
        "mockup", tuple(stacks), np.array(labels, dtype=np.uint8), PAPER_LABELS, info=info
    )


def weighted_choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """One key of ``weights``, drawn with probability proportional to its weight.

    Examples
    --------
    >>> weighted_choice(np.random.default_rng(0), {"chalk": 1.0, "gypsum": 0.0})
    'chalk'
    """
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def mixture_fractions(rng: np.random.Generator, k: int, *, min_fraction: float) -> np.ndarray:
    """``k`` mass fractions summing to 1, each >= ``min_fraction``: the floor plus a Dirichlet
    share (concentration 0.3, 1 or 3: from one dominant pigment to even mixtures).

    Examples
    --------
    >>> f = mixture_fractions(np.random.default_rng(0), 3, min_fraction=0.005)
    >>> round(float(f.sum()), 9), bool(f.min() >= 0.005)
    (1.0, True)
    """
    share = rng.dirichlet(np.full(k, float(rng.choice([0.3, 1.0, 3.0]))))
    return min_fraction + (1.0 - k * min_fraction) * share


MIXTURE_GROUNDS = {"calcium_carbonate": 0.7, "gypsum": 0.15, "kaolin": 0.05, "barium_white": 0.1}


def mixtures_design(
    library: PigmentLibrary,
    *,
    n: int,
    seed: int = 0,
    pigments: tuple[str, ...] = PAPER_LABELS,
    n_variants: int = 8,
    min_fraction: float = 0.005,
) -> Design:
    """Random paint: 1-2 layers of 1-4 pigments at random fractions over a random ground.

    Mass fractions are ``min_fraction`` (0.5 %) plus a Dirichlet share of the rest; top 5-150 um, second
    layer 20-150 um (log-uniform), ground 100-300 um; binder 10-40 % by mass; 5 % of stacks are
    bare ground. Instrument variation per spectrum: one of ``n_variants`` calibrations (offset
    +-20 eV, gain +-0.3 %) and resolutions (+-15 %), a live time of 0.2-5 times the instrument's
    (log-uniform) and a background level of 0.5-2 times the given background.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> d = mixtures_design(default_library(), n=50, seed=1)
    >>> d.labels.shape, len(d.variants)
    ((50, 11), 8)
    """
    if n < 1:
        raise PigmentmapError("a mixtures design needs n >= 1")
    rng = np.random.default_rng(seed)
    names = tuple(library[p].name for p in pigments)
    stacks, labels = [], []
    for _ in range(n):
        binder_fraction = float(rng.uniform(0.1, 0.4))
        b = library["linseed_oil"]
        ground = Layer(
            ((library[weighted_choice(rng, MIXTURE_GROUNDS)], 1.0),),
            float(rng.uniform(100, 300)),
            b,
            binder_fraction,
        )
        layers: list[Layer] = []
        n_layers = 0 if rng.random() < 0.05 else int(rng.choice([1, 2], p=[0.4, 0.6]))
        for k in range(n_layers):
            k_pig = int(rng.integers(1, min(4, len(names)) + 1))
            chosen = rng.choice(len(names), size=k_pig, replace=False)
            frac = mixture_fractions(rng, k_pig, min_fraction=min_fraction)
            lo, hi = (5.0, 150.0) if k == 0 else (20.0, 150.0)
            thick = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            comps = tuple((library[names[c]], float(f)) for c, f in zip(chosen, frac, strict=True))
            layers.append(Layer(comps, thick, b, binder_fraction))
        stack = Stack((*layers, ground))
        stacks.append(stack)
        labels.append(labels_of(stack, names))
    variants = tuple(
        {
            "offset_kev": float(rng.uniform(-0.02, 0.02)) if v else 0.0,
            "gain_factor": float(rng.uniform(0.997, 1.003)) if v else 1.0,
            "fwhm_factor": float(rng.uniform(0.85, 1.15)) if v else 1.0,
        }
        for v in range(n_variants)
    )
    return Design(
        "mixtures",
        tuple(stacks),
        np.array(labels, dtype=np.uint8),
        names,
        variant=rng.integers(0, n_variants, size=n),
        variants=variants,
        live_time_factor=np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=n)),
        background_factor=rng.uniform(0.5, 2.0, size=n),
    )


DESIGNS = ("paper", "mockup", "mixtures", "universal")
