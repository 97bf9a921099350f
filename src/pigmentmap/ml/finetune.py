"""Transfer learning (paper sections 2.3-2.4): start from a trained model, train the head with the
convolutional layers frozen, then all layers, Adam lr 5e-4, on a fraction of labelled data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import Dataset
from pigmentmap.evaluate.metrics import class_metrics
from pigmentmap.ml.checkpoint import load_model, save_model, sha256_file
from pigmentmap.ml.train import fit, predict_proba, set_determinism

STALE_AFTER_FINETUNE = ("layers", "calibration", "groups", "group_calibration")


def aligned_labels(data: Dataset, model_names: list[str]) -> np.ndarray:
    """The dataset's labels in the model's class order; refuses different label sets."""
    if data.labels is None:
        raise PigmentmapError(f"'{data.path}' has no /labels")
    if sorted(data.label_names) != sorted(model_names):
        missing = sorted(set(model_names) - set(data.label_names))
        extra = sorted(set(data.label_names) - set(model_names))
        raise PigmentmapError(
            f"label names differ from the model's (missing {missing}, extra {extra})"
        )
    order = [data.label_names.index(n) for n in model_names]
    return data.labels[:, order].astype(np.float32)


def data_classes(data: Dataset, model_names: list[str]) -> tuple[np.ndarray, list[int]]:
    """Labels of the data's classes and the model's output column of each, for evaluation.

    A model may predict more classes than the data labels (a 29-class model on the paper's
    11-class design): it is scored on the data's classes. A data class the model lacks is
    refused.
    """
    if data.labels is None:
        raise PigmentmapError(f"'{data.path}' has no /labels")
    missing = [n for n in data.label_names if n not in model_names]
    if missing:
        raise PigmentmapError(
            f"the model does not predict {', '.join(missing[:5])} that '{data.path.name}' labels"
        )
    return data.labels.astype(np.float32), [model_names.index(n) for n in data.label_names]


def freeze_features(model: Any, frozen: bool) -> None:
    """Freeze (or unfreeze) the convolutional part; frozen BatchNorm keeps its statistics."""
    for p in model.features.parameters():
        p.requires_grad = not frozen


def finetune(
    model_dir: str | Path,
    data: Dataset,
    *,
    out: str | Path,
    fraction: float = 0.2,
    epochs_head: int = 20,
    epochs_all: int = 20,
    patience: int = 5,
    learning_rate: float = 5e-4,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Finetune on ``fraction`` of ``data`` (10 % of that for early stopping); the rest is the test."""
    if not 0 < fraction < 1:
        raise PigmentmapError(f"--fraction must be in (0, 1), got {fraction}")
    loaded, card, pre = load_model(model_dir)
    model: Any = loaded
    y = aligned_labels(data, card["label_names"])
    x = pre(data.spectra, data.axis)
    set_determinism(seed)
    order = np.random.default_rng(seed).permutation(len(x))
    n_tune = max(2, round(len(x) * fraction))
    if len(x) - n_tune < 1:
        raise PigmentmapError("too few spectra to keep a test part")
    tune, test = order[:n_tune], order[n_tune:]
    n_val = max(1, len(tune) // 10)
    val, tr = tune[:n_val], tune[n_val:]
    if len(tr) < 2:
        raise PigmentmapError("too few spectra to finetune on")
    before = class_metrics(y[test], predict_proba(model, x[test]), card["label_names"])
    phases = []
    for name, frozen, epochs in (("head", True, epochs_head), ("all", False, epochs_all)):
        freeze_features(model, frozen)
        params = [p for p in model.parameters() if p.requires_grad]
        result = fit(
            model, x[tr], y[tr], x[val], y[val], epochs=epochs, patience=patience, batch_size=batch_size,
            learning_rate=learning_rate, seed=seed, label_names=tuple(card["label_names"]),
            parameters=params, progress=progress, desc=f"finetune {name}",
            frozen=model.features if frozen else None,
        )  # fmt: skip
        phases.append({"phase": name, **{k: v for k, v in result.items() if k != "history"}})
    freeze_features(model, False)
    after = class_metrics(y[test], predict_proba(model, x[test]), card["label_names"])
    new_card = dict(card)
    new_card.pop("weights", None)
    # Fitted to the network before finetuning: its layer model (a head reads its features), its
    # calibration and look-alike groups no longer describe it. The finetuned model maps without
    # them and says so; pigmentmap calibrate / train-layers make them anew.
    dropped = [k for k in STALE_AFTER_FINETUNE if new_card.pop(k, None) is not None]
    new_card["finetune"] = {
        "from": str(model_dir),
        "data": {"file": data.path.name, "sha256": sha256_file(data.path), "n_spectra": len(x)},
        "fraction": fraction,
        "n_finetune": len(tr),
        "n_validation": len(val),
        "n_test": len(test),
        "learning_rate": learning_rate,
        "phases": phases,
        "test_before": before,
        "test_after": after,
        "seed": seed,
        "dropped": dropped,
    }
    save_model(model, new_card, out, overwrite=overwrite)
    return new_card
