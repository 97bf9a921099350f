"""Detector physics: efficiency, resolution, Si escape peaks, pile-up and channel response.

Peaks are Gaussians integrated over each channel (so areas are conserved), FWHM from electronic
noise and Fano statistics; a fraction ``escape_fraction(E)`` of each peak moves to
``E - E(Si K-alpha)``. Low-energy tails and incomplete charge collection are not modelled.
"""

from __future__ import annotations

import numpy as np
import xraylib
from scipy.special import erf

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.physics.xraydata import (
    air_transmission,
    mass_attenuation,
    photo_absorption,
    transmission,
)

SI_KA_KEV = float(xraylib.LineEnergy(14, xraylib.KL3_LINE))
SI_K_EDGE_KEV = float(xraylib.EdgeEnergy(14, xraylib.K_SHELL))
_SI_DENSITY = 2.33


def detection_efficiency(instrument: Instrument, energies_kev: np.ndarray) -> np.ndarray:
    """Probability that a photon leaving the sample towards the detector is counted.

    Air path, Be window, Si dead layer, then absorption in the Si crystal.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> eff = detection_efficiency(load_instrument("elio"), np.array([1.5, 6.4, 40.0]))
    >>> bool(eff[1] > eff[0] and eff[1] > eff[2])
    True
    """
    det = instrument.detector
    e = np.asarray(energies_kev, dtype=float)
    t = air_transmission(det.air_path_mm, e)
    t = t * transmission(
        {"Be": 1.0}, density_g_cm3=1.848, thickness_um=det.window_be_um, energies_kev=e
    )
    t = t * transmission(
        {"Si": 1.0}, density_g_cm3=_SI_DENSITY, thickness_um=det.dead_layer_um, energies_kev=e
    )
    mu_photo = photo_absorption("Si", e)
    absorbed = -np.expm1(-mu_photo * _SI_DENSITY * det.si_thickness_um * 1e-4)
    return t * absorbed


def escape_fraction(energies_kev: np.ndarray) -> np.ndarray:
    """Fraction of photons whose Si K fluorescence escapes the crystal (normal incidence).

    From the Si K-shell absorption share, the K fluorescence yield and the escape probability of
    an isotropic source at the absorption depth (a semi-infinite crystal).

    Examples
    --------
    >>> import numpy as np
    >>> f = escape_fraction(np.array([1.5, 2.0, 6.4, 20.0]))
    >>> bool(f[0] == 0 and f[1] > f[2] > f[3] > 0)
    True
    """
    e = np.asarray(energies_kev, dtype=float)
    out = np.zeros_like(e)
    above = e > SI_K_EDGE_KEV
    if not above.any():
        return out
    omega_k = float(xraylib.FluorYield(14, xraylib.K_SHELL))
    jump = float(xraylib.JumpFactor(14, xraylib.K_SHELL))
    mu_in = photo_absorption("Si", e[above])
    mu_ka = float(mass_attenuation(["Si"], np.array([SI_KA_KEV]))[0, 0])
    ratio = mu_ka / mu_in
    out[above] = 0.5 * omega_k * (1.0 - 1.0 / jump) * (1.0 - ratio * np.log1p(1.0 / ratio))
    return np.clip(out, 0.0, None)


def _gaussian_areas(axis: EnergyAxis, centres: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """Integral of unit-area Gaussians over each channel, shape (len(centres), n_channels)."""
    e = axis.energies
    half = np.gradient(e) / 2.0
    lo, hi = e - half, e + half
    # A floor of 1 eV keeps zero-energy escape rows (weight 0) finite.
    sigma = (np.maximum(fwhm, 1e-3) / (2.0 * np.sqrt(2.0 * np.log(2.0))))[:, None]
    c = centres[:, None]
    return 0.5 * (
        erf((hi[None, :] - c) / (np.sqrt(2.0) * sigma))
        - erf((lo[None, :] - c) / (np.sqrt(2.0) * sigma))
    )


def response_matrix(
    instrument: Instrument,
    energies_kev: np.ndarray,
    *,
    widths_kev: np.ndarray | None = None,
    extra_fwhm_kev: np.ndarray | None = None,
    escape: bool = True,
    subdivisions: int = 5,
) -> np.ndarray:
    """Counts per channel for one photon detected at each energy, shape (len(energies), C).

    Parameters
    ----------
    instrument : Instrument
        Resolution and energy axis.
    energies_kev : array
        Photon energies (line energies or bin centres).
    widths_kev : array, optional
        Bin widths: a bin is rendered as ``subdivisions`` equal sub-peaks across its width.
    extra_fwhm_kev : array, optional
        Extra broadening added in quadrature (e.g. Compton Doppler broadening).
    escape : bool
        Add Si escape peaks.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> r = response_matrix(load_instrument("elio"), np.array([6.4]))
    >>> round(float(r.sum()), 3)
    1.0
    """
    e = np.asarray(energies_kev, dtype=float)
    if widths_kev is None:
        widths_kev = np.zeros_like(e)
    extra = np.zeros_like(e) if extra_fwhm_kev is None else np.asarray(extra_fwhm_kev, dtype=float)
    axis = instrument.axis
    out = np.zeros((len(e), axis.n_channels))
    offsets = (np.arange(subdivisions) + 0.5) / subdivisions - 0.5
    for off in offsets if np.any(widths_kev > 0) else [0.0]:
        centres = e + off * widths_kev
        fwhm = np.sqrt(instrument.fwhm_kev(np.clip(centres, 0.0, None)) ** 2 + extra**2)
        weight = 1.0 / subdivisions if np.any(widths_kev > 0) else 1.0
        frac = escape_fraction(centres) if escape else np.zeros_like(centres)
        out += weight * (1.0 - frac)[:, None] * _gaussian_areas(axis, centres, fwhm)
        if escape and np.any(frac > 0):
            esc_e = centres - SI_KA_KEV
            esc_fwhm = np.sqrt(instrument.fwhm_kev(np.clip(esc_e, 0.0, None)) ** 2 + extra**2)
            out += weight * frac[:, None] * _gaussian_areas(axis, esc_e, esc_fwhm)
    return out


def add_pileup(
    counts: np.ndarray, axis: EnergyAxis, *, live_time_s: float, resolving_time_s: float
) -> np.ndarray:
    """Add sum peaks: two photons within ``resolving_time_s`` are counted as one at E1 + E2.

    For a spectrum S (counts in ``live_time_s``) the expected pile-up counts are
    ``tau / T * (S * S)`` (self-convolution on the energy axis); the pair's two single counts are
    removed. Works on (..., C) arrays; needs a linear calibration.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.core import EnergyAxis
    >>> s = np.zeros(100); s[10] = 1e6
    >>> p = add_pileup(s, EnergyAxis(0.0, 0.1, 100), live_time_s=1.0, resolving_time_s=1e-7)
    >>> bool(p[20] > 0) and round(float(p.sum() / s.sum()), 3) < 1.0
    True
    """
    if resolving_time_s <= 0:
        return counts
    shift = round(axis.offset_kev / axis.gain_kev)
    n = counts.shape[-1]
    size = 2 * n
    spec = np.fft.rfft(counts, size, axis=-1)
    conv = np.fft.irfft(spec * spec, size, axis=-1)
    conv = np.clip(conv, 0.0, None) * resolving_time_s / live_time_s
    out = np.zeros_like(counts, dtype=float)
    # Channel i + k holds E_i + E_k - offset; shift by the offset in channels.
    src = np.arange(n)
    dst = src + shift
    ok = (dst >= 0) & (dst < n)
    out[..., dst[ok]] = conv[..., src[ok]]
    total = counts.sum(axis=-1, keepdims=True)
    lost = 2.0 * conv.sum(axis=-1, keepdims=True)
    scale = np.where(total > 0, 1.0 - lost / np.where(total > 0, total, 1.0), 1.0)
    return counts * np.clip(scale, 0.0, None) + out
