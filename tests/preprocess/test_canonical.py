"""The canonical, masked, rebinned input of instrument-independent models."""

import numpy as np
import pytest

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.preprocess.preprocessor import Preprocessor, channel_edges, rebin


def test_rebin_keeps_counts_whatever_the_gains():
    rng = np.random.default_rng(0)
    counts = rng.poisson(50, (3, 1024)).astype(float)
    src = channel_edges(EnergyAxis(0.0, 0.0293, 1024))
    for gain in (0.01, 0.02, 0.037):
        tgt = np.arange(0.5, 25.0 + 1e-9, gain)
        out, covered = rebin(counts, src, tgt)
        inside = (src[:-1] >= tgt[0]) & (src[1:] <= tgt[-1])
        # Counts of the source bins wholly inside, within the two partial edge bins.
        assert covered.all()
        assert np.allclose(out.sum(1), counts[:, inside].sum(1), rtol=0.01)


def test_rebin_of_a_coarse_flat_scan_onto_finer_bins_has_no_stripes():
    src = channel_edges(EnergyAxis(0.0, 0.0293, 1024))
    out, _ = rebin(np.full(1024, 100.0), src, np.arange(2.0, 20.0, 0.02))
    # A flat density stays flat: no interpolation ripple.
    assert np.ptp(out) / out.mean() < 1e-9


def test_canonical_masks_what_the_scan_does_not_cover():
    pre = Preprocessor.canonical()
    axis = EnergyAxis(0.0, 0.0293, 1024)  # ends at 30 keV
    x = pre(np.full((2, 1024), 40.0), axis)
    assert x.shape == (2, 2, 2000)
    e = pre.energies_kev
    mask = x[0, 1]
    assert mask[e < 29.9].all() and not mask[e > 30.1].any()
    assert (x[0, 0][e > 30.1] == 0).all()
    assert x[0, 0].max() == pytest.approx(1.0)


def test_canonical_is_insensitive_to_channel_count_and_gain():
    """The same expected spectrum on two instruments' channels gives the same input."""
    e_fine = np.arange(0, 45, 0.005)
    density = 200 * np.exp(-0.5 * ((e_fine - 6.4) / 0.07) ** 2) + 10  # per 5 eV
    pre = Preprocessor.canonical()
    inputs = []
    for gain, n in ((0.01, 4096), (0.0293, 1024), (0.02, 2048)):
        axis = EnergyAxis(0.0, gain, n)
        counts, _ = rebin(
            density, np.append(e_fine - 0.0025, e_fine[-1] + 0.0025), channel_edges(axis)
        )
        inputs.append(pre(counts[None], axis)[0])
    covered = inputs[0][1] * inputs[1][1] * inputs[2][1] > 0
    for other in inputs[1:]:
        assert np.abs(other[0][covered] - inputs[0][0][covered]).max() < 0.02


def test_canonical_refuses_a_scan_below_20_kev_in_one_line():
    pre = Preprocessor.canonical()
    with pytest.raises(
        PigmentmapError, match=r"cover 0\.00-15\.0\d keV; this model needs at least 2\.00-20\.00"
    ):
        pre(np.ones((1, 1500)), EnergyAxis(0.0, 0.01, 1500))


def test_canonical_round_trips_through_the_card():
    pre = Preprocessor.canonical()
    again = Preprocessor.from_dict(pre.to_dict())
    assert again == pre and again.required_kev == (2.0, 20.0)


def test_old_cards_keep_their_preprocessing():
    """A card written before the canonical input (no resampling/masked keys) still loads."""
    old = {"offset_kev": 0.0, "gain_kev": 0.01, "first_channel": 281, "n_channels": 3815,
           "transform": "loglogsqrt", "normalise": "max"}  # fmt: skip
    pre = Preprocessor.from_dict(old)
    assert not pre.masked and pre.resampling == "interp"
    assert pre(np.ones((1, 4096)), EnergyAxis(0.0, 0.01, 4096)).shape == (1, 3815)
