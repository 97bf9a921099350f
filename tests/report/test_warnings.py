"""The run's notices in the Notes section, and flagged element maps next to the maps."""

import re

from pigmentmap.mapping.evidence import gate_summary_text
from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import write_report
from pigmentmap.report.notes import merge_notes, run_notes

from .conftest import K_FLAG

RULE = {"gate": True, "detected_sigma": 3.0, "cap": 0.25}
NOTES = [
    "scan_0007.mca skipped: truncated (12 of 2048 channels)",
    "no live time in the files: real time used instead",
    "calibration: from the file header (offset 0.012 keV, gain 0.0100 keV)",
    "recalibrated from 4 peaks: residuals Fe 12 eV, Cu -8 eV, Pb 5 eV, Sr 20 eV",
    "the energy axis ends at 19.6 keV: padded to 20 keV for the model",
    "lead_white: claimed on 1.9 % of pixels without Pb detected at 3 sigma; capped at 0.25 there",
    "no live time in the files: real time used instead",  # said twice by the run
    gate_summary_text(RULE),  # the report writes this one itself
    "<b>odd</b> & 'quoted' notice",
]


def _section(page, title):
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else None]


def test_run_notes_reads_the_attribute_and_merge_notes_drops_what_is_said():
    assert run_notes({"notes": ["a", " b ", "", "None"]}) == ["a", "b"]
    assert run_notes({"notes": "only one"}) == ["only one"]
    assert run_notes({}) == [] and run_notes({"notes": None}) == []
    kept = merge_notes([gate_summary_text(RULE)], NOTES)
    assert kept == [*NOTES[:6], NOTES[-1]]
    assert merge_notes(["The model has no layer order: it was made before them."],
                       ["the model has no layer order (made before them)", "x"],
                       covered_prefixes=("the model has no",)) == ["x"]  # fmt: skip
    assert merge_notes([], ["the model has no layer order", "x"]) == [
        "the model has no layer order",
        "x",
    ]


def test_every_notice_of_the_run_is_in_the_notes_once_in_order_and_escaped(results):
    folder = results(notes=NOTES)
    assert read_results(folder)["attrs"]["notes"] == NOTES
    notes = _section(write_report(folder).read_text(), "Notes")
    items = re.findall(r"<li>(.*?)</li>", notes.split("What the map run reported")[1])
    assert items == [
        "scan_0007.mca skipped: truncated (12 of 2048 channels)",
        "no live time in the files: real time used instead",
        "calibration: from the file header (offset 0.012 keV, gain 0.0100 keV)",
        "recalibrated from 4 peaks: residuals Fe 12 eV, Cu -8 eV, Pb 5 eV, Sr 20 eV",
        "the energy axis ends at 19.6 keV: padded to 20 keV for the model",
        "lead_white: claimed on 1.9 % of pixels without Pb detected at 3 sigma; capped at 0.25 "
        "there",
        "&lt;b&gt;odd&lt;/b&gt; &amp; &#x27;quoted&#x27; notice",
    ]
    assert notes.count(gate_summary_text(RULE)) == 1  # the report's own line, not repeated
    assert "<b>odd</b>" not in notes


def test_older_files_without_notes_and_runs_without_notices_show_only_the_reports_own(results):
    for folder in (results("old"), results("quiet", notes=[])):
        notes = _section(write_report(folder).read_text(), "Notes")
        assert gate_summary_text(RULE) in notes and "What the map run reported" not in notes


def test_the_run_saying_what_the_model_lacks_is_not_repeated(results):
    folder = results(model_lacks=["layer order"],
                     notes=["the model has no layer order (made before them; see pigmentmap "
                            "calibrate)", "scan_0001.mca skipped"])  # fmt: skip
    notes = _section(write_report(folder).read_text(), "Notes")
    assert notes.lower().count("the model has no layer order") == 1
    assert "pigmentmap train-layers add them" in notes and "scan_0001.mca skipped" in notes


def test_flagged_element_maps_are_marked_next_to_the_gallery_and_their_pigments(results):
    pb_flag = "Pb L: 60% of its intensity within a FWHM of tube-line scatter (test)"
    page = write_report(results(flags={"K": K_FLAG, "Pb": pb_flag})).read_text()
    gallery = _section(page, "Element maps")
    assert "Flagged element maps" in gallery
    assert "<li><b>K</b>: " + K_FLAG + "</li>" in gallery
    assert "<li><b>Pb</b>: " + pb_flag + "</li>" in gallery
    pigments = page[page.index("<h2>Pigments and their elements</h2>") :]
    # lead white and red lead rest on Pb; vermilion on Hg, which is not flagged
    assert pigments.count("The Pb map is flagged: " + pb_flag) == 2
    vermilion = pigments[pigments.index("<h3>vermilion</h3>") : pigments.index("<h3>lead_white")]
    assert "flagged" not in vermilion
    plain = write_report(results("plain")).read_text()
    assert "Flagged element maps" not in plain and "map is flagged" not in plain
