"""Elements no claimed pigment accounts for (pigmentmap.mapping.unaccounted)."""

from __future__ import annotations

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.mapping.unaccounted import (
    GROUND_ELEMENTS,
    NEIGHBOUR_SHARE,
    UNACCOUNTED_SIGMA,
    UnaccountedRule,
    neighbours,
)

NAMES = ("lead_white", "red_lead", "iron_oxide", "prussian_blue", "emerald_green", "vermilion",
         "bone_black")  # fmt: skip
FITTED = ("Ca", "Fe", "Cu", "As", "Hg", "Pb")


def _sig(**values: float) -> np.ndarray:
    return np.array([[values.get(e, 0.0) for e in FITTED]])


def _prob(**values: float) -> np.ndarray:
    return np.array([[values.get(n, 0.0) for n in NAMES]])


def test_candidates_are_the_classes_holding_each_measured_key_element():
    rule = UnaccountedRule.of(NAMES, FITTED)
    assert rule.candidates["Fe"] == ("iron_oxide", "prussian_blue")
    assert rule.candidates["Pb"] == ("lead_white", "red_lead")
    assert set(rule.candidates["Cu"]) == {"emerald_green"}
    # calcium (bone black's key element) is a ground's: never flagged
    assert not set(GROUND_ELEMENTS) & set(rule.elements)
    # an element the fit does not measure cannot be flagged
    assert "Hg" not in UnaccountedRule.of(NAMES, ("Fe", "Pb")).elements


def test_a_strong_element_with_no_holder_claimed_is_flagged_and_a_claim_clears_it():
    rule = UnaccountedRule.of(NAMES, FITTED)
    fe = rule.elements.index("Fe")
    strong = _sig(Fe=4 * UNACCOUNTED_SIGMA, Pb=200.0)
    flags = rule.flags(strong, _prob(lead_white=0.9), NAMES)
    assert flags[0, fe] and not flags[0, rule.elements.index("Pb")]
    # any holder claimed accounts for it, whichever it is
    assert not rule.flags(strong, _prob(lead_white=0.9, prussian_blue=0.6), NAMES)[0, fe]
    # a claim below the threshold does not
    assert rule.flags(strong, _prob(prussian_blue=0.45), NAMES)[0, fe]


def test_weak_elements_are_not_flagged():
    rule = UnaccountedRule.of(NAMES, FITTED)
    weak = _sig(Fe=0.9 * UNACCOUNTED_SIGMA)
    assert not rule.flags(weak, _prob(), NAMES).any()


def test_a_strong_neighbour_raises_the_bar():
    # As K-alpha sits on Pb L-alpha: a small misfit of a huge Pb signal lends As some sigma
    assert "Pb" in neighbours("As", FITTED) and "Hg" in neighbours("As", FITTED)
    assert neighbours("Fe", FITTED) == ()
    rule = UnaccountedRule.of(NAMES, FITTED)
    a = rule.elements.index("As")
    beside = _sig(As=30.0, Pb=30.0 / NEIGHBOUR_SHARE * 1.5)
    assert not rule.flags(beside, _prob(lead_white=0.9), NAMES)[0, a]
    alone = _sig(As=30.0, Pb=30.0 / NEIGHBOUR_SHARE * 0.5)
    assert rule.flags(alone, _prob(lead_white=0.9), NAMES)[0, a]


def test_flags_keep_the_map_shape():
    rule = UnaccountedRule.of(NAMES, FITTED)
    sig = np.zeros((3, 4, len(FITTED)))
    sig[1, 2, FITTED.index("Cu")] = 50.0
    flags = rule.flags(sig, np.zeros((3, 4, len(NAMES))), NAMES)
    assert flags.shape == (3, 4, len(rule.elements))
    assert flags.sum() == 1 and flags[1, 2, rule.elements.index("Cu")]


def test_notes_name_the_element_share_and_candidates():
    rule = UnaccountedRule.of(NAMES, FITTED)
    counts = np.zeros(len(rule.elements), dtype=int)
    counts[rule.elements.index("Fe")] = 25
    (line,) = rule.notes(counts, 100)
    assert line.startswith("Fe is detected") and "25.0 %" in line
    assert "iron_oxide, prussian_blue" in line


@pytest.mark.parametrize(
    ("sig_shape", "prob_shape"),
    [((2, len(FITTED) - 1), (2, len(NAMES))), ((2, len(FITTED)), (2, 3)),
     ((2, len(FITTED)), (3, len(NAMES)))],
)  # fmt: skip
def test_maps_that_do_not_fit_the_rule_are_refused(sig_shape, prob_shape):
    rule = UnaccountedRule.of(NAMES, FITTED)
    with pytest.raises(PigmentmapError):
        rule.flags(np.zeros(sig_shape), np.zeros(prob_shape), NAMES)
