"""X-ray tube spectra after Ebel (X-Ray Spectrom. 28 (1999) 255; 32 (2003) 46).

The continuum and the characteristic K and L lines of the anode, self-absorbed in the anode, then
through the exit window, filters and air. The result is an :class:`Excitation`: a list of
energies with widths (continuum bins) or zero width (tube lines) and photon numbers per second,
per mA and per steradian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xraylib

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Tube
from pigmentmap.physics.xraydata import air_transmission, photo_absorption, transmission

# Ebel's constants (photons / (s sr mA keV) for the continuum, photons / (s sr mA) for lines).
_CONTINUUM_CONST = 1.35e9
_LINE_CONST = {"K": 5.0e13, "L": 6.9e13}
# Electron occupation z and constant b of the ionisation cross section, per shell.
_SHELL_ZB = {"K": (2.0, 0.35), "L1": (2.0, 0.25), "L2": (2.0, 0.25), "L3": (4.0, 0.25)}
_SHELL_CODES = {
    "K": xraylib.K_SHELL,
    "L1": xraylib.L1_SHELL,
    "L2": xraylib.L2_SHELL,
    "L3": xraylib.L3_SHELL,
}
_TUBE_LINES = {
    "K": ["KL2", "KL3", "KM2", "KM3", "KN2", "KN3"],
    "L1": ["L1M2", "L1M3", "L1N2", "L1N3"],
    "L2": ["L2M1", "L2M4", "L2N4"],
    "L3": ["L3M1", "L3M4", "L3M5", "L3N5"],
}


@dataclass(frozen=True)
class Excitation:
    """A discretised incident spectrum.

    ``energies_kev`` are bin centres (continuum, ``widths_kev > 0``) or line energies
    (``widths_kev == 0``); ``photons`` are photons per second per mA per steradian in each entry,
    after window, filters and air.
    """

    energies_kev: np.ndarray
    widths_kev: np.ndarray
    photons: np.ndarray

    @property
    def max_energy_kev(self) -> float:
        """Highest energy with photons."""
        nz = self.photons > 0
        return float((self.energies_kev[nz] + self.widths_kev[nz] / 2).max())


def backscatter_coefficient(z: int, e0_kev: float) -> float:
    """Electron backscatter coefficient of element ``z`` at ``e0_kev`` (Ebel 1999, eq. 4).

    ``eta = E0**m * (0.1904 - 0.2236 ln Z + 0.1292 ln^2 Z - 0.01491 ln^3 Z)`` with
    ``m = 0.1382 - 0.9211 / sqrt(Z)``: a fit to measured backscatter coefficients (about 0.06 for
    C, 0.15 for Al, 0.30 for Cu, 0.39 for Rh, 0.40 for Ag and 0.49 for Au at 20 keV).

    Examples
    --------
    >>> round(backscatter_coefficient(45, 40.0), 2)
    0.39
    """
    lnz = math.log(z)
    m = 0.1382 - 0.9211 / math.sqrt(z)
    return float(e0_kev**m * (0.1904 - 0.2236 * lnz + 0.1292 * lnz**2 - 0.01491 * lnz**3))


def _mean_depth_g_cm2(z: int, e0_kev: float, u0: np.ndarray | float) -> np.ndarray | float:
    """Ebel's mean depth of photon generation (g/cm2) for overvoltage ``u0``."""
    a = float(xraylib.AtomicWeight(z))
    j = 0.0135 * z
    eta = backscatter_coefficient(z, e0_kev)
    rho_zm = (a / z) * (0.787e-5 * math.sqrt(j) * e0_kev**1.5 + 0.735e-6 * e0_kev**2)
    lnu = np.log(u0)
    ratio = (
        (0.49269 - 1.0987 * eta + 0.78557 * eta**2)
        * lnu
        / (0.70256 - 1.09865 * eta + 1.0046 * eta**2 + lnu)
    )
    return rho_zm * ratio


def _anode_absorption(tau: np.ndarray, depth: np.ndarray, tube: Tube) -> np.ndarray:
    """Self-absorption in the anode: (1 - exp(-x)) / x with x = 2 tau rho z sin(a_e) / sin(a_x).

    ``tau`` is the anode's photoabsorption coefficient (cm2/g), as in Ebel's model: photons
    scattered in the anode are not removed from the beam.
    """
    ratio = math.sin(math.radians(tube.electron_incidence_deg)) / math.sin(
        math.radians(tube.takeoff_deg)
    )
    x = 2.0 * tau * ratio * depth
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(x > 1e-12, -np.expm1(-x) / np.where(x > 1e-12, x, 1.0), 1.0)
    return f


def _exit_transmission(tube: Tube, energies: np.ndarray) -> np.ndarray:
    t = transmission(
        {"Be": 1.0}, density_g_cm3=1.848, thickness_um=tube.window_be_um, energies_kev=energies
    )
    for f in tube.filters:
        t = t * transmission(
            f.composition,
            density_g_cm3=f.density_g_cm3,
            thickness_um=f.thickness_um,
            energies_kev=energies,
        )
    return t * air_transmission(tube.air_path_mm, energies)


def _characteristic_lines(tube: Tube) -> tuple[np.ndarray, np.ndarray]:
    z, e0 = tube.anode_z, tube.voltage_kv
    energies, photons = [], []
    j = 0.0135 * z
    for shell, transitions in _TUBE_LINES.items():
        try:
            edge = float(xraylib.EdgeEnergy(z, _SHELL_CODES[shell]))
            omega = float(xraylib.FluorYield(z, _SHELL_CODES[shell]))
        except ValueError:
            continue
        u0 = e0 / edge
        if u0 <= 1.0:
            continue
        zs, bs = _SHELL_ZB[shell]
        ulnu = u0 * math.log(u0) + 1.0 - u0
        stop = (
            (zs * bs / z)
            * ulnu
            * (
                1.0
                + 16.05
                * math.sqrt(j / edge)
                * (math.sqrt(u0) * math.log(u0) + 2.0 * (1.0 - math.sqrt(u0)))
                / ulnu
            )
        )
        backscatter = (
            1.0 - 0.0081517 * z + 3.613e-5 * z**2 + 0.009583 * z * math.exp(-u0) + 0.001141 * e0
        )
        depth = _mean_depth_g_cm2(z, e0, u0)
        const = _LINE_CONST["K" if shell == "K" else "L"]
        for t in transitions:
            code = getattr(xraylib, f"{t}_LINE")
            try:
                e_line = float(xraylib.LineEnergy(z, code))
                rate = float(xraylib.RadRate(z, code))
            except ValueError:
                continue
            if e_line < 1.0:
                continue
            tau = photo_absorption(tube.anode, np.array([e_line]))
            f = _anode_absorption(tau, np.array([depth]), tube)[0]
            energies.append(e_line)
            photons.append(const * stop * backscatter * omega * rate * f)
    return np.array(energies), np.array(photons)


def ebel_spectrum(tube: Tube, *, step_kev: float = 0.2, min_energy_kev: float = 1.0) -> Excitation:
    """The tube's emitted spectrum, discretised.

    Parameters
    ----------
    tube : Tube
        Anode, voltage, window, filters, air path.
    step_kev : float
        Width of the continuum bins.
    min_energy_kev : float
        Lowest continuum energy kept.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> ex = ebel_spectrum(load_instrument("elio").tube)
    >>> ex.max_energy_kev <= 40.0
    True
    >>> bool(ex.photons[ex.widths_kev == 0].max() > ex.photons[ex.widths_kev > 0].max())
    True
    """
    e0 = tube.voltage_kv
    if e0 <= min_energy_kev + step_kev:
        raise PigmentmapError(f"tube voltage {e0} kV is too low to simulate")
    edges = np.arange(min_energy_kev, e0 + 1e-9, step_kev)
    if edges[-1] < e0:
        edges = np.append(edges, e0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    widths = np.diff(edges)
    z = tube.anode_z
    x = 1.109 - 0.00435 * z + 0.00175 * e0
    continuum = _CONTINUUM_CONST * z * np.clip(e0 / centres - 1.0, 0.0, None) ** x * widths
    tau = photo_absorption(tube.anode, centres)
    depth = _mean_depth_g_cm2(z, e0, e0 / centres)
    continuum = continuum * _anode_absorption(tau, np.asarray(depth), tube)
    line_e, line_n = _characteristic_lines(tube)
    energies = np.concatenate([centres, line_e])
    all_widths = np.concatenate([widths, np.zeros_like(line_e)])
    photons = np.concatenate([continuum, line_n]) * _exit_transmission(tube, energies)
    keep = photons > 0
    return Excitation(energies[keep], all_widths[keep], photons[keep])
