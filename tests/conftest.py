"""Shared fixtures: the shipped library, instruments and a simulator built once per session."""

from __future__ import annotations

import pytest

from pigmentmap.instruments import load_instrument
from pigmentmap.materials import default_library
from pigmentmap.simulate import Simulator


@pytest.fixture(scope="session")
def library():
    return default_library()


@pytest.fixture(scope="session")
def elio():
    return load_instrument("elio")


@pytest.fixture(scope="session")
def elio_sim(elio, library):
    return Simulator(elio, library=library)
