"""dataset / train / finetune / evaluate / model from the command line, and their bad inputs."""

import json

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main

from ..ml.conftest import write_synthetic


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, text):
    assert code == 2, err
    assert text in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_dataset_train_evaluate_finetune(tmp_path, capsys):
    data = write_synthetic(tmp_path / "syn.h5")
    code, out, _ = run(
        capsys,
        "train",
        data,
        "--out",
        tmp_path / "m",
        "--folds",
        2,
        "--run-folds",
        1,
        "--epochs",
        2,
    )
    assert code == 0 and "macro F1" in out and "s per epoch" in out
    code, out, _ = run(capsys, "evaluate", tmp_path / "m", data, "--out", tmp_path / "metrics.json")
    assert code == 0 and "red" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) >= {"per_class", "macro_f1", "n_spectra"} and metrics["n_spectra"] == 240
    assert set(metrics["per_class"]["red"]) >= {"accuracy", "sensitivity", "f1", "support"}
    code, out, _ = run(
        capsys,
        "finetune",
        tmp_path / "m",
        data,
        "--out",
        tmp_path / "ft",
        "--epochs-head",
        1,
        "--epochs-all",
        1,
    )
    assert code == 0 and "after finetuning" in out
    code, out, _ = run(capsys, "model", "show", tmp_path / "ft")
    assert code == 0 and "paper-cnn" in out


def test_dataset_command(tmp_path, capsys):
    out = tmp_path / "mock.h5"
    code, stdout, _ = run(
        capsys, "dataset", "--design", "mockup", "--n", 6, "--out", out, "--seed", 2
    )
    assert code == 0 and "6 spectra" in stdout
    with h5py.File(out) as f:
        assert f["spectra"].shape == (6, 4096)
    code, _, err = run(capsys, "dataset", "--design", "mockup", "--n", 6, "--out", out)
    assert_one_line_error(code, err, "exists")
    code, _, err = run(capsys, "dataset", "--design", "paper", "--n", 5, "--out", tmp_path / "p.h5")
    assert_one_line_error(code, err, "fixed size")
    code, _, err = run(
        capsys,
        "dataset",
        "--design",
        "mixtures",
        "--n",
        5,
        "--pigments",
        "VM,nothing",
        "--out",
        tmp_path / "x.h5",
    )
    assert_one_line_error(code, err, "unknown pigment")
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "p.h5").exists()


@pytest.fixture
def model_dir(tmp_path, capsys):
    data = write_synthetic(tmp_path / "syn.h5")
    run(
        capsys,
        "train",
        data,
        "--out",
        tmp_path / "m",
        "--folds",
        2,
        "--run-folds",
        1,
        "--epochs",
        1,
    )
    return tmp_path / "m"


def test_bad_data_for_evaluate(tmp_path, capsys, model_dir):
    text = tmp_path / "x.h5"
    text.write_text("not hdf5")
    assert_one_line_error(*run(capsys, "evaluate", model_dir, text)[::2], "not an HDF5")
    nospec = tmp_path / "nospec.h5"
    with h5py.File(nospec, "w") as f:
        f["counts"] = np.ones((2, 400))
    assert_one_line_error(*run(capsys, "evaluate", model_dir, nospec)[::2], "no /spectra")
    other = write_synthetic(tmp_path / "other.h5", names=("red", "green", "violet"))
    assert_one_line_error(
        *run(capsys, "evaluate", model_dir, other)[::2], "the model does not predict violet"
    )
    short = write_synthetic(tmp_path / "short.h5", n_channels=100)
    assert_one_line_error(*run(capsys, "evaluate", model_dir, short)[::2], "cannot resample")
    nan = write_synthetic(tmp_path / "nan.h5", nan=True)
    assert_one_line_error(*run(capsys, "evaluate", model_dir, nan)[::2], "NaN")
    empty = write_synthetic(tmp_path / "empty.h5", n=0)
    assert_one_line_error(*run(capsys, "evaluate", model_dir, empty)[::2], "holds no spectra")


def test_bad_models(tmp_path, capsys, model_dir):
    data = write_synthetic(tmp_path / "d.h5")
    (model_dir / "weights.safetensors").write_bytes(b"\x00" * 64)
    assert_one_line_error(*run(capsys, "evaluate", model_dir, data)[::2], "SHA-256")
    assert_one_line_error(
        *run(capsys, "evaluate", tmp_path / "nope", data)[::2], "no model directory"
    )
    code, _, err = run(capsys, "train", data, "--out", tmp_path / "missing" / "m", "--epochs", 1)
    assert_one_line_error(code, err, "does not exist")


def test_fit_and_phantom_commands(tmp_path, capsys):
    scan = tmp_path / "ph.h5"
    code, out, _ = run(capsys, "phantom", "--out", scan, "--seed", 2, "--live-time-s", 0.5)
    assert code == 0 and "0.5 s per pixel" in out
    assert_one_line_error(*run(capsys, "phantom", "--out", scan)[::2], "exists")
    code, out, _ = run(
        capsys,
        "fit",
        scan,
        "--instrument",
        "elio",
        "--out",
        tmp_path / "el.h5",
        "--elements",
        "Ca,Zn,Hg,Pb",
    )
    assert code == 0 and "4 element maps" in out and "detected at 3 sigma" in out
    with h5py.File(tmp_path / "el.h5") as f:
        maps = f["element_maps"][()]
        significance = f["element_significance"][()]
        names = [n.decode() for n in f["element_names"][()]]
    assert significance.shape == maps.shape
    assert significance[..., names.index("Ca")].mean() > 3  # the chalk ground everywhere
    with h5py.File(scan) as f:
        truth = f["truth/pigment_maps"][()]
        tnames = [n.decode() for n in f["truth/names"][()]]
    zinc = truth[..., tnames.index("zinc_white")].astype(bool)
    zn = maps[..., names.index("Zn")]
    assert zn[zinc].mean() > 10 * max(zn[~zinc].mean(), 1.0)  # zinc where the bottom strips are
    again = ["fit", scan, "--instrument", "elio", "--out", tmp_path / "el.h5", "--elements", "Ca"]
    assert_one_line_error(*run(capsys, *again)[::2], "exists")
    assert run(capsys, *again, "--overwrite")[0] == 0
    assert_one_line_error(
        *run(
            capsys,
            "fit",
            scan,
            "--instrument",
            "elio",
            "--out",
            tmp_path / "x.h5",
            "--elements",
            "Xx",
        )[::2],
        "unknown element",
    )
    assert_one_line_error(*run(capsys, "info", tmp_path / "none.xyz")[::2], "does not exist")


def test_model_show_gives_the_look_alikes_and_what_their_split_rests_on(capsys):
    from pigmentmap.ml.checkpoint import read_card

    code, out, _ = run(capsys, "model", "show", "universal")
    assert code == 0
    groups = [g for g in read_card("universal")["groups"] if len(g["members"]) > 1]
    assert groups  # the shipped model has look-alikes (lead white | red lead, ...)
    for g in groups:
        assert g["basis"] and f"look-alikes:  {' | '.join(g['members'])}: " in out
    shown = [line for line in out.splitlines() if line.startswith("look-alikes:")]
    assert len(shown) == len(groups) and all("rests most on" in line for line in shown)
