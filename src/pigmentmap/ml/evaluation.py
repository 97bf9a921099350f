"""``pigmentmap evaluate``: a model against labelled data, with everything a reader needs to trust
its probabilities.

The JSON holds the paper's Table 3 (per-class accuracy, sensitivity, F1 and the macro F1) of the
calibrated probabilities, and:

- ``"ece"``: expected calibration error over every counted (spectrum, class) entry, and
  ``"ece_claims"`` over the entries with p >= 0.1 (see :mod:`pigmentmap.evaluate.calibration`);
  ``"ece_raw"`` the same before calibration;
- ``"group_f1"``: macro F1 over the model's look-alike groups (a group is present where any
  member is; a class the data does not hold counts as absent);
- ``"layer_accuracy"``: share of present, detectable pigments whose layer call (top, under, both)
  is right, where the model has a layer network and the data records layers (else null, with
  ``"layer_note"`` saying why), on layer labels physics can back where the data stores them (a
  layer part below 5 sigma is no label: :func:`pigmentmap.datasets.universal.present_part_z`,
  a phantom's ``/truth/layers_detectable``); with the card's confidence threshold,
  ``"layer_accuracy_sure"`` (the same over the calls at or above it) and
  ``"layer_coverage_sure"`` (the share of those entries that are such calls; the rest are shown
  as uncertain).

Data: a labelled dataset (a ``universal`` one is drawn once as measurements, seeded), or a scan
with ground-truth maps (a phantom; per-pixel metrics). Labels are those physics can back, on
both: a pigment present below 5 sigma at a spectrum's counts (a universal dataset's
detectability, a phantom's ``/truth/detectable``) is not counted, neither as a miss nor
as a false claim (``"not_counted"`` says how many entries).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.calibration import expected_calibration_error
from pigmentmap.evaluate.groups import group_truth
from pigmentmap.evaluate.metrics import class_metrics
from pigmentmap.evaluate.posterior import Posterior
from pigmentmap.ml.calibrate import CLAIM_PROBABILITY


def _on_scan(
    model: str | Path, data: str | Path, truth: dict[str, Any], *, progress: bool
) -> dict[str, Any]:
    from pigmentmap.io.open import open_cube
    from pigmentmap.mapping.pigments import pigment_maps

    maps = pigment_maps(open_cube(data), str(model), progress=progress)
    k = len(maps.names)
    raw = (maps.raw if maps.raw is not None else maps.prob).reshape(-1, k)
    y = np.zeros_like(raw)
    for j, n in enumerate(maps.names):
        if n in truth["names"]:
            y[:, j] = truth["pigment_maps"][..., truth["names"].index(n)].reshape(-1)
    known = [n for n in maps.names if n in truth["names"]]
    w = np.ones_like(y)
    if "detectable" in truth:  # present but below the noise: neither a miss nor a false claim
        for j, n in enumerate(maps.names):
            if n in truth["names"]:
                seen = truth["detectable"][..., truth["names"].index(n)].reshape(-1)
                w[:, j] = np.where((y[:, j] > 0) & (seen == 0), 0.0, 1.0)
    out = {"card": maps.model_card, "raw": raw, "y": y, "w": w, "known": known,
           "layers": None, "layer_truth": None}  # fmt: skip
    if maps.layers is None:
        out["layer_note"] = "the model has no layer network"
    elif "layers" not in truth:
        out["layer_note"] = "the scan's truth records no layers"
    else:
        lt = np.zeros((len(raw), k, 2), dtype=np.uint8)
        for j, n in enumerate(maps.names):
            if n in truth["names"]:
                lt[:, j] = truth["layers"][..., truth["names"].index(n), :].reshape(-1, 2)
        out["layer_truth"], out["layers"] = lt, maps.layers.reshape(-1, k, 2)
        if "layers_as_simulated" not in truth:
            out["layer_labels_note"] = (
                "the scan's truth predates layer parts' significance: layers as simulated"
            )
    return out


def _on_dataset(
    model: str | Path, data_path: str | Path, *, seed: int, progress: bool
) -> dict[str, Any]:
    from pigmentmap.datasets.store import read_dataset, read_layer_labels
    from pigmentmap.ml.checkpoint import load_model
    from pigmentmap.ml.layers import load_layer_model, predict_layers
    from pigmentmap.ml.train import predict_proba

    net, card, pre = load_model(model)
    names = tuple(card["label_names"])
    data = read_dataset(data_path)
    assert data.labels is not None
    known = [n for n in names if n in data.label_names]
    if not known:
        raise PigmentmapError("the data shares no label with the model")
    if data.detectability is not None:  # noise-free universal spectra: draw measurements
        from pigmentmap.ml.augment import draw_dataset

        if not pre.masked:
            raise PigmentmapError(
                "a universal dataset needs a model with the canonical input (fast-cnn)"
            )
        x, y, w = draw_dataset(data, pre, seed=seed, label_names=names, progress=progress)
    else:
        from pigmentmap.ml.finetune import data_classes

        labels, cols = data_classes(data, list(names))  # refuses classes the model lacks
        x = pre(data.spectra, data.axis)
        y = np.zeros((len(x), len(names)), dtype=np.float32)
        y[:, cols] = labels
        w = np.ones_like(y)
    raw = predict_proba(net, x)
    out = {"card": card, "raw": raw, "y": y, "w": w, "known": known, "layers": None,
           "layer_truth": None}  # fmt: skip
    layer_net = load_layer_model(model, trunk=net)  # a head reads the loaded network
    if layer_net is None:
        out["layer_note"] = "the model has no layer network"
    else:
        try:
            if data.detectability is not None:
                # the same measurements (the same generator, row by row), their layer labels
                # backed by physics where the file stores each part's significance
                from pigmentmap.ml.layers import layer_augmenter

                aug = layer_augmenter(data, names, pre)
                _, ly, _ = aug.draw(np.arange(len(data.spectra)), np.random.default_rng(seed))
                k = len(names)
                out["layer_truth"] = np.stack([ly[:, :k], ly[:, k:]], axis=-1)
                if aug.label_z is None:
                    out["layer_labels_note"] = (
                        "the data predates layer parts' significance: layers as simulated"
                    )
            else:
                out["layer_truth"] = read_layer_labels(data.path, names)
            out["layers"] = predict_layers(layer_net, x)
        except PigmentmapError as err:
            out["layer_note"] = str(err)
    return out


def evaluate_model(
    model: str | Path,
    data: str | Path,
    *,
    seed: int = 0,
    threshold: float = 0.5,
    progress: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on ``data`` (see the module notes); ``progress`` shows bars."""
    from pigmentmap.mapping.run import read_truth

    truth = read_truth(data)
    r = (
        _on_scan(model, data, truth, progress=progress)
        if truth is not None
        else _on_dataset(model, data, seed=seed, progress=progress)
    )
    card, raw, y, w, known = r["card"], r["raw"], r["y"], r["w"], r["known"]
    names = tuple(card["label_names"])
    post = Posterior.from_card(card)
    prob = post.classes(raw)
    cols = [names.index(n) for n in known]
    metrics = class_metrics(y[:, cols], prob[:, cols], known, threshold=threshold, mask=w[:, cols])
    gy, gm = group_truth(y, post.groups, names, mask=w)
    groups = class_metrics(
        gy, post.group_probabilities(prob), [g.name for g in post.groups], threshold=threshold,
        mask=gm,
    )  # fmt: skip
    with_support = {k: v for k, v in groups["per_class"].items() if v["support"] > 0}
    metrics.update(
        {
            "ece": expected_calibration_error(y[:, cols], prob[:, cols], mask=w[:, cols]),
            "ece_claims": expected_calibration_error(
                y[:, cols], prob[:, cols], mask=w[:, cols], min_probability=CLAIM_PROBABILITY
            ),
            "ece_raw": expected_calibration_error(y[:, cols], raw[:, cols], mask=w[:, cols]),
            "calibrated": post.calibration is not None,
            "group_f1": groups["macro_f1"],
            "groups": {
                k: {"f1": v["f1"], "support": v["support"]} for k, v in with_support.items()
            },
            "layer_accuracy": None,
            "model_lacks": list(post.missing),
            "not_counted": int((w[:, cols] == 0).sum()),
        }
    )
    if r["layers"] is not None:
        from pigmentmap.evaluate.layers import card_min_confidence, layer_accuracy

        present = (y > 0) & (w > 0)
        min_conf = card_min_confidence(r["card"])
        la = layer_accuracy(
            r["layer_truth"][:, cols], r["layers"][:, cols], present[:, cols], known,
            min_confidence=min_conf,
        )  # fmt: skip
        metrics["layer_accuracy"] = la["layer_accuracy"]
        metrics["layers"] = la
        if min_conf is not None:
            metrics["layer_accuracy_sure"] = la["sure"]["accuracy"]
            metrics["layer_coverage_sure"] = la["sure"]["coverage"]
    else:
        metrics["layer_note"] = r.get("layer_note", "the data records no layers")
    notes = []
    if len(known) < len(names):
        notes.append(f"scored on the data's {len(known)} classes (the model predicts {len(names)})")
    if metrics["not_counted"]:
        notes.append(
            f"{metrics['not_counted']} (spectrum, pigment) entries are present but below 5 sigma "
            "at their counts: not counted"
        )
    if r.get("layer_labels_note"):
        notes.append(r["layer_labels_note"])
    if notes:
        metrics["note"] = "; ".join(notes)
    return metrics
