"""Do co-present pigments explain the universal model's misses? Held-out figures on labels no
stack of the same pigments can imitate.

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
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.datasets.imitation import present_identifiable_z
from pigmentmap.datasets.store import _variant_instrument
from pigmentmap.datasets.universal import DETECTABILITY_UPPER_KEV, FILLER, universal_design
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library
from pigmentmap.ml.evaluation import evaluate_model
from pigmentmap.simulate import Simulator

from _common import machine, simulated_dataset, write_json

HELDOUT_N, HELDOUT_SEED = 3000, 13


def identifiable(design) -> tuple[np.ndarray, np.ndarray]:
    """Detectability and identifiable z of every present class of ``design`` (N, K, R)."""
    lib = default_library()
    inst = load_instrument("elio")
    elements = set().union(*(s.elements for s in design.stacks))
    n, k = design.labels.shape
    z = np.zeros((n, k, len(DETECTABILITY_UPPER_KEV)), np.float32)
    ident = z.copy()
    for v in np.unique(design.variant):
        rows = np.flatnonzero(design.variant == v)
        sim = Simulator(_variant_instrument(inst, design.variants[v]), elements=elements,
                        secondary_fluorescence=False, **dict(design.simulation))  # fmt: skip
        z[rows], ident[rows] = present_identifiable_z(
            sim, [design.stacks[r] for r in rows], design.labels[rows], design.label_names,
            filler=lib[FILLER], upper_kev=DETECTABILITY_UPPER_KEV,
        )  # fmt: skip
    return z, ident


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
    z, ident = identifiable(design)
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
    write_json(args.out, out)
    print({k: v for k, v in out.items() if k not in ("machine",)})


if __name__ == "__main__":
    main()
