"""Layer order: for each pigment present, is it in the top layer, underneath, or in both?

The paper left layer order to future work. XRF carries depth in line ratios: a layer's own
absorption weakens its soft lines more than its hard ones (Pb L-alpha against L-beta, Pb M
against L, K-alpha against K-beta, K against L of the same element), and a covering layer
weakens the soft lines of everything below it. A second network (the *layer model*, the same
architecture and input as the pigment model) learns this from the stacks' layer labels: two
outputs per class, ``p(in the top layer | present)`` and ``p(in a lower layer | present)``, trained
with instrument randomisation on the ``universal`` design and a loss counted only where the class
is present and detectable (see :class:`pigmentmap.ml.augment.Augmenter`'s ``present``).

:func:`pigmentmap.evaluate.layers.layer_calls` turns the two outputs into ``top``: (only the top layer), ``under`` (only layers below it; grounds and primings count as below) or ``both``. Its weights
are a second safetensors file in the model folder (:data:`LAYER_FILE`), described in the card
under ``"layers"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import Dataset, read_layer_labels
from pigmentmap.evaluate.layers import LAYER_NAMES, layer_accuracy
from pigmentmap.ml.checkpoint import load_state, read_card, resolve_model, sha256_file
from pigmentmap.ml.registry import create_model
from pigmentmap.preprocess.preprocessor import Preprocessor

LAYER_FILE = "layers.safetensors"


def load_layer_model(model_dir: str | Path) -> torch.nn.Module | None:
    """The model's layer network, or None for a model without one (trained before it existed)."""
    d = resolve_model(model_dir)
    card = read_card(d)
    spec = card.get("layers")
    if not isinstance(spec, dict) or "weights" not in spec:
        return None
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
) -> dict[str, Any]:
    """Train the layer network of a model on a universal dataset; write the model with it to
    ``out`` (``out`` may be ``model_dir``). Returns the card's ``"layers"`` entry.

    The same instrument randomisation as the pigment model; validation and test parts drawn once
    with fixed seeds; early stopping on the validation loss.
    """
    from pigmentmap.ml.augment import Augmenter
    from pigmentmap.ml.checkpoint import update_model
    from pigmentmap.ml.train import AugmentedSource, fit, set_determinism

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
    pre = Preprocessor.from_dict(card["preprocessor"])
    if not pre.masked:
        raise PigmentmapError("the layer model needs a model with the canonical input (fast-cnn)")
    cols = [data.label_names.index(n) for n in names]
    layers = read_layer_labels(data.path, names)
    if len(layers) != len(data.spectra):
        raise PigmentmapError(
            f"'{data.path}' holds {len(layers)} stacks for {len(data.spectra)} spectra"
        )
    present = data.labels[:, cols]
    det = data.detectability[:, cols]
    y2 = np.concatenate([layers[..., 0], layers[..., 1]], axis=1).astype(np.float32)
    augmenter = Augmenter(
        data.spectra, data.axis, y2, np.concatenate([det, det], axis=1), pre,
        present=np.concatenate([present, present], axis=1),
    )  # fmt: skip
    set_determinism(seed)
    n = len(data.spectra)
    order = np.random.default_rng(seed).permutation(n)
    n_test, n_val = round(n * test_fraction), round(n * 0.1)
    test, val, tr = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    if len(tr) < 2 or len(val) < 1 or len(test) < 1:
        raise PigmentmapError(f"{n} spectra are too few to train a layer model")
    x_val, y_val, w_val = augmenter.draw(val, np.random.default_rng([seed, 2]))
    x_test, y_test, w_test = augmenter.draw(test, np.random.default_rng([seed, 1]))
    torch.manual_seed(seed)
    module = create_model(
        card["architecture"], n_inputs=pre.n_channels, n_classes=2 * len(names),
        n_input_channels=2,
    )  # fmt: skip
    label2 = tuple(f"{n}:{side}" for side in ("top", "under") for n in names)
    result = fit(
        module, AugmentedSource(augmenter, tr), None, x_val, y_val, w_val=w_val,
        epochs=epochs, patience=patience, batch_size=batch_size, learning_rate=learning_rate,
        seed=seed, label_names=label2, progress=progress, desc="layer model", monitor="loss",
    )  # fmt: skip
    k = len(names)
    p_test = predict_layers(module, x_test)
    truth = np.stack([y_test[:, :k], y_test[:, k:]], axis=-1)
    metrics = layer_accuracy(truth, p_test, w_test[:, :k], names)
    entry = {
        "architecture": card["architecture"],
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
    update_model(d, out, {"layers": entry}, modules={"layers": (LAYER_FILE, module)},
                 overwrite=overwrite)  # fmt: skip
    return read_card(out)["layers"]
