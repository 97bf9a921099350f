"""The report's 'What this scan can see': a table of detection limits, stored by the map run;
absent from older files."""

import numpy as np

from pigmentmap.mapping.limits import LIMIT_COVERS, DetectionLimits
from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import limits_section, write_report

from .conftest import NAMES

TITLE = "What this scan can see"


def _limits():
    covers = tuple(LIMIT_COVERS)
    fraction = np.array([[0.0017, 0.026], [0.0019, np.nan], [0.003, np.nan]])
    return DetectionLimits(NAMES, covers, fraction, 21000.0)


def test_limits_round_trip_through_maps_h5_and_show_as_a_table(results):
    folder = results("lim", limits=_limits())
    res = read_results(folder)
    back = DetectionLimits.from_dict(res["limits"])
    assert back.names == NAMES and back.covers == tuple(LIMIT_COVERS)
    assert np.allclose(back.fraction, _limits().fraction, equal_nan=True)
    page = write_report(folder).read_text()
    assert TITLE in page and "21,000 counts per pixel" in page
    assert "<tr><td>vermilion</td><td>0.17 %</td><td>2.6 %</td></tr>" in page
    # red lead under lead white: not seen; lead white under itself: no figure
    assert "<tr><td>red_lead</td><td>0.3 %</td><td>not seen</td></tr>" in page
    assert "<tr><td>lead_white</td><td>0.19 %</td><td>-</td></tr>" in page
    assert "the map</th>" not in page  # results from before the map's own limits


def test_the_maps_own_limits_show_beside_the_lines(results):
    lim = _limits()
    found = np.array([[0.004, 0.05], [0.0021, np.nan], [np.nan, np.nan]])
    folder = results("map", limits=DetectionLimits(lim.names, lim.covers, lim.fraction,
                                                   lim.counts_per_pixel, found))  # fmt: skip
    back = DetectionLimits.from_dict(read_results(folder)["limits"])
    assert back.map_fraction is not None
    assert np.allclose(back.map_fraction, found, equal_nan=True)
    page = write_report(folder).read_text()
    assert "on top: its lines</th><th>on top: the map</th>" in page
    assert (
        "<tr><td>vermilion</td><td>0.17 %</td><td>0.4 %</td><td>2.6 %</td><td>5 %</td></tr>" in page
    )
    # lead white under itself: no figure in either column; red lead: not found even pure
    assert "<td>lead_white</td><td>0.19 %</td><td>0.21 %</td><td>-</td><td>-</td>" in page
    assert "<td>red_lead</td><td>0.3 %</td><td>not found</td><td>not seen</td><td>not found" in page
    assert "says what an empty map means" in page


def test_a_file_from_before_the_limits_still_makes_a_report(results):
    folder = results("old")
    res = read_results(folder)
    assert "limits" not in res and limits_section(res) == []
    assert TITLE not in write_report(folder).read_text()
