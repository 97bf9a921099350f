"""What a scan can see (mapping/limits.py): physics invariants of the detection limits."""

import json
import math

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments import load_instrument
from pigmentmap.mapping.limits import (
    LIMIT_COVERS,
    LIMIT_FRACTIONS,
    DetectionLimits,
    crossing,
    detection_limits,
    limits_note,
    map_limits,
    reference_stack_text,
)

NAMES = ("vermilion", "zinc_white", "lead_white", "bone_black", "not_a_pigment")


@pytest.fixture(scope="module")
def lab_ag():
    return load_instrument("lab-ag")


def test_a_cover_hides_and_more_counts_reveal(lab_ag):
    low = detection_limits(lab_ag, NAMES, counts_per_pixel=2e4)
    high = detection_limits(lab_ag, NAMES, counts_per_pixel=2e6)
    for k, name in enumerate(NAMES[:2]):
        on_top, under = low.fraction[k]
        assert 0 < on_top < under < 1, name  # the cover raises the limit
        assert (high.fraction[k] <= low.fraction[k]).all()  # 100x the counts lower it
        assert high.fraction[k, 1] < low.fraction[k, 1]
    # Where z grows as the amount (a dilute pigment on top), the limit falls as 1/sqrt(counts)
    v = NAMES.index("vermilion")
    ratio = low.fraction[v, 1] / high.fraction[v, 1]
    assert 5 < ratio < 20
    # lead white under lead white has no limit; a name outside the library is left out
    assert low.describe("lead_white", "under 40 um of lead white") == "-"
    assert low.names == NAMES[:-1]
    # bone black's P K lines (2.0 keV) do not pass 40 um of lead white at any fraction
    assert low.describe("bone_black", "under 40 um of lead white") == "not seen"


def test_the_papers_hidden_vermilion_is_at_the_edge_of_what_the_mockups_could_see(lab_ag):
    """0.6 % vermilion under 40 um (the paper's Top 1): at the ELIO mock-ups' 10 s pixels
    (about 159,000 counts, the mean of the mock-up phantom) the limit under 40 um of lead white
    is about that; at a lab scanner's 0.1 s pixels (about 6,400 counts) it is several times
    more, so the maps cannot show it and the report says so."""
    lab = detection_limits(lab_ag, ["vermilion"], counts_per_pixel=6.4e3)
    elio = detection_limits(load_instrument("elio"), ["vermilion"], counts_per_pixel=1.59e5)
    assert lab.fraction[0, 1] > 0.03
    assert 0.003 < elio.fraction[0, 1] < 0.012


def test_crossing_interpolates_on_log_axes_and_says_never():
    assert crossing([0.001, 0.01], np.array([6.0, 60.0])) == 0.001  # seen at the first
    assert math.isnan(crossing([0.001, 0.01], np.array([0.0, 4.9])))
    f = crossing([0.001, 0.01], np.array([1.0, 25.0]))  # z ~ f^1.4: 5 at 10^-2.5
    assert f == pytest.approx(10**-2.5, rel=1e-6)


def test_reference_stacks_and_round_trip():
    assert reference_stack_text("zinc_white", 1.0, None) == "zinc_white:50/calcium_carbonate:200"
    lim = DetectionLimits(("a", "b"), ("on top",), np.array([[0.01], [np.nan]]), 5e3)
    for data in (lim.to_dict(), json.loads(json.dumps(lim.to_dict(json_safe=True)))):
        back = DetectionLimits.from_dict(data)
        assert back.names == lim.names
        assert np.allclose(back.fraction, lim.fraction, equal_nan=True)
    assert "NaN" not in json.dumps(lim.to_dict(json_safe=True))
    assert LIMIT_FRACTIONS[0] == 0.001 and LIMIT_FRACTIONS[-1] == 1.0


def test_the_log_line_names_what_a_cover_hides(lab_ag):
    lim = detection_limits(lab_ag, NAMES, counts_per_pixel=2e4)
    line = limits_note(lim)
    assert line.startswith("what this scan can see") and "20,000 counts per pixel" in line
    assert "under 40 um of lead white, not even pure: bone_black" in line
    assert "not_a_pigment" not in line


def test_bad_counts_are_refused(lab_ag):
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(PigmentmapError, match="counts per pixel"):
            detection_limits(lab_ag, ["vermilion"], counts_per_pixel=bad)


def test_no_library_pigment_gives_empty_limits_that_round_trip(lab_ag):
    lim = detection_limits(lab_ag, ["not_a_pigment"], counts_per_pixel=1e4)
    assert lim.names == () and lim.fraction.shape == (0, 2)
    assert DetectionLimits.from_dict(lim.to_dict()).fraction.shape == (0, 2)


@pytest.fixture(scope="module")
def shipped():
    from pigmentmap.mapping.pigments import PigmentPredictor
    from pigmentmap.ml import DEFAULT_MODEL

    return PigmentPredictor.load(DEFAULT_MODEL)


def test_the_maps_own_limits_need_the_lines_and_fall_with_the_counts(lab_ag, shipped):
    """The shipped model claims vermilion's group only where its lines show (within the
    interpolation), and at 100x the counts from less; red lead under lead white is never told
    from the cover (their group is claimed without it); the table is the same every time."""
    names = ("vermilion", "red_lead", "zinc_white")
    low = map_limits(detection_limits(lab_ag, names, counts_per_pixel=5e3), shipped, lab_ag)
    high = map_limits(detection_limits(lab_ag, names, counts_per_pixel=5e5), shipped, lab_ag)
    assert low.map_fraction is not None and high.map_fraction is not None
    v, r = names.index("vermilion"), names.index("red_lead")
    assert np.isfinite(low.map_fraction[v, 0])
    assert low.map_fraction[v, 0] >= 0.5 * low.fraction[v, 0]
    assert high.map_fraction[v, 0] < low.map_fraction[v, 0]
    assert low.describe_map("red_lead", "under 40 um of lead white") == "not found"
    assert math.isnan(low.map_fraction[r, 1])
    again = map_limits(detection_limits(lab_ag, names, counts_per_pixel=5e3), shipped, lab_ag)
    assert np.array_equal(again.map_fraction, low.map_fraction, equal_nan=True)
    back = DetectionLimits.from_dict(json.loads(json.dumps(low.to_dict(json_safe=True))))
    assert np.allclose(back.map_fraction, low.map_fraction, equal_nan=True)
    assert "the map itself claims them on top from" in limits_note(low)


def test_the_maps_own_limits_refuse_classes_the_model_lacks(lab_ag, shipped):
    lim = DetectionLimits(("not_a_class",), tuple(LIMIT_COVERS), np.array([[0.01, 0.1]]), 1e4)
    with pytest.raises(PigmentmapError, match="classes the model does not have"):
        map_limits(lim, shipped, lab_ag)
