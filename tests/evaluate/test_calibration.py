"""Calibration (Platt per class, ECE, reliability) and look-alike groups."""

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.calibration import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
    reliability,
)
from pigmentmap.evaluate.groups import Group, find_groups, group_probabilities, group_truth
from pigmentmap.evaluate.posterior import Posterior


def _overconfident(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.5, (n, 2))
    y = (rng.random((n, 2)) < 1.0 / (1.0 + np.exp(-z))).astype(float)
    p = 1.0 / (1.0 + np.exp(-3.0 * z - 1.0))  # too sharp, and biased upwards
    return y, p


def test_platt_scaling_removes_most_of_the_calibration_error_on_fresh_data():
    y, p = _overconfident(seed=0)
    cal = fit_calibration(y, p, method="platt")
    y2, p2 = _overconfident(seed=1)
    before = expected_calibration_error(y2, p2)
    after = expected_calibration_error(y2, cal.apply(p2))
    assert before > 0.05 and after < 0.02
    assert cal.a == pytest.approx([1 / 3, 1 / 3], abs=0.05)


def test_temperature_scaling_improves_calibration_without_changing_any_claim():
    y, p = _overconfident(seed=0)
    cal = fit_calibration(y, p)
    assert cal.b.tolist() == [0.0, 0.0] and cal.to_dict()["method"] == "temperature"
    y2, p2 = _overconfident(seed=1)
    q = cal.apply(p2)
    assert np.array_equal(q >= 0.5, p2 >= 0.5)
    assert expected_calibration_error(y2, q) < expected_calibration_error(y2, p2)


def test_calibration_keeps_the_order_of_probabilities():
    cal = Calibration(np.array([0.4]), np.array([-0.3]))
    p = np.linspace(0.01, 0.99, 50)[:, None]
    assert np.all(np.diff(cal.apply(p)[:, 0]) > 0)


def test_masked_entries_do_not_count():
    y = np.array([[1.0], [0.0]])
    p = np.array([[0.9], [0.9]])
    assert expected_calibration_error(y, p, mask=np.array([[1], [0]])) == pytest.approx(0.1)
    assert reliability(y, p, min_probability=0.95)["count"] == []


def test_malformed_calibration_is_refused():
    with pytest.raises(PigmentmapError, match="malformed"):
        Calibration.from_dict({"a": [1.0, float("nan")], "b": [0.0, 0.0]})
    with pytest.raises(PigmentmapError, match="2 classes"):
        Calibration(np.ones(2), np.zeros(2)).apply(np.ones((1, 3)))


def _confused(n=400, seed=0):
    """lead white / red lead split at random; vermilion and azurite right; azurite also claimed
    on vermilion spectra (a model error: they share no element)."""
    rng = np.random.default_rng(seed)
    names = ["lead_white", "red_lead", "vermilion", "azurite", "chrome_yellow", "viridian"]
    y = np.zeros((n, len(names)))
    which = rng.integers(0, len(names), n)
    y[np.arange(n), which] = 1
    p = y * 0.9
    pb = which < 2
    p[pb, 0] = rng.random(pb.sum())
    p[pb, 1] = 1 - p[pb, 0]
    p[which == 2, 3] = 0.8
    # chrome yellow confused with both lead white (Pb) and viridian (Cr)
    cy = which == 4
    p[cy, 0] = rng.random(cy.sum()) < 0.3
    p[cy, 5] = rng.random(cy.sum()) < 0.2
    return y, p, names


def test_groups_join_confused_pigments_that_share_an_element_and_never_chain():
    y, p, names = _confused()
    groups = find_groups(y, p, names)
    members = {g.members for g in groups}
    assert ("lead_white", "red_lead", "chrome_yellow") in members or (
        "lead_white", "red_lead") in members  # fmt: skip
    assert ("vermilion",) in members and ("azurite",) in members  # no shared element
    pb = next(g for g in groups if "lead_white" in g.members)
    assert "viridian" not in pb.members  # chrome yellow does not chain Pb and Cr groups
    assert "both Pb" in pb.why


def test_group_probability_and_truth():
    groups = [Group(("lead_white", "red_lead")), Group(("vermilion",))]
    names = ["lead_white", "red_lead", "vermilion"]
    g = group_probabilities(np.array([[0.5, 0.5, 0.0]]), groups, names)
    assert g[0].tolist() == pytest.approx([0.75, 0.0])
    y, m = group_truth(np.array([[0, 1, 1]]), groups, names, mask=np.array([[1, 0, 1]]))
    assert y.tolist() == [[0.0, 1.0]] and m.tolist() == [[0.0, 1.0]]  # red lead undetectable
    with pytest.raises(PigmentmapError, match="not a class"):
        group_probabilities(np.zeros((1, 3)), [Group(("smalt",))], names)


def test_posterior_of_an_old_card_says_what_is_missing_and_passes_probabilities_through():
    post = Posterior.from_card({"label_names": ["lead_white"]})
    assert set(post.missing) == {"calibrated probabilities", "look-alike groups", "layer order"}
    assert post.classes(np.array([[0.3]]))[0].tolist() == pytest.approx([0.3])
    with pytest.raises(PigmentmapError, match="do not cover"):
        Posterior.from_card({"label_names": ["a", "b"], "groups": [{"members": ["a"]}]})


def test_pigments_with_the_same_key_elements_are_one_group_without_any_confusion():
    names = ["iron_oxide", "yellow_ochre", "prussian_blue", "raw_umber", "vermilion"]
    y = np.eye(5)[np.arange(50) % 5]
    p = y * 0.9  # a perfect model: no confusion at all
    groups = {g.members: g.why for g in find_groups(y, p, names)}
    fe = ("iron_oxide", "yellow_ochre", "prussian_blue")
    assert fe in groups and "the same key elements (Fe)" in groups[fe]
    assert ("raw_umber",) in groups  # Fe and Mn: its manganese sets it apart
    assert ("vermilion",) in groups
