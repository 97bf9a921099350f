"""Pigment maps, the phantom, the map command and the report."""

import json

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.core import Cube, EnergyAxis, PigmentmapError
from pigmentmap.datasets.store import read_dataset
from pigmentmap.mapping.phantom import PHANTOM_BOTTOMS, PHANTOM_TOPS, make_phantom
from pigmentmap.mapping.pigments import bin_cube, check_cube, pigment_maps
from pigmentmap.mapping.results import read_results
from pigmentmap.ml.train import TrainSettings, train

from ..ml.conftest import AXIS, write_synthetic


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    data = write_synthetic(d / "syn.h5", n=300)
    train(
        read_dataset(data),
        out=d / "m",
        settings=TrainSettings(folds=2, run_folds=1, epochs=2, patience=2),
        progress=False,
    )
    return d / "m"


def _cube(h=4, w=5, seed=1):
    data = read_dataset(write_synthetic_tmp(seed, h * w))
    return Cube(data.spectra.reshape(h, w, -1), data.axis), data.labels.reshape(h, w, -1)


def write_synthetic_tmp(seed, n):
    import tempfile
    from pathlib import Path

    return write_synthetic(Path(tempfile.mkdtemp()) / "c.h5", n=n, seed=seed)


def _scan_file(path, *, seed):
    """A 3 x 4 scan of :func:`_cube` as an HDF5 file with its axis, as a user would give it."""
    cube, _ = _cube(3, 4, seed=seed)
    with h5py.File(path, "w") as f:
        f["counts"] = cube.counts
        f.attrs["axis"] = json.dumps(AXIS)
    return path


def test_maps_do_not_depend_on_chunking(synthetic_model):
    cube, _ = _cube()
    a = pigment_maps(cube, str(synthetic_model), rows_per_chunk=1)
    b = pigment_maps(cube, str(synthetic_model), rows_per_chunk=100)
    np.testing.assert_allclose(a.prob, b.prob, atol=1e-6)
    assert a.prob.shape == (4, 5, 3) and a.names == ("red", "green", "blue")


def test_each_pixel_gets_the_models_prediction_for_its_spectrum(synthetic_model):
    from pigmentmap.ml.checkpoint import load_model
    from pigmentmap.ml.train import predict_proba

    cube, _ = _cube(3, 7, seed=3)
    maps = pigment_maps(cube, str(synthetic_model), rows_per_chunk=2)
    model, _, pre = load_model(synthetic_model)
    flat = predict_proba(model, pre(cube.counts.reshape(-1, cube.counts.shape[-1]), cube.axis))
    np.testing.assert_allclose(maps.raw.reshape(-1, 3), flat, atol=1e-6)
    # the reported probabilities are the card's calibration of the network's output
    from pigmentmap.evaluate.posterior import Posterior

    post = Posterior.from_card(maps.model_card)
    assert post.calibration is not None
    np.testing.assert_allclose(maps.prob.reshape(-1, 3), post.classes(flat), atol=1e-6)
    binned = pigment_maps(cube, str(synthetic_model), binning=2)
    assert binned.prob.shape == (1, 3, 3)


def test_binning_sums_blocks():
    c = np.arange(4 * 4 * 2, dtype=float).reshape(4, 4, 2)
    b = bin_cube(c, 2)
    assert b.shape == (2, 2, 2) and b[0, 0, 0] == c[:2, :2, 0].sum()
    with pytest.raises(PigmentmapError):
        bin_cube(c, 5)


def test_bad_cubes_refused(synthetic_model):
    axis = EnergyAxis(**AXIS)
    with pytest.raises(PigmentmapError, match="use pigmentmap identify"):
        check_cube(Cube(np.ones((1, 1, 400)), axis))
    short = EnergyAxis(0.0, 0.05, 200)  # ends at 10 keV, the model needs 19.95
    with pytest.raises(PigmentmapError, match="cannot resample"):
        pigment_maps(Cube(np.ones((2, 2, 200)), short), str(synthetic_model))
    bad = np.ones((2, 2, 400))
    bad[1, 1, 3] = -1
    with pytest.raises(PigmentmapError, match="negative"):
        pigment_maps(Cube(bad, axis), str(synthetic_model))


def test_phantom_truth_follows_table2(tmp_path, library, elio):
    p = make_phantom(
        tmp_path / "ph.h5", library=library, instrument=elio.with_changes(live_time_s=0.2), seed=1
    )
    with h5py.File(p) as f:
        counts = f["counts"][()]
        truth = f["truth/pigment_maps"][()]
        names = [n.decode() for n in f["truth/names"][()]]
        top = f["truth/top_strip"][()]
        bottom = f["truth/bottom_strip"][()]
        rgb = f["truth/rgb"][()]
        layers = f["truth/layers"][()]
        detectable = f["truth/detectable"][()]
        layers_detectable = f["truth/layers_detectable"][()]
    assert counts.shape == (30, 44, 4096) and truth.shape == (30, 44, 11)
    assert layers.shape == (30, 44, 11, 2)
    assert (layers.any(axis=-1) == truth.astype(bool)).all()  # a layer wherever a pigment is
    vm, cb, eg = names.index("vermilion"), names.index("cobalt_blue"), names.index("emerald_green")
    blank = (top < 0) & (bottom < 0)
    assert truth[blank].sum() == 0 and blank.any()
    assert (truth[bottom >= 0, vm] == 1).all()  # every bottom strip holds vermilion
    assert (truth[top == PHANTOM_TOPS.index("Top 1"), cb] == 1).all()
    under_top1 = (top == PHANTOM_TOPS.index("Top 1")) & (bottom >= 0)  # Top 1 holds no vermilion
    assert (layers[under_top1, vm] == [0, 1]).all()
    assert (layers[(top == PHANTOM_TOPS.index("Top 4")) & (bottom >= 0), vm] == [1, 1]).all()
    assert (layers[(top < 0) & (bottom >= 0), vm] == [1, 0]).all()  # bare bottom strips: on top
    assert (truth[(top == PHANTOM_TOPS.index("Top 3")), eg] == 1).all()  # verdigris + arsenite
    assert PHANTOM_BOTTOMS[1] == "Bottom 2B"
    assert rgb[blank].mean(axis=0) == pytest.approx([242, 240, 230])  # bare chalk
    # what is detectable at these counts is present, and a shorter dwell shows less of it
    assert not (detectable & (truth == 0)).any()
    short = make_phantom(tmp_path / "short.h5", library=library, seed=1,
                         instrument=elio.with_changes(live_time_s=0.002))  # fmt: skip
    with h5py.File(short) as f:
        fewer = f["truth/detectable"][()]
    assert not (fewer & ~detectable.astype(bool)).any() and fewer.sum() < detectable.sum()
    # a layer part XRF can see is a part the pigment is in; under Top 3 (80 um, 39 % vermilion)
    # the bottom strips' vermilion is hidden; under 30 um of vermilion (Top 4) 5 % below is
    # hidden and 70 % (Bottom 1A) shows; read_truth gives the layers XRF can back
    from pigmentmap.mapping.run import read_truth

    assert not (layers_detectable & ~layers.astype(bool)).any()
    top3 = (top == PHANTOM_TOPS.index("Top 3")) & (bottom >= 0)
    assert (layers_detectable[top3, vm] == [1, 0]).all()
    top4 = top == PHANTOM_TOPS.index("Top 4")
    assert (
        layers_detectable[top4 & (bottom == PHANTOM_BOTTOMS.index("Bottom 2A")), vm] == [1, 0]
    ).all()
    assert (
        layers_detectable[top4 & (bottom == PHANTOM_BOTTOMS.index("Bottom 1A")), vm] == [1, 1]
    ).all()
    under_top1 = (top == PHANTOM_TOPS.index("Top 1")) & (bottom == 0)  # 5 % vermilion, 40 um
    assert (layers_detectable[under_top1, vm] == [0, 1]).all()
    backed = read_truth(p)
    assert (backed["layers"] == layers & layers_detectable).all()
    assert (backed["layers_as_simulated"] == layers).all()


def test_map_command_report_and_bad_inputs(tmp_path, capsys, synthetic_model):
    _, labels = _cube(3, 4, seed=5)
    scan = _scan_file(tmp_path / "scan.h5", seed=5)
    with h5py.File(scan, "a") as f:
        f["truth/pigment_maps"] = labels
        f["truth/names"] = np.array(["red", "green", "blue"], dtype=h5py.string_dtype())
    before = scan.read_bytes()
    out = tmp_path / "results"
    argv = [
        "map",
        str(scan),
        "--out",
        str(out),
        "--model",
        str(synthetic_model),
        "--elements",
        "Fe,Zn",
    ]
    assert main(argv) == 0
    r = read_results(out)
    assert r["prob"].shape == (3, 4, 3) and r["elements"].shape[:2] == (3, 4)
    assert r["significance"].shape == r["elements"].shape
    assert np.isfinite(r["significance"]).all() and (r["significance"] >= 0).all()
    assert r["element_flags"] == {}  # Fe, Zn: clear of the Rh lines
    assert len(r["attrs"]["source_sha256"]) == 64
    assert (out / "pigment_red.png").exists()
    capsys.readouterr()
    assert main(argv) == 2 and "already holds results" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert html.count("alt='red'") == 1 and "Per-pixel metrics" in html
    assert "<h2>Summary</h2>" in html and "<h2>Calibration</h2>" in html
    assert main(["evaluate", str(synthetic_model), str(scan)]) == 0
    assert "macro F1" in capsys.readouterr().out
    assert scan.read_bytes() == before  # the input is untouched
    one = tmp_path / "one.h5"
    with h5py.File(one, "w") as f:
        f["counts"] = np.ones((1, 1, 400))
        f.attrs["axis"] = json.dumps(AXIS)
    capsys.readouterr()
    assert (
        main(["map", str(one), "--out", str(tmp_path / "r2"), "--model", str(synthetic_model)]) == 2
    )
    err = capsys.readouterr().err
    assert "single spectrum" in err and err.count("\n") == 1
    assert not (tmp_path / "r2").exists()
    assert main(["report", str(tmp_path / "nothing")]) == 2
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    capsys.readouterr()
    assert (
        main(
            [
                "map",
                str(scan),
                "--out",
                str(foreign),
                "--model",
                str(synthetic_model),
                "--overwrite",
            ]
        )
        == 2
    )
    assert "holds other files" in capsys.readouterr().err
    assert (foreign / "thesis.txt").read_text() == "precious"


def test_results_file_is_nexus_that_silx_reads(tmp_path, synthetic_model):
    silx_nxdata = pytest.importorskip("silx.io.nxdata")
    scan = _scan_file(tmp_path / "scan.h5", seed=2)
    out = tmp_path / "res"
    assert main(["map", str(scan), "--instrument", "elio", "--model", str(synthetic_model),
                 "--elements", "Fe,Zn", "--out", str(out)]) == 0  # fmt: skip
    with h5py.File(out / "maps.h5") as f:
        assert f.attrs["default"] == "entry" and f["entry"].attrs["NX_class"] == "NXentry"
        nx = silx_nxdata.get_default(f)  # what silx view shows first
        assert nx is not None and nx.signal.shape == (3, 3, 4)  # map index first
        assert nx.interpretation == "image" and nx.axes_names[1:] == ["y (pixel)", "x (pixel)"]
        for kind in ("pigments", "elements", "significance", "evidence", "groups"):
            assert silx_nxdata.is_valid_nxdata(f["entry"][kind]), kind
        assert f["entry/elements/counts"].attrs["units"] == "counts"
        assert f["entry/model_card"].attrs["architecture"] == "paper-cnn"  # attributes, not JSON
    r = read_results(out)
    assert r["prob"].shape == (3, 4, 3) and r["model_card"]["architecture"] == "paper-cnn"


def test_a_failed_limits_step_keeps_the_maps_and_says_so(tmp_path, synthetic_model, monkeypatch):
    """What the scan can see is an aid: if it fails, the mapped blocks are kept and the log and
    the report say it was not computed."""
    import pigmentmap.mapping.run as run_module

    def broken(*_args, **_kwargs):
        raise ValueError("no simulation for this profile")

    monkeypatch.setattr(run_module, "detection_limits", broken)
    scan = _scan_file(tmp_path / "scan.h5", seed=5)
    out = tmp_path / "results"
    assert main(["map", str(scan), "--out", str(out), "--model", str(synthetic_model),
                 "--elements", "Fe,Zn"]) == 0  # fmt: skip
    r = read_results(out)
    assert r["prob"].shape == (3, 4, 3) and "limits" not in r
    said = [n for n in r["attrs"]["notes"] if "can see" in n]
    assert said == ["what this scan can see was not computed: no simulation for this profile"]
