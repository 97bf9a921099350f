"""Write simulated spectra: CSV (``energy_kev,counts``) or HDF5, and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from pigmentmap.core.atomic import atomic_path
from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError

SPECTRUM_SUFFIXES = (".csv", ".h5", ".hdf5")


def write_spectrum(
    path: str | Path, counts: np.ndarray, axis: EnergyAxis, *, meta: dict[str, Any]
) -> Path:
    """Write one spectrum atomically; the format follows the suffix.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = write_spectrum(out, np.arange(3.0), EnergyAxis(0.0, 0.01, 3), meta={})
    >>> out.read_text().splitlines()[0]
    'energy_kev,counts'
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SPECTRUM_SUFFIXES:
        raise PigmentmapError(f"output '{p}': use a .csv or .h5 file name")
    with atomic_path(p) as tmp:
        if suffix == ".csv":
            table = np.column_stack([axis.energies, counts])
            np.savetxt(
                tmp, table, delimiter=",", header="energy_kev,counts", comments="", fmt="%.6g"
            )
        else:
            import h5py

            with h5py.File(tmp, "w") as f:
                f["counts"] = counts.astype(np.float64)
                f["energy_kev"] = axis.energies
                for key, value in meta.items():
                    f.attrs[key] = (
                        value if isinstance(value, str | int | float) else json.dumps(value)
                    )
                f.attrs["axis"] = json.dumps(axis.to_dict())
    return p


def plot_spectrum(
    path: str | Path,
    counts: np.ndarray,
    axis: EnergyAxis,
    *,
    title: str,
    labels: list[tuple[float, str]] = (),  # type: ignore[assignment]
) -> Path:
    """Log-scale plot of a spectrum with line labels, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = Path(path)
    if p.suffix.lower() != ".png":
        raise PigmentmapError(f"plot '{p}': use a .png file name")
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    ax.semilogy(axis.energies, np.clip(counts, 0.5, None), lw=0.8, color="black")
    top = float(max(counts.max(), 1.0))
    for energy, text in labels:
        ax.annotate(
            text, (energy, top), rotation=90, fontsize=7, va="top", ha="center", color="tab:red"
        )
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per channel")
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0.5, axis.max_energy_kev)
    ax.set_ylim(0.5, top * 3)
    fig.tight_layout()
    with atomic_path(p) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return p
