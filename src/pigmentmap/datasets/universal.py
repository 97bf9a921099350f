"""The ``universal`` design: paintings and instruments randomised over what real ones vary.

One model for every instrument must have seen what changes from one scanner, one painting and
one dwell time to the next. Each group of ``group_size`` stacks is simulated with its own random
instrument (:func:`random_variant`):

* tube: anode Rh, Ag, W, Mo, Cu or Cr; 25-50 kV; no filter, Al 50-500 um or Cu 10-100 um;
  tube air path 0-20 mm;
* geometry: scattering angle 90-150 degrees, split into incidence and take-off angles of
  20-80 degrees each;
* detector: 120-200 eV at Mn K-alpha, 300-1000 um of Si, Be window 8-25 um, air path 0-20 mm,
  shelf 0.1-0.6 %, tail 0.3-3 %, pile-up resolving time 0-400 ns.

Calibration error (+-80 eV, +-0.7 % gain), the scan's channel count, gain and upper end
(20-41 keV), counts per spectrum (three decades) and smooth extra backgrounds are drawn anew at
every training epoch (:mod:`pigmentmap.ml.augment`), so the stored spectra are noise-free
expected counts on one fine simulation axis (:data:`SIM_AXIS`).

Paint (:func:`universal_design`): a ground (chalk, gypsum, lime plaster for fresco, a lead-white
priming over chalk, a clay bole, or bare glue size), with Sr and Fe traces in natural grounds;
0-3 paint layers of 5-200 um (log-uniform) of 1-3 pigments from a palette of 29 classes
(optionally some let down with a white extender: ``extended_layers``); a binder (linseed oil,
egg, animal glue; none in fresco); Mn traces in earth pigments.

Labels that physics can back: with ``detectability=True`` the dataset stores, for each class
present, the matched-filter significance ``z`` of its own lines (:func:`detectability_z`: the
spectrum with the pigment against the spectrum with the pigment's mass replaced by organic
binder, see :func:`without_pigment`, over the channels of its signature elements' lines, see
:mod:`pigmentmap.datasets.own_lines`; both simulated without secondary fluorescence, which
changes line intensities by a few percent but not what is detectable), at the stored counts.
A spectrum scaled to ``c`` times those counts has significance ``z * sqrt(c)``; a present class
whose significance is below :data:`DETECTABLE_SIGMA` is not a positive label: it is masked out
of the loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.designs import (
    PAPER_LABELS,
    Design,
    labels_of,
    mixture_fractions,
    weighted_choice,
)
from pigmentmap.datasets.own_lines import own_line_channels
from pigmentmap.instruments.instrument import Detector, Filter, Geometry, Instrument, Tube
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.pigment import Pigment
from pigmentmap.materials.stack import Layer, Stack

if TYPE_CHECKING:
    from pigmentmap.simulate.simulator import Simulator

#: The default palette: the paper's 11 classes and 18 more of the painter's common pigments.
UNIVERSAL_LABELS = (
    *PAPER_LABELS,
    "azurite",
    "malachite",
    "smalt",
    "ultramarine",
    "lead_tin_yellow_i",
    "naples_yellow",
    "orpiment",
    "realgar",
    "yellow_ochre",
    "red_ochre",
    "raw_umber",
    "titanium_white",
    "barium_white",
    "cadmium_yellow",
    "cadmium_red",
    "cerulean_blue",
    "viridian",
    "bone_black",
)
ANODES = ("Rh", "Ag", "W", "Mo", "Cu", "Cr")
#: The axis of stored universal spectra: 20 eV channels from 0 to 42 keV (the models' bins).
SIM_AXIS = EnergyAxis(offset_kev=0.0, gain_kev=0.02, n_channels=2100)
#: Simulator options: 3 depth cells per layer for secondary fluorescence and a 0.4 keV tube
#: spectrum step change total counts by 0.3 % against the defaults (6, 0.2) at 1/3 of the cost.
SIMULATION = {"n_sublayers": 3, "step_kev": 0.4}
#: A present class below this significance (sigma) at the spectrum's counts is masked.
DETECTABLE_SIGMA = 5.0
#: Upper ends (keV) of the ranges over which detectability is stored.
DETECTABILITY_UPPER_KEV = (20.0, 25.0, 30.0, 35.0, 42.0)
#: Earth pigments that carry a Mn trace.
EARTHS = ("yellow_ochre", "red_ochre", "iron_oxide")
#: Ground -> probability.
GROUNDS = {
    "chalk": 0.40,
    "gypsum": 0.20,
    "lime_plaster": 0.15,
    "lead_white_priming": 0.15,
    "bole": 0.05,
    "size_only": 0.05,
}
BINDERS = {"linseed_oil": 0.55, "egg_tempera": 0.30, "animal_glue": 0.15}
#: White extenders of no class that a paint layer's pigments may be let down with -> probability
#: (``extended_layers`` of :func:`universal_design`; none in the shipped model's recipe).
EXTENDERS = {"calcium_carbonate": 0.55, "gypsum": 0.25, "kaolin": 0.20}
#: The range (log-uniform) of the pigments' share of a let-down layer's pigment mass.
EXTENDED_PIGMENT_SHARE = (0.002, 0.5)
#: The material that stands in for a pigment's mass in the "without" spectrum.
FILLER = "linseed_oil"


def random_variant(
    rng: np.random.Generator,
    *,
    anodes: tuple[str, ...] = ANODES,
    scattering_deg: tuple[float, float] = (90.0, 150.0),
) -> dict[str, float | str]:
    """One random instrument, as plain values (stored in the dataset's ``variants``).

    Examples
    --------
    >>> import numpy as np
    >>> v = random_variant(np.random.default_rng(0), anodes=("Ag",))
    >>> v["anode"], 25 <= v["voltage_kv"] <= 50, 90 <= v["scattering_deg"] <= 150
    ('Ag', True, True)
    """
    if not anodes:
        raise PigmentmapError("at least one anode is needed")
    scatter = float(rng.uniform(*scattering_deg))
    lo, hi = max(20.0, scatter - 80.0), min(80.0, scatter - 20.0)
    incidence = float(rng.uniform(lo, hi))
    kind = rng.choice(["none", "Al", "Cu"], p=[0.5, 0.3, 0.2])
    filter_um = {"none": 0.0, "Al": rng.uniform(50, 500), "Cu": rng.uniform(10, 100)}[str(kind)]
    return {
        "anode": str(rng.choice(list(anodes))),
        "voltage_kv": float(rng.uniform(25.0, 50.0)),
        "filter": str(kind),
        "filter_um": float(filter_um),
        "tube_air_mm": float(rng.uniform(0.0, 20.0)),
        "incidence_deg": incidence,
        "takeoff_deg": scatter - incidence,
        "scattering_deg": scatter,
        "fwhm_mn_ka_ev": float(rng.uniform(120.0, 200.0)),
        "si_thickness_um": float(rng.uniform(300.0, 1000.0)),
        "detector_window_be_um": float(rng.uniform(8.0, 25.0)),
        "detector_air_mm": float(rng.uniform(0.0, 20.0)),
        "shelf_fraction": float(rng.uniform(0.001, 0.006)),
        "tail_fraction": float(np.exp(rng.uniform(np.log(0.003), np.log(0.03)))),
        "pileup_resolving_time_ns": float(rng.uniform(0.0, 400.0)),
    }


_FILTER_DENSITY = {"Al": 2.70, "Cu": 8.96}


def universal_instrument(base: Instrument, variant: dict[str, float | str]) -> Instrument:
    """``base`` with the tube, geometry and detector of ``variant``.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> v = random_variant(np.random.default_rng(1))
    >>> inst = universal_instrument(load_instrument("elio"), v)
    >>> inst.tube.anode == v["anode"], inst.geometry.scattering_angle_deg == v["scattering_deg"]
    (True, True)
    """
    kind = str(variant["filter"])
    filters = (
        (Filter(kind, float(variant["filter_um"]), _FILTER_DENSITY[kind]),)
        if kind != "none"
        else ()
    )
    tube: Tube = replace(
        base.tube,
        anode=str(variant["anode"]),
        voltage_kv=float(variant["voltage_kv"]),
        filters=filters,
        air_path_mm=float(variant["tube_air_mm"]),
    )
    geometry = Geometry(
        incidence_deg=float(variant["incidence_deg"]),
        takeoff_deg=float(variant["takeoff_deg"]),
        scattering_deg=float(variant["scattering_deg"]),
    )
    detector: Detector = replace(
        base.detector,
        fwhm_mn_ka_ev=float(variant["fwhm_mn_ka_ev"]),
        si_thickness_um=float(variant["si_thickness_um"]),
        window_be_um=float(variant["detector_window_be_um"]),
        air_path_mm=float(variant["detector_air_mm"]),
        shelf_fraction=float(variant["shelf_fraction"]),
        tail_fraction=float(variant["tail_fraction"]),
        pileup_resolving_time_ns=float(variant["pileup_resolving_time_ns"]),
    )
    return replace(
        base,
        name=f"{base.name}-universal",
        tube=tube,
        geometry=geometry,
        detector=detector,
    )


def with_trace(
    components: list[tuple[Pigment, float]], trace: Pigment, fraction: float
) -> list[tuple[Pigment, float]]:
    """``components`` (pigment, mass fraction) diluted to make room for ``fraction`` of ``trace``.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> lib = default_library()
    >>> mix = with_trace([(lib["red_ochre"], 1.0)], lib["trace_manganese"], 0.01)
    >>> [(p.name, round(f, 3)) for p, f in mix]
    [('red_ochre', 0.99), ('trace_manganese', 0.01)]
    """
    return [(p, f * (1.0 - fraction)) for p, f in components] + [(trace, fraction)]


def random_ground(
    library: PigmentLibrary, rng: np.random.Generator, binder: Pigment | None, bf: float
) -> tuple[list[Layer], bool]:
    """A random ground (kind drawn from :data:`GROUNDS`, with traces): its layers, top to
    bottom, and whether the painting is a fresco (its paint then has no binder).

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.materials import default_library
    >>> lib = default_library()
    >>> layers, fresco = random_ground(lib, np.random.default_rng(0), lib["linseed_oil"], 0.2)
    >>> 1 <= len(layers) <= 2 and isinstance(fresco, bool)
    True
    """
    kind = weighted_choice(rng, GROUNDS)
    sr, fe = library["trace_strontium"], library["trace_iron"]

    def natural(name: str) -> list[tuple[Pigment, float]]:
        comps = [(library[name], 1.0)]
        comps = with_trace(comps, sr, float(rng.uniform(0.0005, 0.005)))
        if rng.random() < 0.5:
            comps = with_trace(comps, fe, float(rng.uniform(0.0005, 0.003)))
        return comps

    thick = float(rng.uniform(100.0, 400.0))
    if kind == "chalk":
        return [Layer(tuple(natural("calcium_carbonate")), thick, binder, bf)], False
    if kind == "gypsum":
        return [Layer(tuple(natural("gypsum")), thick, binder, bf)], False
    if kind == "lime_plaster":
        comps = with_trace([(library["lime_plaster"], 1.0)], fe, float(rng.uniform(0.001, 0.01)))
        return [Layer(tuple(comps), 1000.0, None, 0.0)], True
    if kind == "lead_white_priming":
        priming = Layer(((library["lead_white"], 1.0),), float(rng.uniform(20.0, 80.0)), binder, bf)
        return [priming, Layer(tuple(natural("calcium_carbonate")), thick, binder, bf)], False
    if kind == "bole":
        comps = with_trace([(library["kaolin"], 1.0)], fe, float(rng.uniform(0.01, 0.05)))
        return [
            Layer(tuple(comps), float(rng.uniform(10.0, 40.0)), binder, bf),
            Layer(tuple(natural("gypsum")), thick, binder, bf),
        ], False
    glue = library["animal_glue"]
    return [Layer(((glue, 1.0),), thick, None, 0.0)], False


def _paint_layer(
    library: PigmentLibrary,
    rng: np.random.Generator,
    palette: tuple[str, ...],
    binder: Pigment | None,
    bf: float,
    *,
    min_fraction: float,
    extended_layers: float = 0.0,
) -> Layer:
    k = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    k = min(k, len(palette))
    chosen = [palette[i] for i in rng.choice(len(palette), size=k, replace=False)]
    frac = mixture_fractions(rng, k, min_fraction=min_fraction)
    comps = [(library[n], float(f)) for n, f in zip(chosen, frac, strict=True)]
    if extended_layers > 0 and rng.random() < extended_layers:  # no draw when off: same stacks
        lo, hi = EXTENDED_PIGMENT_SHARE
        share = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        comps = with_trace(comps, library[weighted_choice(rng, EXTENDERS)], 1.0 - share)
    if any(n in EARTHS for n in chosen) and rng.random() < 0.6:
        comps = with_trace(comps, library["trace_manganese"], float(rng.uniform(0.001, 0.01)))
    thick = float(np.exp(rng.uniform(np.log(5.0), np.log(200.0))))
    return Layer(tuple(comps), thick, binder, bf)


def universal_design(
    library: PigmentLibrary,
    *,
    n: int,
    seed: int = 0,
    pigments: tuple[str, ...] = UNIVERSAL_LABELS,
    anodes: tuple[str, ...] = ANODES,
    scattering_deg: tuple[float, float] = (90.0, 150.0),
    group_size: int = 256,
    min_fraction: float = 0.005,
    extended_layers: float = 0.0,
) -> Design:
    """Random paintings on random instruments (see the module docstring).

    Parameters
    ----------
    library : PigmentLibrary
    n : int
        Number of stacks.
    seed : int
        Seed of the design (the stored spectra are noise-free).
    pigments : tuple of str
        The label classes, library names.
    anodes, scattering_deg
        What the random instruments may use (hold some out to test on unseen instruments).
    group_size : int
        Stacks per random instrument.
    min_fraction : float
        Smallest mass fraction of a pigment in a layer.
    extended_layers : float
        Share of paint layers whose pigments are let down with a white extender of no class
        (:data:`EXTENDERS`) to :data:`EXTENDED_PIGMENT_SHARE` of the layer's pigment mass.
        0 (the shipped model's recipe) draws nothing, so the stacks are those of before.
        0.35 was tried in session 20: twice as sensitive to dilute pigments, worse layer calls
        on the painting phantom (README, *Model and map figures*).

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> d = universal_design(default_library(), n=20, seed=1, group_size=8)
    >>> d.labels.shape, len(d.variants), d.detectability
    ((20, 29), 3, True)
    """
    if n < 1:
        raise PigmentmapError("a universal design needs n >= 1")
    if group_size < 1:
        raise PigmentmapError("group_size must be >= 1")
    if not 0 < min_fraction < 1.0 / 3.0:
        raise PigmentmapError("min_fraction must be in (0, 1/3)")
    if not 0.0 <= extended_layers <= 1.0:
        raise PigmentmapError("extended_layers must be in [0, 1]")
    lo, hi = scattering_deg
    if not 40.0 <= lo <= hi <= 160.0:
        raise PigmentmapError(f"scattering angles {scattering_deg} outside 40-160 degrees")
    rng = np.random.default_rng(seed)
    palette = tuple(library[p].name for p in pigments)
    stacks, labels = [], []
    for _ in range(n):
        binder = library[weighted_choice(rng, BINDERS)]
        bf = float(rng.uniform(0.1, 0.4))
        ground, fresco = random_ground(library, rng, binder, bf)
        paint_binder, paint_bf = (None, 0.0) if fresco else (binder, bf)
        n_layers = 0 if rng.random() < 0.05 else int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        layers = [
            _paint_layer(
                library,
                rng,
                palette,
                paint_binder,
                paint_bf,
                min_fraction=min_fraction,
                extended_layers=extended_layers,
            )
            for _ in range(n_layers)
        ]
        stack = Stack((*layers, *ground))
        stacks.append(stack)
        labels.append(labels_of(stack, palette))
    n_groups = math.ceil(n / group_size)
    variants = tuple(
        random_variant(rng, anodes=anodes, scattering_deg=scattering_deg) for _ in range(n_groups)
    )
    return Design(
        "universal",
        tuple(stacks),
        np.array(labels, dtype=np.uint8),
        palette,
        variant=np.arange(n) // group_size,
        variants=variants,
        info={
            "anodes": ",".join(anodes),
            "scattering_deg": f"{lo:g}-{hi:g}",
            "group_size": str(group_size),
            **({"extended_layers": f"{extended_layers:g}"} if extended_layers > 0 else {}),
        },
        detectability=True,
        simulation=dict(SIMULATION),
    )


def without_pigment(
    stack: Stack, names: set[str], filler: Pigment, *, layers: Sequence[int] | None = None
) -> Stack:
    """``stack`` with the mass of the pigments ``names`` replaced by ``filler`` in every layer
    (or only in the layers of index ``layers``).

    The layer keeps its thickness and its other pigments' fractions; only the X-ray signature
    of the removed pigment goes (an organic filler such as the binder has no lines above 1 keV).

    Examples
    --------
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> lib = default_library()
    >>> s = parse_stack("VM=0.5+LW=0.5:50/CaCO3:100", library=lib)
    >>> sorted(without_pigment(s, {"vermilion"}, lib["linseed_oil"]).pigments_present())
    ['calcium_carbonate', 'lead_white', 'linseed_oil']
    >>> s = parse_stack("VM:30/VM=0.5+CaCO3=0.5:100", library=lib)
    >>> sorted(without_pigment(s, {"vermilion"}, lib["linseed_oil"], layers=[0]).pigments_present())
    ['calcium_carbonate', 'linseed_oil', 'vermilion']
    """
    out = []
    for index, layer in enumerate(stack.layers):
        removed = sum(f for p, f in layer.components if p.name in names)
        if removed == 0 or (layers is not None and index not in layers):
            out.append(layer)
            continue
        comps = [(p, f) for p, f in layer.components if p.name not in names]
        comps.append((filler, removed))
        out.append(replace(layer, components=tuple(comps)))
    return Stack(tuple(out))


def detectability_z(
    with_counts: np.ndarray,
    without_counts: np.ndarray,
    *,
    energies_kev: np.ndarray,
    lower_kev: float = 1.0,
    upper_kev: tuple[float, ...] = DETECTABILITY_UPPER_KEV,
    floor_counts: float = 1e-6,
    channels: np.ndarray | None = None,
) -> np.ndarray:
    """Matched-filter significance of the difference of two expected spectra, per row and range.

    ``z = sqrt(sum((S - S')^2 / S))`` over the channels from ``lower_kev`` up to each of
    ``upper_kev`` (a scan that ends at 20 keV cannot see Cd, Sn, Sb or Ba K lines): the
    signal-to-noise of the best possible test for the difference under Poisson noise at these
    counts. At ``c`` times the counts it is ``z * sqrt(c)``. ``channels`` (N, C) bool, if given,
    keeps only those channels of each row (a pigment's own lines,
    :func:`~pigmentmap.datasets.own_lines.own_line_channels`).

    Returns
    -------
    array (N, len(upper_kev))

    Examples
    --------
    >>> import numpy as np
    >>> e = np.arange(100) * 0.5
    >>> s = np.full((1, 100), 100.0)
    >>> t = s.copy(); t[0, 50] += 30.0  # at 25 keV
    >>> detectability_z(t, s, energies_kev=e, upper_kev=(20.0, 42.0)).round(3).tolist()
    [[0.0, 2.631]]
    """
    s = np.maximum(with_counts, floor_counts)
    term = (with_counts - without_counts) ** 2 / s
    if channels is not None:
        term = np.where(channels, term, 0.0)
    out = np.empty((term.shape[0], len(upper_kev)))
    for j, hi in enumerate(upper_kev):
        keep = (energies_kev >= lower_kev) & (energies_kev < hi)
        out[:, j] = np.sqrt(term[:, keep].sum(axis=-1))
    return out


def present_class_z(
    sim: Simulator,
    stacks: Sequence[Stack],
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    filler: Pigment,
    upper_kev: tuple[float, ...] = DETECTABILITY_UPPER_KEV,
) -> np.ndarray:
    """Significance ``z`` (N, K, len(upper_kev)) of each present class's own lines in
    ``stacks`` at their expected counts under ``sim``; 0 where a class is absent (``labels``
    (N, K) multi-hot).

    Each present class is removed (with its stand-ins, its mass replaced by ``filler``, see
    :func:`without_pigment`) and both spectra are compared by :func:`detectability_z` over the
    channels of the class's own lines (:func:`~pigmentmap.datasets.own_lines.own_line_channels`):
    what it does to the rest of the spectrum (absorbing other lines, scattering) names no
    pigment. Pass a simulator without secondary fluorescence for speed: it changes line
    intensities by a few percent, not what is detectable.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> lib = default_library()
    >>> sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    >>> stacks = [parse_stack("VM=0.003+LW=0.997:150/CaCO3:100", library=lib),
    ...           parse_stack("VM:30/LW:150/CaCO3:100", library=lib)]
    >>> z = present_class_z(sim, stacks, np.array([[1], [1]]), ["vermilion"],
    ...                     filler=lib["linseed_oil"], upper_kev=(42.0,))
    >>> bool(z[0, 0, 0] < z[1, 0, 0])
    True
    """
    z = np.zeros((len(stacks), len(label_names), len(upper_kev)), dtype=np.float32)
    removed = class_removals(sim, stacks, labels, label_names, filler=filler)
    if removed is not None:
        with_counts, rows, cols, without_counts = removed
        energies = sim.instrument.axis.energies
        own = own_line_channels(label_names, energies)
        z[rows, cols] = detectability_z(
            with_counts[rows], without_counts, energies_kev=energies, upper_kev=upper_kev,
            channels=own[cols],
        )  # fmt: skip
    return z


def class_removals(
    sim: Simulator,
    stacks: Sequence[Stack],
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    filler: Pigment,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The expected spectra of ``stacks`` and of each stack without each present class (with
    its stand-ins, its mass replaced by ``filler``): ``(with_counts (N, C), rows (J,), cols
    (J,), without_counts (J, C))``, one row of ``without_counts`` per (stack, class) job;
    None where no class is present.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> lib = default_library()
    >>> sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    >>> s = [parse_stack("VM=0.5+LW=0.5:50/CaCO3:100", library=lib)]
    >>> w, rows, cols, wo = class_removals(sim, s, np.array([[1, 1]]), ["vermilion", "lead_white"],
    ...                                    filler=lib["linseed_oil"])
    >>> rows.tolist(), cols.tolist(), wo.shape[0]
    ([0, 0], [0, 1], 2)
    """
    from pigmentmap.datasets.designs import STAND_INS

    jobs: list[tuple[int, int]] = []
    without = []
    for i, stack in enumerate(stacks):
        for k in np.flatnonzero(labels[i]):
            name = label_names[int(k)]
            names = {name} | {p for p, cls in STAND_INS.items() if cls == name}
            jobs.append((i, int(k)))
            without.append(without_pigment(stack, names, filler))
    if not jobs:
        return None
    with_counts = sim.simulate(list(stacks)).counts
    without_counts = sim.simulate(without).counts
    rows = np.array([i for i, _ in jobs])
    cols = np.array([k for _, k in jobs])
    return with_counts, rows, cols, without_counts


def present_part_z(
    sim: Simulator,
    stacks: Sequence[Stack],
    class_z: np.ndarray,
    label_names: Sequence[str],
    *,
    filler: Pigment,
    upper_kev: tuple[float, ...] = DETECTABILITY_UPPER_KEV,
) -> np.ndarray:
    """Significance (N, K, 2, len(upper_kev)) of each layer part of each present class: its
    part in the top layer and its part in the lower layers (grounds and primings count as lower,
    as in :func:`~pigmentmap.datasets.designs.layer_labels_of`).

    A class in one part only has that part's significance equal to the class's own ``class_z``
    (N, K, len(upper_kev), from :func:`present_class_z`; 0 where absent) and 0 for the other.
    For a class in both, each part is removed on its own (its mass replaced by ``filler`` in
    those layers, :func:`without_pigment`) and compared by :func:`detectability_z` over the
    class's own lines, as in :func:`present_class_z`: so a lower part that the top layer hides
    gets a significance near 0, and the layer label XRF can back is then "top", not "both"
    (:func:`pigmentmap.ml.augment.Augmenter`'s ``label_z``).

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> lib = default_library()
    >>> sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    >>> stacks = [parse_stack("VM:80/VM=0.5+CaCO3=0.5:100", library=lib),  # hides the VM below
    ...           parse_stack("VM=0.02+CaCO3=0.98:10/VM=0.5+CaCO3=0.5:100", library=lib)]
    >>> names = ["vermilion"]
    >>> z = present_class_z(sim, stacks, np.array([[1], [1]]), names, filler=lib["linseed_oil"],
    ...                     upper_kev=(42.0,))
    >>> part = present_part_z(sim, stacks, z, names, filler=lib["linseed_oil"], upper_kev=(42.0,))
    >>> bool(part[0, 0, 0, 0] > 100 > part[0, 0, 1, 0]), bool(part[1, 0, 1, 0] > 100)
    (True, True)
    """
    from pigmentmap.datasets.designs import STAND_INS, layer_labels_of

    z = np.asarray(class_z, dtype=np.float32)
    out = np.zeros((len(stacks), len(label_names), 2, len(upper_kev)), dtype=np.float32)
    jobs: list[tuple[int, int]] = []
    without: list[Stack] = []
    for i, stack in enumerate(stacks):
        parts = layer_labels_of(stack, tuple(label_names))  # the same top / lower rule
        top_layer = next((j for j, layer in enumerate(stack.layers) if layer.thickness_um > 0), 0)
        below = [j for j in range(len(stack.layers)) if j != top_layer]
        for k in np.flatnonzero(z[i].max(axis=-1) > 0):
            top, lower = parts[int(k)]
            if top and lower:
                name = label_names[int(k)]
                names = {name} | {p for p, cls in STAND_INS.items() if cls == name}
                jobs.append((i, int(k)))
                without.append(without_pigment(stack, names, filler, layers=[top_layer]))
                without.append(without_pigment(stack, names, filler, layers=below))
            else:
                out[i, k, 0 if top else 1] = z[i, k]
    if jobs:
        rows = np.array([i for i, _ in jobs])
        cols = np.array([k for _, k in jobs])
        with_counts = sim.simulate([stacks[i] for i in rows]).counts
        without_counts = sim.simulate(without).counts
        energies = sim.instrument.axis.energies
        own = own_line_channels(label_names, energies)[cols]
        for part in (0, 1):
            out[rows, cols, part] = detectability_z(
                with_counts, without_counts[part::2], energies_kev=energies, upper_kev=upper_kev,
                channels=own,
            )  # fmt: skip
    return out
