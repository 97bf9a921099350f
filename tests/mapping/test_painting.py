"""The painting phantom: irregular regions, gradients, a pentimento, truth that matches the stacks,
every instrument, and bad input refused in one line with nothing written."""

import json
import shutil
from importlib import resources

import h5py
import numpy as np
import pytest

from pigmentmap.cli import main
from pigmentmap.datasets.designs import layer_labels_of
from pigmentmap.instruments import load_instrument
from pigmentmap.mapping import painting
from pigmentmap.mapping.painting import make_painting, painting_layout, smooth_partition
from pigmentmap.materials import default_library

PROFILES = ("elio", "lab-ag", "m6-jetstream", "niton-xl3t")


@pytest.fixture(scope="module")
def small_painting(tmp_path_factory):
    out = tmp_path_factory.mktemp("painting") / "p.h5"
    make_painting(out, library=default_library(), instrument=load_instrument("lab-ag"), seed=4,
                  size=(18, 22))  # fmt: skip
    return out


def test_regions_are_irregular_not_strips():
    part = smooth_partition((80, 80), 6, rng=np.random.default_rng(3))
    present = np.unique(part)
    assert len(present) >= 3
    # a strip or a rectangle fills its bounding box; a smooth random region does not
    loose = 0
    for k in present:
        rows, cols = np.nonzero(part == k)
        box = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
        loose += box > 1.15 * len(rows)
    assert loose >= len(present) // 2


def test_brushwork_varies_mixtures_and_colour_within_a_region(library):
    from pigmentmap.mapping.painting import layered_rgb

    lay = painting_layout(library, size=(96, 96), seed=5)
    varied = 0
    for k in np.unique(lay.surface_region):
        stacks = [lay.stacks[s] for s in np.unique(lay.stack_index[lay.surface_region == k])]
        mixes = {tuple(round(f, 4) for _, f in s.layers[0].components) for s in stacks}
        colours = {tuple(np.round(layered_rgb(s), 1)) for s in stacks}
        varied += len(mixes) > 1 and len(colours) > 1
    assert varied >= 3


def test_layout_has_gradient_pentimento_and_flux(library):
    lay = painting_layout(library, size=(96, 96), seed=5)
    share = float((lay.hidden_region >= 0).mean())
    assert 0.25 <= share <= 0.45
    assert len(np.unique(lay.hidden_region[lay.hidden_region >= 0])) >= 2
    assert 0.94 <= lay.flux.min() and lay.flux.max() <= 1.06 and lay.flux.std() > 0.005
    # the body layer of the largest painted region takes several thicknesses (the gradient)
    sizes = np.bincount(lay.surface_region.ravel())
    thick_by_region = {}
    for k in np.argsort(sizes)[::-1]:
        stacks = np.unique(lay.stack_index[lay.surface_region == k])
        body = {
            round(lay.stacks[s].layers[0].thickness_um, 3)
            for s in stacks
            if lay.hidden_region[lay.stack_index == s].min() < 0  # no pentimento under it
        }
        thick_by_region[int(k)] = body
    assert max(len(v) for v in thick_by_region.values()) >= 3
    # a pentimento pixel's stack holds one more layer than the surface region's bare stack
    hid = lay.hidden_region >= 0
    n_layers = np.array([len(s.layers) for s in lay.stacks])[lay.stack_index]
    for k in np.unique(lay.surface_region):
        a, b = (lay.surface_region == k) & hid, (lay.surface_region == k) & ~hid
        if a.any() and b.any():
            assert n_layers[a].min() == n_layers[b].max() + 1


def test_truth_matches_the_stacks(small_painting, library):
    with h5py.File(small_painting) as f:
        names = tuple(n.decode() for n in f["truth/names"][()])
        labels = f["truth/pigment_maps"][()]
        layers = f["truth/layers"][()]
        detectable = f["truth/detectable"][()]
        rgb = f["truth/rgb"][()]
        index = f["truth/stack_index"][()]
        stacks = [json.loads(s) for s in f["truth/stacks"][()]]
        counts = f["counts"][()]
        flux = f["truth/flux"][()]
        assert f.attrs["design"] == "phantom-painting"
    assert len(names) == 29 and labels.shape == (18, 22, 29)
    for i, j in [(0, 0), (9, 11), (17, 21), (5, 3)]:
        desc = stacks[index[i, j]]
        present = {p for layer in desc for p in layer["pigments"]}
        assert [int(n in present) for n in names] == labels[i, j].tolist()
        top = desc[0]["pigments"]
        assert layers[i, j, :, 0].tolist() == [int(n in top) for n in names]
        # visible colour: each layer's mix seen through the layers above (10 um hides 63 %)
        mix, seen = np.zeros(3), 1.0
        for n, layer in enumerate(desc):
            colour = sum(np.array(library[p].colour_srgb, float) * v
                         for p, v in layer["pigments"].items())  # fmt: skip
            hides = 1.0 if n == len(desc) - 1 else 1 - np.exp(-layer["thickness_um"] / 10.0)
            mix, seen = mix + seen * hides * colour, seen * (1 - hides)
        assert rgb[i, j] == pytest.approx(mix, rel=1e-3)
    assert not (detectable & (labels == 0)).any()
    assert detectable.sum() > 0
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    # the flux field scales the counts: per stack, total counts follow it
    totals = counts.sum(axis=-1)
    ratio = np.zeros_like(totals)
    for s in np.unique(index):
        sel = index == s
        ratio[sel] = totals[sel] / totals[sel].mean()
    fsel = np.zeros_like(flux)
    for s in np.unique(index):
        sel = index == s
        fsel[sel] = flux[sel] / flux[sel].mean()
    assert np.corrcoef(ratio.ravel(), fsel.ravel())[0, 1] > 0.5


def test_earlier_composition_lies_between_paint_and_ground(library):
    """Pixels of the pentimento: a layer of palette pigments just above the ground (the same
    trailing layers in every stack), whose pigments the truth counts as lower, not top."""
    lay = painting_layout(library, size=(48, 48), seed=8)
    names = lay.palette
    n_ground = 1
    while all(s.layers[-n_ground - 1 :] == lay.stacks[0].layers[-n_ground - 1 :]
              for s in lay.stacks if len(s.layers) > n_ground):  # fmt: skip
        n_ground += 1
    hidden = np.unique(lay.stack_index[lay.hidden_region >= 0])
    assert len(hidden) >= 2
    for s in hidden:
        stack = lay.stacks[s]
        if len(stack.layers) == n_ground + 1:  # abraded surface: the earlier paint is on top
            continue
        earlier = {p.name for p, _ in stack.layers[-n_ground - 1].components} & set(names)
        assert earlier
        truth = dict(zip(names, layer_labels_of(stack, names), strict=True))
        assert all(truth[n][1] == 1 for n in earlier)


def test_seeded_and_independent_of_the_block_size(tmp_path, monkeypatch, library):
    inst = load_instrument("lab-ag")
    a = make_painting(tmp_path / "a.h5", library=library, instrument=inst, seed=9, size=(6, 7))
    monkeypatch.setattr(painting, "_BLOCK_VALUES", 1)  # one row per block
    b = make_painting(tmp_path / "b.h5", library=library, instrument=inst, seed=9, size=(6, 7))
    c = make_painting(tmp_path / "c.h5", library=library, instrument=inst, seed=10, size=(6, 7))
    with h5py.File(a) as fa, h5py.File(b) as fb, h5py.File(c) as fc:
        assert np.array_equal(fa["counts"][()], fb["counts"][()])
        assert np.array_equal(fa["truth/pigment_maps"][()], fb["truth/pigment_maps"][()])
        assert not np.array_equal(fa["counts"][()], fc["counts"][()])


@pytest.mark.parametrize("profile", PROFILES)
def test_every_shipped_profile(tmp_path, profile, capsys):
    out = tmp_path / "p.h5"
    rc = main(["phantom", "--design", "painting", "--instrument", profile, "--size", "5x6",
               "--seed", "1", "--out", str(out)])  # fmt: skip
    assert rc == 0 and "painting phantom 5 x 6 px, 29 pigments" in capsys.readouterr().out
    with h5py.File(out) as f:
        assert f["counts"].shape == (5, 6, load_instrument(profile).axis.n_channels)
        assert json.loads(f.attrs["instrument"])["name"] == load_instrument(profile).name


def test_user_profile_and_palette(tmp_path, capsys):
    src = resources.files("pigmentmap.instruments").joinpath("profiles/lab-ag.toml")
    toml = tmp_path / "mine.toml"
    shutil.copyfile(str(src), toml)
    out = tmp_path / "p.h5"
    rc = main(["phantom", "--design", "painting", "--instrument", str(toml), "--size", "6x5",
               "--palette", "VM,LW,azurite,yellow_ochre", "--out", str(out)])  # fmt: skip
    assert rc == 0
    with h5py.File(out) as f:
        names = [n.decode() for n in f["truth/names"][()]]
        assert names == ["vermilion", "lead_white", "azurite", "yellow_ochre"]
        stacks = [json.loads(s) for s in f["truth/stacks"][()]]
    paint = {p for s in stacks for layer in s for p in layer["pigments"]}
    extra = paint - set(names)
    # what is not in the palette is ground, binder or a trace
    assert extra <= {"calcium_carbonate", "gypsum", "lime_plaster", "kaolin", "lead_white",
                     "animal_glue", "trace_strontium", "trace_iron", "trace_manganese"}  # fmt: skip


@pytest.mark.parametrize(
    "args,message",
    [
        (["--size", "3x40"], "each be 4-4096"),
        (["--size", "4097x8"], "each be 4-4096"),
        (["--size", "big"], "--size wants HxW"),
        (["--instrument", "nowhere"], "unknown instrument 'nowhere'"),
        (["--palette", "vermilion,unobtainium"], "does not hold unobtainium"),
        (["--design", "mockup", "--size", "8x8"], "painting only"),
    ],
)
def test_bad_input_one_line_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "p.h5"
    rc = main(["phantom", "--design", "painting", *args, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_default_model_is_judged_on_what_physics_can_back(small_painting, capsys):
    """evaluate counts a pigment present below 5 sigma neither as a miss nor as a claim."""
    from pigmentmap.ml.evaluation import evaluate_model

    with h5py.File(small_painting) as f:
        present, detectable = f["truth/pigment_maps"][()] > 0, f["truth/detectable"][()] > 0
    hidden = int((present & ~detectable).sum())
    metrics = evaluate_model("universal", small_painting)
    assert hidden > 0 and metrics["not_counted"] == hidden
    assert sum(m["support"] for m in metrics["per_class"].values()) == int(detectable.sum())
    rc = main(["evaluate", "universal", str(small_painting)])
    out = capsys.readouterr().out
    assert rc == 0 and "macro F1" in out and f"{hidden} (spectrum, pigment) entries" in out


def test_refused_before_any_work_when_the_disk_is_too_small(tmp_path, monkeypatch, capsys):
    import collections
    import shutil as shutil_module

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_module, "disk_usage", lambda _: usage(10**9, 10**9 - 10**6, 10**6))
    out = tmp_path / "p.h5"
    rc = main(["phantom", "--design", "painting", "--size", "64x64", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "needs about 0.1 GB" in err and "0.0 GB free" in err
    assert list(tmp_path.iterdir()) == []


def test_a_user_librarys_pigment_in_the_palette(tmp_path):
    lib = tmp_path / "mine.toml"
    lib.write_text('[pigments.my_green]\nformula = "CoCr2O4"\ndensity_g_cm3 = 5.1\n'
                   "colour_srgb = [40, 120, 90]\n")  # fmt: skip
    out = tmp_path / "p.h5"
    rc = main(["phantom", "--design", "painting", "--library", str(lib), "--palette",
               "my_green,VM", "--size", "6x6", "--instrument", "lab-ag", "--out", str(out)])  # fmt: skip
    assert rc == 0
    with h5py.File(out) as f:
        assert [n.decode() for n in f["truth/names"][()]] == ["my_green", "vermilion"]
        assert f["truth/pigment_maps"][()][..., 0].any()  # the user's pigment is painted
