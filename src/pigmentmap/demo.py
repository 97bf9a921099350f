"""``pigmentmap demo``: the parts of the pipeline that exist, on built-in examples.

Today: simulate the paper's section 4.3 case (vermilion over lead white against bare lead white)
for the ELIO profile, write the spectra as CSV and plots as PNG, and print the Pb L-beta/L-alpha
ratios that show the effect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.simulate import Simulator
from pigmentmap.simulate.output import plot_spectrum, write_spectrum

DEMO_STACKS = {
    "lead_white_bare": "LW:120/CaCO3:180",
    "vermilion_over_lead_white": "VM:30/LW:120/CaCO3:180",
    "paper_mixture_top2_over_bottom2A": "VM=0.3+CM=0.3+CB=0.4:60/ZW=0.1+LW=0.85+VM=0.05:120/CaCO3:180",
}


def lb_la_ratio(line_counts: np.ndarray, lines: tuple, element: str) -> float:
    """L-beta1 / L-alpha1 count ratio of ``element``."""
    by_name = {(ln.element, ln.transition): k for k, ln in enumerate(lines)}
    return float(line_counts[by_name[(element, "L2M4")]] / line_counts[by_name[(element, "L3M5")]])


def run_demo(out: Path) -> dict[str, float]:
    """Simulate the demo stacks into ``out``; returns the Pb L-beta/L-alpha ratios."""
    if out.exists() and not out.is_dir():
        raise PigmentmapError(f"demo output '{out}' exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    lib = default_library()
    inst = load_instrument("elio")
    sim = Simulator(inst, library=lib)
    stacks = [parse_stack(s, library=lib) for s in DEMO_STACKS.values()]
    result = sim.simulate(stacks, rng=np.random.default_rng(2022))
    ratios = {}
    for k, name in enumerate(DEMO_STACKS):
        write_spectrum(
            out / f"{name}.csv", result.counts[k], inst.axis, meta={"stack": DEMO_STACKS[name]}
        )
        lines = result.lines.lines
        lc = result.line_counts[k]
        top = [j for j in np.argsort(-lc)[:12] if lc[j] > 0]
        plot_spectrum(
            out / f"{name}.png",
            result.counts[k],
            inst.axis,
            title=f"{DEMO_STACKS[name]} (elio, 10 s, Poisson noise)",
            labels=[(lines[j].energy_kev, lines[j].label) for j in top],
        )
        ratios[name] = lb_la_ratio(lc, lines, "Pb")
        print(f"{name:36} Pb Lb1/La1 = {ratios[name]:.3f}   {out / (name + '.png')}")
    print(f"demo written to {out.resolve()}")
    return ratios
