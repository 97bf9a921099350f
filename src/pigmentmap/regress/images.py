"""Colour images registered to a scan: PNG/TIFF/JPEG read as sRGB in [0, 1].

Grayscale images are refused (there is no colour to learn); an alpha channel is dropped.
``register=True`` resizes an image that is a scaled view of the scan (same aspect ratio within
2 %) to the scan's H x W; otherwise the sizes must match.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) float sRGB in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise PigmentmapError(f"image '{p}' does not exist")
    try:
        with Image.open(p) as im:
            mode = im.mode
            if mode in ("L", "1", "I", "I;16", "F", "LA"):
                raise PigmentmapError(
                    f"image '{p}' is grayscale ({mode}): a colour image is needed"
                )
            rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    except UnidentifiedImageError:
        raise PigmentmapError(f"'{p}' is not an image PIL can read") from None
    return rgb


def register_image(image: np.ndarray, shape: tuple[int, int], *, register: bool) -> np.ndarray:
    """The image at the scan's (H, W): as is, or resized when ``register``."""
    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    if not register:
        raise PigmentmapError(
            f"the image is {image.shape[0]} x {image.shape[1]}, the scan {h} x {w} (use --register to resize a scaled view)"
        )
    ratio_img, ratio_scan = image.shape[1] / image.shape[0], w / h
    if abs(ratio_img / ratio_scan - 1) > 0.02:
        raise PigmentmapError(
            f"the image ({image.shape[0]} x {image.shape[1]}) is not a scaled view of the {h} x {w} scan"
        )
    from PIL import Image

    im = Image.fromarray(np.clip(image * 255, 0, 255).astype(np.uint8))
    return np.asarray(im.resize((w, h), Image.Resampling.BOX), dtype=np.float64) / 255.0


def write_image(path: str | Path, rgb: np.ndarray) -> Path:
    """Write (H, W, 3) sRGB in [0, 1] as PNG, atomically."""
    from PIL import Image

    from pigmentmap.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)).save(
            tmp, format="PNG"
        )
    return Path(path)
