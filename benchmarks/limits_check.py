"""Do the detection limits a map reports hold, and does the map find what they say it can see?

Usage: python benchmarks/limits_check.py [--model universal] [--draws 8] [--work runs/]
                                         [--out benchmarks/results/limits_check.json]

Every map run reports, per pigment, the least share by mass whose own lines reach 5 sigma in a
reference stack (:mod:`pigmentmap.mapping.limits`: 50 um of the pigment in chalk over a chalk
ground, bare and under 40 um of lead white). This benchmark tests that table as a reader would
use it, on two instruments (the lab Ag scanner at 0.1 s per pixel and ELIO at 10 s):

1. the limits at the instrument's counts per pixel: the lines' (own lines at 5 sigma) and the
   map's own (the model claims the pigment's look-alike group, :func:`map_limits`);
2. for every class and cover, the pigment at 0.5, 1, 2 and 4 times each limit (at most pure), in
   the reference stack and in two other paints the limits did not see: a thin oil paint (20 um,
   20 % linseed oil) over a gypsum ground, and the pigment mixed into lead white (classes
   without Pb only);
3. each stack's expected spectrum scaled to the counts per pixel, drawn ``--draws`` times with
   Poisson noise into one cube, mapped by ``pigmentmap map`` (the shipped model, evidence gate
   on);
4. per stack, whether its own lines reach 5 sigma (the labels' rule, on the expected spectra),
   and per pixel whether the map claims the pigment (p >= 0.5) or its look-alike group.

The JSON gives, per instrument, limit (lines or map), cover, paint and multiple of the limit:
the share of stacks
whose own lines reach 5 sigma (for the lines' limit: about 0 below 1x and 1 above, in the
reference) and the share of pixels where the pigment, or its group, is claimed (for the map's
limit: about half at 1x, in the reference, and more above).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.datasets.own_lines import own_line_channels
from pigmentmap.datasets.universal import FILLER, class_removals, detectability_z
from pigmentmap.instruments import load_instrument
from pigmentmap.io.open import open_cube
from pigmentmap.mapping.limits import (
    LIMIT_COVERS,
    LIMIT_GROUND_UM,
    LIMIT_LAYER_UM,
    LIMIT_SIGMA,
    detection_limits,
    map_limits,
    reference_stack_text,
)
from pigmentmap.mapping.pigments import PigmentPredictor
from pigmentmap.mapping.results import read_results
from pigmentmap.mapping.run import run_map
from pigmentmap.materials import default_library
from pigmentmap.materials.signature import signature_elements
from pigmentmap.materials.stack_string import parse_stack
from pigmentmap.ml.checkpoint import read_card
from pigmentmap.simulate import Simulator
from pigmentmap.simulate.noise import poisson_counts

from _common import machine, write_json

#: profile -> live time (s): the painting phantom's lab scanner, and the paper's ELIO.
INSTRUMENTS = {"lab-ag": 0.1, "elio": 10.0}
MULTIPLES = (0.5, 1.0, 2.0, 4.0)
PAINTS = ("reference", "thin oil paint on gypsum", "in lead white")


def paint_text(paint: str, name: str, fraction: float, cover: tuple[str, float] | None) -> str:
    """The stack of ``paint`` holding ``fraction`` of ``name`` under ``cover``."""
    if paint == "reference":
        return reference_stack_text(name, fraction, cover)
    top = "" if cover is None else f"{cover[0]}:{cover[1]:g}/"
    if paint == "thin oil paint on gypsum":
        rest = 0.8 - fraction
        mix = (f"{name}=0.8+linseed_oil=0.2" if rest <= 0
               else f"{name}={fraction:g}+calcium_carbonate={rest:g}+linseed_oil=0.2")  # fmt: skip
        return f"{top}{mix}:20/gypsum:{LIMIT_GROUND_UM:g}"
    if paint == "in lead white":
        mix = name if fraction >= 1 else f"{name}={fraction:g}+lead_white={1 - fraction:g}"
        return f"{top}{mix}:{LIMIT_LAYER_UM:g}/calcium_carbonate:{LIMIT_GROUND_UM:g}"
    raise ValueError(paint)


def check(profile: str, live_time_s: float, model: str, draws: int, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    lib = default_library()
    inst = load_instrument(profile).with_changes(live_time_s=live_time_s)
    card = read_card(model)
    names = [n for n in card["label_names"] if n in lib]
    sim = Simulator(inst, secondary_fluorescence=False)
    # the counts of a typical pixel: a chalk ground under 50 um of chalk paint at this live time
    typical = sim.simulate([parse_stack(reference_stack_text("calcium_carbonate", 1.0, None),
                                        library=lib)]).counts[0]  # fmt: skip
    counts = float(typical.sum())
    limits = detection_limits(inst, names, counts_per_pixel=counts)
    limits = map_limits(limits, PigmentPredictor.load(model), inst)
    assert limits.map_fraction is not None
    stacks, where = [], []
    for basis, table in (("lines", limits.fraction), ("map", limits.map_fraction)):
        for k, name in enumerate(names):
            has_pb = "Pb" in signature_elements(name, library=lib)
            for c, (cover_name, cover) in enumerate(LIMIT_COVERS.items()):
                limit = table[k, c]
                if not np.isfinite(limit) or (cover is not None and cover[0] == name):
                    continue
                for paint in PAINTS:
                    if paint == "in lead white" and (has_pb or name == "lead_white"):
                        continue
                    for m in MULTIPLES:
                        f = min(m * float(limit), 1.0)
                        if paint == "thin oil paint on gypsum":
                            f = min(f, 0.8)
                        stacks.append(parse_stack(paint_text(paint, name, f, cover), library=lib))
                        where.append((k, basis, cover_name, paint, m))
    labels = np.zeros((len(stacks), len(names)), dtype=np.uint8)
    for s, (k, *_rest) in enumerate(where):
        labels[s, k] = 1
    removed = class_removals(sim, stacks, labels, names, filler=lib[FILLER])
    assert removed is not None
    with_counts, rows, cols, without_counts = removed
    scale = counts / with_counts.sum(axis=1, keepdims=True)
    energies = inst.axis.energies
    z = detectability_z(
        with_counts[rows] * scale[rows], without_counts * scale[rows], energies_kev=energies,
        upper_kev=(float(energies[-1]) + 1e-9,),
        channels=own_line_channels(names, energies, library=lib)[cols],
    )[:, 0]  # fmt: skip
    expected = with_counts * scale  # every pixel has the typical counts
    rng = np.random.default_rng(20)
    cube = np.stack([poisson_counts(expected, rng=rng) for _ in range(draws)], axis=1)
    scan = work / f"limits-check-{profile}.h5"
    with h5py.File(scan, "w") as f:
        f["counts"] = cube.astype(np.float32)
        f["energy_kev"] = energies
    res = work / f"maps-limits-check-{profile}"
    run_map(scan, open_cube(scan), model=model, out=res, instrument=inst, overwrite=True,
            progress=False)  # fmt: skip
    r = read_results(res)
    mnames = list(r["names"])
    group_of = {m: list(r["group_names"]).index(" | ".join(g["members"]))
                for g in r["group_list"] for m in g["members"]}  # fmt: skip
    rows_out: dict[str, Any] = {}
    for basis, cover_name, paint, m in (
        (b, c, p, m) for b in ("lines", "map") for c in LIMIT_COVERS for p in PAINTS
        for m in MULTIPLES
    ):  # fmt: skip
        sel = [s for s, w in enumerate(where) if w[1:] == (basis, cover_name, paint, m)]
        if not sel:
            continue
        kk = [mnames.index(names[where[s][0]]) for s in sel]
        gg = [group_of[names[where[s][0]]] for s in sel]
        claimed = np.array([r["prob"][s, :, k] >= 0.5 for s, k in zip(sel, kk, strict=True)])
        group = np.array([r["groups"][s, :, g] >= 0.5 for s, g in zip(sel, gg, strict=True)])
        seen = z[sel] >= LIMIT_SIGMA
        at = rows_out.setdefault(basis, {}).setdefault(cover_name, {})
        at.setdefault(paint, {})[f"{m:g}x"] = {
            "stacks": len(sel),
            "own_lines_at_5_sigma": round(float(seen.mean()), 3),
            "claimed": round(float(claimed.mean()), 3),
            "group_claimed": round(float(group.mean()), 3),
            "group_claimed_where_own_lines_seen": (
                round(float(group[seen].mean()), 3) if seen.any() else None
            ),
        }
    # per class, the reference paint on top at 2x and 4x its lines' limit: which pigments the
    # network misses though its lines are plain
    per_class = {}
    for k, name in enumerate(names):
        sel = [s for s, w in enumerate(where)
               if w[0] == k and w[1:4] == ("lines", "on top", "reference") and w[4] >= 2]  # fmt: skip
        if sel:
            g = group_of[name]
            per_class[name] = {
                "limit_on_top": round(float(limits.fraction[k, 0]), 5),
                "map_limit_on_top": round(float(limits.map_fraction[k, 0]), 5),
                "group_claimed_at_2x_4x": round(float((r["groups"][sel, :, g] >= 0.5).mean()), 3),
                "claimed_at_2x_4x": round(
                    float((r["prob"][sel, :, mnames.index(name)] >= 0.5).mean()), 3
                ),
            }
    return {
        "profile": profile,
        "live_time_s": live_time_s,
        "counts_per_pixel": round(counts),
        "draws": draws,
        "stacks": len(stacks),
        "by_limit_cover_paint_multiple": rows_out,
        "per_class_on_top": per_class,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="universal")
    ap.add_argument("--draws", type=int, default=8, help="noise draws (pixels) per stack")
    ap.add_argument("--work", default="runs")
    ap.add_argument("--out", default="benchmarks/results/limits_check.json")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"benchmark": "limits_check", "model": args.model, "machine": machine()}
    for profile, live in INSTRUMENTS.items():
        out[profile] = check(profile, live, args.model, args.draws, work)
        print(profile, "done in", out[profile]["seconds"], "s")
    write_json(args.out, out)


if __name__ == "__main__":
    main()
