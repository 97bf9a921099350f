"""``pigmentmap map``: a scan -> pigment maps + element maps + figures, in a results folder.

``results/maps.h5`` is NeXus (layout and reader: :mod:`pigmentmap.mapping.results`): pigment
probabilities (calibrated where the model is, and with claims whose key element is not detected
capped, see :mod:`pigmentmap.mapping.evidence`) and the network's own output, the element maps
and their significance (:mod:`pigmentmap.mapping.elements`), the evidence, the look-alike groups,
the layer calls where the model has a layer network, the model card, the instrument, the
calibration, the source file's SHA-256 and, when the scan carries ground truth, the truth. A PNG
per pigment and per element lies beside it, and a float32 TIFF of each (``pigment_NAME.tif``,
``element_EL.tif``: the values themselves, for ImageJ, PyMca or image editors). The folder is
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.atomic import atomic_dir, check_replaceable
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.mapping.elements import (
    COINCIDENT_SIGNIFICANCE,
    DEFAULT_ELEMENTS,
    fitted_components,
)
from pigmentmap.mapping.evidence import DETECTED_SIGMA, UNSUPPORTED_CAP, assess
from pigmentmap.mapping.pigments import bin_cube, check_cube, pigment_maps
from pigmentmap.mapping.results import RESULTS, write_results


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


def write_tiff(path: Path, image: np.ndarray) -> None:
    """A float32 TIFF of one map (ImageJ, PyMca, image editors), values as they are.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.tif"
    >>> write_tiff(p, np.array([[0.25, 0.5]]))
    >>> np.asarray(Image.open(p)).tolist()
    [[0.25, 0.5]]
    """
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F").save(
        path, format="TIFF"
    )


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
                if "truth/layers" in f:
                    out["layers"] = f["truth/layers"][()]
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
    evidence_gate: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Pigment maps, element maps and PNGs of ``cube`` into the folder ``out``.

    ``evidence_gate`` caps claims whose key element is not detected (see
    :mod:`pigmentmap.mapping.evidence`); ``log`` receives one line per notice (what the model
    lacks, what the gate capped).
    """

    say = log or (lambda _line: None)
    out = Path(out)
    check_results_folder(out, overwrite=overwrite)
    check_cube(cube)
    maps = pigment_maps(cube, model, binning=binning, progress=progress)
    counts = bin_cube(cube.counts, binning) if binning > 1 else cube.counts
    judged = assess(maps, counts, cube.axis, instrument, elements=elements,
                    evidence_gate=evidence_gate, progress=progress)  # fmt: skip
    post, element, ev, prob, groups = (
        judged.posterior,
        judged.elements,
        judged.evidence,
        judged.prob,
        judged.groups,
    )
    if post.missing:
        say(
            f"the model has no {', no '.join(post.missing)} (made before them; see pigmentmap calibrate)"
        )
    for line in judged.notes:
        say(line)
    total = element.sum_spectrum
    components, component_names = fitted_components(
        total, cube.axis, instrument, elements=element.names
    )
    truth = read_truth(scan)
    if truth is not None and binning > 1:
        t = truth["pigment_maps"]
        hh, ww = maps.prob.shape[:2]
        truth["pigment_maps"] = (
            t[: hh * binning, : ww * binning].reshape(hh, binning, ww, binning, -1).max(axis=(1, 3))
        )
    with atomic_dir(out, overwrite=True, marker=RESULTS) as tmp:  # checked above
        write_results(
            tmp / RESULTS,
            {
                "prob": prob,
                "raw": maps.raw if maps.raw is not None else maps.prob,
                "names": maps.names,
                "elements": element.values.astype(np.float32),
                "element_names": element.names,
                "element_units": element.units,
                "element_flags": element.flags,
                "significance": element.significance.astype(np.float32),
                "support": ev.support,
                "missing": ev.missing,
                "evidence": {
                    "gate": evidence_gate,
                    "detected_sigma": DETECTED_SIGMA,
                    "cap": UNSUPPORTED_CAP,
                    "key_elements": {k: list(v) for k, v in ev.key.items()},
                    "unmeasured": {k: list(v) for k, v in ev.unmeasured.items()},
                },
                "groups": groups,
                "group_list": [g.to_dict() for g in post.groups],
                "layers": maps.layers,
                "model_card": maps.model_card,
                "model": str(model),
                "source": str(Path(scan).resolve()),
                "source_sha256": source_hash(scan),
                "binning": binning,
                "instrument": instrument.to_dict(),
                "axis": cube.axis.to_dict(),
                "model_lacks": list(post.missing),
                "sum_spectrum": {
                    "energy_kev": cube.axis.energies,
                    "counts": total,
                    "components": components,
                    "names": component_names,
                },
                "truth": truth if truth is None or binning == 1 else
                {k: v for k, v in truth.items() if k in ("pigment_maps", "names")},
            },
        )  # fmt: skip
        for k, name in enumerate(maps.names):
            _png(tmp / f"pigment_{name}.png", prob[..., k], f"{name} probability", vmax=1.0)
            write_tiff(tmp / f"pigment_{name}.tif", prob[..., k])
        for k, name in enumerate(element.names):
            v = element.values[..., k]
            write_tiff(tmp / f"element_{name}.tif", v)
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
