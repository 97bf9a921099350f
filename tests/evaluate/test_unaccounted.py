"""Scoring unaccounted-element flags against a phantom's truth."""

import numpy as np

from pigmentmap.evaluate.unaccounted import score_unaccounted

NAMES = ("lead_white", "vermilion", "iron_oxide")


def _results(prob, flags, elements=("Fe", "Hg", "Pb")):
    return {"names": NAMES, "prob": np.asarray(prob, float),
            "unaccounted": {"elements": elements, "flags": np.asarray(flags, bool)}}  # fmt: skip


def test_flags_are_backed_only_where_a_true_pigment_holds_the_element():
    # two pixels: iron oxide present in the first only; Fe flagged in both
    truth = np.array([[[0, 0, 1], [0, 0, 0]]])
    flags = np.zeros((1, 2, 3), bool)
    flags[..., 0] = True
    s = score_unaccounted(_results(np.zeros((1, 2, 3)), flags), truth, NAMES)
    assert s["flags"] == 2 and s["backed_share"] == 0.5
    assert s["per_element"] == {"Fe": {"flagged_pixel_share": 1.0, "backed_share": 0.5}}


def test_a_miss_another_claim_accounts_for_is_not_silent():
    # lead white present, not claimed; red lead is no class here, so only a lead white claim
    # would hold Pb: with vermilion claimed instead, the miss is silent (and flagged by Pb)
    truth = np.array([[[1, 0, 0]]])
    prob = np.array([[[0.1, 0.9, 0.0]]])
    flags = np.array([[[False, False, True]]])
    s = score_unaccounted(_results(prob, flags), truth, NAMES)
    assert s["silent_misses"] == 1 and s["silent_misses_flagged_share"] == 1.0
    # claimed: no miss at all
    s = score_unaccounted(_results(np.array([[[0.9, 0.0, 0.0]]]), flags), truth, NAMES)
    assert s["silent_misses"] == 0 and s["silent_misses_flagged_share"] is None


def test_undetectable_pigments_are_no_misses():
    truth = np.array([[[0, 1, 0]]])
    flags = np.zeros((1, 1, 3), bool)
    prob = np.zeros((1, 1, 3))
    assert score_unaccounted(_results(prob, flags), truth, NAMES)["silent_misses"] == 1
    hidden = score_unaccounted(_results(prob, flags), truth, NAMES, detectable=np.zeros_like(truth))
    assert hidden["silent_misses"] == 0
