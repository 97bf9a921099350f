"""xraylib, tabulated on energy grids (looked up once per instrument and library)."""

from __future__ import annotations

import numpy as np
import xraylib

from pigmentmap.materials.formula import atomic_number

AIR_COMPOSITION = {"N": 0.7553, "O": 0.2318, "Ar": 0.0128, "C": 0.0001}
AIR_DENSITY_G_CM3 = 1.205e-3


def _safe(fn, *args: float) -> float:
    try:
        return float(fn(*args))
    except ValueError:
        return 0.0


def mass_attenuation(elements: list[str], energies_kev: np.ndarray) -> np.ndarray:
    """Total mass attenuation coefficients (cm2/g), shape (len(elements), len(energies)).

    Examples
    --------
    >>> import numpy as np
    >>> mu = mass_attenuation(["Pb"], np.array([20.0]))
    >>> bool(80 < mu[0, 0] < 95)
    True
    """
    out = np.zeros((len(elements), len(energies_kev)))
    for i, el in enumerate(elements):
        z = atomic_number(el)
        for k, e in enumerate(energies_kev):
            out[i, k] = _safe(xraylib.CS_Total, z, float(e))
    return out


def photo_absorption(element: str, energies_kev: np.ndarray) -> np.ndarray:
    """Photoelectric mass absorption coefficient (cm2/g) of one element."""
    z = atomic_number(element)
    return np.array([_safe(xraylib.CS_Photo, z, float(e)) for e in energies_kev])


def composition_attenuation(composition: dict[str, float], energies_kev: np.ndarray) -> np.ndarray:
    """Mass attenuation (cm2/g) of a material given as element mass fractions."""
    els = list(composition)
    w = np.array([composition[e] for e in els])
    return w @ mass_attenuation(els, energies_kev)


def transmission(
    composition: dict[str, float],
    *,
    density_g_cm3: float,
    thickness_um: float,
    energies_kev: np.ndarray,
    path_factor: float = 1.0,
) -> np.ndarray:
    """Transmission of a sheet at normal incidence (times ``path_factor``).

    Examples
    --------
    >>> import numpy as np
    >>> t = transmission({"Be": 1.0}, density_g_cm3=1.848, thickness_um=12.5,
    ...                  energies_kev=np.array([2.0, 10.0]))
    >>> bool(t[0] < t[1] < 1.0)
    True
    """
    if thickness_um <= 0:
        return np.ones(len(energies_kev))
    mu = composition_attenuation(composition, energies_kev)
    return np.exp(-mu * density_g_cm3 * thickness_um * 1e-4 * path_factor)


def air_transmission(path_mm: float, energies_kev: np.ndarray) -> np.ndarray:
    """Transmission of ``path_mm`` of dry air at sea level."""
    return transmission(
        AIR_COMPOSITION,
        density_g_cm3=AIR_DENSITY_G_CM3,
        thickness_um=path_mm * 1e3,
        energies_kev=energies_kev,
    )


def fluorescence_cross_sections(
    z: np.ndarray, line_codes: np.ndarray, energies_kev: np.ndarray
) -> np.ndarray:
    """XRF production cross sections (cm2/g of the element) with cascades, (lines, energies).

    Uses ``xraylib.CS_FluorLine_Kissel_Cascade``: photo-ionisation of every shell that can lead to
    the line, Coster-Kronig and radiative/non-radiative cascades, fluorescence yield and rate.
    """
    out = np.zeros((len(z), len(energies_kev)))
    for j, (zz, code) in enumerate(zip(z, line_codes, strict=True)):
        for k, e in enumerate(energies_kev):
            if e > 0:
                out[j, k] = _safe(xraylib.CS_FluorLine_Kissel_Cascade, int(zz), int(code), float(e))
    return out


def scatter_cross_sections(
    elements: list[str], energies_kev: np.ndarray, *, angle_rad: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rayleigh and Compton differential cross sections (cm2/g/sr) and the Compton energies.

    Returns ``(rayleigh, compton, compton_energy_kev)`` with shapes (E, G), (E, G), (G,); the
    cross sections are for unpolarised photons at scattering angle ``angle_rad``.
    """
    e = np.asarray(energies_kev, dtype=float)
    compton_e = e / (1.0 + (e / 510.998950) * (1.0 - np.cos(angle_rad)))
    ray = np.zeros((len(elements), len(e)))
    com = np.zeros((len(elements), len(e)))
    for i, el in enumerate(elements):
        z = atomic_number(el)
        for k, ek in enumerate(e):
            ray[i, k] = _safe(xraylib.DCS_Rayl, z, float(ek), angle_rad)
            com[i, k] = _safe(xraylib.DCS_Compt, z, float(ek), angle_rad)
    return ray, com, compton_e
