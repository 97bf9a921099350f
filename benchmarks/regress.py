"""Second seed: spectra -> RGB and spectra -> element maps, trained on one phantom, tested on another.

Usage: python benchmarks/regress.py [--live-time-s 1.0] --out benchmarks/results/regress.json

Train: the mock-up phantom (seed 1) with its visible-colour truth (``/truth/rgb``: the top layer's
pigment colours mixed by mass fraction); test: a second phantom (seed 2, fresh Poisson noise, same
layout) for both the colour and the element MLP (targets: `fit`'s maps of that phantom). Reports R^2 per colour channel and the mean CIEDE2000 for each RGB method (the
seed's kNN scored 0.45), per-element R^2 of the MLP against the fitted maps, and the MLP's speed
next to `fit` on the same cube.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.instruments import load_instrument
from pigmentmap.mapping.elements import fit_elements
from pigmentmap.mapping.phantom import make_phantom
from pigmentmap.materials import default_library
from pigmentmap.regress.colour import ciede2000, r2_per_channel, srgb_to_lab
from pigmentmap.regress.models import RGB_METHODS, predict, train_elements, train_rgb

from _common import machine, write_json

ELEMENTS = ("Ca", "Cr", "Fe", "Co", "Cu", "Zn", "As", "Sn", "Hg", "Pb")


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as f:
        return f["counts"][()].astype(np.float64), f["truth/rgb"][()] / 255.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--live-time-s", type=float, default=1.0)
    ap.add_argument("--out", default="benchmarks/results/regress.json")
    args = ap.parse_args()
    inst = load_instrument("elio").with_changes(live_time_s=args.live_time_s)
    lib = default_library()
    work = Path(tempfile.mkdtemp())
    make_phantom(work / "a.h5", library=lib, instrument=inst, seed=1)
    make_phantom(work / "b.h5", library=lib, instrument=inst, seed=2)
    train_cube, train_rgb_img = load(work / "a.h5")
    test_cube, test_rgb_img = load(work / "b.h5")
    h, w, c = train_cube.shape
    x_train, y_train = train_cube.reshape(-1, c), train_rgb_img.reshape(-1, 3)
    x_test, y_test = test_cube.reshape(-1, c), test_rgb_img.reshape(-1, 3)
    rgb_results = {}
    for method in RGB_METHODS:
        comps = 20 if method in ("autoencoder", "encoder") else 0
        t0 = time.perf_counter()
        model = train_rgb(
            x_train,
            inst.axis,
            y_train,
            method=method,
            out=work / method,
            components=comps,
            epochs=200,
        )
        train_s = time.perf_counter() - t0
        pred, _, _ = predict(model, x_test, inst.axis)
        r2 = r2_per_channel(y_test, pred)
        de = ciede2000(srgb_to_lab(y_test), srgb_to_lab(pred))
        rgb_results[method] = {"r2_rgb": r2.tolist(), "r2_mean": float(r2.mean()), "ciede2000_mean": float(de.mean()),
                               "train_seconds": train_s, "features": f"PCA {comps}" if comps else "preprocessed spectrum"}  # fmt: skip
        print(f"{method:12} R2 {np.round(r2, 3).tolist()}  mean dE00 {de.mean():.2f}")
    t0 = time.perf_counter()
    fit_train = fit_elements(train_cube, inst.axis, inst, elements=ELEMENTS)
    t1 = time.perf_counter()
    fit_test = fit_elements(test_cube, inst.axis, inst, elements=ELEMENTS)
    fit_s = time.perf_counter() - t1
    del t0
    mlp = train_elements(
        x_train,
        inst.axis,
        fit_train.values.reshape(h * w, -1),
        list(fit_train.names),
        out=work / "mlp",
        components=20,
        epochs=300,
    )
    t0 = time.perf_counter()
    pred, names, _ = predict(mlp, x_test, inst.axis)
    mlp_s = time.perf_counter() - t0
    r2_el = r2_per_channel(fit_test.values.reshape(h * w, -1), pred)
    elements = {n: float(r) for n, r in zip(names, r2_el, strict=True)}
    print("MLP R2 per element:", {k: round(v, 3) for k, v in elements.items()})
    print(f"MLP {h * w / mlp_s:.0f} px/s vs fit {h * w / fit_s:.0f} px/s")
    write_json(args.out, {
        "benchmark": "regress", "machine": machine(), "live_time_s": args.live_time_s, "pixels": h * w,
        "train": "phantom seed 1", "test": "phantom seed 2 (fresh noise, same layout)",
        "rgb": rgb_results, "seed_knn_score": 0.45,
        "mlp_r2_per_element": elements, "mlp_pixels_per_second": h * w / mlp_s, "fit_pixels_per_second": h * w / fit_s,
    })  # fmt: skip


if __name__ == "__main__":
    main()
