"""Helpers shared by the benchmarks: machine description and atomic JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.atomic import atomic_path


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "numpy": np.__version__,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def add_step_options(ap: argparse.ArgumentParser, known: Sequence[str], *, out: str) -> None:
    """``--work`` (datasets and models), ``--out`` (the JSON) and ``--steps`` (some of ``known``)."""
    ap.add_argument("--work", default="runs", help="datasets and models go here")
    ap.add_argument("--out", default=out)
    ap.add_argument("--steps", default=",".join(known), help=f"some of {', '.join(known)}")


def chosen_steps(
    args: argparse.Namespace, known: Sequence[str]
) -> tuple[list[str], dict[str, Any], Path]:
    """The steps ``--steps`` names (exit with a message on one not ``known``); where only some
    of them run, the results already in ``--out`` to merge them into; the ``--work`` folder,
    made if missing."""
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if not set(steps) <= set(known):
        raise SystemExit(f"--steps: choose from {', '.join(known)}")
    earlier: dict[str, Any] = {}
    if set(steps) != set(known) and Path(args.out).exists():
        earlier = json.loads(Path(args.out).read_text())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    return steps, earlier, work


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically, creating the folder."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {p}")


def ship_model(model_dir: Path, shipped: Path, made_by: dict[str, Any]) -> None:
    """Copy a trained model into the package as ``shipped``, recording ``made_by`` in its card
    (written beside, then renamed into place)."""
    from pigmentmap.ml.checkpoint import read_card

    card = read_card(model_dir)
    card["made_by"] = made_by
    tmp = shipped.with_name(shipped.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(model_dir, tmp, ignore=shutil.ignore_patterns(".pigmentmap-files"))
    (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    if shipped.exists():
        shutil.rmtree(shipped)
    tmp.rename(shipped)
    print(f"shipped {shipped} ({card['weights']['n_parameters']} parameters)")


def simulated_dataset(path: Path, design: Any, *, seed: int, noise: bool) -> Path:
    """Simulate ``design`` on the ELIO profile into ``path`` unless it is already there."""
    from pigmentmap.datasets.store import generate_dataset
    from pigmentmap.instruments import load_instrument
    from pigmentmap.materials import default_library

    if not path.exists():
        t0 = time.perf_counter()
        generate_dataset(
            design,
            instrument=load_instrument("elio"),
            out=path,
            seed=seed,
            library_hash=default_library().hash,
            noise=noise,
        )
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s")
    return path
