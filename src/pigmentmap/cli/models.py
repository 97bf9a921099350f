"""Model commands: ``train``, ``finetune``, ``evaluate``, ``calibrate``, ``train-layers``,
``palette``, ``model``."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.cli._common import POSITIVE_INT, SEED, SHARE, number
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.evaluate.layers import FEATURE_HEAD, describe_sure


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
        lr_schedule=args.lr_schedule,
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


def _check_model_out(out: str, *, overwrite: bool) -> None:
    from pathlib import Path

    p = Path(out)
    if p.exists() and not overwrite:
        raise PigmentmapError(f"'{p}' exists (use --overwrite to replace it)")
    if not p.parent.is_dir():
        raise PigmentmapError(f"output folder '{p.parent}' does not exist")


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.ml.calibrate import calibrate_model

    _check_model_out(args.out, overwrite=args.overwrite)
    card = calibrate_model(
        args.model, read_dataset(args.data), out=args.out, seed=args.seed,
        overwrite=args.overwrite,
    )  # fmt: skip
    m = card["calibration"]["metrics"]
    print(
        f"on {card['calibration']['data']['n_test']} held-out spectra: ECE {m['ece_raw']:.3f} -> "
        f"{m['ece']:.3f} (claims p >= 0.1: {m['ece_claims_raw']:.3f} -> {m['ece_claims']:.3f}); "
        f"macro F1 {m['macro_f1_raw']:.3f} -> {m['macro_f1']:.3f}; group F1 {m['group_f1']:.3f}"
    )
    _print_look_alikes(card)
    print(f"wrote {args.out}")
    return 0


def _cmd_train_layers(args: argparse.Namespace) -> int:
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.ml.layers import threshold_layer_calls, train_layer_model

    _check_model_out(args.out, overwrite=args.overwrite)
    if args.threshold_only:
        entry = threshold_layer_calls(
            args.model, read_dataset(args.data), out=args.out, seed=args.seed,
            overwrite=args.overwrite,
        )  # fmt: skip
    else:
        entry = train_layer_model(
            args.model, read_dataset(args.data), out=args.out, epochs=args.epochs,
            patience=args.patience, seed=args.seed, overwrite=args.overwrite,
            architecture=args.architecture, hidden=args.hidden,
        )  # fmt: skip
    m = entry["metrics"]["test"]
    print(
        f"layer accuracy {m['layer_accuracy']:.3f} over {m['n_counted']} present, detectable "
        f"pigments of {entry['data']['n_test']} held-out spectra; {describe_sure(m.get('sure'))}"
    )
    print(f"wrote {args.out}")
    return 0


def _cmd_palette(args: argparse.Namespace) -> int:
    from pigmentmap.ml.palette import PaletteSettings, palette_model

    pigments = [p.strip() for p in args.pigments.split(",") if p.strip()]
    settings = PaletteSettings(n_stacks=args.stacks, epochs=args.epochs, seed=args.seed)
    card = palette_model(
        args.model, pigments, out=args.out, settings=settings, overwrite=args.overwrite,
        progress=not args.quiet, log=print,
    )  # fmt: skip
    new = card["palette"]["new_to_model"]
    if new:
        print(f"new to {args.model} (learnt from its features alone): {', '.join(new)}")
    _print_look_alikes(card)
    print(f"wrote {args.out}: map with  pigmentmap map SCAN --model {args.out} --out DIR")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from pigmentmap.core.atomic import atomic_path, check_new_file
    from pigmentmap.evaluate.metrics import format_table
    from pigmentmap.ml.evaluation import evaluate_model

    if args.out:
        check_new_file(args.out, overwrite=args.overwrite)
    metrics = evaluate_model(
        args.model, args.data, seed=args.seed, threshold=args.threshold, progress=True
    )
    if "note" in metrics:
        print(metrics["note"])
    print(format_table(metrics, title=f"{args.model} on {args.data}"))
    layer = metrics["layer_accuracy"]
    print(
        f"ECE {metrics['ece']:.3f} (claims p >= 0.1: {metrics['ece_claims']:.3f}"
        f"{'' if metrics['calibrated'] else '; the model is not calibrated'}); "
        f"group F1 {metrics['group_f1']:.3f}; layer accuracy "
        + (f"{layer:.3f}" if layer is not None else f"n/a ({metrics['layer_note']})")
        + (
            f" ({metrics['layer_accuracy_sure']:.3f} over the "
            f"{100 * metrics['layer_coverage_sure']:.0f} % of calls it is sure of)"
            if metrics.get("layer_accuracy_sure") is not None
            else ""
        )
    )
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
    pal = card.get("palette")
    if isinstance(pal, dict):
        new = pal.get("new_to_model") or []
        print(
            f"palette:      narrowed from {pal.get('from', '?')} to {len(card['label_names'])} "
            f"pigments by pigmentmap palette"
            + (f" (new to it: {', '.join(map(str, new))})" if new else "")
        )
    print(f"layers:       {_layers_line(card.get('layers'))}")
    cal = card.get("calibration")
    fit = cal.get("fit", "?") if isinstance(cal, dict) else None
    print(f"calibration:  {f'{fit} scaling' if fit else 'none (pigmentmap calibrate adds it)'}")
    _print_look_alikes(card)
    return 0


def _print_look_alikes(card: dict[str, Any]) -> None:
    """One line per look-alike group of two or more members (why, and what its split rests
    on), or that none was found; nothing for a card without groups."""
    if not isinstance(card.get("groups"), list):
        return
    groups = [g for g in card["groups"] if len(g.get("members", [])) > 1]
    if not groups:
        print("look-alikes:  none found")
    for g in groups:
        print(f"look-alikes:  {' | '.join(g['members'])}: {g.get('why', '')}")


def _layers_line(spec: Any) -> str:
    """What ``model show`` says of a card's layer model."""
    if not isinstance(spec, dict):
        return "none (pigmentmap train-layers adds them)"
    kind = spec.get("architecture", "?")
    if kind == FEATURE_HEAD:
        kind = f"a {spec.get('hidden', '?')}-unit head on the pigment network's features"
    else:
        kind = f"a second {kind} network"
    test = (spec.get("metrics") or {}).get("test") or {}
    acc = test.get("layer_accuracy")
    line = kind + (f", held-out layer accuracy {acc:.3f}" if isinstance(acc, float) else "")
    return f"{line}; {describe_sure(test.get('sure'))}"


def _model_data_command(
    sub: Any, name: str, *, help: str, epilog: str, model_help: str, data_help: str, out_help: str
) -> argparse.ArgumentParser:
    """A subcommand taking MODEL DATA --out (the options shared by finetune, calibrate and
    train-layers; :func:`_seed_and_overwrite` adds the last ones)."""
    p = sub.add_parser(name, help=help, epilog=epilog)
    p.add_argument("model", help=model_help)
    p.add_argument("data", help=data_help)
    p.add_argument("--out", required=True, help=out_help)
    return p


def _seed_and_overwrite(p: argparse.ArgumentParser, func: Any, *, seed_help: str) -> None:
    p.add_argument("--seed", type=SEED, default=0, help=seed_help)
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    p.set_defaults(func=func)


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
    tr = sub.add_parser(
        "train",
        help="train a model with k-fold cross-validation",
        epilog="Example: pigmentmap train paper.h5 --out model/ --folds 5 --epochs 150",
    )
    tr.add_argument("data")
    tr.add_argument("--out", required=True, help="model directory to create")
    tr.add_argument("--folds", type=number(int, lo=2, hi=100), default=5)
    tr.add_argument(
        "--run-folds", type=POSITIVE_INT, help="train only the first K folds (saves time)"
    )
    tr.add_argument(
        "--architecture",
        help="paper-cnn (the paper's Fig. 2) or fast-cnn (default: fast-cnn for a universal "
        "dataset, paper-cnn otherwise)",
    )
    tr.add_argument("--epochs", type=number(int, lo=1, hi=100000), default=150)
    tr.add_argument(
        "--patience", type=POSITIVE_INT, default=10, help="early-stopping patience (epochs)"
    )
    tr.add_argument("--batch-size", type=number(int, lo=2, hi=65536), default=64)
    tr.add_argument("--lr", type=number(float, lo=0, hi=10, lo_open=True), default=1e-3)
    tr.add_argument("--seed", type=SEED, default=0)
    tr.add_argument(
        "--monitor",
        default="f1",
        choices=["f1", "loss"],
        help="early stopping on validation macro F1 (default) or loss",
    )
    tr.add_argument(
        "--lr-schedule",
        default="constant",
        choices=["constant", "cosine"],
        help="constant learning rate (the paper's, default) or a half cosine to 0 over --epochs",
    )
    tr.add_argument("--overwrite", action="store_true")
    tr.set_defaults(func=_cmd_train)

    ft = _model_data_command(
        sub, "finetune", help="finetune a model on labelled (measured) spectra",
        epilog="Example: pigmentmap finetune model/ mockup.h5 --out model-ft/ --fraction 0.2",
        model_help="model directory or shipped model name", data_help="labelled spectra (.h5)",
        out_help="model directory to create",
    )  # fmt: skip
    ft.add_argument("--fraction", type=SHARE, default=0.2, help="share of DATA to finetune on")
    ft.add_argument("--epochs-head", type=number(int, lo=0, hi=100000), default=20)
    ft.add_argument("--epochs-all", type=number(int, lo=0, hi=100000), default=20)
    _seed_and_overwrite(ft, _cmd_finetune, seed_help="seed of the split and the training")

    ev = sub.add_parser(
        "evaluate",
        help="per-pigment accuracy, sensitivity, F1 (the paper's Table 3)",
        epilog="Example: pigmentmap evaluate model/ test.h5 --out metrics.json",
    )
    ev.add_argument("model", help="model directory or shipped model name")
    ev.add_argument("data")
    ev.add_argument("--out", help="write the metrics as JSON")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    ev.add_argument("--threshold", type=SHARE, default=0.5)
    ev.add_argument(
        "--seed",
        type=SEED,
        default=0,
        help="universal datasets: seed of the drawn measurements (default 0)",
    )
    ev.set_defaults(func=_cmd_evaluate)

    ca = _model_data_command(
        sub, "calibrate",
        help="calibrated probabilities and look-alike groups from held-out simulation",
        epilog="Example: pigmentmap calibrate model/ heldout.h5 --out model-cal/ "
        "(half the data fits, the other half measures)",
        model_help="model directory or shipped model name",
        data_help="held-out dataset (the model never trained on it)",
        out_help="model directory to write (may be MODEL, with --overwrite)",
    )  # fmt: skip
    _seed_and_overwrite(ca, _cmd_calibrate, seed_help="seed of the split and measurements")

    tl = _model_data_command(
        sub, "train-layers",
        help="train a model's layer network (top / under / both for each pigment found)",
        epilog="Example: pigmentmap train-layers model/ universal.h5 --out model-layers/",
        model_help="model directory or shipped model name (fast-cnn)",
        data_help="universal dataset (it records the layers of every stack)",
        out_help="model directory to write (may be MODEL, with --overwrite)",
    )  # fmt: skip
    tl.add_argument(
        "--epochs", type=number(int, lo=1, hi=100000), default=20, help="at most (default 20)"
    )
    tl.add_argument(
        "--patience", type=POSITIVE_INT, default=4, help="early-stopping patience (default 4)"
    )
    tl.add_argument(
        "--architecture",
        default=FEATURE_HEAD,
        help="feature-head (default: a small head on the pigment network's features, one network "
        "per map) or a registry architecture (fast-cnn) for a second network",
    )
    tl.add_argument(
        "--hidden",
        type=number(int, lo=0, hi=4096),
        default=64,
        help="hidden units of the feature head (0: linear; default 64)",
    )
    tl.add_argument(
        "--threshold-only",
        action="store_true",
        help="no training: set the confidence below which the model's existing layer calls are "
        "shown as uncertain, from DATA's held-out rows (the file and --seed it was trained with)",
    )
    _seed_and_overwrite(tl, _cmd_train_layers, seed_help="seed of the split and the training")

    pa = sub.add_parser(
        "palette",
        help="narrow a model to the pigments a painting can hold (minutes, no measured data)",
        epilog="Example: pigmentmap palette --pigments 'lead white,vermilion,azurite,yellow "
        "ochre' --out my-palette/  (then: pigmentmap map SCAN --model my-palette/ --out DIR). "
        "Simulates random paintings of these pigments on random instruments, trains a new head "
        "on the model's frozen features, keeps its layer head cut to the palette (or trains one "
        "where a pigment is new to it), and calibrates; a pigment left out of the palette "
        "cannot be found.",
    )
    pa.add_argument(
        "--pigments", required=True,
        help="comma-separated pigment names, aliases or formulas of the library "
        "(pigmentmap library lists them)",
    )  # fmt: skip
    pa.add_argument("--out", required=True, help="model directory to create")
    pa.add_argument("--model", default="universal", help="the model to narrow (default: universal)")
    pa.add_argument(
        "--stacks", type=number(int, lo=100, hi=10_000_000), default=6000,
        help="simulated paintings (default 6000: 2-4 min in all on 2 cores)",
    )  # fmt: skip
    pa.add_argument(
        "--epochs", type=number(int, lo=1, hi=100000), default=10,
        help="epochs of the pigment head (default 10)",
    )  # fmt: skip
    pa.add_argument("--quiet", action="store_true", help="no progress bars")
    _seed_and_overwrite(pa, _cmd_palette, seed_help="seed of the simulation and the training")

    mo = sub.add_parser(
        "model", help="list or show models", epilog="Example: pigmentmap model list"
    )
    mo.add_argument("action", choices=["list", "show"])
    mo.add_argument("name", nargs="?")
    mo.set_defaults(func=_cmd_model)
