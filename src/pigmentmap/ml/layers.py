"""Layer order: for each pigment present, is it in the top layer, underneath, or in both?

The paper left layer order to future work. XRF carries depth in line ratios: a layer's own
absorption weakens its soft lines more than its hard ones (Pb L-alpha against L-beta, Pb M
against L, K-alpha against K-beta, K against L of the same element), and a covering layer
weakens the soft lines of everything below it. The *layer model* learns this from the stacks'
layer labels: two outputs per class, ``p(in the top layer | present)`` and ``p(in a lower layer |
present)``, trained with instrument randomisation on the ``universal`` design and a loss counted
only where the class is present and detectable (see :class:`pigmentmap.ml.augment.Augmenter`'s
``present``).

Two kinds of layer model:

* ``feature-head`` (the default): a small head (:class:`LayerHead`) on the pigment network's own
  features. Those features already carry the line ratios: on the same held-out layer test, a
  head on the previous shipped network's features scored 0.764 where its second network of the
  pigment network's size scored 0.766, and the shipped 64-unit head scores 0.771. A map then
  runs one network instead of two. The head is bound to the pigment weights it was trained on
  (their SHA-256 is in its card entry).
* any architecture of the registry (``fast-cnn``): a second network on the same input (how the
  layer model was first built; older models carry one).

:func:`pigmentmap.evaluate.layers.layer_calls` turns the two outputs into ``top``: (only the top layer), ``under`` (only layers below it; grounds and primings count as below) or ``both``. Its weights
are a second safetensors file in the model folder (:data:`LAYER_FILE`), described in the card
under ``"layers"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import Dataset, read_layer_labels
from pigmentmap.evaluate.layers import (
    FEATURE_HEAD,
    LAYER_NAMES,
    fit_sure_threshold,
    layer_accuracy,
)
from pigmentmap.ml.checkpoint import load_state, read_card, resolve_model, sha256_file
from pigmentmap.ml.fast_cnn import FastCNN
from pigmentmap.ml.registry import create_model
from pigmentmap.preprocess.preprocessor import Preprocessor

LAYER_FILE = "layers.safetensors"
HEAD_HIDDEN = 64


class LayerHead(nn.Module):
    """Layer logits (N, 2K) from a pigment network's flat features (N, n_features): one hidden
    layer of ``hidden`` units (``hidden=0``: linear).

    Examples
    --------
    >>> import torch
    >>> LayerHead(n_features=40, n_classes=3, hidden=8)(torch.zeros(5, 40)).shape
    torch.Size([5, 6])
    """

    def __init__(self, *, n_features: int, n_classes: int, hidden: int = HEAD_HIDDEN) -> None:
        super().__init__()
        if hidden < 0 or n_features < 1 or n_classes < 1:
            raise PigmentmapError("a layer head needs features, classes and hidden >= 0")
        mods: list[nn.Module] = (
            [nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 2 * n_classes)]
            if hidden
            else [nn.Linear(n_features, 2 * n_classes)]
        )  # fmt: skip
        self.net = nn.Sequential(*mods)
        self.hidden = hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features -> layer logits, the top-layer half first."""
        return self.net(features)


class LayersOnFeatures(nn.Module):
    """A layer model as one module of the preprocessed input: the pigment network's features
    (never trained here: its parameters are frozen and it stays in eval mode) through a
    :class:`LayerHead`.

    Examples
    --------
    >>> import torch
    >>> from pigmentmap.ml.fast_cnn import FastCNN
    >>> net = FastCNN(n_inputs=400, n_classes=3)
    >>> m = LayersOnFeatures(net, LayerHead(n_features=net.head.in_features, n_classes=3))
    >>> m(torch.zeros(2, 2, 400)).shape, net.training
    (torch.Size([2, 6]), False)
    """

    def __init__(self, trunk: FastCNN, head: LayerHead) -> None:
        super().__init__()
        self.trunk, self.head = trunk, head
        for param in trunk.parameters():
            param.requires_grad_(False)
        self.trunk.eval()

    def train(self, mode: bool = True) -> LayersOnFeatures:
        """Train mode for the head only: the trunk's BatchNorm statistics are the pigment
        network's and must not move."""
        super().train(mode)
        self.trunk.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed inputs -> layer logits (N, 2K)."""
        with torch.no_grad():
            features = self.trunk.forward_features(x)
        return self.head(features)


class PigmentsAndLayers(nn.Module):
    """The pigment logits and the layer logits in one pass: (N, K + 2K), for inference.

    Examples
    --------
    >>> import torch
    >>> from pigmentmap.ml.fast_cnn import FastCNN
    >>> net = FastCNN(n_inputs=400, n_classes=3).eval()
    >>> both = PigmentsAndLayers(net, LayerHead(n_features=net.head.in_features, n_classes=3))
    >>> both.eval()(torch.zeros(2, 2, 400)).shape
    torch.Size([2, 9])
    """

    def __init__(self, model: FastCNN, head: LayerHead) -> None:
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed inputs -> [pigment logits, layer logits]."""
        features = self.model.forward_features(x)
        return torch.cat([self.model.head(features), self.head(features)], dim=1)


def _head_on(
    trunk: Any, *, n_classes: int, hidden: int, model_dir: Path
) -> tuple[FastCNN, LayerHead]:
    """``trunk`` (checked: only fast-cnn has features for a head) and a fresh
    :class:`LayerHead` sized for its features."""
    if not isinstance(trunk, FastCNN):
        raise PigmentmapError(f"the layer head of '{model_dir}' needs a fast-cnn pigment network")
    return trunk, LayerHead(n_features=trunk.head.in_features, n_classes=n_classes, hidden=hidden)


def load_layer_model(
    model_dir: str | Path, *, trunk: torch.nn.Module | None = None
) -> torch.nn.Module | None:
    """The model's layer network, or None for a model without one (trained before it existed).

    ``trunk``: the model's pigment network where the caller has loaded it already (a layer head
    then reads its features; without it the pigment weights are loaded again here).
    """
    d = resolve_model(model_dir)
    card = read_card(d)
    spec = card.get("layers")
    if not isinstance(spec, dict) or "weights" not in spec:
        return None
    if spec.get("architecture") == FEATURE_HEAD:
        from pigmentmap.ml.checkpoint import load_model

        trunk_hash = card.get("weights", {}).get("sha256")
        if spec.get("trunk_sha256") != trunk_hash:
            raise PigmentmapError(
                f"the layer head of '{d}' was trained on other pigment weights than the model's "
                "(retrain it: pigmentmap train-layers)"
            )
        if trunk is None:
            trunk, _, _ = load_model(d)
        hidden = spec.get("hidden", HEAD_HIDDEN)
        if not isinstance(hidden, int) or not 0 <= hidden <= 4096:
            raise PigmentmapError(f"the card of '{d}' gives the layer head a bad size: {hidden!r}")
        trunk, head = _head_on(
            trunk, n_classes=len(card["label_names"]), hidden=hidden, model_dir=d
        )
        load_state(d, spec["weights"], head)
        return LayersOnFeatures(trunk, head.eval())
    pre = Preprocessor.from_dict(card["preprocessor"])
    module = create_model(
        str(spec.get("architecture", card["architecture"])),
        n_inputs=pre.n_channels,
        n_classes=2 * len(card["label_names"]),
        n_input_channels=2 if pre.masked else 1,
    )
    return load_state(d, spec["weights"], module)


def predict_layers(model: torch.nn.Module, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """(N, K, 2) layer probabilities of preprocessed inputs."""
    from pigmentmap.ml.train import predict_proba

    p = predict_proba(model, x, batch_size=batch_size)
    k = p.shape[1] // 2
    return np.stack([p[:, :k], p[:, k:]], axis=-1)


def layer_augmenter(
    data: Dataset, names: tuple[str, ...], pre: Preprocessor, *, settings: Any = None
) -> Any:
    """An :class:`~pigmentmap.ml.augment.Augmenter` of ``data`` (a universal dataset) whose
    targets are the layer labels of ``names``: (N, 2K), the top-layer half first, each counted
    only where its class is present and detectable.

    Labels physics can back: where the file stores each layer part's significance
    (``/layers/part_z``), a part below detection at the drawn counts is not a label (a pigment in
    both layers whose lower part the top layer hides is labelled top); files from before it give
    the layers as simulated."""
    from pigmentmap.datasets.store import read_layer_part_z
    from pigmentmap.ml.augment import Augmenter, AugmentSettings

    assert data.labels is not None and data.detectability is not None
    cols = [data.label_names.index(n) for n in names]
    parts = read_layer_part_z(data.path, names)
    label_z = None if parts is None else np.concatenate([parts[:, :, 0], parts[:, :, 1]], axis=1)
    layers = read_layer_labels(data.path, names)
    if len(layers) != len(data.spectra):
        raise PigmentmapError(
            f"'{data.path}' holds {len(layers)} stacks for {len(data.spectra)} spectra"
        )
    present = data.labels[:, cols]
    det = data.detectability[:, cols]
    y2 = np.concatenate([layers[..., 0], layers[..., 1]], axis=1).astype(np.float32)
    return Augmenter(
        data.spectra, data.axis, y2, np.concatenate([det, det], axis=1), pre,
        settings if settings is not None else AugmentSettings(),
        present=np.concatenate([present, present], axis=1), label_z=label_z,
    )  # fmt: skip


def layer_test(
    module: torch.nn.Module, drawn: tuple[np.ndarray, np.ndarray, np.ndarray], names: Any
) -> dict[str, Any]:
    """Layer accuracy of a layer model on measurements drawn by :func:`layer_augmenter`
    (inputs, targets, weights)."""
    x, y, w = drawn
    k = len(names)
    truth = np.stack([y[:, :k], y[:, k:]], axis=-1)
    p = predict_layers(module, x)
    metrics = layer_accuracy(truth, p, w[:, :k], names)
    metrics["sure"] = fit_sure_threshold(truth, p, w[:, :k], names)
    return metrics


def with_threshold(entry: dict[str, Any]) -> dict[str, Any]:
    """A card's ``"layers"`` entry with ``"min_confidence"`` taken from its test metrics (the
    threshold below which a layer call is shown as uncertain; see
    :func:`pigmentmap.evaluate.layers.fit_sure_threshold`)."""
    sure = entry.get("metrics", {}).get("test", {}).get("sure") or {}
    return {**entry, "min_confidence": sure.get("min_confidence")}


def _model_and_data(model_dir: str | Path, data: Dataset) -> tuple[Path, dict, tuple[str, ...]]:
    """The model's folder, card and classes, with ``data`` checked to be a universal dataset
    that labels every class."""
    d = resolve_model(model_dir)
    card = read_card(d)
    names = tuple(card["label_names"])
    if data.detectability is None or data.labels is None:
        raise PigmentmapError(
            f"'{data.path}' is not a universal dataset: the layer model trains on one"
        )
    missing = [n for n in names if n not in data.label_names]
    if missing:
        raise PigmentmapError(f"the data has no label(s) {', '.join(missing[:5])}")
    return d, card, names


def train_layer_model(
    model_dir: str | Path,
    data: Dataset,
    *,
    out: str | Path,
    epochs: int = 20,
    patience: int = 4,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    test_fraction: float = 0.2,
    progress: bool = True,
    overwrite: bool = False,
    architecture: str = FEATURE_HEAD,
    hidden: int = HEAD_HIDDEN,
) -> dict[str, Any]:
    """Train the layer model of a model on a universal dataset; write the model with it to
    ``out`` (``out`` may be ``model_dir``). Returns the card's ``"layers"`` entry.

    ``architecture``: ``"feature-head"`` (default: a :class:`LayerHead` of ``hidden`` units on
    the pigment network's features) or a registry architecture for a second network. The same
    instrument randomisation as the pigment model; validation and test parts drawn once with
    fixed seeds; early stopping on the validation loss.
    """
    from pigmentmap.ml.checkpoint import update_model
    from pigmentmap.ml.registry import architectures
    from pigmentmap.ml.train import AugmentedSource, fit, held_out_split, set_determinism

    if architecture != FEATURE_HEAD and architecture not in architectures():
        raise PigmentmapError(
            f"unknown layer model '{architecture}' (known: {FEATURE_HEAD}, "
            f"{', '.join(architectures())})"
        )
    d, card, names = _model_and_data(model_dir, data)
    pre = Preprocessor.from_dict(card["preprocessor"])
    if not pre.masked:
        raise PigmentmapError("the layer model needs a model with the canonical input (fast-cnn)")
    augmenter = layer_augmenter(data, names, pre)
    set_determinism(seed)
    n = len(data.spectra)
    test, val, tr = held_out_split(n, test_fraction=test_fraction, seed=seed)
    if len(tr) < 2 or len(val) < 1 or len(test) < 1:
        raise PigmentmapError(f"{n} spectra are too few to train a layer model")
    x_val, y_val, w_val = augmenter.draw(val, np.random.default_rng([seed, 2]))
    x_test, y_test, w_test = augmenter.draw(test, np.random.default_rng([seed, 1]))
    torch.manual_seed(seed)
    module: nn.Module
    if architecture == FEATURE_HEAD:
        from pigmentmap.ml.checkpoint import load_model

        loaded, _, _ = load_model(d)
        trunk, head = _head_on(loaded, n_classes=len(names), hidden=hidden, model_dir=d)
        module = LayersOnFeatures(trunk, head)
        saved: nn.Module = head
        params: Any = head.parameters()
    else:
        module = create_model(
            architecture, n_inputs=pre.n_channels, n_classes=2 * len(names), n_input_channels=2
        )
        saved, params = module, None
    label2 = tuple(f"{n}:{side}" for side in ("top", "under") for n in names)
    result = fit(
        module, AugmentedSource(augmenter, tr), None, x_val, y_val, w_val=w_val,
        epochs=epochs, patience=patience, batch_size=batch_size, learning_rate=learning_rate,
        seed=seed, label_names=label2, progress=progress, desc="layer model", monitor="loss",
        parameters=params,
    )  # fmt: skip
    metrics = layer_test(module, (x_test, y_test, w_test), names)
    entry: dict[str, Any] = {
        "architecture": architecture,
        "outputs": ["p(in the top layer | present)", "p(in a lower layer | present)"],
        "calls": list(LAYER_NAMES),
        "data": {
            "file": data.path.name,
            "sha256": sha256_file(data.path),
            "n_spectra": n,
            "n_test": len(test),
        },
        "training": {
            "epochs_run": result["epochs_run"],
            "best_epoch": result["best_epoch"],
            "seconds": result["seconds"],
            "seed": seed,
        },
        "metrics": {"test": metrics},
    }
    if architecture == FEATURE_HEAD:
        entry["hidden"] = hidden
        entry["trunk_sha256"] = card["weights"]["sha256"]
    update_model(d, out, {"layers": with_threshold(entry)}, modules={"layers": (LAYER_FILE, saved)},
                 overwrite=overwrite)  # fmt: skip
    return read_card(out)["layers"]


def threshold_layer_calls(
    model_dir: str | Path,
    data: Dataset,
    *,
    out: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Set the layer-call threshold of a model's existing layer network (no training): its
    held-out part of ``data`` drawn as :func:`train_layer_model` drew it (same ``seed`` and
    ``test_fraction``: the layer network never saw those rows when ``data`` is the file it was
    trained on). Writes the model to ``out``; returns the card's ``"layers"`` entry.
    """
    from pigmentmap.ml.checkpoint import load_model, update_model
    from pigmentmap.ml.train import held_out_split

    d, card, names = _model_and_data(model_dir, data)
    spec = card.get("layers")
    if not isinstance(spec, dict) or "weights" not in spec:
        raise PigmentmapError(f"'{d}' has no layer network (pigmentmap train-layers adds one)")
    trained_on = (spec.get("data") or {}).get("sha256")
    if trained_on and trained_on != sha256_file(data.path):
        import warnings

        warnings.warn(
            f"'{data.path.name}' is not the file the layer network was trained on; its held-out "
            "rows are then simply rows of another simulation",
            stacklevel=2,
        )
    pre = Preprocessor.from_dict(card["preprocessor"])
    test, _, _ = held_out_split(len(data.spectra), test_fraction=test_fraction, seed=seed)
    drawn = layer_augmenter(data, names, pre).draw(test, np.random.default_rng([seed, 1]))
    trunk, _, _ = load_model(d)
    module = load_layer_model(d, trunk=trunk)
    assert module is not None
    metrics = layer_test(module, drawn, names)
    entry = {**spec, "metrics": {**spec.get("metrics", {}), "test": metrics}}
    update_model(d, out, {"layers": with_threshold(entry)}, overwrite=overwrite)
    return read_card(out)["layers"]
