"""Scale bars: the round length nearest to a fifth of the width, on every map, only when the
pixel size is known."""

import base64
import io
import math
import re

import matplotlib
import numpy as np
import pytest

from pigmentmap.mapping.results import read_results
from pigmentmap.report.html import write_report
from pigmentmap.report.scale import (
    draw_scale_bar,
    map_pixel_size,
    pixel_size_text,
    scale_bar,
    scan_pixel_size,
)

matplotlib.use("Agg")


@pytest.mark.parametrize(
    ("width_px", "pixel_mm", "length_mm", "length_px", "label"),
    [
        (100, 0.5, 10.0, 20.0, "10 mm"),  # 50 mm wide: a fifth is 10 mm
        (100, 0.3, 5.0, 5.0 / 0.3, "5 mm"),  # 30 mm wide: 6 mm -> 5 mm
        (1000, 0.1, 20.0, 200.0, "20 mm"),  # 100 mm wide: 20 mm
        (44, 1.0, 10.0, 10.0, "10 mm"),  # 8.8 mm -> 10 mm (nearer than 5 on a log scale)
        (44, 0.5, 5.0, 10.0, "5 mm"),  # 4.4 mm -> 5 mm
        (60, 1.0, 10.0, 10.0, "10 mm"),  # 12 mm -> 10 mm
        (40, 1.0, 10.0, 10.0, "10 mm"),  # 8 mm -> 10 mm
        (30, 1.0, 5.0, 5.0, "5 mm"),  # 6 mm -> 5 mm
        (50, 0.01, 0.1, 10.0, "100 µm"),  # 0.5 mm wide
        (30, 0.05, 0.2, 4.0, "200 µm"),  # 0.3 mm -> 0.2 mm
        (100, 0.02, 0.5, 25.0, "500 µm"),  # 0.4 mm -> 0.5 mm
        (100, 25.0, 500.0, 20.0, "500 mm"),
        (100, 100.0, 2000.0, 20.0, "2 m"),
    ],
)
def test_the_bar_is_the_longest_round_length_within_a_fifth_of_the_width(
    width_px, pixel_mm, length_mm, length_px, label
):
    bar = scale_bar(width_px, pixel_mm)
    assert bar is not None
    assert bar.length_mm == pytest.approx(length_mm)
    assert bar.length_px == pytest.approx(length_px)
    assert bar.label == label


def test_the_bar_is_a_round_length_near_a_fifth_of_any_width():
    for width in (1, 3, 7, 44, 100, 333, 1024):
        for pixel in (0.001, 0.013, 0.1, 0.25, 0.5, 0.77, 1.0, 2.0, 12.5):
            bar = scale_bar(width, pixel)
            assert bar is not None
            share = bar.length_px / width  # between 2/sqrt(10) and 5/sqrt(10) of a fifth
            assert 0.2 * 0.632 < share < 0.2 * 1.582, (width, pixel, bar)
            mantissa = bar.length_mm / 10 ** math.floor(math.log10(bar.length_mm) + 1e-9)
            assert round(mantissa, 6) in (1, 2, 5)


@pytest.mark.parametrize("pixel_mm", [None, 0.0, -0.5, float("nan"), float("inf")])
def test_no_bar_when_the_pixel_size_is_unknown_or_absurd(pixel_mm):
    assert scale_bar(100, pixel_mm) is None


def test_the_pixel_size_attribute_is_read_safely_and_scaled_by_the_binning():
    assert scan_pixel_size({"pixel_size_mm": 0.5}) == 0.5
    assert scan_pixel_size({"pixel_size_mm": "0.25"}) == 0.25
    for unknown in ({}, {"pixel_size_mm": None}, {"pixel_size_mm": "None"},
                    {"pixel_size_mm": "n/a"}, {"pixel_size_mm": -1.0}, {"pixel_size_mm": True}):  # fmt: skip
        assert scan_pixel_size(unknown) is None
    assert map_pixel_size({"pixel_size_mm": 0.5, "binning": 3}) == 1.5
    assert map_pixel_size({"pixel_size_mm": 0.5}) == 0.5
    text = pixel_size_text({"pixel_size_mm": 0.5, "binning": 2}, scale_bar(50, 1.0))
    assert text == "0.5 mm per scan pixel, 1 mm per map pixel (binning 2); scale bars of 10 mm"


def test_draw_scale_bar_puts_a_bar_of_the_right_length_and_label_on_the_axis():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.imshow(np.zeros((20, 100)))
    draw_scale_bar(ax, None, image_height_px=20)
    assert len(ax.artists) == 0
    draw_scale_bar(ax, scale_bar(100, 0.5), image_height_px=20)
    (artist,) = ax.artists
    assert artist.txt_label.get_text() == "10 mm"
    (rect,) = artist.size_bar.get_children()
    assert rect.get_width() == pytest.approx(20.0)  # data units of an image: pixels
    plt.close(fig)


def _images(page):
    """alt text -> decoded RGBA image of every figure of a report."""
    from PIL import Image

    out = {}
    for alt, b64 in re.findall(r"<img alt='([^']*)' src='data:image/png;base64,([^']+)'>", page):
        out[alt] = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))
    return out


def test_the_report_draws_the_bar_on_every_map_only_when_the_pixel_size_is_known(results):
    known = results("known", pixel_size_mm=0.5)  # 100 px wide: 10 mm = 20 px
    assert read_results(known)["attrs"]["pixel_size_mm"] == 0.5
    page = write_report(known).read_text()
    maps = [alt for alt in _images(page) if "scale bar 10 mm" in alt]
    # element gallery, look-alike groups, layers and one figure per pigment
    assert sorted(maps) == sorted(
        ["element maps (scale bar 10 mm)", "look-alike groups (scale bar 10 mm)",
         "layers (scale bar 10 mm)", "vermilion (scale bar 10 mm)",
         "lead_white (scale bar 10 mm)", "red_lead (scale bar 10 mm)"]
    )  # fmt: skip
    assert "pixel size: 0.5 mm per pixel; scale bars of 10 mm" in page
    assert "pixel size unknown" not in page
    for name, attribute in (("absent", None), ("none", "None"), ("zero", 0.0)):
        other = write_report(results(name, pixel_size_mm=attribute)).read_text()
        assert "scale bar" not in other.replace("no scale bar", "")
        assert other.count("pixel size unknown: no scale bar") == 1
    # the bar is drawn: the gallery and pigment figures differ from those of the same maps
    # without it, and nowhere else (the sum spectrum and calibration are not maps)
    with_bar, without = _images(page), _images(other)
    for alt in ("element maps", "vermilion", "layers", "look-alike groups"):
        a, b = with_bar[f"{alt} (scale bar 10 mm)"], without[alt]
        assert a.shape == b.shape and not np.array_equal(a, b), alt


def test_binned_maps_get_a_bar_in_map_pixels(results):
    page = write_report(results(pixel_size_mm=0.25, binning=2)).read_text()
    # 100 map pixels of 0.5 mm: 50 mm wide, a 10 mm bar
    assert "0.25 mm per scan pixel, 0.5 mm per map pixel (binning 2); scale bars of 10 mm" in page
    assert "element maps (scale bar 10 mm)" in page
