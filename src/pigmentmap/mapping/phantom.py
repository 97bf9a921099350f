"""A simulated mock-up scan like the paper's Fig. 7: crossed strips of Table 2 mixtures.

Horizontal strips hold the top mixtures (Top 2, Top 1, Top 3, Top 4, as in Fig. 7), vertical
strips the bottom mixtures (Bottom 2A, 2B, 2C, 1A, 1C, 1B: the 0.6 % vermilion strip is 2B) on a
CaCO3 ground; gaps between strips are blank (ground only, or a bottom strip alone). Each pixel is
the simulated spectrum of its stack with Poisson noise at the given live time. The file holds
``/counts`` (H, W, C), ``/energy_kev``, ``/truth/pigment_maps`` (H, W, K), ``/truth/names``,
``/truth/layers`` (H, W, K, 2: in the top layer, in a lower one), ``/truth/detectable`` (present
and at least 5 sigma at the phantom's counts, the rule of the universal datasets' labels),
``/truth/layers_detectable`` (H, W, K, 2: the same rule for each layer part on its own, e.g. 0
for vermilion below 60 um of a vermilion top layer, which hides it) and,
for the colour regression, ``/truth/rgb`` (the visible colour: the top layer's pigments mixed by
mass fraction, or the layer below where there is no top layer).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from pigmentmap.core.atomic import atomic_path
from pigmentmap.datasets.designs import (
    MOCKUP_BOTTOMS,
    MOCKUP_TOPS,
    PAPER_LABELS,
    labels_of,
    layer_labels_of,
)
from pigmentmap.datasets.universal import (
    DETECTABLE_SIGMA,
    FILLER,
    present_class_z,
    present_part_z,
)
from pigmentmap.instruments.instrument import Instrument
from pigmentmap.materials.library import PigmentLibrary
from pigmentmap.materials.stack import DEFAULT_BINDER_FRACTION, Layer, Stack
from pigmentmap.simulate.noise import poisson_counts
from pigmentmap.simulate.simulator import Simulator

PHANTOM_TOPS = ("Top 2", "Top 1", "Top 3", "Top 4")
PHANTOM_BOTTOMS = ("Bottom 2A", "Bottom 2B", "Bottom 2C", "Bottom 1A", "Bottom 1C", "Bottom 1B")
TOP_UM = (60.0, 40.0, 80.0, 30.0)
BOTTOM_UM = 100.0
GROUND_UM = 175.0
#: Stacks simulated at once for a phantom's truth: the simulator's memory grows with its batch
#: (850 MB at 256 stacks of 1024 channels), not with the panel.
SIM_BATCH = 32


def _layer(library: PigmentLibrary, mix: dict[str, float], thickness: float) -> Layer:
    total = sum(mix.values())
    comps = tuple((library[n], v / total) for n, v in mix.items())
    return Layer(comps, thickness, library["linseed_oil"], DEFAULT_BINDER_FRACTION)


def visible_rgb(stack: Stack) -> np.ndarray:
    """Display colour of a stack: the top paint layer's pigment colours mixed by mass fraction."""
    for layer in stack.layers:
        if layer.thickness_um > 0:
            rgb = sum(np.array(p.colour_srgb, dtype=float) * f for p, f in layer.components)
            return np.asarray(rgb, dtype=float)
    return np.zeros(3)


def scan_z(
    instrument: Instrument,
    stacks: list[Stack] | tuple[Stack, ...],
    labels: np.ndarray,
    names: tuple[str, ...],
    *,
    library: PigmentLibrary,
) -> tuple[np.ndarray, np.ndarray]:
    """Significance of each present class over the scan's whole axis at the instrument's
    counts, (stacks, classes), and of its part in the top layer and in the lower ones,
    (stacks, classes, 2) (see :func:`~pigmentmap.datasets.universal.present_class_z` and
    :func:`~pigmentmap.datasets.universal.present_part_z`)."""
    upper = float(instrument.axis.energies[-1]) + instrument.axis.gain_kev
    quiet = Simulator(instrument, secondary_fluorescence=False, batch_size=SIM_BATCH)
    filler = library[FILLER]
    z = present_class_z(quiet, stacks, labels, names, filler=filler, upper_kev=(upper,))
    parts = present_part_z(quiet, stacks, z, names, filler=filler, upper_kev=(upper,))
    return z[..., 0], parts[..., 0]


def write_scan_attrs(f: h5py.File, instrument: Instrument, *, design: str, seed: int) -> None:
    """The attributes every simulated scan file carries: axis, live time, pile-up, instrument,
    design and seed."""
    f.attrs["axis"] = json.dumps(instrument.axis.to_dict())
    f.attrs["live_time_s"] = instrument.live_time_s
    f.attrs["pileup_resolving_time_ns"] = instrument.detector.pileup_resolving_time_ns
    f.attrs["instrument"] = json.dumps(instrument.to_dict())
    f.attrs["design"] = design
    f.attrs["seed"] = seed


def phantom_layout(*, strip_px: int = 5, gap_px: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: index of the top strip (-1 none) and of the bottom strip (-1 none)."""
    h = gap_px + len(PHANTOM_TOPS) * (strip_px + gap_px)
    w = gap_px + len(PHANTOM_BOTTOMS) * (strip_px + gap_px)
    top = np.full((h, w), -1)
    bottom = np.full((h, w), -1)
    for k in range(len(PHANTOM_TOPS)):
        r0 = gap_px + k * (strip_px + gap_px)
        top[r0 : r0 + strip_px, :] = k
    for k in range(len(PHANTOM_BOTTOMS)):
        c0 = gap_px + k * (strip_px + gap_px)
        bottom[:, c0 : c0 + strip_px] = k
    return top, bottom


def make_phantom(
    out: str | Path,
    *,
    library: PigmentLibrary,
    instrument: Instrument,
    seed: int,
    strip_px: int = 5,
    gap_px: int = 2,
) -> Path:
    """Simulate the phantom scan into ``out`` (HDF5, written atomically).

    Pile-up follows the profile's ``detector.pileup_resolving_time_ns`` (on by default).
    """
    top, bottom = phantom_layout(strip_px=strip_px, gap_px=gap_px)
    ground = Layer(
        ((library["calcium_carbonate"], 1.0),),
        GROUND_UM,
        library["linseed_oil"],
        DEFAULT_BINDER_FRACTION,
    )
    stacks: list[Stack] = []
    keys: dict[tuple[int, int], int] = {}
    for t in range(-1, len(PHANTOM_TOPS)):
        for b in range(-1, len(PHANTOM_BOTTOMS)):
            layers = []
            if t >= 0:
                layers.append(_layer(library, MOCKUP_TOPS[PHANTOM_TOPS[t]], TOP_UM[t]))
            if b >= 0:
                layers.append(_layer(library, MOCKUP_BOTTOMS[PHANTOM_BOTTOMS[b]], BOTTOM_UM))
            keys[(t, b)] = len(stacks)
            stacks.append(Stack((*layers, ground)))
    result = Simulator(instrument).simulate(stacks)
    index = np.vectorize(lambda t, b: keys[(t, b)])(top, bottom)
    expected = result.counts[index]  # (H, W, C)
    counts = poisson_counts(expected, rng=np.random.default_rng(seed))
    labels = np.array([labels_of(s, PAPER_LABELS) for s in stacks], dtype=np.uint8)[index]
    layer_truth = np.array([layer_labels_of(s, PAPER_LABELS) for s in stacks], dtype=np.uint8)[
        index
    ]
    rgb = np.array([visible_rgb(s) for s in stacks])[index]
    stack_labels = np.array([labels_of(s, PAPER_LABELS) for s in stacks], dtype=np.uint8)
    z, parts = scan_z(instrument, stacks, stack_labels, PAPER_LABELS, library=library)
    detectable = ((z >= DETECTABLE_SIGMA) & (stack_labels > 0)).astype(np.uint8)[index]
    layers_detectable = (parts >= DETECTABLE_SIGMA).astype(np.uint8)[index]
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f["counts"] = counts.astype(np.float32)
        f["energy_kev"] = instrument.axis.energies
        f["truth/pigment_maps"] = labels
        f["truth/names"] = np.array(PAPER_LABELS, dtype=h5py.string_dtype())
        f["truth/rgb"] = rgb.astype(np.float32)
        f["truth/layers"] = layer_truth
        f["truth/detectable"] = detectable
        f["truth/layers_detectable"] = layers_detectable
        f["truth/top_strip"] = top
        f["truth/bottom_strip"] = bottom
        write_scan_attrs(f, instrument, design="phantom-mockup", seed=seed)
        f.attrs["tops"] = json.dumps(
            [f"{n} ({um:g} um)" for n, um in zip(PHANTOM_TOPS, TOP_UM, strict=True)]
        )
        f.attrs["bottoms"] = json.dumps(list(PHANTOM_BOTTOMS))
    return Path(out)


def detection_by_strip(
    prob: np.ndarray, top: np.ndarray, bottom: np.ndarray, *, pigment: str = "vermilion"
) -> list[dict]:
    """Share of pixels of each bottom strip where ``pigment`` is found (p >= 0.5), where the top
    layer holds none of it: bare, under any top without it, and its mean probability.

    Examples
    --------
    >>> import numpy as np
    >>> top, bottom = phantom_layout()
    >>> rows = detection_by_strip(np.ones(top.shape), top, bottom)
    >>> rows[1]["strip"], rows[1]["percent"], rows[1]["found_bare"]
    ('Bottom 2B', 0.6, 1.0)
    """
    abbreviation = {
        "vermilion": "VM",
        "zinc_white": "ZW",
        "lead_white": "LW",
        "red_lead": "RL",
    }.get(pigment, pigment)
    clean_tops = [k for k, t in enumerate(PHANTOM_TOPS) if abbreviation not in MOCKUP_TOPS[t]]
    rows = []
    for k, name in enumerate(PHANTOM_BOTTOMS):
        percent = MOCKUP_BOTTOMS[name].get(abbreviation, 0.0)
        bare = (bottom == k) & (top < 0)
        covered = (bottom == k) & np.isin(top, clean_tops)
        rows.append({
            "strip": name,
            "percent": float(percent),
            "found_bare": float((prob[bare] >= 0.5).mean()) if bare.any() else float("nan"),
            "found_under_top": float((prob[covered] >= 0.5).mean()) if covered.any() else float("nan"),
            "mean_probability": float(prob[bare | covered].mean()) if (bare | covered).any() else float("nan"),
        })  # fmt: skip
    blank = (bottom < 0) & (top < 0)
    rows.append({"strip": "blank ground", "percent": 0.0, "found_bare": float((prob[blank] >= 0.5).mean()),
                 "found_under_top": float("nan"), "mean_probability": float(prob[blank].mean())})  # fmt: skip
    return rows
