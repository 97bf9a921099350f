"""The universal path from the command line: dataset -> train (fast-cnn) -> map any scan."""

import json

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.instruments import load_instrument
from pigmentmap.mapping.results import read_results


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_universal_dataset_is_noise_free_with_detectability(universal_model):
    data, _ = universal_model
    with h5py.File(data) as f:
        assert f.attrs["design"] == "universal" and f.attrs["noise"] == "expected"
        assert f["detectability"].shape == (48, 29, 5)
        assert len({v["anode"] for v in json.loads(f.attrs["variants"])}) >= 1


def test_training_a_universal_dataset_makes_a_fast_cnn_on_the_canonical_axis(universal_model):
    _, model = universal_model
    card = json.loads((model / "card.json").read_text())
    assert card["architecture"] == "fast-cnn"
    assert card["preprocessor"]["masked"] and card["preprocessor"]["required_kev"] == [2.0, 20.0]
    assert "masked out of the loss" in card["training"]["label_rule"]


def _scan(path, *, gain_kev, n_channels, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    e = gain_kev * np.arange(n_channels)
    spectrum = 5 + 400 * np.exp(-0.5 * ((e - 10.55) / 0.08) ** 2)  # Pb L-alpha
    counts = rng.poisson(np.broadcast_to(spectrum, (*shape, n_channels))).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["counts"] = counts
    return path


def test_map_serves_a_30_kev_1024_channel_scan(universal_model, tmp_path, capsys):
    _, model = universal_model
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    code, _out, err = run(capsys, "map", scan, "--calibration", "0,0.0293", "--model", model,
                         "--instrument", "lab-ag", "--out", tmp_path / "res")  # fmt: skip
    assert code == 0, err
    assert read_results(tmp_path / "res")["prob"].shape == (3, 4, 29)


def test_map_refuses_a_scan_that_ends_below_20_kev_and_writes_nothing(
    universal_model, tmp_path, capsys
):
    _, model = universal_model
    scan = _scan(tmp_path / "short.h5", gain_kev=0.01, n_channels=1500)
    code, _, err = run(capsys, "map", scan, "--calibration", "0,0.01", "--model", model,
                       "--out", tmp_path / "res")  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "cover 0.00-15.00 keV; this model needs at least 2.00-20.00 keV" in err
    assert not (tmp_path / "res").exists()


def test_evaluate_draws_measurements_of_a_universal_dataset(universal_model, tmp_path, capsys):
    data, model = universal_model
    out = tmp_path / "m.json"
    code, _stdout, err = run(capsys, "evaluate", model, data, "--out", out, "--seed", "4")
    assert code == 0, err
    metrics = json.loads(out.read_text())
    assert len(metrics["per_class"]) == 29 and 0.0 <= metrics["macro_f1"] <= 1.0


def test_bad_universal_options_are_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "dataset", "--design", "universal", "--n", "5", "--anodes", "Xx",
                       "--out", tmp_path / "u.h5")  # fmt: skip
    assert code == 2 and "unknown anode" in err and err.count("\n") == 1
    code, _, err = run(capsys, "dataset", "--design", "universal", "--n", "5",
                       "--scattering-deg", "abc", "--out", tmp_path / "u.h5")  # fmt: skip
    assert code == 2 and "--scattering-deg wants LO-HI" in err
    assert not (tmp_path / "u.h5").exists()


def test_model_list_marks_the_default_and_what_each_model_needs(capsys):
    code, out, _ = run(capsys, "model", "list")
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith("universal"))
    assert "(default)" in line and "any scan covering 2-20 keV" in line
    assert "(default)" not in next(r for r in out.splitlines() if r.startswith("elio-mixtures"))


def test_map_overwrite_never_deletes_a_users_file(universal_model, tmp_path, capsys):
    _, model = universal_model
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    args = ["map", scan, "--calibration", "0,0.0293", "--model", model, "--instrument", "lab-ag",
            "--out", tmp_path / "res"]  # fmt: skip
    assert run(capsys, *args)[0] == 0
    assert run(capsys, "report", tmp_path / "res")[0] == 0
    assert run(capsys, *args, "--overwrite")[0] == 0  # only its own files (report included)
    (tmp_path / "res" / "notes.docx").write_text("the user's own work")
    code, _, err = run(capsys, *args, "--overwrite")
    assert code == 2 and "did not write (notes.docx)" in err and err.count("\n") == 1
    assert (tmp_path / "res" / "notes.docx").read_text() == "the user's own work"
    assert (tmp_path / "res" / "maps.h5").is_file()


@pytest.fixture(scope="module")
def honest_model(universal_model, tmp_path_factory):
    """The tiny model, calibrated and with a layer network."""
    data, model = universal_model
    d = tmp_path_factory.mktemp("honest")
    assert main(["calibrate", str(model), str(data), "--out", str(d / "cal")]) == 0
    assert main(["train-layers", str(d / "cal"), str(data), "--out", str(d / "full"),
                 "--epochs", "1"]) == 0  # fmt: skip
    return d / "full"


def test_calibrate_and_train_layers_store_their_parts_in_the_card(universal_model, honest_model):
    _, model = universal_model
    card = json.loads((honest_model / "card.json").read_text())
    assert len(card["calibration"]["a"]) == 29 and "reliability" in card["calibration"]["metrics"]
    members = sorted(m for g in card["groups"] for m in g["members"])
    assert members == sorted(card["label_names"])
    assert len(card["group_calibration"]["a"]) == len(card["groups"])
    assert card["layers"]["weights"]["file"] == "layers.safetensors"
    assert 0.0 <= card["layers"]["metrics"]["test"]["layer_accuracy"] <= 1.0
    # the pigment network is copied unchanged
    original = json.loads((model / "card.json").read_text())
    assert card["weights"]["sha256"] == original["weights"]["sha256"]


def test_evaluate_reports_ece_group_f1_and_layer_accuracy(universal_model, honest_model, tmp_path,
                                                          capsys):  # fmt: skip
    data, _ = universal_model
    out = tmp_path / "m.json"
    code, stdout, err = run(capsys, "evaluate", honest_model, data, "--out", out)
    assert code == 0, err
    m = json.loads(out.read_text())
    assert 0.0 <= m["ece"] <= 1.0 and 0.0 <= m["group_f1"] <= 1.0 and m["calibrated"]
    assert 0.0 <= m["layer_accuracy"] <= 1.0 and m["layers"]["n_counted"] > 0
    assert "group F1" in stdout
    old_model = _old_model(honest_model, tmp_path)
    code, stdout, _ = run(capsys, "evaluate", old_model, data, "--out", tmp_path / "old.json")
    old = json.loads((tmp_path / "old.json").read_text())
    assert code == 0 and old["layer_accuracy"] is None and not old["calibrated"]
    assert "not calibrated" in stdout and "no layer network" in old["layer_note"]


def test_a_layer_threshold_is_set_without_training_and_evaluate_scores_the_sure_calls(
    universal_model, honest_model, tmp_path, capsys
):
    from pigmentmap.ml.checkpoint import update_model

    data, _ = universal_model
    code, out, err = run(capsys, "train-layers", honest_model, data, "--out", tmp_path / "thr",
                         "--threshold-only")  # fmt: skip
    assert code == 0, err
    card = json.loads((tmp_path / "thr" / "card.json").read_text())
    before = json.loads((honest_model / "card.json").read_text())
    assert card["layers"]["weights"] == before["layers"]["weights"]
    assert f"layer accuracy {before['layers']['metrics']['test']['layer_accuracy']:.3f}" in out
    # a threshold every call passes: the sure calls are all the calls
    update_model(honest_model, tmp_path / "low", {"layers": {**card["layers"],
                                                             "min_confidence": 1 / 3}})  # fmt: skip
    code, out, err = run(capsys, "evaluate", tmp_path / "low", data, "--out", tmp_path / "m.json")
    m = json.loads((tmp_path / "m.json").read_text())
    assert code == 0 and m["layer_coverage_sure"] == 1.0
    assert m["layer_accuracy_sure"] == m["layer_accuracy"] and "over the 100 % of calls" in out
    update_model(honest_model, tmp_path / "high", {"layers": {**card["layers"],
                                                              "min_confidence": 0.999}})  # fmt: skip
    assert run(capsys, "evaluate", tmp_path / "high", data, "--out", tmp_path / "h.json")[0] == 0
    assert json.loads((tmp_path / "h.json").read_text())["layer_coverage_sure"] < 1.0


def test_map_stores_evidence_groups_and_layers_and_the_report_shows_them(
    honest_model, tmp_path, capsys
):
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    code, out, err = run(capsys, "map", scan, "--calibration", "0,0.0293", "--model",
                         honest_model, "--instrument", "lab-ag", "--out", tmp_path / "res")  # fmt: skip
    assert code == 0, err
    assert "no calibrated" not in out
    r = read_results(tmp_path / "res")
    names, support, prob = list(r["names"]), r["support"], r["prob"]
    assert support.shape == (3, 4, 29) and r["layers"].shape == (3, 4, 29, 2)
    assert r["groups"].shape[-1] == len(r["group_list"])
    # The scan holds only lead: a claim of an element that is not there is supported nowhere
    assert (support[..., names.index("vermilion")] == 0).all()
    assert (support[..., names.index("lead_white")] == 1).all()
    assert prob[..., names.index("vermilion")].max() <= 0.25
    assert r["evidence"]["key_elements"]["chrome_yellow"] == ["Pb", "Cr"]
    assert "chrome_oxide_green" in r["evidence"]["alternatives"]["chrome_yellow"]
    # elements no claimed pigment accounts for: stored as the rule computes them, and said
    from pigmentmap.mapping.unaccounted import UnaccountedRule

    loose = UnaccountedRule.of(names, r["element_names"])
    u = r["unaccounted"]
    assert u["elements"] == loose.elements and "lead_white" in u["candidates"]["Pb"]
    assert (u["flags"] == loose.flags(r["significance"], prob, names)).all()
    pb_flagged = bool(u["flags"][..., u["elements"].index("Pb")].any())
    said = any(n.startswith("Pb is detected") for n in r["attrs"]["notes"])
    assert pb_flagged == said
    # what the scan can see: the limits at the scan's own counts, in maps.h5 and said once
    from pigmentmap.mapping.limits import DetectionLimits, detection_limits

    lim = DetectionLimits.from_dict(r["limits"])
    assert lim.names == tuple(names) and lim.covers == ("on top", "under 40 um of lead white")
    per_px = float(r["sum_spectrum"]["counts"].sum()) / (3 * 4)
    assert lim.counts_per_pixel == pytest.approx(per_px, rel=1e-6)
    again = detection_limits(load_instrument("lab-ag"), names, counts_per_pixel=per_px,
                             upper_kev=0.0293 * 1023.5)  # fmt: skip
    assert np.allclose(lim.fraction, again.fraction, equal_nan=True, rtol=1e-6)
    assert lim.map_fraction is not None and lim.map_fraction.shape == lim.fraction.shape
    assert sum(n.startswith("what this scan can see") for n in r["attrs"]["notes"]) == 1
    spec = r["sum_spectrum"]  # one line at 10.55 keV: Pb L-alpha or As K-alpha
    assert spec["names"][0] in ("Pb", "As") and spec["counts"].shape == spec["energy_kev"].shape
    assert spec["components"][0].sum() <= spec["counts"].sum()
    from PIL import Image

    tif = np.asarray(Image.open(tmp_path / "res" / "pigment_lead_white.tif"))
    assert tif.dtype == np.float32 and np.allclose(tif, prob[..., names.index("lead_white")])
    assert (tmp_path / "res" / "element_Pb.tif").is_file()
    assert run(capsys, "report", tmp_path / "res")[0] == 0
    page = (tmp_path / "res" / "report.html").read_text()
    assert "<h2>Summary</h2>" in page and "key elements detected at 3 sigma" in page
    assert "vermilion: Hg detected at 3 sigma in 0.0 % of pixels: below detection" in page
    assert "<h2>Sum spectrum</h2>" in page and "<h2>Element maps</h2>" in page
    assert "<h2>What this scan can see</h2>" in page


def _old_model(honest_model, folder):
    """The model as a model made before calibration, groups and layers would be."""
    import shutil

    old = folder / "old-model"
    shutil.copytree(honest_model, old)
    card = json.loads((old / "card.json").read_text())
    for key in ("calibration", "groups", "group_calibration", "layers"):
        card.pop(key, None)
    (old / "card.json").write_text(json.dumps(card))
    return old


def test_a_model_made_before_calibration_still_maps_and_says_what_it_lacks(
    honest_model, tmp_path, capsys
):
    model = _old_model(honest_model, tmp_path)
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    code, out, err = run(capsys, "map", scan, "--calibration", "0,0.0293", "--model", model,
                         "--instrument", "lab-ag", "--out", tmp_path / "res",
                         "--no-evidence-gate")  # fmt: skip
    assert code == 0, err
    assert out.count("the model has no calibrated probabilities, no look-alike groups") == 1
    r = read_results(tmp_path / "res")
    assert r["evidence"]["gate"] is False or r["evidence"]["gate"] == 0
    assert np.array_equal(r["prob"], r["raw"])
    assert "layers" not in r
    assert r["attrs"]["model_lacks"] == ["calibrated probabilities", "look-alike groups",
                                         "layer order"]  # fmt: skip
    assert run(capsys, "report", tmp_path / "res")[0] == 0
    page = (tmp_path / "res" / "report.html").read_text()
    assert "pigmentmap calibrate, pigmentmap train-layers add them" in page


def test_calibrate_refuses_an_existing_output_and_too_little_data(universal_model, tmp_path,
                                                                  capsys):  # fmt: skip
    data, model = universal_model
    code, _, err = run(capsys, "calibrate", model, data, "--out", model)
    assert code == 2 and "exists (use --overwrite" in err and err.count("\n") == 1


def test_palette_narrows_the_default_model_and_the_map_answers_for_it(tmp_path, capsys):
    code, out, err = run(capsys, "palette", "--pigments", "lead white, vermilion", "--out",
                         tmp_path / "pal", "--stacks", "100", "--epochs", "1", "--quiet")  # fmt: skip
    assert code == 0, err
    assert "held-out macro F1" in out and f"--model {tmp_path / 'pal'}" in out
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    code, _, err = run(capsys, "map", scan, "--calibration", "0,0.0293", "--model",
                       tmp_path / "pal", "--instrument", "lab-ag", "--out", tmp_path / "res")  # fmt: skip
    assert code == 0, err
    res = read_results(tmp_path / "res")
    assert res["prob"].shape == (3, 4, 2) and list(res["names"]) == ["lead_white", "vermilion"]
    notes = res["attrs"]["notes"]  # the report shows them
    assert any("palette of 2 pigments only" in n for n in notes)
    code, out, _ = run(capsys, "model", "show", tmp_path / "pal")
    assert code == 0 and "palette:      narrowed from universal to 2 pigments" in out


def test_a_bad_palette_is_one_line_and_writes_nothing(tmp_path, capsys):
    for pigments, message in (("lead white,chalk", "is a ground"), ("lead whyte", "did you mean")):
        code, _, err = run(capsys, "palette", "--pigments", pigments, "--out", tmp_path / "pal")
        assert code == 2 and message in err and err.count("\n") == 1
    code, _, err = run(capsys, "palette", "--pigments", "vermilion", "--stacks", "5",
                       "--out", tmp_path / "pal")  # fmt: skip
    assert code == 2 and "--stacks" in err
    assert list(tmp_path.iterdir()) == []


def test_map_with_a_palette_makes_the_palette_model_once_and_keeps_it(tmp_path, capsys,
                                                                      monkeypatch):  # fmt: skip
    import pigmentmap.ml.palette_cache as cache
    from pigmentmap.ml.palette import PaletteSettings

    monkeypatch.setenv("PIGMENTMAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "PaletteSettings", lambda: PaletteSettings(n_stacks=100, epochs=1))
    scan = _scan(tmp_path / "lab.h5", gain_kev=0.0293, n_channels=1024)
    args = ("map", scan, "--calibration", "0,0.0293", "--instrument", "lab-ag")
    code, out, err = run(capsys, *args, "--palette", "vermilion, lead white", "--out",
                         tmp_path / "a")  # fmt: skip
    assert code == 0, err
    assert "making a palette model of 2 pigments" in out
    assert list(read_results(tmp_path / "a")["names"]) == ["vermilion", "lead_white"]
    kept = list((tmp_path / "cache" / "palettes").iterdir())
    assert len(kept) == 1
    # the same palette, in another order and by other names: the kept model, the same maps
    code, out, err = run(capsys, *args, "--palette", "lead_white,VM", "--out", tmp_path / "b")
    assert code == 0, err
    assert f"using the palette model kept at {kept[0]}" in out and "making" not in out
    assert list((tmp_path / "cache" / "palettes").iterdir()) == kept
    a, b = read_results(tmp_path / "a"), read_results(tmp_path / "b")
    assert np.array_equal(a["prob"], b["prob"])
    # a bad palette: one line, no results, nothing new kept
    code, out, err = run(
        capsys, *args, "--palette", "vermilion,lead whyte", "--out", tmp_path / "c"
    )
    assert code == 2 and "did you mean" in err and err.count("\n") == 1
    assert (
        not (tmp_path / "c").exists() and list((tmp_path / "cache" / "palettes").iterdir()) == kept
    )
