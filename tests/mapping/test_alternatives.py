"""Mixtures with the same key elements as one pigment (pigmentmap.mapping.alternatives)."""

import numpy as np

from pigmentmap.datasets.universal import UNIVERSAL_LABELS
from pigmentmap.mapping.alternatives import describe_alternatives, mixture_alternatives
from pigmentmap.mapping.evidence import key_elements
from pigmentmap.report.html import summary_rows


def test_every_alternative_holds_exactly_the_pigments_key_elements():
    alts = mixture_alternatives(UNIVERSAL_LABELS)
    assert {"chrome_yellow", "emerald_green", "cerulean_blue", "lead_tin_yellow_i"} <= set(alts)
    assert ("cobalt_blue", "carmine") in alts["cerulean_blue"]
    for p, pairs in alts.items():
        own = set(key_elements(p))
        for a, b in pairs:
            ka, kb = set(key_elements(a)), set(key_elements(b))
            assert ka | kb == own and ka < own and kb < own and p not in (a, b)
    # antimony is in Naples yellow alone; selenium in cadmium red alone: no mixture imitates them
    assert "naples_yellow" not in alts and "cadmium_red" not in alts
    # one key element: a look-alike group's matter, not a mixture's
    assert all(len(key_elements(p)) >= 2 for p in alts)


def test_alternatives_are_named_by_look_alike_group():
    alts = mixture_alternatives(UNIVERSAL_LABELS)
    text = describe_alternatives(
        alts["emerald_green"], [("azurite", "malachite"), ("orpiment", "realgar")]
    )
    assert text == "azurite or malachite with orpiment or realgar"


def test_the_report_table_names_the_mixtures_of_a_claimed_pigment():
    names = ("chrome_yellow", "lead_white", "chrome_oxide_green")
    prob = np.zeros((2, 2, 3))
    prob[..., 0] = 0.9
    res = {"names": names, "prob": prob, "evidence": {}, "group_list": []}
    (row,) = summary_rows(res)
    assert row["pigment"] == "chrome_yellow"
    assert row["or_mixture"] == "lead_white with chrome_oxide_green"
