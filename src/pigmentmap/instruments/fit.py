"""``pigmentmap instrument fit``: an instrument profile estimated from a scan itself.

From the scan's summed spectrum: the energy calibration and the resolution (noise and Fano) by
:func:`pigmentmap.instruments.calibration.calibrate`; the tube anode from the Rayleigh lines
that come with a Compton companion; the scattering angle from the Compton shift; the tube
voltage from the end of the continuum (where the axis reaches it); the live time from the file
(its real time when the live time is 0 or missing); a count scale from the scatter intensity;
and the measured continuum, written beside the profile for ``dataset --background``. Every other
value comes from a starting profile, and each value written says where it came from.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.spectrum import Cube, row_blocks
from pigmentmap.instruments.calibration import (
    Calibration,
    calibrate,
    find_spectrum_peaks,
    is_broad,
)
from pigmentmap.instruments.instrument import Geometry, Instrument

#: Tube anodes looked for, with the line family that a detector sees of them.
ANODES = {"Ti": "K", "Cr": "K", "Fe": "K", "Co": "K", "Cu": "K", "Mo": "K", "Rh": "K",
          "Pd": "K", "Ag": "K", "W": "L", "Re": "L", "Pt": "L", "Au": "L"}  # fmt: skip
_ELECTRON_REST_KEV = 510.998950


class FitWarning(UserWarning):
    """A value of the profile could not be fitted and was taken from the starting profile."""


def sum_spectrum(counts: Any, *, block_mb: float = 32.0) -> np.ndarray:
    """Sum over all pixels of an (H, W, C) array, reading blocks of rows of about ``block_mb``
    (memory-mapped and lazily read cubes stay small).

    Examples
    --------
    >>> import numpy as np
    >>> sum_spectrum(np.ones((3, 2, 4))).tolist()
    [6.0, 6.0, 6.0, 6.0]
    """
    h, w, c = (int(n) for n in counts.shape)
    total = np.zeros(c)
    for r0, r1 in row_blocks(h, 8.0 * w * c, budget_bytes=block_mb * 1e6):
        block = np.asarray(counts[r0:r1], dtype=np.float64)
        total += block.reshape(-1, c).sum(axis=0)
    return total


@dataclass(frozen=True)
class InstrumentFit:
    """What :func:`fit_instrument` found.

    Attributes
    ----------
    instrument : Instrument
        The fitted profile (unfitted values from the starting profile).
    provenance : dict
        ``"section.key"`` -> where the value came from.
    calibration : Calibration
        Peaks, residuals, resolution.
    anode : str or None
        The anode found from the Rayleigh lines (None: not found).
    continuum : (C,) array
        The mean pixel's continuum (SNIP background), counts per pixel in ``live_time_s``.
    notes : list of str
        Everything that fell back to a default, and why.
    """

    instrument: Instrument
    provenance: dict[str, str]
    calibration: Calibration
    anode: str | None
    continuum: np.ndarray
    notes: list[str] = field(default_factory=list)


def compton_energy_kev(energy_kev: float, angle_deg: float) -> float:
    """Energy of a photon Compton-scattered by ``angle_deg``.

    Examples
    --------
    >>> round(compton_energy_kev(20.216, 90.0), 3)
    19.447
    """
    return energy_kev / (
        1.0 + energy_kev / _ELECTRON_REST_KEV * (1.0 - math.cos(math.radians(angle_deg)))
    )


def scattering_angle_deg(rayleigh_kev: float, compton_kev: float) -> float:
    """Scattering angle from a Rayleigh line and its Compton peak.

    Examples
    --------
    >>> round(scattering_angle_deg(20.216, compton_energy_kev(20.216, 120.0)), 1)
    120.0
    """
    cos = 1.0 - _ELECTRON_REST_KEV * (1.0 / compton_kev - 1.0 / rayleigh_kev)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def _find_anode(
    cal: Calibration, broad_kev: list[float]
) -> tuple[str | None, float | None, float | None]:
    """(anode, its main Rayleigh energy, its Compton peak energy) or Nones."""
    from pigmentmap.instruments.calibration import line_families

    fams = {f.name: f for f in line_families()}
    best: tuple[float, str, float, float] | None = None
    for anode, family in ANODES.items():
        name = f"{anode} {family}"
        # Its Rayleigh lines: the family the Compton peak belongs to, or the anode's other
        # family (a weak Rh K-alpha Rayleigh peak may hide where its L lines show).
        amp = sum(cal.amplitudes.get(f"{anode} {f}", 0.0) for f in ("K", "L", "M"))
        if amp <= 0 or name not in fams:
            continue
        e_ray = fams[name].main_kev
        lo, hi = compton_energy_kev(e_ray, 180.0), compton_energy_kev(e_ray, 60.0)
        companions = [e for e in broad_kev if lo - 0.05 <= e <= hi]
        if not companions:
            continue
        e_c = max(companions)
        if best is None or amp > best[0]:
            best = (amp, anode, e_ray, e_c)
    if best is None:
        return None, None, None
    return best[1], best[2], best[3]


def continuum_end_kev(spectrum: np.ndarray, axis: EnergyAxis) -> float | None:
    """Where the continuum ends (the Duane-Hunt limit), or None when the axis ends first.

    Above the last significant peak only the scattered continuum is left: smoothed over
    0.5 keV, its falling edge from 8 % to 1 % of its level there is extrapolated linearly to
    zero.

    Examples
    --------
    >>> import numpy as np
    >>> axis = EnergyAxis(0.0, 0.02, 2500)
    >>> e = axis.energies
    >>> s = np.where(e < 30, 400 * np.clip(30 - e, 0, None) * np.exp(-e / 20), 0) + 1
    >>> round(continuum_end_kev(s, axis))
    30
    >>> continuum_end_kev(np.ones(2500), axis) is None
    True
    """
    from scipy.ndimage import uniform_filter1d

    e = axis.energies
    y = np.asarray(spectrum, dtype=np.float64)
    s = uniform_filter1d(y, max(3, round(0.5 / axis.gain_kev)))
    peaks, _ = find_spectrum_peaks(y) if y.sum() > 0 else ([], y)
    start = max([int(p.channel + 4 * p.sigma_ch) for p in peaks] + [axis.channel_of(3.0), 0])
    start = max(start, start + int(np.argmax(s[start:]))) if start < len(s) else start
    tail = float(np.median(s[-max(3, len(s) // 50) :]))
    if start >= len(s) - 10:
        return None
    level = float(s[start]) - tail
    if level <= 0 or tail > 0.05 * float(s[start]):
        return None  # the continuum is still high at the end of the axis
    idx = np.arange(len(s))
    i0 = int(np.flatnonzero((s - tail >= 0.08 * level) & (idx >= start)).max())
    i1 = int(np.flatnonzero((s - tail >= 0.01 * level) & (idx >= start)).max())
    if i1 - i0 < 3:
        return None
    slope, icpt = np.polyfit(e[i0 : i1 + 1], s[i0 : i1 + 1] - tail, 1)
    if slope >= 0:
        return None
    return float(-icpt / slope)


def fit_instrument(
    cube: Cube,
    *,
    start: Instrument,
    source: str,
    quadratic: bool = False,
    count_scale: bool = True,
) -> InstrumentFit:
    """Estimate an instrument profile from a scan.

    Parameters
    ----------
    cube : Cube
        The scan (its axis is the starting calibration).
    start : Instrument
        Values that cannot be fitted (detector thickness, windows, angles of incidence and
        take-off, filters) come from here.
    source : str
        Name of the scan, for the provenance notes.
    quadratic : bool
        Fit a quadratic calibration term.
    count_scale : bool
        Scale the beam's solid angle so that simulated scatter matches the scan's (needs a
        short simulation).

    Returns
    -------
    InstrumentFit

    Examples
    --------
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> inst = load_instrument("elio").with_changes(live_time_s=2000.0)  # a scan's sum
    >>> lib = default_library()
    >>> s = Simulator(inst).simulate([parse_stack("VM:30/LW:60/CaCO3:300", library=lib)]).counts
    >>> shifted = EnergyAxis(0.08, 0.01 * 1.007, 4096)
    >>> fit = fit_instrument(Cube(s.reshape(1, 1, -1), shifted), start=inst, source="sim", count_scale=False)
    >>> e = fit.instrument.axis.energies  # the truth: 0.01 keV per channel from 0
    >>> fit.anode, bool(abs(e[300] - 3.0) < 0.015 and abs(e[1500] - 15.0) < 0.015)
    ('Rh', True)
    """
    from pigmentmap.preprocess.snip import snip_background

    h, w, _ = cube.shape
    total = sum_spectrum(cube.counts)
    cal = calibrate(total, axis_hint=cube.axis, quadratic=quadratic)
    axis = cal.axis
    fitted = f"fitted from {source}"
    default = f"default ({start.name})"
    prov: dict[str, str] = {}
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        warnings.warn(text, FitWarning, stacklevel=3)

    # Calibration and resolution.
    for key in ("offset_kev", "gain_kev", "quadratic_kev"):
        prov[f"calibration.{key}"] = f"{fitted} (RMS {cal.rms_ev():.1f} eV over 3-15 keV)"
    prov["calibration.n_channels"] = f"from {source}"
    detector = replace(
        start.detector, fwhm_mn_ka_ev=round(cal.fwhm_mn_ev, 1), fano=round(cal.fano, 4)
    )
    prov["detector.fwhm_mn_ka_ev"] = f"{fitted} (peak widths)"
    prov["detector.fano"] = f"{fitted} (peak widths)"

    # Anode and scattering angle.
    peaks, _ = find_spectrum_peaks(total)
    channels = np.arange(len(total), dtype=float)
    params = np.array([axis.offset_kev, axis.gain_kev])
    broad = [
        float(np.interp(p.channel, channels, axis.energies))
        for p in peaks
        if is_broad(p, params, noise_kev=cal.noise_fwhm_kev, fano=cal.fano)
    ]
    anode, e_ray, e_comp = _find_anode(cal, broad)
    tube = start.tube
    geometry: Geometry = start.geometry
    if anode is None:
        note(f"no tube anode lines with a Compton companion found: anode {tube.anode} ({default})")
        prov["tube.anode"] = default
        prov["geometry.scattering_deg"] = default
    else:
        tube = replace(tube, anode=anode)
        prov["tube.anode"] = f"{fitted} (Rayleigh and Compton peaks of {anode} {ANODES[anode]})"
        assert e_ray is not None and e_comp is not None
        angle = scattering_angle_deg(e_ray, e_comp)
        geometry = replace(geometry, scattering_deg=round(angle, 1))
        prov["geometry.scattering_deg"] = (
            f"{fitted} (Compton peak at {e_comp:.2f} keV; approximate: the Compton profile is "
            "asymmetric)"
        )

    # Voltage from the end of the continuum.
    end = continuum_end_kev(total, axis)
    if end is None:
        note(
            f"the continuum does not end inside the axis (to {axis.max_energy_kev:.1f} keV): "
            f"voltage {tube.voltage_kv:g} kV ({default})"
        )
        prov["tube.voltage_kv"] = default
    else:
        kv = round(end * 2) / 2
        tube = replace(tube, voltage_kv=kv)
        prov["tube.voltage_kv"] = (
            f"{fitted} (end of the continuum; an optic that cuts high energies makes this low)"
        )

    # Live time.
    live = cube.meta.get("live_time_s")
    real = cube.meta.get("real_time_s")
    if live is not None and float(live) > 0:
        live_s = float(live)
        prov["acquisition.live_time_s"] = f"from {source}"
    elif real is not None and float(real) > 0:
        live_s = float(real)
        note(f"live time is 0 or missing in {source}: using its real time {live_s:g} s")
        prov["acquisition.live_time_s"] = f"real time of {source} (live time 0 or missing)"
    else:
        live_s = start.live_time_s
        note(f"no live or real time in {source}: live time {live_s:g} s ({default})")
        prov["acquisition.live_time_s"] = default

    inst = replace(
        start,
        name=f"{start.name}-fitted",
        description=f"fitted from {source} (start: {start.name})",
        tube=tube,
        geometry=geometry,
        detector=detector,
        axis=axis,
        live_time_s=live_s,
    )
    for key in ("current_ua", "beam_solid_angle_sr"):
        prov.setdefault(f"tube.{key}", default)
    if count_scale:
        inst, scale_note = _count_scale(inst, total / max(1, h * w))
        prov["tube.beam_solid_angle_sr"] = f"{fitted} ({scale_note})"
    mean = total / max(1, h * w)
    half = max(3, round(2.5 * 1e-3 * cal.fwhm_mn_ev / axis.gain_kev))
    continuum = snip_background(mean, half_window=half)
    return InstrumentFit(inst, prov, cal, anode, continuum, notes)


def _count_scale(inst: Instrument, mean: np.ndarray) -> tuple[Instrument, str]:
    """Scale the beam solid angle so that a chalk-and-oil ground scatters as many counts above
    the elements' lines (the upper third of the excited range) as the scan's mean pixel."""
    from pigmentmap.materials import default_library, parse_stack
    from pigmentmap.simulate import Simulator

    lib = default_library()
    sim = Simulator(inst, secondary_fluorescence=False)
    ref = sim.simulate([parse_stack("calcium_carbonate:500", library=lib)]).counts[0]
    e = inst.axis.energies
    top = min(inst.tube.voltage_kv, float(e[-1]))
    band = (e >= 0.6 * top) & (e <= top)
    simulated, measured = float(ref[band].sum()), float(mean[band].sum())
    if simulated <= 0 or measured <= 0:
        return inst, "no scatter to scale by: unchanged"
    scale = measured / simulated
    tube = replace(
        inst.tube, beam_solid_angle_sr=float(f"{inst.tube.beam_solid_angle_sr * scale:.4g}")
    )
    return replace(inst, tube=tube), (
        f"scatter of {0.6 * top:.1f}-{top:.1f} keV scaled x{scale:.3g} to match a chalk ground; "
        "an order of magnitude, the painting's matrix changes it"
    )
