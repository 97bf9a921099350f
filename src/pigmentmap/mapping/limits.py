"""What a scan can see: the least amount of each pigment whose own lines stand above the noise.

Silence in a pigment map is not absence. How little of a pigment a scan can see depends on
the tube, the detector, the dwell time and what covers the pigment, and a conservator reading
"no vermilion" needs to know whether 0.5 % of vermilion under a lead-white layer would have
shown at all. This module answers from physics, for the scan's own instrument and counts:

* a reference paint layer of :data:`LIMIT_LAYER_UM` of the pigment mixed with chalk, over a
  chalk ground of :data:`LIMIT_GROUND_UM`, bare and under each cover of :data:`LIMIT_COVERS`
  (40 um of lead white: the paper's hidden-vermilion case, and the most absorbing common cover);
* simulated at mass fractions :data:`LIMIT_FRACTIONS`, each with and without the pigment, and
  scored by the labels' own rule (:func:`pigmentmap.datasets.universal.present_class_z`: the
  matched filter over the channels of the pigment's own lines) at the scan's mean counts per
  pixel (significance grows as the square root of the counts);
* the least fraction at which it reaches :data:`LIMIT_SIGMA` (5 sigma, the level of every
  label), interpolated on log-log axes between the fractions tried.

The figures are for these reference stacks, not the painting's: a thicker cover or a more
absorbing one hides more. They say where silence means little.

Lines that stand above the noise are not yet a pigment on the map: the network must also name
it. With the model that maps the scan (:func:`map_limits`), the same reference spectra are drawn
:data:`MAP_DRAWS` times with the scan's noise and mapped, and the least fraction at which the
pigment's look-alike group is claimed (mean calibrated probability at least 0.5, before the
evidence gate) is given beside the lines' limit. ``benchmarks/limits_check.py`` measured, for the
model shipped in session 19, that it claims the group at twice the lines' limit in 27-28 % of
cases and at four times in about half, but at twice its own limit in 84-96 %: the map's own limit
is the one that says what an empty map means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.universal import DETECTABLE_SIGMA
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.library import PigmentLibrary, default_library
from pigmentmap.preprocess.preprocessor import channel_edges

#: Thickness of the reference paint layer (um) and of the chalk ground under it.
LIMIT_LAYER_UM = 50.0
LIMIT_GROUND_UM = 200.0
#: The covers a limit is given for: name -> (pigment, thickness in um), or None for bare paint.
LIMIT_COVERS: dict[str, tuple[str, float] | None] = {
    "on top": None,
    "under 40 um of lead white": ("lead_white", 40.0),
}
#: Mass fractions of the pigment in its layer that are simulated (the rest is chalk).
LIMIT_FRACTIONS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Significance a pigment's own lines must reach: every label's (5 sigma).
LIMIT_SIGMA = DETECTABLE_SIGMA
#: Noise draws of each reference spectrum that the model maps (:func:`map_limits`).
MAP_DRAWS = 8
#: The mean calibrated group probability at which the map counts a pigment as found.
MAP_CLAIM = 0.5
_DILUENT = "calcium_carbonate"


@dataclass(frozen=True)
class DetectionLimits:
    """Least mass fraction of each class seen at :data:`LIMIT_SIGMA`, per cover.

    Attributes
    ----------
    names : the classes
    covers : the covers (keys of :data:`LIMIT_COVERS`)
    fraction : (K, len(covers)) float
        The least fraction seen; ``nan`` where not even the pure pigment is seen; the first of
        :data:`LIMIT_FRACTIONS` where it is seen there already (it may be less).
    counts_per_pixel : float
        The counts the limits are for (the scan's mean per pixel).
    map_fraction : (K, len(covers)) float, optional
        The least fraction at which the map's model claims the pigment's look-alike group in
        the same stacks at these counts (:func:`map_limits`); ``nan`` where not even the pure
        pigment; None where not computed (no model, or results from before).
    """

    names: tuple[str, ...]
    covers: tuple[str, ...]
    fraction: np.ndarray
    counts_per_pixel: float
    map_fraction: np.ndarray | None = None

    def describe(self, name: str, cover: str) -> str:
        """The limit in words: ``"0.3 %"``, ``"0.1 % or less"``, ``"not seen"``, or ``"-"``
        where the cover is the pigment itself.

        Examples
        --------
        >>> import numpy as np
        >>> lim = DetectionLimits(("vermilion",), ("on top",), np.array([[0.0042]]), 1e4)
        >>> lim.describe("vermilion", "on top")
        '0.42 %'
        """
        if _is_cover(name, cover):
            return "-"
        value = float(self.fraction[self.names.index(name), self.covers.index(cover)])
        return describe_fraction(value)

    def describe_map(self, name: str, cover: str) -> str:
        """The map's own limit in words (:meth:`describe`'s, with "not found" for not even
        pure), or ``""`` where it was not computed.

        Examples
        --------
        >>> import numpy as np
        >>> lim = DetectionLimits(("vermilion",), ("on top",), np.array([[0.004]]), 1e4,
        ...                       np.array([[np.nan]]))
        >>> lim.describe_map("vermilion", "on top")
        'not found'
        """
        if self.map_fraction is None:
            return ""
        if _is_cover(name, cover):
            return "-"
        value = float(self.map_fraction[self.names.index(name), self.covers.index(cover)])
        return "not found" if not math.isfinite(value) else describe_fraction(value)

    def to_dict(self, *, json_safe: bool = False) -> dict[str, Any]:
        """Plain values for ``maps.h5`` (not seen: ``nan``), or for JSON (``json_safe``: not
        seen is ``None``, as strict JSON has no NaN)."""

        def value(v: float) -> float | None:
            return None if json_safe and not math.isfinite(v) else float(v)

        out = {
            "sigma": LIMIT_SIGMA,
            "layer_um": LIMIT_LAYER_UM,
            "ground_um": LIMIT_GROUND_UM,
            "counts_per_pixel": float(self.counts_per_pixel),
            "names": list(self.names),
            "covers": list(self.covers),
            "fraction": {n: [value(v) for v in row] for n, row in zip(self.names, self.fraction,
                                                                        strict=True)},
        }  # fmt: skip
        if self.map_fraction is not None:
            out["map_claim"] = MAP_CLAIM
            out["map_draws"] = MAP_DRAWS
            out["map_fraction"] = {n: [value(v) for v in row]
                                   for n, row in zip(self.names, self.map_fraction, strict=True)}  # fmt: skip
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectionLimits:
        """Inverse of :meth:`to_dict`."""
        per = dict(data["fraction"])
        names = tuple(data.get("names") or per)  # HDF5 keeps attributes in its own order
        covers = tuple(data["covers"])

        def table(values: dict[str, Any]) -> np.ndarray:
            return np.array(
                [[np.nan if v is None else v for v in values[n]] for n in names], dtype=np.float64
            ).reshape(len(names), len(covers))

        found = data.get("map_fraction")  # absent from results of before the map's limits
        return cls(
            names,
            covers,
            table(per),
            float(data["counts_per_pixel"]),
            None if not isinstance(found, dict) else table(dict(found)),
        )


def _is_cover(name: str, cover: str) -> bool:
    """Whether the class ``name`` is the pigment of ``cover`` (no limit under itself)."""
    covering = LIMIT_COVERS.get(cover)
    return covering is not None and covering[0] == name


def describe_fraction(value: float) -> str:
    """A limit in words.

    Examples
    --------
    >>> describe_fraction(float("nan")), describe_fraction(0.001), describe_fraction(0.0234)
    ('not seen', '0.1 % or less', '2.3 %')
    >>> describe_fraction(0.9978), describe_fraction(0.123)
    ('100 %', '12 %')
    """
    if not math.isfinite(value):
        return "not seen"
    if value <= LIMIT_FRACTIONS[0] * (1 + 1e-9):
        return f"{100 * LIMIT_FRACTIONS[0]:g} % or less"
    percent = 100 * value
    return f"{percent:.2g} %" if percent < 10 else f"{percent:.0f} %"


def reference_stack_text(name: str, fraction: float, cover: tuple[str, float] | None) -> str:
    """The reference stack of :func:`detection_limits` as stack text.

    Examples
    --------
    >>> reference_stack_text("vermilion", 0.01, ("lead_white", 40.0))
    'lead_white:40/vermilion=0.01+calcium_carbonate=0.99:50/calcium_carbonate:200'
    """
    paint = (
        f"{name}:{LIMIT_LAYER_UM:g}"
        if fraction >= 1.0
        else f"{name}={fraction:g}+{_DILUENT}={1.0 - fraction:g}:{LIMIT_LAYER_UM:g}"
    )
    top = "" if cover is None else f"{cover[0]}:{cover[1]:g}/"
    return f"{top}{paint}/{_DILUENT}:{LIMIT_GROUND_UM:g}"


def crossing(fractions: Sequence[float], z: np.ndarray, *, sigma: float = LIMIT_SIGMA) -> float:
    """Least fraction at which ``z`` reaches ``sigma``, on log-log axes between the fractions
    tried; ``nan`` where it never does, the first fraction where it does there already.

    Examples
    --------
    >>> import numpy as np
    >>> round(crossing([0.01, 0.1], np.array([1.0, 10.0])), 4)  # z grows as the fraction
    0.05
    >>> crossing([0.01, 0.1], np.array([1.0, 2.0]))
    nan
    """
    f = np.asarray(fractions, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    above = np.flatnonzero(z >= sigma)
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(f[0])
    z0, z1 = z[i - 1], z[i]
    if z0 <= 0:
        return float(f[i])
    t = (math.log(sigma) - math.log(z0)) / (math.log(z1) - math.log(z0))
    return float(math.exp(math.log(f[i - 1]) + t * (math.log(f[i]) - math.log(f[i - 1]))))


def detection_limits(
    instrument: Instrument,
    names: Sequence[str],
    *,
    counts_per_pixel: float,
    upper_kev: float | None = None,
    library: PigmentLibrary | None = None,
) -> DetectionLimits:
    """Least mass fraction of each class ``names`` whose own lines reach 5 sigma in the
    reference stacks (see the module notes) under ``instrument`` at ``counts_per_pixel``.

    Parameters
    ----------
    instrument : the scan's instrument (tube, geometry, detector)
    names : the classes (names the library does not hold are left out)
    counts_per_pixel : float
        The scan's mean counts per pixel.
    upper_kev : float, optional
        Where the scan's axis ends (default: the instrument's).

    The simulations are made once per instrument, classes and range in a process (about 4 s
    for 29 classes on a 4096-channel axis): the counts only scale them.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> lim = detection_limits(load_instrument("lab-ag"), ["vermilion"], counts_per_pixel=2e4)
    >>> on_top, under = lim.fraction[0]
    >>> bool(0.0 < on_top < under < 1.0)
    True
    """
    if not (math.isfinite(counts_per_pixel) and counts_per_pixel > 0):
        raise PigmentmapError(f"counts per pixel must be positive, got {counts_per_pixel}")
    lib = library or default_library()
    known = tuple(n for n in names if n in lib)
    # z per unit count: (known, covers, fractions); the library is the default one or given
    unit = _reference(instrument, known, _upper_end(instrument, upper_kev), lib)[0]
    fraction = np.full((len(known), len(LIMIT_COVERS)), np.nan)
    for k in range(len(known)):
        for c in range(len(LIMIT_COVERS)):
            fraction[k, c] = crossing(LIMIT_FRACTIONS, unit[k, c] * math.sqrt(counts_per_pixel))
    return DetectionLimits(known, tuple(LIMIT_COVERS), fraction, float(counts_per_pixel))


_CACHE: dict[
    tuple[str, tuple[str, ...], float, str], tuple[np.ndarray, np.ndarray, np.ndarray]
] = {}


def _upper_end(instrument: Instrument, upper_kev: float | None) -> float:
    """Where the spectra end (keV): the instrument's axis, or the scan's where it ends first
    (rounded, as the cache key of :func:`_reference`)."""
    end = float(instrument.axis.energies[-1]) + instrument.axis.gain_kev
    return round(min(end, upper_kev) if upper_kev is not None else end, 6)


def _reference(
    instrument: Instrument, known: tuple[str, ...], upper: float, lib: PigmentLibrary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference stacks simulated once per instrument, classes, range and library: their
    own-line significance at one count (K, covers, fractions) and their expected spectra on
    the instrument's axis, each summing to 1 (K, covers, fractions, C) (NaN where the class is
    its own cover: a limit there means nothing); and the spectra of each cover over the paint
    without the pigment (covers, C), each summing to 1."""
    key = (instrument.hash, known, upper, lib.hash)
    if key in _CACHE:
        return _CACHE[key]
    from pigmentmap.datasets.own_lines import own_line_channels
    from pigmentmap.datasets.universal import FILLER, class_removals, detectability_z
    from pigmentmap.materials.stack_string import parse_stack
    from pigmentmap.simulate import Simulator

    covers = tuple(LIMIT_COVERS.values())
    where, stacks = [], []
    for k, name in enumerate(known):
        for c, cover in enumerate(covers):
            if cover is not None and cover[0] == name:
                continue
            for j, f in enumerate(LIMIT_FRACTIONS):
                stacks.append(parse_stack(reference_stack_text(name, f, cover), library=lib))
                where.append((k, c, j))
    n_channels = instrument.axis.n_channels
    out = np.full((len(known), len(covers), len(LIMIT_FRACTIONS)), np.nan)
    spectra = np.full((*out.shape, n_channels), np.nan, dtype=np.float32)
    sim = Simulator(instrument, secondary_fluorescence=False)
    blank = sim.simulate(
        [parse_stack(reference_stack_text(_DILUENT, 1.0, cover), library=lib) for cover in covers]
    ).counts
    blank = (blank / np.maximum(blank.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)
    if stacks:
        labels = np.zeros((len(stacks), len(known)), dtype=np.uint8)
        for s, (k, _c, _j) in enumerate(where):
            labels[s, k] = 1
        removed = class_removals(sim, stacks, labels, known, filler=lib[FILLER])
        assert removed is not None  # every stack holds its class
        with_counts, rows, cols, without_counts = removed
        energies = sim.instrument.axis.energies
        z = detectability_z(
            with_counts[rows], without_counts, energies_kev=energies, upper_kev=(upper + 1e-9,),
            channels=own_line_channels(known, energies, library=lib)[cols],
        )[:, 0]  # fmt: skip
        totals = with_counts[rows].sum(axis=1)
        for s, (k, c, j) in enumerate(where):
            out[k, c, j] = z[s] / math.sqrt(max(float(totals[s]), 1e-12))
            spectra[k, c, j] = with_counts[rows[s]] / max(float(totals[s]), 1e-12)
    _CACHE[key] = (out, spectra, blank)
    return out, spectra, blank


def map_limits(
    limits: DetectionLimits,
    predictor: Any,
    instrument: Instrument,
    *,
    upper_kev: float | None = None,
    library: PigmentLibrary | None = None,
    seed: int = 0,
) -> DetectionLimits:
    """``limits`` with the map's own limits: the least fraction at which ``predictor`` (the
    model that maps the scan, :class:`~pigmentmap.mapping.pigments.PigmentPredictor`) claims
    each pigment's look-alike group in the reference stacks.

    Each reference spectrum, scaled to ``limits.counts_per_pixel``, is drawn :data:`MAP_DRAWS`
    times with Poisson noise (generator seeded with ``seed``: the same scan gives the same
    table), cut where the scan's axis ends (``upper_kev``), and mapped; the group's calibrated
    probability, averaged over the draws, is interpolated between the fractions tried to where
    it reaches :data:`MAP_CLAIM`. Where the paint without the pigment (the cover over chalk
    paint) already gets the group, the pigment cannot be told from it: not found. The evidence
    gate is not applied: it can only lower a claim.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.mapping.pigments import PigmentPredictor
    >>> inst = load_instrument("lab-ag")
    >>> lim = detection_limits(inst, ["vermilion"], counts_per_pixel=5e3)
    >>> found = map_limits(lim, PigmentPredictor.load("universal"), inst)
    >>> bool(0 < found.map_fraction[0, 0] <= 1), found.describe_map("vermilion", "on top")[-1]
    (True, '%')
    """
    lib = library or default_library()
    upper = _upper_end(instrument, upper_kev)
    names = tuple(predictor.names)
    known = tuple(n for n in limits.names if n in names)
    if known != limits.names:
        raise PigmentmapError("the detection limits name classes the model does not have")
    found = np.full(limits.fraction.shape, np.nan)
    if not known:
        return replace(limits, map_fraction=found)
    _z, spectra, blank = _reference(instrument, known, upper, lib)
    axis = instrument.axis
    keep = int(np.searchsorted(channel_edges(axis)[1:], upper + 1e-9, side="right"))
    axis = replace(axis, n_channels=keep)  # the channels the scan has
    usable = np.isfinite(spectra[..., 0])
    expected = np.concatenate([spectra[usable], blank])[:, :keep].astype(np.float64)
    expected *= limits.counts_per_pixel
    rng = np.random.default_rng(seed)
    draws = np.stack([rng.poisson(expected) for _ in range(MAP_DRAWS)], axis=1).astype(np.float32)
    raw, _layers = predictor.predict(draws, axis)
    post = predictor.posterior
    groups = post.group_probabilities(post.classes(raw)).mean(axis=1)  # (stacks, groups)
    groups, without = groups[: int(usable.sum())], groups[int(usable.sum()) :]
    group_of = {m: g for g, grp in enumerate(post.groups) for m in grp.members}
    p = np.full(spectra.shape[:3], np.nan)
    for s, (k, c, j) in enumerate(zip(*np.nonzero(usable), strict=True)):
        p[k, c, j] = groups[s, group_of[known[k]]]
    for k in range(len(known)):
        for c in range(len(limits.covers)):
            # a group the paint without the pigment already gets (a lead-white cover and the
            # Pb pigments) cannot show the pigment: not found
            if np.isfinite(p[k, c]).all() and without[c, group_of[known[k]]] < MAP_CLAIM:
                found[k, c] = crossing(LIMIT_FRACTIONS, p[k, c], sigma=MAP_CLAIM)
    return replace(limits, map_fraction=found)


def _range(values: np.ndarray, names: tuple[str, ...]) -> str | None:
    """``"from 0.17 % (vermilion) to 0.82 % (smalt)"`` over the finite ``values``."""
    seen = np.flatnonzero(np.isfinite(values))
    if not seen.size:
        return None
    lo, hi = seen[np.argmin(values[seen])], seen[np.argmax(values[seen])]
    return (
        f"from {describe_fraction(float(values[lo]))} ({names[lo]}) to "
        f"{describe_fraction(float(values[hi]))} ({names[hi]})"
    )


def limits_note(limits: DetectionLimits, *, spectrum: bool = False) -> str:
    """One line for the log: the range of limits on top, and the pigments each cover hides
    even pure (``spectrum``: said of one spectrum, as ``identify`` does, not of a scan); with
    the map's own limits, their range on top and the pigments it does not find even pure there.

    Examples
    --------
    >>> import numpy as np
    >>> lim = DetectionLimits(("vermilion", "smalt"), tuple(LIMIT_COVERS),
    ...                       np.array([[0.0017, 0.026], [0.0082, np.nan]]), 2e4)
    >>> limits_note(lim)  # doctest: +NORMALIZE_WHITESPACE
    'what this scan can see (own lines at 5 sigma, 20,000 counts per pixel on average; every
    limit is in the report): in a 50 um layer on top, from 0.17 % (vermilion) to 0.82 % (smalt);
    under 40 um of lead white, not even pure: smalt'
    >>> found = np.array([[0.005, 0.08], [np.nan, np.nan]])
    >>> limits_note(DetectionLimits(lim.names, lim.covers, lim.fraction, 2e4, found)).split("; ")[-2:]
    ['the map itself claims them on top from 0.5 % (vermilion) to 0.5 % (vermilion)', 'not even pure: smalt']
    """
    parts = []
    on_top = [c for c, cover in enumerate(limits.covers) if LIMIT_COVERS.get(cover) is None]
    for c, cover in enumerate(limits.covers):
        hidden = [n for n in limits.names if limits.describe(n, cover) == "not seen"]
        span = _range(limits.fraction[:, c], limits.names) if c in on_top else None
        if span:
            parts.append(f"in a {LIMIT_LAYER_UM:g} um layer {cover}, {span}")
        if hidden:
            parts.append(f"{cover}, not even pure: {', '.join(hidden)}")
    if limits.map_fraction is not None and on_top:
        c = on_top[0]
        span = _range(limits.map_fraction[:, c], limits.names)
        missed = [
            n for n in limits.names if limits.describe_map(n, limits.covers[c]) == "not found"
        ]
        who = "the model" if spectrum else "the map"
        parts.append(f"{who} itself claims them {limits.covers[c]} {span}" if span
                     else f"{who} itself claims none of them {limits.covers[c]}")  # fmt: skip
        if span and missed:
            parts.append(f"not even pure: {', '.join(missed)}")
    counts = f"{limits.counts_per_pixel:,.0f} counts" + (
        "" if spectrum else " per pixel on average"
    )
    return (
        f"what this {'spectrum' if spectrum else 'scan'} can see (own lines at {LIMIT_SIGMA:g} "
        f"sigma, {counts}; every limit is in {'--out' if spectrum else 'the report'}): "
        + "; ".join(parts)
    )
