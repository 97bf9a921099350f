"""``pigmentmap identify``: one spectrum (a point or handheld measurement, or the sum of a scan)
-> ranked pigments, each with its probability, element evidence, look-alike group and layer.

The same chain as ``pigmentmap map`` on a single pixel: the model's own preprocessing and
calibration (:mod:`pigmentmap.evaluate.posterior`), the element fit for the evidence
(:mod:`pigmentmap.mapping.evidence`; claims whose key element is not detected are capped unless
``evidence_gate=False``), the group probabilities and the layer network where the model has one.
A file holding several spectra (a scan) is identified by its sum spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.spectrum import Cube
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.mapping.alternatives import describe_alternatives, mixture_alternatives
from pigmentmap.mapping.elements import DEFAULT_ELEMENTS
from pigmentmap.mapping.evidence import SUPPORTED, UNCHECKED, UNSUPPORTED, assess
from pigmentmap.mapping.limits import DetectionLimits, detection_limits, limits_note, map_limits
from pigmentmap.mapping.unaccounted import UnaccountedRule
from pigmentmap.preprocess.preprocessor import channel_edges

_SUPPORT_WORDS = {SUPPORTED: "detected", UNSUPPORTED: "NOT detected", UNCHECKED: "cannot check"}


@dataclass(frozen=True)
class Identification:
    """What one spectrum holds, by the model.

    Attributes
    ----------
    pigments : list of dict
        One per class, most probable first: ``name``, ``probability`` (calibrated and gated),
        ``network`` (before calibration and gate), ``evidence`` (detected, NOT detected, cannot
        check), ``elements`` (key element -> significance), ``group`` and ``group_probability``
        (look-alike group of more than one class), ``or_mixture`` (the mixtures of two other
        classes with the same key elements, :mod:`pigmentmap.mapping.alternatives`; empty if
        none), ``layer`` (top, under, both, or uncertain
        below the card's confidence threshold; where the model has a layer network),
        ``layer_confidence``, ``p_top`` and ``p_under``.
    n_spectra : number of spectra summed
    model_lacks : what the model has not (calibration, groups, layer order)
    unaccounted : list of dict
        Elements detected with no pigment holding them claimed
        (:mod:`pigmentmap.mapping.unaccounted`): ``element``, ``significance`` and
        ``candidates`` (class -> probability, most probable first).
    limits : DetectionLimits, optional
        What the (summed) spectrum can see (:mod:`pigmentmap.mapping.limits`), at its counts.
    """

    pigments: list[dict[str, Any]]
    n_spectra: int
    model_lacks: tuple[str, ...]
    unaccounted: tuple[dict[str, Any], ...] = ()
    limits: DetectionLimits | None = None

    def claimed(self, threshold: float = 0.5) -> list[dict[str, Any]]:
        """The pigments at or above ``threshold``."""
        return [p for p in self.pigments if p["probability"] >= threshold]


def identify(
    cube: Cube,
    *,
    model: str,
    instrument: Instrument,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    evidence_gate: bool = True,
) -> Identification:
    """Identify the pigments of the (sum) spectrum of ``cube``.

    Examples
    --------
    >>> identify  # doctest: +ELLIPSIS
    <function identify at ...>
    """
    from pigmentmap.evaluate.layers import (
        LAYER_NAMES,
        card_min_confidence,
        layer_calls,
        layer_confidence,
    )
    from pigmentmap.mapping.pigments import PigmentPredictor, pigment_maps

    h, w, c = cube.shape
    total = np.asarray(cube.counts, dtype=np.float64).reshape(-1, c).sum(axis=0)
    one = Cube(total.reshape(1, 1, c), cube.axis)
    predictor = PigmentPredictor.load(model)  # loaded once: the maps and the map's limits
    maps = pigment_maps(one, model, predictor=predictor)
    judged = assess(maps, one.counts, one.axis, instrument, elements=elements,
                    evidence_gate=evidence_gate)  # fmt: skip
    post, fit, ev, prob = judged.posterior, judged.elements, judged.evidence, judged.prob
    names = maps.names
    groups = judged.groups[0, 0]
    group_of = {m: g for g, grp in enumerate(post.groups) for m in grp.members}
    mixtures = mixture_alternatives(names)
    member_lists = [g.members for g in post.groups]
    raw = maps.raw if maps.raw is not None else maps.prob
    rows = []
    for k, name in enumerate(names):
        g = post.groups[group_of[name]]
        row: dict[str, Any] = {
            "name": name,
            "probability": float(prob[0, 0, k]),
            "network": float(raw[0, 0, k]),
            "evidence": _SUPPORT_WORDS[int(ev.support[0, 0, k])],
            "elements": {
                e: round(float(fit.significance[0, 0, fit.names.index(e)]), 1) for e in ev.key[name]
            },
            "group": g.name if len(g.members) > 1 else "",
            "group_probability": float(groups[group_of[name]]),
            "or_mixture": describe_alternatives(mixtures[name], member_lists)
            if name in mixtures
            else "",
        }
        if maps.layers is not None:
            p2 = maps.layers[0, 0, k]
            call = layer_calls(p2[None], min_confidence=card_min_confidence(maps.model_card) or 0.0)
            row.update(
                layer=LAYER_NAMES[int(call[0])],
                layer_confidence=float(layer_confidence(p2)),
                p_top=float(p2[0]),
                p_under=float(p2[1]),
            )
        rows.append(row)
    rows.sort(key=lambda r: -r["probability"])
    loose = UnaccountedRule.of(names, fit.names)
    flags = loose.flags(fit.significance[0, 0], prob[0, 0], names)
    unaccounted = []
    for e, hit in zip(loose.elements, flags, strict=True):
        if hit:
            could = [(c, round(float(prob[0, 0, names.index(c)]), 3)) for c in loose.candidates[e]]
            unaccounted.append({
                "element": e,
                "significance": round(float(fit.significance[0, 0, fit.names.index(e)]), 1),
                "candidates": dict(sorted(could, key=lambda t: -t[1])),
            })  # fmt: skip
    upper = float(channel_edges(cube.axis)[-1])
    limits = detection_limits(
        instrument, names, counts_per_pixel=max(float(total.sum()), 1.0), upper_kev=upper
    )
    limits = map_limits(limits, predictor, instrument, upper_kev=upper)
    return Identification(rows, h * w, post.missing, tuple(unaccounted), limits)


def format_identification(result: Identification, *, top: int = 10) -> str:
    """A text table of the ``top`` most probable pigments.

    Examples
    --------
    >>> r = Identification([{"name": "vermilion", "probability": 0.97, "network": 0.99,
    ...     "evidence": "detected", "elements": {"Hg": 41.0}, "group": "",
    ...     "group_probability": 0.97}], 1, ())
    >>> print(format_identification(r))  # doctest: +NORMALIZE_WHITESPACE
    pigment                  p  network  key elements (sigma)   evidence      look-alike group
    vermilion             0.97     0.99  Hg 41                  detected      -
    >>> r = Identification(r.pigments, 1, (), ({"element": "Fe", "significance": 12.0,
    ...     "candidates": {"iron_oxide": 0.31, "red_ochre": 0.12}},))
    >>> print(format_identification(r).splitlines()[-1])  # doctest: +NORMALIZE_WHITESPACE
    unaccounted for: Fe detected at 12 sigma and no pigment holding it claimed (could be:
    iron_oxide 0.31, red_ochre 0.12)
    """
    lines = [
        f"{'pigment':20} {'p':>5} {'network':>8}  {'key elements (sigma)':22} {'evidence':13} "
        f"look-alike group" + ("  layer" if any("layer" in r for r in result.pigments) else "")
    ]
    for r in result.pigments[:top]:
        els = ", ".join(f"{e} {s:g}" for e, s in r["elements"].items()) or "none checkable"
        group = f"{r['group']} (p {r['group_probability']:.2f})" if r["group"] else "-"
        layer = f"  {r['layer'] if r['probability'] >= 0.5 else '-'}" if "layer" in r else ""
        lines.append(
            f"{r['name']:20} {r['probability']:5.2f} {r['network']:8.2f}  {els:22} "
            f"{r['evidence']:13} {group}{layer}"
        )
    for r in result.pigments:
        if r["probability"] >= 0.5 and r.get("or_mixture"):
            lines.append(f"{r['name']}: or a mixture with the same key elements: {r['or_mixture']}")
    for u in result.unaccounted:
        could = ", ".join(f"{c} {p:.2f}" for c, p in u["candidates"].items())
        lines.append(
            f"unaccounted for: {u['element']} detected at {u['significance']:g} sigma and no "
            f"pigment holding it claimed (could be: {could})"
        )
    if result.limits is not None and result.limits.names:
        lines.append(limits_note(result.limits, spectrum=True))
    return "\n".join(lines)
