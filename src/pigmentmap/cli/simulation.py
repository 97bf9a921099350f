"""Commands that simulate: ``simulate``, ``dataset``, ``phantom``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pigmentmap.cli._common import (
    SECONDS,
    SEED,
    library_from_args,
    number,
    parse_hxw,
    parse_range,
)
from pigmentmap.core.errors import PigmentmapError


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from pigmentmap.core.atomic import check_new_file
    from pigmentmap.instruments import load_instrument
    from pigmentmap.materials import parse_stack
    from pigmentmap.simulate import Simulator
    from pigmentmap.simulate.output import SPECTRUM_SUFFIXES, plot_spectrum, write_spectrum

    out = check_new_file(args.out, overwrite=args.overwrite)
    if out.suffix.lower() not in SPECTRUM_SUFFIXES:
        raise PigmentmapError(f"output '{out}': use a .csv or .h5 file name")
    if args.plot:
        check_new_file(args.plot, overwrite=args.overwrite)
        if Path(args.plot).suffix.lower() != ".png":
            raise PigmentmapError(f"plot '{args.plot}': use a .png file name")
    if args.seed is not None and not args.poisson:
        raise PigmentmapError("--seed only applies with --poisson")
    lib = library_from_args(args)
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
        pileup_resolving_time_s=None if args.pileup_ns is None else args.pileup_ns * 1e-9,
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


def _cmd_dataset(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_new_file
    from pigmentmap.datasets import PAPER_LABELS, mixtures_design, mockup_design, paper_design
    from pigmentmap.datasets.background import measured_background
    from pigmentmap.datasets.store import generate_dataset
    from pigmentmap.instruments import load_instrument

    out = check_new_file(args.out, overwrite=args.overwrite)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise PigmentmapError(f"output '{out}': use a .h5 file name")
    if args.n and args.design == "paper":
        raise PigmentmapError(
            "the paper design has a fixed size (16,224); --n applies to the other designs"
        )
    if args.design == "universal" and args.background:
        raise PigmentmapError(
            "the universal design draws backgrounds at training time; --background does not apply"
        )
    lib = library_from_args(args)
    inst = load_instrument(args.instrument)
    if args.live_time_s is not None:
        inst = inst.with_changes(live_time_s=args.live_time_s)
    if args.design == "paper":
        design = paper_design(lib, binder_fraction=0.0 if args.pure else args.binder_fraction)
    elif args.design == "mockup":
        design = mockup_design(lib, n=args.n or 6604, seed=args.seed)
    elif args.design == "universal":
        from pigmentmap.datasets.universal import ANODES, UNIVERSAL_LABELS, universal_design

        anodes = tuple(a.strip() for a in args.anodes.split(",")) if args.anodes else ANODES
        unknown = [a for a in anodes if a not in ANODES]
        if unknown:
            raise PigmentmapError(
                f"unknown anode(s) {', '.join(unknown)} (use some of {', '.join(ANODES)})"
            )
        design = universal_design(
            lib,
            n=args.n or 30000,
            seed=args.seed,
            pigments=tuple(p.strip() for p in args.pigments.split(","))
            if args.pigments
            else UNIVERSAL_LABELS,
            anodes=anodes,
            scattering_deg=parse_range(args.scattering_deg, what="--scattering-deg"),
        )
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
        noise=not args.no_noise and args.design != "universal",
        overwrite=args.overwrite,
    )
    print(
        f"wrote {path}: {len(design.stacks)} spectra, {len(design.label_names)} labels ({args.design})"
    )
    return 0


def _cmd_phantom(args: argparse.Namespace) -> int:
    from pigmentmap.core.atomic import check_output_path
    from pigmentmap.instruments import load_instrument

    out = check_output_path(args.out)
    if out.exists() and not args.overwrite:
        raise PigmentmapError(f"'{out}' exists (use --overwrite to replace it)")
    if args.design == "mockup" and (args.size or args.palette):
        raise PigmentmapError("--size and --palette apply to --design painting only")
    inst = load_instrument(args.instrument)
    if args.live_time_s is not None:
        inst = inst.with_changes(live_time_s=args.live_time_s)
    lib = library_from_args(args)
    if args.design == "mockup":
        from pigmentmap.mapping.phantom import make_phantom

        make_phantom(out, library=lib, instrument=inst, seed=args.seed)
        print(f"wrote {out}: mock-up phantom ({inst.live_time_s:g} s per pixel)")
        return 0
    from tqdm import tqdm

    from pigmentmap.datasets.universal import UNIVERSAL_LABELS
    from pigmentmap.mapping.painting import MAX_SIDE, MIN_SIDE, check_palette, make_painting

    text = args.size or "64x64"
    size = parse_hxw(text, option="--size", example="200x300")
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in size):
        raise PigmentmapError(
            f"--size {text}: height and width must each be {MIN_SIDE}-{MAX_SIDE} pixels"
        )
    palette = (
        tuple(p.strip() for p in args.palette.split(",") if p.strip())
        if args.palette
        else UNIVERSAL_LABELS
    )
    palette = check_palette(lib, palette)
    with tqdm(total=size[0], unit="row", desc="painting", disable=None, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        make_painting(out, library=lib, instrument=inst, seed=args.seed, size=size,
                      palette=palette, progress=progress)  # fmt: skip
    print(
        f"wrote {out}: painting phantom {size[0]} x {size[1]} px, {len(palette)} pigments "
        f"({inst.live_time_s:g} s per pixel)"
    )
    return 0


def register(sub: Any) -> None:
    """Add this group's subcommands to ``sub``."""
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
    sim.add_argument("--live-time-s", type=SECONDS, help="live time (default: the profile's)")
    sim.add_argument(
        "--current-ua",
        type=number(float, lo=0, hi=1e5, lo_open=True),
        help="tube current (default: the profile's)",
    )
    sim.add_argument(
        "--voltage-kv",
        type=number(float, lo=2, hi=160),
        help="tube voltage (default: the profile's)",
    )
    sim.add_argument("--poisson", action="store_true", help="Poisson counting noise")
    sim.add_argument("--seed", type=SEED, help="seed of the Poisson noise")
    sim.add_argument("--pure", action="store_true", help="pure pigment layers, no binder")
    sim.add_argument(
        "--binder-fraction",
        type=number(float, lo=0, hi=1, hi_open=True),
        default=0.25,
        help="binder mass fraction (default 0.25 = 3:1)",
    )
    sim.add_argument(
        "--binder", default="linseed_oil", help="binder material (default linseed_oil)"
    )
    sim.add_argument("--normalise", action="store_true", help="rescale mixture fractions to sum 1")
    sim.add_argument("--no-secondary", action="store_true", help="primary fluorescence only")
    sim.add_argument(
        "--pileup-ns",
        type=number(float, lo=0, hi=1e5),
        help="pile-up resolving time in ns (default: the profile's "
        "detector.pileup_resolving_time_ns; 0 = no pile-up)",
    )
    sim.add_argument("--plot", help="also write a PNG plot")
    sim.add_argument("--overwrite", action="store_true", help="replace existing output files")
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
    ds.add_argument(
        "--design",
        required=True,
        choices=["paper", "mockup", "mixtures", "universal"],
        help="universal: random paintings on random instruments, stored noise-free (the "
        "training draws counts, calibration and channels anew each epoch)",
    )
    ds.add_argument(
        "--anodes",
        help="universal design: anodes to draw from (default Rh,Ag,W,Mo,Cu,Cr)",
    )
    ds.add_argument(
        "--scattering-deg",
        default="90-150",
        help="universal design: range of scattering angles (default 90-150)",
    )
    ds.add_argument("--out", required=True, help="output .h5")
    ds.add_argument(
        "--instrument", default="elio", help="profile name or .toml path (default elio)"
    )
    ds.add_argument(
        "--n",
        type=number(int, lo=1, hi=10**7),
        help="number of spectra (mockup: 6604, mixtures: 20000, universal: 30000)",
    )
    ds.add_argument("--seed", type=SEED, default=0, help="seed of the design and the noise")
    ds.add_argument(
        "--pigments",
        help="label set of mixtures (default the paper's 11) or universal (default 29 classes), "
        "comma-separated",
    )
    ds.add_argument("--library", help="a user library TOML that extends the shipped one")
    ds.add_argument("--live-time-s", type=SECONDS, help="dwell time (default: the profile's)")
    ds.add_argument(
        "--background", help="measured spectrum (.csv or .h5) whose SNIP background is added"
    )
    ds.add_argument("--background-live-time-s", type=SECONDS, help="live time of that measurement")
    ds.add_argument(
        "--binder-fraction",
        type=number(float, lo=0, hi=1, hi_open=True),
        default=0.25,
        help="paper design binder (default 0.25)",
    )
    ds.add_argument("--pure", action="store_true", help="paper design with pure pigment layers")
    ds.add_argument("--no-noise", action="store_true", help="expected counts, no Poisson noise")
    ds.add_argument("--overwrite", action="store_true")
    ds.set_defaults(func=_cmd_dataset)

    ph = sub.add_parser(
        "phantom",
        help="a simulated scan with truth maps: the paper's mock-up or a painting",
        description="--design mockup: crossed strips of the paper's Table 2 (Fig. 7). "
        "--design painting: irregular regions of 1-3 layers with thickness gradients, a hidden "
        "earlier composition under part of the surface, a ground, and a palette (default: the "
        "default model's classes); its truth (pigments per layer, what is detectable, visible "
        "colour) is in the file.",
        epilog="Examples: pigmentmap phantom --design mockup --instrument elio --out scan.h5 "
        "--seed 1;  pigmentmap phantom --design painting --instrument lab-ag --size 200x200 "
        "--seed 3 --out painting.h5",
    )
    ph.add_argument("--design", default="mockup", choices=["mockup", "painting"])
    ph.add_argument("--instrument", default="elio", help="profile name or .toml path")
    ph.add_argument("--out", required=True)
    ph.add_argument("--seed", type=SEED, default=0)
    ph.add_argument(
        "--live-time-s", type=SECONDS, help="dwell time per pixel (default: the profile's)"
    )
    ph.add_argument("--size", help="painting: HxW pixels, each 4-4096 (default 64x64)")
    ph.add_argument(
        "--palette",
        help="painting: comma-separated pigments (names or aliases; default: the default "
        "model's 29 classes)",
    )
    ph.add_argument("--library", help="a user library TOML")
    ph.add_argument("--overwrite", action="store_true")
    ph.set_defaults(func=_cmd_phantom)
