"""``pigmentmap calibrate``: calibrated probabilities and look-alike groups for a trained model,
from held-out simulation, stored in its card.

The held-out data (spectra the model never trained on; for a universal dataset, each row drawn
once as a measurement by a random instrument) is split in two halves by a seeded shuffle:

1. on the first half: per-class Platt scaling (:func:`~pigmentmap.evaluate.calibration.fit_calibration`),
   then the look-alike groups from the calibrated predictions
   (:func:`~pigmentmap.evaluate.groups.find_groups`), what the model's split inside each group
   rests on (:func:`~pigmentmap.ml.split_basis.split_bases`), then the groups' own Platt scaling;
2. on the second half, the figures written into the card: ECE before and after, macro F1 over
   classes and over groups (``group_f1``), so that none is measured on the data it was fitted on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.store import Dataset
from pigmentmap.evaluate.calibration import (
    expected_calibration_error,
    fit_calibration,
    reliability,
)
from pigmentmap.evaluate.groups import find_groups, group_truth
from pigmentmap.evaluate.metrics import class_metrics
from pigmentmap.evaluate.posterior import Posterior
from pigmentmap.ml.checkpoint import load_model, resolve_model, sha256_file, update_model

#: Only claims: ECE over the entries with a probability of at least this.
CLAIM_PROBABILITY = 0.1


def held_out_predictions(
    model: Any, card: dict[str, Any], pre: Any, data: Dataset, *, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw probabilities of every class of the model on ``data``: (truth, prob, mask, inputs).

    A universal dataset is drawn once as measurements (seeded); another dataset must hold every
    class of the model.
    """
    from pigmentmap.ml.train import predict_proba

    names = tuple(card["label_names"])
    if data.labels is None:
        raise PigmentmapError(f"'{data.path}' has no labels")
    if data.detectability is not None:
        from pigmentmap.ml.augment import draw_dataset

        if not pre.masked:
            raise PigmentmapError("a universal dataset needs a model with the canonical input")
        x, y, w = draw_dataset(data, pre, seed=seed, label_names=names)
    else:
        missing = [n for n in names if n not in data.label_names]
        if missing:
            raise PigmentmapError(f"the data has no label(s) {', '.join(missing[:5])}")
        cols = [data.label_names.index(n) for n in names]
        x = pre(data.spectra, data.axis)
        y = data.labels[:, cols].astype(np.float32)
        w = np.ones_like(y)
    return y, predict_proba(model, x), w, x


def posterior_metrics(
    post: Posterior, y: np.ndarray, raw: np.ndarray, w: np.ndarray
) -> dict[str, Any]:
    """ECE (all entries and claims only), macro F1 of classes and groups, before and after."""
    prob = post.classes(raw)
    gy, gm = group_truth(y, post.groups, post.names, mask=w)
    groups = class_metrics(
        gy, post.group_probabilities(prob), [g.name for g in post.groups], mask=gm
    )
    return {
        "ece_raw": expected_calibration_error(y, raw, mask=w),
        "ece": expected_calibration_error(y, prob, mask=w),
        "ece_claims_raw": expected_calibration_error(
            y, raw, mask=w, min_probability=CLAIM_PROBABILITY
        ),
        "ece_claims": expected_calibration_error(
            y, prob, mask=w, min_probability=CLAIM_PROBABILITY
        ),
        "macro_f1_raw": class_metrics(y, raw, post.names, mask=w)["macro_f1"],
        "macro_f1": class_metrics(y, prob, post.names, mask=w)["macro_f1"],
        "group_f1": groups["macro_f1"],
        "groups": {
            k: {"f1": v["f1"], "support": v["support"]} for k, v in groups["per_class"].items()
        },
        "reliability": {
            "raw": reliability(y, raw, mask=w),
            "calibrated": reliability(y, prob, mask=w),
        },
    }


Part = tuple[np.ndarray, np.ndarray, np.ndarray]


def card_entries(
    names: tuple[str, ...],
    fit_part: Part,
    test_part: Part,
    *,
    source: dict[str, Any],
    model: Any = None,
    fit_inputs: np.ndarray | None = None,
    energies_kev: np.ndarray | None = None,
) -> dict[str, Any]:
    """Card entries ``calibration``, ``groups`` and ``group_calibration`` fitted on ``fit_part``
    and measured on ``test_part`` (each: truth, raw probabilities, mask).

    With ``model``, ``fit_inputs`` (the fit part's network inputs) and ``energies_kev`` (of the
    input channels), each group of look-alikes also gets what the model's split between its
    members rests on (:func:`pigmentmap.ml.split_basis.split_bases`).
    """
    from pigmentmap.evaluate.calibration import Calibration

    y, raw, w = fit_part
    cal = fit_calibration(y, raw, mask=w)
    prob = cal.apply(raw)
    groups = find_groups(y, prob, names, mask=w)
    if model is not None and fit_inputs is not None and energies_kev is not None:
        from pigmentmap.ml.split_basis import split_bases

        groups = split_bases(model, fit_inputs, y, w, groups, names, energies_kev=energies_kev)
    gy, gm = group_truth(y, groups, names, mask=w)
    group_cal = fit_calibration(
        gy, Posterior(names, cal, groups).group_probabilities(prob), mask=gm
    )
    metrics = posterior_metrics(Posterior(names, cal, groups, group_cal), *test_part)
    return {
        "calibration": Calibration(
            cal.a, cal.b, {**cal.info, "data": source, "metrics": metrics}
        ).to_dict(),
        "groups": [g.to_dict() for g in groups],
        "group_calibration": group_cal.to_dict(),
    }


def calibrate_model(
    model_dir: str | Path,
    data: Dataset,
    *,
    out: str | Path,
    seed: int = 0,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit calibration and look-alike groups on half of ``data``, measure on the other half,
    write the model with them to ``out`` (which may be ``model_dir``); returns the new card."""
    from pigmentmap.ml.checkpoint import read_card

    d = resolve_model(model_dir)
    model, card, pre = load_model(d)
    y, raw, w, x = held_out_predictions(model, card, pre, data, seed=seed)
    if len(y) < 20:
        raise PigmentmapError(f"{len(y)} spectra are too few to calibrate on (at least 20)")
    order = np.random.default_rng(seed).permutation(len(y))
    fit_rows, test_rows = order[: len(y) // 2], order[len(y) // 2 :]
    source = {
        "file": data.path.name,
        "sha256": sha256_file(data.path),
        "n_fit": len(fit_rows),
        "n_test": len(test_rows),
        "seed": seed,
    }
    changes = card_entries(
        tuple(card["label_names"]), (y[fit_rows], raw[fit_rows], w[fit_rows]),
        (y[test_rows], raw[test_rows], w[test_rows]), source=source,
        model=model, fit_inputs=x[fit_rows], energies_kev=pre.energies_kev,
    )  # fmt: skip
    update_model(d, out, changes, overwrite=overwrite)
    return read_card(out)
