"""Layer calls and their accuracy."""

import numpy as np
import pytest

from pigmentmap.evaluate.layers import (
    BOTH,
    TOP,
    UNCERTAIN,
    UNDER,
    card_min_confidence,
    fit_sure_threshold,
    layer_accuracy,
    layer_calls,
    layer_confidence,
    layer_outcomes,
    sure_threshold,
)


def test_layer_calls_cover_every_case():
    p = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.4, 0.2], [0.2, 0.4]])
    assert layer_calls(p).tolist() == [TOP, UNDER, BOTH, TOP, UNDER]


def test_layer_accuracy_counts_only_present_detectable_pigments():
    truth = np.array([[[1, 0], [0, 1], [0, 0]], [[1, 1], [0, 1], [1, 0]]])
    p = np.array([[[0.9, 0.0], [0.9, 0.0], [0.9, 0.0]], [[0.9, 0.9], [0.0, 0.9], [0.0, 0.9]]])
    mask = np.array([[1, 1, 1], [1, 1, 0]])  # the absent class and the undetectable one
    r = layer_accuracy(truth, p, mask, ["a", "b", "c"])
    assert r["n_counted"] == 4
    assert r["layer_accuracy"] == 0.75  # b in the first row is wrong
    assert r["per_class"]["c"]["support"] == 0
    assert r["confusion"]["counts"][UNDER][TOP] == 1


def test_outcomes_are_a_distribution_whose_likeliest_is_the_call():
    rng = np.random.default_rng(1)
    p = rng.random((500, 2))
    q = layer_outcomes(p)
    assert np.allclose(q.sum(axis=-1), 1.0) and (q >= 0).all()
    assert (q.argmax(axis=-1) == layer_calls(p)).all()
    conf = layer_confidence(p)
    assert (conf >= 1 / 3 - 1e-12).all() and (conf <= 1).all()


def test_calls_below_the_threshold_are_uncertain_and_only_those():
    rng = np.random.default_rng(2)
    p = rng.random((300, 2))
    calls, sure = layer_calls(p), layer_calls(p, min_confidence=0.7)
    low = layer_confidence(p) < 0.7
    assert (sure[low] == UNCERTAIN).all() and (sure[~low] == calls[~low]).all()
    assert 0 < low.sum() < len(p)


def test_the_threshold_keeps_the_calls_it_keeps_right_at_the_target():
    rng = np.random.default_rng(3)
    n = 4000
    truth = np.zeros((n, 1, 2), dtype=int)
    truth[:, 0, 0] = 1  # on top everywhere
    # the network's top probability: right more often the surer it is
    sureness = rng.uniform(0.0, 1.0, n)
    right = rng.random(n) < 0.5 + 0.5 * sureness
    pt = 0.5 + np.where(right, 0.49, -0.49) * sureness
    p = np.stack([pt, 1 - pt], axis=-1)[:, None, :]
    mask = np.ones((n, 1))
    loose, strict = (sure_threshold(truth, p, mask, target=t) for t in (0.8, 0.95))
    assert loose is not None and strict is not None and loose < strict
    for t, target in ((loose, 0.8), (strict, 0.95)):
        r = layer_accuracy(truth, p, mask, ["a"], min_confidence=t)
        assert r["sure"]["accuracy"] >= target
        assert r["sure"]["coverage"] < 1
    assert r["layer_accuracy"] < 0.8  # over every call: 0.75 in expectation
    # calls that are never right: no threshold reaches any target
    assert sure_threshold(1 - truth, np.stack([np.ones(n), np.zeros(n)], -1)[:, None], mask) is None
    entry = fit_sure_threshold(truth, p, mask, ["a"])
    assert len(entry["folds"]) == 2 and entry["accuracy"] > 0.85
    assert entry["min_confidence"] == pytest.approx(sure_threshold(truth, p, mask))


def test_a_card_threshold_must_be_a_confidence():
    assert card_min_confidence({"layers": {"min_confidence": 0.8}}) == 0.8
    for bad in (None, 0, -1, 1.5, "0.8", True):
        assert card_min_confidence({"layers": {"min_confidence": bad}}) is None
    assert card_min_confidence({"layers": "a card from elsewhere"}) is None
