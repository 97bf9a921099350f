"""Dataset HDF5 files: generation (atomic, resumable) and reading.

Layout (``../shared/DESIGN.md`` section 5): ``/spectra`` (N x C float32 counts), ``/energy_kev``
(C), ``/labels`` (N x K uint8), ``/label_names``, ``/layers/fractions`` (N x L x P, mass fraction
of each material in each layer, binder excluded), ``/layers/thickness_um`` (N x L),
``/layers/material_names`` (P), ``/live_time_s`` (N), for designs that ask for it
``/detectability`` (N x K x 5, the significance of each present class up to 20, 25, 30, 35
and 42 keV, see
:mod:`pigmentmap.datasets.universal`) and ``/layers/part_z`` (N x K x 2 x 5, the same for
each class's part in the top layer and in the lower ones, see
:func:`~pigmentmap.datasets.universal.present_part_z`); attributes ``design``, ``seed``,
``instrument`` (JSON), ``instrument_hash``, ``library_hash``, ``version``, ``axis`` (JSON).

Generation writes ``OUT.partial`` chunk by chunk and marks each chunk done; an interrupted run
started again with the same arguments continues where it stopped; the file is renamed to ``OUT``
only when complete. Each chunk's noise comes from ``default_rng([seed, chunk])``, so a resumed
file equals an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from pigmentmap import __version__
from pigmentmap.core.atomic import check_output_path
from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.designs import Design
from pigmentmap.datasets.own_lines import DETECTABILITY_RULE
from pigmentmap.datasets.universal import (
    DETECTABILITY_UPPER_KEV,
    FILLER,
    SIM_AXIS,
    present_class_z,
    present_part_z,
    universal_instrument,
)
from pigmentmap.instruments.instrument import SI_PAIR_ENERGY_KEV, Instrument
from pigmentmap.materials import default_library
from pigmentmap.preprocess.preprocessor import check_counts
from pigmentmap.simulate.noise import poisson_counts
from pigmentmap.simulate.simulator import Simulator


def _variant_instrument(base: Instrument, variant: dict[str, Any]) -> Instrument:
    if "anode" in variant:  # a random instrument of the universal design
        return universal_instrument(base, variant)
    axis = replace(
        base.axis,
        offset_kev=base.axis.offset_kev + variant.get("offset_kev", 0.0),
        gain_kev=base.axis.gain_kev * variant.get("gain_factor", 1.0),
    )
    fwhm = base.detector.fwhm_mn_ka_ev * variant.get("fwhm_factor", 1.0)
    fano_limit_ev = (
        math.sqrt(8 * math.log(2) * SI_PAIR_ENERGY_KEV * base.detector.fano * 5.8951) * 1e3
    )
    det = replace(base.detector, fwhm_mn_ka_ev=max(fwhm, fano_limit_ev + 5.0))
    return replace(base, axis=axis, detector=det)


def _layers_arrays(design: Design) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = sorted(
        {p.name for s in design.stacks for layer in s.layers for p, _ in layer.components}
    )
    index = {n: i for i, n in enumerate(names)}
    n_layers = max(len(s.layers) for s in design.stacks)
    fractions = np.zeros((len(design.stacks), n_layers, len(names)), dtype=np.float32)
    thickness = np.zeros((len(design.stacks), n_layers), dtype=np.float32)
    for i, s in enumerate(design.stacks):
        for k, layer in enumerate(s.layers):
            thickness[i, k] = layer.thickness_um
            for name, f in layer.pigment_fractions.items():
                fractions[i, k, index[name]] = f
    return fractions, thickness, names


def _signature(
    design: Design, instrument: Instrument, seed: int, library_hash: str, extra: str
) -> str:
    return json.dumps([design.name, len(design.stacks), seed, instrument.hash, library_hash, extra])


def generate_dataset(
    design: Design,
    *,
    instrument: Instrument,
    out: str | Path,
    seed: int,
    library_hash: str,
    background_cps: np.ndarray | None = None,
    noise: bool = True,
    chunk_size: int = 1024,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Simulate ``design`` into an HDF5 dataset at ``out``.

    Parameters
    ----------
    design : Design
    instrument : Instrument
        Calibration, live time and detector of the simulated spectra (the ``universal`` design
        draws tube, geometry and detector per group and uses its own fine axis); pile-up follows the
        profile's ``detector.pileup_resolving_time_ns`` (on by default, 0 disables it) at the
        profile's count rate, whatever the design's live-time factors.
    out : path
        Output ``.h5``; refused if it exists unless ``overwrite``.
    seed : int
        Seed of the Poisson noise.
    library_hash : str
        Stored in the file, with the instrument's hash.
    background_cps : array (C,), optional
        A measured background (counts per second per channel on the instrument's axis) added
        before the noise, scaled by the live time (and the design's background factors).
    noise : bool
        Poisson noise (default) or expected counts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library
    >>> from pigmentmap.datasets import mockup_design
    >>> lib = default_library()
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "m.h5"
    >>> _ = generate_dataset(mockup_design(lib, n=8), instrument=load_instrument("elio"),
    ...                      out=out, seed=1, library_hash=lib.hash, progress=False)
    >>> read_dataset(out).spectra.shape
    (8, 4096)
    """
    out = check_output_path(out)
    if out.exists() and not overwrite:
        raise PigmentmapError(f"'{out}' exists (use --overwrite to replace it)")
    if design.name == "universal":  # random instruments, all on the fine simulation axis
        instrument = replace(instrument, axis=SIM_AXIS)
    n_ch = instrument.axis.n_channels
    if background_cps is not None and background_cps.shape != (n_ch,):
        raise PigmentmapError(
            f"background has {background_cps.shape} channels, the instrument {n_ch}"
        )
    partial = out.with_name(out.name + ".partial")
    n = len(design.stacks)
    n_chunks = (n + chunk_size - 1) // chunk_size
    bg_tag = "none" if background_cps is None else str(float(background_cps.sum()))
    # "parts": files written since they hold /layers/part_z; then the detectability rule (a
    # partial file from before resumes nothing)
    signature = _signature(
        design, instrument, seed, library_hash,
        f"{noise}|{chunk_size}|{bg_tag}|parts|{DETECTABILITY_RULE}",
    )  # fmt: skip
    live = instrument.live_time_s * (
        design.live_time_factor if design.live_time_factor is not None else np.ones(n)
    )
    if partial.exists():
        try:
            with h5py.File(partial, "r") as f:
                resumable = f.attrs.get("signature") == signature
        except OSError:
            resumable = False
        if not resumable:
            partial.unlink()
    if not partial.exists():
        fractions, thickness, material_names = _layers_arrays(design)
        with h5py.File(partial, "w") as f:
            f.create_dataset("spectra", (n, n_ch), dtype=np.float32, chunks=(min(n, 256), n_ch))
            f["energy_kev"] = instrument.axis.energies
            f["labels"] = design.labels.astype(np.uint8)
            f["label_names"] = np.array(design.label_names, dtype=h5py.string_dtype())
            f["live_time_s"] = live.astype(np.float64)
            g = f.create_group("layers")
            g["fractions"] = fractions
            g["thickness_um"] = thickness
            g["material_names"] = np.array(material_names, dtype=h5py.string_dtype())
            if design.variant is not None:
                f["variant"] = design.variant.astype(np.int32)
                f.attrs["variants"] = json.dumps(list(design.variants))
            if design.detectability:
                f.create_dataset(
                    "detectability",
                    (n, len(design.label_names), len(DETECTABILITY_UPPER_KEV)),
                    dtype=np.float32,
                )
                f["detectability"].attrs["upper_kev"] = DETECTABILITY_UPPER_KEV
                f.attrs["detectability_rule"] = DETECTABILITY_RULE
                k = len(design.label_names)
                g.create_dataset(
                    "part_z", (n, k, 2, len(DETECTABILITY_UPPER_KEV)), dtype=np.float32,
                    chunks=(min(n, 256), k, 2, len(DETECTABILITY_UPPER_KEV)), compression="gzip",
                )  # fmt: skip
                g["part_z"].attrs["upper_kev"] = DETECTABILITY_UPPER_KEV
            f["done"] = np.zeros(n_chunks, dtype=bool)
            f.attrs.update(
                {
                    "signature": signature,
                    "design": design.name,
                    "seed": seed,
                    "instrument": json.dumps(instrument.to_dict()),
                    "instrument_hash": instrument.hash,
                    "library_hash": library_hash,
                    "version": __version__,
                    "axis": json.dumps(instrument.axis.to_dict()),
                    "noise": "poisson" if noise else "expected",
                    "pileup_resolving_time_ns": instrument.detector.pileup_resolving_time_ns,
                    "background": "measured (SNIP) + engine scatter"
                    if background_cps is not None
                    else "engine scatter",
                    "info": json.dumps(design.info),
                }
            )
    variant = design.variant if design.variant is not None else np.zeros(n, dtype=int)
    variants = design.variants or ({},)
    sims: dict[int, Simulator] = {}
    plain: dict[int, Simulator] = {}  # no secondary fluorescence: detectability
    elements = set().union(*(s.elements for s in design.stacks))
    options: dict[str, Any] = dict(design.simulation)
    detect_shape = (len(design.label_names), len(DETECTABILITY_UPPER_KEV))
    with h5py.File(partial, "r+") as f:
        done = f["done"][()]
        bar = tqdm(
            total=n,
            initial=sum(min(chunk_size, n - int(c) * chunk_size) for c in np.flatnonzero(done)),
            disable=not progress,
            unit="spectra",
            desc=f"dataset {design.name}",
        )
        for c in map(int, np.flatnonzero(~done)):
            lo, hi = c * chunk_size, min(n, (c + 1) * chunk_size)
            counts = np.zeros((hi - lo, n_ch))
            z = np.zeros((hi - lo, *detect_shape), dtype=np.float32)
            part_z = np.zeros((hi - lo, detect_shape[0], 2, detect_shape[1]), dtype=np.float32)
            for v in np.unique(variant[lo:hi]):
                rows = np.flatnonzero(variant[lo:hi] == v)
                if v not in sims:
                    if len(sims) >= 16:  # bound memory: tables are per instrument
                        sims.clear()
                        plain.clear()
                    inst_v = _variant_instrument(instrument, variants[v])
                    sims[v] = Simulator(inst_v, elements=elements, **options)
                    if design.detectability:
                        plain[v] = Simulator(
                            inst_v, elements=elements, secondary_fluorescence=False, **options
                        )
                part = sims[v].simulate([design.stacks[lo + r] for r in rows])
                counts[rows] = part.counts
                if design.detectability:
                    z[rows] = _detectability(plain[v], design, lo + rows, design.label_names)
                    part_z[rows] = present_part_z(
                        plain[v], [design.stacks[lo + r] for r in rows], z[rows],
                        design.label_names, filler=default_library()[FILLER],
                    )  # fmt: skip
            counts *= (live[lo:hi] / instrument.live_time_s)[:, None]
            if background_cps is not None:
                level = (
                    design.background_factor[lo:hi] if design.background_factor is not None else 1.0
                )
                counts += np.outer(live[lo:hi] * level, background_cps)
            if noise:
                counts = poisson_counts(counts, rng=np.random.default_rng([seed, int(c)]))
            f["spectra"][lo:hi] = counts.astype(np.float32)
            if design.detectability:
                f["detectability"][lo:hi] = z
                f["layers/part_z"][lo:hi] = part_z
            f["done"][c] = True
            f.flush()
            bar.update(hi - lo)
        bar.close()
    os.replace(partial, out)
    return out


def _detectability(
    sim: Simulator,
    design: Design,
    index: np.ndarray,
    label_names: tuple[str, ...],
) -> np.ndarray:
    """z of each present class of stacks ``index``, 0 where absent (``sim`` without secondary
    fluorescence simulates both the stacks and the stacks without each class).

    Channels from 1 keV on (the models' input range) count.
    """
    return present_class_z(
        sim, [design.stacks[i] for i in index], design.labels[index], label_names,
        filler=default_library()[FILLER],
    )  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    """A labelled set of spectra read from HDF5."""

    spectra: np.ndarray
    labels: np.ndarray | None
    label_names: tuple[str, ...]
    axis: EnergyAxis
    attrs: dict[str, str]
    path: Path
    detectability: np.ndarray | None = None


def _axis_from_file(f: h5py.File, n_channels: int) -> EnergyAxis:
    if "axis" in f.attrs:
        return EnergyAxis(**json.loads(f.attrs["axis"]))
    if "energy_kev" in f:
        e = f["energy_kev"][()]
        if len(e) != n_channels:
            raise PigmentmapError(
                f"/energy_kev has {len(e)} values, /spectra {n_channels} channels"
            )
        return EnergyAxis(float(e[0]), float(e[1] - e[0]), n_channels)
    raise PigmentmapError("the file has neither an 'axis' attribute nor /energy_kev")


def read_dataset(path: str | Path, *, require_labels: bool = True) -> Dataset:
    """Read and check a dataset file: HDF5 with /spectra (N x C) and, usually, /labels.

    Examples
    --------
    >>> read_dataset("missing.h5")
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: data file 'missing.h5' does not exist
    """
    p = Path(path)
    if not p.is_file():
        raise PigmentmapError(f"data file '{p}' does not exist")
    if not h5py.is_hdf5(p):
        raise PigmentmapError(f"'{p}' is not an HDF5 file")
    with h5py.File(p, "r") as f:
        if "spectra" not in f or not isinstance(f["spectra"], h5py.Dataset):
            raise PigmentmapError(f"'{p}' has no /spectra dataset")
        spectra = f["spectra"][()].astype(np.float32)
        if spectra.ndim != 2:
            raise PigmentmapError(
                f"'{p}': /spectra must be N x channels, got shape {spectra.shape}"
            )
        if spectra.shape[0] == 0:
            raise PigmentmapError(f"'{p}' holds no spectra")
        if "done" in f and not bool(np.all(f["done"][()])):
            raise PigmentmapError(f"'{p}' is incomplete (an interrupted generation)")
        labels = f["labels"][()].astype(np.uint8) if "labels" in f else None
        if labels is None and require_labels:
            raise PigmentmapError(f"'{p}' has no /labels")
        names: tuple[str, ...] = ()
        if "label_names" in f:
            names = tuple(_text(x) for x in f["label_names"][()])
        if labels is not None and labels.shape != (spectra.shape[0], len(names)):
            raise PigmentmapError(
                f"'{p}': /labels shape {labels.shape} does not match spectra and label_names"
            )
        axis = _axis_from_file(f, spectra.shape[1])
        attrs = {k: str(v) for k, v in f.attrs.items()}
        detect = f["detectability"][()].astype(np.float32) if "detectability" in f else None
        if detect is not None and labels is not None and detect.shape[:2] != labels.shape:
            raise PigmentmapError(f"'{p}': /detectability shape {detect.shape} != /labels")
    check_counts(spectra, what=f"'{p}' /spectra")
    return Dataset(spectra, labels, names, axis, attrs, p, detect)


def _data_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise PigmentmapError(f"data file '{p}' does not exist")
    return p


def _text(x: Any) -> str:
    """A stored name as text (h5py gives bytes or str)."""
    return x.decode() if isinstance(x, bytes) else str(x)


def read_layer_labels(path: str | Path, label_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Where each class sits in each stack: (N, K, 2) of 0/1, [in the top layer, in a lower one].

    From ``/layers/fractions`` (the first layer is the surface; grounds and primings count as
    lower layers). A class the file's stacks never hold is 0 everywhere.

    Examples
    --------
    >>> read_layer_labels("missing.h5", ["lead_white"])
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: data file 'missing.h5' does not exist
    """
    p = _data_file(path)
    with h5py.File(p, "r") as f:
        if "layers/fractions" not in f or "layers/material_names" not in f:
            raise PigmentmapError(f"'{p}' records no layers (/layers/fractions)")
        fractions = f["layers/fractions"][()]
        materials = [_text(x) for x in f["layers/material_names"][()]]
    if fractions.ndim != 3 or fractions.shape[2] != len(materials):
        raise PigmentmapError(f"'{p}': /layers/fractions does not match its material names")
    out = np.zeros((fractions.shape[0], len(label_names), 2), dtype=np.uint8)
    for k, name in enumerate(label_names):
        if name in materials:
            col = fractions[:, :, materials.index(name)] > 0
            out[:, k, 0] = col[:, 0]
            out[:, k, 1] = col[:, 1:].any(axis=1)
    return out


def read_layer_part_z(
    path: str | Path, label_names: tuple[str, ...] | list[str]
) -> np.ndarray | None:
    """Significance (N, K, 2, R) of each class's part in the top layer and in the lower layers
    (``/layers/part_z``), or None for a file written before it was stored.

    Examples
    --------
    >>> read_layer_part_z("missing.h5", ["lead_white"])
    Traceback (most recent call last):
    ...
    pigmentmap.core.errors.PigmentmapError: data file 'missing.h5' does not exist
    """
    p = _data_file(path)
    with h5py.File(p, "r") as f:
        if "layers/part_z" not in f:
            return None
        names = [_text(x) for x in f["label_names"][()]]
        missing = [n for n in label_names if n not in names]
        if missing:
            raise PigmentmapError(f"'{p}' has no label(s) {', '.join(missing[:5])}")
        part = f["layers/part_z"][()]
    return part[:, [names.index(n) for n in label_names]]
