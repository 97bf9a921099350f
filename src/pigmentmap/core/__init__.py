"""Objects shared by every part: energy axes, spectra, cubes and the user-facing error."""

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube, Spectrum

__all__ = ["Cube", "EnergyAxis", "PigmentmapError", "Spectrum"]
