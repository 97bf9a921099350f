"""Speed of pigment maps and element maps on one cube, next to reading it and PyMca5's
FastXRFLinearFit on it, all in one run.

Usage: python benchmarks/map_speed.py [--tiles 2] [--model universal] [--repeats 5] --out results.json

The cube is the mock-up phantom (30 x 44 pixels, ELIO, 10 s per pixel) tiled ``tiles`` x
``tiles`` times. Pigment maps are timed from loading the model (its networks are frozen for
inference on first use) to the calibrated maps; torch is imported before, as PyMca5 is. PyMca5 is optional; its fit gets the same calibration, resolution, SNIP
background and elements (K, L and M lines), linear fit, no refit. Where both fit an element,
the JSON gives the Pearson correlation of the two maps. Pigment maps and PyMca run ``repeats``
times, interleaved (this machine is shared and its speed drifts); the JSON keeps every timing and
the medians, and the speed ratio is the median of the per-repeat ratios.

Reading is timed from the ``.npy`` file (the headline: the fastest a cube can be read) and, for
comparison, from the formats scans come in: an HDF5 file and a folder of one PyMca/SPEC ``.mca``
file per pixel (how the lab scanner of issue 9 writes its scans).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.instruments import load_instrument
from pigmentmap.io import open_cube
from pigmentmap.mapping.elements import fit_elements
from pigmentmap.mapping.phantom import make_phantom
from pigmentmap.mapping.pigments import pigment_maps
from pigmentmap.mapping.recalibrate import sum_spectrum
from pigmentmap.materials import default_library
from pigmentmap.ml import DEFAULT_MODEL
from pigmentmap.simulate.pymca_reference import pymca_available

from _common import machine, write_json

ELEMENTS = ("Ca", "Cr", "Fe", "Co", "Cu", "Zn", "As", "Sn", "Hg", "Pb")


def pymca_fit(
    cube: np.ndarray, instrument, elements: tuple[str, ...]
) -> tuple[float, dict[str, np.ndarray]]:
    from PyMca5.PyMcaPhysics.xrf import ClassMcaTheory, FastXRFLinearFit

    config = ClassMcaTheory.McaTheory().config
    axis = instrument.axis
    config["fit"].update({"xmin": axis.channel_of(1.0), "xmax": axis.n_channels - 1, "stripflag": 1,
                          "stripalgorithm": 1, "snipwidth": 30, "linearfitflag": 1,
                          "energy": [instrument.tube.voltage_kv], "energyweight": [1.0], "energyflag": [1],
                          "energyscatter": [1]})  # fmt: skip
    config["detector"].update({"zero": axis.offset_kev, "gain": axis.gain_kev,
                               "noise": instrument.detector.noise_fwhm_kev, "fano": instrument.detector.fano})  # fmt: skip
    config["peaks"] = {
        el: ["K"]
        if el in ("Ca", "Cr", "Fe", "Co", "Cu", "Zn", "As")
        else ["L", "M"]
        if el in ("Hg", "Pb")
        else ["K", "L"]
        for el in elements
    }
    fast = FastXRFLinearFit.FastXRFLinearFit()
    t0 = time.perf_counter()
    out = fast.fitMultipleSpectra(
        y=cube.astype(np.float64), configuration=config, refit=False, save=False
    )
    seconds = time.perf_counter() - t0
    labels = out.labels("parameters")
    params = out["parameters"]
    maps = {}
    for el in elements:
        fam = "K" if f"{el} K" in labels else "L"
        if f"{el} {fam}" in labels:
            maps[el] = params[labels.index(f"{el} {fam}")]
    return seconds, maps


def _write_mca_folder(folder: Path, cube: np.ndarray, offset_kev: float, gain_kev: float) -> None:
    """One PyMca/SPEC .mca file per pixel, row by row, 16 counts per line."""
    folder.mkdir()
    h, w, c = cube.shape
    for k, spectrum in enumerate(cube.reshape(h * w, c)):
        lines = [" ".join(str(int(v)) for v in spectrum[i : i + 16]) for i in range(0, c, 16)]
        body = "\\\n ".join(lines)
        (folder / f"scan_{k:05d}.mca").write_text(
            f"#@CALIB {offset_kev} {gain_kev} 0\n#@CTIME 10 10 10\n@A {body}\n"
        )


def _timed_read(path: Path, **options):
    """(seconds to open a cube and touch every value (the sum spectrum), the cube)."""
    t0 = time.perf_counter()
    cube = open_cube(path, **options)
    sum_spectrum(cube.counts)
    return time.perf_counter() - t0, cube


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiles", type=int, default=2)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved timings; medians kept")
    ap.add_argument("--out", default="benchmarks/results/map_speed.json")
    args = ap.parse_args()
    inst = load_instrument("elio")
    work = Path(tempfile.mkdtemp())
    make_phantom(work / "ph.h5", library=default_library(), instrument=inst, seed=3)
    with h5py.File(work / "ph.h5") as f:
        tiled = np.tile(f["counts"][()], (args.tiles, args.tiles, 1))
    np.save(work / "cube.npy", tiled)
    h, w, c = tiled.shape
    n_px = h * w
    calibration = (inst.axis.offset_kev, inst.axis.gain_kev)
    read_s, cube = _timed_read(work / "cube.npy", calibration=calibration)
    with h5py.File(work / "cube.h5", "w") as f:
        f["counts"] = tiled
    _write_mca_folder(work / "mca", tiled, *calibration)
    read_by_format = {
        "npy": read_s,
        "hdf5": _timed_read(work / "cube.h5", calibration=calibration)[0],
        "mca folder": _timed_read(work / "mca", shape=(h, w))[0],
    }
    import torch  # noqa: F401 - imported before timing, as PyMca5 is (its import is not timed)

    pigment_runs, pymca_runs = [], []
    pymca: dict = {"available": pymca_available()}
    ours = maps = None
    for _ in range(args.repeats):  # interleaved: both see the same load on a shared machine
        t0 = time.perf_counter()
        pigment_maps(cube, args.model)  # loads the model and freezes its networks: timed
        pigment_runs.append(time.perf_counter() - t0)
        if pymca_available():
            seconds, maps = pymca_fit(np.asarray(cube.counts), inst, ELEMENTS)
            pymca_runs.append(seconds)
    pigment_s = float(np.median(pigment_runs))
    t0 = time.perf_counter()
    ours = fit_elements(cube.counts, cube.axis, inst, elements=ELEMENTS)
    element_s = time.perf_counter() - t0
    if maps is not None:
        seconds = float(np.median(pymca_runs))
        corr = {el: float(np.corrcoef(maps[el].ravel(), ours.values[..., ours.names.index(el)].ravel())[0, 1])
                for el in maps if el in ours.names and maps[el].std() > 0}  # fmt: skip
        pymca.update({"engine": "PyMca5 FastXRFLinearFit (SNIP, linear, no refit)", "seconds": seconds,
                      "seconds_per_repeat": pymca_runs,
                      "pixels_per_second": n_px / seconds, "map_correlation_with_ours": corr})  # fmt: skip
    result = {
        "benchmark": "map_speed", "machine": machine(), "cube": [h, w, c], "pixels": n_px, "model": args.model,
        "read_seconds": read_s, "read_pixels_per_second": n_px / read_s,
        "repeats": args.repeats, "pigment_maps_seconds_per_repeat": pigment_runs,
        "pigment_maps_seconds": pigment_s, "pigment_maps_pixels_per_second": n_px / pigment_s,
        "element_maps_seconds": element_s, "element_maps_pixels_per_second": n_px / element_s,
        "pigment_vs_read_slowdown": pigment_s / read_s,
        "read_seconds_by_format": read_by_format,
        "pigment_vs_read_slowdown_by_format": {k: pigment_s / v for k, v in read_by_format.items()},
        "pymca": pymca,
    }  # fmt: skip
    if pymca.get("seconds"):
        ratios = [b / a for a, b in zip(pigment_runs, pymca["seconds_per_repeat"], strict=True)]
        result["pigment_maps_vs_pymca_speed"] = float(np.median(ratios))
        result["pigment_maps_vs_pymca_speed_per_repeat"] = ratios
    for k in (
        "read_pixels_per_second",
        "pigment_maps_pixels_per_second",
        "element_maps_pixels_per_second",
    ):
        print(f"{k}: {result[k]:.0f}")
    for fmt, slowdown in result["pigment_vs_read_slowdown_by_format"].items():
        print(f"pigment maps vs reading the {fmt}: {slowdown:.2f}x the time")
    if pymca.get("seconds"):
        print(
            f"PyMca FastXRFLinearFit: {pymca['pixels_per_second']:.0f} px/s; correlations {pymca['map_correlation_with_ours']}"
        )
    write_json(args.out, result)


if __name__ == "__main__":
    main()
