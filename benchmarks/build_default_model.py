"""Build the shipped default model ``universal`` from scratch: dataset, training, copy into the
package. ``make model`` runs this; the card records each step's wall time.

Usage: python benchmarks/build_default_model.py [--n 30000] [--epochs 20] [--patience 5]
                                                [--work runs/] [--no-ship]

1. ``universal`` design (random paintings on random instruments, 29 classes, noise-free
   expected counts, detectability per class): ``pigmentmap dataset --design universal``;
2. ``fast-cnn`` trained on 1 fold with instrument randomisation drawn anew every epoch (counts
   over three decades, channel gain and upper end, +-80 eV / +-0.7 % calibration errors);
3. copied into ``src/pigmentmap/ml/shipped/universal`` with a ``made_by`` record.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pigmentmap.datasets.store import read_dataset
from pigmentmap.datasets.universal import universal_design
from pigmentmap.materials import default_library
from pigmentmap.ml.train import TrainSettings, train

from _common import ship_model, simulated_dataset

SHIPPED = Path(__file__).resolve().parents[1] / "src/pigmentmap/ml/shipped/universal"
DATA_SEED = 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30000, help="stacks in the universal dataset")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--work", default="runs", help="folder for the dataset and the model")
    ap.add_argument("--no-ship", action="store_true", help="do not copy into the package")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data_path = work / f"universal-{args.n}-seed{DATA_SEED}.h5"
    t0 = time.perf_counter()
    design = universal_design(default_library(), n=args.n, seed=DATA_SEED)
    simulated_dataset(data_path, design, seed=DATA_SEED, noise=False)
    dataset_seconds = time.perf_counter() - t0
    print(f"dataset {data_path}: {dataset_seconds:.0f} s")
    settings = TrainSettings(
        architecture="fast-cnn", run_folds=1, epochs=args.epochs, patience=args.patience, seed=0
    )
    t1 = time.perf_counter()
    model_dir = work / "universal-model"
    card = train(read_dataset(data_path), out=model_dir, settings=settings, overwrite=True)
    training_seconds = time.perf_counter() - t1
    print(
        f"trained {model_dir}: {training_seconds:.0f} s, held-out macro F1 "
        f"{card['metrics']['test_best_fold']['macro_f1']:.3f}"
    )
    if not args.no_ship:
        ship_model(
            model_dir,
            SHIPPED,
            {
                "script": "benchmarks/build_default_model.py",
                "make_target": "make model",
                "dataset": {"design": "universal", "n": args.n, "seed": DATA_SEED},
                "train": {
                    "architecture": "fast-cnn",
                    "epochs": args.epochs,
                    "patience": args.patience,
                    "run_folds": 1,
                    "seed": 0,
                },
                "dataset_seconds": round(dataset_seconds, 1),
                "training_seconds": round(training_seconds, 1),
                "total_minutes": round((dataset_seconds + training_seconds) / 60, 1),
            },
        )


if __name__ == "__main__":
    main()
