"""Single spectra in text formats: IAEA .spe, PyMca/SPEC, Amptek and GSECARS .mca, EMSA .msa,
and CSV (``energy_kev,counts`` or one column of counts)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.io._common import (
    MAX_CHANNELS,
    RawCube,
    as_cube,
    as_float,
    axis_from,
    live_or_real,
    numbers,
    read_text,
)


def _text(path: Path) -> str:
    """The file's text: a regular file of at most 16 MiB (real spectra are far smaller)."""
    return read_text(path)


def read_spe(path: Path) -> RawCube:
    """IAEA/QXAS .spe: ``$DATA:`` first last, then counts; ``$MCA_CAL:`` and ``$MEAS_TIM:``
    (live and real time)."""
    sections: dict[str, list[str]] = {}
    key = None
    for line in _text(path).splitlines():
        if line.startswith("$"):
            key = line.strip().rstrip(":").lstrip("$").upper()
            sections[key] = []
        elif key is not None:
            sections[key].append(line)
    if "DATA" not in sections or not sections["DATA"]:
        raise PigmentmapError(f"'{path}' is not an IAEA .spe file (no $DATA: section)")
    first_last = numbers(sections["DATA"][0])
    values = np.array(numbers(" ".join(sections["DATA"][1:])))
    if len(first_last) >= 2:
        first, last = first_last[:2]
        whole = all(math.isfinite(v) and v == int(v) for v in (first, last))
        if not (whole and 2 <= last - first + 1 <= MAX_CHANNELS):
            raise PigmentmapError(
                f"'{path}': $DATA channels '{sections['DATA'][0].strip()[:40]}' must be two "
                f"whole numbers first, last spanning 2 to {MAX_CHANNELS} channels"
            )
        n = int(last - first + 1)
        if len(values) < n:
            raise PigmentmapError(f"'{path}': $DATA promises {n} channels, holds {len(values)}")
        values = values[:n]
    axis = None
    if "MCA_CAL" in sections and len(sections["MCA_CAL"]) >= 2:
        coeffs = numbers(sections["MCA_CAL"][1])
        if len(coeffs) >= 2:
            axis = axis_from(
                coeffs[0], coeffs[1], len(values), coeffs[2] if len(coeffs) > 2 else 0.0
            )
    t = numbers(sections["MEAS_TIM"][0]) if sections.get("MEAS_TIM") else []
    live, meta = live_or_real(t[0] if t else None, t[1] if len(t) > 1 else None, path.name)
    return RawCube(as_cube(values), axis, "IAEA .spe", live, meta)


def _read_amptek(text: str, path: Path) -> RawCube:
    start = text.find("<<DATA>>")
    if start < 0:
        raise PigmentmapError(f"'{path}': Amptek .mca without <<DATA>>")
    end = text.find("<<END>>", start)
    values = np.array(numbers(text[start + 8 : end if end > 0 else None]))
    times: dict[str, float] = {}
    for line in text[:start].splitlines():
        key = line.split("-", 1)[0].strip()
        if key in ("LIVE_TIME", "REAL_TIME"):
            found = numbers(line.split("-", 1)[-1])
            if found:
                times[key] = found[0]
    live, meta = live_or_real(times.get("LIVE_TIME"), times.get("REAL_TIME"), path.name)
    axis = None
    cal = text.find("<<CALIBRATION>>")
    if cal >= 0:
        pairs = [numbers(line) for line in text[cal:start].splitlines()[2:]]
        pairs = [p for p in pairs if len(p) == 2]
        if len(pairs) >= 2:
            ch, e = np.array(pairs).T
            if not (np.isfinite(ch).all() and np.isfinite(e).all()):
                raise PigmentmapError(f"'{path}': <<CALIBRATION>> holds a value that is not finite")
            if np.ptp(ch) == 0:
                raise PigmentmapError(f"'{path}': <<CALIBRATION>> points all at one channel")
            gain, offset = np.polyfit(ch, e, 1)
            axis = axis_from(offset, gain, len(values))
    return RawCube(as_cube(values), axis, "Amptek .mca", live, meta)


def _read_gsecars(text: str, path: Path) -> RawCube:
    header, _, data = text.partition("DATA:")
    fields = {}
    for line in header.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            fields[k.strip().upper()] = v
    rows = [r for r in (numbers(line) for line in data.splitlines()) if r]
    if not rows:
        raise PigmentmapError(f"'{path}': GSECARS .mca without data")
    ragged = next((k for k, r in enumerate(rows) if len(r) != len(rows[0])), None)
    if ragged is not None:
        raise PigmentmapError(
            f"'{path}': GSECARS data row {ragged + 1} has {len(rows[ragged])} values, "
            f"row 1 {len(rows[0])}"
        )
    table = np.array(rows)
    counts = table.sum(axis=1)  # the detector elements summed
    offsets, slopes = numbers(fields.get("CAL_OFFSET", "")), numbers(fields.get("CAL_SLOPE", ""))
    axis = (
        axis_from(float(np.mean(offsets)), float(np.mean(slopes)), len(counts))
        if offsets and slopes
        else None
    )
    lives, reals = numbers(fields.get("LIVE_TIME", "")), numbers(fields.get("REAL_TIME", ""))
    live, meta = live_or_real(
        float(np.mean(lives)) if lives else None,
        float(np.mean(reals)) if reals else None,
        path.name,
    )
    return RawCube(
        as_cube(counts), axis, "GSECARS .mca", live, {"elements": table.shape[1], **meta}
    )


def _read_spec_mca(text: str, path: Path) -> RawCube:
    values: list[float] = []
    calib = None
    times: list[float] = []  # preset, live, real
    in_data = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#@CALIB"):
            calib = numbers(s[7:])
        elif s.startswith("#@CTIME"):
            times = numbers(s[7:])
        elif s.startswith("@A"):
            in_data = True
            values.extend(numbers(s[2:].rstrip("\\")))
        elif in_data and s and not s.startswith("#"):
            values.extend(numbers(s.rstrip("\\")))
            in_data = s.endswith("\\")
        elif not s.startswith("#") and s and not in_data and not values:
            continue
    if not values:  # the simplest form: one column of numbers, '#' comments
        values = [
            v
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
            for v in numbers(line)[-1:]
        ]
    if not values:
        raise PigmentmapError(f"'{path}': no spectrum found")
    arr = np.array(values)
    if calib is not None and len(calib) < 2:
        raise PigmentmapError(f"'{path}': #@CALIB needs an offset and a gain, got {calib}")
    axis = (
        axis_from(calib[0], calib[1], len(arr), calib[2] if len(calib) > 2 else 0.0)
        if calib and calib[1] != 0
        else None
    )
    live, meta = live_or_real(
        times[1] if len(times) > 1 else None, times[2] if len(times) > 2 else None, path.name
    )
    return RawCube(as_cube(arr), axis, "PyMca/SPEC .mca", live, meta)


def read_mca(path: Path) -> RawCube:
    """Any of the .mca text dialects: Amptek, GSECARS (multi-element), PyMca/SPEC, plain column.

    A live time of 0 or none falls back to the real time, recorded in ``meta``
    (``live_time_from`` and a line in ``warnings``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.mca"
    >>> _ = p.write_text("<<PMCA SPECTRUM>>\\nREAL_TIME - 2.5\\nLIVE_TIME - 0\\n<<DATA>>\\n1\\n2\\n<<END>>\\n")
    >>> r = read_mca(p)
    >>> r.live_time_s, r.meta["live_time_from"]
    (2.5, 'real time')
    """
    text = _text(path)
    if "<<PMCA SPECTRUM>>" in text or "<<DATA>>" in text:
        return _read_amptek(text, path)
    if "CAL_SLOPE" in text and "DATA:" in text:
        return _read_gsecars(text, path)
    return _read_spec_mca(text, path)


_SECONDS = re.compile(r"(.*?)\s*(?:s|secs?|seconds?)?", re.IGNORECASE)


def _msa_seconds(fields: dict[str, str], key: str, path: Path) -> float | None:
    """``#LIVETIME`` / ``#REALTIME`` in seconds (a unit ``s`` allowed), or None if absent."""
    text = fields.get(key, "").strip()
    if not text:
        return None
    m = _SECONDS.fullmatch(text)
    try:
        return as_float(m.group(1) if m else text, key)
    except PigmentmapError:
        raise PigmentmapError(f"'{path}': #{key} '{text[:40]}' is not a time in seconds") from None


def read_msa(path: Path) -> RawCube:
    """EMSA/MAS .msa: ``#KEY : value`` header, then ``x, y`` pairs (or y alone), ``#ENDOFDATA``."""
    text = _text(path)
    fields: dict[str, str] = {}
    rows: list[list[float]] = []
    in_data = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            key, _, value = s[1:].partition(":")
            key = key.strip().upper()
            if key == "SPECTRUM":
                in_data = True
            elif key == "ENDOFDATA":
                break
            else:
                fields[key] = value.strip()
        elif in_data and s:
            rows.append(numbers(s))
    if not rows:
        raise PigmentmapError(f"'{path}' is not an EMSA .msa file (no #SPECTRUM data)")
    flat = [r[-1] for r in rows] if all(len(r) == 2 for r in rows) else [v for r in rows for v in r]
    counts = np.array(flat)
    scale = 1.0 if fields.get("XUNITS", "keV").strip().lower() == "kev" else 1e-3
    axis = None
    if "XPERCHAN" in fields and "OFFSET" in fields:
        axis = axis_from(
            as_float(fields["OFFSET"], f"'{path}': #OFFSET") * scale,
            as_float(fields["XPERCHAN"], f"'{path}': #XPERCHAN") * scale,
            len(counts),
        )
    live_s, real_s = (_msa_seconds(fields, k, path) for k in ("LIVETIME", "REALTIME"))
    live, meta = live_or_real(live_s, real_s, path.name)
    return RawCube(as_cube(counts), axis, "EMSA .msa", live, meta)


def read_csv(path: Path) -> RawCube:
    """CSV: ``energy_kev,counts`` (a header line allowed) or a single column of counts."""
    lines = [line for line in _text(path).splitlines() if line.strip()]
    rows = [numbers(line) for line in lines]
    rows = [r for r in rows if r]
    if not rows:
        raise PigmentmapError(f"'{path}': no numbers found")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise PigmentmapError(f"'{path}': rows have different numbers of columns")
    table = np.array(rows)
    if width == 1:
        return RawCube(as_cube(table[:, 0]), None, "CSV")
    if len(table) < 2:
        raise PigmentmapError(f"'{path}': a spectrum needs at least 2 rows, found {len(table)}")
    e = table[:, 0]
    gain = float(np.median(np.diff(e)))
    return RawCube(as_cube(table[:, 1]), axis_from(float(e[0]), gain, len(e)), "CSV")
