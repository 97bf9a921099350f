"""Element evidence: key elements from the library, support codes, the gate and its summary."""

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.mapping.evidence import (
    SUPPORTED,
    UNCHECKED,
    UNSUPPORTED,
    UNSUPPORTED_CAP,
    evidence,
    evidence_elements,
    gate,
    gate_summary,
    key_elements,
)


def test_key_elements_are_the_heavy_major_elements_of_the_composition():
    assert key_elements("vermilion") == ("Hg",)  # S is too light to be evidence when absent
    assert key_elements("cadmium_red") == ("Cd", "Se")
    assert key_elements("raw_umber") == ("Fe", "Mn")
    assert key_elements("smalt") == ("Co",)  # As 2 %, K 10 % but Z < 20
    assert key_elements("bone_black") == ("Ca",)
    assert key_elements("carbon_black") == ()


def _sig(**values):
    names = tuple(values)
    return np.array([[list(values.values())]], dtype=float).reshape(1, 1, -1), names


def test_a_claim_is_unsupported_when_any_measured_key_element_is_below_3_sigma():
    sig, els = _sig(Pb=50.0, Cr=2.9, Hg=0.0)
    ev = evidence(["chrome_yellow", "lead_white", "vermilion", "ultramarine"], sig, els)
    assert ev.support[0, 0].tolist() == [UNSUPPORTED, SUPPORTED, UNSUPPORTED, UNCHECKED]
    assert ev.key["chrome_yellow"][ev.missing[0, 0, 0]] == "Cr"
    assert ev.missing[0, 0, 1] == -1


def test_an_element_without_lines_in_the_scan_leaves_the_claim_unchecked():
    sig, els = _sig(Pb=50.0)  # no Sn fitted (e.g. a scan ending below Sn K)
    ev = evidence(["carmine", "lead_tin_yellow_i"], sig, els)
    assert ev.support[0, 0].tolist() == [UNCHECKED, SUPPORTED]
    assert ev.unmeasured["lead_tin_yellow_i"] == ("Sn",)


def test_a_coincident_element_not_reported_is_no_evidence_either_way():
    sig, els = _sig(Cd=0.0, Se=6.0)  # Cd under a tube line, reported only when very significant
    ev = evidence(["cadmium_red", "cadmium_yellow"], sig, els, coincident=("Cd",))
    assert ev.support[0, 0].tolist() == [SUPPORTED, UNCHECKED]
    sig2, _ = _sig(Cd=0.0, Se=1.0)
    assert evidence(["cadmium_red"], sig2, els, coincident=("Cd",)).support[0, 0, 0] == UNSUPPORTED


def test_gate_caps_only_unsupported_claims():
    prob = np.array([[[0.95, 0.95, 0.95, 0.1]]])
    support = np.array([[[SUPPORTED, UNSUPPORTED, UNCHECKED, UNSUPPORTED]]], dtype=np.int8)
    out = gate(prob, support)
    assert out[0, 0].tolist() == pytest.approx([0.95, UNSUPPORTED_CAP, 0.95, 0.1])
    assert prob[0, 0, 1] == 0.95  # a new array


def test_summary_names_the_missing_element_and_the_share_of_pixels():
    sig = np.zeros((2, 2, 1))
    sig[0, 0, 0] = 10.0
    ev = evidence(["vermilion"], sig, ("Hg",))
    lines = gate_summary(np.full((2, 2, 1), 0.9), ev, ["vermilion"])
    assert lines == [
        "vermilion: claimed on 75.0 % of pixels without Hg detected at 3 sigma; capped at 0.25 there"
    ]
    assert "not capped" in gate_summary(np.full((2, 2, 1), 0.9), ev, ["vermilion"], gated=False)[0]


def test_every_key_element_is_added_to_the_fit():
    assert evidence_elements(["cadmium_red", "raw_umber"], ("Fe",)) == ("Fe", "Cd", "Se", "Mn")


def test_shape_mismatch_is_refused():
    with pytest.raises(PigmentmapError, match="does not match 2 elements"):
        evidence(["vermilion"], np.zeros((1, 1, 3)), ("Hg", "Pb"))
