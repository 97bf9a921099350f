"""The Simulator: tabulates xraylib once per (instrument, elements), then simulates batches.

Examples
--------
>>> from pigmentmap.instruments import load_instrument
>>> from pigmentmap.materials import default_library, parse_stack
>>> lib = default_library()
>>> sim = Simulator(load_instrument("elio"), library=lib)
>>> res = sim.simulate([parse_stack("VM:100/LW:120/CaCO3:180", library=lib)])
>>> res.counts.shape
(1, 4096)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.formula import atomic_number
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.stack import Stack
from pigmentmap.physics import multilayer
from pigmentmap.physics.detector import add_pileup, detection_efficiency, response_matrix
from pigmentmap.physics.lines import LineTable, line_table
from pigmentmap.physics.tube import Excitation, ebel_spectrum
from pigmentmap.physics.xraydata import (
    fluorescence_cross_sections,
    mass_attenuation,
    scatter_cross_sections,
)
from pigmentmap.simulate.noise import poisson_counts

# Doppler broadening of Compton scatter, as a fraction of the energy at 90 degrees (approximate,
# for a light organic/carbonate matrix).
_COMPTON_FWHM_FRACTION = 0.02


@dataclass(frozen=True)
class SimulationResult:
    """Simulated spectra and the line intensities behind them.

    Attributes
    ----------
    counts : (N, C) float
        Expected counts (or Poisson draws when noise was asked for).
    axis : EnergyAxis
    lines : LineTable
        Every line the engine knows; ``line_counts`` columns follow it.
    line_counts : (N, J) float
        Detected counts of each line (primary + secondary), before the detector response.
    secondary_counts : (N, J) float
        The secondary-fluorescence part of ``line_counts``.
    """

    counts: np.ndarray
    axis: EnergyAxis
    lines: LineTable
    line_counts: np.ndarray
    secondary_counts: np.ndarray

    def group_counts(self, *, min_energy_kev: float = 0.0) -> dict[str, np.ndarray]:
        """Counts per line group (``"Pb L3"``), lines above ``min_energy_kev`` only."""
        out: dict[str, np.ndarray] = {}
        for j, line in enumerate(self.lines.lines):
            if line.energy_kev < min_energy_kev:
                continue
            out.setdefault(line.group, np.zeros(self.line_counts.shape[0]))
            out[line.group] = out[line.group] + self.line_counts[:, j]
        return out


class _Tables:
    """xraylib values on the instrument's grids for a fixed element list."""

    def __init__(self, instrument: Instrument, elements: list[str], excitation: Excitation) -> None:
        self.elements = elements
        self.index = {el: i for i, el in enumerate(elements)}
        geo = instrument.geometry
        self.sin_in = math.sin(math.radians(geo.incidence_deg))
        self.sin_out = math.sin(math.radians(geo.takeoff_deg))
        e0 = excitation.energies_kev
        lines = line_table([el for el in elements if atomic_number(el) > 10])
        sigma = fluorescence_cross_sections(lines.z, lines.codes, e0)
        keep = sigma.max(axis=1) > 0  # lines the tube can excite at all
        self.lines = LineTable(tuple(line for line, k in zip(lines.lines, keep, strict=True) if k))
        self.sigma = sigma[keep]
        e_line = self.lines.energies_kev
        self.line_element = np.array(
            [self.index[line.element] for line in self.lines.lines], dtype=int
        )
        self.mu_in = mass_attenuation(elements, e0)  # (E, G)
        self.mu_line = mass_attenuation(elements, e_line)  # (E, J)
        # [q, j]: production of line q by photons of line j's energy.
        self.sigma_secondary = fluorescence_cross_sections(self.lines.z, self.lines.codes, e_line)
        angle = math.radians(geo.scattering_angle_deg)
        self.dcs_rayleigh, self.dcs_compton, self.compton_energy = scatter_cross_sections(
            elements, e0, angle_rad=angle
        )
        self.mu_compton = mass_attenuation(elements, self.compton_energy)
        self.excitable = {el: False for el in elements}
        for line in self.lines.lines:
            self.excitable[line.element] = True


class Simulator:
    """Batched FP simulation of layered paint for one instrument.

    Parameters
    ----------
    instrument : Instrument
        Tube, geometry, detector, calibration, live time.
    library : PigmentLibrary, optional
        Tables are built for all its elements up front (otherwise per element set on demand).
    step_kev : float
        Width of the continuum bins of the tube spectrum.
    n_sublayers : int
        Depth cells per layer for secondary fluorescence.
    secondary_fluorescence : bool
        Include secondary fluorescence (within and between layers).
    escape_peaks : bool
        Include Si escape peaks.
    pileup_resolving_time_s : float, optional
        Pile-up resolving time in seconds; ``None`` (default) takes the profile's
        ``detector.pileup_resolving_time_ns``, 0 disables pile-up. Pile-up grows with the count
        rate (tube current), not with the live time.
    batch_size : int
        Stacks per array batch; bounds memory whatever the number of stacks.
    excitation : Excitation, optional
        Replaces the tube model (e.g. a monochromatic beam); photons per s per mA per sr.
    elements : set of str, optional
        Elements to tabulate up front (a batch with others rebuilds the tables).
    """

    def __init__(
        self,
        instrument: Instrument,
        *,
        library: PigmentLibrary | None = None,
        step_kev: float = 0.2,
        n_sublayers: int = 6,
        secondary_fluorescence: bool = True,
        escape_peaks: bool = True,
        pileup_resolving_time_s: float | None = None,
        batch_size: int = 256,
        excitation: Excitation | None = None,
        elements: set[str] | None = None,
    ) -> None:
        self.instrument = instrument
        self.excitation = excitation or ebel_spectrum(instrument.tube, step_kev=step_kev)
        self.n_sublayers = n_sublayers
        self.secondary_fluorescence = secondary_fluorescence
        self.escape_peaks = escape_peaks
        if pileup_resolving_time_s is None:
            pileup_resolving_time_s = instrument.detector.pileup_resolving_time_ns * 1e-9
        if not pileup_resolving_time_s >= 0:
            raise PigmentmapError(
                f"pile-up resolving time must be >= 0 s, got {pileup_resolving_time_s}"
            )
        self.pileup_resolving_time_s = float(pileup_resolving_time_s)
        self.batch_size = batch_size
        self._tables: _Tables | None = None
        self._response: dict[str, np.ndarray] = {}
        if library is not None or elements:
            self._ensure(set(library.elements if library is not None else ()) | (elements or set()))

    # ------------------------------------------------------------------ set-up
    def _ensure(self, elements: set[str]) -> _Tables:
        if self._tables is None or not elements <= set(self._tables.elements):
            have = set(self._tables.elements) if self._tables else set()
            ordered = sorted(have | elements, key=atomic_number)
            self._tables = _Tables(self.instrument, ordered, self.excitation)
            self._response = {}
        return self._tables

    def _responses(self, t: _Tables) -> dict[str, np.ndarray]:
        if not self._response:
            inst = self.instrument
            e0, widths = self.excitation.energies_kev, self.excitation.widths_kev
            doppler = (
                _COMPTON_FWHM_FRACTION
                * t.compton_energy
                * math.sin(math.radians(inst.geometry.scattering_angle_deg) / 2)
                / math.sin(math.pi / 4)
            )
            compton_widths = widths * t.compton_energy / e0
            self._response = {
                "lines": response_matrix(inst, t.lines.energies_kev, escape=self.escape_peaks),
                "rayleigh": response_matrix(inst, e0, widths_kev=widths, escape=self.escape_peaks),
                "compton": response_matrix(
                    inst,
                    t.compton_energy,
                    widths_kev=compton_widths,
                    extra_fwhm_kev=doppler,
                    escape=self.escape_peaks,
                ),
                "eff_lines": detection_efficiency(inst, t.lines.energies_kev),
                "eff_rayleigh": detection_efficiency(inst, e0),
                "eff_compton": detection_efficiency(inst, t.compton_energy),
            }
        return self._response

    def _incident_photons(self) -> np.ndarray:
        tube = self.instrument.tube
        return (
            self.excitation.photons
            * (tube.current_ua * 1e-3)
            * tube.beam_solid_angle_sr
            * self.instrument.live_time_s
        )

    # ------------------------------------------------------------------ arrays
    def _arrays(self, stacks: Sequence[Stack], t: _Tables) -> tuple[np.ndarray, np.ndarray]:
        n_layers = max(len(s.layers) for s in stacks)
        conc = np.zeros((len(stacks), n_layers, len(t.elements)))
        rho_t = np.zeros((len(stacks), n_layers))
        for i, stack in enumerate(stacks):
            for k, layer in enumerate(stack.layers):
                for el, frac in layer.composition.items():
                    conc[i, k, t.index[el]] = frac
                rho_t[i, k] = layer.mass_thickness_g_cm2
        return conc, rho_t

    def _check_excitable(self, stacks: Sequence[Stack], t: _Tables) -> None:
        for stack in stacks:
            with_lines = [el for el in stack.elements if atomic_number(el) > 10]
            if with_lines and not any(t.excitable.get(el, False) for el in with_lines):
                raise PigmentmapError(
                    f"tube voltage {self.instrument.tube.voltage_kv:g} kV is below every "
                    f"absorption edge of interest of {', '.join(sorted(with_lines))}: "
                    "nothing would fluoresce"
                )

    def _batch(self, stacks: Sequence[Stack], t: _Tables) -> tuple[np.ndarray, ...]:
        conc, rho_t = self._arrays(stacks, t)
        present = conc.max(axis=(0, 1)) > 0
        active = present[t.line_element]
        lines = np.flatnonzero(active)
        weights = self._incident_photons()
        optics = multilayer.LayerOptics(
            rho_t=rho_t,
            mu_in=conc @ t.mu_in,
            mu_line=conc @ t.mu_line[:, lines],
            conc_line=conc[:, :, t.line_element[lines]],
        )
        sig = t.sigma[lines]
        kw = {"sin_in": t.sin_in, "sin_out": t.sin_out}
        prim = multilayer.primary(optics, sigma=sig, weights=weights, **kw).sum(axis=1)
        if self.secondary_fluorescence and len(lines):
            sec = multilayer.secondary(
                optics,
                sigma=sig,
                weights=weights,
                sigma_secondary=t.sigma_secondary[np.ix_(lines, lines)],
                n_sub=self.n_sublayers,
                **kw,
            ).sum(axis=1)
        else:
            sec = np.zeros_like(prim)
        r = self._responses(t)
        omega = self.instrument.detector.solid_angle_sr
        fluo_scale = omega / (4 * np.pi) * r["eff_lines"][lines]
        rayleigh = multilayer.scatter(
            optics.mu_in, optics.mu_in, rho_t, conc @ t.dcs_rayleigh, weights=weights, **kw
        )
        compton = multilayer.scatter(
            optics.mu_in, conc @ t.mu_compton, rho_t, conc @ t.dcs_compton, weights=weights, **kw
        )
        line_counts = np.zeros((len(stacks), len(t.lines.lines)))
        sec_counts = np.zeros_like(line_counts)
        line_counts[:, lines] = (prim + sec) * fluo_scale
        sec_counts[:, lines] = sec * fluo_scale
        spectra = line_counts[:, lines] @ r["lines"][lines]
        spectra += (rayleigh * omega * r["eff_rayleigh"]) @ r["rayleigh"]
        spectra += (compton * omega * r["eff_compton"]) @ r["compton"]
        return spectra, line_counts, sec_counts

    # ------------------------------------------------------------------ public
    @property
    def lines(self) -> LineTable:
        """Lines known to the engine (after the first simulation or a library)."""
        if self._tables is None:
            raise PigmentmapError("no tables yet: simulate something or pass a library")
        return self._tables.lines

    def iter_batches(
        self,
        stacks: Sequence[Stack],
        *,
        rng: np.random.Generator | None = None,
        progress: bool = False,
    ) -> Iterator[tuple[np.ndarray, SimulationResult]]:
        """Simulate ``stacks`` batch by batch: yields ``(indices, result)``.

        Memory stays bounded by ``batch_size`` whatever the number of stacks; batches come in an
        order that groups stacks with the same elements, ``indices`` say which stacks they are.

        Examples
        --------
        >>> from pigmentmap.instruments import load_instrument
        >>> from pigmentmap.materials import default_library, parse_stack
        >>> lib = default_library()
        >>> sim = Simulator(load_instrument("elio"), batch_size=2)
        >>> stacks = [parse_stack(s, library=lib) for s in ("LW:10", "VM:10", "CB:10")]
        >>> [len(idx) for idx, _ in sim.iter_batches(stacks)]
        [2, 1]
        """
        if len(stacks) == 0:
            raise PigmentmapError("no stacks to simulate")
        elements = set().union(*(s.elements for s in stacks))
        t = self._ensure(elements)
        self._check_excitable(stacks, t)
        # Group stacks with the same elements so that each batch touches few lines.
        order = sorted(range(len(stacks)), key=lambda i: tuple(sorted(stacks[i].elements)))
        bar = tqdm(total=len(stacks), disable=not progress, unit="spectra", desc="simulate")
        try:
            for start in range(0, len(order), self.batch_size):
                idx = np.array(order[start : start + self.batch_size])
                counts, line_counts, sec_counts = self._batch([stacks[i] for i in idx], t)
                if self.pileup_resolving_time_s > 0:
                    counts = add_pileup(
                        counts,
                        self.instrument.axis,
                        live_time_s=self.instrument.live_time_s,
                        resolving_time_s=self.pileup_resolving_time_s,
                    )
                if rng is not None:
                    counts = poisson_counts(counts, rng=rng).astype(np.float64)
                bar.update(len(idx))
                yield (
                    idx,
                    SimulationResult(
                        counts, self.instrument.axis, t.lines, line_counts, sec_counts
                    ),
                )
        finally:
            bar.close()

    def simulate(
        self,
        stacks: Sequence[Stack],
        *,
        rng: np.random.Generator | None = None,
        progress: bool = False,
    ) -> SimulationResult:
        """Simulate the spectra of ``stacks`` (all in memory; see :meth:`iter_batches`).

        Parameters
        ----------
        stacks : sequence of Stack
            Layers top to bottom; stacks may have different numbers of layers.
        rng : numpy.random.Generator, optional
            When given, counts are Poisson draws; otherwise expected values.
        progress : bool
            Show a progress bar.

        Returns
        -------
        SimulationResult
        """
        counts = line_counts = sec_counts = None
        lines = None
        for idx, part in self.iter_batches(stacks, rng=rng, progress=progress):
            if counts is None:
                counts = np.zeros((len(stacks), part.counts.shape[1]))
                line_counts = np.zeros((len(stacks), part.line_counts.shape[1]))
                sec_counts = np.zeros_like(line_counts)
                lines = part.lines
            counts[idx] = part.counts
            line_counts[idx] = part.line_counts  # type: ignore[index]
            sec_counts[idx] = part.secondary_counts  # type: ignore[index]
        assert counts is not None and lines is not None
        return SimulationResult(counts, self.instrument.axis, lines, line_counts, sec_counts)  # type: ignore[arg-type]
