"""The demo end to end, with the shipped model."""

from pigmentmap.demo import run_demo
from pigmentmap.ml.checkpoint import shipped_models


def test_demo_runs_the_whole_pipeline(tmp_path, capsys):
    assert {"universal", "elio-mixtures"} <= set(shipped_models())
    out = run_demo(tmp_path / "demo")
    text = capsys.readouterr().out
    assert (tmp_path / "demo" / "results" / "report.html").is_file()
    assert (tmp_path / "demo" / "results" / "maps.h5").is_file()
    assert out["ratios"]["vermilion_over_lead_white"] < out["ratios"]["lead_white_bare"]
    strips = {r["strip"]: r for r in out["vermilion_by_strip"]}
    assert strips["Bottom 2A"]["found_bare"] > 0.9  # 5 % vermilion, bare
    assert strips["blank ground"]["found_bare"] < 0.1
    assert out["metrics"]["per_class"]["vermilion"]["f1"] > 0.9
    assert "report:" in text and "Bottom 2B" in text
