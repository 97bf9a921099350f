"""``pigmentmap map``: a scan -> pigment maps + element maps + figures, in a results folder.

``results/maps.h5`` holds ``/pigment_maps`` (H, W, K), ``/names``, ``/element_maps`` (H, W, E),
``/element_significance`` (H, W, E: each element map over its Poisson standard deviation, see
:mod:`pigmentmap.mapping.elements`), ``/element_names``, the model card (attribute
``model_card``), the element flags (attribute ``element_flags``, JSON), the source file's SHA-256
and, when the scan carries ground truth, ``/truth/...``; a PNG per pigment and per element lie
beside it. The folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.atomic import atomic_dir, check_replaceable
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.mapping.elements import COINCIDENT_SIGNIFICANCE, DEFAULT_ELEMENTS, fit_elements
from pigmentmap.mapping.pigments import bin_cube, pigment_maps

RESULTS = "maps.h5"


def source_hash(path: str | Path) -> str:
    """SHA-256 of a file (a .raw/.rpl pair hashes the .raw; a folder hashes its files in order)."""
    p = Path(path)
    files = sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p]
    if p.suffix.lower() == ".rpl":
        files = [p.with_suffix(".raw")]
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
    return h.hexdigest()


def check_results_folder(out: Path, *, overwrite: bool) -> None:
    """Refuse an output folder that already holds results (unless ``overwrite``) or other files."""
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise PigmentmapError(f"output folder '{parent}' does not exist")
    if (out / RESULTS).exists() and not overwrite:
        raise PigmentmapError(f"'{out}' already holds results (use --overwrite to replace them)")
    empty = out.is_dir() and not any(out.iterdir())
    if out.exists() and not empty:
        check_replaceable(out, overwrite=True, marker=RESULTS)


def _png(
    path: Path, image: np.ndarray, title: str, *, vmax: float | None = None, cmap: str = "inferno"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(
        figsize=(4, 4 * image.shape[0] / max(1, image.shape[1])) if image.shape[1] else (4, 4),
        dpi=100,
    )
    im = ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def read_truth(path: str | Path) -> dict[str, Any] | None:
    """Ground-truth maps stored in a scan file (phantoms), if any."""
    p = Path(path)
    if p.is_file() and h5py.is_hdf5(p):
        with h5py.File(p, "r") as f:
            if "truth/pigment_maps" in f and "truth/names" in f:
                names = f["truth/names"][()]
                out = {
                    "pigment_maps": f["truth/pigment_maps"][()],
                    "names": tuple(x.decode() if isinstance(x, bytes) else str(x) for x in names),
                }
                if "truth/top_strip" in f:
                    out["top_strip"] = f["truth/top_strip"][()]
                    out["bottom_strip"] = f["truth/bottom_strip"][()]
                return out
    return None


def run_map(
    scan: str | Path,
    cube: Cube,
    *,
    model: str,
    out: str | Path,
    instrument: Instrument,
    binning: int = 1,
    elements: tuple[str, ...] = DEFAULT_ELEMENTS,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Pigment maps, element maps and PNGs of ``cube`` into the folder ``out``."""
    out = Path(out)
    check_results_folder(out, overwrite=overwrite)
    maps = pigment_maps(cube, model, binning=binning, progress=progress)
    counts = bin_cube(cube.counts, binning) if binning > 1 else cube.counts
    element = fit_elements(counts, cube.axis, instrument, elements=elements, progress=progress)
    truth = read_truth(scan)
    if truth is not None and binning > 1:
        t = truth["pigment_maps"]
        hh, ww = maps.prob.shape[:2]
        truth["pigment_maps"] = (
            t[: hh * binning, : ww * binning].reshape(hh, binning, ww, binning, -1).max(axis=(1, 3))
        )
    with atomic_dir(out, overwrite=True, marker=RESULTS) as tmp:  # checked above
        with h5py.File(tmp / RESULTS, "w") as f:
            f["pigment_maps"] = maps.prob
            f["names"] = np.array(maps.names, dtype=h5py.string_dtype())
            f["element_maps"] = element.values.astype(np.float32)
            f["element_significance"] = element.significance.astype(np.float32)
            f["element_names"] = np.array(element.names, dtype=h5py.string_dtype())
            f.attrs["model_card"] = json.dumps(maps.model_card)
            f.attrs["model"] = str(model)
            f.attrs["source"] = str(scan)
            f.attrs["source_sha256"] = source_hash(scan)
            f.attrs["binning"] = binning
            f.attrs["instrument"] = json.dumps(instrument.to_dict())
            f.attrs["axis"] = json.dumps(cube.axis.to_dict())
            f.attrs["element_units"] = element.units
            f.attrs["element_flags"] = json.dumps(element.flags)
            if truth is not None:
                f["truth/pigment_maps"] = truth["pigment_maps"]
                f["truth/names"] = np.array(truth["names"], dtype=h5py.string_dtype())
                if "top_strip" in truth and binning == 1:
                    f["truth/top_strip"] = truth["top_strip"]
                    f["truth/bottom_strip"] = truth["bottom_strip"]
        for k, name in enumerate(maps.names):
            _png(tmp / f"pigment_{name}.png", maps.prob[..., k], f"{name} probability", vmax=1.0)
        for k, name in enumerate(element.names):
            v = element.values[..., k]
            note = (
                f"; where significance >= {COINCIDENT_SIGNIFICANCE:g}"
                if name in element.flags
                else ""
            )
            _png(
                tmp / f"element_{name}.png",
                v,
                f"{name} (counts{note})",
                vmax=float(np.percentile(v, 99)) or None,
                cmap="viridis",
            )
    return out
