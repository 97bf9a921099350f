"""Which changes to fast-cnn buy accuracy on the universal design, and at what cost per spectrum.

Usage: python benchmarks/architecture_study.py [--variants base,mlp-head,stride-4,wide]
                                               [--epochs 12] [--work runs] [--threads N]
                                               [--out benchmarks/results/architecture_study.json]

Every variant is trained the same way on the default model's dataset (the ``universal`` design,
30,000 stacks, seed 1, made by ``make model`` in ``--work``): 1 fold, ``--epochs`` epochs with a
half-cosine learning rate, the epoch of least validation loss kept, seed 0. The JSON gives, per
variant, the macro F1 on the dataset's held-out test split, the least validation loss, the
multiply-adds per spectrum and the training time (this machine is shared: the times are a guide,
the multiply-adds are exact).

Variants (built here, not in the registry: they are candidates, not products):

* ``base``: fast-cnn as shipped (stem of stride 2; 32, 64, 96, 128 channels; a linear head);
* ``mlp-head``: a head with one hidden layer of 128 units (the trunk's features combined before
  the logits, for about a third more multiply-adds);
* ``stride-4``: a stem of stride 4 (half the multiply-adds);
* ``wide``: a stem of 24 channels and blocks of 48, 96, 144, 192 (twice the multiply-adds).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from pigmentmap.datasets.store import read_dataset
from pigmentmap.ml import fast_cnn
from pigmentmap.ml.complexity import multiply_adds
from pigmentmap.ml.registry import register
from pigmentmap.ml.train import TrainSettings, train

from _common import machine, write_json

DATASET = "universal-30000-seed1.h5"


class _MlpHead(fast_cnn.FastCNN):
    def __init__(self, *, hidden: int = 128, **kw: int) -> None:
        super().__init__(**kw)
        n = self.head.in_features
        self.head = nn.Sequential(  # type: ignore[assignment]
            nn.Linear(n, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, self.n_classes)
        )


class _Stride4(fast_cnn.FastCNN):
    def __init__(self, **kw: int) -> None:
        super().__init__(**kw)
        self.features[0] = nn.Conv1d(self.n_input_channels, fast_cnn.STEM_WIDTH, 9, stride=4,
                                     padding=4)  # fmt: skip
        with torch.no_grad():
            n = self.features(torch.zeros(1, self.n_input_channels, self.n_inputs)).shape[1]
        self.head = nn.Linear(n, self.n_classes)


def _wide(**kw: int) -> fast_cnn.FastCNN:
    stem, widths = fast_cnn.STEM_WIDTH, fast_cnn.WIDTHS
    fast_cnn.STEM_WIDTH, fast_cnn.WIDTHS = 24, (48, 96, 144, 192)
    try:
        return fast_cnn.FastCNN(**kw)
    finally:
        fast_cnn.STEM_WIDTH, fast_cnn.WIDTHS = stem, widths


VARIANTS: dict[str, Callable[..., nn.Module]] = {
    "base": fast_cnn.FastCNN,
    "mlp-head": _MlpHead,
    "stride-4": _Stride4,
    "wide": _wide,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--work", default="runs", help="folder holding " + DATASET)
    ap.add_argument("--threads", type=int, help="torch threads (default: every core)")
    ap.add_argument("--out", default="benchmarks/results/architecture_study.json")
    args = ap.parse_args()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s): {', '.join(sorted(unknown))}")
    path = Path(args.work) / DATASET
    if not path.exists():
        raise SystemExit(f"{path} is missing: run make model (or build_default_model.py) first")
    if args.threads:
        set_threads = torch.set_num_threads
        torch.set_num_threads = lambda n: set_threads(args.threads)  # type: ignore[assignment]
    data = read_dataset(path)
    results = {}
    for name in names:
        register(f"study-{name}")(VARIANTS[name])
        probe = VARIANTS[name](n_inputs=2000, n_classes=len(data.label_names))
        settings = TrainSettings(architecture=f"study-{name}", run_folds=1, seed=0,
                                 epochs=args.epochs, patience=args.epochs, monitor="loss",
                                 lr_schedule="cosine")  # fmt: skip
        t0 = time.perf_counter()
        card = train(data, out=Path(args.work) / f"study-{name}", settings=settings,
                     overwrite=True, progress=False)  # fmt: skip
        fold = card["metrics"]["folds"][0]
        results[name] = {
            "multiply_adds": multiply_adds(probe, input_shape=(2, 2000)),
            "parameters": sum(p.numel() for p in probe.parameters()),
            "test_macro_f1": card["metrics"]["test_best_fold"]["macro_f1"],
            "best_epoch": fold["best_epoch"],
            "least_val_loss": min(h["val_loss"] for h in fold["history"]),
            "training_seconds": round(time.perf_counter() - t0, 1),
            "history": fold["history"],
        }
        print(f"{name}: macro F1 {results[name]['test_macro_f1']:.3f}, "
              f"{results[name]['multiply_adds'] / 1e6:.2f} M multiply-adds")  # fmt: skip
        # after every variant: a long study stopped half way keeps what it measured
        write_json(args.out, {"benchmark": "architecture_study", "machine": machine(),
                              "dataset": DATASET, "epochs": args.epochs, "variants": results})  # fmt: skip


if __name__ == "__main__":
    main()
