"""The Instrument: everything about the scanner that shapes a spectrum, read from TOML.

A profile is a TOML file with the tables ``[tube]``, ``[geometry]``, ``[detector]``,
``[calibration]`` and ``[acquisition]``; see ``instruments/profiles/elio.toml`` for a documented
example. Shipped profiles are found by name; any other path to a TOML file works too.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.formula import atomic_number, mass_fractions

# Electron-hole pair creation energy in Si (keV), for the Fano term of the resolution.
SI_PAIR_ENERGY_KEV = 3.85e-3
#: Mn K-alpha (keV): the reference energy of detector resolution and line-shape specifications.
MN_KA_KEV = 5.8951
_FWHM_PER_SIGMA_SQ = 8.0 * math.log(2.0)


@dataclass(frozen=True)
class Filter:
    """A sheet in the beam: a formula and a thickness.

    Examples
    --------
    >>> Filter("Al", thickness_um=100.0, density_g_cm3=2.7).composition
    {'Al': 1.0}
    """

    formula: str
    thickness_um: float
    density_g_cm3: float

    def __post_init__(self) -> None:
        if self.thickness_um < 0 or self.density_g_cm3 <= 0:
            raise PigmentmapError(f"filter {self.formula}: thickness >= 0 and density > 0 needed")

    @property
    def composition(self) -> dict[str, float]:
        """Element mass fractions."""
        return mass_fractions(self.formula)


@dataclass(frozen=True)
class Tube:
    """X-ray tube: anode, high voltage, current, exit window, filters, beam optics."""

    anode: str
    voltage_kv: float
    current_ua: float
    window_be_um: float
    electron_incidence_deg: float = 90.0
    takeoff_deg: float = 45.0
    filters: tuple[Filter, ...] = ()
    beam_solid_angle_sr: float = 3e-4
    air_path_mm: float = 0.0

    @property
    def anode_z(self) -> int:
        """Atomic number of the anode."""
        return atomic_number(self.anode)


@dataclass(frozen=True)
class Geometry:
    """Angles to the sample surface (degrees) and the scattering angle between beam and detector."""

    incidence_deg: float
    takeoff_deg: float
    scattering_deg: float | None = None

    @property
    def scattering_angle_deg(self) -> float:
        """Given, or ``incidence + takeoff`` (tube and detector on opposite sides of the normal)."""
        if self.scattering_deg is not None:
            return self.scattering_deg
        return self.incidence_deg + self.takeoff_deg


@dataclass(frozen=True)
class Detector:
    """Silicon drift detector: crystal, window, solid angle, resolution, line shape, pile-up.

    The line-shape and pile-up fields have defaults typical of a current SDD; a profile's
    ``[detector]`` table may set them:

    ``shelf_fraction`` (0.003)
        Share of the counts of a line in a flat shelf from 0 keV up to the line (incomplete
        charge collection), the same at every energy. 0.3 % puts the shelf below Mn K-alpha at
        about 1/14,000 of the peak height for a 135 eV detector with 10 eV channels, between
        the peak-to-background ratios of 10,000-20,000 that SDD data sheets quote for Fe-55 and
        the step of PyMca's default hypermet parameters (step height 1e-4 of the Gaussian's,
        about 0.4 % of the area at Mn K-alpha).
    ``tail_fraction`` (0.01)
        Share of the counts in an exponential low-energy tail at Mn K-alpha; it scales with the
        Si photoabsorption coefficient (charge lost by photons absorbed near the entrance
        contact), so about 6 % at 3 keV, 0.8 % at Fe K-alpha and 0.2 % at Pb L-alpha. A
        percent-level tail at Mn K-alpha is typical of SDD line-shape fits; PyMca's default
        short tail (when switched on) holds 5 % at every energy.
    ``tail_slope_fwhm`` (1.0)
        Decay length of the tail in units of the local FWHM (135 eV at Mn K-alpha for a
        135 eV detector): the shoulder that SDD spectra show within a few hundred eV below a
        strong line.
    ``pileup_resolving_time_ns`` (200)
        Pulse-pair resolving time: two photons closer in time are counted as one at the sum
        energy (0 = no pile-up). 200 ns is typical of the fast (pile-up rejection) channel of
        SDD pulse processors, which resolve pulses 100-300 ns apart.
    """

    si_thickness_um: float
    window_be_um: float
    area_mm2: float
    distance_mm: float
    fwhm_mn_ka_ev: float
    fano: float = 0.114
    air_path_mm: float = 0.0
    dead_layer_um: float = 0.0
    shelf_fraction: float = 0.003
    tail_fraction: float = 0.01
    tail_slope_fwhm: float = 1.0
    pileup_resolving_time_ns: float = 200.0

    @property
    def solid_angle_sr(self) -> float:
        """Solid angle of a disc of ``area_mm2`` at ``distance_mm`` on its axis."""
        r2 = self.area_mm2 / math.pi
        return 2.0 * math.pi * (1.0 - self.distance_mm / math.sqrt(self.distance_mm**2 + r2))

    @property
    def noise_fwhm_kev(self) -> float:
        """Electronic noise term, from the resolution at Mn K-alpha minus its Fano part."""
        fano_sq = _FWHM_PER_SIGMA_SQ * SI_PAIR_ENERGY_KEV * self.fano * MN_KA_KEV
        return math.sqrt(max((self.fwhm_mn_ka_ev * 1e-3) ** 2 - fano_sq, 0.0))


@dataclass(frozen=True)
class Instrument:
    """A scanner profile.

    Examples
    --------
    >>> elio = load_instrument("elio")
    >>> elio.tube.voltage_kv, elio.axis.n_channels
    (40.0, 4096)
    >>> round(elio.fwhm_kev(5.8951) * 1000)
    135
    """

    name: str
    description: str
    tube: Tube
    geometry: Geometry
    detector: Detector
    axis: EnergyAxis
    live_time_s: float
    sources: dict[str, str] = field(default_factory=dict)

    def fwhm_kev(self, energy_kev: Any) -> Any:
        """Detector FWHM at ``energy_kev`` (noise and Fano in quadrature)."""
        noise = self.detector.noise_fwhm_kev
        fano = _FWHM_PER_SIGMA_SQ * SI_PAIR_ENERGY_KEV * self.detector.fano
        return (noise**2 + fano * energy_kev) ** 0.5

    def with_changes(
        self,
        *,
        voltage_kv: float | None = None,
        current_ua: float | None = None,
        live_time_s: float | None = None,
    ) -> Instrument:
        """A copy with another tube voltage, current or live time."""
        tube = self.tube
        if voltage_kv is not None:
            tube = replace(tube, voltage_kv=float(voltage_kv))
        if current_ua is not None:
            tube = replace(tube, current_ua=float(current_ua))
        live = self.live_time_s if live_time_s is None else float(live_time_s)
        if not live > 0:
            raise PigmentmapError(f"live time must be positive, got {live_time_s}")
        if not tube.current_ua > 0:
            raise PigmentmapError(f"tube current must be positive, got {tube.current_ua}")
        return replace(self, tube=tube, live_time_s=live)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON in dataset files and model cards)."""
        d = asdict(self)
        d["axis"] = self.axis.to_dict()
        return d

    @property
    def hash(self) -> str:
        """SHA-256 of the profile's values."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def _get(table: dict[str, Any], key: str, where: str, default: Any = ...) -> Any:
    if key in table:
        return table[key]
    if default is ...:
        raise PigmentmapError(f"{where}: missing '{key}'")
    return default


def _positive(value: Any, what: str, where: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PigmentmapError(f"{where}: {what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise PigmentmapError(f"{where}: {what} must be {'>= 0' if allow_zero else '> 0'}")
    return v


def instrument_from_dict(data: dict[str, Any], *, name: str, where: str) -> Instrument:
    """Build and check an Instrument from parsed TOML."""
    for section in ("tube", "geometry", "detector", "calibration", "acquisition"):
        if not isinstance(data.get(section), dict):
            raise PigmentmapError(f"{where}: missing [{section}] table")
    t, g, d, c, a = (
        data[s] for s in ("tube", "geometry", "detector", "calibration", "acquisition")
    )
    filters = tuple(
        Filter(
            str(_get(f, "formula", where)),
            thickness_um=_positive(_get(f, "thickness_um", where), "filter thickness", where),
            density_g_cm3=_positive(_get(f, "density_g_cm3", where), "filter density", where),
        )
        for f in t.get("filters", [])
    )
    tube = Tube(
        anode=str(_get(t, "anode", where)),
        voltage_kv=_positive(_get(t, "voltage_kv", where), "tube voltage_kv", where),
        current_ua=_positive(_get(t, "current_ua", where), "tube current_ua", where),
        window_be_um=_positive(
            _get(t, "window_be_um", where), "tube window_be_um", where, allow_zero=True
        ),
        electron_incidence_deg=float(t.get("electron_incidence_deg", 90.0)),
        takeoff_deg=float(t.get("takeoff_deg", 45.0)),
        filters=filters,
        beam_solid_angle_sr=_positive(
            t.get("beam_solid_angle_sr", 3e-4), "beam_solid_angle_sr", where
        ),
        air_path_mm=_positive(
            t.get("air_path_mm", 0.0), "tube air_path_mm", where, allow_zero=True
        ),
    )
    tube.anode_z  # noqa: B018 - validates the anode symbol
    geometry = Geometry(
        incidence_deg=float(_get(g, "incidence_deg", where)),
        takeoff_deg=float(_get(g, "takeoff_deg", where)),
        scattering_deg=float(g["scattering_deg"]) if "scattering_deg" in g else None,
    )
    for angle, what in (
        (geometry.incidence_deg, "incidence_deg"),
        (geometry.takeoff_deg, "takeoff_deg"),
    ):
        if not 0 < angle <= 90:
            raise PigmentmapError(f"{where}: geometry {what} must be in (0, 90] degrees")
    detector = Detector(
        si_thickness_um=_positive(_get(d, "si_thickness_um", where), "si_thickness_um", where),
        window_be_um=_positive(
            _get(d, "window_be_um", where), "detector window_be_um", where, allow_zero=True
        ),
        area_mm2=_positive(_get(d, "area_mm2", where), "detector area_mm2", where),
        distance_mm=_positive(_get(d, "distance_mm", where), "detector distance_mm", where),
        fwhm_mn_ka_ev=_positive(_get(d, "fwhm_mn_ka_ev", where), "fwhm_mn_ka_ev", where),
        fano=_positive(d.get("fano", 0.114), "fano", where),
        air_path_mm=_positive(
            d.get("air_path_mm", 0.0), "detector air_path_mm", where, allow_zero=True
        ),
        dead_layer_um=_positive(
            d.get("dead_layer_um", 0.0), "dead_layer_um", where, allow_zero=True
        ),
        shelf_fraction=_positive(
            d.get("shelf_fraction", Detector.shelf_fraction),
            "shelf_fraction",
            where,
            allow_zero=True,
        ),
        tail_fraction=_positive(
            d.get("tail_fraction", Detector.tail_fraction), "tail_fraction", where, allow_zero=True
        ),
        tail_slope_fwhm=_positive(
            d.get("tail_slope_fwhm", Detector.tail_slope_fwhm), "tail_slope_fwhm", where
        ),
        pileup_resolving_time_ns=_positive(
            d.get("pileup_resolving_time_ns", Detector.pileup_resolving_time_ns),
            "pileup_resolving_time_ns",
            where,
            allow_zero=True,
        ),
    )
    if detector.shelf_fraction + detector.tail_fraction >= 0.5:
        raise PigmentmapError(
            f"{where}: shelf_fraction + tail_fraction must be below 0.5 (the share of counts "
            "outside the Gaussian at Mn K-alpha)"
        )
    fano_limit = math.sqrt(_FWHM_PER_SIGMA_SQ * SI_PAIR_ENERGY_KEV * detector.fano * 5.8951) * 1e3
    if detector.fwhm_mn_ka_ev < fano_limit:
        raise PigmentmapError(
            f"{where}: fwhm_mn_ka_ev {detector.fwhm_mn_ka_ev} eV is below the Fano limit "
            f"({fano_limit:.0f} eV for fano={detector.fano})"
        )
    axis = EnergyAxis(
        offset_kev=float(_get(c, "offset_kev", where)),
        gain_kev=_positive(_get(c, "gain_kev", where), "calibration gain_kev", where),
        n_channels=int(_get(c, "n_channels", where)),
        quadratic_kev=float(c.get("quadratic_kev", 0.0)),
    )
    live = _positive(_get(a, "live_time_s", where), "acquisition live_time_s", where)
    sources = {str(k): str(v) for k, v in data.get("sources", {}).items()}
    return Instrument(
        name=str(data.get("name", name)),
        description=str(data.get("description", "")),
        tube=tube,
        geometry=geometry,
        detector=detector,
        axis=axis,
        live_time_s=live,
        sources=sources,
    )


def _profiles() -> dict[str, Any]:
    folder = resources.files("pigmentmap.instruments").joinpath("profiles")
    return {p.name[: -len(".toml")]: p for p in folder.iterdir() if p.name.endswith(".toml")}


def instrument_names() -> list[str]:
    """Names of the shipped profiles.

    Examples
    --------
    >>> "elio" in instrument_names()
    True
    """
    return sorted(_profiles())


def load_instrument(name_or_path: str | Path) -> Instrument:
    """A shipped profile by name, or a TOML file by path.

    Examples
    --------
    >>> load_instrument("m6-jetstream").tube.anode
    'Rh'
    """
    profiles = _profiles()
    key = str(name_or_path)
    if key in profiles:
        text, where, name = profiles[key].read_text("utf-8"), f"profile '{key}'", key
    else:
        path = Path(key)
        if not (path.suffix == ".toml" and path.is_file()):
            raise PigmentmapError(
                f"unknown instrument '{key}' (shipped: {', '.join(sorted(profiles))}; "
                "or give a path to a .toml profile)"
            )
        text, where, name = path.read_text("utf-8"), str(path), path.stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PigmentmapError(f"{where}: not valid TOML ({err})") from None
    return instrument_from_dict(data, name=name, where=where)
