"""Element evidence: key elements from the library, support codes, the gate and its summary."""

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.mapping.evidence import (
    SUPPORTED,
    UNCHECKED,
    UNSUPPORTED,
    UNSUPPORTED_CAP,
    GateTally,
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


def test_an_element_the_fit_hid_in_a_pixel_is_no_evidence_either_way():
    sig, els = _sig(Cd=0.0, Se=6.0)  # Cd under a tube line, reported only when very significant
    hidden = np.array([[[True, False]]])
    ev = evidence(["cadmium_red", "cadmium_yellow"], sig, els, hidden=hidden)
    assert ev.support[0, 0].tolist() == [SUPPORTED, UNCHECKED]
    sig2, _ = _sig(Cd=0.0, Se=1.0)
    assert evidence(["cadmium_red"], sig2, els, hidden=hidden).support[0, 0, 0] == UNSUPPORTED
    assert evidence(["cadmium_yellow"], sig2, els).support[0, 0, 0] == UNSUPPORTED  # not hidden


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
    assert lines[0] == (
        "vermilion: claimed on 75.0 % of pixels without Hg detected at 3 sigma; capped at 0.25 there"
    )
    assert len(lines) == 2 and "--recalibrate" in lines[1]  # 75 % of pixels: widespread
    assert "not capped" in gate_summary(np.full((2, 2, 1), 0.9), ev, ["vermilion"], gated=False)[0]


def test_tallies_of_blocks_add_up_to_the_tally_of_the_whole():
    rng = np.random.default_rng(3)
    sig = rng.uniform(0, 6, size=(6, 5, 3))  # Pb, Cr, Hg
    names = ["chrome_yellow", "vermilion"]
    prob = rng.uniform(0, 1, size=(6, 5, 2))

    def tally(r0: int, r1: int) -> GateTally:
        return GateTally.of(prob[r0:r1], evidence(names, sig[r0:r1], ("Pb", "Cr", "Hg")), names)

    whole = tally(0, 6)
    total = tally(0, 2) + tally(2, 3) + tally(3, 6)
    assert total.pixels == whole.pixels == 30
    assert total.unsupported.tolist() == whole.unsupported.tolist()
    assert total.lacking.tolist() == whole.lacking.tolist()
    assert total.any_unsupported == whole.any_unsupported > 0
    back = GateTally.from_arrays(total.to_arrays())
    assert back.lacking.tolist() == total.lacking.tolist() and back.pixels == 30


def test_every_key_element_is_added_to_the_fit():
    assert evidence_elements(["cadmium_red", "raw_umber"], ("Fe",)) == ("Fe", "Cd", "Se", "Mn")


def test_shape_mismatch_is_refused():
    with pytest.raises(PigmentmapError, match="does not match 2 elements"):
        evidence(["vermilion"], np.zeros((1, 1, 3)), ("Hg", "Pb"))


def test_the_fit_marks_where_it_hid_an_element_under_the_pixels_own_sum_peaks():
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.elements import fit_elements, reference_spectra

    inst = load_instrument("elio")
    refs, names = reference_spectra(inst, ("Cd", "Pb"), inst.axis)
    cube = (5e5 * refs[names.index("Pb L")] + 2.0).reshape(1, 1, -1)
    maps = fit_elements(cube, inst.axis, inst, elements=("Cd", "Pb"))
    cd = maps.names.index("Cd")
    assert maps.hidden is not None and maps.hidden.shape == maps.values.shape
    # Pb L-alpha + L-beta sum peaks sit on Cd K-alpha: Cd is hidden, not absent
    assert maps.significance[0, 0, cd] == 0.0 and maps.hidden[0, 0, cd]
    assert not maps.hidden[0, 0, maps.names.index("Pb")]
    ev = evidence(["cadmium_yellow"], maps.significance, maps.names, hidden=maps.hidden)
    assert ev.support[0, 0, 0] == UNCHECKED  # the fit could not tell


def test_many_unsupported_claims_suggest_recalibrating():
    from types import SimpleNamespace

    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.elements import reference_spectra
    from pigmentmap.mapping.evidence import assess

    inst = load_instrument("elio")
    refs, names = reference_spectra(inst, ("Hg", "Pb"), inst.axis)
    cube = np.broadcast_to(2e4 * refs[names.index("Pb L")] + 2.0, (2, 2, inst.axis.n_channels))
    card = {"label_names": ["vermilion", "lead_white"]}
    claims = SimpleNamespace(model_card=card, names=("vermilion", "lead_white"),
                             prob=np.full((2, 2, 2), 0.9, dtype=np.float32))  # fmt: skip
    judged = assess(claims, cube, inst.axis, inst, elements=("Hg", "Pb"))
    assert judged.prob[..., 0].max() <= UNSUPPORTED_CAP  # no Hg: vermilion capped
    assert judged.prob[..., 1].min() == pytest.approx(0.9)  # Pb is there
    assert "rerun with --recalibrate" in judged.notes[-1]
