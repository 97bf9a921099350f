"""The report's layer calls: below the card's confidence threshold a call is shown as uncertain."""

import numpy as np

from pigmentmap.evaluate.layers import layer_confidence
from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import summary_rows, write_report


def _layer_cells(folder):
    return {r["pigment"]: r["layer"] for r in summary_rows(read_results(folder / "maps.h5"))}


def test_calls_below_the_cards_threshold_are_uncertain(results):
    # the results' layer probabilities (0.8 top, 0.1 under) are calls of this confidence
    conf = float(layer_confidence(np.array([0.8, 0.1])))
    sure = {"min_confidence": conf - 0.01, "accuracy": 0.91, "coverage": 0.5}
    unsure = {"min_confidence": conf + 0.01, "accuracy": 0.91, "coverage": 0.5}
    cells = {}
    for name, entry in (("sure", sure), ("unsure", unsure), ("old", None)):
        layers = (
            {
                "min_confidence": entry["min_confidence"],
                "metrics": {"test": {"layer_accuracy": 0.77, "sure": entry}},
            }
            if entry
            else {}
        )
        folder = results(name, card={"architecture": "fast-cnn", "layers": layers})
        cells[name] = _layer_cells(folder)
        page = write_report(folder).read_text()
        if entry:
            assert "right 91.0 % of the time, the rest uncertain" in page
    assert cells["sure"]["vermilion"] == "top 100 %"
    assert cells["unsure"]["vermilion"] == "uncertain 100 %"
    assert cells["old"]["vermilion"] == "top 100 %"  # a card without a threshold: every call
