"""The ``pigmentmap`` command. Subcommands import their heavy parts lazily.

Errors are one line on stderr and exit code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pigmentmap.core.errors import PigmentmapError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pigmentmap: error: {message}\n")


def _library(args: argparse.Namespace):
    from pigmentmap.materials import default_library, load_library

    return load_library(args.library) if getattr(args, "library", None) else default_library()


# ---------------------------------------------------------------------------- library
def _cmd_library(args: argparse.Namespace) -> int:
    from pigmentmap.materials import load_library

    if args.action == "check":
        if not args.name:
            raise PigmentmapError("library check needs a FILE")
        lib = load_library(args.name, extend_default=False)
        load_library(args.name, extend_default=True)  # alias clashes with the shipped library
        print(f"ok: {len(lib)} materials in {args.name}, all checked")
        return 0
    lib = _library(args)
    if args.action == "list":
        print(f"{'name':24} {'kind':8} {'density':>8}  {'elements':22} aliases")
        for p in sorted(lib.values(), key=lambda q: (q.kind != "pigment", q.name)):
            els = " ".join(e for e in p.elements if e not in ("H", "C", "N", "O")) or "(light only)"
            aliases = ", ".join(a for a in p.aliases if a != p.formula)[:40]
            print(f"{p.name:24} {p.kind:8} {p.density_g_cm3:8.2f}  {els:22} {aliases}")
        print(f"{len(lib)} materials ({lib.source})")
        return 0
    if not args.name:
        raise PigmentmapError("library show needs a NAME")
    p = lib[args.name]
    print(f"name:         {p.name}")
    print(f"kind:         {p.kind}")
    print(f"formula:      {p.formula or '(composition given as mass fractions)'}")
    comp = ", ".join(f"{el} {p.composition[el] * 100:.2f} %" for el in p.elements)
    print(f"composition:  {comp}  (mass fractions)")
    print(f"density:      {p.density_g_cm3:g} g/cm3")
    r, g, b = p.colour_srgb
    print(f"colour:       sRGB ({r}, {g}, {b})  #{r:02x}{g:02x}{b:02x}")
    print(f"aliases:      {', '.join(p.aliases)}")
    print(f"source:       {p.note}")
    return 0


# ---------------------------------------------------------------------------- instrument
def _cmd_instrument(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import instrument_names, load_instrument

    if args.action == "list":
        for name in instrument_names():
            print(f"{name:16} {load_instrument(name).description}")
        return 0
    if not args.name:
        raise PigmentmapError("instrument show needs a NAME")
    inst = load_instrument(args.name)
    t, g, d, a = inst.tube, inst.geometry, inst.detector, inst.axis
    print(f"{inst.name}: {inst.description}")
    filters = ", ".join(f"{f.formula} {f.thickness_um:g} um" for f in t.filters) or "none"
    print(
        f"tube:        {t.anode} anode, {t.voltage_kv:g} kV, {t.current_ua:g} uA, Be window {t.window_be_um:g} um, filters: {filters}"
    )
    print(f"             beam solid angle {t.beam_solid_angle_sr:g} sr, air {t.air_path_mm:g} mm")
    print(
        f"geometry:    incidence {g.incidence_deg:g} deg, take-off {g.takeoff_deg:g} deg, scattering {g.scattering_angle_deg:g} deg"
    )
    print(
        f"detector:    Si {d.si_thickness_um:g} um, Be window {d.window_be_um:g} um, {d.area_mm2:g} mm2 at {d.distance_mm:g} mm ({d.solid_angle_sr:.4f} sr)"
    )
    print(
        f"             FWHM {d.fwhm_mn_ka_ev:g} eV at Mn K-alpha, Fano {d.fano:g}, air {d.air_path_mm:g} mm"
    )
    print(f"calibration: E = {a.offset_kev:g} + {a.gain_kev:g} * ch keV, {a.n_channels} channels")
    print(f"live time:   {inst.live_time_s:g} s per point")
    for key, value in inst.sources.items():
        print(f"source:      {key}: {value}")
    return 0


# ---------------------------------------------------------------------------- simulate
def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from pigmentmap.core.atomic import check_output_path
    from pigmentmap.instruments import load_instrument
    from pigmentmap.materials import parse_stack
    from pigmentmap.simulate import Simulator
    from pigmentmap.simulate.output import SPECTRUM_SUFFIXES, plot_spectrum, write_spectrum

    out = check_output_path(args.out)
    if out.suffix.lower() not in SPECTRUM_SUFFIXES:
        raise PigmentmapError(f"output '{out}': use a .csv or .h5 file name")
    if args.plot:
        check_output_path(args.plot)
        if Path(args.plot).suffix.lower() != ".png":
            raise PigmentmapError(f"plot '{args.plot}': use a .png file name")
    if args.seed is not None and not args.poisson:
        raise PigmentmapError("--seed only applies with --poisson")
    lib = _library(args)
    stack = parse_stack(
        args.stack,
        library=lib,
        binder_fraction=args.binder_fraction,
        binder=args.binder,
        pure=args.pure,
        normalise=args.normalise,
    )
    inst = load_instrument(args.instrument).with_changes(
        voltage_kv=args.voltage_kv, current_ua=args.current_ua, live_time_s=args.live_time_s
    )
    sim = Simulator(
        inst,
        secondary_fluorescence=not args.no_secondary,
        pileup_resolving_time_s=args.pileup_ns * 1e-9,
    )
    rng = None
    seed = args.seed
    if args.poisson:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
            print(f"Poisson noise with seed {seed}", file=sys.stderr)
        rng = np.random.default_rng(seed)
    result = sim.simulate([stack], rng=rng)
    counts = result.counts[0]
    meta = {
        "stack": stack.describe(),
        "instrument": inst.to_dict(),
        "instrument_hash": inst.hash,
        "library_hash": lib.hash,
        "binder_fraction": 0.0 if args.pure else args.binder_fraction,
        "live_time_s": inst.live_time_s,
        "current_ua": inst.tube.current_ua,
        "poisson_seed": -1 if seed is None else seed,
    }
    write_spectrum(out, counts, inst.axis, meta=meta)
    groups = result.group_counts()
    strongest = sorted(groups.items(), key=lambda kv: -kv[1][0])[:8]
    summary = ", ".join(f"{g} {v[0]:.3g}" for g, v in strongest if v[0] > 0)
    print(
        f"wrote {out}: {counts.sum():.4g} counts in {inst.live_time_s:g} s; strongest groups: {summary}"
    )
    if args.plot:
        lines = result.lines.lines
        lc = result.line_counts[0]
        top = [k for k in np.argsort(-lc)[:12] if lc[k] > 0]
        labels = [(lines[k].energy_kev, lines[k].label) for k in top]
        plot_spectrum(
            args.plot, counts, inst.axis, title=f"{stack.describe()} ({inst.name})", labels=labels
        )
        print(f"wrote {args.plot}")
    return 0


# ---------------------------------------------------------------------------- dataset
def _cmd_dataset(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_output_path
    from pigmentmap.datasets import PAPER_LABELS, mixtures_design, mockup_design, paper_design
    from pigmentmap.datasets.background import measured_background
    from pigmentmap.datasets.store import generate_dataset
    from pigmentmap.instruments import load_instrument

    out = check_output_path(args.out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise PigmentmapError(f"output '{out}': use a .h5 file name")
    if out.exists() and not args.overwrite:
        raise PigmentmapError(f"'{out}' exists (use --overwrite to replace it)")
    if args.n and args.design == "paper":
        raise PigmentmapError(
            "the paper design has a fixed size (16,224); --n applies to mockup and mixtures"
        )
    lib = _library(args)
    inst = load_instrument(args.instrument)
    if args.live_time_s is not None:
        inst = inst.with_changes(live_time_s=args.live_time_s)
    if args.design == "paper":
        design = paper_design(lib, binder_fraction=0.0 if args.pure else args.binder_fraction)
    elif args.design == "mockup":
        design = mockup_design(lib, n=args.n or 6604, seed=args.seed)
    else:
        pigments = (
            tuple(p.strip() for p in args.pigments.split(",")) if args.pigments else PAPER_LABELS
        )
        design = mixtures_design(lib, n=args.n or 20000, seed=args.seed, pigments=pigments)
    background = None
    if args.background:
        background = measured_background(
            args.background,
            axis=inst.axis,
            live_time_s=args.background_live_time_s or inst.live_time_s,
        )
    path = generate_dataset(
        design,
        instrument=inst,
        out=out,
        seed=args.seed,
        library_hash=lib.hash,
        background_cps=background,
        noise=not args.no_noise,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {path}: {len(design.stacks)} spectra, {len(design.label_names)} labels ({args.design})"
    )
    return 0


# ---------------------------------------------------------------------------- models
def _cmd_train(args: argparse.Namespace) -> int:
    from pigmentmap.datasets.store import read_dataset
    from pigmentmap.evaluate.metrics import format_table
    from pigmentmap.ml.train import TrainSettings, train

    data = read_dataset(args.data)
    settings = TrainSettings(
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
    from pigmentmap.ml.finetune import aligned_labels
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
        y = aligned_labels(data, card["label_names"])
        prob = predict_proba(model, pre(data.spectra, data.axis))
        metrics = class_metrics(y, prob, card["label_names"], threshold=args.threshold)
    print(format_table(metrics, title=f"{args.model} on {args.data}"))
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


def _cmd_model(args: argparse.Namespace) -> int:
    from pigmentmap.ml.checkpoint import read_card, shipped_models

    if args.action == "list":
        models = shipped_models()
        if not models:
            print("no shipped models")
        for name in sorted(models):
            card = read_card(models[name])
            f1 = (card.get("metrics", {}).get("test_best_fold") or {}).get("macro_f1", float("nan"))
            print(
                f"{name:24} {card['architecture']:10} {len(card['label_names'])} labels, test macro F1 {f1:.3f}"
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


# ---------------------------------------------------------------------------- info
def _shape(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PigmentmapError(f"--shape wants HxW, e.g. 20x30, got '{text}'") from None
    return h, w


def _open(args: argparse.Namespace):
    import warnings
    from dataclasses import replace

    from pigmentmap.io.open import open_cube, parse_calibration
    from pigmentmap.mapping.recalibrate import recalibrate

    cube = open_cube(
        args.file,
        dataset=args.dataset,
        channel_axis=args.channel_axis,
        calibration=parse_calibration(args.calibration) if args.calibration else None,
        shape=_shape(args.shape),
        order=args.order,
    )
    if not getattr(args, "recalibrate", False):
        return cube
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = recalibrate(cube)
    for w in caught:
        print(f"pigmentmap: warning: {w.message}", file=sys.stderr)
    if found.matched:
        shifts = ", ".join(f"{s:+.0f} eV at {e:g} keV" for e, s in found.shift_ev_at.items())
        print(
            f"recalibrated from {', '.join(found.matched)}: E = {found.axis.offset_kev:.5f} + "
            f"{found.axis.gain_kev:.6f} * ch keV (shift {shifts})",
            file=sys.stderr,
        )
        cube = replace(cube, axis=found.axis, meta={**cube.meta, "calibration": "recalibrated"})
    return cube


def _cmd_info(args: argparse.Namespace) -> int:
    from pigmentmap.io.open import describe

    print(describe(_open(args)))
    return 0


# ---------------------------------------------------------------------------- maps
DEFAULT_MODEL = "elio-mixtures"


def _elements_option(text: str | None) -> tuple[str, ...]:
    from pigmentmap.mapping.elements import DEFAULT_ELEMENTS

    return tuple(e.strip() for e in text.split(",")) if text else DEFAULT_ELEMENTS


def _cmd_map(args: argparse.Namespace) -> int:
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.run import check_results_folder, run_map

    check_results_folder(Path(args.out), overwrite=args.overwrite)
    if args.binning < 1:
        raise PigmentmapError("--binning must be >= 1")
    instrument = load_instrument(args.instrument)
    cube = _open(args)
    path = run_map(
        args.file, cube, model=args.model or DEFAULT_MODEL, out=args.out, instrument=instrument,
        binning=args.binning, elements=_elements_option(args.elements), overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {path / 'maps.h5'} and PNGs; next: pigmentmap report {path}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import h5py
    import numpy as np

    from pigmentmap.core.atomic import atomic_path, check_output_path
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.elements import fit_elements

    out = check_output_path(args.out)
    instrument = load_instrument(args.instrument)
    cube = _open(args)
    maps = fit_elements(
        cube.counts, cube.axis, instrument, elements=_elements_option(args.elements), progress=True
    )
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f["element_maps"] = maps.values.astype(np.float32)
        f["element_names"] = np.array(maps.names, dtype=h5py.string_dtype())
        f.attrs["units"] = maps.units
        f.attrs["source"] = str(args.file)
    totals = ", ".join(f"{n} {maps.values[..., k].sum():.3g}" for k, n in enumerate(maps.names))
    print(f"wrote {out}: {len(maps.names)} element maps ({totals})")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pigmentmap.report.html import write_report

    path = write_report(args.results, out=args.out)
    print(f"wrote {path}")
    return 0


def _cmd_phantom(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_output_path
    from pigmentmap.instruments import load_instrument
    from pigmentmap.mapping.phantom import make_phantom

    out = check_output_path(args.out)
    if out.exists() and not args.overwrite:
        raise PigmentmapError(f"'{out}' exists (use --overwrite to replace it)")
    inst = load_instrument(args.instrument)
    if args.live_time_s is not None:
        inst = inst.with_changes(live_time_s=args.live_time_s)
    make_phantom(out, library=_library(args), instrument=inst, seed=args.seed)
    print(f"wrote {out}: mock-up phantom ({inst.live_time_s:g} s per pixel)")
    return 0


# ---------------------------------------------------------------------------- regress
def _scan_truth_rgb(path: str) -> Any:
    import h5py

    p = Path(path)
    if p.is_file() and h5py.is_hdf5(p):
        with h5py.File(p, "r") as f:
            if "truth/rgb" in f:
                return f["truth/rgb"][()] / 255.0
    return None


def _cmd_regress(args: argparse.Namespace) -> int:
    import h5py
    import numpy as np

    from pigmentmap.regress.models import predict, train_elements, train_rgb

    cube = _open(args)
    h, w, c = cube.shape
    spectra = np.asarray(cube.counts, dtype=np.float64).reshape(-1, c)
    if args.task == "rgb" and args.action == "train":
        from pigmentmap.regress.images import read_image, register_image

        if args.image:
            rgb = register_image(read_image(args.image), (h, w), register=args.register)
        else:
            truth = _scan_truth_rgb(args.file)
            if truth is None:
                raise PigmentmapError("give --image (a registered colour image of the scan)")
            rgb = truth
        path = train_rgb(
            spectra, cube.axis, np.asarray(rgb).reshape(-1, 3), method=args.method, out=args.out,
            components=args.components, k=args.k, c=args.c, epochs=args.epochs, seed=args.seed, overwrite=args.overwrite,
        )  # fmt: skip
        print(f"wrote {path} ({args.method}, {h * w} pixels)")
        return 0
    if args.task == "elements" and args.action == "train":
        if not args.maps:
            raise PigmentmapError(
                "give --maps: the element maps of this scan (pigmentmap fit ... --out elements.h5)"
            )
        with h5py.File(args.maps, "r") as f:
            if "element_maps" not in f:
                raise PigmentmapError(f"'{args.maps}' has no /element_maps")
            maps = f["element_maps"][()]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["element_names"][()]]
        if maps.shape[:2] != (h, w):
            raise PigmentmapError(
                f"the maps are {maps.shape[0]} x {maps.shape[1]}, the scan {h} x {w}"
            )
        elements = [e.strip() for e in args.elements.split(",")] if args.elements else None
        path = train_elements(
            spectra, cube.axis, maps.reshape(h * w, -1), names, out=args.out, elements=elements,
            components=args.components, epochs=args.epochs, seed=args.seed, overwrite=args.overwrite,
        )  # fmt: skip
        print(f"wrote {path} (MLP, {h * w} pixels)")
        return 0
    # predict
    from pigmentmap.core.atomic import check_output_path

    if not args.model:
        raise PigmentmapError("predict needs --model")
    out = check_output_path(args.out)
    y, names, card = predict(args.model, spectra, cube.axis)
    if card["task"] != args.task:
        raise PigmentmapError(f"'{args.model}' is a {card['task']} model, not {args.task}")
    if args.task == "rgb":
        from pigmentmap.regress.images import write_image

        if out.suffix.lower() != ".png":
            raise PigmentmapError("the predicted colour image is written as .png")
        write_image(out, y.reshape(h, w, 3))
    else:
        from pigmentmap.core.atomic import atomic_path

        with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
            f["element_maps"] = y.reshape(h, w, -1).astype(np.float32)
            f["element_names"] = np.array(names, dtype=h5py.string_dtype())
            f.attrs["model"] = str(args.model)
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------- demo
def _cmd_demo(args: argparse.Namespace) -> int:
    from pigmentmap.demo import run_demo

    run_demo(Path(args.out))
    return 0


def _add_reader_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        help="HDF5/NeXus, .bcf, .spx, .raw/.rpl, .npy/.npz, .edf, .spe, .mca (or a folder of them), .msa, .csv",
    )
    p.add_argument("--dataset", help="HDF5: the dataset path")
    p.add_argument("--channel-axis", type=int, help="HDF5: the axis holding the channels")
    p.add_argument("--calibration", help="OFFSET,GAIN in keV: overrides the file's calibration")
    p.add_argument(
        "--recalibrate", action="store_true", help="refine the calibration from strong known peaks"
    )
    p.add_argument("--shape", help="folder of .mca files: HxW")
    p.add_argument(
        "--order", default="row", choices=["row", "column"], help="folder of .mca files: file order"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pigmentmap`` command."""
    p = _Parser(
        prog="pigmentmap",
        description="Which pigments are where in a painting, from MA-XRF scans.",
        epilog="Example: pigmentmap simulate 'VM:100/LW:120/CaCO3:180' --instrument elio --out s.csv",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lib = sub.add_parser(
        "library",
        help="list, show or check pigments",
        epilog="Examples: pigmentmap library list | pigmentmap library show VM | "
        "pigmentmap library check my_pigments.toml",
    )
    lib.add_argument("action", choices=["list", "show", "check"])
    lib.add_argument(
        "name", nargs="?", help="pigment name/alias/formula (show) or TOML file (check)"
    )
    lib.add_argument("--library", help="a user library TOML that extends the shipped one")
    lib.set_defaults(func=_cmd_library)

    ins = sub.add_parser(
        "instrument",
        help="list or show instrument profiles",
        epilog="Examples: pigmentmap instrument list | pigmentmap instrument show elio",
    )
    ins.add_argument("action", choices=["list", "show"])
    ins.add_argument("name", nargs="?", help="profile name or path to a .toml profile")
    ins.set_defaults(func=_cmd_instrument)

    sim = sub.add_parser(
        "simulate",
        help="simulate the XRF spectrum of a layered stack",
        description="STACK reads top to bottom, layers separated by '/', thickness in um after ':'; "
        "a layer may be a mixture 'ZnO=0.1+lead_white=0.85+HgS=0.05:120' (mass fractions of the "
        "pigment part). Pigments are named by name, alias (the paper's abbreviations) or formula.",
        epilog="Example: pigmentmap simulate 'VM:100/LW:120/CaCO3:180' --instrument elio "
        "--out s.csv --plot s.png",
    )
    sim.add_argument("stack")
    sim.add_argument("--instrument", required=True, help="profile name or .toml path")
    sim.add_argument("--out", required=True, help="output .csv (energy_kev,counts) or .h5")
    sim.add_argument("--live-time-s", type=float, help="live time (default: the profile's)")
    sim.add_argument("--current-ua", type=float, help="tube current (default: the profile's)")
    sim.add_argument("--voltage-kv", type=float, help="tube voltage (default: the profile's)")
    sim.add_argument("--poisson", action="store_true", help="Poisson counting noise")
    sim.add_argument("--seed", type=int, help="seed of the Poisson noise")
    sim.add_argument("--pure", action="store_true", help="pure pigment layers, no binder")
    sim.add_argument(
        "--binder-fraction",
        type=float,
        default=0.25,
        help="binder mass fraction (default 0.25 = 3:1)",
    )
    sim.add_argument(
        "--binder", default="linseed_oil", help="binder material (default linseed_oil)"
    )
    sim.add_argument("--normalise", action="store_true", help="rescale mixture fractions to sum 1")
    sim.add_argument("--no-secondary", action="store_true", help="primary fluorescence only")
    sim.add_argument("--pileup-ns", type=float, default=0.0, help="pile-up resolving time (ns)")
    sim.add_argument("--plot", help="also write a PNG plot")
    sim.add_argument("--library", help="a user library TOML that extends the shipped one")
    sim.set_defaults(func=_cmd_simulate)

    ds = sub.add_parser(
        "dataset",
        help="simulate a labelled training set (HDF5)",
        description="Designs: paper (the paper's 16,224-stack grid), mockup (its Table 2 mixtures), "
        "mixtures (random paints with random instrument variation). Resumable: run the same command "
        "again after an interruption.",
        epilog="Example: pigmentmap dataset --design paper --instrument elio --out paper.h5 --seed 1",
    )
    ds.add_argument("--design", required=True, choices=["paper", "mockup", "mixtures"])
    ds.add_argument("--out", required=True, help="output .h5")
    ds.add_argument(
        "--instrument", default="elio", help="profile name or .toml path (default elio)"
    )
    ds.add_argument("--n", type=int, help="number of spectra (mockup: 6604, mixtures: 20000)")
    ds.add_argument("--seed", type=int, default=0, help="seed of the design and the noise")
    ds.add_argument(
        "--pigments", help="label set of mixtures, comma-separated (default the paper's 11)"
    )
    ds.add_argument("--library", help="a user library TOML that extends the shipped one")
    ds.add_argument("--live-time-s", type=float, help="dwell time (default: the profile's)")
    ds.add_argument(
        "--background", help="measured spectrum (.csv or .h5) whose SNIP background is added"
    )
    ds.add_argument("--background-live-time-s", type=float, help="live time of that measurement")
    ds.add_argument(
        "--binder-fraction", type=float, default=0.25, help="paper design binder (default 0.25)"
    )
    ds.add_argument("--pure", action="store_true", help="paper design with pure pigment layers")
    ds.add_argument("--no-noise", action="store_true", help="expected counts, no Poisson noise")
    ds.add_argument("--overwrite", action="store_true")
    ds.set_defaults(func=_cmd_dataset)

    tr = sub.add_parser(
        "train",
        help="train a model with k-fold cross-validation",
        epilog="Example: pigmentmap train paper.h5 --out model/ --folds 5 --epochs 150",
    )
    tr.add_argument("data")
    tr.add_argument("--out", required=True, help="model directory to create")
    tr.add_argument("--folds", type=int, default=5)
    tr.add_argument("--run-folds", type=int, help="train only the first K folds (saves time)")
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
    ev.set_defaults(func=_cmd_evaluate)

    mo = sub.add_parser(
        "model", help="list or show models", epilog="Example: pigmentmap model list"
    )
    mo.add_argument("action", choices=["list", "show"])
    mo.add_argument("name", nargs="?")
    mo.set_defaults(func=_cmd_model)

    info = sub.add_parser(
        "info",
        help="shape, dtype, calibration, live time and reader of a scan or spectrum file",
        epilog="Example: pigmentmap info scan.bcf | pigmentmap info spectra/ --shape 20x30",
    )
    _add_reader_options(info)
    info.set_defaults(func=_cmd_info)

    mp = sub.add_parser(
        "map",
        help="pigment maps and element maps of a scan",
        epilog="Example: pigmentmap map scan.h5 --out results/ [--model elio-mixtures] [--binning 2]",
    )
    _add_reader_options(mp)
    mp.add_argument("--out", required=True, help="results folder")
    mp.add_argument(
        "--model", help=f"model directory or shipped model (default {DEFAULT_MODEL}, for elio)"
    )
    mp.add_argument(
        "--instrument", default="elio", help="profile for the element fit (default elio)"
    )
    mp.add_argument(
        "--binning", type=int, default=1, help="sum NxN pixels first (noisy fast scans)"
    )
    mp.add_argument("--elements", help="elements to fit, comma-separated (default: the library's)")
    mp.add_argument("--overwrite", action="store_true", help="replace existing results")
    mp.set_defaults(func=_cmd_map)

    fi = sub.add_parser(
        "fit",
        help="elemental maps: SNIP + non-negative linear fit of every pixel",
        epilog="Example: pigmentmap fit scan.h5 --instrument elio --out elements.h5",
    )
    _add_reader_options(fi)
    fi.add_argument("--instrument", required=True)
    fi.add_argument("--out", required=True, help="output .h5")
    fi.add_argument("--elements", help="elements to fit, comma-separated")
    fi.set_defaults(func=_cmd_fit)

    rp = sub.add_parser(
        "report",
        help="HTML report of a results folder",
        epilog="Example: pigmentmap report results/",
    )
    rp.add_argument("results")
    rp.add_argument("--out", help="HTML file (default results/report.html)")
    rp.set_defaults(func=_cmd_report)

    ph = sub.add_parser(
        "phantom",
        help="a simulated mock-up scan (crossed strips of the paper's Table 2) with truth maps",
        epilog="Example: pigmentmap phantom --design mockup --instrument elio --out scan.h5 --seed 1",
    )
    ph.add_argument("--design", default="mockup", choices=["mockup"])
    ph.add_argument("--instrument", default="elio")
    ph.add_argument("--out", required=True)
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument(
        "--live-time-s", type=float, help="dwell time per pixel (default: the profile's)"
    )
    ph.add_argument("--library", help="a user library TOML")
    ph.add_argument("--overwrite", action="store_true")
    ph.set_defaults(func=_cmd_phantom)

    rg = sub.add_parser(
        "regress",
        help="spectra -> RGB colour, spectra -> element maps (the second seed)",
        description="rgb: kNN (k=10), lasso, SVR, autoencoder (encoder + decoder, combined loss) or encoder "
        "(RGB loss only). elements: an MLP with one hidden layer trained on `pigmentmap fit` maps.",
        epilog="Examples: pigmentmap regress rgb train scan.h5 --image photo.png --method knn --out rgb-model/ | "
        "pigmentmap regress rgb predict other.h5 --model rgb-model/ --out colour.png | "
        "pigmentmap regress elements train scan.h5 --maps elements.h5 --out mlp/",
    )
    rg.add_argument("task", choices=["rgb", "elements"])
    rg.add_argument("action", choices=["train", "predict"])
    _add_reader_options(rg)
    rg.add_argument(
        "--out", required=True, help="model folder (train) or output .png / .h5 (predict)"
    )
    rg.add_argument("--model", help="predict: the model folder")
    rg.add_argument("--image", help="rgb train: registered colour image (PNG/TIFF) of the scan")
    rg.add_argument(
        "--register", action="store_true", help="resize an image that is a scaled view of the scan"
    )
    rg.add_argument(
        "--method", default="knn", choices=["knn", "lasso", "svr", "autoencoder", "encoder"]
    )
    rg.add_argument(
        "--maps", help="elements train: element maps of the scan (HDF5 from pigmentmap fit)"
    )
    rg.add_argument("--elements", help="elements train: which elements (default all in --maps)")
    rg.add_argument(
        "--components", type=int, default=0, help="PCA components (0 = the preprocessed spectrum)"
    )
    rg.add_argument("--k", type=int, default=10, help="kNN neighbours (the seed: 10)")
    rg.add_argument(
        "--c", type=float, default=0.1, help="autoencoder: weight of the reconstruction loss"
    )
    rg.add_argument("--epochs", type=int, default=100)
    rg.add_argument("--seed", type=int, default=0)
    rg.add_argument("--overwrite", action="store_true")
    rg.set_defaults(func=_cmd_regress)

    demo = sub.add_parser("demo", help="run the pipeline on built-in examples")
    demo.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    demo.set_defaults(func=_cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PigmentmapError as err:
        if args.debug:
            raise
        print(f"pigmentmap: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        if args.debug:
            raise
        print(
            f"pigmentmap: error: {err.strerror or err}: {err.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pigmentmap: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
