"""A synthetic painting: irregular regions, layers, a hidden earlier composition, with its truth.

The mock-up phantom (:mod:`pigmentmap.mapping.phantom`) is the paper's crossed strips: straight
edges, two layers, one palette. A painting is not like that. :func:`make_painting` draws, from
one seed:

* a **ground** over the whole panel (chalk, gypsum, lime plaster for a fresco, a lead-white
  priming, a bole, or bare size; with Sr and Fe traces, see
  :func:`~pigmentmap.datasets.universal.random_ground`) and one binder for the paint;
* a **surface composition**: 6-12 irregular regions from a smooth random partition
  (:func:`smooth_partition`); each region is a body layer of 1-3 pigments of the palette
  (20-120 um), in 30 % of regions under a glaze of one pigment (5-20 um); 8 % of regions are
  abraded down to what lies below. Earth pigments carry a Mn trace;
* a **thickness gradient**: the body layer's thickness times a smooth field of 0.4-1.6 (a ramp in
  a random direction plus smooth noise), in :data:`N_LEVELS` geometric steps;
* **brushwork**: each body's mixture drifts, along a smooth field, towards a second mixture of
  the same pigments (:data:`N_MIX` steps), so colour and spectra vary within a region;
* a **pentimento**: under about a third of the panel (a smooth random mask), an earlier
  composition of 3-5 regions of its own shapes (one layer of 1-2 pigments, 30-100 um) lies
  between the ground and the surface paint;
* a **flux** field of +-5 % (the working distance of a scanner head varies over a panel), which
  scales each pixel's expected counts before Poisson noise.

The file holds what the mock-up phantom holds (``/counts`` (H, W, C), ``/energy_kev``,
``/truth/pigment_maps``, ``/truth/names``, ``/truth/layers``, ``/truth/rgb``: the visible
colour, each layer's pigment colours mixed by mass fraction and seen through the layers above,
see :func:`layered_rgb`) and, for a painting:
``/truth/detectable`` (present and at least 5 sigma at that pixel's counts, see
:func:`~pigmentmap.datasets.universal.detectability_z`), ``/truth/layers_detectable`` (the
same for each layer part on its own, see :func:`~pigmentmap.datasets.universal.present_part_z`),
``/truth/surface_region``,
``/truth/hidden_region`` (-1: no earlier composition), ``/truth/stack_index`` into
``/truth/stacks`` (each distinct stack, top to bottom, as JSON: the pigments per layer and their
mass fractions, thickness, binder) and ``/truth/flux``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import h5py
import numpy as np
from scipy.ndimage import gaussian_filter

from pigmentmap.core.atomic import atomic_path
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.datasets.designs import (
    labels_of,
    layer_labels_of,
    mixture_fractions,
    weighted_choice,
)
from pigmentmap.datasets.universal import (
    BINDERS,
    DETECTABLE_SIGMA,
    EARTHS,
    UNIVERSAL_LABELS,
    random_ground,
    with_trace,
)
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.mapping.phantom import SIM_BATCH, scan_z, write_scan_attrs
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.pigment import Pigment
from pigmentmap.materials.stack import Layer, Stack
from pigmentmap.simulate.simulator import Simulator

#: Smallest and largest panel side, pixels.
MIN_SIDE, MAX_SIDE = 4, 4096
#: Geometric steps of the body layer's thickness factor (0.4-1.6).
N_LEVELS = 6
THICKNESS_FACTOR = (0.4, 1.6)
#: Steps of each body layer's drift from its mixture towards a second one (brushwork).
N_MIX = 4
#: Thickness (um) of paint that hides 63 % of what lies below it (visible colour).
HIDING_UM = 10.0
#: Share of the panel under the earlier composition.
PENTIMENTO_SHARE = 0.35
#: Half-width of the flux variation (working distance).
FLUX_SPREAD = 0.05
#: Counts per block of rows written at once (float32 values).
_BLOCK_VALUES = 8_000_000


def _upsample(field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a coarse (gh, gw) field onto (h, w), corners aligned."""
    out = field.astype(np.float32)
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        pos = np.linspace(0.0, m - 1.0, n)
        lo = np.clip(np.floor(pos).astype(int), 0, max(m - 2, 0))
        hi = np.minimum(lo + 1, m - 1)
        t = (pos - lo).astype(np.float32)
        shape_t = [1, 1]
        shape_t[axis] = n
        t = t.reshape(shape_t)
        out = np.take(out, lo, axis=axis) * (1 - t) + np.take(out, hi, axis=axis) * t
    return out


def smooth_field(
    shape: tuple[int, int], *, rng: np.random.Generator, cells: int = 12, detail: float = 0.25
) -> np.ndarray:
    """A smooth random field (float32, about unit spread) of ``shape``: a coarse Gaussian random
    field of ``cells`` correlation cells along the longer side, plus ``detail`` times a field four
    times finer, so that edges between regions wander.

    Examples
    --------
    >>> import numpy as np
    >>> f = smooth_field((30, 50), rng=np.random.default_rng(0))
    >>> f.shape, f.dtype.name, bool(np.isfinite(f).all())
    ((30, 50), 'float32', True)
    """
    h, w = shape
    longer = max(h, w)
    out = np.zeros(shape, dtype=np.float32)
    for n_cells, weight in ((cells, 1.0), (4 * cells, detail)):
        gh = max(3, round(3 * n_cells * h / longer))
        gw = max(3, round(3 * n_cells * w / longer))
        coarse = gaussian_filter(rng.standard_normal((gh, gw)), sigma=3.0, mode="wrap")
        coarse -= coarse.mean()
        coarse /= coarse.std() or 1.0
        out += weight * _upsample(coarse, shape)
    return out


def smooth_partition(
    shape: tuple[int, int], n_regions: int, *, rng: np.random.Generator, cells: int = 3
) -> np.ndarray:
    """Irregular regions: per pixel, the index (int16) of the largest of ``n_regions`` smooth
    random fields, each with a random offset, so that regions differ in size.

    Examples
    --------
    >>> import numpy as np
    >>> part = smooth_partition((40, 40), 5, rng=np.random.default_rng(1))
    >>> part.shape, int(part.min()) >= 0, int(part.max()) <= 4
    ((40, 40), True, True)
    """
    if n_regions < 1:
        raise PigmentmapError("a partition needs at least 1 region")
    best = np.full(shape, -np.inf, dtype=np.float32)
    index = np.zeros(shape, dtype=np.int16)
    for k in range(n_regions):
        f = smooth_field(shape, rng=rng, cells=cells) + np.float32(0.5 * rng.standard_normal())
        better = f > best
        index[better] = k
        best = np.where(better, f, best)
    return index


@dataclass(frozen=True)
class PaintingLayout:
    """What a painting phantom is made of, before simulation.

    ``stacks[stack_index[i, j]]`` is the paint at pixel (i, j); ``flux`` scales its counts.
    """

    stacks: tuple[Stack, ...]
    stack_index: np.ndarray
    surface_region: np.ndarray
    hidden_region: np.ndarray
    flux: np.ndarray
    palette: tuple[str, ...]
    ground: str
    binder: str


def _palette_layer(
    library: PigmentLibrary,
    rng: np.random.Generator,
    palette: tuple[str, ...],
    *,
    n_max: int,
    thickness_um: tuple[float, float],
    binder: Pigment | None,
    bf: float,
) -> Layer:
    k = min(int(rng.integers(1, n_max + 1)), len(palette))
    chosen = [palette[i] for i in rng.choice(len(palette), size=k, replace=False)]
    frac = mixture_fractions(rng, k, min_fraction=0.03)
    comps = [(library[n], float(f)) for n, f in zip(chosen, frac, strict=True)]
    if any(n in EARTHS for n in chosen):
        comps = with_trace(comps, library["trace_manganese"], float(rng.uniform(0.001, 0.01)))
    return Layer(tuple(comps), float(rng.uniform(*thickness_um)), binder, bf)


def _n_paint(layer: Layer) -> int:
    """Palette pigments of a layer made by :func:`_palette_layer` (a trace comes last)."""
    n = len(layer.components)
    return n - 1 if layer.components[-1][0].name.startswith("trace_") else n


def _drifted(
    components: tuple[tuple[Pigment, float], ...], towards: np.ndarray, share: float
) -> tuple[tuple[Pigment, float], ...]:
    """The palette pigments' fractions moved ``share`` of the way to ``towards`` (which sums to
    1 over them); a trailing trace keeps its fraction."""
    n = len(towards)
    paint = sum(f for _, f in components[:n])
    return tuple(
        (p, (1 - share) * f + share * float(towards[i]) * paint) if i < n else (p, f)
        for i, (p, f) in enumerate(components)
    )


def layered_rgb(stack: Stack, *, hiding_um: float = HIDING_UM) -> np.ndarray:
    """Visible colour of a stack: each layer's pigment colours mixed by mass fraction, seen
    through the layers above it, each of which hides ``1 - exp(-t / hiding_um)`` of what is
    below (the last layer, the ground, hides everything).

    Examples
    --------
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> lib = default_library()
    >>> thick = layered_rgb(parse_stack("VM:200/CaCO3:200", library=lib))
    >>> thin = layered_rgb(parse_stack("VM:5/CaCO3:200", library=lib))
    >>> [int(v) for v in thick] == list(lib["vermilion"].colour_srgb), bool(thin[2] > thick[2])
    (True, True)
    """
    layers = [layer for layer in stack.layers if layer.thickness_um > 0]
    out, seen = np.zeros(3), 1.0
    for i, layer in enumerate(layers):
        colour = sum(np.array(p.colour_srgb, dtype=float) * f for p, f in layer.components)
        hides = 1.0 if i == len(layers) - 1 else 1.0 - math.exp(-layer.thickness_um / hiding_um)
        out += seen * hides * np.asarray(colour)
        seen *= 1.0 - hides
    return out


def check_palette(library: PigmentLibrary, palette: tuple[str, ...]) -> tuple[str, ...]:
    """The library names of ``palette``; one line naming what the library does not hold.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> check_palette(default_library(), ("VM", "lead_white"))
    ('vermilion', 'lead_white')
    """
    if not palette:
        raise PigmentmapError("the palette is empty")
    missing = [p for p in palette if p not in library]
    if missing:
        raise PigmentmapError(
            f"the library does not hold {', '.join(missing)} (see 'pigmentmap library list')"
        )
    names = tuple(dict.fromkeys(library[p].name for p in palette))
    return names


def painting_layout(
    library: PigmentLibrary,
    *,
    size: tuple[int, int],
    seed: int,
    palette: tuple[str, ...] = UNIVERSAL_LABELS,
) -> PaintingLayout:
    """Draw a painting (see the module docstring) of ``size`` (H, W) pixels from ``seed``.

    Examples
    --------
    >>> from pigmentmap.materials import default_library
    >>> lay = painting_layout(default_library(), size=(24, 32), seed=2)
    >>> lay.stack_index.shape, int(lay.stack_index.max()) < len(lay.stacks)
    ((24, 32), True)
    >>> bool((lay.hidden_region >= 0).any()), lay.palette[:2]
    (True, ('chrome_oxide_green', 'chrome_yellow'))
    """
    h, w = size
    if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise PigmentmapError(
            f"a painting phantom of {h} x {w} pixels: each side must be {MIN_SIDE}-{MAX_SIDE}"
        )
    palette = check_palette(library, palette)
    rng = np.random.default_rng(seed)
    binder_name = weighted_choice(rng, BINDERS)
    binder = library[binder_name]
    bf = float(rng.uniform(0.15, 0.35))
    ground, fresco = random_ground(library, rng, binder, bf)
    paint_binder, paint_bf = (None, 0.0) if fresco else (binder, bf)

    n_surface = int(rng.integers(6, 13))
    surface = smooth_partition((h, w), n_surface, rng=rng)
    bodies, glazes = [], []
    paint = partial(_palette_layer, library, rng, palette, binder=paint_binder, bf=paint_bf)
    for _ in range(n_surface):
        abraded = rng.random() < 0.08
        bodies.append(None if abraded else paint(n_max=3, thickness_um=(20.0, 120.0)))
        glazed = not abraded and rng.random() < 0.3
        glazes.append(paint(n_max=1, thickness_um=(5.0, 20.0)) if glazed else None)
    # Brushwork: each body's mixture drifts towards a second one across its region.
    drifts = [
        None if b is None else mixture_fractions(rng, _n_paint(b), min_fraction=0.03)
        for b in bodies
    ]
    mix = np.rint(
        (0.5 + 0.5 * np.tanh(smooth_field((h, w), rng=rng, cells=5))) * (N_MIX - 1)
    ).astype(np.int16)
    # Thickness: a ramp in a random direction plus smooth noise, in geometric levels.
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx / max(w - 1, 1) - 0.5) * math.cos(angle) + (yy / max(h - 1, 1) - 0.5) * math.sin(
        angle
    )
    lo, hi = THICKNESS_FACTOR
    t = 0.5 + ramp / 1.42 + 0.12 * smooth_field((h, w), rng=rng, cells=4)
    factor = np.exp(np.log(lo) + np.clip(t, 0, 1) * (np.log(hi) - np.log(lo)))
    level = np.rint(np.log(factor / lo) / np.log(hi / lo) * (N_LEVELS - 1)).astype(np.int16)
    level_factor = lo * (hi / lo) ** (np.arange(N_LEVELS) / (N_LEVELS - 1))
    # Pentimento: an earlier composition under part of the panel.
    mask_field = smooth_field((h, w), rng=rng, cells=3)
    covered = mask_field >= np.quantile(mask_field, 1.0 - PENTIMENTO_SHARE)
    n_hidden = int(rng.integers(3, 6))
    hidden = np.where(covered, smooth_partition((h, w), n_hidden, rng=rng, cells=4), -1)
    hidden = hidden.astype(np.int16)
    hidden_layers = [paint(n_max=2, thickness_um=(30.0, 100.0)) for _ in range(n_hidden)]
    flux = 1.0 + FLUX_SPREAD * np.tanh(smooth_field((h, w), rng=rng, cells=2))

    key = ((surface.astype(np.int64) * N_LEVELS + level) * N_MIX + mix) * (n_hidden + 1)
    key += hidden + 1
    unique, inverse = np.unique(key, return_inverse=True)
    stacks = []
    for k in unique.tolist():
        rest, hid = divmod(k, n_hidden + 1)
        rest, drift = divmod(rest, N_MIX)
        region, lvl = divmod(rest, N_LEVELS)
        layers: list[Layer] = []
        if glazes[region] is not None:
            layers.append(glazes[region])
        body, towards = bodies[region], drifts[region]
        if body is not None and towards is not None:
            layers.append(
                Layer(
                    _drifted(body.components, towards, drift / (N_MIX - 1)),
                    body.thickness_um * float(level_factor[lvl]),
                    body.binder,
                    body.binder_fraction,
                )
            )
        if hid > 0:
            layers.append(hidden_layers[hid - 1])
        stacks.append(Stack((*layers, *ground)))
    kind = (
        "fresco (lime plaster)"
        if fresco
        else " over ".join("+".join(p.name for p, _ in layer.components) for layer in ground)
    )
    return PaintingLayout(
        stacks=tuple(stacks),
        stack_index=inverse.reshape(h, w).astype(np.int32),
        surface_region=surface,
        hidden_region=hidden,
        flux=flux.astype(np.float32),
        palette=palette,
        ground=kind,
        binder="none (fresco)" if fresco else binder_name,
    )


def _stack_json(stack: Stack) -> str:
    return json.dumps([
        {"thickness_um": round(layer.thickness_um, 3),
         "binder": layer.binder.name if layer.binder is not None else None,
         "binder_fraction": round(layer.binder_fraction, 4),
         "pigments": {p.name: round(f, 5) for p, f in layer.components}}
        for layer in stack.layers
    ])  # fmt: skip


def _check_room(out: Path, nbytes: int) -> None:
    """One line before any work when the output cannot fit on its disk."""
    import shutil

    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        return  # atomic_path names the missing folder
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise PigmentmapError(
            f"the phantom needs about {nbytes / 1e9:.1f} GB and '{folder}' has "
            f"{free / 1e9:.1f} GB free: choose a smaller --size or another folder"
        )


def make_painting(
    out: str | Path,
    *,
    library: PigmentLibrary,
    instrument: Instrument,
    seed: int,
    size: tuple[int, int] = (64, 64),
    palette: tuple[str, ...] = UNIVERSAL_LABELS,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Simulate a painting phantom into ``out`` (HDF5, written atomically; see the module
    docstring for what it holds).

    Parameters
    ----------
    out : str or Path
        The HDF5 file to write.
    library : PigmentLibrary
        Where the palette, grounds and traces come from.
    instrument : Instrument
        Tube, detector, axis and live time of the simulated scan (pile-up from its profile).
    seed : int
        Draws the painting and the Poisson noise.
    size : (int, int)
        Height and width in pixels, each 4-4096.
    palette : tuple of str
        Pigments the painter used; the truth maps have one class per entry. Default: the default
        model's 29 classes.
    progress : callable, optional
        Called with (rows done, rows) as the counts are written block by block.

    Examples
    --------
    >>> import tempfile, h5py
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library
    >>> f = tempfile.mkdtemp() + "/p.h5"
    >>> _ = make_painting(f, library=default_library(), instrument=load_instrument("lab-ag"),
    ...                   seed=1, size=(8, 10))
    >>> with h5py.File(f) as h5:
    ...     h5["counts"].shape[:2], h5["truth/pigment_maps"].shape[2], h5.attrs["design"]
    ((8, 10), 29, 'phantom-painting')
    """
    h, w = size
    _check_room(Path(out), h * w * (instrument.axis.n_channels * 4 + 4 * len(palette) + 16))
    layout = painting_layout(library, size=size, seed=seed, palette=palette)
    names = layout.palette
    sim = Simulator(instrument, batch_size=SIM_BATCH)
    expected = sim.simulate(layout.stacks).counts.astype(np.float32)
    labels = np.array([labels_of(s, names) for s in layout.stacks], dtype=np.uint8)
    layer_truth = np.array([layer_labels_of(s, names) for s in layout.stacks], dtype=np.uint8)
    rgb = np.array([layered_rgb(s) for s in layout.stacks], dtype=np.float32)
    z, parts = scan_z(instrument, layout.stacks, labels, names, library=library)
    idx = layout.stack_index
    n_channels = expected.shape[1]
    rows_per_block = max(1, _BLOCK_VALUES // (w * n_channels))
    k = len(names)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        rows = min(h, rows_per_block)
        counts = f.create_dataset(
            "counts", shape=(h, w, n_channels), dtype=np.float32, chunks=(rows, w, n_channels)
        )
        truth = f.create_group("truth")
        truth["names"] = np.array(names, dtype=h5py.string_dtype())
        per_pixel = {
            "pigment_maps": ((h, w, k), (rows, w, k), labels),
            "layers": ((h, w, k, 2), (rows, w, k, 2), layer_truth),
            "detectable": ((h, w, k), (rows, w, k), None),
            "layers_detectable": ((h, w, k, 2), (rows, w, k, 2), None),
            "rgb": ((h, w, 3), (rows, w, 3), rgb),
        }
        sets = {
            name: truth.create_dataset(
                name,
                shape=shape,
                chunks=chunks,
                compression="gzip",
                dtype=np.float32 if name == "rgb" else np.uint8,
            )
            for name, (shape, chunks, _) in per_pixel.items()
        }
        for r0 in range(0, h, rows_per_block):
            r1 = min(h, r0 + rows_per_block)
            block = idx[r0:r1]
            flux = layout.flux[r0:r1]
            mean = expected[block] * flux[:, :, None]
            # one noise stream per row: the file does not depend on the block size
            counts[r0:r1] = np.stack([
                np.random.default_rng([seed, 1, r]).poisson(mean[r - r0]) for r in range(r0, r1)
            ]).astype(np.float32)  # fmt: skip
            for name, (_, _, table) in per_pixel.items():
                if table is not None:
                    sets[name][r0:r1] = table[block]
            sigma = z[block] * np.sqrt(flux)[..., None]
            sets["detectable"][r0:r1] = (sigma >= DETECTABLE_SIGMA) & (labels[block] > 0)
            sets["layers_detectable"][r0:r1] = (
                parts[block] * np.sqrt(flux)[..., None, None] >= DETECTABLE_SIGMA
            )
            if progress is not None:
                progress(r1, h)
        f["energy_kev"] = instrument.axis.energies
        truth.create_dataset("stack_index", data=idx, compression="gzip")
        truth["stacks"] = np.array([_stack_json(s) for s in layout.stacks],
                                   dtype=h5py.string_dtype())  # fmt: skip
        truth.create_dataset("surface_region", data=layout.surface_region, compression="gzip")
        truth.create_dataset("hidden_region", data=layout.hidden_region, compression="gzip")
        truth.create_dataset("flux", data=layout.flux, compression="gzip")
        write_scan_attrs(f, instrument, design="phantom-painting", seed=seed)
        f.attrs["palette"] = json.dumps(list(names))
        f.attrs["ground"] = layout.ground
        f.attrs["binder"] = layout.binder
    return Path(out)
