"""Scoring false claims against their same-element mixtures."""

import numpy as np

from pigmentmap.evaluate.alternatives import score_alternatives

NAMES = ["cerulean_blue", "cobalt_blue", "carmine", "vermilion"]


def test_a_false_claim_is_a_listed_mixture_only_where_both_pigments_are_there():
    prob = np.zeros((4, 4))
    prob[:, 0] = 0.9  # cerulean blue claimed everywhere
    truth = np.array([[1, 0, 0, 0],   # right
                      [0, 1, 1, 0],   # cobalt blue + carmine: a listed mixture
                      [0, 1, 0, 0],   # cobalt blue alone: a plain error
                      [0, 0, 1, 1]])  # fmt: skip
    s = score_alternatives(prob, NAMES, truth, NAMES)
    assert s["false_claims"] == 3 and s["a_listed_mixture"] == 1
    assert set(s["per_pigment"]) == {"cerulean_blue"}


def test_single_element_pigments_and_true_claims_are_not_scored():
    prob = np.full((2, 4), 0.9)
    truth = np.ones((2, 4))
    s = score_alternatives(prob, NAMES, truth, NAMES)
    assert s == {"false_claims": 0, "a_listed_mixture": 0, "per_pigment": {}}
