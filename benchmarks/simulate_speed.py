"""Speed of the batched FP engine on the paper's 16,224-stack design, against PyMca5 (fisx).

Usage: python benchmarks/simulate_speed.py [--n N] [--pymca-sample K] --out results.json

Measures, in one run: spectra per second for the paper design (streamed through
``Simulator.iter_batches``, as dataset generation does), the peak RSS while streaming the
and then twice as many stacks (memory is bounded by the batch size, not by N), and seconds per stack
of PyMca5's multilayer engine (fisx ``getMultilayerFluorescence``, secondary fluorescence within
and between layers) on a random sample of the same stacks with the same discretised tube
spectrum. fisx returns line intensities only; our figure includes rendering full spectra.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pigmentmap.datasets import paper_design
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library
from pigmentmap.simulate import Simulator
from pigmentmap.simulate.pymca_reference import pymca_available, pymca_group_rates

from _common import machine, peak_rss_mb, write_json


def stream(sim: Simulator, stacks) -> tuple[float, float]:
    """Seconds to simulate all stacks batch by batch (results discarded) and a checksum."""
    total = 0.0
    t0 = time.perf_counter()
    for _, part in sim.iter_batches(stacks):
        total += float(part.counts.sum())
    return time.perf_counter() - t0, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=None, help="stacks of the design (default all 16,224)")
    ap.add_argument("--pymca-sample", type=int, default=8, help="stacks timed with PyMca5")
    ap.add_argument("--instrument", default="elio")
    ap.add_argument("--out", default="benchmarks/results/simulate_speed.json")
    args = ap.parse_args()

    lib = default_library()
    inst = load_instrument(args.instrument)
    design = paper_design(lib)
    stacks = list(design.stacks[: args.n]) if args.n else list(design.stacks)
    t0 = time.perf_counter()
    sim = Simulator(inst, library=lib)
    sim.simulate(stacks[:4])  # tables and detector response built once
    setup_s = time.perf_counter() - t0
    rss_start = peak_rss_mb()

    full_s, checksum = stream(sim, stacks)
    rss_full = peak_rss_mb()
    double_s, _ = stream(sim, stacks + stacks)  # twice the stacks: the peak must not grow
    rss_double = peak_rss_mb()
    ours_per_spectrum = full_s / len(stacks)
    print(f"ours: {len(stacks)} spectra in {full_s:.1f} s = {len(stacks) / full_s:.0f} spectra/s")

    rng = np.random.default_rng(0)
    sample_idx = rng.choice(len(stacks), size=min(args.pymca_sample, len(stacks)), replace=False)
    sample = [stacks[i] for i in sample_idx]
    t0 = time.perf_counter()
    for s in sample:
        sim.simulate([s])
    ours_single = (time.perf_counter() - t0) / len(sample)

    pymca: dict = {"available": pymca_available()}
    if pymca_available():
        pymca_group_rates(sample[:1], instrument=inst, excitation=sim.excitation)  # init
        t0 = time.perf_counter()
        pymca_group_rates(sample, instrument=inst, excitation=sim.excitation, secondary=2)
        sec2 = (time.perf_counter() - t0) / len(sample)
        t0 = time.perf_counter()
        pymca_group_rates(sample, instrument=inst, excitation=sim.excitation, secondary=0)
        sec0 = (time.perf_counter() - t0) / len(sample)
        pymca.update(
            {
                "engine": "fisx XRF.getMultilayerFluorescence (PyMca5's multilayer physics)",
                "excitation_entries": len(sim.excitation.energies_kev),
                "sample_stacks": len(sample),
                "seconds_per_stack_secondary": sec2,
                "seconds_per_stack_primary_only": sec0,
                "paper_design_hours_secondary": sec2 * 16224 / 3600,
                "speedup_batched_vs_pymca": sec2 / ours_per_spectrum,
                "speedup_one_stack_at_a_time_vs_pymca": sec2 / ours_single,
            }
        )
        print(f"PyMca5/fisx: {sec2:.2f} s per stack; speed-up {sec2 / ours_per_spectrum:.0f}x")

    write_json(
        args.out,
        {
            "benchmark": "simulate_speed",
            "machine": machine(),
            "instrument": inst.name,
            "n_stacks": len(stacks),
            "channels": inst.axis.n_channels,
            "batch_size": sim.batch_size,
            "sublayers": sim.n_sublayers,
            "setup_seconds": setup_s,
            "seconds_total": full_s,
            "spectra_per_second": len(stacks) / full_s,
            "seconds_per_spectrum": ours_per_spectrum,
            "seconds_per_spectrum_one_at_a_time": ours_single,
            "paper_design_seconds_estimate": ours_per_spectrum * 16224,
            "peak_rss_mb_after_setup": rss_start,
            "peak_rss_mb_after_streaming_all": rss_full,
            "peak_rss_mb_after_streaming_twice_as_many": rss_double,
            "twice_as_many_seconds": double_s,
            "checksum_total_counts": checksum,
            "pymca": pymca,
        },
    )


if __name__ == "__main__":
    main()
