"""The channels of a pigment's own lines: where its labels look for it.

A present pigment is a positive label only where its *own lines* stand above the noise
(:func:`pigmentmap.datasets.universal.present_class_z`): the matched filter of the spectrum
with the pigment against the spectrum without it is summed over the channels within
:data:`OWN_LINE_WINDOW_KEV` of a line of one of its signature elements
(:func:`pigmentmap.materials.signature.signature_elements`), not over the whole spectrum.

Why: summed over the whole spectrum, the filter also counts what a pigment does to everything
else. Barium white under a cover, at a tube too low to excite Ba K, changed the spectrum by its
absorption alone (5 sigma and more) while the fit found no Ba at all; bone black counted by the
Ca it adds over a chalk ground. Such a label asks the network for what no line shows. On the
held-out universal set (3,000 stacks, seed 13) 5.2 % of the labels the whole spectrum backed
had no own line at 5 sigma: half of ultramarine's and of bone black's, 5.6 % of barium
white's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pigmentmap.materials.library import PigmentLibrary, default_library
from pigmentmap.materials.signature import signature_elements
from pigmentmap.physics.lines import line_energies

#: What a stored ``/detectability`` measures (the file's ``detectability_rule`` attribute);
#: files made before it measured the whole spectrum.
DETECTABILITY_RULE = "own lines"
WHOLE_SPECTRUM_RULE = "whole spectrum"
#: Half-width (keV) of the window around each line: about 1.2 detector FWHM at 6-10 keV.
OWN_LINE_WINDOW_KEV = 0.2
#: Lines counted: at least this share of their shell's emission, from 1 keV on.
OWN_LINE_MIN_RATE = 0.01


def own_line_channels(
    names: Sequence[str],
    energies_kev: np.ndarray,
    *,
    library: PigmentLibrary | None = None,
    window_kev: float = OWN_LINE_WINDOW_KEV,
) -> np.ndarray:
    """(K, C) bool: the channels of ``energies_kev`` within ``window_kev`` of a line of one of
    each class's signature elements (all False for a class with none, or not in the library).

    Examples
    --------
    >>> import numpy as np
    >>> e = np.arange(0.0, 41.0, 0.01)
    >>> m = own_line_channels(["vermilion", "bone_black"], e)
    >>> bool(m[0, np.searchsorted(e, 9.99)]), bool(m[0, np.searchsorted(e, 6.4)])  # Hg L-alpha; Fe
    (True, False)
    >>> bool(m[1, np.searchsorted(e, 2.01)]), bool(m[1, np.searchsorted(e, 3.69)])  # P; not Ca
    (True, False)
    """
    lib = library or default_library()
    e = np.asarray(energies_kev, dtype=np.float64)
    out = np.zeros((len(names), e.size), dtype=bool)
    for k, name in enumerate(names):
        for element in signature_elements(name, library=lib):
            for line_kev in line_energies(element, above_kev=1.0, min_rate=OWN_LINE_MIN_RATE):
                out[k] |= np.abs(e - line_kev) <= window_kev
    return out


def label_rule(sigma: float, rule: str | None) -> str:
    """The model card's words for how labels were masked, for data whose ``/detectability``
    follows ``rule`` (None: a file made before the rule was recorded, the whole spectrum).

    Examples
    --------
    >>> label_rule(5.0, "own lines")[:46]
    'a present class whose own lines are below 5 si'
    """
    if rule == DETECTABILITY_RULE:
        what = "a present class whose own lines are"
        how = "matched filter over the channels of its signature elements' lines"
    else:
        what, how = "a present class", "matched filter over the whole spectrum"
    return (
        f"{what} below {sigma:g} sigma ({how}, at the drawn counts and upper end) is masked out "
        "of the loss and the metrics"
    )
