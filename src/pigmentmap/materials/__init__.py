"""Pigments as chemistry: formulas, the pigment library, paint layers and stacks."""

from pigmentmap.materials.formula import mass_fractions, parse_formula
from pigmentmap.materials.library import PigmentLibrary, default_library, load_library
from pigmentmap.materials.pigment import Pigment
from pigmentmap.materials.stack import DEFAULT_BINDER_FRACTION, Layer, Stack
from pigmentmap.materials.stack_string import parse_stack

__all__ = [
    "DEFAULT_BINDER_FRACTION",
    "Layer",
    "Pigment",
    "PigmentLibrary",
    "Stack",
    "default_library",
    "load_library",
    "mass_fractions",
    "parse_formula",
    "parse_stack",
]
