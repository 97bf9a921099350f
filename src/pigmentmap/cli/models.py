"""Model commands: ``train``, ``finetune``, ``evaluate``, ``model``."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.core.errors import PigmentmapError


def _cmd_train(args: argparse.Namespace) -> int:
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.evaluate.metrics import format_table
    from pigmentmap.ml.train import TrainSettings, train

    data = read_dataset(args.data)
    settings = TrainSettings(
        architecture=args.architecture,
        folds=args.folds,
        run_folds=args.run_folds,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        monitor=args.monitor,
    )
    card = train(data, out=args.out, settings=settings, overwrite=args.overwrite)
    t = card["training"]
    print(
        format_table(
            card["metrics"]["test_best_fold"],
            title=f"held-out test ({card['data']['n_test']} spectra), best fold {t['best_fold']}",
        )
    )
    print(
        f"wrote {args.out}: {t['folds_trained']} fold(s), {t['seconds_per_epoch']:.1f} s per epoch"
    )
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.evaluate.metrics import format_table
    from pigmentmap.ml.finetune import finetune

    card = finetune(
        args.model,
        read_dataset(args.data),
        out=args.out,
        fraction=args.fraction,
        epochs_head=args.epochs_head,
        epochs_all=args.epochs_all,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    ft = card["finetune"]
    print(format_table(ft["test_before"], title=f"before finetuning ({ft['n_test']} test spectra)"))
    print(format_table(ft["test_after"], title="after finetuning"))
    print(f"wrote {args.out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from pigmentmap.core.atomic import atomic_path, check_output_path
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.evaluate.metrics import class_metrics, format_table
    from pigmentmap.ml.checkpoint import load_model
    from pigmentmap.ml.finetune import data_classes
    from pigmentmap.ml.train import predict_proba

    if args.out:
        check_output_path(args.out)
    from pigmentmap.mapping.run import read_truth

    truth = read_truth(args.data)
    if truth is not None:  # a scan with ground-truth maps: per-pixel metrics
        from pigmentmap.io.open import open_cube
        from pigmentmap.mapping.pigments import pigment_maps

        maps = pigment_maps(open_cube(args.data), args.model)  # loads the model once
        names = [n for n in maps.names if n in truth["names"]]
        if not names:
            raise PigmentmapError("the scan's truth maps share no label with the model")
        prob = np.stack([maps.prob[..., maps.names.index(n)] for n in names], -1).reshape(
            -1, len(names)
        )
        y = np.stack(
            [truth["pigment_maps"][..., truth["names"].index(n)] for n in names], -1
        ).reshape(-1, len(names))
        metrics = class_metrics(y, prob, names, threshold=args.threshold)
    else:
        model, card, pre = load_model(args.model)
        data = read_dataset(args.data)
        if data.detectability is not None:  # noise-free universal spectra: draw measurements
            from pigmentmap.ml.augment import draw_dataset

            if not pre.masked:
                raise PigmentmapError(
                    "a universal dataset needs a model with the canonical input (fast-cnn)"
                )
            x, y, w = draw_dataset(
                data, pre, seed=args.seed, label_names=tuple(card["label_names"])
            )
            prob = predict_proba(model, x)
            metrics = class_metrics(y, prob, card["label_names"], threshold=args.threshold, mask=w)
        else:
            y, cols = data_classes(data, list(card["label_names"]))
            prob = predict_proba(model, pre(data.spectra, data.axis))[:, cols]
            metrics = class_metrics(y, prob, data.label_names, threshold=args.threshold)
            if len(cols) < len(card["label_names"]):
                print(
                    f"scored on the data's {len(cols)} classes (the model predicts "
                    f"{len(card['label_names'])})"
                )
    print(format_table(metrics, title=f"{args.model} on {args.data}"))
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _cmd_model(args: argparse.Namespace) -> int:
    from pigmentmap.ml import DEFAULT_MODEL
    from pigmentmap.ml.checkpoint import read_card, shipped_models

    if args.action == "list":
        models = shipped_models()
        if not models:
            print("no shipped models")
        for name in sorted(models):
            card = read_card(models[name])
            f1 = (card.get("metrics", {}).get("test_best_fold") or {}).get("macro_f1", float("nan"))
            pre = card["preprocessor"]
            needs = (
                f"any scan covering {pre['required_kev'][0]:g}-{pre['required_kev'][1]:g} keV"
                if pre.get("required_kev")
                else f"scans reaching {pre['offset_kev'] + pre['gain_kev'] * (pre['first_channel'] + pre['n_channels'] - 1):.2f} keV"
            )
            mark = "  (default)" if name == DEFAULT_MODEL else ""
            print(
                f"{name:16} {card['architecture']:10} {len(card['label_names'])} classes, "
                f"held-out macro F1 {f1:.3f}, {needs}{mark}"
            )
        return 0
    if not args.name:
        raise PigmentmapError("model show needs a NAME or directory")
    card = read_card(args.name)
    t = card.get("training", {})
    print(
        f"architecture: {card['architecture']} ({card['weights'].get('n_parameters', '?')} parameters)"
    )
    print(f"labels:       {', '.join(card['label_names'])}")
    print(f"input:        {card['preprocessor']}")
    print(f"data:         {card.get('data', {})}")
    print(
        f"training:     {t.get('folds_trained', '?')} fold(s), {t.get('seconds_per_epoch', float('nan')):.1f} s per epoch, {t.get('seconds_total', float('nan')):.0f} s in all"
    )
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    tr = sub.add_parser(
        "train",
        help="train a model with k-fold cross-validation",
        epilog="Example: pigmentmap train paper.h5 --out model/ --folds 5 --epochs 150",
    )
    tr.add_argument("data")
    tr.add_argument("--out", required=True, help="model directory to create")
    tr.add_argument("--folds", type=int, default=5)
    tr.add_argument("--run-folds", type=int, help="train only the first K folds (saves time)")
    tr.add_argument(
        "--architecture",
        help="paper-cnn (the paper's Fig. 2) or fast-cnn (default: fast-cnn for a universal "
        "dataset, paper-cnn otherwise)",
    )
    tr.add_argument("--epochs", type=int, default=150)
    tr.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument(
        "--monitor",
        default="f1",
        choices=["f1", "loss"],
        help="early stopping on validation macro F1 (default) or loss",
    )
    tr.add_argument("--overwrite", action="store_true")
    tr.set_defaults(func=_cmd_train)

    ft = sub.add_parser(
        "finetune",
        help="finetune a model on labelled (measured) spectra",
        epilog="Example: pigmentmap finetune model/ mockup.h5 --out model-ft/ --fraction 0.2",
    )
    ft.add_argument("model", help="model directory or shipped model name")
    ft.add_argument("data")
    ft.add_argument("--out", required=True)
    ft.add_argument("--fraction", type=float, default=0.2, help="share of DATA to finetune on")
    ft.add_argument("--epochs-head", type=int, default=20)
    ft.add_argument("--epochs-all", type=int, default=20)
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--overwrite", action="store_true")
    ft.set_defaults(func=_cmd_finetune)

    ev = sub.add_parser(
        "evaluate",
        help="per-pigment accuracy, sensitivity, F1 (the paper's Table 3)",
        epilog="Example: pigmentmap evaluate model/ test.h5 --out metrics.json",
    )
    ev.add_argument("model", help="model directory or shipped model name")
    ev.add_argument("data")
    ev.add_argument("--out", help="write the metrics as JSON")
    ev.add_argument("--threshold", type=float, default=0.5)
    ev.add_argument(
        "--seed",
        type=int,
        default=0,
        help="universal datasets: seed of the drawn measurements (default 0)",
    )
    ev.set_defaults(func=_cmd_evaluate)

    mo = sub.add_parser(
        "model", help="list or show models", epilog="Example: pigmentmap model list"
    )
    mo.add_argument("action", choices=["list", "show"])
    mo.add_argument("name", nargs="?")
    mo.set_defaults(func=_cmd_model)
