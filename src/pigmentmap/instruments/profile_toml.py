"""Write an :class:`Instrument` as a profile TOML, each value with a comment saying where it came
from; :func:`pigmentmap.instruments.load_instrument` reads it back unchanged."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import Any

from pigmentmap.instruments.instrument import Instrument


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v} to a profile")
        return repr(v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string


def _line(key: str, value: Any, note: str | None) -> str:
    text = f"{key} = {_value(value)}"
    return f"{text:40} # {note}" if note else text


def profile_toml(
    instrument: Instrument,
    provenance: dict[str, str] | None = None,
    *,
    default_note: str | None = None,
) -> str:
    """The profile as TOML text; ``provenance`` maps ``"section.key"`` to a comment, and every
    other value gets ``default_note`` (when given).

    Examples
    --------
    >>> import tomllib
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.instruments.instrument import instrument_from_dict
    >>> elio = load_instrument("elio")
    >>> text = profile_toml(elio, {"tube.anode": "datasheet"})
    >>> 'anode = "Rh"' in text and "# datasheet" in text
    True
    >>> instrument_from_dict(tomllib.loads(text), name="x", where="x") == elio
    True
    """
    given = provenance or {}

    def note(key: str) -> str | None:
        return given.get(key, default_note)

    out = [
        f"# Instrument profile {instrument.name}: {instrument.description}",
        "# Each value says where it comes from; change any you know better.",
        f"name = {_value(instrument.name)}",
        f"description = {_value(instrument.description)}",
        "",
    ]
    tube = instrument.tube
    out.append("[tube]")
    for f in fields(tube):
        if f.name == "filters":
            continue
        out.append(_line(f.name, getattr(tube, f.name), note(f"tube.{f.name}")))
    filters = ", ".join(
        f"{{ formula = {_value(x.formula)}, thickness_um = {_value(x.thickness_um)}, density_g_cm3 = {_value(x.density_g_cm3)} }}"
        for x in tube.filters
    )
    out.append(_line("filters", 0, note("tube.filters")).replace("= 0", f"= [{filters}]", 1))
    for section, obj in (("geometry", instrument.geometry), ("detector", instrument.detector)):
        out += ["", f"[{section}]"]
        for f in fields(obj):
            v = getattr(obj, f.name)
            if v is not None:
                out.append(_line(f.name, v, note(f"{section}.{f.name}")))
    out += ["", "[calibration]"]
    for key, v in instrument.axis.to_dict().items():
        out.append(_line(key, v, note(f"calibration.{key}")))
    out += ["", "[acquisition]"]
    out.append(_line("live_time_s", instrument.live_time_s, note("acquisition.live_time_s")))
    if instrument.sources:
        out += ["", "[sources]"]
        out += [f"{json.dumps(k)} = {_value(v)}" for k, v in instrument.sources.items()]
    return "\n".join(out) + "\n"
