import numpy as np
import pytest

from pigmentmap.core import EnergyAxis, PigmentmapError
from pigmentmap.preprocess import Preprocessor, resample, snip_background


def _peaky(n=2000, seed=0):
    x = np.arange(n, dtype=float)
    base = 200 * np.exp(-x / 800) + 20
    peaks = sum(
        a * np.exp(-0.5 * ((x - c) / 7) ** 2) for a, c in ((3000, 300), (800, 900), (5000, 1500))
    )
    return base, base + peaks


def test_snip_follows_the_continuum_under_peaks():
    base, spectrum = _peaky()
    bg = snip_background(spectrum, half_window=25)
    assert np.all(bg <= spectrum + 1e-9)
    for centre in (300, 900, 1500):
        assert bg[centre] == pytest.approx(base[centre], rel=0.1)
    assert np.abs(bg[1100:1300] - base[1100:1300]).max() / base[1200] < 0.05


def test_snip_works_on_cubes_row_by_row():
    _, spectrum = _peaky()
    cube = np.stack([spectrum, 2 * spectrum]).reshape(1, 2, -1)
    bg = snip_background(cube, half_window=25)
    np.testing.assert_allclose(bg[0, 0], snip_background(spectrum, half_window=25))
    assert bg.shape == cube.shape


@pytest.mark.parametrize(
    "bad", [np.array([1.0, np.nan, 2.0, 3.0]), np.array([1.0, -1.0, 2.0, 3.0])]
)
def test_snip_refuses_bad_counts(bad):
    with pytest.raises(PigmentmapError):
        snip_background(bad)


def test_paper_preprocessor_crop_and_transform():
    pre = Preprocessor.paper()
    assert pre.energies_kev[0] == pytest.approx(2.81) and len(pre.energies_kev) == 3815
    counts = np.zeros((1, 4096))
    counts[0, 281] = 100.0
    counts[0, 500] = 25.0
    x = pre(counts, EnergyAxis(0.0, 0.01, 4096))
    expected = np.log1p(np.log1p(np.sqrt([100.0, 25.0])))
    assert x[0, 0] == pytest.approx(1.0)
    assert x[0, 219] == pytest.approx(expected[1] / expected[0], rel=1e-6)


def test_resampling_keeps_areas_and_positions():
    src = EnergyAxis(-0.05, 0.005, 8300)
    e = src.energies
    counts = 1000 * np.exp(-0.5 * ((e - 6.4) / 0.06) ** 2) * src.gain_kev
    target = Preprocessor.paper().energies_kev
    out = resample(counts, src, target)
    inside = (e >= target[0]) & (e <= target[-1])
    assert out.sum() == pytest.approx(counts[inside].sum(), rel=1e-3)
    assert target[np.argmax(out)] == pytest.approx(6.4, abs=0.011)


def test_preprocessor_refuses_short_axis_and_bad_counts():
    pre = Preprocessor.paper()
    with pytest.raises(PigmentmapError, match="cannot resample"):
        pre(np.ones((1, 2048)), EnergyAxis(0.0, 0.01, 2048))
    with pytest.raises(PigmentmapError, match="NaN"):
        pre(np.full((1, 4096), np.nan), EnergyAxis(0.0, 0.01, 4096))
    with pytest.raises(PigmentmapError, match="negative"):
        pre(-np.ones((1, 4096)), EnergyAxis(0.0, 0.01, 4096))


def test_preprocessor_round_trips_through_its_dict():
    pre = Preprocessor(0.0, 0.02, 100, 500, normalise="sum")
    assert Preprocessor.from_dict(pre.to_dict()) == pre
    with pytest.raises(PigmentmapError):
        Preprocessor.from_dict({**pre.to_dict(), "bogus": 1})


def test_resample_pads_up_to_one_channel_beyond_the_scan_with_a_warning():
    import warnings

    from pigmentmap.core import EnergyAxis
    from pigmentmap.core.errors import PigmentmapError
    from pigmentmap.preprocess.preprocessor import EdgePaddingWarning, resample

    src = EnergyAxis(0.0, 0.01, 1000)  # ends at 9.99 keV
    counts = np.arange(1000.0)
    with pytest.warns(EdgePaddingWarning, match="eV beyond"):
        out = resample(counts, src, np.linspace(9.90, 9.995, 20))  # 5 eV beyond: padded
    assert out[-1] == pytest.approx(out[-3], rel=0.01)  # from the last channel, not zero
    with pytest.raises(PigmentmapError, match="cannot resample"):
        resample(counts, src, np.array([5.0, 10.02]))  # 3 channels beyond: refused
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resample(counts, src, np.array([5.0, 9.99]))  # inside: no warning
