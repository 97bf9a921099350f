"""A model narrowed to a palette: the trunk is the base model's, untouched; the head answers for
the palette only; bad palettes are refused before any work."""

import numpy as np
import pytest
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials import default_library
from pigmentmap.ml.checkpoint import load_model, read_card
from pigmentmap.ml.layers import load_layer_model
from pigmentmap.ml.palette import PaletteSettings, _head_from, palette_model, palette_names

TINY = PaletteSettings(n_stacks=120, epochs=2, seed=3)


@pytest.fixture(scope="module")
def narrowed(tmp_path_factory):
    out = tmp_path_factory.mktemp("palette") / "model"
    lines = []
    card = palette_model("universal", ["VM", "lead white", "verdigris"], out=out, settings=TINY,
                         progress=False, log=lines.append)  # fmt: skip
    return out, card, lines


def test_the_palette_model_answers_for_the_palette_in_its_order(narrowed):
    out, card, lines = narrowed
    assert card["label_names"] == ["vermilion", "lead_white", "verdigris"]
    assert card["palette"]["from_model_head"] == ["vermilion", "lead_white"]
    assert card["palette"]["new_to_model"] == ["verdigris"]  # not one of universal's classes
    assert set(card["palette"]["seconds"]) == {"simulate", "head", "layers", "calibrate"}
    assert card["metrics"]["test_best_fold"]["per_class"].keys() == set(card["label_names"])
    model, card2, _ = load_model(out)
    assert model(torch.zeros(2, 2, model.n_inputs)).shape == (2, 3)
    assert card2 == read_card(out)
    assert len(lines) == 4 and "held-out macro F1" in lines[1]


def test_the_trunk_is_the_base_models_weights_and_batchnorm_statistics(narrowed):
    out, _, _ = narrowed
    base, _, _ = load_model("universal")
    model, _, _ = load_model(out)
    a, b = base.features.state_dict(), model.features.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # running means and variances included
    assert not torch.equal(model.head.weight[:2], base.head.weight[[9, 5]])  # the head trained


def test_the_palette_model_has_its_own_layer_head_calibration_and_groups(narrowed):
    out, card, _ = narrowed
    assert card["layers"]["trunk_sha256"] == card["weights"]["sha256"]
    assert card["layers"]["data"]["n_test"] == round(TINY.n_stacks * 0.2)
    layers = load_layer_model(out)
    assert layers is not None and layers(torch.zeros(1, 2, 2000)).shape == (1, 6)
    members = sorted(m for g in card["groups"] for m in g["members"])
    assert members == sorted(card["label_names"])
    source = card["calibration"]["data"]
    assert source["n_fit"] + source["n_test"] == round(TINY.n_stacks * 0.2)


def test_a_palette_the_model_knows_keeps_its_layer_head_cut_to_the_palette(tmp_path):
    card = palette_model("universal", ["cobalt blue", "VM"], out=tmp_path / "m", settings=TINY,
                         progress=False)  # fmt: skip
    assert card["layers"]["training"]["sliced_from"] == "universal"
    assert card["layers"]["trunk_sha256"] == card["weights"]["sha256"]
    assert 0.0 <= card["layers"]["metrics"]["test"]["layer_accuracy"] <= 1.0
    names = read_card("universal")["label_names"]
    cols = [names.index("cobalt_blue"), names.index("vermilion")]
    x = torch.from_numpy(np.random.default_rng(1).random((3, 2, 2000), dtype=np.float32))
    mine, theirs = load_layer_model(tmp_path / "m"), load_layer_model("universal")
    assert mine is not None and theirs is not None
    with torch.no_grad():
        a, b = mine(x), theirs(x)
    assert torch.allclose(a, b[:, cols + [len(names) + c for c in cols]], atol=1e-6)


def test_a_known_pigment_starts_from_the_models_row_a_new_one_from_zero():
    base, card, _ = load_model("universal")
    names = tuple(card["label_names"])
    model = _head_from(base, names, ("cobalt_blue", "egyptian_blue"))
    k = names.index("cobalt_blue")
    assert torch.equal(model.head.weight[0], base.head.weight[k])
    assert torch.equal(model.head.bias[0], base.head.bias[k])
    assert not model.head.weight[1].any() and not model.head.bias[1].any()
    x = torch.from_numpy(np.random.default_rng(0).random((2, 2, base.n_inputs), dtype=np.float32))
    base.eval(), model.eval()
    assert torch.allclose(model(x)[:, 0], base(x)[:, k])


@pytest.mark.parametrize(
    ("pigments", "message"),
    [
        ([], "at least one pigment"),
        (["vermilion", "VM"], "named twice"),
        (["gypsum"], "is a ground, not a pigment"),
        (["linseed oil"], "is a binder"),
        (["vermilio"], "did you mean vermilion"),
    ],
)
def test_bad_palettes_are_one_line(pigments, message):
    with pytest.raises(PigmentmapError, match=message):
        palette_names(pigments, default_library())


def test_bad_requests_are_refused_before_any_work(tmp_path):
    (tmp_path / "taken").mkdir()
    cases = [
        ("universal", ["vermilion"], tmp_path / "taken", TINY, "exists"),
        ("universal", ["vermilion"], tmp_path / "no" / "m", TINY, "does not exist"),
        ("universal", ["vermilion"], tmp_path / "m", PaletteSettings(n_stacks=10), "at least 100"),
        ("universal", ["vermilion"], tmp_path / "m", PaletteSettings(epochs=0), "one epoch"),
        ("elio-mixtures", ["vermilion"], tmp_path / "m", TINY, "not a fast-cnn"),
        ("universal", ["not a pigment"], tmp_path / "m", TINY, "unknown pigment"),
    ]
    for model, pigments, out, settings, message in cases:
        with pytest.raises(PigmentmapError, match=message):
            palette_model(model, pigments, out=out, settings=settings, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
