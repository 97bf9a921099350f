"""Elements no claimed pigment accounts for: the converse of the evidence gate.

The gate (:mod:`pigmentmap.mapping.evidence`) stops a claim whose key element is not measured.
The converse matters as much to a conservator: where the element map shows strong iron and the
pigment maps claim no iron pigment, the network has missed something (on the mock-up phantom
with a lab Ag tube, 23 % of pixels had Fe detected and no iron pigment claimed; every one of
them held iron oxide or Prussian blue). Silence there reads as "no iron pigment", which is
wrong.

An element ``E`` is **unaccounted for** in a pixel when

1. it is a key element (:func:`~pigmentmap.mapping.evidence.key_elements`) of at least one of
   the model's classes, its **candidates**;
2. its significance reaches :data:`UNACCOUNTED_SIGMA`, and at least :data:`NEIGHBOUR_SHARE`
   of the significance of every measured element with a line within :data:`NEIGHBOUR_KEV` of
   one of its lines (a strong neighbour's small line-ratio misfit can lend an element a few
   tens of sigma: As K-beta beside Hg L-beta on the mock-up's vermilion);
3. no candidate is claimed there (probability >= 0.5 after the gate).

Calcium is left out (:data:`~pigmentmap.materials.signature.GROUND_ELEMENTS`): chalk, gypsum
and lime grounds carry it and are no class. The flag is no claim: the report shows where each
element is unaccounted for and names its candidates, so that the reader looks there with other
means.

Measured (``python benchmarks/honest_answers.py --steps phantom,painting``, scored by
:mod:`pigmentmap.evaluate.unaccounted`): 95-99.7 % of flags are backed by a true pigment holding
the element (the rest is iron of the painting phantom's grounds), and 49-77 % of the silent
misses (present, detectable pigments about which the pigment maps say nothing) are flagged
(session 19, the default model on own-line labels; 59-74 % with the model before it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.signature import GROUND_ELEMENTS

#: Significance (sigma) from which an element no claimed pigment holds is flagged: the level at
#: which a pigment counts as detectable in every label and figure (5 sigma). On the phantoms of
#: ``benchmarks/honest_answers.py`` (session 18's model) 10 sigma flagged 41-57 % of the silent
#: misses, 5 sigma 59-74 %, with 95-99.6 % of flags backed by a true pigment against 98.7-100 %.
UNACCOUNTED_SIGMA = 5.0
#: Lines closer than this (keV) make two elements neighbours.
NEIGHBOUR_KEV = 0.2
#: Least significance of a flagged element, as a share of its strongest neighbour's.
NEIGHBOUR_SHARE = 0.1
#: Lines that make neighbours: above 2 keV with at least this radiative rate.
_MIN_RATE = 0.05


def _lines(element: str) -> tuple[float, ...]:
    from pigmentmap.physics.lines import line_energies

    return line_energies(element, above_kev=2.0, min_rate=_MIN_RATE)


def neighbours(element: str, others: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The elements of ``others`` with a principal line within :data:`NEIGHBOUR_KEV` of one of
    ``element``'s.

    Examples
    --------
    >>> neighbours("As", ["Pb", "Hg", "Fe", "As"])
    ('Pb', 'Hg')
    >>> neighbours("Zn", ["Pb", "Fe"])
    ()
    """
    mine = _lines(element)
    return tuple(
        o
        for o in others
        if o != element and any(abs(a - b) < NEIGHBOUR_KEV for a in mine for b in _lines(o))
    )


@dataclass(frozen=True)
class UnaccountedRule:
    """Which elements can be flagged for a model's classes and an element fit's elements.

    Attributes
    ----------
    elements : the flaggable elements (key elements of some class, measured by the fit)
    candidates : element -> the classes holding it as a key element
    """

    elements: tuple[str, ...]
    candidates: dict[str, tuple[str, ...]]
    fitted: tuple[str, ...]

    @classmethod
    def of(
        cls,
        names: tuple[str, ...] | list[str],
        fitted: tuple[str, ...] | list[str],
        *,
        library: PigmentLibrary | None = None,
    ) -> UnaccountedRule:
        """The rule for classes ``names`` and fitted elements ``fitted``.

        Examples
        --------
        >>> r = UnaccountedRule.of(["lead_white", "red_lead", "vermilion", "bone_black"],
        ...                        ["Ca", "Hg", "Pb"])
        >>> r.elements, r.candidates["Pb"]
        (('Hg', 'Pb'), ('lead_white', 'red_lead'))
        """
        from pigmentmap.mapping.evidence import key_elements

        cand: dict[str, list[str]] = {}
        for n in names:
            for e in key_elements(n, library=library):
                if e in fitted and e not in GROUND_ELEMENTS:
                    cand.setdefault(e, []).append(n)
        elements = tuple(sorted(cand))
        return cls(elements, {e: tuple(cand[e]) for e in elements}, tuple(fitted))

    def flags(
        self,
        significance: np.ndarray,
        prob: np.ndarray,
        names: tuple[str, ...] | list[str],
        *,
        threshold: float = 0.5,
    ) -> np.ndarray:
        """(..., len(elements)) booleans: where each element is unaccounted for.

        Parameters
        ----------
        significance : (..., E) array, the fit's significance for ``fitted``
        prob : (..., K) array, the gated class probabilities for ``names``

        Examples
        --------
        >>> import numpy as np
        >>> r = UnaccountedRule.of(["lead_white", "vermilion"], ["Hg", "Pb"])
        >>> sig = np.array([[0.0, 40.0], [50.0, 0.0], [0.0, 40.0]])   # Hg, Pb
        >>> prob = np.array([[0.1, 0.0], [0.0, 0.9], [0.8, 0.0]])    # lead white, vermilion
        >>> r.flags(sig, prob, ["lead_white", "vermilion"]).tolist()   # Hg, Pb
        [[False, True], [False, False], [False, False]]
        """
        sig = np.asarray(significance, dtype=np.float64)
        p = np.asarray(prob)
        names = list(names)
        if sig.shape[-1] != len(self.fitted) or p.shape[-1] != len(names):
            raise PigmentmapError(
                f"significance of {sig.shape[-1]} elements and probabilities of {p.shape[-1]} "
                f"classes given for a rule of {len(self.fitted)} elements and {len(names)} classes"
            )
        if sig.shape[:-1] != p.shape[:-1]:
            raise PigmentmapError("significance and probability maps differ in shape")
        out = np.zeros((*sig.shape[:-1], len(self.elements)), dtype=bool)
        for j, e in enumerate(self.elements):
            s = sig[..., self.fitted.index(e)]
            need = np.full(s.shape, UNACCOUNTED_SIGMA)
            for o in neighbours(e, self.fitted):
                need = np.maximum(need, NEIGHBOUR_SHARE * sig[..., self.fitted.index(o)])
            cols = [names.index(c) for c in self.candidates[e] if c in names]
            held = (p[..., cols] >= threshold).any(axis=-1) if cols else np.zeros(s.shape, bool)
            out[..., j] = (s >= need) & ~held
        return out

    def notes(self, flagged: np.ndarray, pixels: int) -> list[str]:
        """One line per element flagged anywhere: ``flagged`` (len(elements),) pixel counts.

        Examples
        --------
        >>> r = UnaccountedRule.of(["lead_white", "red_lead"], ["Pb"])
        >>> print(r.notes(np.array([23]), 100)[0])  # doctest: +NORMALIZE_WHITESPACE
        Pb is detected (>= 5 sigma) with no pigment holding it claimed on 23.0 % of pixels
        (could be: lead_white, red_lead): see the report's unaccounted elements
        """
        out = []
        for e, n in zip(self.elements, np.asarray(flagged), strict=True):
            if n > 0:
                out.append(
                    f"{e} is detected (>= {UNACCOUNTED_SIGMA:g} sigma) with no pigment holding it "
                    f"claimed on {100.0 * n / max(pixels, 1):.1f} % of pixels (could be: "
                    f"{', '.join(self.candidates[e])}): see the report's unaccounted elements"
                )
        return out
