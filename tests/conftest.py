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


@pytest.fixture(scope="session")
def universal_model(tmp_path_factory):
    """A tiny universal dataset (48 stacks) and a fast-cnn trained on it for one epoch, through
    the command line: (dataset path, model folder)."""
    from pigmentmap.cli import main

    d = tmp_path_factory.mktemp("universal")
    data, model = d / "u.h5", d / "m"
    assert main(["dataset", "--design", "universal", "--n", "48", "--seed", "3",
                 "--out", str(data)]) == 0  # fmt: skip
    assert main(["train", str(data), "--out", str(model), "--folds", "2", "--run-folds", "1",
                 "--epochs", "1"]) == 0  # fmt: skip
    return data, model
