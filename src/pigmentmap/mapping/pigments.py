"""Pigment maps: the cube resampled and preprocessed with the model card's own preprocessor,
inferred in chunks of rows so that memory stays bounded whatever the cube size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube


@dataclass(frozen=True)
class PigmentMaps:
    """Pigment maps of a scan.

    Attributes
    ----------
    prob : (H, W, K) float32
        Probability of each class at each pixel, calibrated where the card holds a calibration.
    names : the K classes
    model_card : dict
    raw : (H, W, K) float32, optional
        The network's own output (before calibration).
    layers : (H, W, K, 2) float32, optional
        ``p(in the top layer | present)``, ``p(in a lower layer | present)``, where the model
        has a layer network (:mod:`pigmentmap.ml.layers`).
    """

    prob: np.ndarray
    names: tuple[str, ...]
    model_card: dict[str, Any]
    raw: np.ndarray | None = None
    layers: np.ndarray | None = None


def bin_cube(counts: Any, factor: int) -> np.ndarray:
    """Sum ``factor`` x ``factor`` blocks of pixels (edges that do not fill a block are dropped).

    Examples
    --------
    >>> import numpy as np
    >>> bin_cube(np.ones((5, 4, 3)), 2).shape
    (2, 2, 3)
    """
    if factor == 1:
        return np.asarray(counts)
    h, w, c = counts.shape
    hh, ww = h // factor, w // factor
    if hh == 0 or ww == 0:
        raise PigmentmapError(f"--binning {factor} is larger than the {h} x {w} scan")
    a = np.asarray(counts[: hh * factor, : ww * factor], dtype=np.float64)
    return a.reshape(hh, factor, ww, factor, c).sum(axis=(1, 3))


def check_cube(cube: Cube) -> None:
    """Refuse cubes that cannot be mapped."""
    h, w, _ = cube.shape
    if h * w < 2:
        raise PigmentmapError(
            f"the scan is {h} x {w}: a single spectrum is not a map (use pigmentmap identify)"
        )


def pigment_maps(
    cube: Cube,
    model_name: str,
    *,
    binning: int = 1,
    rows_per_chunk: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> PigmentMaps:
    """Probability maps of every class of the model, chunk by chunk of rows.

    Parameters
    ----------
    cube : Cube
        Any calibration: spectra are resampled to the model's axis (an axis that ends below
        what the model needs is refused with a clear error).
    model_name : str
        A model directory or shipped model name.
    binning : int
        Sum N x N pixels first (noisy fast scans).
    """
    from tqdm import tqdm

    from pigmentmap.evaluate.posterior import Posterior
    from pigmentmap.ml.checkpoint import load_model
    from pigmentmap.ml.fast_cnn import FastCNN
    from pigmentmap.ml.layers import load_layer_model, predict_layers
    from pigmentmap.ml.train import predict_proba

    model, card, pre = load_model(model_name)
    post = Posterior.from_card(card)
    layer_model = load_layer_model(model_name)
    if isinstance(model, FastCNN):  # BatchNorm folded into the convolutions: same output, faster
        model = model.fused()
    if isinstance(layer_model, FastCNN):
        layer_model = layer_model.fused()
    counts = cube.counts
    # Refuse a scan the model cannot serve (energy range) before any work or output.
    pre(np.asarray(counts[:1, :1], dtype=np.float64).reshape(1, -1), cube.axis)
    if binning > 1:
        counts = bin_cube(counts, binning)
    h, w, c = counts.shape
    if (
        rows_per_chunk is None
    ):  # about 16 MB of float64 counts per chunk (a few times that in temporaries)
        rows_per_chunk = max(1, int(16e6 / (8 * max(1, w) * c)))
    k = len(card["label_names"])
    raw = np.zeros((h, w, k), dtype=np.float32)
    layers = None if layer_model is None else np.zeros((h, w, k, 2), dtype=np.float32)
    bar = tqdm(total=h * w, disable=not progress, unit="px", desc="pigment maps")
    for r0 in range(0, h, rows_per_chunk):
        r1 = min(h, r0 + rows_per_chunk)
        block = np.asarray(counts[r0:r1], dtype=np.float32).reshape(-1, c)
        x = pre(block, cube.axis)
        raw[r0:r1] = predict_proba(model, x, batch_size=batch_size).reshape(r1 - r0, w, -1)
        if layers is not None and layer_model is not None:
            layers[r0:r1] = predict_layers(layer_model, x, batch_size=batch_size).reshape(
                r1 - r0, w, k, 2
            )
        bar.update(block.shape[0])
    bar.close()
    return PigmentMaps(post.classes(raw), tuple(card["label_names"]), card, raw, layers)
