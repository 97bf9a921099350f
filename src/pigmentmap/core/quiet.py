"""Libraries' loggers silenced while we call them (their complaints become our one-line errors,
their chatter would break progress bars)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_loggers(*names: str, level: int = logging.CRITICAL + 1) -> Iterator[None]:
    """Raise the level of the loggers ``names`` to ``level`` inside the block, then restore.

    Examples
    --------
    >>> with quiet_loggers("some.library"):
    ...     logging.getLogger("some.library").level > logging.CRITICAL
    True
    >>> logging.getLogger("some.library").level
    0
    """
    loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, saved, strict=True):
            lg.setLevel(lvl)
