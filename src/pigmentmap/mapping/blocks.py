"""One block of rows of a scan -> every map ``pigmentmap map`` writes for those rows.

A scan is mapped block by block (:func:`plan_blocks`): whatever its size, memory holds one block
of counts and its results, and each finished block can be kept on disk
(:mod:`pigmentmap.mapping.partial`) or computed on another machine
(:mod:`pigmentmap.mapping.cluster`). :class:`MapJob` holds what every block needs, prepared once:
the model (:class:`~pigmentmap.mapping.pigments.PigmentPredictor`) and the element fit
(:class:`~pigmentmap.mapping.elements.ElementFitter`); :meth:`MapJob.process` maps one block.
Every step is per pixel, so a map made of blocks equals the map made at once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from pigmentmap.core.axis import EnergyAxis
from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.spectrum import row_blocks
from pigmentmap.mapping.elements import ElementFitter
from pigmentmap.mapping.evidence import judge
from pigmentmap.mapping.pigments import bin_cube
from pigmentmap.preprocess.preprocessor import EdgePaddingWarning

#: Counts per block, in MB of float64: the element fit holds a few times this in temporaries.
BLOCK_MB = 24.0

MAP_KEYS = ("prob", "raw", "layers", "elements", "significance", "support", "missing", "groups")
"""The per-pixel arrays of a block result (``layers`` only where the model has a layer
network); the rest (``sum_spectrum``, ``tally_*``) are summed over blocks."""


def plan_blocks(
    n_rows: int,
    n_cols: int,
    n_channels: int,
    *,
    binning: int = 1,
    block_mb: float = BLOCK_MB,
    rows_per_chunk: int = 1,
) -> list[tuple[int, int]]:
    """Blocks of (binned) rows ``[(r0, r1), ...]`` holding about ``block_mb`` of counts each.

    Parameters
    ----------
    n_rows, n_cols : int
        The map's size (after binning).
    n_channels : int
        Channels per spectrum.
    binning : int
        Pixels summed per side: a map row reads ``binning`` scan rows.
    block_mb : float
        Counts per block, in MB of float64.
    rows_per_chunk : int
        Scan rows a stored chunk of the file spans (a lazily read HDF5 file's): blocks follow
        the chunks where the budget allows (see :func:`~pigmentmap.core.spectrum.row_blocks`).

    Examples
    --------
    >>> plan_blocks(5, 100, 1000, block_mb=1.6)
    [(0, 2), (2, 4), (4, 5)]
    """
    if min(n_rows, n_cols, n_channels, binning) < 1 or not block_mb > 0:
        raise PigmentmapError(
            f"cannot plan blocks of a {n_rows} x {n_cols} x {n_channels} map "
            f"(binning {binning}, {block_mb} MB)"
        )
    row_bytes = 8.0 * n_cols * binning * binning * n_channels
    multiple = max(1, -(-rows_per_chunk // binning))  # map rows covering one chunk
    return row_blocks(n_rows, row_bytes, budget_bytes=block_mb * 1e6, multiple=multiple)


def read_rows(counts: Any, r0: int, r1: int, *, binning: int = 1) -> np.ndarray:
    """Map rows ``r0:r1`` of ``counts`` (H, W, C), binning x binning pixels summed.

    Reads only those rows from a memory-mapped or lazily read cube; columns that do not fill a
    bin are dropped, as :func:`~pigmentmap.mapping.pigments.bin_cube` does.

    Examples
    --------
    >>> import numpy as np
    >>> read_rows(np.ones((5, 5, 3)), 1, 2, binning=2).shape
    (1, 2, 3)
    """
    return np.asarray(bin_cube(counts[r0 * binning : r1 * binning], binning), dtype=np.float64)


@dataclass
class MapJob:
    """What every block needs, prepared once (and shipped once to each worker of a cluster).

    Attributes
    ----------
    predictor : :class:`~pigmentmap.mapping.pigments.PigmentPredictor`
    fitter : :class:`~pigmentmap.mapping.elements.ElementFitter` (the key elements of every
        class included)
    axis : the scan's energy axis
    evidence_gate : cap claims whose key element is not detected

    Examples
    --------
    >>> MapJob.process  # doctest: +ELLIPSIS
    <function MapJob.process at ...>
    """

    predictor: Any
    fitter: ElementFitter
    axis: EnergyAxis
    evidence_gate: bool = True

    def process(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Every map of one block of (binned) rows ``counts`` (h, w, C).

        Returns ``prob`` (gated), ``raw``, ``layers`` (if any), ``elements``,
        ``significance``, ``support``, ``missing``, ``groups`` as (h, w, ...) arrays, the
        block's ``sum_spectrum`` and its gate tally (``tally_*``).
        """
        with warnings.catch_warnings():  # said once, when the run checked the axis
            warnings.simplefilter("ignore", EdgePaddingWarning)
            raw, layers = self.predictor.predict(counts, self.axis)
        calibrated = self.predictor.posterior.classes(raw)
        fitted = self.fitter.fit(counts)
        j = judge(calibrated, fitted, self.predictor.names, self.predictor.posterior,
                  evidence_gate=self.evidence_gate)  # fmt: skip
        out: dict[str, np.ndarray] = {
            "prob": j.prob.astype(np.float32),
            "raw": raw.astype(np.float32),
            "elements": fitted.values.astype(np.float32),
            "significance": fitted.significance.astype(np.float32),
            "support": j.evidence.support,
            "missing": j.evidence.missing,
            "groups": j.groups.astype(np.float32),
            "sum_spectrum": np.asarray(fitted.sum_spectrum, dtype=np.float64),
            **j.tally.to_arrays(),
        }
        if layers is not None:
            out["layers"] = layers.astype(np.float32)
        return out
