"""``pigmentmap demo``: the whole pipeline on a built-in phantom, in about a minute on 2 cores.

1. simulate the mock-up phantom (the paper's Fig. 7: Table 2 strips, 10 s per pixel, ELIO);
2. pigment maps with the shipped model and element maps by the linear fit;
3. the HTML report with the Fig. 5 panels and the per-pixel metrics against the truth;
4. as a physics aside, the paper's section 4.3 case: Pb L-beta/L-alpha of lead white, bare and
   under vermilion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library, parse_stack
from pigmentmap.ml import DEFAULT_MODEL
from pigmentmap.simulate import Simulator
from pigmentmap.simulate.output import plot_spectrum

DEMO_MODEL = DEFAULT_MODEL
SECTION_43 = {
    "lead_white_bare": "LW:120/CaCO3:180",
    "vermilion_over_lead_white": "VM:30/LW:120/CaCO3:180",
}


def lb_la_ratio(line_counts: np.ndarray, lines: tuple, element: str) -> float:
    """L-beta1 / L-alpha1 count ratio of ``element``."""
    by_name = {(ln.element, ln.transition): k for k, ln in enumerate(lines)}
    return float(line_counts[by_name[(element, "L2M4")]] / line_counts[by_name[(element, "L3M5")]])


def run_demo(out: Path, *, model: str = DEMO_MODEL, seed: int = 2022) -> dict[str, object]:
    """Run the demo into ``out`` (replacing an earlier demo there); returns its figures."""
    from pigmentmap.io.open import open_cube
    from pigmentmap.mapping.phantom import make_phantom
    from pigmentmap.mapping.run import run_map
    from pigmentmap.report.html import load_results, pixel_metrics, write_report

    if out.exists() and not out.is_dir():
        raise PigmentmapError(f"demo output '{out}' exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    lib, inst = default_library(), load_instrument("elio")
    scan = out / "phantom.h5"
    print("1/3 simulating the mock-up phantom (30 x 44 pixels, 10 s per pixel) ...")
    make_phantom(scan, library=lib, instrument=inst, seed=seed)
    print(f"2/3 pigment maps with '{model}' and element maps ...")
    results = run_map(
        scan,
        open_cube(scan),
        model=model,
        out=out / "results",
        instrument=inst,
        overwrite=True,
        progress=False,
    )
    print("3/3 report ...")
    report = write_report(results)
    arrays = load_results(results)
    metrics = pixel_metrics(arrays)

    sim = Simulator(inst, library=lib)
    res = sim.simulate(
        [parse_stack(s, library=lib) for s in SECTION_43.values()], rng=np.random.default_rng(seed)
    )
    ratios = {}
    for k, name in enumerate(SECTION_43):
        ratios[name] = lb_la_ratio(res.line_counts[k], res.lines.lines, "Pb")
        plot_spectrum(
            out / f"{name}.png", res.counts[k], inst.axis, title=f"{SECTION_43[name]} (elio, 10 s)"
        )
    from pigmentmap.mapping.phantom import detection_by_strip

    vm = arrays["prob"][..., arrays["names"].index("vermilion")]
    strips = detection_by_strip(vm, *arrays["strips"])
    for row in strips:
        under = row["found_under_top"]
        tail = (
            "" if under != under else f", {under:.0%} under a top without it"
        )  # NaN: no such pixels
        print(
            f"vermilion {row['strip']:12} ({row['percent']:4.1f} %): found in {row['found_bare']:.0%} of bare pixels{tail}"
        )
    if metrics is not None:
        print(
            "per-pixel F1 on the phantom: "
            + ", ".join(f"{n} {m['f1']:.2f}" for n, m in metrics["per_class"].items())
        )
        print(f"macro F1 {metrics['macro_f1']:.3f}")
    print(
        f"section 4.3: Pb Lb1/La1 {ratios['lead_white_bare']:.3f} bare, {ratios['vermilion_over_lead_white']:.3f} under 30 um vermilion"
    )
    print(f"report: {report.resolve()}")
    return {"metrics": metrics, "ratios": ratios, "report": report, "vermilion_by_strip": strips}
