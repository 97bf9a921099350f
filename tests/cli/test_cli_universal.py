"""The universal path from the command line: dataset -> train (fast-cnn) -> map any scan."""

import json

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def universal_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("universal")
    data, model = d / "u.h5", d / "m"
    assert main(["dataset", "--design", "universal", "--n", "48", "--seed", "3",
                 "--out", str(data)]) == 0  # fmt: skip
    assert main(["train", str(data), "--out", str(model), "--folds", "2", "--run-folds", "1",
                 "--epochs", "1"]) == 0  # fmt: skip
    return data, model


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
    with h5py.File(tmp_path / "res" / "maps.h5") as f:
        assert f["pigment_maps"].shape == (3, 4, 29)


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
