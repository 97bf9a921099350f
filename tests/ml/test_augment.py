"""Training-time instrument randomisation: new counts, channels, calibration errors, masks."""

import numpy as np
import pytest

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.universal import SIM_AXIS
from pigmentmap.ml.augment import Augmenter, AugmentSettings
from pigmentmap.preprocess.preprocessor import Preprocessor

E = SIM_AXIS.energies


def _peaks(centres_kev, height=500.0):
    s = np.full(len(E), 5.0)
    for c in centres_kev:
        s += height * np.exp(-0.5 * ((E - c) / 0.07) ** 2)
    return s


def _augmenter(settings=None, z=100.0):
    spectra = np.stack([_peaks([6.40, 7.06]), _peaks([10.55, 12.61])]).astype(np.float32)
    labels = np.array([[1, 0], [0, 1]])
    det = np.zeros((2, 2, 5))
    det[0, 0], det[1, 1] = z, z
    return Augmenter(
        spectra, SIM_AXIS, labels, det, Preprocessor.canonical(), settings or AugmentSettings()
    )


def test_draws_differ_between_epochs_and_repeat_with_the_seed():
    aug = _augmenter()
    a = aug.draw(np.array([0, 1]), np.random.default_rng(1))[0]
    b = aug.draw(np.array([0, 1]), np.random.default_rng(2))[0]
    c = aug.draw(np.array([0, 1]), np.random.default_rng(1))[0]
    assert not np.allclose(a, b) and np.array_equal(a, c)


def test_upper_end_and_mask_vary_between_20_and_41_kev():
    aug = _augmenter()
    rng = np.random.default_rng(0)
    ends = []
    for _ in range(40):
        x = aug.draw(np.array([0]), rng)[0][0]
        covered = np.flatnonzero(x[1] > 0)
        ends.append(Preprocessor.canonical().energies_kev[covered[-1]])
    assert 19.5 < min(ends) < 25 and 36 < max(ends) <= 41.1


def test_calibration_error_moves_peaks_by_at_most_the_set_error():
    settings = AugmentSettings(total_counts=(1e7, 1e7), background_probability=0.0)
    aug = _augmenter(settings)
    pre_e = Preprocessor.canonical().energies_kev
    rng = np.random.default_rng(3)
    shifts = []
    for _ in range(30):
        x = aug.draw(np.array([0]), rng)[0][0, 0]
        window = (pre_e > 6.0) & (pre_e < 6.8)
        shifts.append(pre_e[window][np.argmax(x[window])] - 6.40)
    shifts = np.array(shifts)
    # +-80 eV offset and +-0.7 % gain (45 eV at 6.4 keV), on 20 eV bins.
    assert np.abs(shifts).max() <= 0.080 + 0.045 + 0.02
    assert np.abs(shifts).max() >= 0.04  # errors are really drawn


def test_counts_span_three_decades_and_weak_positives_are_masked():
    # z = 3 at the stored counts (about 10^4): masked at 10^3 counts, kept at 10^6.
    aug = _augmenter(AugmentSettings(background_probability=0.0), z=3.0)
    rng = np.random.default_rng(5)
    totals, weights = [], []
    for _ in range(200):
        m = aug.measure(0, rng)
        totals.append(m.counts.sum())
        weights.append(m.weights[0])
    totals, weights = np.array(totals), np.array(weights)
    assert totals.min() < 3e3 and totals.max() > 3e5
    stored = aug.totals[0]
    expected_kept = 3.0 * np.sqrt(totals / stored) >= 5.0
    assert np.mean(weights.astype(bool) == expected_kept) > 0.95
    assert 0 < weights.mean() < 1


def test_a_measurement_says_how_its_counts_and_range_scale_a_stored_significance():
    aug = _augmenter(z=3.0)
    rng = np.random.default_rng(11)
    for _ in range(50):
        m = aug.measure(0, rng)
        z = aug.detectability[0, :, m.range_index] * m.z_scale
        assert m.weights[0] == (z[0] >= aug.s.sigma)  # the present class: exactly its mask
        assert m.weights[1] == 1.0  # an absent class always counts
        assert 0 <= m.range_index < aug.detectability.shape[-1] and m.z_scale > 0


def test_a_label_below_the_noise_at_the_drawn_counts_becomes_zero_and_keeps_its_weight():
    # a class in both layers (present, z 100): its top part strong, its lower part at z 3 at the
    # stored counts (about 10^4): "both" where the counts show the lower part, "top" elsewhere
    spectra = np.stack([_peaks([6.40, 7.06])]).astype(np.float32)
    labels, present = np.array([[1, 1]]), np.array([[1, 1]])
    det = np.full((1, 2, 5), 100.0)
    parts = np.stack([np.full((1, 5), 100.0), np.full((1, 5), 3.0)], axis=1)
    aug = Augmenter(spectra, SIM_AXIS, labels, det, Preprocessor.canonical(),
                    AugmentSettings(background_probability=0.0), present=present,
                    label_z=parts)  # fmt: skip
    rng = np.random.default_rng(7)
    draws = [aug.measure(0, rng) for _ in range(200)]
    totals = np.array([m.counts.sum() for m in draws])
    lower = np.array([m.labels[1] for m in draws])
    assert all(m.labels[0] == 1 and (m.weights == 1).all() for m in draws)
    shown = 3.0 * np.sqrt(totals / aug.totals[0]) >= 5.0
    assert np.mean((lower == 1) == shown) > 0.95 and 0 < lower.mean() < 1
    with pytest.raises(PigmentmapError, match="label_z"):
        Augmenter(spectra, SIM_AXIS, labels, det, Preprocessor.canonical(), label_z=parts[:, :1])


def test_negative_labels_are_never_masked():
    aug = _augmenter(z=0.0)
    _, y, w = aug.draw(np.array([0, 1]), np.random.default_rng(0))
    assert (w[y == 0] == 1).all() and (w[y == 1] == 0).all()


def test_unmasked_preprocessor_is_refused():
    with pytest.raises(PigmentmapError, match="masked"):
        Augmenter(np.ones((1, SIM_AXIS.n_channels)), SIM_AXIS, np.ones((1, 1)),
                  np.ones((1, 1, 5)), Preprocessor.paper())  # fmt: skip


def test_drawing_a_dataset_with_progress_gives_the_same_measurements():
    from pathlib import Path

    from pigmentmap.datasets.store import Dataset
    from pigmentmap.ml.augment import draw_dataset

    rows = 1100  # more than one progress block
    spectra = np.tile(_peaks([6.40, 7.06]).astype(np.float32), (rows, 1))
    labels = np.ones((rows, 1), dtype=np.uint8)
    data = Dataset(spectra, labels, ("iron_oxide",), SIM_AXIS, {}, Path("x.h5"),
                   np.full((rows, 1, 5), 100.0, dtype=np.float32))  # fmt: skip
    pre = Preprocessor.canonical()
    plain = draw_dataset(data, pre, seed=5)
    shown = draw_dataset(data, pre, seed=5, progress=True)
    for a, b in zip(plain, shown, strict=True):
        np.testing.assert_array_equal(a, b)
