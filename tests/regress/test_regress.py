"""Second seed: colour science, each RGB method learns a known mapping, the element MLP, storage."""

import json

import h5py
import numpy as np
import pytest
import torch

from pigmentmap.cli import main
from pigmentmap.core import EnergyAxis, PigmentmapError
from pigmentmap.regress.colour import ciede2000, r2_per_channel, srgb_to_lab
from pigmentmap.regress.models import RGB_METHODS, predict, train_elements, train_rgb
from pigmentmap.regress.networks import RGBAutoencoder, autoencoder_losses

AXIS = EnergyAxis(0.0, 0.05, 300)

# Sharma, Wu & Dalal (2005), Table 1: pairs 1, 7, 17, 25 and their CIEDE2000.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_published_pairs(lab1, lab2, expected):
    assert float(ciede2000(np.array(lab1), np.array(lab2))) == pytest.approx(expected, abs=1e-4)
    assert float(ciede2000(np.array(lab2), np.array(lab1))) == pytest.approx(expected, abs=1e-4)


def test_lab_of_primaries_and_r2():
    assert srgb_to_lab(np.array([0.0, 0.0, 1.0])) == pytest.approx(
        [32.30, 79.19, -107.86], abs=0.02
    )
    assert r2_per_channel(
        np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.5, 0.5], [0.5, 0.5]])
    ).tolist() == [0.0, 0.0]


def _data(n=240, seed=0):
    """Spectra with two peaks whose heights set R and B; G is fixed."""
    rng = np.random.default_rng(seed)
    rgb = np.column_stack([rng.random(n), np.full(n, 0.5), rng.random(n)])
    ch = np.arange(300)
    peaks = np.exp(-0.5 * ((ch[None, :] - 100) / 4) ** 2) * (50 + 400 * rgb[:, :1])
    peaks += np.exp(-0.5 * ((ch[None, :] - 200) / 4) ** 2) * (50 + 400 * rgb[:, 2:])
    spectra = rng.poisson(peaks + 20).astype(float)
    return spectra, rgb


@pytest.mark.parametrize("method", RGB_METHODS)
def test_each_method_learns_and_reloads(tmp_path, method):
    spectra, rgb = _data()
    test_spectra, test_rgb = _data(seed=1)
    out = train_rgb(
        spectra,
        AXIS,
        rgb,
        method=method,
        out=tmp_path / method,
        epochs=150,
        components=20
        if method in ("autoencoder", "encoder")
        else 0,  # networks: whitened PCA inputs
    )
    pred, names, card = predict(out, test_spectra, AXIS)
    assert names == ["R", "G", "B"] and card["method"] == method
    r2 = r2_per_channel(test_rgb[:, [0, 2]], pred[:, [0, 2]])
    assert r2.min() > 0.6, r2
    again, _, _ = predict(out, test_spectra, AXIS)
    np.testing.assert_array_equal(pred, again)
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in out.iterdir())


def test_autoencoder_latent_is_rgb_and_combined_loss_uses_c():
    torch.manual_seed(0)
    ae = RGBAutoencoder(300)
    assert (
        ae.encoder[-2].out_features == 3
        and len([m for m in ae.encoder if isinstance(m, torch.nn.Linear)]) == 5
    )
    assert ae.decoder[-1].out_features == 300
    x, rgb = torch.rand(8, 300), torch.rand(8, 3)
    enc0, rec = autoencoder_losses(ae, x, rgb, c=0.0, variant="combined")
    enc2, _ = autoencoder_losses(ae, x, rgb, c=2.0, variant="combined")
    only, _ = autoencoder_losses(ae, x, rgb, c=2.0, variant="encoder")
    assert float((enc2 - enc0).detach()) == pytest.approx(2.0 * float(rec.detach()), rel=1e-5)
    assert float(only) == pytest.approx(float(enc0), rel=1e-6)


def test_element_mlp_learns_and_refuses_missing_elements(tmp_path):
    spectra, rgb = _data(n=300)
    maps = np.column_stack([400 * rgb[:, 0], 400 * rgb[:, 2]])
    out = train_elements(
        spectra, AXIS, maps, ["Fe", "Pb"], out=tmp_path / "mlp", epochs=150, components=20
    )
    test_spectra, test_rgb = _data(seed=2)
    pred, names, _ = predict(out, test_spectra, AXIS)
    assert names == ["Fe", "Pb"]
    assert r2_per_channel(400 * test_rgb[:, [0, 2]], pred).min() > 0.7
    with pytest.raises(PigmentmapError, match="lack Hg"):
        train_elements(spectra, AXIS, maps, ["Fe", "Pb"], out=tmp_path / "x", elements=["Hg"])


def test_tampered_regression_model_refused(tmp_path):
    spectra, rgb = _data(n=40)
    out = train_rgb(spectra, AXIS, rgb, method="knn", out=tmp_path / "m")
    card = json.loads((out / "card.json").read_text())
    card["arrays_sha256"] = "0" * 64
    (out / "card.json").write_text(json.dumps(card))
    with pytest.raises(PigmentmapError, match="SHA-256"):
        predict(out, spectra, AXIS)


def _scan(path, spectra, rgb=None, axis=AXIS, shape=(12, 20)):
    with h5py.File(path, "w") as f:
        f["counts"] = spectra.reshape(*shape, -1)
        f.attrs["axis"] = json.dumps(axis.to_dict())
        if rgb is not None:
            f["truth/rgb"] = (rgb * 255).reshape(*shape, 3)
    return path


def test_cli_rgb_with_images(tmp_path, capsys):
    from PIL import Image

    spectra, rgb = _data()
    scan = _scan(tmp_path / "scan.h5", spectra, rgb)
    img = (rgb.reshape(12, 20, 3) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "photo.png")
    Image.fromarray(img).resize((40, 24)).save(tmp_path / "big.png")
    Image.fromarray(img[..., 0]).save(tmp_path / "gray.png")
    Image.fromarray(img).resize((30, 30)).save(tmp_path / "square.png")
    base = ["regress", "rgb", "train", str(scan), "--method", "knn"]
    assert main([*base, "--image", str(tmp_path / "photo.png"), "--out", str(tmp_path / "m1")]) == 0
    assert main([*base, "--out", str(tmp_path / "m2")]) == 0  # the scan's own /truth/rgb
    assert (
        main(
            [
                *base,
                "--image",
                str(tmp_path / "big.png"),
                "--register",
                "--out",
                str(tmp_path / "m3"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    for image, message in (
        ("big.png", "use --register"),
        ("gray.png", "grayscale"),
        ("square.png", "not a scaled view"),
    ):
        extra = ["--register"] if image == "square.png" else []
        assert (
            main([*base, "--image", str(tmp_path / image), "--out", str(tmp_path / "bad"), *extra])
            == 2
        )
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "pred.png"
    assert (
        main(
            [
                "regress",
                "rgb",
                "predict",
                str(scan),
                "--model",
                str(tmp_path / "m1"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert np.asarray(Image.open(out)).shape == (12, 20, 3)
    other_axis = EnergyAxis(0.0, 0.025, 600)  # another calibration: resampled
    fine = np.repeat(spectra, 2, axis=1) / 2
    scan2 = _scan(tmp_path / "scan2.h5", fine, axis=other_axis)
    assert (
        main(
            [
                "regress",
                "rgb",
                "predict",
                str(scan2),
                "--model",
                str(tmp_path / "m1"),
                "--out",
                str(tmp_path / "p2.png"),
            ]
        )
        == 0
    )
    short = _scan(tmp_path / "short.h5", spectra[:, :100], axis=EnergyAxis(0.0, 0.05, 100))
    capsys.readouterr()
    assert (
        main(
            [
                "regress",
                "rgb",
                "predict",
                str(short),
                "--model",
                str(tmp_path / "m1"),
                "--out",
                str(tmp_path / "p3.png"),
            ]
        )
        == 2
    )
    assert "cannot resample" in capsys.readouterr().err


@pytest.mark.parametrize("components,algorithm", [(0, "brute"), (5, "kd_tree")])
def test_knn_is_sklearns_search_rebuilt_from_arrays(tmp_path, components, algorithm):
    """kNN predicts the mean colour of the k nearest training spectra in feature space (checked
    against an exhaustive search here), with the search that fits the feature size, and its
    folder holds arrays and JSON only."""
    from pigmentmap.regress.features import Features

    spectra, rgb = _data(n=120)
    test_spectra, _ = _data(n=30, seed=3)
    out = train_rgb(spectra, AXIS, rgb, method="knn", out=tmp_path / "m", k=4,
                    components=components)  # fmt: skip
    pred, _, card = predict(out, test_spectra, AXIS)
    assert card["params"]["algorithm"] == algorithm
    feats = Features.fit(spectra, AXIS, n_components=components)
    train_x = feats(spectra, AXIS).astype(np.float64)
    x = feats(test_spectra, AXIS).astype(np.float64)
    d = ((x[:, None, :] - train_x[None, :, :]) ** 2).sum(axis=-1)
    expected = rgb[np.argsort(d, axis=1)[:, :4]].mean(axis=1)
    assert pred == pytest.approx(np.clip(expected, 0, 1), abs=1e-5)
    suffixes = {p.suffix for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert suffixes <= {".json", ".safetensors"}


def test_pca_leading_components_match_the_exact_svd():
    """Few components of many channels come from a randomized SVD: the same basis as the exact
    one on spectra of a few sources."""
    from pigmentmap.regress.features import Features

    rng = np.random.default_rng(0)
    spectra = rng.poisson(rng.random((600, 8)) @ (rng.random((8, 300)) * 200) + 5).astype(float)
    feats = Features.fit(spectra, AXIS, n_components=6)
    x = feats.preprocessor(spectra, AXIS)
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    got = feats.components / np.linalg.norm(feats.components, axis=1, keepdims=True)
    assert np.abs((got * vt[:6]).sum(axis=1)) == pytest.approx(np.ones(6), abs=1e-4)
    z = feats(spectra, AXIS)
    assert z.std(axis=0) == pytest.approx(np.ones(6), rel=1e-3)  # whitened
