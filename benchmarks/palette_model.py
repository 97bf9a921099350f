"""What a palette the user knows buys: ``pigmentmap palette`` against the default model.

Usage: python benchmarks/palette_model.py [--work runs/] [--steps build,mockup,paper,phantom,
           painting] [--out benchmarks/results/palette_model.json]

* ``build``: three palette models of ``universal`` (default settings: 6,000 stacks, 10 epochs,
  seed 0), each timed: ``paper`` (the paper's 11 pigments, those of its mock-ups),
  ``painting`` (the pigments present in the painting phantom of ``honest_answers``: lab Ag tube,
  0.1 s, seed 31, 100 x 100) and ``painting-superset`` (those and five absent pigments drawn
  with a fixed seed: a palette that is true but not tight);
* ``mockup`` and ``paper``: the paper's Table 2 mock-up design and its paper design (ELIO,
  Poisson noise; as in ``universal_model``), universal against the ``paper`` palette;
* ``phantom``: the mock-up phantom on ELIO and on the lab Ag tube (as in ``honest_answers``):
  per-pixel ECE, group F1, layer accuracy, macro F1 of the calibrated and gated maps, claims
  without a key element, and the vermilion strip of 0.6 % under 40 um;
* ``painting``: the painting phantom mapped by each model; macro F1 of the calibrated, gated
  maps over the pigments present in it, on labels physics can back (``/truth/detectable``);
* ``seeds``: the ``paper`` palette made again with seeds 1 and 2 (other simulated paintings,
  draws and head), on the mock-up and paper designs: how much the figures move with the seed.

Existing models and scans in ``--work`` are reused. ``--steps`` merges into an existing ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import honest_answers
import universal_model
from pigmentmap.datasets import PAPER_LABELS
from pigmentmap.datasets.universal import UNIVERSAL_LABELS
from pigmentmap.evaluate.metrics import class_metrics
from pigmentmap.mapping.results import read_results
from pigmentmap.mapping.run import run_map
from pigmentmap.ml.checkpoint import read_card
from pigmentmap.ml.palette import PaletteSettings, palette_model

from _common import add_step_options, chosen_steps, machine, write_json

STEPS = ("build", "mockup", "paper", "phantom", "painting", "seeds")
SPREAD_SEEDS = (1, 2)
PALETTES = ("paper", "painting", "painting-superset")
N_EXTRA = 5


def _present(scan: Path) -> tuple[str, ...]:
    with h5py.File(scan) as f:
        names = [n.decode() for n in f["truth/names"][()]]
        maps = f["truth/pigment_maps"][()].reshape(-1, len(names))
    return tuple(n for k, n in enumerate(names) if maps[:, k].any())


def palettes(work: Path) -> dict[str, tuple[str, ...]]:
    present = _present(honest_answers.painting_scan(work)[0])
    absent = [n for n in UNIVERSAL_LABELS if n not in present]
    extra = np.random.default_rng(5).choice(absent, size=min(N_EXTRA, len(absent)), replace=False)
    return {"paper": PAPER_LABELS, "painting": present,
            "painting-superset": (*present, *map(str, extra))}  # fmt: skip


def step_build(work: Path) -> dict[str, Any]:
    out = {}
    for name, pigments in palettes(work).items():
        path = work / f"palette-{name}"
        t0 = time.perf_counter()
        if not path.exists():
            palette_model("universal", pigments, out=path, settings=PaletteSettings(), log=print)
        card = read_card(path)
        cal = card["calibration"]["metrics"]
        out[name] = {
            "pigments": list(card["label_names"]),
            "seconds": card["palette"]["seconds"],
            "seconds_total": round(sum(card["palette"]["seconds"].values()), 1),
            "wall_seconds_this_run": round(time.perf_counter() - t0, 1),
            "held_out_macro_f1_raw": round(card["metrics"]["test_best_fold"]["macro_f1"], 3),
            "held_out_ece": round(cal["ece"], 4),
            "held_out_group_f1": round(cal["group_f1"], 3),
            "held_out_layer_accuracy": round(
                card["layers"]["metrics"]["test"]["layer_accuracy"], 3
            ),
            "look_alikes": [g["members"] for g in card["groups"] if len(g["members"]) > 1],
        }
        print(name, out[name])
    return out


def _designs(work: Path, step: str, models: dict[str, str]) -> dict[str, Any]:
    """``universal_model``'s mock-up or paper step (dataset made if missing) for each model."""
    fn = universal_model.step_mockup if step == "mockup" else universal_model.step_paper
    return {label: fn(argparse.Namespace(model=model), work) for label, model in models.items()}


def step_phantom(work: Path) -> dict[str, Any]:
    keep = ("pixels", "macro_f1_calibrated_and_gated", "claims_without_key_element_after_gate",
            "vermilion_0.6_percent_under_40_um")  # fmt: skip
    out: dict[str, Any] = {}
    for profile, (seed, live) in honest_answers.PHANTOMS.items():
        out[profile] = {}
        for label, model in (("universal", "universal"), ("palette", str(work / "palette-paper"))):
            r = honest_answers.phantom(model, work, profile, seed, live)
            r["pixels"].pop("groups", None)
            r["pixels"].pop("layer_confusion", None)
            out[profile][label] = {k: r[k] for k in keep}
            print(profile, label, out[profile][label])
    return out


def step_painting(work: Path) -> dict[str, Any]:
    from pigmentmap.io.open import open_cube

    scan, inst = honest_answers.painting_scan(work)
    present = list(_present(scan))
    with h5py.File(scan) as f:
        names = [n.decode() for n in f["truth/names"][()]]
        y = f["truth/pigment_maps"][()].reshape(-1, len(names))
        seen = f["truth/detectable"][()].reshape(-1, len(names))
    cols = [names.index(n) for n in present]
    y, seen = y[:, cols], seen[:, cols]
    mask = np.where((y > 0) & (seen == 0), 0.0, 1.0)
    out: dict[str, Any] = {"present": present}
    models = {"universal": "universal", **{p: str(work / f"palette-{p}") for p in PALETTES[1:]}}
    for label, model in models.items():
        res = work / f"maps-palette-bench-{label}"
        run_map(scan, open_cube(scan), model=model, out=res, instrument=inst, overwrite=True,
                progress=False)  # fmt: skip
        r = read_results(res)
        got = list(r["names"])
        prob = r["prob"].reshape(-1, len(got))[:, [got.index(n) for n in present]]
        m = class_metrics(y, prob, tuple(present), mask=mask)
        out[label] = {"macro_f1": round(m["macro_f1"], 3),
                      "per_class_f1": {k: round(v["f1"], 3) for k, v in m["per_class"].items()}}  # fmt: skip
        print("painting", label, out[label]["macro_f1"])
    return out


def step_seeds(work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for seed in SPREAD_SEEDS:
        path = work / f"palette-paper-seed{seed}"
        if not path.exists():
            palette_model("universal", PAPER_LABELS, out=path, settings=PaletteSettings(seed=seed),
                          log=print)  # fmt: skip
        out[f"seed{seed}"] = {}
        for design in ("mockup", "paper"):
            r = _designs(work, design, {"palette": str(path)})["palette"]
            out[f"seed{seed}"][design] = {"macro_f1": r["macro_f1"],
                                          "physics_backed": r["physics_backed"]["macro_f1"],
                                          "per_class_f1": r["per_class_f1"]}  # fmt: skip
            print(seed, design, out[f"seed{seed}"][design])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_step_options(ap, STEPS, out="benchmarks/results/palette_model.json")
    args = ap.parse_args()
    steps, result, work = chosen_steps(args, STEPS)
    result["machine"] = machine()
    for step in steps:
        t0 = time.perf_counter()
        if step == "build":
            result[step] = step_build(work)
        elif step in ("mockup", "paper"):
            models = {"universal": "universal", "palette": str(work / "palette-paper")}
            result[step] = _designs(work, step, models)
        elif step == "phantom":
            result[step] = step_phantom(work)
        elif step == "seeds":
            result[step] = step_seeds(work)
        else:
            result[step] = step_painting(work)
        result[step]["step_seconds"] = round(time.perf_counter() - t0, 1)
        write_json(Path(args.out), result)


if __name__ == "__main__":
    main()
