"""Instrument profiles: X-ray tube, geometry, air path, detector, calibration, dwell time."""

from pigmentmap.instruments.instrument import (
    Detector,
    Filter,
    Geometry,
    Instrument,
    Tube,
    instrument_names,
    load_instrument,
)

__all__ = [
    "Detector",
    "Filter",
    "Geometry",
    "Instrument",
    "Tube",
    "instrument_names",
    "load_instrument",
]
