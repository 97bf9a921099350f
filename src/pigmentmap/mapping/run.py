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

The scan is mapped block by block of rows (:mod:`pigmentmap.mapping.blocks`), here or on a Dask
cluster (:mod:`pigmentmap.mapping.cluster`); finished blocks are kept beside the results folder
until it is complete, so that a killed run continues where it stopped
(:mod:`pigmentmap.mapping.partial`).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pigmentmap.core.atomic import atomic_dir, check_replaceable
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import Cube
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.mapping.alternatives import describe_alternatives, mixture_alternatives
from pigmentmap.mapping.blocks import BLOCK_MB, MapJob, plan_blocks, read_rows
from pigmentmap.mapping.cluster import run_blocks
from pigmentmap.mapping.elements import (
    COINCIDENT_SIGNIFICANCE,
    DEFAULT_ELEMENTS,
    fitted_components,
    prepare_fit,
)
from pigmentmap.mapping.evidence import (
    DETECTED_SIGMA,
    UNSUPPORTED_CAP,
    GateTally,
    evidence_elements,
    measured_keys,
)
from pigmentmap.mapping.limits import detection_limits, limits_note, map_limits
from pigmentmap.mapping.partial import PartialRun, source_stamp
from pigmentmap.mapping.pigments import PigmentPredictor, check_cube
from pigmentmap.mapping.results import RESULTS, ResultsWriter
from pigmentmap.mapping.unaccounted import (
    NEIGHBOUR_SHARE,
    UNACCOUNTED_SIGMA,
    UnaccountedRule,
)
from pigmentmap.preprocess.preprocessor import channel_edges


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
    """Ground-truth maps stored in a scan file (phantoms), if any: ``pigment_maps``, ``names``,
    and where stored ``layers`` (backed by ``/truth/layers_detectable`` where the file has it,
    then also ``layers_as_simulated``), ``detectable``, ``top_strip`` and ``bottom_strip``."""
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
                    # where the file says which layer parts XRF can see, the layers physics can
                    # back (a lower part the top layer hides is no layer label)
                    out["layers"] = f["truth/layers"][()]
                    if "truth/layers_detectable" in f:
                        out["layers_as_simulated"] = out["layers"]
                        out["layers"] = out["layers"] & f["truth/layers_detectable"][()]
                if "truth/detectable" in f:
                    out["detectable"] = f["truth/detectable"][()]
                if "truth/top_strip" in f:
                    out["top_strip"] = f["truth/top_strip"][()]
                    out["bottom_strip"] = f["truth/bottom_strip"][()]
                return out
    return None


def _model_stamp(card: dict[str, Any]) -> str:
    """SHA-256 of a model card (it holds the weights' own hash and the calibration)."""
    return hashlib.sha256(json.dumps(card, sort_keys=True, default=str).encode()).hexdigest()


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
    workers: int | None = None,
    scheduler: str | None = None,
    pixel_size_mm: float | None = None,
    notes: tuple[str, ...] | list[str] = (),
    block_mb: float = BLOCK_MB,
) -> Path:
    """Pigment maps, element maps and PNGs of ``cube`` into the folder ``out``.

    The scan is mapped block by block of rows (memory holds one block, whatever the scan's
    size); each finished block is kept in a hidden folder beside ``out``
    (:mod:`pigmentmap.mapping.partial`), so a run that is killed and started again with the same
    arguments continues where it stopped and gives the same results. ``workers`` runs the
    blocks on a local Dask cluster of that many processes, ``scheduler`` on an existing Dask
    cluster (:mod:`pigmentmap.mapping.cluster`).

    Parameters
    ----------
    scan : path
        The scan's file (recorded in the results; the source of the truth of phantoms).
    cube : Cube
        The scan, opened (:func:`~pigmentmap.io.open.open_cube`).
    model, instrument : the model (directory or shipped name) and the instrument profile
    out : path
        The results folder to write.
    binning : int
        Sum binning x binning pixels first.
    elements : tuple of str
        Elements to fit (every key element of the model's classes is added).
    overwrite : bool
        Replace results pigmentmap wrote there before.
    progress : bool
        Show a progress bar.
    evidence_gate : bool
        Cap claims whose key element is not detected (:mod:`pigmentmap.mapping.evidence`).
    log : callable
        Receives one line per notice (what the model lacks, what the gate capped, a resumed
        run).
    workers, scheduler : see above (at most one of them).
    pixel_size_mm : float, optional
        The scan's pixel size, for scale bars (recorded in ``maps.h5``; default: the file's,
        where its reader found one).
    notes : list of str
        Notices given before the run (the reader's, the recalibration's), kept in ``maps.h5``
        with the run's own for the report.
    block_mb : float
        Counts per block, MB of float64.

    Examples
    --------
    >>> run_map  # doctest: +ELLIPSIS
    <function run_map at ...>
    """
    from tqdm import tqdm

    say = log or (lambda _line: None)
    kept: list[str] = [str(n) for n in notes]

    def note(line: str) -> None:
        kept.append(line)
        say(line)

    out = Path(out)
    check_results_folder(out, overwrite=overwrite)
    check_cube(cube)
    if binning < 1:
        raise PigmentmapError(f"--binning must be >= 1, got {binning}")
    if workers is not None and scheduler is not None:
        raise PigmentmapError("give --workers (a local Dask cluster) or --scheduler, not both")
    if pixel_size_mm is None:
        pixel_size_mm = cube.meta.get("pixel_size_mm")
    if pixel_size_mm is not None and not (math.isfinite(pixel_size_mm) and pixel_size_mm > 0):
        raise PigmentmapError(
            f"the pixel size must be a positive number of mm, got {pixel_size_mm}"
        )
    h, w, c = cube.shape
    hh, ww = h // binning, w // binning
    if hh == 0 or ww == 0:
        raise PigmentmapError(f"--binning {binning} is larger than the {h} x {w} scan")
    predictor = PigmentPredictor.load(str(model))
    with warnings.catch_warnings(record=True) as caught:  # the axis padded at an edge
        warnings.simplefilter("always")
        predictor.check_axis(cube.counts, cube.axis)
    for warned in caught:
        note(str(warned.message))
    names = predictor.names
    post = predictor.posterior
    fitter = prepare_fit(cube.axis, instrument, elements=evidence_elements(names, elements))
    job = MapJob(predictor, fitter, cube.axis, evidence_gate)
    blocks = plan_blocks(hh, ww, c, binning=binning, block_mb=block_mb,
                         rows_per_chunk=int(getattr(cube.counts, "rows_per_chunk", 1)))  # fmt: skip
    stamp = {
        "scan": source_stamp(scan), "shape": [h, w, c], "axis": cube.axis.to_dict(),
        "model": str(model), "card_sha256": _model_stamp(predictor.card),
        "instrument": instrument.to_dict(), "elements": list(fitter.names), "binning": binning,
        "evidence_gate": evidence_gate, "blocks": blocks,
    }  # fmt: skip
    partial = PartialRun.open(out, stamp, n_blocks=len(blocks))
    if partial.restarted:
        say(f"{partial.folder} held the blocks of a run with other arguments or another scan: "
            "starting over")  # fmt: skip
    done = partial.done()
    if done:
        say(f"continuing an interrupted run: {len(done)} of {len(blocks)} blocks are done "
            f"(kept in {partial.folder})")  # fmt: skip
    todo = [(i, r0, r1) for i, (r0, r1) in enumerate(blocks) if i not in done]
    finished_rows = sum(blocks[i][1] - blocks[i][0] for i in done)
    bar = tqdm(total=hh * ww, initial=finished_rows * ww, disable=not progress, unit="px",
               desc="mapping")  # fmt: skip
    try:
        run_blocks(
            job, todo, read=lambda r0, r1: read_rows(cube.counts, r0, r1, binning=binning),
            save=partial.save, workers=workers, scheduler=scheduler,
            progress=lambda rows: bar.update(rows * ww),
        )  # fmt: skip
    except BaseException:
        bar.close()
        kept_now = len(partial.done())
        if kept_now:
            say(f"{kept_now} of {len(blocks)} blocks are kept in {partial.folder}: rerun the "
                "same command to continue")  # fmt: skip
        raise
    bar.close()

    # What is summed over the blocks: the sum spectrum and the gate's tally.
    total = np.zeros(c)
    tally = None
    for i in range(len(blocks)):
        part = partial.load(i, keys=("sum_spectrum", "tally_counts", "tally_unsupported",
                                     "tally_lacking"))  # fmt: skip
        total += part["sum_spectrum"]
        t = GateTally.from_arrays(part)
        tally = t if tally is None else tally + t
    assert tally is not None  # a map has at least one block
    key, unmeasured = measured_keys(names, fitter.names)
    if post.missing:
        note(f"the model has no {', no '.join(post.missing)} (made before them; see pigmentmap "
             "calibrate)")  # fmt: skip
    palette = predictor.card.get("palette")
    if isinstance(palette, dict):
        note(f"the model answers for a palette of {len(names)} pigments only (pigmentmap palette, "
             f"from {palette.get('from', '?')}): a pigment outside it cannot be found here, and "
             "its elements may be read as a palette pigment that shares them")  # fmt: skip
    for line in tally.notes(key, names, gated=evidence_gate):
        note(line)
    components, component_names = fitted_components(
        total, cube.axis, instrument, elements=fitter.names
    )
    truth = read_truth(scan)
    if truth is not None and binning > 1:
        t = truth["pigment_maps"]
        truth = {
            "pigment_maps": t[: hh * binning, : ww * binning]
            .reshape(hh, binning, ww, binning, -1)
            .max(axis=(1, 3)),
            "names": truth["names"],
        }
    loose = UnaccountedRule.of(names, fitter.names)
    try:  # an aid to reading the maps: a failure here must not lose the mapped blocks
        upper = float(channel_edges(cube.axis)[-1])
        limits = detection_limits(
            instrument, names, counts_per_pixel=max(float(total.sum()) / (hh * ww), 1.0),
            upper_kev=upper,
        )  # fmt: skip
        limits = map_limits(limits, predictor, instrument, upper_kev=upper)
    except Exception as err:  # said in the log and the report, never silent
        limits = None
        note(f"what this scan can see was not computed: {err}")
    if limits is not None and limits.names:  # none where no class is a library pigment
        note(limits_note(limits))
    with atomic_dir(out, overwrite=True, marker=RESULTS) as tmp:  # checked above
        writer = ResultsWriter(
            tmp / RESULTS, shape=(hh, ww), names=names, element_names=fitter.names,
            group_names=[" | ".join(g.members) for g in post.groups],
            layers=predictor.layer_model is not None, chunk_rows=blocks[0][1] - blocks[0][0],
            unaccounted=loose.elements,
        )  # fmt: skip
        try:
            flagged = np.zeros(len(loose.elements), dtype=np.int64)
            for i, (r0, _r1) in enumerate(blocks):
                part = partial.load(i)
                here = loose.flags(part["significance"], part["prob"], names)
                flagged += here.sum(axis=(0, 1))
                writer.write_rows(r0, {**part, "unaccounted_flags": here.astype(np.int8)})
            for line in loose.notes(flagged, hh * ww):
                note(line)
            writer.finish(
                {
                    "element_flags": fitter.flags,
                    "evidence": {
                        "gate": evidence_gate,
                        "detected_sigma": DETECTED_SIGMA,
                        "cap": UNSUPPORTED_CAP,
                        "key_elements": {k: list(v) for k, v in key.items()},
                        "unmeasured": {k: list(v) for k, v in unmeasured.items()},
                        "alternatives": {
                            k: describe_alternatives(v, [g.members for g in post.groups])
                            for k, v in mixture_alternatives(names).items()
                        },
                    },
                    "unaccounted": {
                        "sigma": UNACCOUNTED_SIGMA,
                        "neighbour_share": NEIGHBOUR_SHARE,
                        "candidates": {e: list(c) for e, c in loose.candidates.items()},
                    },
                    "limits": None if limits is None else limits.to_dict(),
                    "group_list": [g.to_dict() for g in post.groups],
                    "model_card": predictor.card,
                    "model": str(model),
                    "source": str(Path(scan).resolve()),
                    "source_sha256": source_hash(scan),
                    "binning": binning,
                    "instrument": instrument.to_dict(),
                    "axis": cube.axis.to_dict(),
                    "model_lacks": list(post.missing),
                    "notes": kept,
                    "pixel_size_mm": pixel_size_mm,
                    "sum_spectrum": {
                        "energy_kev": cube.axis.energies,
                        "counts": total,
                        "components": components,
                        "names": component_names,
                    },
                    "truth": truth,
                }
            )
        finally:
            writer.close()
        _figures(tmp, names, fitter.names, fitter.flags)
    partial.remove()
    return out


def _figures(
    folder: Path, names: tuple[str, ...], element_names: tuple[str, ...], flags: dict[str, str]
) -> None:
    """A PNG and a float32 TIFF of every pigment and element map of ``folder/maps.h5``, one
    image in memory at a time."""
    with h5py.File(folder / RESULTS, "r") as f:
        prob, counts = f["entry/pigments/probability"], f["entry/elements/counts"]
        for k, name in enumerate(names):
            image = prob[k]
            _png(folder / f"pigment_{name}.png", image, f"{name} probability", vmax=1.0)
            write_tiff(folder / f"pigment_{name}.tif", image)
        for k, name in enumerate(element_names):
            v = counts[k]
            write_tiff(folder / f"element_{name}.tif", v)
            note = f"; where significance >= {COINCIDENT_SIGNIFICANCE:g}" if name in flags else ""
            _png(folder / f"element_{name}.png", v, f"{name} (counts{note})",
                 vmax=float(np.percentile(v, 99)) or None, cmap="viridis")  # fmt: skip
