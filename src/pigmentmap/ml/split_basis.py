"""What a model's split of a look-alike group rests on: the energies whose counts move it most.

Inside a look-alike group (lead white | red lead: both only Pb) the network still gives each
member its own probability. A conservator should know what that split is made of: a line ratio
(Pb L-beta / L-alpha carries depth), a weak light-element line, or the scattered tube spectrum
(which carries the matrix, and moves with every instrument). :func:`split_basis` answers from
held-out spectra, with gradient x input attribution:

1. for each member ``m`` of the group, the margin ``logit_m - mean(logit of the other members)``;
2. its gradient with respect to the spectrum channel of the input, times that channel, in
   absolute value, averaged over the held-out spectra where any member is present and
   detectable, and over the members;
3. shares of the whole, then the windows of ``window_kev`` holding the most (greedy, not
   overlapping), each with the emission lines of the library's elements that fall in it, the
   line the attribution sits on first (none: continuum or scattered tube radiation). Where the
   windows hold less than :data:`SPREAD_BELOW` of the whole, the split rests on the shape of the
   whole spectrum (the continuum and scatter that the matrix shapes) more than on any line, and
   ``why`` says so.

The windows go into the group's ``basis`` in the model card and into its ``why`` (shown by the
report, ``maps.h5`` and ``pigmentmap model show``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pigmentmap.evaluate.groups import Group
from pigmentmap.materials.library import PigmentLibrary

#: Width of a window (keV): about two detector resolutions at 10 keV.
WINDOW_KEV = 0.4
#: Lines named in a window: the strongest of each series (Siegbahn names).
NAMED_LINES = ("Ka1", "Kb1", "La1", "Lb1", "Lb2", "Lg1", "Ma1")
#: Below this share in its windows, a split is said to rest on the spectrum's shape.
SPREAD_BELOW = 0.25
#: Elements named besides the library's: argon of the air path.
EXTRA_ELEMENTS = ("Ar",)


def attribution(
    model: torch.nn.Module, x: np.ndarray, members: list[int], *, batch_size: int = 256
) -> np.ndarray:
    """Mean |gradient x input| of the members' margins over the spectrum channel: (n_channels,).

    Examples
    --------
    >>> import torch, numpy as np
    >>> from pigmentmap.ml.fast_cnn import FastCNN
    >>> torch.manual_seed(0) and None
    >>> m = FastCNN(n_inputs=400, n_classes=3).eval()
    >>> a = attribution(m, np.random.default_rng(0).random((5, 2, 400), dtype=np.float32), [0, 1])
    >>> a.shape, bool(a.min() >= 0)
    ((400,), True)
    """
    if len(members) < 2:
        raise ValueError("a split needs at least two members")
    model.eval()
    total = np.zeros(x.shape[-1])
    idx = torch.tensor(members)
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size]))
        xb.requires_grad_(True)
        logits = model(xb)[:, idx]
        for k in range(len(members)):
            others = torch.cat([logits[:, :k], logits[:, k + 1 :]], dim=1).mean(dim=1)
            margin = (logits[:, k] - others).sum()
            (grad,) = torch.autograd.grad(margin, xb, retain_graph=k < len(members) - 1)
            spectrum = (grad * xb)[:, 0] if xb.dim() == 3 else grad * xb
            total += spectrum.abs().sum(dim=0).detach().numpy()
    return total / max(len(x) * len(members), 1)


def _line_names(
    lo_kev: float, hi_kev: float, elements: tuple[str, ...], weight: Callable[[float], float]
) -> list[str]:
    """Strong lines of ``elements`` in [lo, hi], the heaviest ``weight(energy)`` first."""
    from pigmentmap.physics.lines import catalogue_for

    found = [
        (line.energy_kev, line.label)
        for el in elements
        for line in catalogue_for(el)
        if lo_kev <= line.energy_kev <= hi_kev and line.label.split()[-1] in NAMED_LINES
    ]
    found.sort(key=lambda f: (-weight(f[0]), f[0]))
    return [label for _, label in found]


def windows(
    share: np.ndarray,
    energies_kev: np.ndarray,
    *,
    n: int = 3,
    window_kev: float = WINDOW_KEV,
    elements: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The ``n`` windows of ``window_kev`` holding most of ``share`` (per channel), greedy and not
    overlapping: ``{"kev": [lo, hi], "share": s, "lines": [...]}``.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.arange(1.0, 20.0, 0.02)
    >>> s = np.exp(-0.5 * ((e - 10.55) / 0.06) ** 2)
    >>> w = windows(s / s.sum(), e, n=1, elements=("Pb",))
    >>> w[0]["kev"], round(w[0]["share"], 2), w[0]["lines"]
    ([10.35, 10.75], 1.0, ['Pb La1'])
    """
    share = np.asarray(share, dtype=float)
    step = float(np.median(np.diff(energies_kev)))
    width = max(1, round(window_kev / step))
    sums = np.convolve(share, np.ones(width), mode="valid")  # sums[i]: channels i .. i+width-1
    free = np.ones(len(sums), dtype=bool)
    near = np.convolve(share, np.ones(5), mode="same")  # +-2 channels: about +-40 eV

    def at(kev: float) -> float:  # how much of the split sits on a line at ``kev``
        return float(near[int(np.argmin(np.abs(energies_kev - kev)))])

    out = []
    for _ in range(n):
        if not free.any():
            break
        i = int(np.argmax(np.where(free, sums, -np.inf)))
        lo = float(energies_kev[i] - step / 2)
        hi = float(energies_kev[i + width - 1] + step / 2)
        out.append({"kev": [round(lo, 2), round(hi, 2)], "share": float(sums[i]),
                    "lines": _line_names(lo, hi, elements, at)})  # fmt: skip
        free[max(0, i - width + 1) : i + width] = False
    return out


def describe(basis: list[dict[str, Any]]) -> str:
    """``"10.35-10.75 keV (Pb La1) 31 %, 16.1-16.5 keV (no line: scatter) 12 %"``.

    Examples
    --------
    >>> describe([{"kev": [10.35, 10.75], "share": 0.31, "lines": ["Pb La1"]}])
    '10.35-10.75 keV (Pb La1) 31 %'
    """
    parts = []
    for w in basis:
        lines = ", ".join(w["lines"][:3]) or "no pigment line: continuum or scatter"
        parts.append(
            f"{w['kev'][0]:.2f}-{w['kev'][1]:.2f} keV ({lines}) {round(100 * w['share'])} %"
        )
    return ", ".join(parts)


def split_bases(
    model: torch.nn.Module,
    x: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    groups: list[Group],
    names: tuple[str, ...],
    *,
    energies_kev: np.ndarray,
    library: PigmentLibrary | None = None,
    max_spectra: int = 2000,
    seed: int = 0,
) -> list[Group]:
    """``groups`` with each group of two or more members given its ``basis`` (the windows its
    split rests on) and a ``why`` that says so; groups of one are returned as they are."""
    from pigmentmap.materials import default_library
    from pigmentmap.materials.formula import atomic_number

    lib = library or default_library()
    elements = tuple(
        sorted(
            {e for n in names if n in lib for e in lib[n].composition if atomic_number(e) >= 11}
            | set(EXTRA_ELEMENTS),
            key=atomic_number,
        )
    )
    rng = np.random.default_rng(seed)
    out = []
    for g in groups:
        if len(g.members) < 2:
            out.append(g)
            continue
        cols = [names.index(m) for m in g.members]
        rows = np.flatnonzero(((truth[:, cols] > 0) & (mask[:, cols] > 0)).any(axis=1))
        if len(rows) == 0:
            out.append(g)
            continue
        if len(rows) > max_spectra:
            rows = np.sort(rng.choice(rows, max_spectra, replace=False))
        a = attribution(model, x[rows], cols)
        share = a / a.sum() if a.sum() > 0 else a
        basis = windows(share, energies_kev, elements=elements)
        held = sum(w["share"] for w in basis)
        spread = (
            f" (together {round(100 * held)} %: the rest is spread over the whole spectrum, "
            "its shape more than any line)"
            if held < SPREAD_BELOW
            else ""
        )
        why = (
            (g.why + "; " if g.why else "") + "the split rests most on " + describe(basis) + spread
        )
        out.append(Group(g.members, why, tuple(basis)))
    return out
