"""Labels no other stack can imitate: is a present pigment's signal explained by its neighbours?

The detectability rule (:func:`pigmentmap.datasets.universal.present_class_z`) asks whether a
pigment changes the spectrum at all: the stack with it against the stack without it. That is not
enough where another present pigment shares its elements. Iron oxide beside red ochre, lead white
beside red lead, chrome oxide green beside chrome yellow: take the first away and put a little
more of the second in, and the spectrum is the same within the noise. No method, network or fit,
can then say that the first is there, and a label that says so only teaches a network to guess.

The rule
--------
For a present class ``k`` of a stack, let ``d_j`` be the expected spectrum minus the spectrum
with class ``j`` removed (its mass replaced by the binder-like filler), for every present class
``j``. The whitened Gram matrix ``G[a, b] = sum(d_a * d_b / S)`` over the channels from 1 keV
(``S`` the expected spectrum) holds every matched-filter test between these differences:
``sqrt(G[k, k])`` is the class's significance over the whole spectrum (its detectability ``z``,
as the labels take it, counts only its own lines, :mod:`pigmentmap.datasets.own_lines`).

1. **Linear step** (:func:`imitation_weights`): the non-negative amounts ``a_j`` of the other
   present classes that best replace ``d_k`` (non-negative least squares in the whitened space).
2. **Exact step** (:func:`imitating_stack`): the stack without ``k`` and with every other class
   ``j`` at ``(1 + a_j)`` times its fraction (the filler takes what is left; where nothing is
   left the pigments are rescaled to fill the layer) is simulated, and its difference from the
   real stack is tested by the same matched filter, per upper energy of the scan's range.
3. The class's **identifiable z** is the smaller of that and its detectability ``z``: both are
   stacks without ``k`` that could have made the spectrum.

So a label is dropped only where an explicit stack without the pigment, built from what else is
there, gives a spectrum within the noise: the alternative is simulated, not assumed. Where the
linear step over-promises (self-absorption bends line intensities) the exact step keeps the
label. The rule can miss imitations that need a pigment not present in the stack, or moving a
pigment between layers; those stay labelled.

Storage: universal datasets keep ``/imitation/z`` (N x K x R), beside ``/detectability``;
evaluation counts a present class only where its identifiable z reaches 5 sigma at the drawn
counts (:class:`pigmentmap.ml.augment.Augmenter`'s ``present_z``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.optimize import nnls

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.materials.pigment import Pigment
from pigmentmap.materials.stack import Layer, Stack

#: Channels below this energy do not count (the models' input starts here).
LOWER_KEV = 1.0


def whitened_gram(
    with_counts: np.ndarray, diffs: np.ndarray, *, energies_kev: np.ndarray, upper_kev: float
) -> np.ndarray:
    """``G[a, b] = sum(d_a * d_b / S)`` over channels in [1 keV, ``upper_kev``).

    Parameters
    ----------
    with_counts : (C,) array
        The expected spectrum ``S``.
    diffs : (M, C) array
        The differences ``d`` (spectrum minus spectrum without a class).

    Examples
    --------
    >>> import numpy as np
    >>> e = np.arange(4.0) + 1.0
    >>> s = np.full(4, 4.0)
    >>> whitened_gram(s, np.array([[2.0, 0, 0, 0], [0, 2.0, 0, 0]]), energies_kev=e,
    ...               upper_kev=10.0).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    keep = (energies_kev >= LOWER_KEV) & (energies_kev < upper_kev)
    d = np.asarray(diffs, dtype=np.float64)[:, keep]
    s = np.maximum(np.asarray(with_counts, dtype=np.float64)[keep], 1e-6)
    return (d / s) @ d.T


def imitation_weights(gram: np.ndarray, target: int) -> tuple[np.ndarray, float]:
    """Non-negative amounts of the other rows that best replace row ``target``, and the
    matched-filter significance ``z`` of what they leave unexplained (linear approximation).

    ``gram`` is a whitened Gram matrix (:func:`whitened_gram`); the returned amounts have 0 at
    ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([[4.0, 4.0], [4.0, 4.0]])  # two classes with the same signature
    >>> a, z = imitation_weights(g, 0)
    >>> a.round(3).tolist(), round(z, 6)
    ([0.0, 1.0], 0.0)
    >>> a, z = imitation_weights(np.diag([9.0, 4.0]), 0)  # nothing in common
    >>> a.tolist(), round(z, 6)
    ([0.0, 0.0], 3.0)
    """
    g = np.asarray(gram, dtype=np.float64)
    m = g.shape[0]
    if not 0 <= target < m:
        raise PigmentmapError(f"target row {target} is not in a {m}-row Gram matrix")
    others = [j for j in range(m) if j != target]
    weights = np.zeros(m)
    if not others or g[target, target] <= 0:
        return weights, float(np.sqrt(max(g[target, target], 0.0)))
    # A factor B with B^T B = G turns the Gram form into an ordinary least-squares problem.
    lam, vec = np.linalg.eigh(g)
    b = np.sqrt(np.clip(lam, 0.0, None))[:, None] * vec.T
    a, resid = nnls(b[:, others], b[:, target])
    weights[others] = a
    return weights, float(resid)


def imitating_stack(
    stack: Stack,
    remove: set[str],
    scale: dict[str, float],
    filler: Pigment,
) -> Stack:
    """``stack`` without the pigments ``remove`` and with each pigment in ``scale`` at that many
    times its fraction, in every layer; ``filler`` takes the mass left over.

    Where the scaled pigments would exceed the layer, they are rescaled to fill it (no filler).

    Examples
    --------
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> lib = default_library()
    >>> s = parse_stack("IO=0.2+red_ochre=0.1+LW=0.7:50/CaCO3:100", library=lib)
    >>> alt = imitating_stack(s, {"iron_oxide"}, {"red_ochre": 3.0}, lib["linseed_oil"])
    >>> {p.name: round(f, 3) for p, f in alt.layers[0].components}
    {'red_ochre': 0.3, 'lead_white': 0.7}
    """
    layers = []
    for layer in stack.layers:
        if not any(p.name in remove or p.name in scale for p, _ in layer.components):
            layers.append(layer)
            continue
        comps: list[tuple[Pigment, float]] = []
        for p, f in layer.components:
            if p.name in remove:
                continue
            comps.append((p, f * scale.get(p.name, 1.0)))
        total = sum(f for _, f in comps)
        if total > 1.0:
            comps = [(p, f / total) for p, f in comps]
        elif total < 1.0 - 1e-12:
            comps.append((filler, 1.0 - total))
        comps = [(p, f) for p, f in comps if f > 0]
        layers.append(_with_components(layer, comps, filler))
    return Stack(tuple(layers))


def _with_components(layer: Layer, comps: list[tuple[Pigment, float]], filler: Pigment) -> Layer:
    if not comps:
        comps = [(filler, 1.0)]
    merged: dict[str, tuple[Pigment, float]] = {}
    for p, f in comps:
        q, g = merged.get(p.name, (p, 0.0))
        merged[p.name] = (q, g + f)
    return replace(layer, components=tuple(merged.values()))


def class_members(stack: Stack, label_names: Sequence[str]) -> dict[int, set[str]]:
    """Class index -> library names of its pigments in ``stack`` (stand-ins included)."""
    from pigmentmap.datasets.designs import STAND_INS

    present = stack.pigments_present()
    out: dict[int, set[str]] = {}
    for k, name in enumerate(label_names):
        names = {name} | {p for p, cls in STAND_INS.items() if cls == name}
        found = names & present
        if found:
            out[k] = found
    return out


def present_identifiable_z(
    sim: object,
    stacks: Sequence[Stack],
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    filler: Pigment,
    upper_kev: tuple[float, ...],
    min_gain: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Detectability ``z`` (of the class's own lines, as the labels') and identifiable ``z``
    (both N x K x len(upper_kev)) of each present class of ``stacks`` under the simulator
    ``sim`` (see the module notes); 0 where absent. The imitating stack is compared over the
    whole spectrum: it imitates only where it is close everywhere.

    ``min_gain``: the exact step runs only where the other classes explain at least this share
    of ``z**2`` in the linear step (elsewhere no stack built from them comes close, and the
    identifiable ``z`` is the detectability ``z``).

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> lib = default_library()
    >>> sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    >>> names = ["iron_oxide", "red_ochre", "vermilion"]
    >>> stacks = [parse_stack("IO=0.05+red_ochre=0.45+LW=0.5:40/CaCO3:100", library=lib),
    ...           parse_stack("VM=0.05+red_ochre=0.45+LW=0.5:40/CaCO3:100", library=lib)]
    >>> z, ident = present_identifiable_z(sim, stacks, np.array([[1, 1, 0], [0, 1, 1]]), names,
    ...                                   filler=lib["linseed_oil"], upper_kev=(42.0,))
    >>> bool(z[0, 0, 0] > 20), bool(ident[0, 0, 0] < 0.5 * z[0, 0, 0])  # more ochre imitates
    (True, True)
    >>> bool(ident[1, 2, 0] == z[1, 2, 0])  # nothing imitates Hg
    True
    """
    from pigmentmap.datasets.own_lines import own_line_channels
    from pigmentmap.datasets.universal import class_removals, detectability_z

    labels = np.asarray(labels)
    n, k = len(stacks), len(label_names)
    energies = sim.instrument.axis.energies  # type: ignore[attr-defined]
    z = np.zeros((n, k, len(upper_kev)), dtype=np.float32)
    removed = class_removals(
        sim,  # type: ignore[arg-type]
        stacks, labels, label_names, filler=filler,
    )  # fmt: skip
    if removed is None:
        return z, z.copy()
    with_counts, rows, cols, without_counts = removed
    members = [class_members(s, label_names) for s in stacks]
    z[rows, cols] = detectability_z(
        with_counts[rows],
        without_counts,
        energies_kev=energies,
        upper_kev=upper_kev,
        channels=own_line_channels(label_names, energies)[cols],
    )
    ident = z.copy()
    alt_jobs: list[tuple[int, int]] = []
    alternatives: list[Stack] = []
    for i in np.unique(rows):
        mine = np.flatnonzero(rows == i)
        if len(mine) < 2:
            continue
        diffs = with_counts[i][None] - without_counts[mine]
        gram = whitened_gram(with_counts[i], diffs, energies_kev=energies, upper_kev=max(upper_kev))
        for t, job in enumerate(mine):
            a, resid = imitation_weights(gram, t)
            if gram[t, t] <= 0 or resid**2 > (1.0 - min_gain) * gram[t, t]:
                continue
            scale = {
                p: 1.0 + float(a[o])
                for o, other in enumerate(mine)
                if a[o] > 0
                for p in members[i].get(int(cols[other]), ())
            }
            alt_jobs.append((int(i), int(cols[job])))
            alternatives.append(
                imitating_stack(stacks[i], members[i].get(int(cols[job]), set()), scale, filler)
            )
    if alternatives:
        alt_counts = sim.simulate(alternatives).counts  # type: ignore[attr-defined]
        ar = np.array([i for i, _ in alt_jobs])
        ac = np.array([c for _, c in alt_jobs])
        z_alt = detectability_z(
            with_counts[ar], alt_counts, energies_kev=energies, upper_kev=upper_kev
        )
        ident[ar, ac] = np.minimum(ident[ar, ac], z_alt)
    return z, ident


#: Concentration factors tried when a pigment is moved to the other side of the top layer's
#: lower boundary: 1/64 to 64 times its fraction. Moved down, it may need to be richer (under an
#: absorbing cover) or poorer (into a thick layer that holds more of it); moved up, the reverse.
MOVE_FACTORS = tuple(2.0**e for e in range(-6, 7))


def moved_stack(
    stack: Stack, remove: set[str], add: Pigment, *, to_layer: int, fraction: float,
    filler: Pigment,
) -> Stack:  # fmt: skip
    """``stack`` with the pigments ``remove`` taken out of every layer (their mass replaced by
    ``filler``) and ``add`` put into layer ``to_layer`` at ``fraction`` of its pigment part (the
    layer's other components scaled down to make room).

    Examples
    --------
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> lib = default_library()
    >>> s = parse_stack("VM=0.1+LW=0.9:30/CaCO3:100", library=lib)
    >>> m = moved_stack(s, {"vermilion"}, lib["vermilion"], to_layer=1, fraction=0.2,
    ...                 filler=lib["linseed_oil"])
    >>> [{p.name: round(f, 2) for p, f in layer.components} for layer in m.layers]
    [{'lead_white': 0.9, 'linseed_oil': 0.1}, {'calcium_carbonate': 0.8, 'vermilion': 0.2}]
    """
    from pigmentmap.datasets.universal import without_pigment

    if not 0.0 < fraction <= 1.0:
        raise PigmentmapError(f"a moved pigment's fraction must be in (0, 1], got {fraction}")
    out = list(without_pigment(stack, remove, filler).layers)
    layer = out[to_layer]
    comps = [(p, f * (1.0 - fraction)) for p, f in layer.components]
    out[to_layer] = _with_components(layer, [*comps, (add, fraction)], filler)
    return Stack(tuple(out))


def layer_imitation_z(
    sim: object,
    stacks: Sequence[Stack],
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    filler: Pigment,
    upper_kev: tuple[float, ...],
) -> np.ndarray:
    """How well the other layering imitates each present class's: (N, K, len(upper_kev)), the
    least matched-filter significance between the stack and the stack with the class moved, NaN
    where not tried (absent classes and classes in both the top and a lower layer).

    A class only in the top layer is moved into the layer below it, a class only in lower layers
    into the top layer, each at :data:`MOVE_FACTORS` times its largest fraction (at most all of
    the layer's pigment part). Below 5 sigma at the counts of a measurement, no method can tell
    the two layerings apart from that spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from pigmentmap.instruments import load_instrument
    >>> from pigmentmap.materials import default_library, parse_stack
    >>> from pigmentmap.simulate import Simulator
    >>> lib = default_library()
    >>> sim = Simulator(load_instrument("elio"), secondary_fluorescence=False)
    >>> stacks = [parse_stack("VM=0.5+LW=0.5:20/CaCO3:100", library=lib)]
    >>> z = layer_imitation_z(sim, stacks, np.array([[1, 1]]), ["vermilion", "lead_white"],
    ...                       filler=lib["linseed_oil"], upper_kev=(42.0,))
    >>> bool(z[0, 0, 0] > 5)  # moved into the chalk, under 20 um of lead white: not the same
    True
    """
    from pigmentmap.datasets.designs import layer_labels_of
    from pigmentmap.datasets.universal import detectability_z

    labels = np.asarray(labels)
    out = np.full((len(stacks), len(label_names), len(upper_kev)), np.nan, dtype=np.float32)
    jobs: list[tuple[int, int]] = []
    alternatives: list[Stack] = []
    for i, stack in enumerate(stacks):
        thick = [j for j, layer in enumerate(stack.layers) if layer.thickness_um > 0]
        if len(thick) < 2:
            continue
        parts = layer_labels_of(stack, tuple(label_names))
        members = class_members(stack, label_names)
        for c in np.flatnonzero(labels[i]):
            top, lower = parts[int(c)]
            names = members.get(int(c))
            if not names or top == lower:
                continue
            present = [
                (j, p, f) for j in thick for p, f in stack.layers[j].components if p.name in names
            ]
            _, pigment, base = max(present, key=lambda t: t[2])
            target = thick[1] if top else thick[0]
            for fraction in sorted({min(1.0, base * x) for x in MOVE_FACTORS}):
                jobs.append((i, int(c)))
                alternatives.append(
                    moved_stack(
                        stack, names, pigment, to_layer=target, fraction=fraction, filler=filler
                    )
                )
    if not jobs:
        return out
    with_counts = sim.simulate(list(stacks)).counts  # type: ignore[attr-defined]
    alt_counts = sim.simulate(alternatives).counts  # type: ignore[attr-defined]
    rows = np.array([i for i, _ in jobs])
    energies = sim.instrument.axis.energies  # type: ignore[attr-defined]
    z = detectability_z(with_counts[rows], alt_counts, energies_kev=energies, upper_kev=upper_kev)
    for (row, col), zz in zip(jobs, z, strict=True):
        out[row, col] = np.fmin(out[row, col], zz)
    return out
