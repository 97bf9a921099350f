import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from pigmentmap.core import PigmentmapError
from pigmentmap.datasets.store import read_dataset
from pigmentmap.ml.checkpoint import load_model, sha256_file
from pigmentmap.ml.finetune import finetune
from pigmentmap.ml.paper_cnn import PaperCNN
from pigmentmap.ml.registry import create_model
from pigmentmap.ml.train import TrainSettings, fit, predict_proba, split_indices, train
from pigmentmap.preprocess import Preprocessor


def test_paper_cnn_layers_and_shapes():
    m = PaperCNN(n_inputs=3815, n_classes=11)
    kinds = [type(layer).__name__ for layer in m.features]
    block = ["Conv1d", "LeakyReLU", "BatchNorm1d", "MaxPool1d"]
    assert kinds == block * 5 + ["Conv1d", "BatchNorm1d", "Dropout", "Flatten"]
    convs = [layer for layer in m.features if isinstance(layer, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [64, 64, 64, 64, 128, 128]
    assert [c.kernel_size[0] for c in convs] == [5, 3, 3, 3, 3, 3]
    assert m.features[1].negative_slope == 0.01 and m.features[-2].p == 0.25
    # valid convolutions and five halvings: 3815 -> 117 -> 115 positions of 128 features
    assert m.head.in_features == 128 * 115 and m.head.out_features == 11
    m.eval()
    x = torch.rand(3, 3815)
    assert m(x).shape == (3, 11)
    p = m.predict_proba(x)
    assert bool(((p > 0) & (p < 1)).all())


def test_registry_rejects_unknown():
    with pytest.raises(PigmentmapError, match="unknown architecture"):
        create_model("resnet-9000", n_inputs=100, n_classes=2)


def test_split_is_disjoint_and_complete():
    test, parts = split_indices(103, test_fraction=0.2, folds=4, seed=1)
    allidx = np.concatenate([test, *parts])
    assert sorted(allidx.tolist()) == list(range(103))
    with pytest.raises(PigmentmapError):
        split_indices(5, test_fraction=0.2, folds=5, seed=0)


def test_training_lowers_the_loss_and_learns(synthetic):
    data = read_dataset(synthetic)
    pre = Preprocessor.for_axis(data.axis)
    x = pre(data.spectra, data.axis)
    y = data.labels.astype(np.float32)
    torch.manual_seed(0)
    model = create_model("paper-cnn", n_inputs=pre.n_channels, n_classes=3)
    result = fit(model, x[:200], y[:200], x[200:], y[200:], epochs=8, patience=8, batch_size=32,
                 learning_rate=1e-3, seed=0, label_names=data.label_names, progress=False)  # fmt: skip
    losses = [h["train_loss"] for h in result["history"]]
    assert losses[-1] < 0.7 * losses[0]
    assert result["history"][-1]["val_loss"] < result["history"][0]["val_loss"]


def test_a_cosine_schedule_anneals_the_learning_rate_to_zero(synthetic):
    data = read_dataset(synthetic)
    pre = Preprocessor.for_axis(data.axis)
    x, y = pre(data.spectra, data.axis), data.labels.astype(np.float32)
    out = {}
    for schedule in ("constant", "cosine"):
        torch.manual_seed(0)
        model = create_model("fast-cnn", n_inputs=pre.n_channels, n_classes=3, n_input_channels=1)
        out[schedule] = fit(model, x[:200], y[:200], x[200:], y[200:], epochs=3, patience=3,
                            batch_size=32, learning_rate=1e-3, seed=0,
                            label_names=data.label_names, progress=False, lr_schedule=schedule)  # fmt: skip
    assert out["constant"]["final_learning_rate"] == pytest.approx(1e-3)
    assert out["cosine"]["final_learning_rate"] == pytest.approx(0.0, abs=1e-9)
    assert out["cosine"]["history"][-1]["train_loss"] < out["cosine"]["history"][0]["train_loss"]
    with pytest.raises(PigmentmapError, match="lr_schedule must be one of"):
        fit(model, x[:10], y[:10], x[10:20], y[10:20], epochs=1, patience=1, batch_size=8,
            learning_rate=1e-3, seed=0, label_names=data.label_names, progress=False,
            lr_schedule="step")  # fmt: skip


def test_train_saves_a_model_that_reloads_identically(synthetic, tmp_path):
    data = read_dataset(synthetic)
    out = tmp_path / "model"
    card = train(
        data,
        out=out,
        settings=TrainSettings(folds=3, run_folds=2, epochs=3, patience=3),
        progress=False,
    )
    assert sorted(p.name for p in out.iterdir()) == [
        ".pigmentmap-files",
        "card.json",
        "weights.safetensors",
    ]
    assert len(card["metrics"]["folds"]) == 2 and card["training"]["seconds_per_epoch"] > 0
    assert card["label_names"] == list(data.label_names)
    # calibrated and grouped on the best fold's validation part, measured on the test part
    cal = card["calibration"]
    assert len(cal["a"]) == 3 and cal["data"]["part"].startswith("validation part of fold")
    assert cal["metrics"]["macro_f1"] == pytest.approx(cal["metrics"]["macro_f1_raw"])
    assert sorted(m for g in card["groups"] for m in g["members"]) == sorted(data.label_names)
    model, card2, pre = load_model(out)
    assert card2["preprocessor"] == pre.to_dict()
    x = pre(data.spectra, data.axis)
    a = predict_proba(model, x)
    model_b, _, _ = load_model(out)
    np.testing.assert_array_equal(a, predict_proba(model_b, x))
    with pytest.raises(PigmentmapError, match="exists"):
        train(data, out=out, settings=TrainSettings(folds=2, epochs=1), progress=False)


def test_training_is_deterministic(synthetic, tmp_path):
    data = read_dataset(synthetic)
    s = TrainSettings(folds=2, run_folds=1, epochs=2, patience=2, seed=3)
    train(data, out=tmp_path / "a", settings=s, progress=False)
    train(data, out=tmp_path / "b", settings=s, progress=False)
    a, b = (
        load_file(tmp_path / "a" / "weights.safetensors"),
        load_file(tmp_path / "b" / "weights.safetensors"),
    )
    for k in a:
        torch.testing.assert_close(a[k], b[k])


def test_finetune_freezes_conv_layers_first(synthetic, tmp_path, monkeypatch):
    data = read_dataset(synthetic)
    train(
        data,
        out=tmp_path / "m",
        settings=TrainSettings(folds=2, run_folds=1, epochs=1),
        progress=False,
    )
    from pigmentmap.ml import finetune as ft_module

    seen = []
    real_fit = ft_module.fit

    def spy(model, *args, parameters, **kw):
        trainable = {id(p) for p in parameters}
        conv_frozen = all(id(p) not in trainable for p in model.features.parameters())
        head_trains = all(id(p) in trainable for p in model.head.parameters())
        # Weights and BatchNorm statistics alike: a frozen part stays in eval mode.
        before = [t.detach().clone() for t in model.features.state_dict().values()]
        out = real_fit(model, *args, parameters=parameters, **kw)
        after = model.features.state_dict().values()
        conv_unchanged = all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
        seen.append((conv_frozen, head_trains, conv_unchanged))
        return out

    monkeypatch.setattr(ft_module, "fit", spy)
    card = finetune(
        tmp_path / "m", data, out=tmp_path / "ft", epochs_head=2, epochs_all=2, progress=False
    )
    # phase 1: conv frozen (and unchanged), head trainable; phase 2: everything trainable
    assert seen[0] == (True, True, True)
    assert seen[1][0] is False and seen[1][1] is True
    assert card["finetune"]["learning_rate"] == 5e-4
    assert card["finetune"]["n_test"] == 240 - round(240 * 0.2)
    load_model(tmp_path / "ft")


def _model(tmp_path, synthetic):
    train(
        read_dataset(synthetic),
        out=tmp_path / "m",
        settings=TrainSettings(folds=2, run_folds=1, epochs=1),
        progress=False,
    )
    return tmp_path / "m"


def test_tampered_or_incomplete_models_are_refused(tmp_path, synthetic):
    d = _model(tmp_path, synthetic)
    weights = d / "weights.safetensors"
    state = load_file(weights)
    # 1. weights changed without the card: hash mismatch
    state["head.bias"] = state["head.bias"] + 1
    save_file(state, weights)
    with pytest.raises(PigmentmapError, match="SHA-256"):
        load_model(d)
    # 2. weights of another shape, card hash updated: shape mismatch
    state["head.bias"] = torch.zeros(7)
    save_file(state, weights)
    card = json.loads((d / "card.json").read_text())
    card["weights"]["sha256"] = sha256_file(weights)
    (d / "card.json").write_text(json.dumps(card))
    with pytest.raises(PigmentmapError, match="do not match"):
        load_model(d)
    # 3. missing weights, broken card
    weights.unlink()
    with pytest.raises(PigmentmapError, match="no weights"):
        load_model(d)
    (d / "card.json").write_text("{not json")
    with pytest.raises(PigmentmapError, match="not valid JSON"):
        load_model(d)
    with pytest.raises(PigmentmapError, match="no model directory"):
        load_model(tmp_path / "nowhere")


def test_no_pickle_in_model_files(tmp_path, synthetic):
    d = _model(tmp_path, synthetic)
    raw = (d / "weights.safetensors").read_bytes()
    assert raw[8:9] == b"{"  # safetensors: 8-byte header length, then a JSON header
    assert b"\x80\x04" not in raw[:16]  # no pickle protocol marker at the start


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": "x"}, "weights must be a table"),
        ({"preprocessor": {"n_channels": 10**9}}, "n_channels must be an integer of 8-65536"),
        ({"label_names": ["a", "a", "b"]}, "distinct"),
        ({"weights": {"file": "../../etc/passwd"}}, "outside its folder"),
    ],
)
def test_a_tampered_card_is_refused_in_one_line_before_any_allocation(
    synthetic, tmp_path, change, message
):
    import json

    out = tmp_path / "model"
    train(read_dataset(synthetic), out=out, settings=TrainSettings(folds=2, run_folds=1, epochs=1),
          progress=False)  # fmt: skip
    card = json.loads((out / "card.json").read_text())
    for key, value in change.items():
        card[key] = {**card[key], **value} if isinstance(value, dict) else value
    (out / "card.json").write_text(json.dumps(card))
    with pytest.raises(PigmentmapError, match=message):
        load_model(out)
