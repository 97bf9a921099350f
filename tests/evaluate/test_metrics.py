import numpy as np
import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.evaluate import class_metrics, format_table


def test_hand_computed_case():
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    prob = np.array([[0.9, 0.1], [0.4, 0.8], [0.6, 0.7], [0.2, 0.6], [0.5, 0.2]])
    m = class_metrics(truth, prob, ["A", "B"])
    a, b = m["per_class"]["A"], m["per_class"]["B"]
    # A: TP 2 (0.9, 0.5), FN 1 (0.4), FP 1 (0.6), TN 1
    assert (a["tp"], a["fn"], a["fp"], a["tn"]) == (2, 1, 1, 1)
    assert a["accuracy"] == pytest.approx(3 / 5)
    assert a["sensitivity"] == pytest.approx(2 / 3)
    assert a["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    # B: TP 2, FP 1 (0.6), FN 0, TN 2
    assert b["sensitivity"] == 1.0 and b["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((a["f1"] + 0.8) / 2)
    assert "macro F1" in format_table(m)


def test_no_positives_gives_zero_and_is_left_out_of_macro():
    m = class_metrics(np.array([[0, 1], [0, 1]]), np.array([[0.1, 0.9], [0.7, 0.9]]), ["A", "B"])
    assert m["per_class"]["A"]["f1"] == 0.0 and m["per_class"]["A"]["support"] == 0
    assert m["macro_f1"] == 1.0


def test_shape_mismatch_refused():
    with pytest.raises(PigmentmapError):
        class_metrics(np.zeros((2, 2)), np.zeros((2, 3)), ["A", "B"])
