"""Scale bars for the report's maps, where the scan's pixel size is known.

The results file says the size of one scan pixel in its ``/entry`` attribute ``pixel_size_mm``
(absent, or ``"None"``, when the scan did not say); a map pixel is that times the run's
``binning``. A bar is the round length (1, 2 or 5 times a power of ten, in mm) nearest to a fifth
of the image width (between 13 % and 32 % of it), drawn in the lower left of every map panel with
its label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Share of the image width a scale bar aims at (the bar is the round length nearest to it).
BAR_FRACTION = 0.2


@dataclass(frozen=True)
class ScaleBar:
    """A scale bar: its length in millimetres and in map pixels, and its label."""

    length_mm: float
    length_px: float
    label: str


def _length_label(length_mm: float) -> str:
    """``"10 mm"``, ``"0.5 mm"``, ``"200 µm"`` (below 1 mm), ``"2 m"`` (from 1000 mm)."""
    if length_mm >= 1000:
        return f"{length_mm / 1000:g} m"
    if length_mm < 1:
        return f"{round(length_mm * 1000, 6):g} µm"
    return f"{length_mm:g} mm"


def scale_bar(
    width_px: int, pixel_size_mm: float | None, *, fraction: float = BAR_FRACTION
) -> ScaleBar | None:
    """The scale bar of an image ``width_px`` map pixels wide, or None when the size is unknown.

    The bar is whichever of 1, 2, 5, 10, 20, 50 ... mm (or 0.1, 0.2, 0.5 ... below 1 mm) is
    nearest, on a log scale, to ``fraction`` of the image width: between 0.63 and 1.58 times it.

    Parameters
    ----------
    width_px : int
        Image width in map pixels.
    pixel_size_mm : float or None
        Size of one map pixel in millimetres; None, zero, negative or not finite: unknown.
    fraction : float, keyword-only
        Share of the width the bar aims at.

    Returns
    -------
    ScaleBar or None

    Examples
    --------
    >>> scale_bar(100, 0.5)
    ScaleBar(length_mm=10.0, length_px=20.0, label='10 mm')
    >>> scale_bar(44, 0.5).label  # 22 mm wide: a fifth is 4.4 mm
    '5 mm'
    >>> scale_bar(44, 0.02).label
    '200 µm'
    >>> scale_bar(100, None) is None
    True
    """
    if pixel_size_mm is None or not math.isfinite(pixel_size_mm) or pixel_size_mm <= 0:
        return None
    if width_px < 1 or not 0 < fraction <= 1:
        return None
    target = width_px * pixel_size_mm * fraction
    power = 10.0 ** math.floor(math.log10(target))
    mantissa = min((1, 2, 5, 10), key=lambda m: abs(math.log(m * power / target)))
    length = float(f"{mantissa * power:.12g}")  # 0.2, not 0.20000000000000001
    return ScaleBar(length, length / pixel_size_mm, _length_label(length))


def scan_pixel_size(attrs: dict[str, Any]) -> float | None:
    """The scan's pixel size in mm from a results file's ``/entry`` attributes, or None.

    Absent, ``"None"`` (read back as None), not a number, not finite or not positive: None.

    Examples
    --------
    >>> scan_pixel_size({"pixel_size_mm": 0.5})
    0.5
    >>> scan_pixel_size({"pixel_size_mm": None}), scan_pixel_size({}), scan_pixel_size({"pixel_size_mm": 0.0})
    (None, None, None)
    """
    value = attrs.get("pixel_size_mm")
    if value is None or isinstance(value, bool):
        return None
    try:
        size = float(value)
    except (TypeError, ValueError):
        return None
    return size if math.isfinite(size) and size > 0 else None


def map_pixel_size(attrs: dict[str, Any]) -> float | None:
    """The size in mm of one pixel of the results' maps: the scan's pixel size times the binning.

    Examples
    --------
    >>> map_pixel_size({"pixel_size_mm": 0.5, "binning": 2})
    1.0
    >>> map_pixel_size({"binning": 2}) is None
    True
    """
    size = scan_pixel_size(attrs)
    if size is None:
        return None
    try:
        binning = max(int(attrs.get("binning", 1) or 1), 1)
    except (TypeError, ValueError):
        binning = 1
    return size * binning


def pixel_size_text(attrs: dict[str, Any], bar: ScaleBar | None) -> str:
    """The run-parameter line on the pixel size and the scale bars.

    Examples
    --------
    >>> pixel_size_text({}, None)
    'pixel size unknown: no scale bar'
    >>> attrs = {"pixel_size_mm": 0.5, "binning": 1}
    >>> pixel_size_text(attrs, scale_bar(100, 0.5))
    '0.5 mm per pixel; scale bars of 10 mm'
    """
    size = scan_pixel_size(attrs)
    if size is None:
        return "pixel size unknown: no scale bar"
    mapped = map_pixel_size(attrs)
    text = f"{size:g} mm per pixel"
    if mapped is not None and mapped != size:
        text = f"{size:g} mm per scan pixel, {mapped:g} mm per map pixel (binning {attrs.get('binning')})"
    return text + (f"; scale bars of {bar.label}" if bar is not None else "; no scale bar")


def draw_scale_bar(ax: Any, bar: ScaleBar | None, *, image_height_px: int) -> None:
    """Draw ``bar`` in the lower left of an image axis (data units: pixels); nothing for None.

    A black bar and label on a translucent white box, legible on any colour map.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.imshow([[0.0] * 100] * 40)
    >>> draw_scale_bar(ax, scale_bar(100, 0.5), image_height_px=40)
    >>> [a.txt_label.get_text() for a in ax.artists]
    ['10 mm']
    >>> plt.close(fig)
    """
    if bar is None:
        return
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    artist = AnchoredSizeBar(
        ax.transData,
        bar.length_px,
        bar.label,
        loc="lower left",
        pad=0.3,
        borderpad=0.4,
        sep=3,
        color="black",
        frameon=True,
        size_vertical=max(image_height_px * 0.02, 0.3),
        fontproperties={"size": 7},
    )
    artist.patch.set_facecolor("white")
    artist.patch.set_alpha(0.75)
    artist.patch.set_edgecolor("none")
    ax.add_artist(artist)
