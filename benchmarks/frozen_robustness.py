"""Pigment maps through the frozen networks under what real scans do, against the eager networks.

Usage: python benchmarks/frozen_robustness.py [--model universal]
           --out benchmarks/results/frozen_robustness.json

A 40 x 40 painting phantom (seed 7) per case: lab-ag; its file calibration read +80 and -80 eV
off (labels compared with the exact calibration's); another tube (elio: Rh, 1 s; niton-xl3t: Ag,
filtered); the axis cut at 20.5 keV; ten times fewer counts. For each: the largest difference of
the frozen networks' probabilities from eager mode, labels that differ, and macro F1 of the
calibrated maps on labels physics can back (``/truth/detectable``), over the phantom's classes
that the model predicts and that are present in it (macro F1 counts classes with positives):
a palette model from ``pigmentmap palette`` of the phantom's pigments and ``universal`` are
scored on the same classes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.core import EnergyAxis
from pigmentmap.evaluate.metrics import class_metrics
from pigmentmap.instruments import load_instrument
from pigmentmap.mapping.painting import make_painting
from pigmentmap.mapping.pigments import PigmentPredictor
from pigmentmap.materials import default_library
from pigmentmap.ml.train import predict_proba

from _common import machine, write_json


def case(p: PigmentPredictor, work: Path, name: str, inst, *, shift_kev: float = 0.0,
         last_kev: float | None = None) -> tuple[dict, np.ndarray]:  # fmt: skip
    path = work / f"{len(list(work.iterdir()))}.h5"
    make_painting(path, library=default_library(), instrument=inst, seed=7, size=(40, 40))
    with h5py.File(path) as f:
        counts = f["counts"][()]
        names = [n.decode() for n in f["truth/names"][()]]
        y = f["truth/pigment_maps"][()].reshape(-1, len(names))
        seen = f["truth/detectable"][()].reshape(-1, len(names))
    keep = [k for k, t in enumerate(names) if t in p.names]
    names, y, seen = [names[k] for k in keep], y[:, keep], seen[:, keep]
    ax = inst.axis
    if last_kev is not None:
        n = int((last_kev - ax.offset_kev) / ax.gain_kev)
        counts, ax = counts[..., :n], EnergyAxis(ax.offset_kev, ax.gain_kev, n)
    read = EnergyAxis(ax.offset_kev + shift_kev, ax.gain_kev, ax.n_channels)  # the file's own
    raw, _ = p.predict(counts, read)
    x = p.pre(counts.astype(np.float32).reshape(-1, counts.shape[-1]), read)
    eager = predict_proba(p.model, x).reshape(raw.shape)
    prob = p.posterior.classes(raw).reshape(-1, raw.shape[-1])
    cols = [list(p.names).index(t) for t in names]
    m = class_metrics(y, prob[:, cols], names, mask=np.where((y > 0) & (seen == 0), 0.0, 1.0))
    row = {"case": name, "max_abs_frozen_minus_eager": float(np.abs(raw - eager).max()),
           "labels_differ": int(((raw >= 0.5) != (eager >= 0.5)).sum()), "labels": int(raw.size),
           "macro_f1": m["macro_f1"]}  # fmt: skip
    print(row, flush=True)
    return row, prob


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="benchmarks/results/frozen_robustness.json")
    ap.add_argument("--model", default="universal")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    p = PigmentPredictor.load(args.model)
    lab = load_instrument("lab-ag")
    rows = []
    row, ref = case(p, work, "lab-ag", lab)
    rows.append(row)
    for shift in (0.08, -0.08):
        row, prob = case(p, work, f"lab-ag read {1000 * shift:+.0f} eV", lab, shift_kev=shift)
        row["labels_agree_with_exact_calibration"] = float(((prob >= 0.5) == (ref >= 0.5)).mean())
        rows.append(row)
    rows.append(
        case(p, work, "elio (Rh, 1 s)", load_instrument("elio").with_changes(live_time_s=1.0))[0]
    )
    rows.append(case(p, work, "niton-xl3t (Ag, filtered)", load_instrument("niton-xl3t"))[0])
    rows.append(case(p, work, "lab-ag axis to 20.5 keV", lab, last_kev=20.5)[0])
    rows.append(
        case(p, work, "lab-ag, counts / 10", lab.with_changes(live_time_s=lab.live_time_s / 10))[0]
    )
    write_json(args.out, {"benchmark": "frozen_robustness", "model": args.model,
                         "machine": machine(), "cases": rows})  # fmt: skip


if __name__ == "__main__":
    main()
