"""Counting noise."""

from __future__ import annotations

import numpy as np

from pigmentmap.core.errors import PigmentmapError


def poisson_counts(expected: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Poisson draws of ``expected`` counts with an explicit generator.

    Examples
    --------
    >>> import numpy as np
    >>> x = poisson_counts(np.full(3, 5.0), rng=np.random.default_rng(0))
    >>> x.dtype.kind
    'f'
    """
    if not isinstance(rng, np.random.Generator):
        raise PigmentmapError("poisson_counts needs a numpy.random.Generator")
    expected = np.asarray(expected)
    if np.any(~np.isfinite(expected)) or np.any(expected < 0):
        raise PigmentmapError("expected counts must be finite and >= 0")
    return rng.poisson(expected).astype(np.float32)
