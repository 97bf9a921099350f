"""A measured background for simulated spectra (the paper's way): SNIP of a measured spectrum."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.preprocess.preprocessor import check_counts, resample
from pigmentmap.preprocess.snip import snip_background


def _read_measured(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(energies, mean counts) from a CSV ``energy_kev,counts`` or an HDF5 spectrum/dataset."""
    if not path.is_file():
        raise PigmentmapError(f"background file '{path}' does not exist")
    if path.suffix.lower() == ".csv":
        try:
            table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        except ValueError as err:
            raise PigmentmapError(f"'{path}': not a CSV of energy_kev,counts ({err})") from None
        if table.shape[1] < 2:
            raise PigmentmapError(f"'{path}': needs two columns energy_kev,counts")
        return table[:, 0], table[:, 1]
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            key = "counts" if "counts" in f else "spectra" if "spectra" in f else None
            if key is None or "energy_kev" not in f:
                raise PigmentmapError(f"'{path}' has no /counts or /spectra with /energy_kev")
            counts = f[key][()]
            energies = f["energy_kev"][()]
        counts = counts.reshape(-1, counts.shape[-1]).mean(axis=0)
        return energies, counts
    raise PigmentmapError(f"background '{path}': use a .csv (energy_kev,counts) or an HDF5 file")


def measured_background(
    path: str | Path, *, axis: EnergyAxis, live_time_s: float, half_window_kev: float = 0.3
) -> np.ndarray:
    """SNIP background of a measured spectrum (or the mean of many), as counts per second per
    channel on ``axis`` (zero outside the measured range).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "bg.csv"
    >>> e = np.arange(1000) * 0.02
    >>> np.savetxt(f, np.c_[e, 50 + 0 * e], delimiter=",", header="energy_kev,counts", comments="")
    >>> bg = measured_background(f, axis=EnergyAxis(0.0, 0.01, 2000), live_time_s=10.0)
    >>> round(float(bg[500]), 3)
    2.5
    """
    energies, counts = _read_measured(Path(path))
    check_counts(counts, what=f"background '{path}'")
    if len(energies) < 8 or not np.all(np.diff(energies) > 0):
        raise PigmentmapError(f"background '{path}': energies must increase")
    gain = float(np.median(np.diff(energies)))
    src = EnergyAxis(float(energies[0]), gain, len(energies))
    bg = snip_background(counts, half_window=max(1, round(half_window_kev / gain)))
    target = axis.energies
    lo, hi = float(src.energies[0]), float(src.energies[-1])
    inside = (target >= lo - 1e-9) & (target <= hi + 1e-9)
    out = np.zeros(axis.n_channels)
    if inside.any():
        out[inside] = resample(bg, src, target[inside])
    return out / live_time_s
