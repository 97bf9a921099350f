"""The paragraph on what the model was trained on and what its held-out figures mean."""

import html
import json
from pathlib import Path

import pytest

import pigmentmap
from pigmentmap.datasets.own_lines import label_rule
from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import write_report
from pigmentmap.report.notes import model_note

SHIPPED = Path(pigmentmap.__file__).parent / "ml" / "shipped"


def _card(name):
    return json.loads((SHIPPED / name / "card.json").read_text())


def _note_in(page):
    start = page.index("<h2>The model</h2>")
    return page[start : page.index("<h2>", start + 1)]


def test_a_full_universal_card_says_data_classes_figures_and_their_limits():
    card = _card("universal")
    note = model_note(card)
    n, n_test = card["data"]["n_spectra"], card["data"]["n_test"]
    assert note.startswith(
        f"The model (fast-cnn) was trained on {n:,} simulated spectra of the universal design: "
        "paintings and instruments randomised"
    )
    assert "tubes of Rh, Ag, W, Mo, Cu, Cr" in note
    labels = card["label_names"]
    assert f"It knows {len(labels)} classes: {', '.join(labels)}." in note
    assert f"made with 'make model', which runs {card['made_by']['script']}" in note
    f1 = card["metrics"]["test_best_fold"]["macro_f1"]
    assert f"On {n_test:,} simulated spectra it had not seen: macro F1 {f1:.2f}" in note
    cal = card["calibration"]["metrics"]
    assert f"look-alike group F1 {cal['group_f1']:.2f}" in note
    assert f"calibration error {cal['ece_claims']:.3f} where it claims anything" in note
    layer = card["layers"]["metrics"]["test"]["layer_accuracy"]
    assert f"right for {100 * layer:.0f} % of present pigments" in note
    n_layers = card["layers"]["data"]["n_spectra"]
    assert f"its layer calls come from a head on its own features, trained on {n_layers:,}" in note
    card["layers"]["architecture"] = "fast-cnn"  # a second network, as older models have
    assert f"its layer network trained on {n_layers:,} more" in model_note(card)
    per_class = card["metrics"]["test_best_fold"]["per_class"]
    worst = min(per_class, key=lambda k: per_class[k]["f1"])
    assert f"per pigment from {per_class[worst]['f1']:.2f} ({worst})" in note
    assert "masked" not in note
    if "own lines" in card["training"]["label_rule"]:
        assert "own lines XRF could not see" in note
    else:
        assert "too thinly for XRF to detect" in note
    card["training"]["label_rule"] = label_rule(5.0, "own lines")
    assert "own lines XRF could not see (too thin, or hidden" in model_note(card)
    card["training"]["label_rule"] = label_rule(5.0, None)
    assert "too thinly for XRF to detect" in model_note(card)
    assert note.endswith("These figures are from simulation: a real scan, with a scanner, paint "
                         "or noise the simulation did not cover, may do worse.")  # fmt: skip


def test_a_single_instrument_card_names_its_instrument_and_has_no_calibration_figures():
    note = model_note(_card("elio-mixtures"))
    assert "16,224 simulated spectra of the mixtures design" in note
    assert "on one instrument" in note and "(XGLab ELIO MA-XRF" in note
    assert "macro F1 0.81" in note
    assert "group F1" not in note and "calibration error" not in note and "layer order" not in note


@pytest.mark.parametrize(
    "card",
    [{}, {"architecture": "paper-cnn"}, {"label_names": ["vermilion", "lead_white"]},
     {"data": {}, "metrics": {}, "calibration": None, "layers": "None"}],
)  # fmt: skip
def test_a_minimal_card_says_what_it_does_not_know(card):
    note = model_note(card)
    assert note.startswith("The model card does not say what the model was trained on")
    assert "holds no held-out figures" in note
    assert "F1" not in note and "simulated spectra it had not seen" not in note
    if "label_names" in card:
        assert "It knows 2 classes: vermilion, lead_white." in note


def test_partial_cards_use_what_they_hold():
    card = {"data": {"design": "paper", "n_spectra": 16224},
            "metrics": {"test_best_fold": {"macro_f1": 0.9, "n_spectra": 100}}}  # fmt: skip
    note = model_note(card)
    assert "16,224 simulated spectra of the paper design" in note
    assert "On 100 simulated spectra it had not seen: macro F1 0.90" in note
    assert model_note({"data": {"design": "my-own"}}).startswith(
        "The model was trained on simulated spectra of the 'my-own' design."
    )
    tuned = dict(card, finetune={"data": {"file": "mockups.h5", "n_spectra": 640},
                                 "test_after": {"macro_f1": 0.95}})  # fmt: skip
    assert "fine-tuned on 640 spectra of mockups.h5: macro F1 0.95" in model_note(tuned)


def test_the_report_shows_the_note_of_the_card_stored_in_maps_h5(results):
    folder = results(card=_card("universal"))
    stored = read_results(folder)["model_card"]
    page = write_report(folder).read_text()
    section = _note_in(page)
    assert html.escape(model_note(stored)) in section
    assert "of the universal design" in section and "may do worse" in section
    old = _note_in(write_report(results("old", card={"architecture": "paper-cnn"})).read_text())
    assert "does not say what the model was trained on" in old
    assert "holds no held-out figures" in old
