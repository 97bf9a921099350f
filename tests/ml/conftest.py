"""Tiny synthetic datasets: class k present = a peak at its own energy, Poisson counts."""

import json

import h5py
import numpy as np
import pytest

NAMES = ("red", "green", "blue")
AXIS = {"offset_kev": 0.0, "gain_kev": 0.05, "n_channels": 400, "quadratic_kev": 0.0}


def write_synthetic(path, *, n=240, seed=0, names=NAMES, n_channels=400, nan=False):
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, len(names))) < 0.4).astype(np.uint8)
    ch = np.arange(n_channels)
    base = 30 * np.exp(-ch / 300.0) + 2
    spectra = np.tile(base, (n, 1))
    for k in range(len(names)):
        peak = 120 * np.exp(-0.5 * ((ch - (120 + 80 * k)) / 4.0) ** 2)
        spectra += labels[:, k : k + 1] * peak
    spectra = rng.poisson(spectra).astype(np.float32)
    if nan:
        spectra[0, 5] = np.nan
    with h5py.File(path, "w") as f:
        f["spectra"] = spectra
        f["energy_kev"] = 0.05 * ch[:n_channels]
        f["labels"] = labels
        f["label_names"] = np.array(names, dtype=h5py.string_dtype())
        f.attrs["axis"] = json.dumps({**AXIS, "n_channels": n_channels})
        f.attrs["design"] = "synthetic"
    return path


@pytest.fixture
def synthetic(tmp_path):
    return write_synthetic(tmp_path / "syn.h5")
