"""Shared pieces of the command line: the parser class, reader options, opening a scan."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pigmentmap.core.errors import PigmentmapError

EXIT_USAGE = 2


def number(
    kind: type = float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Any:
    """An argparse ``type`` that parses a finite ``kind`` within bounds (one-line errors).

    Examples
    --------
    >>> number(int, lo=1)("3")
    3
    >>> number(float, lo=0, lo_open=True, hi=1, hi_open=True)("1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: 1 is not in (0, 1)
    """
    import math

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not finite")
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if below or above:
            left = "-inf" if lo is None else f"{lo:g}"
            right = "inf" if hi is None else f"{hi:g}"
            brackets = (
                "(" if lo_open or lo is None else "[",
                ")" if hi_open or hi is None else "]",
            )
            raise argparse.ArgumentTypeError(
                f"{text} is not in {brackets[0]}{left}, {right}{brackets[1]}"
            )
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


#: Seeds of numpy's generators: non-negative integers.
SEED = number(int, lo=0, hi=2**63 - 1)
#: A count of things that must be at least one.
POSITIVE_INT = number(int, lo=1, hi=10**9)
#: A share strictly between 0 and 1.
SHARE = number(float, lo=0, hi=1, lo_open=True, hi_open=True)
#: A positive time in seconds (at most a day per spectrum).
SECONDS = number(float, lo=0, hi=86400, lo_open=True)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless its help already names it or it is a flag."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.nargs == 0 or action.default is None:
            return text
        return super()._get_help_string(action) or text


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """As argparse's, and an option without help that has a default shows it."""
        default = kwargs.get("default")
        flag = kwargs.get("action") in ("store_true", "store_false", "version", "help")
        if not kwargs.get("help") and args and str(args[0]).startswith("-") and not flag:
            if default is not None and default is not False:
                kwargs["help"] = "(default: %(default)s)"
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pigmentmap: error: {message}\n")


def library_from_args(args: argparse.Namespace):
    from pigmentmap.materials import default_library, load_library

    return load_library(args.library) if getattr(args, "library", None) else default_library()


def parse_hxw(text: str, *, option: str, example: str = "20x30") -> tuple[int, int]:
    """``"HxW"`` -> (H, W), refusing anything else in one line (bounds are the caller's).

    Examples
    --------
    >>> parse_hxw("20x30", option="--shape")
    (20, 30)
    """
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PigmentmapError(f"{option} wants HxW, e.g. {example}, got '{text}'") from None
    return h, w


def parse_shape(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    h, w = parse_hxw(text, option="--shape")
    if not (1 <= h <= 100_000 and 1 <= w <= 100_000):
        raise PigmentmapError(f"--shape {text}: height and width must be 1-100000 pixels")
    return h, w


def parse_range(text: str, *, what: str) -> tuple[float, float]:
    """``"90-150"`` -> (90.0, 150.0), refusing anything else in one line.

    Examples
    --------
    >>> parse_range("90-150", what="--scattering-deg")
    (90.0, 150.0)
    """
    try:
        lo, hi = (float(v) for v in text.split("-"))
    except ValueError:
        raise PigmentmapError(f"{what} wants LO-HI, e.g. 90-150, got '{text}'") from None
    if not lo <= hi:
        raise PigmentmapError(f"{what}: {lo:g} is above {hi:g}")
    return lo, hi


def open_cube_from_args(args: argparse.Namespace, *, allow_uncalibrated: bool = False):
    """Open the scan named by the reader options (no recalibration)."""
    from pigmentmap.io.open import open_cube, parse_calibration

    kwargs = {"glob": args.glob} if getattr(args, "glob", None) else {}
    return open_cube(
        args.file,
        dataset=args.dataset,
        channel_axis=args.channel_axis,
        calibration=parse_calibration(args.calibration) if args.calibration else None,
        shape=parse_shape(args.shape),
        order=args.order,
        allow_uncalibrated=allow_uncalibrated,
        **kwargs,
    )


def open_scan(args: argparse.Namespace, *, notes: list[str] | None = None):
    """Open the scan; with ``--recalibrate``, refine its calibration and print the residuals
    (the warnings and the new calibration also go into ``notes`` when given)."""
    import warnings
    from dataclasses import replace

    from pigmentmap.mapping.recalibrate import recalibrate

    cube = open_cube_from_args(args)
    if not getattr(args, "recalibrate", False):
        return cube
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = recalibrate(cube)
    kept = notes if notes is not None else []
    for w in caught:
        print(f"pigmentmap: warning: {w.message}", file=sys.stderr)
        kept.append(str(w.message))
    if found.calibration is not None:
        cal = found.calibration
        shifts = ", ".join(f"{s:+.0f} eV at {e:g} keV" for e, s in found.shift_ev_at.items())
        line = (
            f"recalibrated from {len(cal.peaks)} peaks: E = {found.axis.offset_kev:.5f} + "
            f"{found.axis.gain_kev:.6f} * ch keV (shift {shifts}); RMS residual "
            f"{cal.rms_ev():.1f} eV over 3-15 keV"
        )
        print(line, file=sys.stderr)
        kept.append(line)
        print(cal.residual_table(), file=sys.stderr)
        cube = replace(cube, axis=found.axis, meta={**cube.meta, "calibration": "recalibrated"})
    return cube


def add_reader_options(p: argparse.ArgumentParser, *, recalibrate: bool = True) -> None:
    """The positional scan FILE and the options that say how to read it."""
    p.add_argument(
        "file",
        help="HDF5/NeXus, .bcf, .spx, .raw/.rpl, .npy/.npz, .edf, .spe, .mca (or a folder of them), .msa, .csv",
    )
    p.add_argument("--dataset", help="HDF5: the dataset path")
    p.add_argument("--channel-axis", type=int, help="HDF5: the axis holding the channels")
    p.add_argument("--calibration", help="OFFSET,GAIN in keV: overrides the file's calibration")
    if recalibrate:
        p.add_argument(
            "--recalibrate",
            action="store_true",
            help="refine the calibration from the scan's own peaks (prints each peak's residual)",
        )
    p.add_argument("--shape", help="folder of .mca files: HxW")
    p.add_argument(
        "--order", default="row", choices=["row", "column"], help="folder of .mca files: file order"
    )
    p.add_argument(
        "--glob", help="folder of .mca files: which files are pixels (e.g. 'scan_*.mca')"
    )
