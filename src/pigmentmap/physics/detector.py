"""Detector physics: efficiency, resolution, Si escape peaks, line shape, pile-up.

The response to a photon of energy E that the crystal absorbs (areas conserved, integrated over
each channel):

* a Gaussian, FWHM from electronic noise and Fano statistics;
* Si K-alpha and K-beta escape peaks at ``E - E(Si K)``, holding ``escape_fractions(E)``;
* a flat shelf from 0 to E (incomplete charge collection: part of the charge cloud lost),
  holding ``Detector.shelf_fraction`` of the counts at every energy;
* an exponential low-energy tail (charge lost near the entrance contact), holding
  ``Detector.tail_fraction`` at Mn K-alpha and scaled with the Si photoabsorption coefficient
  (the share of photons absorbed within a thin entrance layer), decay length
  ``Detector.tail_slope_fwhm`` times the FWHM; both convolved with the Gaussian.

Where the defaults come from is documented on :class:`pigmentmap.instruments.instrument.Detector`.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import xraylib
from scipy.special import erfcx, ndtr

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.instruments.instrument import MN_KA_KEV, Instrument
from pigmentmap.physics.xraydata import (
    air_transmission,
    mass_attenuation,
    photo_absorption,
    transmission,
)

SI_KA_KEV = float(xraylib.LineEnergy(14, xraylib.KL3_LINE))
SI_KB_KEV = float(xraylib.LineEnergy(14, xraylib.KM3_LINE))
SI_K_EDGE_KEV = float(xraylib.EdgeEnergy(14, xraylib.K_SHELL))
_SI_DENSITY = 2.33
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


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


@cache
def _si_k_emission() -> tuple[tuple[float, float, float], ...]:
    """(energy, share of Si K emission, mu of Si at that energy) for Si K-alpha and K-beta."""
    rates = {}
    for name in ("KL2", "KL3", "KM2", "KM3"):
        rates[name] = float(xraylib.RadRate(14, getattr(xraylib, f"{name}_LINE")))
    total = sum(rates.values())
    share_b = (rates["KM2"] + rates["KM3"]) / total
    mu = mass_attenuation(["Si"], np.array([SI_KA_KEV, SI_KB_KEV]))[0]
    return (SI_KA_KEV, 1.0 - share_b, float(mu[0])), (SI_KB_KEV, share_b, float(mu[1]))


def escape_fractions(energies_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of photons whose Si K-alpha and K-beta fluorescence escapes the crystal.

    From the Si K-shell share of photoabsorption, the K fluorescence yield, the K-alpha/K-beta
    emission shares (xraylib radiative rates, about 97/3 %) and the escape probability of an
    isotropic source at the absorption depth (normal incidence on a semi-infinite crystal).

    Examples
    --------
    >>> import numpy as np
    >>> ka, kb = escape_fractions(np.array([6.4]))
    >>> bool(0.02 < kb[0] / ka[0] < 0.04)
    True
    """
    e = np.asarray(energies_kev, dtype=float)
    out = (np.zeros_like(e), np.zeros_like(e))
    above = e > SI_K_EDGE_KEV
    if not above.any():
        return out
    omega_k = float(xraylib.FluorYield(14, xraylib.K_SHELL))
    jump = float(xraylib.JumpFactor(14, xraylib.K_SHELL))
    mu_in = photo_absorption("Si", e[above])
    for f, (_, share, mu_line) in zip(out, _si_k_emission(), strict=True):
        ratio = mu_line / mu_in
        value = 0.5 * omega_k * (1.0 - 1.0 / jump) * share
        f[above] = np.clip(value * (1.0 - ratio * np.log1p(1.0 / ratio)), 0.0, None)
    return out


def escape_fraction(energies_kev: np.ndarray) -> np.ndarray:
    """Fraction of photons whose Si K fluorescence (K-alpha or K-beta) escapes the crystal.

    Examples
    --------
    >>> import numpy as np
    >>> f = escape_fraction(np.array([1.5, 2.0, 6.4, 20.0]))
    >>> bool(f[0] == 0 and f[1] > f[2] > f[3] > 0)
    True
    """
    ka, kb = escape_fractions(energies_kev)
    return ka + kb


def tail_and_shelf_fractions(
    instrument: Instrument, energies_kev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of counts in the low-energy tail and in the flat shelf, per photon energy.

    The tail share is ``tail_fraction`` at Mn K-alpha times ``tau_Si(E) / tau_Si(Mn K-alpha)``
    (photons absorbed near the entrance contact lose charge); the shelf share is
    ``shelf_fraction`` at every energy. Together with the escape share they never exceed 1.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> tail, shelf = tail_and_shelf_fractions(load_instrument("elio"), np.array([3.0, 5.8951, 15.0]))
    >>> bool(tail[0] > tail[1] > tail[2]) and round(float(tail[1]), 4)
    0.01
    """
    det = instrument.detector
    e = np.asarray(energies_kev, dtype=float)
    shelf = np.full_like(e, det.shelf_fraction)
    if det.tail_fraction > 0:
        tau = photo_absorption("Si", np.clip(e, 0.1, None))
        tau_ref = photo_absorption("Si", np.array([MN_KA_KEV]))[0]
        tail = det.tail_fraction * tau / tau_ref
    else:
        tail = np.zeros_like(e)
    room = np.clip(1.0 - escape_fraction(e) - shelf, 0.0, None)
    return np.minimum(tail, room), np.minimum(shelf, 1.0)


def _channel_edges(axis: EnergyAxis) -> np.ndarray:
    """Energies of the channel boundaries, shape (n_channels + 1,)."""
    e = axis.energies
    mid = 0.5 * (e[1:] + e[:-1])
    return np.concatenate([[e[0] - (mid[0] - e[0])], mid, [e[-1] + (e[-1] - mid[-1])]])


def _per_channel(cdf: np.ndarray) -> np.ndarray:
    """Channel contents from a CDF evaluated at the channel edges (rounding noise of a flat
    CDF, about 1e-16, is not let below zero)."""
    return np.clip(np.diff(cdf, axis=-1), 0.0, None)


def _add_gaussians(
    out: np.ndarray, edges: np.ndarray, centres: np.ndarray, sigma: np.ndarray, area: np.ndarray
) -> None:
    """Add Gaussians of the given areas to the rows of ``out``, channel-integrated.

    Each row is evaluated only within +-9 sigma of its centre (the rest holds < 1e-18).
    """
    rows = np.flatnonzero(area != 0)
    if not len(rows):
        return
    c, s = centres[rows], sigma[rows]
    n_ch = out.shape[1]
    start = np.clip(np.searchsorted(edges, c - 9.0 * s) - 1, 0, n_ch)
    stop = np.clip(np.searchsorted(edges, c + 9.0 * s) + 1, 0, n_ch)
    width = int((stop - start).max()) + 1
    if width <= 1:
        return
    # Edges beyond the axis continue the last channel's width; their channels are dropped.
    step = edges[-1] - edges[-2]
    padded = np.concatenate([edges, edges[-1] + step * np.arange(1, width + 1)])
    idx = start[:, None] + np.arange(width)[None, :]
    contents = _per_channel(ndtr((padded[idx] - c[:, None]) / s[:, None]))
    cols = idx[:, :-1]
    keep = cols < n_ch
    r = np.broadcast_to(rows[:, None], cols.shape)
    out[r[keep], cols[keep]] += (area[rows][:, None] * contents)[keep]


def _shelf(edges: np.ndarray, centres: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """A flat distribution on [0, E] convolved with the Gaussian (unit area), per channel.

    Its CDF is ``(I(x) - I(x - E)) / E`` with ``I(y) = y Phi(y / s) + s phi(y / s)``; ``I(y)`` is
    ``max(y, 0)`` beyond 9 sigma, so the special functions are evaluated near 0 and E only.
    """
    s = np.broadcast_to(sigma[:, None], (len(centres), len(edges)))
    c = np.maximum(centres, 1e-6)[:, None]

    def integral_of_cdf(y: np.ndarray) -> np.ndarray:
        out = np.maximum(y, 0.0)
        near = np.abs(y) < 9.0 * s
        yn, sn = y[near], s[near]
        out[near] = yn * ndtr(yn / sn) + sn * np.exp(-0.5 * (yn / sn) ** 2) / np.sqrt(2.0 * np.pi)
        return out

    x = np.broadcast_to(edges[None, :], s.shape)
    return _per_channel((integral_of_cdf(x) - integral_of_cdf(x - c)) / c)


def _tail(
    edges: np.ndarray, centres: np.ndarray, sigma: np.ndarray, decay: np.ndarray
) -> np.ndarray:
    """A one-sided exponential below E (decay length ``decay``) convolved with the Gaussian.

    CDF ``Phi(y / s) + exp(y / d + s^2 / 2d^2) Phi(-y / s - s / d)`` with ``y = x - E``: 0 more
    than 40 decay lengths below E (< 1e-17 there) and 1 more than 9 sigma above.
    """
    y = edges[None, :] - centres[:, None]
    s = np.broadcast_to(sigma[:, None], y.shape)
    lam = np.broadcast_to(1.0 / decay[:, None], y.shape)
    cdf = (y > 9.0 * s).astype(float)
    near = (y > -40.0 / lam) & ~(y > 9.0 * s)
    yn, sn, ln = y[near], s[near], lam[near]
    t = yn / sn + ln * sn
    pos = t > 0
    # exp(lam y + lam^2 s^2 / 2) * Phi(-t), evaluated without overflow on both sides of t = 0.
    upper = 0.5 * erfcx(np.where(pos, t, 0.0) / np.sqrt(2.0)) * np.exp(-0.5 * (yn / sn) ** 2)
    lower = np.exp(np.minimum(ln * yn + 0.5 * (ln * sn) ** 2, 0.0)) * ndtr(-np.where(pos, 0.0, t))
    cdf[near] = ndtr(yn / sn) + np.where(pos, upper, lower)
    return _per_channel(cdf)


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

    A row sums to 1 when its peak, escape peaks, tail and shelf lie inside the axis.

    Parameters
    ----------
    instrument : Instrument
        Resolution, line-shape parameters and energy axis.
    energies_kev : array
        Photon energies (line energies or bin centres).
    widths_kev : array, optional
        Bin widths: a bin's Gaussian and escape peaks are rendered as ``subdivisions`` equal
        sub-peaks across its width (tail and shelf, which are broad, from the bin centre).
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
    binned = widths_kev is not None and bool(np.any(np.asarray(widths_kev) > 0))
    widths = np.zeros_like(e) if widths_kev is None else np.asarray(widths_kev, dtype=float)
    extra = np.zeros_like(e) if extra_fwhm_kev is None else np.asarray(extra_fwhm_kev, dtype=float)
    det = instrument.detector
    edges = _channel_edges(instrument.axis)

    def sigma_at(energy: np.ndarray) -> np.ndarray:
        fwhm = np.sqrt(instrument.fwhm_kev(np.clip(energy, 0.0, None)) ** 2 + extra**2)
        # A floor of 1 eV keeps zero-energy escape rows (weight 0) finite.
        return np.maximum(fwhm, 1e-3) / _FWHM_PER_SIGMA

    tail, shelf = tail_and_shelf_fractions(instrument, e)
    out = np.zeros((len(e), len(edges) - 1))
    if np.any(shelf > 0):
        out += shelf[:, None] * _shelf(edges, e, sigma_at(e))
    if np.any(tail > 0):
        sigma = sigma_at(e)
        decay = np.maximum(det.tail_slope_fwhm * sigma * _FWHM_PER_SIGMA, 1e-3)
        out += tail[:, None] * _tail(edges, e, sigma, decay)
    main = 1.0 - tail - shelf
    offsets = (np.arange(subdivisions) + 0.5) / subdivisions - 0.5 if binned else np.zeros(1)
    weight = 1.0 / len(offsets)
    for off in offsets:
        centres = e + off * widths
        fractions = escape_fractions(centres) if escape else (np.zeros_like(e),) * 2
        peak = main - fractions[0] - fractions[1]
        _add_gaussians(out, edges, centres, sigma_at(centres), weight * peak)
        for frac, (line_kev, _, _) in zip(fractions, _si_k_emission(), strict=True):
            esc_e = centres - line_kev
            _add_gaussians(out, edges, esc_e, sigma_at(esc_e), weight * frac)
    return out


def _rebin(counts: np.ndarray, edges_from: np.ndarray, edges_to: np.ndarray) -> np.ndarray:
    """Counts on other channel edges (linear in the cumulative counts; totals conserved)."""
    cum = np.concatenate([np.zeros((*counts.shape[:-1], 1)), np.cumsum(counts, axis=-1)], axis=-1)
    flat = cum.reshape(-1, cum.shape[-1])
    out = np.stack([np.interp(edges_to, edges_from, row) for row in flat])
    return np.diff(out, axis=-1).reshape(*counts.shape[:-1], len(edges_to) - 1)


def pair_sums(
    counts: np.ndarray, axis: EnergyAxis, *, exclude_self_pairs: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of every pair of photons placed at ``E1 + E2``, on a linear ``axis``.

    Returns ``(on_axis, total)``: the self-convolution of ``counts`` (..., C) on the energy axis
    (``E_i + E_k`` falls in channel ``i + k + offset / gain``), cut to the axis, and the sum over
    all pairs, those beyond the axis included (shape (..., 1)). ``exclude_self_pairs`` removes
    each count paired with itself (``S_i`` at ``2 i``): for Poisson counts this makes the result
    an unbiased estimate of the expected spectrum's self-convolution.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros(100); s[10] = 2.0; s[30] = 1.0
    >>> on_axis, total = pair_sums(s, EnergyAxis(0.0, 0.1, 100))
    >>> np.flatnonzero(on_axis > 1e-9).tolist(), round(float(total[0]), 6)
    ([20, 40, 60], 9.0)
    """
    n = counts.shape[-1]
    spec = np.fft.rfft(counts, 2 * n, axis=-1)
    conv = np.fft.irfft(spec * spec, 2 * n, axis=-1)
    if exclude_self_pairs:
        conv[..., 0 : 2 * n : 2] -= counts
    conv = np.clip(conv, 0.0, None)
    shift = round(axis.offset_kev / axis.gain_kev)
    out = np.zeros((*conv.shape[:-1], n))
    src = np.arange(n)
    dst = src + shift
    ok = (dst >= 0) & (dst < n)
    out[..., dst[ok]] = conv[..., src[ok]]
    return out, conv.sum(axis=-1, keepdims=True)


def add_pileup(
    counts: np.ndarray, axis: EnergyAxis, *, live_time_s: float, resolving_time_s: float
) -> np.ndarray:
    """Add sum peaks: two photons within ``resolving_time_s`` are counted as one at E1 + E2.

    For a spectrum S (counts in ``live_time_s``) the expected pile-up counts are
    ``tau / T * (S * S)`` (self-convolution on the energy axis); the pair's two single counts are
    removed. The pile-up share of the counts is therefore ``tau * rate``: it grows with the count
    rate and does not change with the live time. Works on (..., C) arrays; an axis with a
    quadratic term is handled on a linear grid of the same range.

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
    n = counts.shape[-1]
    linear = axis
    single = counts
    if axis.quadratic_kev != 0.0:
        e = axis.energies
        linear = EnergyAxis(float(e[0]), float((e[-1] - e[0]) / (n - 1)), n)
        single = _rebin(counts, _channel_edges(axis), _channel_edges(linear))
    pairs, all_pairs = pair_sums(single, linear)
    out = pairs * (resolving_time_s / live_time_s)
    if linear is not axis:
        out = _rebin(out, _channel_edges(linear), _channel_edges(axis))
    total = counts.sum(axis=-1, keepdims=True)
    lost = 2.0 * all_pairs * (resolving_time_s / live_time_s)
    scale = np.where(total > 0, 1.0 - lost / np.where(total > 0, total, 1.0), 1.0)
    return counts * np.clip(scale, 0.0, None) + out
