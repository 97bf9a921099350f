"""Energy calibration from a spectrum's own peaks: robust peak matching, then a full-spectrum fit.

The engine behind ``pigmentmap instrument fit`` and ``--recalibrate``:

1. **Peaks**: the SNIP-subtracted spectrum's significant peaks, each with a Gaussian centroid,
   width and area (in channels).
2. **Hypotheses**: every pair of strong peaks matched to every pair of candidate lines (the
   strong K, L and M lines of Na to U, which includes every tube anode's own lines) gives an
   (offset, gain); hypotheses outside the search bounds, or whose implied peak widths no silicon
   detector could have, are dropped; the rest are scored by how many peaks they put on a line.
3. **Consistency**: the best-scoring hypotheses are judged by a non-negative fit of the whole
   spectrum with element templates (each element's lines with their relative intensities, escape
   peaks included): a wrong pairing leaves the partner lines of its elements unexplained, so it
   fits badly (Co K-alpha put on an Fe K-beta peak needs a Co K-beta where there is none).
4. **Refinement**: offset, gain (optionally a quadratic term) and the resolution (noise and Fano)
   are refined by least squares on that fit (variable projection: the amplitudes are solved
   non-negatively inside every evaluation).
5. **Residuals**: each strong peak's measured centroid minus the fitted model's apex there, with
   the line that dominates it; peaks that nothing explains (Compton, sum peaks, a synchrotron's
   elastic line) are listed apart and kept out of the RMS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import xraylib
from scipy.optimize import least_squares, nnls
from scipy.signal import find_peaks

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import MN_KA_KEV, SI_PAIR_ENERGY_KEV
from pigmentmap.physics.detector import escape_fraction
from pigmentmap.preprocess.snip import snip_background

# FWHM^2 = noise^2 + 8 ln2 * eps * F * E (eps: electron-hole pair energy in Si).
_EPS_SI_KEV = SI_PAIR_ENERGY_KEV
_FWHM_SQ = 8.0 * math.log(2.0)
_SIGMA_PER_FWHM = 1.0 / math.sqrt(_FWHM_SQ)
_SI_KA_KEV = 1.73998
_SI_KB_KEV = 1.83594
# Physical limits of a silicon detector's resolution at Mn K-alpha (eV).
FWHM_MN_RANGE_EV = (50.0, 500.0)

_K_LINES = ("KL2", "KL3", "KM2", "KM3", "KN2", "KN3")
_L_LINES = ("L3M5", "L3M4", "L2M4", "L3N5", "L1M3", "L1M2", "L2N4", "L3M1", "L1N3", "L2M1")
_M_LINES = ("M5N7", "M5N6", "M4N6")
# Not candidates: elements with no stable isotope and the noble gases but argon (air).
_NEVER_SEEN = frozenset({36, 43, 54, 61, 84, 85, 86, 87, 88, 89, 91})


@dataclass(frozen=True)
class Family:
    """The lines of one element's shell family: energies (keV) and relative intensities."""

    element: str
    family: str
    energies_kev: np.ndarray
    weights: np.ndarray

    @property
    def name(self) -> str:
        """``"Fe K"``."""
        return f"{self.element} {self.family}"

    @property
    def main_kev(self) -> float:
        """Energy of the strongest line."""
        return float(self.energies_kev[np.argmax(self.weights)])


def _excitation_kev(z: int, shell: int) -> float:
    return 1.3 * float(xraylib.EdgeEnergy(z, shell)) + 2.0


@cache
def line_families(min_z: int = 11, max_z: int = 92) -> tuple[Family, ...]:
    """Every element's K, L and M families with thin-film relative line intensities.

    Elements with no stable isotope and the noble gases other than argon are left out.

    Intensities are xraylib production cross sections (cascades included) at an excitation
    energy a little above the family's deepest edge; lines below 0.9 keV are left out.

    Examples
    --------
    >>> fams = {f.name: f for f in line_families()}
    >>> round(fams["Fe K"].main_kev, 3)
    6.404
    >>> bool(fams["Pb L"].weights.sum() > 0)
    True
    """
    out = []
    for z in range(min_z, max_z + 1):
        if z in _NEVER_SEEN:
            continue
        element = xraylib.AtomicNumberToSymbol(z)
        for family, lines, shell in (
            ("K", _K_LINES, xraylib.K_SHELL),
            ("L", _L_LINES, xraylib.L1_SHELL),
            ("M", _M_LINES, xraylib.M1_SHELL),
        ):
            if family == "M" and z < 56:
                continue
            try:
                excitation = _excitation_kev(z, shell)
            except ValueError:
                continue
            energies, weights = [], []
            for t in lines:
                code = getattr(xraylib, f"{t}_LINE")
                try:
                    e = float(xraylib.LineEnergy(z, code))
                    w = float(xraylib.CS_FluorLine_Kissel_Cascade(z, code, excitation))
                except ValueError:
                    continue
                if e >= 0.9 and w > 0:
                    energies.append(e)
                    weights.append(w)
            if energies:
                wa = np.array(weights)
                keep = wa >= 0.01 * wa.max()
                out.append(Family(element, family, np.array(energies)[keep], wa[keep] / wa.max()))
    return tuple(out)


@cache
def candidate_lines() -> tuple[np.ndarray, tuple[str, ...]]:
    """Sorted energies (keV) and labels of the lines strong enough to anchor a calibration:
    within each family, lines at least 15 % of the strongest, and the zero-energy peak."""
    energies, labels = [], []
    for fam in line_families():
        for e, w in zip(fam.energies_kev, fam.weights, strict=True):
            if w >= 0.15:
                energies.append(float(e))
                labels.append(f"{fam.name} {e:.3f}")
    # The detector's zero-energy (noise / strobe) peak anchors many uncalibrated spectra.
    energies.append(0.0)
    labels.append("zero peak")
    order = np.argsort(energies)
    return np.array(energies)[order], tuple(labels[i] for i in order)


@dataclass(frozen=True)
class Peak:
    """A peak of the net spectrum: Gaussian centroid, sigma (channels), area, significance."""

    channel: float
    sigma_ch: float
    area: float
    significance: float


@dataclass(frozen=True)
class PeakResidual:
    """A strong peak after calibration: the line that explains it and the miss in eV."""

    label: str
    expected_kev: float
    measured_kev: float
    residual_ev: float
    area: float


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    axis : EnergyAxis
        The fitted calibration.
    noise_fwhm_kev, fano : float
        Fitted resolution: FWHM(E)^2 = noise^2 + 8 ln2 * 3.85 eV * fano * E.
    peaks : tuple of PeakResidual
        Explained peaks, strongest first.
    unexplained_kev : tuple of float
        Energies of significant peaks no element line explains (scatter, sum peaks, ...).
    families : tuple of str
        Element line families the fit needed (``"Fe K"``), strongest first.
    amplitudes : dict
        Fitted counts of each of those families.
    """

    axis: EnergyAxis
    noise_fwhm_kev: float
    fano: float
    peaks: tuple[PeakResidual, ...]
    unexplained_kev: tuple[float, ...]
    families: tuple[str, ...]
    amplitudes: dict[str, float]

    @property
    def fwhm_mn_ev(self) -> float:
        """FWHM at Mn K-alpha in eV."""
        return 1e3 * math.sqrt(
            self.noise_fwhm_kev**2 + _FWHM_SQ * _EPS_SI_KEV * self.fano * MN_KA_KEV
        )

    def rms_ev(self, lo_kev: float = 3.0, hi_kev: float = 15.0) -> float:
        """RMS residual of the explained peaks between ``lo_kev`` and ``hi_kev`` (nan if none)."""
        r = [p.residual_ev for p in self.peaks if lo_kev <= p.expected_kev <= hi_kev]
        return float(np.sqrt(np.mean(np.square(r)))) if r else float("nan")

    def residual_table(self) -> str:
        """One line per explained peak: line, expected and measured energy, residual."""
        rows = [f"{'peak':18} {'line keV':>9} {'found keV':>9} {'residual':>9}"]
        for p in sorted(self.peaks, key=lambda q: q.expected_kev):
            rows.append(
                f"{p.label:18} {p.expected_kev:9.4f} {p.measured_kev:9.4f} {p.residual_ev:+7.1f} eV"
            )
        return "\n".join(rows)


# --------------------------------------------------------------------------- peaks
def _net(spectrum: np.ndarray, half_window: int) -> np.ndarray:
    return spectrum - snip_background(spectrum, half_window=half_window)


def find_spectrum_peaks(
    spectrum: np.ndarray, *, min_significance: float = 6.0, max_peaks: int = 30
) -> tuple[list[Peak], np.ndarray]:
    """Significant peaks of a summed spectrum, strongest first, and its net spectrum.

    Peaks are local maxima of the lightly smoothed, SNIP-subtracted spectrum whose prominence
    stands 4 Poisson sigmas above their surroundings; the SNIP window adapts to the peaks' widths
    in channels, so no calibration is needed. A broad hump (Compton scatter) is one peak.

    Examples
    --------
    >>> import numpy as np
    >>> ch = np.arange(1024.0)
    >>> s = 50 + 5e4 * np.exp(-0.5 * ((ch - 300.3) / 4) ** 2) + 2e4 * np.exp(-0.5 * ((ch - 600) / 5) ** 2)
    >>> peaks, _ = find_spectrum_peaks(s)
    >>> [round(p.channel, 1) for p in peaks]
    [300.3, 600.0]
    """
    from scipy.ndimage import gaussian_filter1d

    y = np.asarray(spectrum, dtype=np.float64)
    if y.ndim != 1 or len(y) < 32 or not np.all(np.isfinite(y)):
        raise PigmentmapError(
            "calibration needs a 1-D spectrum of finite counts, 32 channels or more"
        )
    y = np.clip(y, 0.0, None)
    ys = gaussian_filter1d(y, 1.0)
    noise = 4.0 * np.sqrt(np.maximum(ys, 1.0))
    # First pass with a generous window to learn the typical peak width in channels.
    net = _net(ys, max(4, len(y) // 64))
    idx, props = find_peaks(net, prominence=noise, width=1)
    if len(idx) == 0:
        return [], net
    strongest = np.argsort(-props["prominences"])[:8]
    fwhm_ch = float(np.median(props["widths"][strongest]))
    net = _net(ys, max(3, round(2.5 * fwhm_ch)))
    bg = ys - net
    idx, props = find_peaks(net, prominence=noise, width=0.8)
    peaks: list[Peak] = []
    for p, w in zip(idx, props["widths"], strict=True):
        centre, sigma = _gauss_centre(net, p, w)
        if not abs(centre - p) <= max(2.0, w) or not 0.2 < sigma < len(y) / 8:
            continue
        half = max(2, round(1.2 * 2.3548 * sigma))
        lo, hi = max(0, p - half), min(len(y), p + half + 1)
        area = float(np.clip(net[lo:hi], 0.0, None).sum())
        significance = area / math.sqrt(float(np.maximum(bg[lo:hi], 0).sum()) + area + 1.0)
        if significance >= min_significance:
            peaks.append(Peak(centre, sigma, area, significance))
    peaks.sort(key=lambda q: -q.area)
    return peaks[:max_peaks], net


def _gauss_centre(net: np.ndarray, p: int, width: float) -> tuple[float, float]:
    """Centroid and sigma of the peak at channel ``p`` by a log-parabola through its top."""
    half = max(1, round(0.35 * width))
    lo, hi = max(0, p - half), min(len(net), p + half + 1)
    x = np.arange(lo, hi, dtype=float)
    y = net[lo:hi]
    if len(x) >= 3 and np.all(y > 0):
        a, b, _ = np.polyfit(x - p, np.log(y), 2, w=np.sqrt(y))
        if a < 0:
            return float(p - b / (2 * a)), float(math.sqrt(-1.0 / (2 * a)))
    return float(p), float(width / 2.3548)


# --------------------------------------------------------------------------- templates
def _fwhm(e: np.ndarray, noise: float, fano: float) -> np.ndarray:
    return np.sqrt(noise**2 + _FWHM_SQ * _EPS_SI_KEV * fano * np.clip(e, 0.0, None))


def templates(
    families: tuple[Family, ...],
    energies: np.ndarray,
    gain_kev: np.ndarray,
    *,
    noise_kev: float,
    fano: float,
) -> np.ndarray:
    """Counts per channel of unit-area families, shape (len(families), channels).

    ``energies`` are the channel centres, ``gain_kev`` the channel widths (keV per channel).

    Examples
    --------
    >>> import numpy as np
    >>> fams = tuple(f for f in line_families() if f.name == "Cu K")
    >>> e = 0.01 * np.arange(2000)
    >>> t = templates(fams, e, np.full(2000, 0.01), noise_kev=0.1, fano=0.114)
    >>> round(float(t.sum()), 2)
    1.0
    """
    out = np.zeros((len(families), len(energies)))
    for k, fam in enumerate(families):
        le, lw = fam.energies_kev, fam.weights / fam.weights.sum()
        esc = escape_fraction(le)
        centres = np.concatenate([le, le - _SI_KA_KEV])
        amps = np.concatenate([lw * (1 - esc), lw * esc])
        ok = (amps > 0) & (centres > 0.3)
        centres, amps = centres[ok], amps[ok]
        sig = _fwhm(centres, noise_kev, fano) * _SIGMA_PER_FWHM
        near = np.abs(energies[None, :] - centres[:, None]) < 6 * sig[:, None]
        z = np.where(near, (energies[None, :] - centres[:, None]) / sig[:, None], 50.0)
        g = np.exp(-0.5 * z * z) / (sig[:, None] * math.sqrt(2 * math.pi))
        out[k] = (amps[:, None] * g).sum(axis=0) * gain_kev
    return out


def _energies(ch: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    offset, gain = params[0], params[1]
    quad = params[2] if len(params) > 2 else 0.0
    return offset + gain * ch + quad * ch**2, gain + 2 * quad * ch


def _fit_families(
    families: tuple[Family, ...],
    net: np.ndarray,
    weight: np.ndarray,
    window: np.ndarray,
    ch: np.ndarray,
    params: np.ndarray,
    noise: float,
    fano: float,
    extra: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(amplitudes, weighted residual, templates) of a non-negative fit of the net spectrum.

    ``extra`` (X, C) holds fixed-shape columns fitted alongside (broad scatter humps).
    """
    e, g = _energies(ch, params)
    t = templates(families, e, g, noise_kev=noise, fano=fano)
    full = np.vstack([t, extra]) if len(extra) else t
    a = (full[:, window] * weight[window]).T
    b = net[window] * weight[window]
    amp, _ = nnls(a, b, maxiter=50 * a.shape[1])
    return amp[: len(families)], b - a @ amp, t


def is_broad(
    peak: Peak, params: np.ndarray, *, noise_kev: float = 0.12, fano: float = 0.114
) -> bool:
    """Whether ``peak`` is too wide for one detector line under calibration ``params``
    (offset, gain): more than 1.8 times the FWHM of that resolution (a scatter hump).

    Examples
    --------
    >>> import numpy as np
    >>> is_broad(Peak(1000.0, 30.0, 1e4, 50.0), np.array([0.0, 0.02]))
    True
    """
    e = params[0] + params[1] * peak.channel
    return bool(
        2.3548 * peak.sigma_ch * params[1] > 1.8 * float(_fwhm(np.array([e]), noise_kev, fano)[0])
    )


def _broad_columns(peaks: list[Peak], n: int, params: np.ndarray) -> np.ndarray:
    """Unit Gaussians (in channels) for the peaks too wide for a detector line under ``params``:
    scatter humps, fitted freely so that no hypothesis gains by explaining them with lines."""
    ch = np.arange(n, dtype=np.float64)
    cols = []
    for p in peaks:
        if is_broad(p, params):
            cols.append(np.exp(-0.5 * ((ch - p.channel) / p.sigma_ch) ** 2))
    return np.array(cols) if cols else np.zeros((0, n))


# --------------------------------------------------------------------------- search
def _hypotheses(
    peaks: list[Peak],
    *,
    gain_range: tuple[float, float],
    offset_range: tuple[float, float],
    n_anchor: int = 8,
) -> np.ndarray:
    """(offset, gain) of every pairing of two strong peaks with two candidate lines."""
    lines, _ = candidate_lines()
    anchors = peaks[:n_anchor]
    out = []
    for i in range(len(anchors)):
        for j in range(i + 1, len(anchors)):
            ci, cj = anchors[i].channel, anchors[j].channel
            if abs(cj - ci) < 3:
                continue
            if ci > cj:
                ci, cj = cj, ci
            ea, eb = np.meshgrid(lines, lines, indexing="ij")
            up = eb > ea
            gain = (eb[up] - ea[up]) / (cj - ci)
            offset = ea[up] - gain * ci
            ok = (gain >= gain_range[0]) & (gain <= gain_range[1])
            ok &= (offset >= offset_range[0]) & (offset <= offset_range[1])
            out.append(np.column_stack([offset[ok], gain[ok]]))
    return np.vstack(out) if out else np.zeros((0, 2))


def _score(hyp: np.ndarray, peaks: list[Peak]) -> np.ndarray:
    """How well each hypothesis puts peaks on lines with plausible widths."""
    lines, _ = candidate_lines()
    ch = np.array([p.channel for p in peaks])
    sig_ch = np.array([p.sigma_ch for p in peaks])
    w = np.log1p(np.array([p.significance for p in peaks]))
    e = hyp[:, :1] + hyp[:, 1:2] * ch[None, :]  # (H, P)
    pos = np.clip(np.searchsorted(lines, e), 1, len(lines) - 1)
    d = np.minimum(np.abs(e - lines[pos - 1]), np.abs(e - lines[pos]))
    fwhm_found = 2.3548 * sig_ch[None, :] * hyp[:, 1:2]
    fwhm_lo = _fwhm(e, 0.04, 0.06)
    fwhm_hi = _fwhm(e, 0.45, 0.2) * 1.8  # blends (K-alpha1/2, L-beta groups) look wider
    plausible = (fwhm_found >= 0.6 * fwhm_lo) & (fwhm_found <= fwhm_hi) & (e > -0.05)
    tol = np.maximum(0.02, 0.3 * fwhm_found)
    return ((d <= tol) & plausible).astype(float) @ w - (~plausible).astype(float) @ w


def _distinct(hyp: np.ndarray, scores: np.ndarray, n: int, mid_ch: float) -> np.ndarray:
    order = np.argsort(-scores)
    kept: list[np.ndarray] = []
    for k in order:
        h = hyp[k]
        e_mid = h[0] + h[1] * mid_ch
        if all(
            abs(e_mid - (q[0] + q[1] * mid_ch)) > 0.03 or abs(h[1] / q[1] - 1) > 0.004 for q in kept
        ):
            kept.append(h)
        if len(kept) >= n:
            break
    return np.array(kept)


def calibrate(
    spectrum: np.ndarray,
    *,
    axis_hint: EnergyAxis,
    quadratic: bool = False,
    max_shift_kev: float = 0.4,
    max_gain_error: float = 0.05,
    min_energy_kev: float = 1.0,
    max_energy_kev: float | None = None,
    n_candidates: int = 25,
) -> Calibration:
    """Calibrate a summed spectrum from its own peaks.

    Parameters
    ----------
    spectrum : (C,) array
        Summed (or single) spectrum, counts.
    axis_hint : EnergyAxis
        The file's (or a user's approximate) calibration: the search stays within
        ``max_shift_kev`` of it at both ends of the axis and within ``max_gain_error`` of its
        gain. (A search without any starting calibration was tried on the real spectra of
        ``../shared/realdata`` and found wrong solutions; it is not offered.)
    quadratic : bool
        Also fit a quadratic term.
    min_energy_kev, max_energy_kev : float
        Energy window of the full-spectrum fit (default: 1 keV to the end of the axis).

    Returns
    -------
    Calibration

    Raises
    ------
    PigmentmapError
        Fewer than two significant peaks, no consistent match, or a fitted value outside a
        physical range (gain <= 0, FWHM at Mn K-alpha outside 50-500 eV).

    Examples
    --------
    >>> import numpy as np
    >>> fams = {f.name: f for f in line_families()}
    >>> ch = np.arange(2048.0)
    >>> true = EnergyAxis(0.05, 0.0101, 2048)
    >>> e = true.energies
    >>> mix = {"Ca K": 4e5, "Fe K": 8e5, "Cu K": 3e5, "Pb L": 6e5, "Sr K": 1e5}
    >>> t = templates(tuple(fams[n] for n in mix), e, np.full(2048, 0.0101), noise_kev=0.1, fano=0.114)
    >>> s = 30 + np.array(list(mix.values())) @ t
    >>> cal = calibrate(s, axis_hint=EnergyAxis(0.0, 0.01, 2048))
    >>> round(cal.axis.offset_kev, 3), round(cal.axis.gain_kev, 5)
    (0.05, 0.0101)
    >>> cal.rms_ev() < 5
    True
    """
    y = np.asarray(spectrum, dtype=np.float64)
    peaks, net = find_spectrum_peaks(y)
    if len(peaks) == 0:
        raise PigmentmapError("no recognisable peak in the spectrum (flat or pure noise?)")
    if len(peaks) == 1:
        raise PigmentmapError(
            "only one significant peak in the spectrum: a calibration needs at least two"
        )
    n = len(y)
    ch = np.arange(n, dtype=np.float64)
    g0, o0 = axis_hint.gain_kev, axis_hint.offset_kev
    if axis_hint.n_channels != n:
        raise PigmentmapError(
            f"the spectrum has {n} channels, its calibration {axis_hint.n_channels}"
        )
    gain_range = (g0 * (1 - max_gain_error), g0 * (1 + max_gain_error))
    offset_range = (o0 - max_shift_kev, o0 + max_shift_kev)
    hyp = _hypotheses(peaks, gain_range=gain_range, offset_range=offset_range)
    # The shift must stay within max_shift_kev at both ends of the axis.
    end_shift = (hyp[:, 0] - o0) + (hyp[:, 1] - g0) * (n - 1)
    hyp = hyp[np.abs(end_shift) <= max_shift_kev]
    scores = _score(hyp, peaks) if len(hyp) else np.zeros(0)
    best = _distinct(hyp, scores, n_candidates, n / 2) if len(hyp) else np.zeros((0, 2))
    best = np.vstack([[[o0, g0]], best])
    # Poisson weights with a 2 % model error, so that the strongest peak's shape does not decide.
    weight = 1.0 / np.sqrt(np.maximum(y, 1.0) + (0.02 * np.clip(net, 0.0, None)) ** 2)
    fams_all = line_families()
    narrow = [p for p in peaks if p.significance > 0]

    def window_for(params: np.ndarray) -> np.ndarray:
        e, _ = _energies(ch, params)
        hi = max_energy_kev if max_energy_kev is not None else float(e[-1])
        return (e >= min_energy_kev) & (e <= hi)

    def near_peaks(params: np.ndarray) -> tuple[Family, ...]:
        # A family is a candidate when its strongest line sits on a detected peak.
        e_peaks = params[0] + params[1] * np.array([p.channel for p in narrow])
        tol = np.maximum(0.03, 0.5 * _fwhm(e_peaks, 0.12, 0.114))
        return tuple(f for f in fams_all if np.any(np.abs(f.main_kev - e_peaks) < tol))

    trials = []
    for h in best:
        fams = near_peaks(h)
        if not fams:
            continue
        extra = _broad_columns(peaks, n, h)
        amp, res, _ = _fit_families(fams, net, weight, window_for(h), ch, h, 0.11, 0.114, extra)
        trials.append((float(res @ res), h, fams, amp, extra))
    if not trials:
        raise PigmentmapError("no consistent match between the spectrum's peaks and element lines")
    trials.sort(key=lambda tr: tr[0])
    _, h, fams, amp, extra = trials[0]
    fams = tuple(f for f, a in zip(fams, amp, strict=True) if a > 0)
    n_cal = 3 if quadratic else 2
    window = window_for(h)

    def residual(p: np.ndarray) -> np.ndarray:
        return _fit_families(
            fams, net, weight, window, ch, p[:n_cal], p[n_cal], p[n_cal + 1], extra
        )[1]

    params0 = np.array([h[0], h[1]] + ([0.0] if quadratic else []) + [0.11, 0.114])
    lo = [h[0] - 0.1, h[1] * 0.99] + ([-1e-6] if quadratic else []) + [0.005, 0.02]
    hi = [h[0] + 0.1, h[1] * 1.01] + ([1e-6] if quadratic else []) + [0.6, 0.3]
    scale = [1e-3, h[1] * 1e-4] + ([1e-9] if quadratic else []) + [1e-2, 1e-2]
    fit = least_squares(residual, params0, bounds=(lo, hi), x_scale=scale, diff_step=1e-4)
    p = fit.x
    cal_params, noise, fano = p[:n_cal], float(p[n_cal]), float(p[n_cal + 1])
    amp, _, t = _fit_families(fams, net, weight, window, ch, cal_params, noise, fano, extra)
    axis = EnergyAxis(
        float(cal_params[0]), float(cal_params[1]), n, float(cal_params[2]) if quadratic else 0.0
    )
    if not axis.gain_kev > 0:
        raise PigmentmapError(f"fitted gain {axis.gain_kev} keV/channel is not positive")
    result = _residuals(peaks, axis, fams, amp, t, noise, fano)
    # The resolution check uses the fitted law and the peaks' own widths (brought to Mn
    # K-alpha with the Fano term), so that bounds of the fit cannot hide a wrong value.
    fano_term = _FWHM_SQ * _EPS_SI_KEV * 0.114
    widths = [
        (2.3548 * p.sigma_ch * axis.gain_kev) ** 2 - fano_term * (e - MN_KA_KEV)
        for p in peaks
        if 2.0 <= (e := float(axis.energies[min(n - 1, max(0, round(p.channel)))])) <= 16.0
    ]
    measured = 1e3 * math.sqrt(max(float(np.median(widths)), 0.0)) if widths else result.fwhm_mn_ev
    fwhm = result.fwhm_mn_ev if abs(measured - result.fwhm_mn_ev) < 0.3 * measured else measured
    if not FWHM_MN_RANGE_EV[0] <= fwhm <= FWHM_MN_RANGE_EV[1]:
        raise PigmentmapError(
            f"fitted resolution {fwhm:.0f} eV at Mn K-alpha is outside the physical range "
            f"{FWHM_MN_RANGE_EV[0]:.0f}-{FWHM_MN_RANGE_EV[1]:.0f} eV: not written"
        )
    if len(result.peaks) < 2:
        raise PigmentmapError(
            "fewer than two peaks are explained by element lines: no calibration can be trusted"
        )
    return result


def _residuals(
    peaks: list[Peak],
    axis: EnergyAxis,
    fams: tuple[Family, ...],
    amp: np.ndarray,
    t: np.ndarray,
    noise: float,
    fano: float,
) -> Calibration:
    e = axis.energies
    model_parts = amp[:, None] * t
    model = model_parts.sum(axis=0)
    explained: list[PeakResidual] = []
    unexplained: list[float] = []
    for p in peaks:
        c = round(p.channel)
        if not 1 <= c < len(e) - 1:
            continue
        measured = float(np.interp(p.channel, np.arange(len(e)), e))
        if model[c] < 0.5 * p.area / (p.sigma_ch * math.sqrt(2 * math.pi)):
            unexplained.append(measured)
            continue
        k = int(np.argmax(model_parts[:, c]))
        # The model's own apex near the peak, measured the same way as the data's.
        apex_ch, _ = _gauss_centre(
            model, int(np.argmax(model[max(0, c - 2) : c + 3]) + max(0, c - 2)), 2.3548 * p.sigma_ch
        )
        expected = float(np.interp(apex_ch, np.arange(len(e)), e))
        fam = fams[k]
        line = fam.energies_kev[np.argmin(np.abs(fam.energies_kev - measured))]
        label = f"{fam.name} {float(line):.3f}"
        explained.append(
            PeakResidual(label, expected, measured, 1e3 * (measured - expected), p.area)
        )
    order = np.argsort(-amp)
    return Calibration(
        axis=axis,
        noise_fwhm_kev=noise,
        fano=fano,
        peaks=tuple(explained),
        unexplained_kev=tuple(unexplained),
        families=tuple(fams[i].name for i in order if amp[i] > 0),
        amplitudes={fams[i].name: float(amp[i]) for i in order if amp[i] > 0},
    )
