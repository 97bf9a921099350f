"""Build the shipped default model ``universal``: dataset, training, layer network, calibration,
copy into the package. ``make model`` runs every step; the card records each step's wall time.

Usage: python benchmarks/build_default_model.py [--steps train,layers,calibrate] [--n 30000]
                                                [--epochs 30] [--seed 0] [--work runs/]
                                                [--trained DIR] [--no-ship]

1. ``train``: the ``universal`` design (random paintings on random instruments, 29 classes,
   noise-free expected counts, detectability per class; seed 1), ``fast-cnn`` trained on 1 fold
   with instrument randomisation drawn anew every epoch, 30 epochs with the learning rate on a
   half cosine to 0, the epoch of least validation loss kept (``--trained DIR`` takes a model
   already trained so from DIR instead: its card must name the same dataset);
2. ``layers``: the layer model, a head on the pigment network's features
   (:mod:`pigmentmap.ml.layers`), on another universal dataset (24,000 stacks, seed 11) with
   layer labels physics can back, up to 20 epochs with patience 8, and its confidence
   threshold (calls below it are uncertain);
3. ``calibrate``: Platt scaling and look-alike groups (:mod:`pigmentmap.ml.calibrate`) on a
   held-out universal dataset (6,000 stacks, seed 7) the networks never saw;
4. copied into ``src/pigmentmap/ml/shipped/universal`` with a ``made_by`` record of every step.

Steps left out start from the shipped model (its ``made_by`` keeps their record).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from pigmentmap.datasets.store import read_dataset
from pigmentmap.datasets.universal import universal_design
from pigmentmap.materials import default_library
from pigmentmap.ml.checkpoint import read_card, update_model
from pigmentmap.ml.train import TrainSettings, train

from _common import ship_model, simulated_dataset

SHIPPED = Path(__file__).resolve().parents[1] / "src/pigmentmap/ml/shipped/universal"
DATA_SEED, LAYER_SEED, CALIBRATION_SEED = 1, 11, 7
LAYER_N, CALIBRATION_N = 24000, 6000


def _dataset(
    work: Path, n: int, seed: int, before: Any = None, extended_layers: float = 0.0
) -> tuple[Path, float | None]:
    """The dataset and the seconds it took to simulate; a file already there (from an earlier
    run) keeps the time ``before`` recorded for it."""
    tag = f"-extended{extended_layers:g}" if extended_layers > 0 else ""
    path = work / f"universal-{n}-seed{seed}{tag}.h5"
    if path.exists():
        return path, before
    t0 = time.perf_counter()
    design = universal_design(default_library(), n=n, seed=seed, extended_layers=extended_layers)
    simulated_dataset(path, design, seed=seed, noise=False)
    return path, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="train,layers,calibrate", help="comma-separated steps")
    ap.add_argument("--n", type=int, default=30000, help="stacks in the training dataset")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--extended-layers", type=float, default=0.0,
                    help="share of paint layers let down with an extender in every dataset "
                         "(0: the shipped recipe; 0.35 was tried in session 20)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0,
                    help="the training seed (weights, batches, draws); 0 makes the shipped model")  # fmt: skip
    ap.add_argument("--patience", type=int, default=30)
    ap.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine"])
    ap.add_argument("--monitor", default="loss", choices=["loss", "f1"])
    ap.add_argument("--layer-epochs", type=int, default=20)
    # 8: on layer labels physics can back, patience 4 stopped at epoch 10 (best 6) with held-out
    # layer accuracy 0.776; patience 8 ran 20 epochs (best 15) to 0.785
    ap.add_argument("--layer-patience", type=int, default=8)
    ap.add_argument("--trained", help="a model trained as step 1 would train it (skips training)")
    ap.add_argument("--work", default="runs", help="folder for the datasets and the model")
    ap.add_argument("--no-ship", action="store_true",
                    help="do not copy into the package (the card in --work still gets made_by)")  # fmt: skip
    args = ap.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(steps) - {"train", "layers", "calibrate"}
    if unknown:
        raise SystemExit(f"unknown step(s): {', '.join(sorted(unknown))}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model_dir = work / "universal-model"
    before: dict[str, Any] = dict(read_card(SHIPPED).get("made_by", {}))
    made_by: dict[str, Any] = (
        {} if "train" in steps else dict(read_card(SHIPPED).get("made_by", {}))
    )
    made_by.update({"script": "benchmarks/build_default_model.py", "make_target": "make model"})
    if "train" in steps:
        data_path, dataset_seconds = _dataset(
            work, args.n, DATA_SEED, before.get("dataset_seconds"), args.extended_layers
        )
        settings = TrainSettings(
            architecture="fast-cnn", run_folds=1, epochs=args.epochs, patience=args.patience,
            seed=args.seed, monitor=args.monitor, lr_schedule=args.lr_schedule,
        )  # fmt: skip
        if args.trained:
            card = read_card(args.trained)
            if card["data"]["file"] != data_path.name:
                raise SystemExit(f"{args.trained} was trained on {card['data']['file']}")
            update_model(args.trained, model_dir, {}, overwrite=True)
            training_seconds = card["training"]["seconds_total"]
            kept = settings.__dict__  # a card from before a setting existed had its default
            settings = TrainSettings(**{k: card["training"].get(k, TrainSettings().__dict__[k])
                                        for k in kept})  # fmt: skip
        else:
            t1 = time.perf_counter()
            card = train(read_dataset(data_path), out=model_dir, settings=settings, overwrite=True)
            training_seconds = time.perf_counter() - t1
        print(f"trained {model_dir}: {training_seconds:.0f} s, held-out macro F1 "
              f"{card['metrics']['test_best_fold']['macro_f1']:.3f}")  # fmt: skip
        made_by.update({
            "dataset": {"design": "universal", "n": args.n, "seed": DATA_SEED,
                        **({"extended_layers": args.extended_layers}
                           if args.extended_layers > 0 else {})},
            "train": {"architecture": "fast-cnn", "epochs": settings.epochs,
                      "patience": settings.patience, "run_folds": 1, "seed": settings.seed,
                      "monitor": settings.monitor, "lr_schedule": settings.lr_schedule},
            "dataset_seconds": None if dataset_seconds is None else round(dataset_seconds, 1),
            "training_seconds": round(training_seconds, 1),
        })  # fmt: skip
    else:
        update_model(SHIPPED, model_dir, {}, overwrite=True)
    if "layers" in steps:
        from pigmentmap.ml.layers import train_layer_model

        path, seconds = _dataset(work, LAYER_N, LAYER_SEED,
                                 before.get("layers", {}).get("dataset_seconds"),
                                 args.extended_layers)  # fmt: skip
        t1 = time.perf_counter()
        entry = train_layer_model(model_dir, read_dataset(path), out=model_dir,
                                  epochs=args.layer_epochs, patience=args.layer_patience,
                                  overwrite=True)  # fmt: skip
        made_by["layers"] = {
            "dataset": {"design": "universal", "n": LAYER_N, "seed": LAYER_SEED},
            "architecture": entry["architecture"], "hidden": entry.get("hidden"),
            "epochs": args.layer_epochs, "patience": args.layer_patience,
            "dataset_seconds": None if seconds is None else round(seconds, 1),
            "training_seconds": round(time.perf_counter() - t1, 1),
            "layer_accuracy": entry["metrics"]["test"]["layer_accuracy"],
        }  # fmt: skip
    if "calibrate" in steps:
        from pigmentmap.ml.calibrate import calibrate_model

        path, seconds = _dataset(work, CALIBRATION_N, CALIBRATION_SEED,
                                 before.get("calibration", {}).get("dataset_seconds"),
                                 args.extended_layers)  # fmt: skip
        t1 = time.perf_counter()
        card = calibrate_model(model_dir, read_dataset(path), out=model_dir, overwrite=True)
        made_by["calibration"] = {
            "dataset": {"design": "universal", "n": CALIBRATION_N, "seed": CALIBRATION_SEED},
            "dataset_seconds": None if seconds is None else round(seconds, 1),
            "seconds": round(time.perf_counter() - t1, 1),
        }
    parts = [made_by.get("dataset_seconds"), made_by.get("training_seconds")]
    parts += [made_by.get(k, {}).get(f) for k, f in (("layers", "dataset_seconds"),
              ("layers", "training_seconds"), ("calibration", "dataset_seconds"),
              ("calibration", "seconds"))]  # fmt: skip
    made_by["total_minutes"] = round(sum(p for p in parts if p) / 60, 1)
    print(f"made in {made_by['total_minutes']} min (every step, datasets included)")
    update_model(model_dir, model_dir, {"made_by": made_by}, overwrite=True)  # kept with --no-ship
    if not args.no_ship:
        ship_model(model_dir, SHIPPED, made_by)


if __name__ == "__main__":
    main()
