"""PyMca5's own physics (its fisx library and its Ebel tube) as a reference for our engine.

Optional: needs the ``pymca`` extra (``pip install PyMca5``, which builds fisx). Three pieces:

* :func:`pymca_tube_excitation`: PyMca's own Ebel tube model (``XRayTubeEbel.generateLists``)
  for the same anode, voltage, window, filters and angles, so that a comparison does not share
  our tube model (or its mistakes);
* :func:`pymca_group_rates`: line-group rates of a multilayer from fisx
  (``XRF.getMultilayerFluorescence``, secondary excitation within and between layers), the
  engine of PyMca's ``McaTheory``, called headless;
* :func:`fisx_database`: runs our engine on fisx's attenuation, photoabsorption and line
  production data instead of xraylib's, to tell database differences from model differences.

Full spectra through PyMca's ``McaTheory`` are in :mod:`pigmentmap.simulate.pymca_spectra`.
fisx keeps global state in its ``Elements`` instance: use one per process.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache
from typing import Any
from unittest.mock import patch

import numpy as np
import xraylib

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Instrument, Tube
from pigmentmap.materials.stack import Stack
from pigmentmap.physics.lines import catalogue_for
from pigmentmap.physics.tube import Excitation
from pigmentmap.physics.xraydata import AIR_DENSITY_G_CM3


def pymca_available() -> bool:
    """True when PyMca5 and its fisx can be imported.

    Examples
    --------
    >>> isinstance(pymca_available(), bool)
    True
    """
    try:
        import fisx  # noqa: F401
        import PyMca5  # noqa: F401
    except ImportError:
        return False
    return True


def _require() -> None:
    if not pymca_available():
        raise PigmentmapError("PyMca5 (fisx) is not installed: pip install 'pigmentmap[pymca]'")


_MATERIAL_IDS = itertools.count()


@cache
def _elements() -> Any:
    from fisx import Elements

    lib = Elements()
    lib.initializeAsPyMca()
    return lib


def pymca_mass_attenuation(elements: list[str], energies_kev: Any) -> np.ndarray:
    """fisx total mass attenuation coefficients (cm2/g), shape (elements, energies).

    Same signature as :func:`pigmentmap.physics.xraydata.mass_attenuation`.
    """
    lib = _elements()
    e = [float(x) for x in np.atleast_1d(energies_kev)]
    return np.array([lib.getMassAttenuationCoefficients(el, e)["total"] for el in elements])


def pymca_photo_absorption(element: str, energies_kev: Any) -> np.ndarray:
    """fisx photoelectric mass absorption coefficients (cm2/g) of one element.

    Same signature as :func:`pigmentmap.physics.xraydata.photo_absorption`.
    """
    e = [float(x) for x in np.atleast_1d(energies_kev)]
    return np.array(_elements().getMassAttenuationCoefficients(element, e)["photoelectric"])


@cache
def _line_names() -> dict[int, tuple[str, ...]]:
    """xraylib line macro -> fisx transition names (``KL3``; ``L3O45`` -> L3O4 and L3O5)."""
    pattern = re.compile(r"^(K|L[1-3]|M[1-5])([A-Z])([0-9]+)_LINE$")
    out = {}
    for n in dir(xraylib):
        m = pattern.match(n)
        if m:
            out[int(getattr(xraylib, n))] = tuple(m[1] + m[2] + d for d in m[3])
    return out


def pymca_fluorescence_cross_sections(
    z: np.ndarray, line_codes: np.ndarray, energies_kev: np.ndarray
) -> np.ndarray:
    """fisx line production cross sections (cm2/g of the element), shape (lines, energies).

    fisx's "excitation factors": photoionisation of every shell, cascades, fluorescence yields
    and radiative rates. Same signature as
    :func:`pigmentmap.physics.xraydata.fluorescence_cross_sections`.
    """
    lib = _elements()
    names = _line_names()
    out = np.zeros((len(z), len(energies_kev)))
    by_element: dict[int, list[int]] = {}
    for j, zz in enumerate(z):
        by_element.setdefault(int(zz), []).append(j)
    for zz, rows in by_element.items():
        symbol = xraylib.AtomicNumberToSymbol(zz)
        for k, e in enumerate(energies_kev):
            if e <= 0:
                continue
            factors = lib.getExcitationFactors(symbol, [float(e)], [1.0])
            for j in rows:
                parts = names.get(int(line_codes[j]), ())
                out[j, k] = sum(float(factors.get(t, {}).get("rate", 0.0)) for t in parts)
    return out


@contextmanager
def fisx_database() -> Iterator[None]:
    """Within the block, our engine uses fisx's data instead of xraylib's.

    Replaced: total attenuation, photoabsorption and line production cross sections (sample,
    tube, windows, detector). Kept from xraylib: line energies, the tube's line data, Si escape
    yields and scatter cross sections. For benchmarks: build the Simulator inside the block.
    """
    _require()
    from pigmentmap.physics import detector, tube, xraydata
    from pigmentmap.simulate import simulator

    replacements = {
        "mass_attenuation": pymca_mass_attenuation,
        "photo_absorption": pymca_photo_absorption,
        "fluorescence_cross_sections": pymca_fluorescence_cross_sections,
    }
    with ExitStack() as stack:
        for module in (xraydata, tube, detector, simulator):
            for name, replacement in replacements.items():
                if hasattr(module, name):
                    stack.enter_context(patch.object(module, name, replacement))
        yield


def pymca_detection_efficiency(instrument: Instrument, energies_kev: np.ndarray) -> np.ndarray:
    """Detection efficiency as PyMca computes it: the crystal counts ``1 - exp(-mu t)`` with
    the *total* attenuation (scattering in the crystal included), ours the photoabsorption.

    Same signature as :func:`pigmentmap.physics.detector.detection_efficiency`; up to 12 %
    higher than ours at 25 keV in 500 um of Si. For benchmarks (:func:`pymca_conventions`).
    """
    from pigmentmap.physics.detector import detection_efficiency
    from pigmentmap.physics.xraydata import mass_attenuation, photo_absorption

    e = np.asarray(energies_kev, dtype=float)
    depth = 2.33 * instrument.detector.si_thickness_um * 1e-4
    photo = -np.expm1(-photo_absorption("Si", e) * depth)
    total = -np.expm1(-mass_attenuation(["Si"], e)[0] * depth)
    ours = detection_efficiency(instrument, e)
    return ours * np.divide(total, photo, out=np.zeros_like(e), where=photo > 0)


@contextmanager
def pymca_conventions() -> Iterator[None]:
    """Within the block, our Simulator counts detected photons as PyMca does (see
    :func:`pymca_detection_efficiency`). For benchmarks: build the Simulator inside the block.
    """
    from pigmentmap.simulate import simulator

    with patch.object(simulator, "detection_efficiency", pymca_detection_efficiency):
        yield


def _pymca_material(composition: dict[str, float], density_g_cm3: float) -> str:
    """Register a material in PyMca's ``Elements`` module; returns its name."""
    from PyMca5.PyMcaPhysics.xrf import Elements

    name = f"pm_filter_{next(_MATERIAL_IDS)}"
    Elements.Material[name] = {
        "Comment": "pigmentmap",
        "CompoundList": [f"{el}1" for el in composition],
        "CompoundFraction": [float(f) for f in composition.values()],
        "Density": float(density_g_cm3),
        "Thickness": 1.0,
    }
    return name


def pymca_tube_lists(tube: Tube) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyMca's Ebel tube spectrum: energies (keV), photons per s per sr per mA, line flags.

    ``XRayTubeEbel.generateLists`` with our anode, voltage, Be window, electron incidence and
    take-off angles, filters and air path; continuum points every 0.2 keV (0.5 keV above
    20 keV) from 1.4 keV, K lines only.
    """
    _require()
    from PyMca5.PyMcaPhysics.xrf import Elements, XRayTubeEbel

    filters = []
    if tube.air_path_mm > 0:
        filters.append(["Air", AIR_DENSITY_G_CM3, tube.air_path_mm / 10.0])
    for f in tube.filters:
        name = _pymca_material(f.composition, f.density_g_cm3)
        filters.append([name, f.density_g_cm3, f.thickness_um * 1e-4])
    anode = [tube.anode, float(Elements.Element[tube.anode]["density"]), 0.1]
    energies, weights, flags = XRayTubeEbel.generateLists(
        anode,
        tube.voltage_kv,
        window=["Be", 1.848, tube.window_be_um * 1e-4],
        alphae=tube.electron_incidence_deg,
        alphax=tube.takeoff_deg,
        filterlist=filters or None,
    )
    # generateLists divides by 1e7
    return np.asarray(energies), np.asarray(weights) * 1e7, np.asarray(flags, dtype=int)


def pymca_tube_excitation(tube: Tube) -> Excitation:
    """PyMca's own Ebel tube spectrum as an :class:`Excitation` (for either engine).

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> if pymca_available():
    ...     ex = pymca_tube_excitation(load_instrument("elio").tube)
    ...     print(bool((ex.widths_kev == 0).sum() >= 2 and ex.max_energy_kev <= 40.0))
    ... else:
    ...     print(True)
    True
    """
    energies, photons, flags = pymca_tube_lists(tube)
    cont = flags == 0
    widths = np.zeros_like(energies)
    widths[cont] = np.diff(energies[cont], prepend=energies[cont][0] - 0.2)
    keep = photons > 0
    return Excitation(energies[keep], widths[keep], photons[keep])


def _families(element: str) -> list[str]:
    shells = {line.shell for line in catalogue_for(element)}
    return [f"{element} {s}" for s in sorted(shells) if s[0] in "KL"]


def pymca_group_rates(
    stacks: Sequence[Stack],
    *,
    instrument: Instrument,
    excitation: Excitation,
    secondary: int = 2,
    min_energy_kev: float = 0.0,
) -> list[dict[str, float]]:
    """Per stack, emitted rate of every K / L-subshell line group (``"Pb L3"``) from fisx.

    Rates are per unit incident weight, before detector efficiency and solid angle
    (``useGeometricEfficiency=0``), summed over layers and over lines above ``min_energy_kev``.
    """
    _require()
    from fisx import XRF, Material

    lib = _elements()
    xrf = XRF()
    xrf.setBeam(
        list(map(float, excitation.energies_kev)),
        weights=list(map(float, excitation.photons / excitation.photons.sum())),
        characteristic=[int(w == 0) for w in excitation.widths_kev],
    )
    xrf.setGeometry(instrument.geometry.incidence_deg, instrument.geometry.takeoff_deg)
    out = []
    for stack in stacks:
        sample = []
        families: list[str] = []
        for layer in stack.layers:
            if layer.thickness_um <= 0:
                continue
            name = f"pm_{next(_MATERIAL_IDS)}"
            mat = Material(name, layer.density_g_cm3, layer.thickness_um * 1e-4)
            mat.setComposition({el: float(f) for el, f in layer.composition.items() if f > 0})
            lib.addMaterial(mat)
            sample.append([name, layer.density_g_cm3, layer.thickness_um * 1e-4, 1.0])
            for el in layer.composition:
                if el not in ("H", "C", "N", "O"):
                    families.extend(_families(el))
        xrf.setSample(sample)
        fam = sorted(set(families))
        result = xrf.getMultilayerFluorescence(
            fam, lib, secondary=secondary, useGeometricEfficiency=0, useMassFractions=1
        )
        rates: dict[str, float] = {}
        for group, layers in result.items():
            total = 0.0
            for lines in layers.values():
                for line in lines.values():
                    if line["energy"] >= min_energy_kev:
                        # "rate" = primary + secondary times "efficiency", which (with no
                        # detector set) is the exit attenuation through the layers above.
                        total += float(line["rate"])
            rates[group] = rates.get(group, 0.0) + total
        out.append(rates)
    return out


def relative_agreement(
    ours: Sequence[dict[str, float]],
    reference: Sequence[dict[str, float]],
    *,
    min_relative: float = 0.01,
) -> list[dict[str, Any]]:
    """Compare relative group intensities across stacks.

    For each line group, the reference stack is the one where PyMca's rate is largest; every
    stack's rate is divided by that stack's rate, in each engine; rows give both ratios and their
    relative difference for (stack, group) pairs whose PyMca ratio is at least ``min_relative``.

    Examples
    --------
    >>> rows = relative_agreement([{"Fe K": 2.0}, {"Fe K": 1.0}], [{"Fe K": 4.0}, {"Fe K": 2.2}])
    >>> round(rows[1]["rel_diff"], 3)
    -0.091
    """
    groups = sorted({g for r in reference for g in r})
    rows = []
    for g in groups:
        ref_vals = np.array([r.get(g, 0.0) for r in reference])
        our_vals = np.array([o.get(g, 0.0) for o in ours])
        k = int(np.argmax(ref_vals))
        if ref_vals[k] <= 0 or our_vals[k] <= 0:
            continue
        for i in range(len(reference)):
            rel_ref = ref_vals[i] / ref_vals[k]
            if rel_ref < min_relative:
                continue
            rel_our = our_vals[i] / our_vals[k]
            rows.append(
                {
                    "stack": i,
                    "group": g,
                    "reference_stack": k,
                    "pymca_ratio": float(rel_ref),
                    "ours_ratio": float(rel_our),
                    "rel_diff": float(rel_our / rel_ref - 1.0),
                }
            )
    return rows
