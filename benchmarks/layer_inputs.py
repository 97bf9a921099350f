"""What limits layer order: the same small head on three inputs, on the same drawn measurements.

Usage: python benchmarks/layer_inputs.py [--work runs/] [--model universal] [--draws 2]
           [--out benchmarks/results/layer_inputs.json]

XRF carries depth in line ratios. If the pigment network's features lost them, a head reading
the ratios directly would place pigments better. This benchmark trains one layer head on each
of three inputs and scores them on the same held-out measurements:

* ``trunk``: the shipped pigment network's flattened features (as the shipped layer head);
* ``lines``: counts in windows of every line group of every fitted element (K-alpha, K-beta,
  L-alpha, L-beta, L-gamma, M; 1.2-40 keV), net of the counts beside them, taken on the *true*
  axis (what a perfect recalibration gives): log net counts and significances, standardised;
* ``both``: the two side by side.

The data: the layer dataset of ``make model`` (24,000 universal stacks, seed 11, in ``--work``;
simulated if missing), split as the layer head's training splits it; each training stack drawn
``--draws`` times as a measurement by a random instrument (fixed draws, so every head sees the
same), validation and test drawn once with the layer head's seeds. Labels are the layer labels
physics can back. Heads: one hidden layer of 64 units (``lines``: two of 256), Adam 1e-3, batch
128, at most 25 epochs, early stopping on the validation loss (patience 4).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pigmentmap.datasets.store import read_dataset
from pigmentmap.datasets.universal import universal_design
from pigmentmap.evaluate.layers import layer_accuracy
from pigmentmap.mapping.elements import DEFAULT_ELEMENTS
from pigmentmap.materials import default_library
from pigmentmap.ml.checkpoint import load_model, read_card, resolve_model
from pigmentmap.ml.layers import layer_augmenter
from pigmentmap.ml.train import held_out_split
from pigmentmap.physics.lines import catalogue_for
from pigmentmap.preprocess.preprocessor import Preprocessor, channel_edges

from _common import machine, simulated_dataset, write_json

GROUPS = {"Ka": ("KL2", "KL3"), "Kb": ("KM2", "KM3"), "La": ("L3M4", "L3M5"),
          "Lb": ("L2M4", "L3N5"), "Lg": ("L2N4",), "M": ("M5N6", "M5N7", "M4N6")}  # fmt: skip
LAYER_N, LAYER_SEED = 24000, 11


def line_windows() -> np.ndarray:
    """Rate-weighted energy of every line group of every fitted element inside 1.2-40 keV."""
    centres = []
    for element in DEFAULT_ELEMENTS:
        lines = catalogue_for(element)
        for transitions in GROUPS.values():
            group = [line for line in lines if line.transition in transitions]
            if group:
                energy = sum(g.energy_kev * g.rate for g in group) / sum(g.rate for g in group)
                if 1.2 <= energy <= 40.0:
                    centres.append(energy)
    return np.array(centres)


def line_features(counts: np.ndarray, axis: Any, centres: np.ndarray) -> np.ndarray:
    """Log net counts and significance in a window of +-0.6 FWHM (a 160 eV detector at Mn
    K-alpha) around each centre, net of the same width taken 2-3 half-widths away on each side;
    and the log of the total counts."""
    half = 0.6 * np.sqrt(0.09**2 + 0.0030 * centres)
    edges = channel_edges(axis)
    cumulative = np.concatenate([[0.0], np.cumsum(counts)])

    def between(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.interp(hi, edges, cumulative) - np.interp(lo, edges, cumulative)

    peak = between(centres - half, centres + half)
    side = between(centres - 3 * half, centres - 2 * half) + between(
        centres + 2 * half, centres + 3 * half
    )
    net = peak - side
    sig = np.clip(net / np.sqrt(peak + 1.0), -5.0, 50.0)
    return np.concatenate([np.log1p(np.clip(net, 0.0, None)), sig, [math.log(counts.sum() + 1)]])


def draw(aug: Any, trunk: Any, pre: Any, rows: np.ndarray, rng: Any, centres: np.ndarray) -> dict:
    """Measurements of ``rows``: trunk features, line features, layer labels and weights."""
    xs, lines, ys, ws = [], [], [], []
    for i in rows:
        m = aug.measure(int(i), rng)
        xs.append(pre(m.counts[None], m.nominal_axis)[0])
        lines.append(line_features(m.counts, m.true_axis, centres))
        ys.append(m.labels)
        ws.append(m.weights)
    x = np.stack(xs).astype(np.float32)
    with torch.no_grad():
        feats = [trunk.forward_features(torch.from_numpy(x[a : a + 512])).numpy()
                 for a in range(0, len(x), 512)]  # fmt: skip
    return {"trunk": np.concatenate(feats).astype(np.float32),
            "lines": np.stack(lines).astype(np.float32),
            "y": np.stack(ys).astype(np.float32), "w": np.stack(ws).astype(np.float32)}  # fmt: skip


def train_head(parts: dict, kind: str, names: tuple[str, ...], seed: int = 0) -> dict[str, Any]:
    """Train one head on ``kind`` and score it on the test draws."""
    k = len(names)

    def pick(d: dict) -> np.ndarray:
        if kind == "both":
            return np.concatenate([d["trunk"], d["lines"]], axis=1)
        return d[kind]

    tr, va, te = (pick(parts[s]) for s in ("train", "val", "test"))
    torch.manual_seed(seed)
    if kind == "lines":
        net = nn.Sequential(nn.Linear(tr.shape[1], 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                            nn.Linear(256, 2 * k))  # fmt: skip
    else:
        net = nn.Sequential(nn.Linear(tr.shape[1], 64), nn.ReLU(), nn.Dropout(0.2),
                            nn.Linear(64, 2 * k))  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    xt, yt, wt = (torch.from_numpy(a) for a in (tr, parts["train"]["y"], parts["train"]["w"]))
    xv, yv, wv = (torch.from_numpy(a) for a in (va, parts["val"]["y"], parts["val"]["w"]))

    def loss_of(x: Any, y: Any, w: Any) -> Any:
        bce = nn.functional.binary_cross_entropy_with_logits(net(x), y, reduction="none")
        return (bce * w).sum() / w.sum().clamp(min=1)

    best, best_state, bad, epochs = math.inf, None, 0, 0
    order = torch.Generator().manual_seed(seed)
    while epochs < 25:
        epochs += 1
        net.train()
        perm = torch.randperm(len(xt), generator=order)
        for a in range(0, len(xt), 128):
            b = perm[a : a + 128]
            opt.zero_grad()
            loss_of(xt[b], yt[b], wt[b]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val = float(loss_of(xv, yv, wv))
        if val < best - 1e-4:
            best, best_state, bad = val, {n: v.clone() for n, v in net.state_dict().items()}, 0
        else:
            bad += 1
            if bad >= 4:
                break
    net.load_state_dict(best_state)
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(net(torch.from_numpy(te))).numpy()
    y, w = parts["test"]["y"], parts["test"]["w"]
    r = layer_accuracy(np.stack([y[:, :k], y[:, k:]], -1), np.stack([p[:, :k], p[:, k:]], -1),
                       w[:, :k], names)  # fmt: skip
    return {"inputs": int(tr.shape[1]), "epochs_run": epochs, "val_loss": round(best, 4),
            "layer_accuracy": round(r["layer_accuracy"], 4), "n_counted": r["n_counted"],
            "confusion": r["confusion"]["counts"]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs")
    ap.add_argument("--model", default="universal")
    ap.add_argument("--draws", type=int, default=2, help="draws of each training stack")
    ap.add_argument("--out", default="benchmarks/results/layer_inputs.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = simulated_dataset(work / f"universal-{LAYER_N}-seed{LAYER_SEED}.h5",
                             universal_design(default_library(), n=LAYER_N, seed=LAYER_SEED),
                             seed=LAYER_SEED, noise=False)  # fmt: skip
    d = resolve_model(args.model)
    card = read_card(d)
    names = tuple(card["label_names"])
    pre = Preprocessor.from_dict(card["preprocessor"])
    data = read_dataset(path)
    aug = layer_augmenter(data, names, pre)
    trunk, _, _ = load_model(d)
    trunk.eval()
    test, val, tr = held_out_split(len(data.spectra), test_fraction=0.2, seed=0)
    centres = line_windows()
    t0 = time.perf_counter()
    draws = [draw(aug, trunk, pre, tr, np.random.default_rng([0, 10 + r]), centres)
             for r in range(args.draws)]  # fmt: skip
    parts = {"train": {key: np.concatenate([p[key] for p in draws]) for key in draws[0]},
             "val": draw(aug, trunk, pre, val, np.random.default_rng([0, 2]), centres),
             "test": draw(aug, trunk, pre, test, np.random.default_rng([0, 1]), centres)}  # fmt: skip
    mu = parts["train"]["lines"].mean(axis=0)
    sd = parts["train"]["lines"].std(axis=0) + 1e-6
    for part in parts.values():
        part["lines"] = (part["lines"] - mu) / sd
    drawn_s = time.perf_counter() - t0
    heads = {}
    for kind in ("trunk", "lines", "both"):
        heads[kind] = train_head(parts, kind, names)
        print(kind, heads[kind])
    write_json(Path(args.out), {
        "benchmark": "layer_inputs", "machine": machine(), "model": args.model,
        "data": path.name, "line_windows": len(centres), "draws_per_training_stack": args.draws,
        "labels": "layer labels physics can back" if aug.label_z is not None
        else "layers as simulated",
        "n_train": len(parts["train"]["y"]), "n_test": len(test),
        "seconds_drawing": round(drawn_s, 1), "heads": heads,
    })  # fmt: skip


if __name__ == "__main__":
    main()
