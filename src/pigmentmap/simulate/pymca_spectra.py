"""Full spectra from PyMca5's own machinery, and regions of interest to compare them.

:func:`pymca_matrix_spectra` does headless what PyMca's "matrix spectrum" does: an ``McaTheory``
configured with PyMca's own Ebel tube, attenuators, detector, escape peaks and peak shapes; the
expected area of every line group from the sample composition (``ConcentrationsTool``, with
fisx's secondary-excitation correction); the spectrum rendered by ``McaTheory.mcatheory``.
PyMca's matrix spectrum has fluorescence only (its scatter peaks are fit parameters, set to 0 in
a matrix spectrum), so compare it with our fluorescence (see :func:`fluorescence_spectra`).
PyMca keeps global state (``Elements``), so each call runs in a fresh process.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xraylib

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.formula import atomic_number
from pigmentmap.materials.stack import Stack
from pigmentmap.physics.detector import response_matrix
from pigmentmap.physics.xraydata import AIR_DENSITY_G_CM3
from pigmentmap.simulate.pymca_reference import _require, pymca_tube_lists
from pigmentmap.simulate.simulator import SimulationResult


@dataclass(frozen=True)
class Roi:
    """A region of interest around one line of one element (``"Pb La"``), in keV."""

    name: str
    element: str
    lo_kev: float
    hi_kev: float


#: Lines whose regions are compared: K-alpha1, K-beta1, L-alpha1, L-beta1, L-gamma1.
_ROI_LINES = {"Ka": ("KL3", "K"), "Kb": ("KM3", "K"), "La": ("L3M5", "L3"), "Lb": ("L2M4", "L2")}
_ROI_LINES["Lg"] = ("L2N4", "L2")


def line_rois(
    elements: Sequence[str], instrument: Instrument, *, min_energy_kev: float = 2.8
) -> list[Roi]:
    """Regions of +-1 FWHM around the main lines of ``elements`` that the tube can excite.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> [r.name for r in line_rois(["Fe", "Pb"], load_instrument("elio"))]
    ['Fe Ka', 'Fe Kb', 'Pb La', 'Pb Lb', 'Pb Lg']
    """
    out = []
    top = min(instrument.tube.voltage_kv, instrument.axis.max_energy_kev)
    for el in sorted(elements, key=atomic_number):
        z = atomic_number(el)
        for name, (line, shell) in _ROI_LINES.items():
            try:
                energy = float(xraylib.LineEnergy(z, getattr(xraylib, f"{line}_LINE")))
                edge = float(xraylib.EdgeEnergy(z, getattr(xraylib, f"{shell}_SHELL")))
            except ValueError:
                continue
            if not (min_energy_kev <= energy and edge < top and energy < top):
                continue
            half = float(instrument.fwhm_kev(energy))
            out.append(Roi(f"{el} {name}", el, energy - half, energy + half))
    return out


def roi_sums(counts: np.ndarray, axis: EnergyAxis, rois: Sequence[Roi]) -> np.ndarray:
    """Counts in each region (whole channels whose centre lies inside), shape (N, R).

    Examples
    --------
    >>> import numpy as np
    >>> axis = EnergyAxis(0.0, 0.01, 100)
    >>> float(roi_sums(np.ones((1, 100)), axis, [Roi("x", "Fe", 0.1, 0.2)])[0, 0])
    11.0
    """
    e = axis.energies
    masks = np.array([(e >= r.lo_kev) & (e <= r.hi_kev) for r in rois], dtype=float)
    return np.atleast_2d(counts) @ masks.T


def roi_values(
    counts: np.ndarray, axis: EnergyAxis, rois: Sequence[Sequence[Roi]]
) -> list[dict[str, float]]:
    """Per spectrum, counts in each of its own regions: ``{"Pb La": ..., ...}``.

    Examples
    --------
    >>> import numpy as np
    >>> axis = EnergyAxis(0.0, 0.01, 100)
    >>> roi_values(np.ones((1, 100)), axis, [[Roi("Fe Ka", "Fe", 0.1, 0.2)]])
    [{'Fe Ka': 11.0}]
    """
    return [
        {r.name: float(v) for r, v in zip(own, roi_sums(row, axis, own)[0], strict=True)}
        for row, own in zip(np.atleast_2d(counts), rois, strict=True)
    ]


def roi_agreement(
    ours: Sequence[dict[str, float]],
    reference: Sequence[dict[str, float]],
    *,
    min_relative: float = 1e-3,
    per_spectrum: bool = False,
) -> list[dict[str, Any]]:
    """Compare region intensities normalised to a reference region, in each engine.

    The reference is the region with the most counts in PyMca's spectra: over all spectra (one
    reference for everything, so that the tube's spectrum, the detector and the matrix all
    count), or within each spectrum (``per_spectrum``: line ratios of one sample). Rows give
    both ratios and their relative difference where PyMca's ratio is at least ``min_relative``.

    Examples
    --------
    >>> rows = roi_agreement([{"a": 10.0, "b": 1.0}], [{"a": 10.0, "b": 1.1}])
    >>> [(r["roi"], round(r["rel_diff"], 3)) for r in rows]
    [('a', 0.0), ('b', -0.091)]
    """
    rows = []
    groups = range(len(reference)) if per_spectrum else [None]
    for group in groups:
        spectra = [group] if group is not None else list(range(len(reference)))
        cells = [(i, name) for i in spectra for name in reference[i]]
        if not cells:
            continue
        ref_i, ref_name = max(cells, key=lambda c: reference[c[0]][c[1]])
        ref_value, our_ref = reference[ref_i][ref_name], ours[ref_i].get(ref_name, 0.0)
        if ref_value <= 0 or our_ref <= 0:
            continue
        for i, name in cells:
            rel_ref = reference[i][name] / ref_value
            if rel_ref < min_relative:
                continue
            rel_our = ours[i].get(name, 0.0) / our_ref
            rows.append(
                {
                    "spectrum": i,
                    "roi": name,
                    "reference": f"{ref_name} of spectrum {ref_i}",
                    "pymca_ratio": float(rel_ref),
                    "ours_ratio": float(rel_our),
                    "rel_diff": float(rel_our / rel_ref - 1.0),
                }
            )
    return rows


def fluorescence_spectra(
    result: SimulationResult, instrument: Instrument, *, escape: bool = True
) -> np.ndarray:
    """Our engine's fluorescence only (no scatter, no pile-up), rendered through the detector.

    What PyMca's matrix spectrum holds; ``result.line_counts`` are detected line counts.
    """
    response = response_matrix(instrument, result.lines.energies_kev, escape=escape)
    return result.line_counts @ response


def _payload(stacks: Sequence[Stack], instrument: Instrument) -> list[list[dict[str, Any]]]:
    out = []
    for stack in stacks:
        layers = []
        for layer in stack.layers:
            if layer.thickness_um <= 0:
                continue
            layers.append(
                {
                    "composition": {k: float(v) for k, v in layer.composition.items() if v > 0},
                    "density": float(layer.density_g_cm3),
                    "thickness_cm": float(layer.thickness_um) * 1e-4,
                }
            )
        out.append(layers)
    return out


def _peak_families(element: str, voltage_kv: float) -> list[str]:
    """PyMca peak families of an element with lines above 1 keV that the tube excites."""
    z = atomic_number(element)
    fams = []
    for fam, shell, line in (("K", "K", "KL3"), ("L", "L3", "L3M5"), ("M", "M5", "M5N7")):
        try:
            edge = float(xraylib.EdgeEnergy(z, getattr(xraylib, f"{shell}_SHELL")))
            energy = float(xraylib.LineEnergy(z, getattr(xraylib, f"{line}_LINE")))
        except ValueError:
            continue
        if edge < voltage_kv and energy >= 1.0:
            fams.append(fam)
    return fams


def _config(instrument: Instrument, *, escape: bool, secondary: int) -> Any:
    """PyMca's default fit configuration, set up for our instrument (PyMca's tube)."""
    import PyMca5
    from PyMca5.PyMcaIO import ConfigDict

    cfg = ConfigDict.ConfigDict()
    cfg.read(os.path.join(os.path.dirname(PyMca5.__file__), "PyMcaData", "McaTheory.cfg"))
    energies, photons, _ = pymca_tube_lists(instrument.tube)
    fit = cfg["fit"]
    fit["energy"] = [float(x) for x in energies]
    fit["energyweight"] = [float(x) for x in photons]
    fit["energyflag"] = [1] * len(energies)
    fit["energyscatter"] = [0] * len(energies)
    fit.update(
        {
            "scatterflag": 0,
            "continuum": 0,
            "stripflag": 0,
            "sumflag": 0,
            "escapeflag": int(escape),
            "hypermetflag": 1,  # PyMca's default: Gaussian peaks
            "use_limit": 0,
        }
    )
    det = instrument.detector
    cfg["detector"].update(
        {
            "zero": instrument.axis.offset_kev,
            "gain": instrument.axis.gain_kev,
            "noise": det.noise_fwhm_kev,
            "fano": det.fano,
            "detele": "Si",
            "sum": 0.0,
        }
    )
    att = cfg["attenuators"]
    for key in att:
        att[key][0] = 0
    if det.air_path_mm > 0:
        att["atmosphere"] = [1, "Air", AIR_DENSITY_G_CM3, det.air_path_mm / 10.0, 1.0]
    if det.window_be_um > 0:
        att["window"] = [1, "Be1", 1.848, det.window_be_um * 1e-4, 1.0]
    if det.dead_layer_um > 0:
        att["deadlayer"] = [1, "Si1", 2.33, det.dead_layer_um * 1e-4, 1.0]
    att["Detector"] = [1, "Si1", 2.33, det.si_thickness_um * 1e-4, 1.0]
    geo = instrument.geometry
    att["Matrix"] = [1, "MULTILAYER", 0.0, 0.0, geo.incidence_deg, geo.takeoff_deg]
    tube = instrument.tube
    # flux x time = incident photons of PyMca's tube in our units: counts comparable with ours
    flux = float(photons.sum()) * tube.current_ua * 1e-3 * tube.beam_solid_angle_sr
    cfg["concentrations"].update(
        {
            "usematrix": 0,
            "useattenuators": 1,
            "flux": flux,
            "time": instrument.live_time_s,
            "area": det.area_mm2 / 100.0,
            "distance": det.distance_mm / 10.0,
            "usemultilayersecondary": secondary,
            "mmolarflag": 0,
        }
    )
    return cfg


def _one_spectrum(
    cfg: Any, layers: list[dict[str, Any]], instrument: Instrument, ids: Any
) -> np.ndarray:
    import copy

    from PyMca5.PyMcaPhysics.xrf import ClassMcaTheory, ConcentrationsTool

    cfg = copy.deepcopy(cfg)
    cfg["multilayer"] = {}
    peaks: dict[str, list[str]] = {}
    for k, layer in enumerate(layers):
        name = f"pm_layer_{next(ids)}"
        comp = layer["composition"]
        cfg["materials"][name] = {
            "Comment": "pigmentmap",
            "CompoundList": [f"{el}1" for el in comp],
            "CompoundFraction": list(comp.values()),
            "Density": layer["density"],
            "Thickness": layer["thickness_cm"],
        }
        cfg["multilayer"][f"Layer{k}"] = [1, name, layer["density"], layer["thickness_cm"]]
        for el in comp:
            fams = _peak_families(el, instrument.tube.voltage_kv)
            if atomic_number(el) > 10 and fams:
                peaks[el] = fams
    cfg["peaks"] = peaks
    mcafit = ClassMcaTheory.McaTheory()
    mcafit.configure(cfg)
    n_channels = instrument.axis.n_channels
    x = np.arange(n_channels, dtype=float)
    mcafit.setData(x=x, y=np.ones_like(x), xmin=0, xmax=n_channels - 1)
    mcafit.estimate()
    conf = mcafit.configure()
    n_global = mcafit.NGLOBAL
    groups = list(mcafit.PARAMETERS[n_global:])
    fitresult: dict[str, Any] = {"result": {"config": conf, "groups": groups}}
    for g in groups:
        fitresult["result"][g] = {"fitarea": 1.0, "sigmaarea": 0.0}
    tool = ConcentrationsTool.ConcentrationsTool()
    tool_cfg = tool.configure()
    tool_cfg.update(conf["concentrations"])
    areas, _ = tool.processFitResult(
        config=tool_cfg, fitresult=fitresult, elementsfrommatrix=True, addinfo=True
    )
    corrections = conf.get("fisx", {}).get("corrections") or {}
    params = np.array(mcafit.parameters, dtype=float)
    for i, g in enumerate(groups):
        element, family = g.split()
        area = float(areas["area"][g])
        if element in corrections:
            counts = corrections[element][family]["counts"]
            area *= counts[-1] / counts[0]  # secondary excitation, as PyMca's matrix spectrum
        params[n_global + i] = area
    return np.asarray(mcafit.mcatheory(params, x), dtype=float)


def _worker(args: tuple[Instrument, list[list[dict[str, Any]]], bool, int]) -> np.ndarray:
    import itertools

    instrument, payload, escape, secondary = args
    ids = itertools.count()
    with contextlib.redirect_stdout(io.StringIO()):  # PyMca prints progress
        cfg = _config(instrument, escape=escape, secondary=secondary)
        rows = [_one_spectrum(cfg, layers, instrument, ids) for layers in payload]
    return np.array(rows)


def pymca_matrix_spectra(
    stacks: Sequence[Stack], *, instrument: Instrument, escape: bool = True, secondary: int = 2
) -> np.ndarray:
    """PyMca's matrix spectra of ``stacks`` (expected counts), shape (N, channels).

    Gaussian peaks (PyMca's default ``hypermetflag``), PyMca's escape peaks, no scatter, no
    pile-up, no background; secondary excitation by fisx (``secondary`` = 0, 1 or 2). Counts are
    on our scale: PyMca's tube photons times current, beam solid angle and live time. Runs in a
    fresh Python process (``python -m pigmentmap.simulate.pymca_spectra``).
    """
    _require()
    args = (instrument, _payload(stacks, instrument), escape, secondary)
    done = subprocess.run(
        [sys.executable, "-m", "pigmentmap.simulate.pymca_spectra"],
        input=pickle.dumps(args),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise PigmentmapError(f"PyMca's matrix spectra failed:\n{tail}")
    return np.asarray(pickle.loads(done.stdout))


if __name__ == "__main__":
    sys.stdout.buffer.write(pickle.dumps(_worker(pickle.loads(sys.stdin.buffer.read()))))
