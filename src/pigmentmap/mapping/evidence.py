"""Element evidence for pigment claims: is each claimed pigment's key element measured?

A network can call a pigment from the shape of a spectrum even where the element that defines it
gives no measurable line (on a real fresco scan a model claimed vermilion where no Hg was
measured, and chrome yellow where Cr was barely there). The element fit
(:func:`pigmentmap.mapping.elements.fit_elements`) gives every element's significance in every
pixel; this module checks each claim against it.

Key elements
------------
A pigment's key elements (:func:`key_elements`) are those making up at least
:data:`KEY_MASS_FRACTION` of its mass with atomic number at least :data:`KEY_MIN_Z` (Ca): their
K or L lines lie above 3.6 keV, where air and a thin paint layer do not hide them. Lighter ones
(Na, Al, Si, S, K in ultramarine or smalt's glass) are no evidence when absent: a pigment with no
key element (ultramarine, organic lakes, carbon black) cannot be checked and is never gated.

Support
-------
In each pixel and for each class, :func:`evidence` gives one of

- :data:`SUPPORTED` (1): every key element is detected (significance >= :data:`DETECTED_SIGMA`);
- :data:`UNSUPPORTED` (0): a key element that the fit could measure is not detected;
- :data:`UNCHECKED` (-1): no key element could be measured: the pigment has none, or its lines
  lie outside the scan's range, or the fit did not report them in that pixel (under a tube line,
  a scatter peak or the pixel's own sum peaks, where an element is reported only when highly
  significant, so a missing one is no evidence).

The gate (on by default in ``pigmentmap map``; ``--no-evidence-gate`` turns it off) caps the
probability of an unsupported claim at :data:`UNSUPPORTED_CAP`, below the 0.5 threshold: the map
still shows that the network saw something, but no pigment is claimed without its element.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.signature import MAJOR_MASS_FRACTION, major_elements

#: Smallest mass fraction of an element that makes it a key element of a pigment.
KEY_MASS_FRACTION = MAJOR_MASS_FRACTION
#: Lightest key element (Ca, K-alpha 3.69 keV): lighter lines are absorbed by air and paint.
KEY_MIN_Z = 20
#: Significance from which an element counts as detected in a pixel (3 sigma).
DETECTED_SIGMA = 3.0
#: Probability an unsupported claim is capped at.
UNSUPPORTED_CAP = 0.25

SUPPORTED, UNSUPPORTED, UNCHECKED = 1, 0, -1
#: Share of pixels with an unsupported claim above which the log suggests recalibrating: on the
#: mock-up phantom it is 2 % with the true calibration, 21-40 % with +-80 eV of error.
MISCALIBRATION_SHARE = 0.10


def key_elements(pigment: str, *, library: PigmentLibrary | None = None) -> tuple[str, ...]:
    """The elements XRF must see for ``pigment`` to be claimed, heaviest first.

    Examples
    --------
    >>> key_elements("chrome_yellow")
    ('Pb', 'Cr')
    >>> key_elements("ultramarine")  # Na, Al, Si, S: too light to be evidence when absent
    ()
    >>> key_elements("no_such_pigment")
    ()
    """
    return major_elements(pigment, library=library, min_fraction=KEY_MASS_FRACTION, min_z=KEY_MIN_Z)


@dataclass(frozen=True)
class Evidence:
    """Element evidence for every class in every pixel.

    Attributes
    ----------
    support : (H, W, K) int8
        :data:`SUPPORTED`, :data:`UNSUPPORTED` or :data:`UNCHECKED` (see the module notes).
    missing : (H, W, K) int8
        Index into ``key`` of the first key element not detected (-1 where none is missing).
    key : dict
        Class -> its key elements that the fit measured (empty: cannot be checked).
    unmeasured : dict
        Class -> its key elements the fit did not measure (no line inside the scan's range).
    """

    support: np.ndarray
    missing: np.ndarray
    key: dict[str, tuple[str, ...]]
    unmeasured: dict[str, tuple[str, ...]]


def measured_keys(
    names: tuple[str, ...] | list[str],
    element_names: tuple[str, ...] | list[str],
    *,
    library: PigmentLibrary | None = None,
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Each class's key elements that the fit measured (``element_names``), and those it did not.

    Examples
    --------
    >>> measured_keys(["chrome_yellow"], ["Pb"])
    ({'chrome_yellow': ('Pb',)}, {'chrome_yellow': ('Cr',)})
    """
    key, unmeasured = {}, {}
    for name in names:
        wanted = key_elements(name, library=library)
        key[name] = tuple(e for e in wanted if e in element_names)
        unmeasured[name] = tuple(e for e in wanted if e not in element_names)
    return key, unmeasured


def evidence(
    names: tuple[str, ...] | list[str],
    significance: np.ndarray,
    element_names: tuple[str, ...] | list[str],
    *,
    hidden: np.ndarray | None = None,
    library: PigmentLibrary | None = None,
    detected_sigma: float = DETECTED_SIGMA,
) -> Evidence:
    """Whether each class's key elements are detected, pixel by pixel.

    Parameters
    ----------
    names : K class names (library names).
    significance : (H, W, E) array
        Element significance from the fit.
    element_names : E element symbols, the order of ``significance``.
    hidden : (H, W, E) bool, optional
        Where the fit did not report an element (its lines under a tube line, a scatter peak or
        the pixel's own sum peaks, :attr:`~pigmentmap.mapping.elements.ElementMaps.hidden`): a
        key element hidden there and not detected is no evidence either way.
    detected_sigma : float
        Significance from which an element counts as detected.

    Examples
    --------
    >>> import numpy as np
    >>> sig = np.array([[[40.0, 0.5], [40.0, 9.0]]])  # two pixels: Pb, Cr
    >>> ev = evidence(["chrome_yellow", "lead_white"], sig, ["Pb", "Cr"])
    >>> ev.support[0].tolist()  # chrome yellow lacks Cr in the first pixel
    [[0, 1], [1, 1]]
    >>> ev.key["chrome_yellow"]
    ('Pb', 'Cr')
    """
    sig = np.asarray(significance)
    if sig.ndim != 3 or sig.shape[-1] != len(element_names):
        raise PigmentmapError(
            f"significance of shape {sig.shape} does not match {len(element_names)} elements"
        )
    h, w, _ = sig.shape
    support = np.full((h, w, len(names)), UNCHECKED, dtype=np.int8)
    missing = np.full((h, w, len(names)), -1, dtype=np.int8)
    hide = np.zeros(sig.shape, dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool)
    if hide.shape != sig.shape:
        raise PigmentmapError(f"hidden {hide.shape} and significance {sig.shape} differ")
    key, unmeasured = measured_keys(names, element_names, library=library)
    for k, name in enumerate(names):
        if not key[name]:
            continue
        cols = [list(element_names).index(e) for e in key[name]]
        detected = sig[..., cols] >= detected_sigma
        soft = hide[..., cols]
        # A measured key element not detected: unsupported. A hidden one is no evidence either
        # way: the claim is supported by the others, or left unchecked.
        lacking = ~detected & ~soft
        unsupported = lacking.any(axis=-1)
        backed = (detected | soft).all(axis=-1) & detected.any(axis=-1)
        support[..., k] = np.where(unsupported, UNSUPPORTED, np.where(backed, SUPPORTED, UNCHECKED))
        missing[..., k] = np.where(unsupported, np.argmax(lacking, axis=-1), -1)
    return Evidence(support, missing, key, unmeasured)


def gate(prob: np.ndarray, support: np.ndarray, *, cap: float = UNSUPPORTED_CAP) -> np.ndarray:
    """``prob`` with unsupported claims capped at ``cap`` (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> gate(np.array([0.9, 0.9, 0.9]), np.array([1, 0, -1])).tolist()
    [0.9, 0.25, 0.9]
    """
    if prob.shape != support.shape:
        raise PigmentmapError(f"probabilities {prob.shape} and support {support.shape} differ")
    return np.where(support == UNSUPPORTED, np.minimum(prob, cap), prob).astype(prob.dtype)


def evidence_elements(
    names: tuple[str, ...] | list[str], elements: tuple[str, ...]
) -> tuple[str, ...]:
    """``elements`` plus every key element of ``names`` that it lacks (so all can be checked).

    Examples
    --------
    >>> evidence_elements(["smalt"], ("Pb",))
    ('Pb', 'Co')
    """
    out = list(elements)
    for name in names:
        out += [e for e in key_elements(name) if e not in out]
    return tuple(out)


@dataclass(frozen=True)
class GateTally:
    """What the gate's notes count, gathered block by block and summed (``a + b``).

    Attributes
    ----------
    pixels : int
        Pixels seen.
    unsupported : (K,) int
        Pixels where the class is claimed (p >= 0.5) without its key element.
    lacking : (K, M) int
        Of those, how many lack each of the class's key elements (by index into its key).
    any_unsupported : int
        Pixels holding at least one such claim.

    Examples
    --------
    >>> import numpy as np
    >>> ev = evidence(["vermilion"], np.array([[[0.0], [8.0]]]), ["Hg"])
    >>> t = GateTally.of(np.array([[[0.9], [0.9]]]), ev, ["vermilion"])
    >>> (t + t).unsupported.tolist(), (t + t).pixels
    ([2], 4)
    """

    pixels: int
    unsupported: np.ndarray
    lacking: np.ndarray
    any_unsupported: int

    @classmethod
    def of(cls, prob: np.ndarray, ev: Evidence, names: tuple[str, ...] | list[str]) -> GateTally:
        """The tally of one block: ``prob`` (h, w, K) before the gate, its evidence."""
        width = max([1, *(len(ev.key.get(n, ())) for n in names)])
        bad = (prob >= 0.5) & (ev.support == UNSUPPORTED)
        lacking = np.zeros((len(names), width), dtype=np.int64)
        for k in range(len(names)):
            idx = ev.missing[..., k][bad[..., k]]
            lacking[k] = np.bincount(idx[idx >= 0], minlength=width)[:width]
        return cls(
            int(prob.shape[0] * prob.shape[1]),
            bad.sum(axis=(0, 1)).astype(np.int64),
            lacking,
            int(bad.any(axis=-1).sum()),
        )

    def __add__(self, other: GateTally) -> GateTally:
        return GateTally(
            self.pixels + other.pixels,
            self.unsupported + other.unsupported,
            self.lacking + other.lacking,
            self.any_unsupported + other.any_unsupported,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for a block file); :meth:`from_arrays` reads them back."""
        return {
            "tally_counts": np.array([self.pixels, self.any_unsupported], dtype=np.int64),
            "tally_unsupported": self.unsupported,
            "tally_lacking": self.lacking,
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> GateTally:
        """Read back :meth:`to_arrays`."""
        pixels, anywhere = (int(v) for v in arrays["tally_counts"])
        return cls(pixels, np.asarray(arrays["tally_unsupported"]),
                   np.asarray(arrays["tally_lacking"]), anywhere)  # fmt: skip

    def notes(
        self, key: dict[str, tuple[str, ...]], names: tuple[str, ...] | list[str], *, gated: bool
    ) -> list[str]:
        """One line per class claimed somewhere without its key element, then a line
        suggesting ``--recalibrate`` when such claims are widespread."""
        lines = []
        for k, name in enumerate(names):
            if self.unsupported[k] == 0:
                continue
            lacking = sorted(key[name][i] for i in np.flatnonzero(self.lacking[k]))
            action = (
                f"capped at {UNSUPPORTED_CAP:g} there"
                if gated
                else "not capped (--no-evidence-gate)"
            )
            lines.append(
                f"{name}: claimed on {100 * self.unsupported[k] / self.pixels:.1f} % of pixels "
                f"without {'/'.join(lacking)} detected at {DETECTED_SIGMA:g} sigma; {action}"
            )
        share = self.any_unsupported / max(1, self.pixels)
        if share > MISCALIBRATION_SHARE:
            lines.append(
                f"{100 * share:.0f} % of pixels hold a claim without its element: too few counts "
                "(a short dwell) leave weak lines below 3 sigma, and a calibration off by tens of "
                "eV looks the same, since the fit finds lines where the calibration puts them; if "
                "it may be off, rerun with --recalibrate"
            )
        return lines


def gate_summary(
    prob: np.ndarray, ev: Evidence, names: tuple[str, ...] | list[str], *, gated: bool = True
) -> list[str]:
    """One line per class claimed (p >= 0.5) somewhere without its key element (and one
    suggesting ``--recalibrate`` when that holds on more than :data:`MISCALIBRATION_SHARE` of
    the pixels).

    Examples
    --------
    >>> import numpy as np
    >>> ev = evidence(["vermilion"], np.array([[[0.0], [8.0], [8.0], [8.0]]]), ["Hg"])
    >>> gate_summary(np.array([[[0.9], [0.9], [0.9], [0.9]]]), ev, ["vermilion"])[0]
    'vermilion: claimed on 25.0 % of pixels without Hg detected at 3 sigma; capped at 0.25 there'
    """
    return GateTally.of(prob, ev, names).notes(ev.key, names, gated=gated)


def gate_summary_text(rule: dict[str, Any]) -> str:
    """The evidence rule of a results file (its ``evidence`` attribute), in one sentence.

    Examples
    --------
    >>> gate_summary_text({"gate": True, "detected_sigma": 3.0, "cap": 0.25})[:60]
    'A pigment claim needs its key elements detected at 3 sigma; '
    """
    sigma, cap = rule.get("detected_sigma", DETECTED_SIGMA), rule.get("cap", UNSUPPORTED_CAP)
    action = (
        f"claims without them are capped at p = {cap:g}"
        if rule.get("gate", True)
        else "this run kept the network's probabilities (--no-evidence-gate)"
    )
    return (
        f"A pigment claim needs its key elements detected at {sigma:g} sigma; {action}. "
        "Pigments without an element XRF can check in air (ultramarine, lakes, carbon) are not "
        "checked."
    )


@dataclass(frozen=True)
class Assessment:
    """Pigment maps checked against the element fit (what ``map`` and ``identify`` report).

    Attributes
    ----------
    prob : (H, W, K) the reported probabilities (calibrated; gated unless asked not to)
    evidence : Evidence
    elements : the element maps of the fit (:class:`~pigmentmap.mapping.elements.ElementMaps`)
    groups : (H, W, G) look-alike group probabilities
    posterior : the card's :class:`~pigmentmap.evaluate.posterior.Posterior`
    notes : one line per claim the gate capped (or would have)
    """

    prob: np.ndarray
    evidence: Evidence
    elements: Any
    groups: np.ndarray
    posterior: Any
    notes: list[str]


@dataclass(frozen=True)
class Judgement:
    """One block's claims checked against its element fit (see :func:`judge`)."""

    prob: np.ndarray
    evidence: Evidence
    groups: np.ndarray
    tally: GateTally


def judge(
    prob: np.ndarray,
    fitted: Any,
    names: tuple[str, ...],
    posterior: Any,
    *,
    evidence_gate: bool = True,
) -> Judgement:
    """Check the calibrated probabilities ``prob`` (h, w, K) of one block against its element
    fit ``fitted`` (:class:`~pigmentmap.mapping.elements.ElementMaps`): the evidence, the gated
    probabilities (unless ``evidence_gate`` is off), the look-alike groups' probabilities and
    the tally for the notes. ``map`` (block by block) and ``identify`` share it.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.evaluate.posterior import Posterior
    >>> from pigmentmap.mapping.elements import ElementMaps
    >>> fit = ElementMaps(np.zeros((1, 1, 1)), ("Hg",), np.zeros((1, 1, 1)))
    >>> post = Posterior.from_card({"label_names": ["vermilion"]})
    >>> j = judge(np.array([[[0.9]]]), fit, ("vermilion",), post)
    >>> j.prob.tolist(), j.tally.unsupported.tolist()
    ([[[0.25]]], [1])
    """
    ev = evidence(names, fitted.significance, fitted.names, hidden=fitted.hidden)
    gated = gate(prob, ev.support) if evidence_gate else prob
    return Judgement(gated, ev, posterior.group_probabilities(gated), GateTally.of(prob, ev, names))


def assess(
    maps: Any,
    counts: Any,
    axis: Any,
    instrument: Any,
    *,
    elements: tuple[str, ...],
    evidence_gate: bool = True,
    progress: bool = False,
) -> Assessment:
    """Fit the elements of ``counts`` (every key element of the model's classes added), check
    each claim of ``maps`` (:class:`~pigmentmap.mapping.pigments.PigmentMaps`) against them,
    gate, and give the look-alike groups' probabilities (in memory; ``map`` does the same block
    by block).

    Examples
    --------
    >>> assess  # doctest: +ELLIPSIS
    <function assess at ...>
    """
    from pigmentmap.evaluate.posterior import Posterior
    from pigmentmap.mapping.elements import fit_elements

    post = Posterior.from_card(maps.model_card)
    fitted = fit_elements(
        counts, axis, instrument, elements=evidence_elements(maps.names, elements),
        progress=progress,
    )  # fmt: skip
    j = judge(maps.prob, fitted, maps.names, post, evidence_gate=evidence_gate)
    notes = j.tally.notes(j.evidence.key, maps.names, gated=evidence_gate)
    return Assessment(j.prob, j.evidence, fitted, j.groups, post, notes)
