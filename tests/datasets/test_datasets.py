import h5py
import numpy as np
import pytest

from pigmentmap.core import PigmentmapError
from pigmentmap.datasets import PAPER_LABELS, mixtures_design, mockup_design, paper_design
from pigmentmap.datasets import store as store_module
from pigmentmap.datasets.store import generate_dataset, read_dataset


def test_paper_design_grid(library):
    d = paper_design(library)
    assert len(d.stacks) == 13 * 13 * 16 * 6 == 16224
    assert d.label_names == PAPER_LABELS
    # a layer is one material or absent; at most two classes per stack
    assert d.labels.sum(axis=1).max() == 2
    tops = sorted({s.layers[0].thickness_um for s in d.stacks if s.layers[0].thickness_um > 0})
    assert tops == [float(t) for t in range(50, 201, 10)]
    # vermilion alone as the top layer, nothing below: one label
    lone = [
        i
        for i, s in enumerate(d.stacks)
        if s.describe().startswith("vermilion=1:50/") and s.layers[1].thickness_um == 0
    ]
    assert d.labels[lone[0]].sum() == 1 and d.labels[lone[0], PAPER_LABELS.index("vermilion")] == 1


def test_mockup_design_uses_table2(library):
    d = mockup_design(library, n=64, seed=3)
    assert d.info["structure_4"] == "Top 1 / Bottom 2B"
    s = d.stacks[4]  # Top 1 over Bottom 2B: 0.6 % vermilion below
    below = s.layers[1].pigment_fractions
    assert below["vermilion"] == pytest.approx(0.006 * 0.75, rel=1e-6)
    assert 30 <= s.layers[0].thickness_um <= 200 and 150 <= s.layers[2].thickness_um <= 200
    names = d.label_names
    top3 = d.stacks[2 * 16]  # Top 3 holds verdigris + sodium arsenite: the emerald green stand-in
    assert d.labels[2 * 16, names.index("emerald_green")] == 1
    assert "emerald_green" not in top3.pigments_present()


def test_mixtures_design_ranges(library):
    d = mixtures_design(library, n=400, seed=5)
    k = d.labels.sum(axis=1)
    assert k.min() == 0 and k.max() <= 8
    assert set(np.unique(d.variant)) <= set(range(len(d.variants)))
    assert 0.2 <= d.live_time_factor.min() and d.live_time_factor.max() <= 5
    fractions = [f for s in d.stacks for layer in s.layers[:-1] for _, f in layer.components]
    assert min(fractions) >= 0.005 - 1e-9
    again = mixtures_design(library, n=400, seed=5)
    assert np.array_equal(again.labels, d.labels)


def test_generate_layout_and_reader(tmp_path, library, elio):
    out = tmp_path / "m.h5"
    generate_dataset(
        mockup_design(library, n=12, seed=1),
        instrument=elio,
        out=out,
        seed=4,
        library_hash=library.hash,
        progress=False,
    )
    with h5py.File(out) as f:
        assert f["spectra"].shape == (12, 4096) and f["spectra"].dtype == np.float32
        assert f["layers/fractions"].shape[:2] == (12, 3)
        assert f["layers/thickness_um"].shape == (12, 3)
        assert f.attrs["design"] == "mockup" and f.attrs["library_hash"] == library.hash
        spectra = f["spectra"][()]
    assert np.all(spectra == np.round(spectra))  # Poisson counts
    data = read_dataset(out)
    assert data.label_names == PAPER_LABELS and data.axis.n_channels == 4096
    with pytest.raises(PigmentmapError, match="exists"):
        generate_dataset(
            mockup_design(library, n=12, seed=1),
            instrument=elio,
            out=out,
            seed=4,
            library_hash="x",
            progress=False,
        )


def test_interrupted_generation_resumes_to_the_same_file(tmp_path, library, elio, monkeypatch):
    design = mixtures_design(library, n=30, seed=2, n_variants=2)
    kw = {
        "instrument": elio,
        "seed": 9,
        "library_hash": library.hash,
        "chunk_size": 10,
        "progress": False,
    }
    full = generate_dataset(design, out=tmp_path / "full.h5", **kw)

    calls = {"n": 0}
    real = store_module.poisson_counts

    def flaky(counts, *, rng):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(counts, rng=rng)

    monkeypatch.setattr(store_module, "poisson_counts", flaky)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(design, out=tmp_path / "resumed.h5", **kw)
    assert not (tmp_path / "resumed.h5").exists()
    with h5py.File(tmp_path / "resumed.h5.partial") as f:
        assert f["done"][()].tolist() == [True, False, False]
    monkeypatch.setattr(store_module, "poisson_counts", real)
    resumed = generate_dataset(design, out=tmp_path / "resumed.h5", **kw)
    with h5py.File(full) as a, h5py.File(resumed) as b:
        np.testing.assert_array_equal(a["spectra"][()], b["spectra"][()])
    assert not (tmp_path / "resumed.h5.partial").exists()


def test_measured_background_is_added(tmp_path, library, elio):
    from pigmentmap.datasets.background import measured_background

    bg_file = tmp_path / "bg.csv"
    e = elio.axis.energies
    np.savetxt(
        bg_file,
        np.c_[e, np.full_like(e, 40.0)],
        delimiter=",",
        header="energy_kev,counts",
        comments="",
    )
    bg = measured_background(bg_file, axis=elio.axis, live_time_s=10.0)
    assert bg[1000] == pytest.approx(4.0, rel=1e-6)
    design = mockup_design(library, n=4)
    kw = {"instrument": elio, "seed": 1, "library_hash": "h", "noise": False, "progress": False}
    plain = read_dataset(generate_dataset(design, out=tmp_path / "a.h5", **kw)).spectra
    with_bg = read_dataset(
        generate_dataset(design, out=tmp_path / "b.h5", background_cps=bg, **kw)
    ).spectra
    np.testing.assert_allclose(with_bg - plain, 40.0, rtol=1e-4)


@pytest.mark.parametrize("case", ["not_hdf5", "no_spectra", "empty", "nan", "negative", "labels"])
def test_reader_refuses_bad_files(tmp_path, case):
    p = tmp_path / "bad.h5"
    if case == "not_hdf5":
        p.write_text("hello")
    else:
        with h5py.File(p, "w") as f:
            n = 0 if case == "empty" else 3
            if case != "no_spectra":
                s = np.ones((n, 16), dtype=np.float32)
                if case == "nan":
                    s[1, 2] = np.nan
                if case == "negative":
                    s[0, 0] = -5
                f["spectra"] = s
            f["energy_kev"] = np.arange(16) * 0.01
            f["labels"] = np.zeros((n, 2 if case != "labels" else 3), dtype=np.uint8)
            f["label_names"] = np.array(["a", "b"], dtype=h5py.string_dtype())
    match = {"not_hdf5": "not an HDF5", "no_spectra": "no /spectra", "empty": "no spectra", "nan": "NaN",
             "negative": "negative", "labels": "does not match"}[case]  # fmt: skip
    with pytest.raises(PigmentmapError, match=match):
        read_dataset(p)


def test_generated_spectra_have_pileup_by_default(tmp_path, library, elio):
    from dataclasses import replace

    from pigmentmap.simulate import Simulator

    design = mockup_design(library, n=3)
    kw = {"seed": 1, "library_hash": "h", "noise": False, "progress": False}
    data = read_dataset(generate_dataset(design, instrument=elio, out=tmp_path / "a.h5", **kw))
    assert float(data.attrs["pileup_resolving_time_ns"]) == elio.detector.pileup_resolving_time_ns
    with_pileup = Simulator(elio).simulate(list(design.stacks)).counts
    without = Simulator(elio, pileup_resolving_time_s=0).simulate(list(design.stacks)).counts
    np.testing.assert_allclose(data.spectra, with_pileup, rtol=1e-5)
    assert np.abs(data.spectra - without).max() > 1e-3 * without.max()
    quiet = replace(elio, detector=replace(elio.detector, pileup_resolving_time_ns=0.0))
    off = read_dataset(generate_dataset(design, instrument=quiet, out=tmp_path / "b.h5", **kw))
    np.testing.assert_allclose(off.spectra, without, rtol=1e-5)
