"""Pigment maps: the cube resampled and preprocessed with the model card's own preprocessor,
inferred in chunks of rows so that memory stays bounded whatever the cube size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube, row_blocks


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


class PigmentPredictor:
    """A model ready to map blocks of a scan: the network (BatchNorm folded), its layer network
    if any, its preprocessor and the card's calibration.

    Loaded once (:meth:`load`) and reused for every block of rows; it pickles (the tensors
    travel with it), so a cluster receives it once per worker.

    Examples
    --------
    >>> PigmentPredictor.load  # doctest: +ELLIPSIS
    <bound method PigmentPredictor.load of <class '...PigmentPredictor'>>
    """

    def __init__(self, model: Any, layer_model: Any, card: dict[str, Any], pre: Any) -> None:
        from pigmentmap.evaluate.posterior import Posterior

        self.model, self.layer_model, self.card, self.pre = model, layer_model, card, pre
        self.names = tuple(card["label_names"])
        self.posterior = Posterior.from_card(card)
        self._frozen: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_frozen"] = None  # TorchScript modules do not pickle: each process freezes its own
        return state

    def _networks(self) -> tuple[Any, Any]:
        """The networks as they run, frozen for inference (fast-cnn) on first use: (pigment
        network, layer network), or (one network giving both, ``"joint"``) when the layer model
        is a head on the pigment network's features."""
        if self._frozen is None:
            from pigmentmap.ml.fast_cnn import FastCNN, frozen_for_inference
            from pigmentmap.ml.layers import LayersOnFeatures, PigmentsAndLayers

            def freeze(m: Any) -> Any:
                if not isinstance(m, FastCNN | PigmentsAndLayers):
                    return m
                net = m if isinstance(m, FastCNN) else m.model
                return frozen_for_inference(
                    m, n_input_channels=net.n_input_channels, n_inputs=net.n_inputs
                )

            if isinstance(self.layer_model, LayersOnFeatures) and isinstance(self.model, FastCNN):
                joint = PigmentsAndLayers(self.model, self.layer_model.head).eval()
                self._frozen = (freeze(joint), "joint")
            else:
                self._frozen = (freeze(self.model), freeze(self.layer_model))
        return self._frozen

    @classmethod
    def load(cls, model_name: str) -> PigmentPredictor:
        """The model directory or shipped model ``model_name``, ready to predict."""
        from pigmentmap.ml.checkpoint import load_model
        from pigmentmap.ml.fast_cnn import FastCNN
        from pigmentmap.ml.layers import load_layer_model

        model, card, pre = load_model(model_name)
        if isinstance(model, FastCNN):  # BatchNorm folded into the convolutions: same output
            model = model.fused()
        layer_model = load_layer_model(model_name, trunk=model)  # a head reads this trunk
        if isinstance(layer_model, FastCNN):
            layer_model = layer_model.fused()
        return cls(model, layer_model, card, pre)

    def check_axis(self, counts: Any, axis: Any) -> None:
        """Refuse a scan the model cannot serve (its energy range) before any work."""
        self.pre(np.asarray(counts[:1, :1], dtype=np.float64).reshape(1, -1), axis)

    def predict(
        self, counts: np.ndarray, axis: Any, *, batch_size: int = 64
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The network's probabilities (h, w, K) and layer calls (h, w, K, 2) or None for one
        block of rows (h, w, C) on ``axis``."""
        from pigmentmap.ml.layers import predict_layers
        from pigmentmap.ml.train import predict_proba

        h, w, c = counts.shape
        x = self.pre(np.asarray(counts, dtype=np.float32).reshape(-1, c), axis)
        model, layer_model = self._networks()
        k = len(self.names)
        if isinstance(layer_model, str):  # one pass gives both: [pigments, top, under]
            p = predict_proba(model, x, batch_size=batch_size)
            raw = p[:, :k].reshape(h, w, k)
            both = np.stack([p[:, k : 2 * k], p[:, 2 * k :]], axis=-1)
            return raw, both.reshape(h, w, k, 2)
        raw = predict_proba(model, x, batch_size=batch_size).reshape(h, w, -1)
        layers = None
        if layer_model is not None:
            layers = predict_layers(layer_model, x, batch_size=batch_size)
            layers = layers.reshape(h, w, k, 2)
        return raw, layers


def pigment_maps(
    cube: Cube,
    model_name: str,
    *,
    binning: int = 1,
    rows_per_chunk: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
    predictor: PigmentPredictor | None = None,
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
    predictor : PigmentPredictor, optional
        ``model_name`` already loaded (a caller that uses it again loads it once).
    """
    from tqdm import tqdm

    predictor = predictor or PigmentPredictor.load(model_name)
    counts = cube.counts
    predictor.check_axis(counts, cube.axis)
    if binning > 1:
        counts = bin_cube(counts, binning)
    h, w, c = counts.shape
    row_bytes = 8.0 * max(1, w) * c
    # about 16 MB of float64 counts per chunk (a few times that in temporaries)
    budget = 16e6 if rows_per_chunk is None else rows_per_chunk * row_bytes
    k = len(predictor.names)
    raw = np.zeros((h, w, k), dtype=np.float32)
    layers = None if predictor.layer_model is None else np.zeros((h, w, k, 2), dtype=np.float32)
    bar = tqdm(total=h * w, disable=not progress, unit="px", desc="pigment maps")
    for r0, r1 in row_blocks(h, row_bytes, budget_bytes=budget):
        block_raw, block_layers = predictor.predict(
            np.asarray(counts[r0:r1]), cube.axis, batch_size=batch_size
        )
        raw[r0:r1] = block_raw
        if layers is not None and block_layers is not None:
            layers[r0:r1] = block_layers
        bar.update((r1 - r0) * w)
    bar.close()
    return PigmentMaps(
        predictor.posterior.classes(raw), predictor.names, predictor.card, raw, layers
    )
