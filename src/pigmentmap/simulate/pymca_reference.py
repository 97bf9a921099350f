"""PyMca5's own physics (its fisx library) as a reference for validating our engine.

Optional: needs the ``pymca`` extra (``pip install PyMca5``, which builds fisx). PyMca's
``McaTheory`` computes multilayer matrix effects through fisx (``XRF.getMultilayerFluorescence``,
with secondary excitation within and between layers); we call that engine directly, headless,
with the *same* discretised tube spectrum and geometry as ours, so that any difference comes from
the sample physics. fisx keeps global state in its ``Elements`` instance: use one per process.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.stack import Stack
from pigmentmap.physics.lines import catalogue_for
from pigmentmap.physics.tube import Excitation


def pymca_available() -> bool:
    """True when PyMca5's fisx can be imported.

    Examples
    --------
    >>> isinstance(pymca_available(), bool)
    True
    """
    try:
        import fisx  # noqa: F401
    except ImportError:
        return False
    return True


_MATERIAL_IDS = itertools.count()


@cache
def _elements() -> Any:
    from fisx import Elements

    lib = Elements()
    lib.initializeAsPyMca()
    return lib


def pymca_mass_attenuation(elements: list[str], energies_kev: Any) -> Any:
    """PyMca's (fisx) total mass attenuation coefficients, shape (elements, energies).

    Same signature as :func:`pigmentmap.physics.xraydata.mass_attenuation`, so that a
    benchmark can run our engine on PyMca's attenuation data and separate differences of the
    physical model from differences of the databases.
    """
    import numpy as np

    lib = _elements()
    e = [float(x) for x in np.atleast_1d(energies_kev)]
    return np.array([lib.getMassAttenuationCoefficients(el, e)["total"] for el in elements])


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
    if not pymca_available():
        raise PigmentmapError("PyMca5 (fisx) is not installed: pip install 'pigmentmap[pymca]'")
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
