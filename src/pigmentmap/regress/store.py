"""Regression model folders: ``arrays.safetensors`` (numpy arrays) + ``card.json``; never pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from pigmentmap.core.atomic import atomic_dir
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.ml.checkpoint import sha256_file
from pigmentmap.preprocess.preprocessor import Preprocessor
from pigmentmap.regress.features import Features

ARRAYS, CARD, FORMAT = "arrays.safetensors", "card.json", "pigmentmap-regress/1"


def save(
    out: str | Path,
    arrays: dict[str, np.ndarray],
    card: dict[str, Any],
    features: Features,
    *,
    overwrite: bool,
) -> Path:
    """Write the folder atomically."""
    with atomic_dir(out, overwrite=overwrite, marker=CARD) as tmp:
        all_arrays = {
            k: np.ascontiguousarray(v) for k, v in {**arrays, **features.arrays()}.items()
        }
        save_file(all_arrays, tmp / ARRAYS)
        card = {**card, "format": FORMAT, "preprocessor": features.preprocessor.to_dict(),
                "arrays_sha256": sha256_file(tmp / ARRAYS)}  # fmt: skip
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return Path(out)


def load(folder: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any], Features]:
    """Read a folder; checks the format and the arrays' hash."""
    d = Path(folder)
    if not (d / CARD).is_file() or not (d / ARRAYS).is_file():
        raise PigmentmapError(f"'{d}' is not a regression model folder ({CARD} and {ARRAYS})")
    try:
        card = json.loads((d / CARD).read_text())
    except json.JSONDecodeError as err:
        raise PigmentmapError(f"'{d / CARD}' is not valid JSON ({err.msg})") from None
    if card.get("format") != FORMAT:
        raise PigmentmapError(f"'{d}' is not a {FORMAT} model")
    if sha256_file(d / ARRAYS) != card.get("arrays_sha256"):
        raise PigmentmapError(
            f"'{d / ARRAYS}' does not match the SHA-256 in its card (tampered or corrupt)"
        )
    arrays = load_file(d / ARRAYS)
    features = Features(
        Preprocessor.from_dict(card["preprocessor"]),
        arrays.pop("pca_mean", None),
        arrays.pop("pca_components", None),
    )
    return arrays, card, features
