"""Layer calls and their accuracy."""

import numpy as np

from pigmentmap.evaluate.layers import BOTH, TOP, UNDER, layer_accuracy, layer_calls


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
