"""``pigmentmap identify``: one spectrum -> ranked pigments with evidence, groups and layers."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main

M6 = Path(__file__).parents[2] / "../shared/realdata/bruker_m6/bruker_m6_jetstream_file_example.spx"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _lead_scan(path, *, shape=(3, 4), n_channels=1024, gain_kev=0.0293, seed=0):
    rng = np.random.default_rng(seed)
    e = gain_kev * np.arange(n_channels)
    lines = 400 * np.exp(-0.5 * ((e - 10.55) / 0.08) ** 2) + 300 * np.exp(
        -0.5 * ((e - 12.61) / 0.09) ** 2
    )  # Pb L-alpha, L-beta
    counts = rng.poisson(np.broadcast_to(5 + lines, (*shape, n_channels))).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["counts"] = counts
    return path


@pytest.mark.skipif(not M6.is_file(), reason="real Bruker M6 spectrum not present")
@pytest.mark.filterwarnings("ignore")
def test_identify_reads_a_real_point_spectrum_as_bone_black_with_its_calcium(tmp_path, capsys):
    out = tmp_path / "p.json"
    code, stdout, err = run(capsys, "identify", M6, "--instrument", "m6-jetstream", "--out", out)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result["n_spectra"] == 1 and result["model_lacks"] == []
    first = result["pigments"][0]
    assert first["name"] == "bone_black" and first["probability"] >= 0.5
    assert first["evidence"] == "detected" and first["elements"]["Ca"] > 10
    assert "claimed (p >= 0.5): bone_black" in stdout
    ranked = [p["probability"] for p in result["pigments"]]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) == 29
    # its traces (Zn, Fe, Hg, Pb) are detected and no pigment holding them is claimed: said
    loose = {u["element"]: u for u in result["unaccounted"]}
    assert {"Zn", "Fe"} <= set(loose) and "Ca" not in loose  # Ca: a ground's, never flagged
    assert all(u["significance"] >= 5 for u in loose.values())
    assert list(loose["Zn"]["candidates"]) == ["zinc_white"]
    assert "unaccounted for: Zn detected at" in stdout
    # what a spectrum of these counts can see: in the JSON and one line
    lim = result["limits"]
    assert lim["counts_per_pixel"] > 1e5 and lim["covers"] == [
        "on top",
        "under 40 um of lead white",
    ]
    assert set(lim["names"]) == {p["name"] for p in result["pigments"]}
    assert "what this spectrum can see (own lines at 5 sigma" in stdout
    # and the model's own limit beside the lines' (strict JSON: not found is null)
    assert set(lim["map_fraction"]) == set(lim["names"])
    found = [v for row in lim["map_fraction"].values() for v in row if v is not None]
    assert found and all(0 < v <= 1 for v in found)
    assert "the model itself claims them on top" in stdout


def test_identify_sums_a_scan_and_caps_a_claim_without_its_element(tmp_path, capsys):
    scan = _lead_scan(tmp_path / "pb.h5")
    out = tmp_path / "p.json"
    code, stdout, err = run(capsys, "identify", scan, "--calibration", "0,0.0293",
                            "--instrument", "lab-ag", "--out", out)  # fmt: skip
    assert code == 0, err
    assert "the sum of 12 spectra" in stdout
    rows = {p["name"]: p for p in json.loads(out.read_text())["pigments"]}
    assert rows["lead_white"]["elements"]["Pb"] > 3 and rows["lead_white"]["evidence"] == "detected"
    assert rows["vermilion"]["evidence"] == "NOT detected"
    assert rows["vermilion"]["probability"] <= 0.25
    assert rows["lead_white"]["group"]  # a look-alike group of the Pb pigments
    # Pb is far above 5 sigma: unaccounted for exactly where no pigment holding it is claimed
    held = any(r["probability"] >= 0.5 for r in rows.values() if "Pb" in r["elements"])
    flagged = [u["element"] for u in json.loads(out.read_text())["unaccounted"]]
    assert ("Pb" in flagged) == (not held)
    # a call below the shipped card's confidence threshold is uncertain, and only such a call
    from pigmentmap.evaluate.layers import card_min_confidence, layer_calls
    from pigmentmap.ml.checkpoint import read_card, resolve_model

    threshold = card_min_confidence(read_card(resolve_model("universal")))
    lw = rows["lead_white"]
    p2 = np.array([[lw["p_top"], lw["p_under"]]])
    assert threshold is not None
    assert (lw["layer"] == "uncertain") == (lw["layer_confidence"] < threshold)
    assert (
        lw["layer"]
        == ("top", "under", "both", "uncertain")[int(layer_calls(p2, min_confidence=threshold)[0])]
    )


def test_identify_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, capsys):
    scan = _lead_scan(tmp_path / "pb.h5", n_channels=600)  # 0-17.6 keV: too short
    out = tmp_path / "p.json"
    code, _, err = run(capsys, "identify", scan, "--calibration", "0,0.0293", "--out", out)
    assert code == 2 and err.count("\n") == 1 and "needs at least 2.00-20.00 keV" in err
    assert not out.exists()
    out.write_text("mine")
    code, _, err = run(capsys, "identify", scan, "--calibration", "0,0.0293", "--out", out)
    assert code == 2 and "exists (use --overwrite" in err and out.read_text() == "mine"


def test_map_refuses_a_single_spectrum_and_points_to_identify(tmp_path, capsys):
    scan = _lead_scan(tmp_path / "one.h5", shape=(1, 1))
    code, _, err = run(capsys, "map", scan, "--calibration", "0,0.0293", "--out", tmp_path / "r")
    assert code == 2 and "use pigmentmap identify" in err
