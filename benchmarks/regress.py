"""Second seed: spectra -> RGB and spectra -> element maps, judged on areas they were not trained on.

Usage: python benchmarks/regress.py [--live-time-s 1.0] [--size 200] --out benchmarks/results/regress.json

Gerodimos et al. (2022) trained on one face of a painting (2665 spectra) and tested on another
(1426 spectra); their best score, kNN with k = 10, was R^2 0.45. Three settings, each reporting
R^2 per colour channel and the mean CIEDE2000 for every RGB method, with its time to train and
to predict:

* ``same_layout``: the mock-up phantom (seed 1) -> a second one (seed 2: fresh Poisson noise,
  same strips, same mixtures). An easy test: every test spectrum has training spectra of the
  same stack.
* ``cross_area`` (the paper's test): one painting phantom (``--size`` square, m6-jetstream, seed
  11); train on its left half, test on its right half: other region shapes, and the regions
  that lie wholly on the right hold mixtures never seen in training (the share of test pixels
  whose stack also occurs in training is reported).
* ``cross_painting``: train on the whole painting seed 11, test on the whole painting seed 12
  (other shapes, other mixtures of the same 29-pigment palette): the time to train and predict
  a ``--size`` square phantom.

The visible-colour truth is ``/truth/rgb`` (the top layer's pigment colours mixed by mass
fraction). The element MLP (targets: ``fit``'s maps) is judged on the same-layout setting, with
its speed next to ``fit`` on the same cube.
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
from pigmentmap.mapping.painting import make_painting
from pigmentmap.mapping.phantom import make_phantom
from pigmentmap.materials import default_library
from pigmentmap.regress.colour import ciede2000, r2_per_channel, srgb_to_lab
from pigmentmap.regress.models import RGB_METHODS, predict, train_elements, train_rgb

from _common import machine, write_json

#: (name, method, PCA components): every RGB method as the CLI trains it by default, and kNN on
#: 20 whitened PCA components (a k-d tree search instead of brute force over the spectrum).
VARIANTS = [(m, m, 20 if m in ("autoencoder", "encoder") else 0) for m in RGB_METHODS]
VARIANTS.insert(1, ("knn_pca20", "knn", 20))
ELEMENTS = ("Ca", "Cr", "Fe", "Co", "Cu", "Zn", "As", "Sn", "Hg", "Pb")


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as f:
        return f["counts"][()].astype(np.float64), f["truth/rgb"][()] / 255.0


def rgb_methods(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, axis,
    *, work: Path, epochs: int, label: str,
) -> dict[str, dict]:  # fmt: skip
    """Train every RGB method on (x_train, y_train), score it on (x_test, y_test)."""
    results = {}
    for name, method, comps in VARIANTS:
        t0 = time.perf_counter()
        model = train_rgb(x_train, axis, y_train, method=method, out=work / f"{label}-{name}",
                          components=comps, epochs=epochs)  # fmt: skip
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred, _, card = predict(model, x_test, axis)
        predict_s = time.perf_counter() - t0
        r2 = r2_per_channel(y_test, pred)
        de = ciede2000(srgb_to_lab(y_test), srgb_to_lab(pred))
        results[name] = {
            "r2_rgb": r2.tolist(), "r2_mean": float(r2.mean()), "ciede2000_mean": float(de.mean()),
            "ciede2000_median": float(np.median(de)), "train_seconds": train_s,
            "predict_seconds": predict_s, "n_train": len(x_train), "n_test": len(x_test),
            "features": f"PCA {comps}" if comps else "preprocessed spectrum",
            **({"search": card["params"]["algorithm"], "k": card["params"]["k"]} if method == "knn" else {}),
            **({"epochs": epochs} if comps else {}),
        }  # fmt: skip
        print(f"{label:15} {name:12} R2 {np.round(r2, 3).tolist()} mean {r2.mean():.3f}  "
              f"dE00 {de.mean():.2f}  train {train_s:.1f} s  predict {predict_s:.1f} s", flush=True)  # fmt: skip
    return results


def painting_settings(work: Path, *, size: int, seed: int, epochs: int) -> dict[str, dict]:
    """The cross-area and cross-painting settings on painting phantoms (m6-jetstream)."""
    inst = load_instrument("m6-jetstream")
    lib = default_library()
    a, b = work / "painting-a.h5", work / "painting-b.h5"
    make_painting(a, library=lib, instrument=inst, seed=seed, size=(size, size))
    make_painting(b, library=lib, instrument=inst, seed=seed + 1, size=(size, size))
    cube_a, rgb_a = load(a)
    cube_b, rgb_b = load(b)
    with h5py.File(a) as f:
        stack = f["truth/stack_index"][()]
    c = cube_a.shape[-1]
    half = size // 2
    seen = np.isin(stack[:, half:], np.unique(stack[:, :half]))
    out = {}
    out["cross_area"] = {
        "train": f"painting phantom seed {seed} ({size} x {size}, m6-jetstream {inst.live_time_s:g} s), left half",
        "test": "the same painting's right half",
        "test_pixels_with_a_stack_seen_in_training": float(seen.mean()),
        "rgb": rgb_methods(cube_a[:, :half].reshape(-1, c), rgb_a[:, :half].reshape(-1, 3),
                           cube_a[:, half:].reshape(-1, c), rgb_a[:, half:].reshape(-1, 3),
                           inst.axis, work=work, epochs=epochs, label="cross_area"),
    }  # fmt: skip
    out["cross_painting"] = {
        "train": f"painting phantom seed {seed} ({size} x {size}), whole",
        "test": f"painting phantom seed {seed + 1} ({size} x {size}), whole: other shapes and mixtures",
        "rgb": rgb_methods(cube_a.reshape(-1, c), rgb_a.reshape(-1, 3), cube_b.reshape(-1, c),
                           rgb_b.reshape(-1, 3), inst.axis, work=work, epochs=epochs,
                           label="cross_painting"),
    }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--live-time-s", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=200, help="side of the painting phantoms")
    ap.add_argument(
        "--painting-epochs",
        type=int,
        default=20,
        help="epochs of the autoencoders on the paintings (more spectra per epoch)",
    )
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
    rgb_results = rgb_methods(x_train, y_train, x_test, y_test, inst.axis, work=work,
                              epochs=200, label="same_layout")  # fmt: skip
    paintings = painting_settings(work, size=args.size, seed=11, epochs=args.painting_epochs)
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
        "seed_knn_setting": "kNN (k = 10, Euclidean), trained on one face of a painting, tested on another",
        **paintings,
        "mlp_r2_per_element": elements, "mlp_pixels_per_second": h * w / mlp_s, "fit_pixels_per_second": h * w / fit_s,
    })  # fmt: skip


if __name__ == "__main__":
    main()
