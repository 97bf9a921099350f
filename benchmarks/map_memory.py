"""Peak memory of ``pigmentmap map`` on a large .raw/.rpl cube (goal: under 1 GB for >= 2 GB).

Usage: python benchmarks/map_memory.py [--rows 256 --cols 512] [--model elio-mixtures] --out results.json

Writes a vector-ordered uint32 .raw (rows x cols x 4096 channels: 2.1 GB by default) from the
phantom's spectra with fresh Poisson noise, chunk by chunk, then runs ``pigmentmap map`` on it
(pigment maps + element maps) in a child process and reports the child's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.instruments import load_instrument
from pigmentmap.mapping.phantom import make_phantom
from pigmentmap.materials import default_library

from _common import machine, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=512)
    ap.add_argument("--model", default="elio-mixtures")
    ap.add_argument("--work", default="benchmarks/work/map_memory")
    ap.add_argument("--out", default="benchmarks/results/map_memory.json")
    args = ap.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    inst = load_instrument("elio")
    make_phantom(
        work / "ph.h5",
        library=default_library(),
        instrument=inst.with_changes(live_time_s=1.0),
        seed=5,
    )
    with h5py.File(work / "ph.h5") as f:
        spectra = f["counts"][()].reshape(-1, inst.axis.n_channels)
    rng = np.random.default_rng(0)
    raw = work / "big.raw"
    t0 = time.perf_counter()
    with open(raw, "wb") as fh:
        for _ in range(args.rows):
            row = spectra[rng.integers(0, len(spectra), size=args.cols)]
            fh.write(rng.poisson(row).astype("<u4").tobytes())
    (work / "big.rpl").write_text(
        f"key value\nwidth {args.cols}\nheight {args.rows}\ndepth {inst.axis.n_channels}\noffset 0\n"
        "data-length 4\ndata-type unsigned\nbyte-order little-endian\nrecord-by vector\nev-per-chan 10\n"
    )
    write_s = time.perf_counter() - t0
    size_gb = raw.stat().st_size / 1e9
    print(f"wrote {raw} ({size_gb:.2f} GB) in {write_s:.0f} s; mapping ...")
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pigmentmap.cli", "map", str(work / "big.rpl"), "--out", str(work / "results"),
         "--model", args.model, "--overwrite"],
        capture_output=True, text=True,
    )  # fmt: skip
    map_s = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(f"map failed: {run.stderr.strip()[-500:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    pixels = args.rows * args.cols
    print(f"map: {map_s:.0f} s, {pixels / map_s:.0f} px/s, peak RSS {peak_mb:.0f} MB")
    write_json(args.out, {
        "benchmark": "map_memory", "machine": machine(), "raw_gb": size_gb, "shape": [args.rows, args.cols, inst.axis.n_channels],
        "dtype": "uint32", "map_seconds": map_s, "pixels_per_second": pixels / map_s,
        "peak_rss_mb_child": peak_mb, "goal_mb": 1024, "within_goal": peak_mb < 1024,
    })  # fmt: skip
    raw.unlink()


if __name__ == "__main__":
    main()
