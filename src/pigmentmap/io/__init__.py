"""Readers for MA-XRF cubes and single spectra; ``open_cube(path)`` picks the reader."""

from pigmentmap.io.open import SUFFIXES, describe, open_cube

__all__ = ["SUFFIXES", "describe", "open_cube"]
