"""The layer model: a head on the pigment network's features (default) or a second network."""

import json

import numpy as np
import pytest
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import read_dataset
from pigmentmap.mapping.pigments import PigmentPredictor
from pigmentmap.ml.checkpoint import load_model, read_card
from pigmentmap.ml.layers import (
    FEATURE_HEAD,
    LayerHead,
    LayersOnFeatures,
    load_layer_model,
    predict_layers,
    train_layer_model,
)
from pigmentmap.ml.train import predict_proba


@pytest.fixture(scope="module")
def tiny(universal_model, tmp_path_factory):
    data, model = universal_model
    head = tmp_path_factory.mktemp("layers") / "head"
    train_layer_model(model, read_dataset(data), out=head, epochs=2, progress=False)
    return data, model, head


def test_a_feature_head_leaves_the_pigment_network_untouched(tiny):
    _data, model, head = tiny
    card, original = read_card(head), read_card(model)
    assert card["layers"]["architecture"] == FEATURE_HEAD
    assert card["layers"]["trunk_sha256"] == original["weights"]["sha256"]
    assert card["weights"]["sha256"] == original["weights"]["sha256"]
    before, _, _ = load_model(model)
    layer_model = load_layer_model(head)
    assert isinstance(layer_model, LayersOnFeatures)
    # weights and BatchNorm statistics of the trunk are the trained pigment network's
    for key, value in before.state_dict().items():
        assert torch.equal(value, layer_model.trunk.state_dict()[key]), key
    layer_model.train()
    assert layer_model.head.training and not layer_model.trunk.training
    assert not any(p.requires_grad for p in layer_model.trunk.parameters())


def test_one_pass_gives_the_pigments_and_layers_of_two(tiny):
    data, _, head = tiny
    predictor = PigmentPredictor.load(str(head))
    _model, joint = predictor._networks()
    assert joint == "joint"  # one network: the layer head shares the pigment features
    ds = read_dataset(data)
    counts = ds.spectra[:6].reshape(2, 3, -1)
    raw, layers = predictor.predict(counts, ds.axis)
    eager, _, pre = load_model(head)
    x = pre(ds.spectra[:6], ds.axis)
    np.testing.assert_allclose(raw.reshape(6, -1), predict_proba(eager, x), atol=1e-5)
    expected = predict_layers(load_layer_model(head), x)
    np.testing.assert_allclose(layers.reshape(6, -1, 2), expected, atol=1e-5)
    assert layers.shape == (2, 3, len(predictor.names), 2)


def test_a_head_on_other_pigment_weights_is_refused(tiny, tmp_path):
    _, _model, head = tiny
    import shutil

    other = tmp_path / "other"
    shutil.copytree(head, other)
    card = json.loads((other / "card.json").read_text())
    card["layers"]["trunk_sha256"] = "0" * 64
    (other / "card.json").write_text(json.dumps(card))
    with pytest.raises(PigmentmapError, match="trained on other pigment weights"):
        load_layer_model(other)


def test_a_second_network_is_still_a_choice(tiny, tmp_path):
    data, model, _ = tiny
    entry = train_layer_model(model, read_dataset(data), out=tmp_path / "net", epochs=1,
                              architecture="fast-cnn", progress=False)  # fmt: skip
    assert entry["architecture"] == "fast-cnn" and "trunk_sha256" not in entry
    net = load_layer_model(tmp_path / "net")
    assert not isinstance(net, LayersOnFeatures)
    predictor = PigmentPredictor.load(str(tmp_path / "net"))
    assert predictor._networks()[1] != "joint"


def test_layer_head_sizes():
    assert len(LayerHead(n_features=10, n_classes=2, hidden=0).net) == 1
    assert LayerHead(n_features=10, n_classes=2, hidden=5)(torch.zeros(1, 10)).shape == (1, 4)
    with pytest.raises(PigmentmapError):
        LayerHead(n_features=10, n_classes=2, hidden=-1)


def test_finetuning_drops_the_parts_fitted_to_the_old_network(tiny, tmp_path):
    from pigmentmap.ml.finetune import finetune

    data, _, head = tiny
    card = finetune(head, read_dataset(data), out=tmp_path / "ft", epochs_head=1, epochs_all=1,
                    progress=False)  # fmt: skip
    assert "layers" in card["finetune"]["dropped"] and "layers" not in card
    assert load_layer_model(tmp_path / "ft") is None  # maps without layers, and says so
    predictor = PigmentPredictor.load(str(tmp_path / "ft"))
    assert "layer order" in predictor.posterior.missing


def test_model_show_says_what_layer_model_and_calibration_a_model_has(tiny, capsys):
    from pigmentmap.cli import main

    _, model, head = tiny
    assert main(["model", "show", str(head)]) == 0
    out = capsys.readouterr().out
    acc = read_card(head)["layers"]["metrics"]["test"]["layer_accuracy"]
    assert f"layers:       a 64-unit head on the pigment network's features, held-out layer " \
           f"accuracy {acc:.3f}" in out  # fmt: skip
    assert main(["model", "show", str(model)]) == 0
    out = capsys.readouterr().out
    assert "layers:       none (pigmentmap train-layers adds them)" in out


def test_a_threshold_set_later_sees_the_calls_training_measured(tiny, tmp_path):
    from pigmentmap.ml.layers import threshold_layer_calls

    data, model, head = tiny
    trained = read_card(head)["layers"]
    entry = threshold_layer_calls(head, read_dataset(data), out=tmp_path / "thr")
    # the same held-out rows drawn the same way: the same calls, the same figures
    assert (
        entry["metrics"]["test"]["layer_accuracy"] == trained["metrics"]["test"]["layer_accuracy"]
    )
    assert entry["metrics"]["test"]["sure"] == trained["metrics"]["test"]["sure"]
    assert entry["min_confidence"] == trained["metrics"]["test"]["sure"]["min_confidence"]
    assert entry["weights"] == trained["weights"]  # no training: the head is copied as it is
    with pytest.raises(PigmentmapError, match="has no layer network"):
        threshold_layer_calls(model, read_dataset(data), out=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_evaluate_scores_layers_on_the_same_measurements_as_the_pigments(tiny):
    from pigmentmap.ml.augment import draw_dataset
    from pigmentmap.ml.layers import layer_augmenter
    from pigmentmap.preprocess.preprocessor import Preprocessor

    data, model, _ = tiny
    card = read_card(model)
    names, pre = tuple(card["label_names"]), Preprocessor.from_dict(card["preprocessor"])
    ds = read_dataset(data)
    x, y, w = draw_dataset(ds, pre, seed=4, label_names=names)
    aug = layer_augmenter(ds, names, pre)
    assert aug.label_z is not None  # a dataset written now stores each layer part's z
    lx, ly, lw = aug.draw(np.arange(len(x)), np.random.default_rng(4))
    assert np.array_equal(x, lx)  # the generator in lockstep: the same spectra
    k = len(names)
    # a layer label only where the class is present, and counted where the class is counted
    assert not ((ly[:, :k] + ly[:, k:] > 0) & (y == 0)).any()
    assert np.array_equal(lw[:, :k] > 0, (y > 0) & (w > 0))
