"""Do imitating stacks explain the universal model's misses? Held-out figures on pigment and
layer labels no simple alternative stack imitates.

Usage: python benchmarks/imitation_labels.py [--work runs/] [--model universal]
           [--out benchmarks/results/imitation_labels.json]

The universal model's look-alike groups are precise (0.84-1.00) but miss many present,
detectable pigments (recall 0.33-0.98). One explanation would be imitation: iron oxide beside red
ochre adds iron that a little more ochre would add too, so no method can say both are there. This
benchmark measures how much of the shortfall that explains. For the held-out universal set of
``honest_answers.py`` (3,000 stacks, seed 13, simulated in ``--work`` if missing) it computes
every present class's identifiable significance (:mod:`pigmentmap.datasets.imitation`: the best
stack built from the other present pigments, simulated) and scores the model twice on the same
drawn measurements: a class counts where it is detectable (the shipped rule), then only where no
such stack imitates it at 5 sigma. It writes the share of present entries each rule keeps and
both sets of figures. Group F1 on identifiable labels leaves out a group whose present members
all imitate one another (lead white beside red lead), though the group itself is plain: read
its change as an upper bound.

Layers: the same for layer order. Each present class only in the top layer is moved into the
layer below it, each class only underneath into the top layer, at 1/64 to 64 times its fraction
(:func:`pigmentmap.datasets.imitation.layer_imitation_z`); where the closest of these spectra is
within 5 sigma of the real one at the drawn counts, the layer call is left out, and the layer
accuracy of the rest is written beside that of all calls.

Both alternatives keep everything else as it is (the cover's thickness and make-up, the other
pigments), so they are a lower bound on what could imitate a stack: a small share imitated says
that these simple imitations are rare, not that no imitation is.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.datasets.imitation import layer_imitation_z, present_identifiable_z
from pigmentmap.datasets.store import _variant_instrument
from pigmentmap.datasets.universal import DETECTABILITY_UPPER_KEV, FILLER, universal_design
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library
from pigmentmap.ml.evaluation import evaluate_model
from pigmentmap.simulate import Simulator

from _common import machine, simulated_dataset, write_json

HELDOUT_N, HELDOUT_SEED = 3000, 13


def per_variant(design, measure) -> list[np.ndarray]:
    """``measure(sim, stacks, labels)`` on the stacks of each random instrument of ``design``
    (its simulator without secondary fluorescence, as the stored detectability), each of its
    (N, K, R) arrays filled row block by row block; NaN where a block left nothing."""
    lib = default_library()
    inst = load_instrument("elio")
    elements = set().union(*(s.elements for s in design.stacks))
    n, k = design.labels.shape
    out: list[np.ndarray] = []
    for v in np.unique(design.variant):
        rows = np.flatnonzero(design.variant == v)
        sim = Simulator(_variant_instrument(inst, design.variants[v]), elements=elements,
                        secondary_fluorescence=False, **dict(design.simulation))  # fmt: skip
        parts = measure(sim, [design.stacks[r] for r in rows], design.labels[rows],
                        design.label_names, filler=lib[FILLER], upper_kev=DETECTABILITY_UPPER_KEV)  # fmt: skip
        parts = parts if isinstance(parts, tuple) else (parts,)
        if not out:
            out = [np.full((n, k, len(DETECTABILITY_UPPER_KEV)), np.nan, np.float32) for _ in parts]
        for o, part in zip(out, parts, strict=True):
            o[rows] = part
    return out


def layer_figures(model: str, path: Path, design, lz: np.ndarray) -> dict:
    """Layer accuracy over all present, detectable classes and over those no move imitates."""
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.evaluate.layers import card_min_confidence, layer_accuracy
    from pigmentmap.ml.checkpoint import load_model
    from pigmentmap.ml.evaluation import _on_dataset
    from pigmentmap.ml.layers import layer_augmenter

    r = _on_dataset(model, path, seed=HELDOUT_SEED, progress=False)
    names = tuple(r["card"]["label_names"])
    _, _, pre = load_model(model)
    aug = layer_augmenter(read_dataset(path), names, pre)
    rng = np.random.default_rng(HELDOUT_SEED)  # the layer labels' draws, row by row
    draws = [aug.measure(i, rng) for i in range(len(design.stacks))]
    cols = [list(design.label_names).index(n) for n in names]
    index = np.array([m.range_index for m in draws])
    scale = np.array([m.z_scale for m in draws])
    z = lz[:, cols][np.arange(len(draws)), :, index] * scale[:, None]
    present = (r["y"] > 0) & (r["w"] > 0)
    tried = present & ~np.isnan(z)
    imitated = tried & (np.nan_to_num(z, nan=np.inf) < 5.0)
    min_conf = card_min_confidence(r["card"])
    every = layer_accuracy(r["layer_truth"], r["layers"], present, list(names),
                           min_confidence=min_conf)  # fmt: skip
    rest = layer_accuracy(r["layer_truth"], r["layers"], present & ~imitated, list(names),
                          min_confidence=min_conf)  # fmt: skip
    return {
        "entries": int(present.sum()),
        "tried": int(tried.sum()),
        "imitated_below_5_sigma": int(imitated.sum()),
        "layer_accuracy_all": round(every["layer_accuracy"], 4),
        "layer_accuracy_not_imitated": round(rest["layer_accuracy"], 4),
        "sure_all": every.get("sure"),
        "sure_not_imitated": rest.get("sure"),
    }


def _figures(m: dict) -> dict:
    return {"macro_f1": round(m["macro_f1"], 4), "group_f1": round(m["group_f1"], 4),
            "not_counted": m["not_counted"],
            "groups": {g: round(v["f1"], 3) for g, v in m["groups"].items()}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("benchmarks/work"))
    ap.add_argument("--model", default="universal")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/imitation_labels.json"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    path = args.work / f"universal-{HELDOUT_N}-seed{HELDOUT_SEED}.h5"
    design = universal_design(default_library(), n=HELDOUT_N, seed=HELDOUT_SEED)
    simulated_dataset(path, design, seed=HELDOUT_SEED, noise=False)
    t0 = time.perf_counter()
    z, ident = per_variant(design, present_identifiable_z)
    seconds = time.perf_counter() - t0
    with h5py.File(path) as f:
        stored = f["detectability"][()]
    present = z[..., -1] > 0
    out = {
        "benchmark": "imitation_labels",
        "model": args.model,
        "machine": machine(),
        "heldout": {"n": HELDOUT_N, "seed": HELDOUT_SEED},
        "identifiable_seconds": round(seconds, 1),
        "z_agrees_with_stored_detectability_max_relative": round(
            float((np.abs(z - stored) / np.maximum(stored, 1.0)).max()), 4
        ),
        "present_entries": int(present.sum()),
        "share_detectable_full_range": round(float((z[present, -1] >= 5).mean()), 4),
        "share_identifiable_full_range": round(float((ident[present, -1] >= 5).mean()), 4),
        "share_imitated_below_half_z": round(
            float((ident[present, -1] < 0.5 * z[present, -1]).mean()), 4
        ),
    }
    out["detectable_labels"] = _figures(evaluate_model(args.model, path, seed=HELDOUT_SEED))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(path, copy)
        with h5py.File(copy, "r+") as f:  # the same draws, labels counted where identifiable
            f["detectability"][...] = ident
        out["identifiable_labels"] = _figures(evaluate_model(args.model, copy, seed=HELDOUT_SEED))
    t0 = time.perf_counter()
    (lz,) = per_variant(design, layer_imitation_z)
    out["layers"] = {"imitation_seconds": round(time.perf_counter() - t0, 1),
                     **layer_figures(args.model, path, design, lz)}  # fmt: skip
    write_json(args.out, out)
    print({k: v for k, v in out.items() if k not in ("machine",)})


if __name__ == "__main__":
    main()
