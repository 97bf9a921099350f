"""Elemental maps: SNIP background, then a non-negative linear fit of every pixel.

The background is SNIP of the counts smoothed by a Gaussian (:data:`SNIP_SMOOTHING_FWHM`); the
counts minus the background are fitted. The components (unit-area spectra on the scan's energy
axis, from the physics engine):

- every element's line families (K, L, M): all lines at the instrument's resolution, escape peaks
  included, thin-film line ratios for the instrument's tube spectrum;
- the tube anode's own lines scattered by the painting: a Rayleigh and a Compton component for
  each of its line groups (K-alpha, K-beta, L), so that e.g. the Ag K lines of a silver tube are
  never taken for Cd, Sn or Sb;
- the tube continuum scattered by a carbon (binder-like) layer;
- each pixel's own sum peaks (pile-up: two photons counted as one at E1 + E2), shaped as the
  self-convolution of its fitted spectrum, with a free amount: the sum peaks of lead (Pb L-alpha
  + L-beta at 23.2 keV, L-beta + L-beta at 25.2 keV) would otherwise be taken for Cd and Sn.

Significance
------------
Beside each amplitude the fit gives ``significance = amplitude / sigma``, where ``sigma`` is the
standard deviation of that amplitude in the linear model with Poisson counts. With ``A`` the
components (channels x components) and ``B = (A^T A)^-1 A^T`` the least-squares operator,
``Var(x_k) = sum_c B[k, c]^2 v_c``, where ``v_c`` is the expected count in channel ``c``: the
fitted model (SNIP background plus all components), at least 1 count so that empty channels
claim no certainty. The approximations: the non-negativity constraint, the noise of the SNIP
background and the pixel's pile-up component are ignored, and ``B`` is that of the
unconstrained fit with every component free, even where the constrained fit set some to zero. So
an element whose lines overlap other components (tube lines, scatter, other elements) gets a
larger sigma: the estimate errs on the cautious side. On simulated scans with Poisson noise
(lab-ag profile, 30-50 kV, 0.1-10 s per pixel) the amplitudes scatter by 0.6-1.05 sigma, and
absent elements reach significance 3 (:data:`SIGNIFICANCE_THRESHOLD`) in 0-2 % of pixels. A
model that misses the matrix (thin-film line ratios) can still make an absent element
significant where its lines overlap a major element's: As under Pb L-alpha below vermilion, whose
Hg absorbs Pb L-beta.

Coincidences
------------
An element whose principal line family has at least half of its intensity within a detector FWHM
of the Rayleigh or Compton peak of a strong tube line (see :func:`tube_coincidences`) is still
fitted, so that it can take counts that would otherwise go elsewhere, but it is reported (its
value and significance kept) only in pixels where its significance reaches
:data:`COINCIDENT_SIGNIFICANCE`; elsewhere both are zero. Tube and scatter peaks carry many counts
and their shapes (Compton profile, scattering angle) are the least certain part of the model, so
a small misfit of theirs can look like a significant element: hence the higher threshold."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import row_blocks
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.formula import atomic_number
from pigmentmap.physics.detector import detection_efficiency, pair_sums, response_matrix
from pigmentmap.physics.lines import catalogue_for, line_table
from pigmentmap.physics.tube import Excitation, ebel_spectrum
from pigmentmap.physics.xraydata import (
    fluorescence_cross_sections,
    mass_attenuation,
    scatter_cross_sections,
)
from pigmentmap.preprocess.preprocessor import check_counts
from pigmentmap.preprocess.snip import snip_background

#: Elements fitted by default: those of the shipped pigment library that XRF sees in paintings.
DEFAULT_ELEMENTS = ("S", "K", "Ca", "Ti", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "As", "Se",
                    "Sr", "Cd", "Sn", "Sb", "Ba", "Hg", "Pb")  # fmt: skip

#: Significance from which an element counts as present in a pixel (for downstream use).
SIGNIFICANCE_THRESHOLD = 3.0
#: An element's main peak that holds this share of a pixel's sum-peak (pile-up) spectrum is
#: reported there only above ``coincident_significance``.
SUM_PEAK_SHARE = 0.03
#: Significance an element coinciding with a tube line or scatter peak needs to be reported.
COINCIDENT_SIGNIFICANCE = 10.0
#: Tube lines whose scatter has at least this fraction of the intensity of the strongest line of
#: their shell (K or L) are the ones checked for coincidences ...
STRONG_LINE_FRACTION = 0.1
#: ... unless their whole shell scatters less than this fraction of the strongest shell (e.g. L
#: lines behind a primary filter).
SHELL_FRACTION = 0.01
#: Standard deviation of the Gaussian that smooths the counts before SNIP, in detector FWHMs at
#: 6 keV. SNIP clips upward Poisson fluctuations and keeps downward ones, so on raw counts its
#: background lies low (about half a count-standard-deviation) and every positive component
#: takes up the excess: on simulated scans 75% of absent elements reached significance 3
#: unsmoothed, 0.1% smoothed (lab-ag profile at 50 kV, 1 s per pixel).
SNIP_SMOOTHING_FWHM = 1.0
#: Doppler broadening of Compton peaks: FWHM as a fraction of the Compton energy at a 90 degree
#: scattering angle, scaled with sin(angle / 2) (bound electrons of a light paint matrix).
COMPTON_FWHM_FRACTION = 0.02


@dataclass(frozen=True)
class ElementMaps:
    """Fitted element maps.

    Attributes
    ----------
    values : (H, W, E) float
        Fitted counts of each element's principal line family (K if inside the axis, else L,
        else M; all its lines, escape peaks included).
    names : tuple of str
        The elements, in the order of the last axis.
    significance : (H, W, E) float
        ``values`` divided by their Poisson standard deviation (see the module notes).
    units : str
        Units of ``values``.
    flags : dict
        Element -> why it is reported only where its significance reaches
        :data:`COINCIDENT_SIGNIFICANCE` (its principal lines coincide with a tube line or a
        scatter peak); elsewhere its value and significance are 0.
    hidden : (H, W, E) bool, optional
        Where a value was set to 0 by one of those rules (a tube line, a scatter peak or the
        pixel's own sum peaks under its main peak): not measured there, rather than absent.
    sum_spectrum : (C,) float, optional
        The sum of all pixels' counts (gathered in the fit's own pass over the cube).
    """

    values: np.ndarray
    names: tuple[str, ...]
    significance: np.ndarray
    units: str = "counts"
    flags: dict[str, str] = field(default_factory=dict)
    hidden: np.ndarray | None = None
    sum_spectrum: np.ndarray | None = None


def reference_spectra(
    instrument: Instrument,
    elements: tuple[str, ...],
    axis: EnergyAxis,
    *,
    min_energy_kev: float = 1.0,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Unit-area reference spectra on ``axis``, one per element and line family (K, L, M).

    Returns ``(references (R, C), names)`` with names like ``"Pb L"``, principal family (the
    highest-energy one) first for each element. Families without a line between
    ``min_energy_kev`` and the axis end, or that the tube cannot excite, are left out; the line
    ratios within a family are thin-film ratios for the instrument's tube spectrum.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("elio")
    >>> refs, names = reference_spectra(inst, ("Ca", "Pb"), inst.axis)
    >>> names, refs.shape
    (('Ca K', 'Pb L', 'Pb M'), (3, 4096))
    """
    inst = replace(instrument, axis=axis)
    refs, names = [], []
    for el, fam, energies, weights in _family_lines(inst, elements, axis, min_energy_kev):
        spectrum = np.clip(weights @ response_matrix(inst, energies), 0.0, None)  # round-off
        if spectrum.sum() > 0:
            refs.append(spectrum / spectrum.sum())
            names.append(f"{el} {fam}")
    if not refs:
        lo, hi = max(min_energy_kev, float(axis.energies[0])), float(axis.energies[-1])
        raise PigmentmapError(
            f"no element of {', '.join(elements)} has lines in {lo:.2f}-{hi:.2f} keV"
        )
    return np.array(refs), tuple(names)


def _family_lines(
    instrument: Instrument, elements: tuple[str, ...], axis: EnergyAxis, min_energy_kev: float
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
    """(element, family, line energies, detected thin-film intensities) inside the axis."""
    inst = replace(instrument, axis=axis)
    ex = ebel_spectrum(inst.tube)
    lo, hi = max(min_energy_kev, float(axis.energies[0])), float(axis.energies[-1])
    for el in elements:
        lines = line_table([el])
        if not lines.lines:
            continue
        sigma = fluorescence_cross_sections(lines.z, lines.codes, ex.energies_kev) @ ex.photons
        e = lines.energies_kev
        family = np.array([line.shell[0] for line in lines.lines])
        for fam in ("K", "L", "M"):
            keep = (family == fam) & (sigma > 0) & (e >= lo) & (e <= hi)
            if keep.any():
                yield el, fam, e[keep], sigma[keep] * detection_efficiency(inst, e[keep])


def principal_families(names: tuple[str, ...]) -> dict[str, int]:
    """Element -> index of its first (highest-energy) family in ``names``.

    Examples
    --------
    >>> principal_families(("Ca K", "Pb L", "Pb M"))
    {'Ca': 0, 'Pb': 1}
    """
    out: dict[str, int] = {}
    for k, name in enumerate(names):
        out.setdefault(name.split()[0], k)
    return out


@dataclass(frozen=True)
class _LineGroup:
    """One group of tube lines (``"Ag Ka"``): energies and detected scatter, relative units."""

    energies_kev: np.ndarray
    compton_kev: np.ndarray
    rayleigh: np.ndarray  # detected Rayleigh intensity of each line off a thick carbon layer
    compton: np.ndarray  # the same for Compton

    def merged(self, instrument: Instrument) -> bool:
        """Whether the Compton shift is too small (< FWHM / 4) to fit Compton apart."""
        shift = float(np.max(self.energies_kev - self.compton_kev))
        return shift < 0.25 * float(instrument.fwhm_kev(float(self.energies_kev.max())))


def _line_group(transition: str) -> str:
    """``"Ka"`` (KL2, KL3), ``"Kb"`` (other K lines), ``"L"``, ``"M"`` or ``""`` (unknown)."""
    if transition in ("KL2", "KL3"):
        return "Ka"
    return "Kb" if transition.startswith("K") else transition[:1]


def _tube_lines(instrument: Instrument) -> dict[str, _LineGroup]:
    """The anode's lines by group (``"Ag Ka"``, ``"Ag Kb"``, ``"Ag L"``).

    Intensities are tube photons x scatter off a thick carbon (binder-like) layer
    (cross section / attenuation in and out) x detection efficiency: what sets the height of
    each scatter peak, low-energy lines being mostly absorbed in the painting.
    """
    anode = instrument.tube.anode
    geo = instrument.geometry
    ex = ebel_spectrum(instrument.tube)
    is_line = ex.widths_kev == 0
    energies, photons = ex.energies_kev[is_line], ex.photons[is_line]
    known = {round(ln.energy_kev, 4): ln.transition for ln in catalogue_for(anode, min_rate=0.0)}
    transitions = [known.get(round(float(e), 4), "") for e in energies]
    ray, com, compton_e = scatter_cross_sections(
        ["C"], energies, angle_rad=math.radians(geo.scattering_angle_deg)
    )
    mu_in = mass_attenuation(["C"], energies)[0] / math.sin(math.radians(geo.incidence_deg))
    out_sin = math.sin(math.radians(geo.takeoff_deg))
    mu_rayleigh = mu_in + mass_attenuation(["C"], energies)[0] / out_sin
    mu_compton = mu_in + mass_attenuation(["C"], compton_e)[0] / out_sin
    rayleigh = photons * ray[0] / mu_rayleigh * detection_efficiency(instrument, energies)
    compton = photons * com[0] / mu_compton * detection_efficiency(instrument, compton_e)
    groups = np.array([_line_group(t) for t in transitions])
    out = {}
    for group in ("Ka", "Kb", "L"):
        keep = groups == group
        if keep.any():
            out[f"{anode} {group}"] = _LineGroup(
                energies[keep], compton_e[keep], rayleigh[keep], compton[keep]
            )
    return out


def _compton_fwhm_kev(instrument: Instrument, energy_kev: np.ndarray) -> np.ndarray:
    """Doppler FWHM of Compton peaks at ``energy_kev`` (the scattered energy)."""
    half_angle = math.radians(instrument.geometry.scattering_angle_deg) / 2.0
    scale = COMPTON_FWHM_FRACTION * math.sin(half_angle) / math.sin(math.pi / 4)
    return scale * np.asarray(energy_kev)


def tube_line_references(
    instrument: Instrument, axis: EnergyAxis, *, min_energy_kev: float = 1.0
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Unit-area Rayleigh and Compton peaks of the tube anode's lines on ``axis``.

    One Rayleigh and one Compton component per line group of the anode (K-alpha, K-beta, L) with
    a line inside the axis; a group whose Compton shift is below a quarter of the detector FWHM
    gets one ``scatter`` component instead. Line ratios within a group are those of the tube
    spectrum scattered by a thick carbon layer and detected; Compton peaks are at the profile's
    scattering angle, Doppler-broadened (:data:`COMPTON_FWHM_FRACTION`).

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("lab-ag")
    >>> refs, names = tube_line_references(inst, inst.axis)
    >>> names
    ('Ag Ka Rayleigh', 'Ag Ka Compton', 'Ag Kb Rayleigh', 'Ag Kb Compton', 'Ag L scatter')
    """
    inst = replace(instrument, axis=axis)
    lo, hi = max(min_energy_kev, float(axis.energies[0])), float(axis.energies[-1])
    refs, names = [], []
    for name, g in _tube_lines(inst).items():
        keep = (g.energies_kev >= lo) & (g.energies_kev <= hi)
        if not keep.any():
            continue
        e, c = g.energies_kev[keep], g.compton_kev[keep]
        rayleigh = g.rayleigh[keep] @ response_matrix(inst, e)
        compton = g.compton[keep] @ response_matrix(
            inst, c, extra_fwhm_kev=_compton_fwhm_kev(inst, c)
        )
        parts = (
            {"scatter": rayleigh + compton}
            if g.merged(inst)
            else {"Rayleigh": rayleigh, "Compton": compton}
        )
        for kind, spectrum in parts.items():
            spectrum = np.clip(spectrum, 0.0, None)  # round-off of the response
            if spectrum.sum() > 0:
                refs.append(spectrum / spectrum.sum())
                names.append(f"{name} {kind}")
    return np.array(refs).reshape(len(refs), axis.n_channels), tuple(names)


def _scatter_peaks(instrument: Instrument) -> list[tuple[str, float, float]]:
    """(label, energy, tolerance) of the Rayleigh and Compton peaks of the strong tube lines.

    Strong: at least :data:`STRONG_LINE_FRACTION` of the scatter intensity of the strongest line
    of the same shell (K or L), in a shell with at least :data:`SHELL_FRACTION` of the strongest
    shell's scatter intensity (off a thick carbon layer, detected).
    """
    groups = _tube_lines(instrument)
    strength = {name: g.rayleigh + g.compton for name, g in groups.items()}
    shells: dict[str, list[str]] = {}
    for name in groups:
        shells.setdefault(name.split()[1][0], []).append(name)  # "Ag Kb" -> shell "K"
    total = {s: sum(float(strength[n].sum()) for n in names) for s, names in shells.items()}
    peaks = []
    for shell, names in shells.items():
        if total[shell] < SHELL_FRACTION * max(total.values()):
            continue
        shell_max = max(float(strength[n].max()) for n in names)
        for name in names:
            g = groups[name]
            merged = g.merged(instrument)
            doppler = _compton_fwhm_kev(instrument, g.compton_kev)
            for k in np.flatnonzero(strength[name] >= STRONG_LINE_FRACTION * shell_max):
                e, c = float(g.energies_kev[k]), float(g.compton_kev[k])
                kind = "scatter" if merged else "Rayleigh"
                peaks.append((f"{name} {kind}", e, float(instrument.fwhm_kev(e))))
                if not merged:
                    width = math.hypot(float(instrument.fwhm_kev(c)), float(doppler[k]))
                    peaks.append((f"{name} Compton", c, width))
    return peaks


def scatter_reference(instrument: Instrument, axis: EnergyAxis) -> np.ndarray:
    """Unit-area spectrum of the tube continuum (not its lines) scattered by a carbon layer.

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("elio")
    >>> round(float(scatter_reference(inst, inst.axis).sum()), 6)
    1.0
    """
    from pigmentmap.materials import default_library, parse_stack
    from pigmentmap.simulate import Simulator

    inst = replace(instrument, axis=axis)
    ex = ebel_spectrum(inst.tube)
    keep = ex.widths_kev > 0
    continuum = Excitation(ex.energies_kev[keep], ex.widths_kev[keep], ex.photons[keep])
    sim = Simulator(inst, escape_peaks=True, excitation=continuum)
    s = sim.simulate([parse_stack("carbon_black:200", library=default_library())]).counts[0]
    return s / s.sum() if s.sum() > 0 else s


def tube_coincidences(
    instrument: Instrument,
    elements: tuple[str, ...],
    axis: EnergyAxis,
    *,
    min_energy_kev: float = 1.0,
) -> dict[str, str]:
    """Elements whose principal line family lies mostly under tube-line scatter, with the reason.

    An element is listed when lines carrying at least half of its principal family's detected
    intensity lie within a detector FWHM of the Rayleigh or Compton peak of a strong tube line
    (:data:`STRONG_LINE_FRACTION`; Compton peaks count with their Doppler width added to the
    FWHM).

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("lab-ag")
    >>> flags = tube_coincidences(inst, ("K", "Fe", "Cd", "Sn", "Ag"), inst.axis)
    >>> sorted(flags)
    ['Ag', 'K']
    >>> flags["K"]
    'K K: 89% of its intensity within a FWHM of tube-line scatter (3.31 keV: Ag L scatter at 3.35 keV)'
    """
    inst = replace(instrument, axis=axis)
    peaks = _scatter_peaks(inst)
    out: dict[str, str] = {}
    seen: set[str] = set()
    for el, fam, energies, weights in _family_lines(inst, elements, axis, min_energy_kev):
        if el in seen:  # only the principal (first, highest-energy) family is reported
            continue
        seen.add(el)
        hits = [_nearest_peak(float(e), peaks) for e in energies]
        share = sum(w for w, hit in zip(weights, hits, strict=True) if hit) / weights.sum()
        if share >= 0.5:
            _, e, label, p = min(
                (hit[0], e, hit[1], hit[2]) for e, hit in zip(energies, hits, strict=True) if hit
            )
            out[el] = (
                f"{el} {fam}: {share:.0%} of its intensity within a FWHM of tube-line scatter "
                f"({e:.2f} keV: {label} at {p:.2f} keV)"
            )
    return out


def _nearest_peak(
    energy_kev: float, peaks: list[tuple[str, float, float]]
) -> tuple[float, str, float] | None:
    """(distance, label, energy) of the nearest peak within its tolerance, if any."""
    near = [
        (abs(energy_kev - p), label, p) for label, p, tol in peaks if abs(energy_kev - p) <= tol
    ]
    return min(near) if near else None


def nonnegative_fit(gram: np.ndarray, rhs: np.ndarray, *, iterations: int = 300) -> np.ndarray:
    """Minimise ||A x - y||^2 subject to x >= 0 for many pixels at once.

    ``gram`` = A^T A (E, E), ``rhs`` = y A (P, E). Accelerated projected gradient (FISTA) with
    step 1/L, L the largest eigenvalue of the Gram matrix.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 1.0]])
    >>> x = nonnegative_fit(a.T @ a, np.array([[2.0, 1.0, 0.0]]) @ a, iterations=2000)
    >>> np.round(x, 3).tolist()
    [[2.0, 0.0]]
    """
    lipschitz = float(np.linalg.eigvalsh(gram).max())
    step = 1.0 / lipschitz
    x = np.clip(np.linalg.lstsq(gram, rhs.T, rcond=None)[0].T, 0.0, None)
    z, t = x.copy(), 1.0
    for _ in range(iterations):
        x_new = np.clip(z - step * (z @ gram - rhs), 0.0, None)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x


def poisson_sigma(operator: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Standard deviations of linear estimates ``x = operator @ y`` of Poisson counts ``y``.

    ``operator`` (K, C), ``expected`` (P, C) the expected counts (the variances); returns (P, K).

    Examples
    --------
    >>> import numpy as np
    >>> poisson_sigma(np.ones((1, 4)), np.full((1, 4), 25.0)).tolist()  # a sum of 4 channels
    [[10.0]]
    """
    return np.sqrt(expected @ (operator**2).T)


def _background(counts: np.ndarray, *, half_window: int, smooth_channels: float) -> np.ndarray:
    """SNIP background of the counts smoothed by a Gaussian (``smooth_channels`` its sigma)."""
    from scipy.ndimage import gaussian_filter1d

    smoothed = gaussian_filter1d(counts, smooth_channels, axis=-1, mode="nearest")
    return snip_background(smoothed, half_window=half_window)


def sum_peak_shapes(counts: np.ndarray, axis: EnergyAxis, *, measured: bool = False) -> np.ndarray:
    """Pile-up (sum-peak) spectra of spectra ``(..., C)``, unit area (0 where there is none).

    Two photons counted as one at ``E1 + E2``: the self-convolution of each spectrum on the
    energy axis (``E_i + E_k`` falls in channel ``i + k + offset / gain``; a quadratic calibration
    term is ignored: the amplitude of the shape is fitted). Sum peaks beyond the axis are lost.
    ``measured=True`` takes Poisson counts: each count paired with itself (``S_i`` at channel
    ``2 i``) is removed, which makes the self-convolution an unbiased estimate of the expected
    spectrum's.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.zeros(100); s[10] = 100.0; s[30] = 50.0
    >>> shape = sum_peak_shapes(s, EnergyAxis(0.0, 0.1, 100))
    >>> np.flatnonzero(shape > 0).tolist(), float(shape[20] / shape[40])
    ([20, 40, 60], 1.0)
    """
    out, _ = pair_sums(counts, axis, exclude_self_pairs=measured)
    out[out < 1e-9 * out.max(axis=-1, keepdims=True)] = 0.0  # FFT round-off
    total = out.sum(axis=-1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def _fit_with_column(
    gram: np.ndarray,
    rhs: np.ndarray,
    cross: np.ndarray,
    column: np.ndarray,
    data: np.ndarray,
    *,
    start: np.ndarray,
    iterations: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nonnegative_fit` with one more component per pixel (its own spectrum ``column``).

    ``cross`` = column A (P, E), ``data`` the fitted spectra (P, C). Returns the amounts of the
    shared components (P, E) and of each pixel's own one (P,), all non-negative. Accelerated
    projected gradient, step from a bound on each pixel's largest eigenvalue.
    """
    norm = np.einsum("pc,pc->p", column, column)
    target = np.einsum("pc,pc->p", column, data)
    bound = np.maximum(float(np.linalg.eigvalsh(gram).max()), norm) + np.linalg.norm(cross, axis=1)
    step = (1.0 / bound)[:, None]
    x, s = start.copy(), np.zeros(len(start))
    zx, zs, t = x.copy(), s.copy(), 1.0
    for _ in range(iterations):
        gx = zx @ gram + zs[:, None] * cross - rhs
        gs = np.einsum("pe,pe->p", zx, cross) + zs * norm - target
        x_new = np.clip(zx - step * gx, 0.0, None)
        s_new = np.clip(zs - step[:, 0] * gs, 0.0, None)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        momentum = (t - 1.0) / t_new
        zx, zs = x_new + momentum * (x_new - x), s_new + momentum * (s_new - s)
        x, s, t = x_new, s_new, t_new
    return x, s


@dataclass(frozen=True)
class ElementFitter:
    """Everything the element fit needs that does not depend on the counts, prepared once.

    The components, the fit operator, each element's peak window and the tube coincidences
    (:func:`prepare_fit`) are computed once per scan and reused for every block of rows (and
    shipped once to each worker of a cluster); :meth:`fit` fits one block.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("elio")
    >>> fitter = prepare_fit(inst.axis, inst, elements=("Fe", "Pb"))
    >>> fitter.names
    ('Fe', 'Pb')
    >>> refs, _ = reference_spectra(inst, ("Fe", "Pb"), inst.axis)
    >>> block = (3000 * refs[0] + 1000 * refs[1] + 500 * refs[2]).reshape(1, 1, -1)
    >>> (fitter.fit(block).values[0, 0] / [3000, 1000]).round(2).tolist()
    [1.0, 1.0]
    """

    axis: EnergyAxis
    names: tuple[str, ...]
    flags: dict[str, str]
    window: np.ndarray
    a: np.ndarray
    gram: np.ndarray
    operator: np.ndarray
    principal: list[int]
    peak_windows: np.ndarray
    half_window: int
    smooth_channels: float
    coincident_significance: float

    def fit(self, counts: np.ndarray) -> ElementMaps:
        """Element maps of one block of rows (h, w, C): values, significance, hidden, and the
        block's summed spectrum (in ``sum_spectrum``)."""
        block = np.asarray(counts, dtype=np.float64)
        if block.ndim != 3 or block.shape[-1] != self.axis.n_channels:
            raise PigmentmapError(
                f"expected a block (h, w, {self.axis.n_channels}), got shape {block.shape}"
            )
        check_counts(block, what="cube")
        h, w, c = block.shape
        window, a, gram = self.window, self.a, self.gram
        flat = block.reshape(-1, c)
        total = flat.sum(axis=0)
        background = _background(block, half_window=self.half_window,
                                 smooth_channels=self.smooth_channels)  # fmt: skip
        background = background.reshape(-1, c)[:, window]
        net = flat[:, window] - background
        rhs = net @ a
        x = nonnegative_fit(gram, rhs, iterations=100)
        # The pixel's own measured spectrum (continuum and true line ratios included) shapes
        # its sum peaks: fixed thin-film line ratios would leave the cross terms (Pb L-alpha +
        # L-beta at 23.16 keV, on Cd K-alpha) unexplained under a thick lead layer.
        pileup = sum_peak_shapes(flat, self.axis, measured=True)[:, window]
        x, amount = _fit_with_column(gram, rhs, pileup @ a, pileup, net, start=x, iterations=200)
        # The variance includes the sum peaks' own counts (they sit on Cd K-alpha under lead).
        model = background + x @ a.T + np.asarray(amount).reshape(-1, 1) * pileup
        sigma = poisson_sigma(self.operator, np.maximum(model, 1.0))
        significance = (x / sigma)[:, self.principal]
        # An element whose main peak sits under this pixel's own sum peaks (pile-up of strong
        # lines: Pb L-alpha + L-beta on Cd K-alpha) is reported only when highly significant,
        # as under a tube line: the sum peaks' shape is known only as well as the pixel's counts.
        # The shape, not the fitted amount, decides: a free fit may give the sum peak's counts to
        # the element instead (Cd K-alpha at 23.17 keV takes Pb L-alpha + L-beta at 23.16 keV).
        under = pileup @ self.peak_windows  # (P, E) share of the sum peaks in each main peak
        hidden = (under > SUM_PEAK_SHARE) & (significance < self.coincident_significance)
        for k, el in enumerate(self.names):
            if el in self.flags:  # under a tube line or a scatter peak
                hidden[:, k] |= significance[:, k] < self.coincident_significance
        values = np.where(hidden, 0.0, x[:, self.principal])
        significance = np.where(hidden, 0.0, significance)
        shape = (h, w, len(self.names))
        return ElementMaps(
            values.reshape(shape), self.names, significance.reshape(shape), flags=self.flags,
            hidden=hidden.reshape(shape), sum_spectrum=total,
        )  # fmt: skip


def prepare_fit(
    axis: EnergyAxis,
    instrument: Instrument,
    *,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    snip_half_window: int | None = None,
    min_energy_kev: float = 1.0,
    coincident_significance: float = COINCIDENT_SIGNIFICANCE,
) -> ElementFitter:
    """The element fit of a scan on ``axis``, prepared (see :class:`ElementFitter`; the
    options are those of :func:`fit_elements`).

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("lab-ag")
    >>> prepare_fit(inst.axis, inst, elements=("K", "Pb")).flags["K"][:30]
    'K K: 89% of its intensity with'
    """
    for el in elements:
        atomic_number(el)
    refs, names = reference_spectra(instrument, elements, axis, min_energy_kev=min_energy_kev)
    tube_refs, _ = tube_line_references(instrument, axis, min_energy_kev=min_energy_kev)
    scatter = scatter_reference(instrument, axis)
    basis = np.vstack([refs, tube_refs, *([scatter[None, :]] if scatter.sum() > 0 else [])])
    window = axis.energies >= min_energy_kev
    a = basis[:, window].T  # (C', K)
    gram = a.T @ a
    operator = np.linalg.pinv(gram) @ a.T  # (K, C'): the unconstrained least-squares fit
    fwhm_channels = float(instrument.fwhm_kev(6.0)) / axis.gain_kev
    half = snip_half_window or max(2, round(2.5 * fwhm_channels))
    families = principal_families(names)
    principal = list(families.values())
    # Each reported element's main peak: +-1 FWHM around the apex of its principal family.
    e_win = axis.energies[window]
    apex = e_win[np.argmax(basis[principal][:, window], axis=1)]
    peak_windows = (
        np.abs(e_win[:, None] - apex[None, :]) <= instrument.fwhm_kev(apex)[None, :]
    ).astype(float)  # (C', E)
    flags = tube_coincidences(instrument, elements, axis, min_energy_kev=min_energy_kev)
    return ElementFitter(
        axis, tuple(families), flags, window, a, gram, operator, principal, peak_windows, half,
        SNIP_SMOOTHING_FWHM * fwhm_channels, coincident_significance,
    )  # fmt: skip


def fit_elements(
    counts: np.ndarray,
    axis: EnergyAxis,
    instrument: Instrument,
    *,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    snip_half_window: int | None = None,
    min_energy_kev: float = 1.0,
    coincident_significance: float = COINCIDENT_SIGNIFICANCE,
    budget_mb: float = 200.0,
    progress: bool = False,
) -> ElementMaps:
    """Element maps of a cube (H, W, C): SNIP, then a non-negative fit, chunk by chunk of rows.

    Parameters
    ----------
    counts : (H, W, C) array
        The scan, in counts.
    axis : EnergyAxis
        Its calibration.
    instrument : Instrument
        The profile: tube (anode lines and spectrum), geometry and detector resolution.
    elements : tuple of str
        Elements to fit.
    snip_half_window : int, optional
        SNIP half window in channels (default 2.5 FWHM at 6 keV).
    min_energy_kev : float
        Channels below this energy are not fitted.
    coincident_significance : float
        Elements coinciding with tube lines or scatter peaks are reported only where their
        significance reaches this (see the module notes).
    budget_mb : float
        Memory for one chunk of rows.
    progress : bool
        Show a progress bar.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("elio")
    >>> refs, names = reference_spectra(inst, ("Fe", "Pb"), inst.axis)
    >>> names
    ('Fe K', 'Pb L', 'Pb M')
    >>> cube = (3000 * refs[0] + 1000 * refs[1] + 500 * refs[2]).reshape(1, 1, -1)
    >>> maps = fit_elements(cube, inst.axis, inst, elements=("Fe", "Pb"))
    >>> (maps.values[0, 0] / [3000, 1000]).round(2).tolist()
    [1.0, 1.0]
    >>> bool(maps.significance[0, 0, 0] > 20)
    True
    """
    from tqdm import tqdm

    if counts.ndim != 3:
        raise PigmentmapError(f"expected a cube (H, W, C), got an array of shape {counts.shape}")
    h, w, c = counts.shape
    if c != axis.n_channels:
        raise PigmentmapError(f"cube has {c} channels, its axis {axis.n_channels}")
    fitter = prepare_fit(
        axis, instrument, elements=elements, snip_half_window=snip_half_window,
        min_energy_kev=min_energy_kev, coincident_significance=coincident_significance,
    )  # fmt: skip
    n = len(fitter.names)
    values = np.zeros((h, w, n))
    significance = np.zeros_like(values)
    hidden = np.zeros(values.shape, dtype=bool)
    total = np.zeros(c)
    bar = tqdm(total=h, disable=not progress, unit="rows", desc="fit elements")
    # about 8 float64 copies of a block live at once in the fit
    for r0, r1 in row_blocks(h, 8 * 8 * max(1, w) * c, budget_bytes=budget_mb * 1e6):
        part = fitter.fit(counts[r0:r1])
        values[r0:r1], significance[r0:r1] = part.values, part.significance
        hidden[r0:r1] = part.hidden
        total += np.asarray(part.sum_spectrum)
        bar.update(r1 - r0)
    bar.close()
    return ElementMaps(
        values, fitter.names, significance, flags=fitter.flags, hidden=hidden, sum_spectrum=total
    )


def write_element_file(path: str | Path, maps: ElementMaps, *, source: str) -> Path:
    """Write ``maps`` to an HDF5 file atomically; returns its path.

    Datasets ``/element_maps`` and ``/element_significance`` (H, W, E, float32),
    ``/element_names``; attributes ``units``, ``source`` and ``element_flags`` (JSON: element ->
    why it is reported only where highly significant).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, h5py
    >>> maps = ElementMaps(np.ones((2, 3, 1)), ("Fe",), np.full((2, 3, 1), 5.0))
    >>> p = write_element_file(pathlib.Path(tempfile.mkdtemp()) / "e.h5", maps, source="scan.h5")
    >>> with h5py.File(p) as f:
    ...     print(f["element_significance"].shape, f.attrs["units"])
    (2, 3, 1) counts
    """
    import h5py

    from pigmentmap.core.atomic import atomic_path

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["element_maps"] = maps.values.astype(np.float32)
        f["element_significance"] = maps.significance.astype(np.float32)
        f["element_names"] = np.array(maps.names, dtype=h5py.string_dtype())
        f.attrs["units"] = maps.units
        f.attrs["source"] = str(source)
        f.attrs["element_flags"] = json.dumps(maps.flags)
    return Path(path)


def fitted_components(
    spectrum: np.ndarray,
    axis: EnergyAxis,
    instrument: Instrument,
    *,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    top: int = 8,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The fitted principal line family of the ``top`` strongest elements of one spectrum, in
    counts per channel: ``(components (N, C), names)``, strongest first (for plots).

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> inst = load_instrument("elio")
    >>> refs, names = reference_spectra(inst, ("Fe", "Pb"), inst.axis)
    >>> comps, found = fitted_components(3000 * refs[0] + 1000 * refs[1], inst.axis, inst,
    ...                                  elements=("Fe", "Pb"))
    >>> found, bool(abs(comps[0].sum() - 3000) < 30)  # Fe's fitted counts
    (('Fe', 'Pb'), True)
    """
    maps = fit_elements(
        np.asarray(spectrum, dtype=np.float64).reshape(1, 1, -1),
        axis,
        instrument,
        elements=elements,
    )
    refs, names = reference_spectra(instrument, elements, axis)
    principal = principal_families(names)
    values = maps.values[0, 0]
    order = [k for k in np.argsort(-values) if values[k] > 0][:top]
    comps = np.array([values[k] * refs[principal[maps.names[k]]] for k in order])
    return comps.reshape(len(order), axis.n_channels), tuple(maps.names[k] for k in order)
