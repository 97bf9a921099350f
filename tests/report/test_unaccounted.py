"""The report's unaccounted elements: shown where an element is detected and nothing holding it
is claimed; absent where every detected element is accounted for, and from older files."""

from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import unaccounted_rows, write_report

TITLE = "Elements no claimed pigment accounts for"


def test_a_missed_pigment_shows_its_element_and_candidates(results):
    folder = results("missed", unaccounted=True, miss_vermilion=True)
    res = read_results(folder)
    assert res["unaccounted"]["elements"] == ("Hg", "Pb")
    rows = unaccounted_rows(res)
    assert rows == [{"element": "Hg", "percent": 50.0, "candidates": [("vermilion", 0.05)]}]
    page = write_report(folder).read_text()
    assert TITLE in page and "<b>Hg</b> on 50.0 % of pixels" in page
    assert "alt='unaccounted elements" in page


def test_nothing_is_shown_where_every_element_is_accounted_for(results):
    folder = results("held", unaccounted=True)
    res = read_results(folder)
    assert not res["unaccounted"]["flags"].any()
    assert TITLE not in write_report(folder).read_text()


def test_a_file_from_before_the_flags_still_makes_a_report(results):
    folder = results("old")
    assert "unaccounted" not in read_results(folder)
    assert TITLE not in write_report(folder).read_text()
