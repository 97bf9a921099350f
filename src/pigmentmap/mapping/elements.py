"""Elemental maps: SNIP background, then a non-negative linear fit of every pixel with reference
spectra from the physics engine (all lines of an element at the instrument's resolution, escape
peaks included; thin-film line ratios for the instrument's tube spectrum) plus the tube's scatter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.formula import atomic_number
from pigmentmap.physics.detector import detection_efficiency, response_matrix
from pigmentmap.physics.lines import line_table
from pigmentmap.physics.tube import ebel_spectrum
from pigmentmap.physics.xraydata import fluorescence_cross_sections
from pigmentmap.preprocess.preprocessor import check_counts
from pigmentmap.preprocess.snip import snip_background

#: Elements fitted by default: those of the shipped pigment library that XRF sees in paintings.
DEFAULT_ELEMENTS = ("S", "K", "Ca", "Ti", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "As", "Se",
                    "Sr", "Cd", "Sn", "Sb", "Ba", "Hg", "Pb")  # fmt: skip


@dataclass(frozen=True)
class ElementMaps:
    """``values[h, w, e]``: fitted counts of each element's principal line family (K if inside the
    axis, else L, else M; all its lines, escape peaks included)."""

    values: np.ndarray
    names: tuple[str, ...]
    units: str = "counts"


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
    """
    from dataclasses import replace

    inst = replace(instrument, axis=axis)
    ex = ebel_spectrum(inst.tube)
    refs, names = [], []
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
            if not keep.any():
                continue
            weights = sigma[keep] * detection_efficiency(inst, e[keep])
            spectrum = weights @ response_matrix(inst, e[keep])
            if spectrum.sum() > 0:
                refs.append(spectrum / spectrum.sum())
                names.append(f"{el} {fam}")
    if not refs:
        raise PigmentmapError(
            f"no element of {', '.join(elements)} has lines in {lo:.2f}-{hi:.2f} keV"
        )
    return np.array(refs), tuple(names)


def principal_families(names: tuple[str, ...]) -> dict[str, int]:
    """Element -> index of its first (highest-energy) family in ``names``."""
    out: dict[str, int] = {}
    for k, name in enumerate(names):
        out.setdefault(name.split()[0], k)
    return out


def scatter_reference(instrument: Instrument, axis: EnergyAxis) -> np.ndarray:
    """Unit-area Rayleigh + Compton spectrum of the tube off a chalk/oil ground."""
    from dataclasses import replace

    from pigmentmap.materials import default_library, parse_stack
    from pigmentmap.simulate import Simulator

    inst = replace(instrument, axis=axis)
    lib = default_library()
    sim = Simulator(inst, escape_peaks=True)
    res = sim.simulate([parse_stack("carbon_black:200", library=lib)])
    s = res.counts[0]
    return s / s.sum() if s.sum() > 0 else s


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


def _row_chunks(n_rows: int, n_cols: int, n_ch: int, budget_mb: float) -> Iterator[tuple[int, int]]:
    rows = max(1, int(budget_mb * 1e6 / (8 * 6 * max(1, n_cols) * n_ch)))
    for start in range(0, n_rows, rows):
        yield start, min(n_rows, start + rows)


def fit_elements(
    counts: np.ndarray,
    axis: EnergyAxis,
    instrument: Instrument,
    *,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    snip_half_window: int | None = None,
    min_energy_kev: float = 1.0,
    budget_mb: float = 200.0,
    progress: bool = False,
) -> ElementMaps:
    """Element maps of a cube (H, W, C): SNIP, then a non-negative fit, chunk by chunk of rows.

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
    >>> np.round(maps.values[0, 0]).tolist()
    [3000.0, 1000.0]
    """
    from tqdm import tqdm

    for el in elements:
        atomic_number(el)
    h, w, c = counts.shape
    if c != axis.n_channels:
        raise PigmentmapError(f"cube has {c} channels, its axis {axis.n_channels}")
    refs, names = reference_spectra(instrument, elements, axis, min_energy_kev=min_energy_kev)
    scatter = scatter_reference(instrument, axis)
    basis = np.vstack([refs, scatter[None, :]]) if scatter.sum() > 0 else refs
    window = axis.energies >= min_energy_kev
    a = basis[:, window].T  # (C', E+1)
    gram = a.T @ a
    half = snip_half_window or max(2, round(2.5 * instrument.fwhm_kev(6.0) / axis.gain_kev))
    families = principal_families(names)
    principal = list(families.values())
    out = np.zeros((h, w, len(principal)))
    bar = tqdm(total=h, disable=not progress, unit="rows", desc="fit elements")
    for r0, r1 in _row_chunks(h, w, c, budget_mb):
        block = np.asarray(counts[r0:r1], dtype=np.float64)
        check_counts(block, what="cube")
        net = block - snip_background(block, half_window=half)
        rhs = net[..., window].reshape(-1, int(window.sum())) @ a
        x = nonnegative_fit(gram, rhs)
        out[r0:r1] = x[:, principal].reshape(r1 - r0, w, len(principal))
        bar.update(r1 - r0)
    bar.close()
    return ElementMaps(out, tuple(families))
