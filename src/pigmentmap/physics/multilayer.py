"""Batched fundamental-parameter XRF of layered samples.

For N stacks of L layers at once (arrays, no Python loop over stacks):

* primary fluorescence (Sherman): for every excitation energy, line and layer,
  ``C sigma(E0) / sin(psi_in) * exp(-above) * (1 - exp(-chi rho t)) / chi``,
  ``chi = mu(E0) / sin(psi_in) + mu(E_line) / sin(psi_out)``, exact per layer;
* secondary fluorescence within and between layers: every layer is cut into sub-layers; the
  primary line photons emitted in sub-layer a (isotropically) are absorbed in sub-layer b with
  the probability ``1/(2 t_a) [E3(g) - E3(g + t_a) - E3(g + t_b) + E3(g + t_a + t_b)]`` (the
  exact slab-to-slab integral of the isotropic kernel E1/2, optical depths at the line energy),
  of which the target element takes ``C sigma_q(E_line) / mu(E_line)``;
* Rayleigh and Compton scatter of every excitation energy at the instrument's scattering angle.

Units: fluorescence results are photons emitted into 4 pi, attenuated as seen from the detector's
direction, per incident photon of each excitation entry times the entry's weight; the caller
multiplies by the detector's solid angle / 4 pi. Scatter results are per steradian (the caller
multiplies by the solid angle). Detector efficiency and incident photon numbers are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pigmentmap.physics.expint import expn3

_TINY = 1e-30


def _exclusive_cumsum(x: np.ndarray, axis: int) -> np.ndarray:
    c = np.cumsum(x, axis=axis)
    return c - x


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > _TINY)


def _slab_integral(chi: np.ndarray, rho_t: np.ndarray) -> np.ndarray:
    """(1 - exp(-chi rho_t)) / chi; expm1 keeps it exact for small chi rho_t.

    chi is zero only for the empty padding layers, which also have rho_t = 0 (result 0).
    """
    return _safe_div(-np.expm1(-chi * rho_t), chi)


@dataclass(frozen=True)
class LayerOptics:
    """Per-batch attenuation of each layer.

    Attributes
    ----------
    rho_t : (N, L)
        Mass thickness, g/cm2.
    mu_in : (N, L, G)
        Mass attenuation at the excitation energies.
    mu_line : (N, L, J)
        Mass attenuation at the line energies.
    conc_line : (N, L, J)
        Mass fraction of each line's element.
    """

    rho_t: np.ndarray
    mu_in: np.ndarray
    mu_line: np.ndarray
    conc_line: np.ndarray


def primary(
    optics: LayerOptics,
    *,
    sigma: np.ndarray,
    weights: np.ndarray,
    sin_in: float,
    sin_out: float,
) -> np.ndarray:
    """Primary fluorescence per layer, shape (N, L, J).

    Parameters
    ----------
    optics : LayerOptics
    sigma : (J, G)
        Line production cross sections (cm2/g of element) at the excitation energies.
    weights : (G,)
        Relative number of incident photons of each excitation entry.
    sin_in, sin_out : float
        Sines of the incidence and take-off angles.
    """
    rho_t = optics.rho_t
    above_in = np.exp(-_exclusive_cumsum(optics.mu_in * rho_t[:, :, None], 1) / sin_in)
    above_out = np.exp(-_exclusive_cumsum(optics.mu_line * rho_t[:, :, None], 1) / sin_out)
    n, n_layers, _ = optics.mu_in.shape
    out = np.zeros((n, n_layers, sigma.shape[0]))
    ws = sigma * weights[None, :]
    for layer in range(n_layers):
        chi = optics.mu_in[:, layer, :, None] / sin_in + optics.mu_line[:, layer, None, :] / sin_out
        integral = _slab_integral(chi, rho_t[:, layer, None, None])
        out[:, layer] = np.einsum("ng,jg,ngj->nj", above_in[:, layer], ws, integral, optimize=True)
    return out * above_out * optics.conc_line / sin_in


def _geometric_fractions(total: np.ndarray, n: int) -> np.ndarray:
    """Ratios r**k / sum for n parts whose sum is ``total`` times the first part (>= n)."""
    lo, hi = np.ones_like(total), np.full_like(total, 64.0)
    for _ in range(60):  # geometric ratio r with (r**n - 1) / (r - 1) = total
        mid = 0.5 * (lo + hi)
        s = np.where(mid > 1.0 + 1e-12, (mid**n - 1.0) / np.maximum(mid - 1.0, 1e-300), float(n))
        too_big = s > total
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
    powers = (0.5 * (lo + hi))[..., None] ** np.arange(n, dtype=float)
    return powers / powers.sum(axis=-1, keepdims=True)


def sublayer_fractions(
    optical_depth: np.ndarray, n_sub: int, *, first: float | np.ndarray = 0.2, deep: float = 4.0
) -> np.ndarray:
    """Thickness fractions of ``n_sub`` sub-layers of each layer, shape (..., n_sub).

    ``optical_depth`` is the layer's depth for the incident beam along its path. A layer thinner
    than ``n_sub * first`` is cut evenly. Otherwise the sub-layers grow geometrically from a top
    one ``first`` deep; when the layer is deeper than ``deep`` (where neither primary production
    nor the escape of fluorescence matter any more), the last sub-layer holds everything below.

    Examples
    --------
    >>> import numpy as np
    >>> f = sublayer_fractions(np.array([0.1, 50.0]), 4)
    >>> bool(np.allclose(f.sum(axis=-1), 1.0)), bool(np.allclose(f[0], 0.25))
    (True, True)
    >>> round(float(f[1, 0] * 50.0), 3), bool(f[1, -1] * 50.0 >= 50.0 - 4.0)
    (0.2, True)
    """
    tau = np.asarray(optical_depth, dtype=float)
    first_depth = np.broadcast_to(np.asarray(first, dtype=float), tau.shape)
    lumped = tau > deep
    n_geo = np.where(lumped, n_sub - 1, n_sub)
    covered = np.minimum(tau, deep)
    out = np.empty((*tau.shape, n_sub))
    for n in {n_sub - 1, n_sub} - {0}:
        sel = n_geo == n
        if not sel.any():
            continue
        parts = _geometric_fractions(np.maximum(covered[sel] / first_depth[sel], float(n)), n)
        parts = parts * (covered[sel] / np.where(tau[sel] > 0, tau[sel], 1.0))[..., None]
        parts = np.where(tau[sel][..., None] > 0, parts, 1.0 / n)
        if n == n_sub:
            out[sel] = parts
        else:
            out[sel] = np.concatenate([parts, 1.0 - parts.sum(axis=-1, keepdims=True)], axis=-1)
    return out


def _sublayers(
    optics: LayerOptics,
    *,
    sigma: np.ndarray,
    weights: np.ndarray,
    sin_in: float,
    sin_out: float,
    n_sub: int,
) -> np.ndarray:
    """Sub-layer thickness fractions of every layer for a polychromatic beam, (N, L, S).

    The top sub-layer is 0.2 deep for the mean attenuation of the photons that produce lines in
    the layer (soft photons, absorbed near the surface); the sub-layers then grow until they
    reach 4 deep for the most penetrating scale: the harmonic mean attenuation of those photons
    (their mean penetration depth) or, if smaller, the escape depth of the layer's lines. Below
    that, nothing is produced or escapes any more and one sub-layer holds the rest.
    """
    w = weights[None, None, :] * np.einsum("nlj,jg->nlg", optics.conc_line, sigma)
    total = w.sum(axis=2)
    w = np.where(total[..., None] > 0, w, weights[None, None, :])
    w = w / w.sum(axis=2, keepdims=True)
    mu_fast = (w * optics.mu_in).sum(axis=2)
    mu_slow = 1.0 / np.maximum((w / np.maximum(optics.mu_in, _TINY)).sum(axis=2), _TINY)
    line_mu = np.where(optics.conc_line > 0, optics.mu_line, np.inf).min(axis=2)
    mu_slow = np.minimum(mu_slow, line_mu * sin_in / sin_out)
    first = 0.2 * _safe_div(mu_slow, mu_fast)
    first = np.where(first > 0, np.minimum(first, 0.2), 0.2)
    return sublayer_fractions(mu_slow * optics.rho_t / sin_in, n_sub, first=first)


def secondary(
    optics: LayerOptics,
    *,
    sigma: np.ndarray,
    weights: np.ndarray,
    sigma_secondary: np.ndarray,
    sin_in: float,
    sin_out: float,
    n_sub: int = 6,
) -> np.ndarray:
    """Secondary fluorescence per layer, shape (N, L, J); within and between layers.

    Parameters
    ----------
    sigma_secondary : (J, J)
        ``[q, j]``: production cross section of line q (cm2/g of its element) by photons of
        line j's energy.
    n_sub : int
        Sub-layers per layer for the depth discretisation.
    """
    n, n_layers, _ = optics.mu_in.shape
    frac = _sublayers(
        optics, sigma=sigma, weights=weights, sin_in=sin_in, sin_out=sin_out, n_sub=n_sub
    )
    m = n_layers * n_sub
    rho_t = (optics.rho_t[:, :, None] * frac).reshape(n, m)
    mu_in = np.repeat(optics.mu_in, n_sub, axis=1)
    mu_line = np.repeat(optics.mu_line, n_sub, axis=1)
    conc = np.repeat(optics.conc_line, n_sub, axis=1)

    # Primary line photons emitted (into 4 pi) in each sub-layer per incident photon.
    depth_in = _exclusive_cumsum(mu_in * rho_t[:, :, None], 1) / sin_in
    absorbed_in = np.exp(-depth_in) * _safe_div(
        -np.expm1(-mu_in * rho_t[:, :, None] / sin_in), mu_in
    )
    emitted = np.einsum("nmg,jg->nmj", absorbed_in, sigma * weights[None, :], optimize=True) * conc

    # Slab-to-slab transfer of line photons (optical depths along the normal).
    tau = mu_line * rho_t[:, :, None]  # (N, M, J)
    bounds = np.concatenate([np.zeros((n, 1, tau.shape[2])), np.cumsum(tau, axis=1)], axis=1)
    # E3(|c_i - c_k|) for every pair of sub-layer boundaries; symmetric, so look up i < k only.
    upper_i, upper_k = np.triu_indices(m + 1, 1)
    e3 = np.full((n, m + 1, m + 1, tau.shape[2]), 0.5)  # E3(0) on the diagonal
    pairs = expn3(bounds[:, upper_k] - bounds[:, upper_i])  # bounds increase with depth
    e3[:, upper_i, upper_k] = pairs
    e3[:, upper_k, upper_i] = pairs
    # H[a, b] = D[b, a+1] - D[b, a] - D[b+1, a+1] + D[b+1, a]; F = H / (2 t_a) + delta_ab
    # D symmetric, so each term is a slice indexed [a, b]; H is symmetric in a and b.
    h = e3[:, 1:, :-1] - e3[:, :-1, :-1] - e3[:, 1:, 1:] + e3[:, :-1, 1:]
    source = _safe_div(emitted, 2.0 * tau)
    absorbed = np.einsum("naj,nabj->nbj", source, h, optimize=True) + emitted

    # Share taken by each target line's element, then detection from the sub-layer.
    per_mass = _safe_div(absorbed, mu_line)  # (N, M, J) photons absorbed / mu
    produced = np.einsum("nbj,qj->nbq", per_mass, sigma_secondary, optimize=True) * conc
    depth_out = np.exp(-_exclusive_cumsum(tau, 1) / sin_out)
    escape = np.where(tau > 1e-9, _safe_div(-np.expm1(-tau / sin_out), tau / sin_out), 1.0)
    # Interpolated E3 differences can round to -1e-18 where nothing is absorbed.
    detected = np.clip(produced * depth_out * escape, 0.0, None)
    return detected.reshape(n, n_layers, n_sub, -1).sum(axis=2)


def scatter(
    mu_in: np.ndarray,
    mu_out: np.ndarray,
    rho_t: np.ndarray,
    dcs: np.ndarray,
    *,
    weights: np.ndarray,
    sin_in: float,
    sin_out: float,
) -> np.ndarray:
    """Scattered photons per sr, shape (N, G).

    Parameters
    ----------
    mu_in : (N, L, G)
        Attenuation at the incident energies.
    mu_out : (N, L, G)
        Attenuation at the scattered energies (equal to ``mu_in`` for Rayleigh).
    rho_t : (N, L)
    dcs : (N, L, G)
        Differential cross section of each layer (cm2/g/sr) at the scattering angle.
    """
    above = np.exp(
        -_exclusive_cumsum(mu_in * rho_t[:, :, None], 1) / sin_in
        - _exclusive_cumsum(mu_out * rho_t[:, :, None], 1) / sin_out
    )
    chi = mu_in / sin_in + mu_out / sin_out
    integral = _slab_integral(chi, rho_t[:, :, None])
    return (above * integral * dcs).sum(axis=1) * weights[None, :] / sin_in
