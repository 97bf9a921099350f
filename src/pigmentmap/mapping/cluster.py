"""Where the blocks of a ``map`` run are computed: here, or on a Dask cluster.

Without ``workers`` or ``scheduler`` the blocks are mapped one after the other in this process.
``workers=N`` starts a local Dask cluster of N worker processes (one thread each) on 127.0.0.1,
without a dashboard; ``scheduler="tcp://host:8786"`` uses an existing cluster (started with
Dask's own ``dask scheduler`` and ``dask worker tcp://host:8786``; the workers need pigmentmap
installed). In both cases this process reads each block of the scan and sends it to a worker, so
the workers need no access to the scan; the model and the element references travel once to
each worker (:meth:`distributed.Client.scatter` with ``broadcast``), and each finished block comes
back here to be kept (:mod:`pigmentmap.mapping.partial`). At most two blocks per worker are in
flight, so memory stays bounded here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from pigmentmap.core.errors import PigmentmapError
from pigmentmap.core.quiet import quiet_loggers

CONNECT_SECONDS = 10.0
"""How long to wait for a scheduler to answer."""
IN_FLIGHT_PER_WORKER = 2

Block = tuple[int, int, int]
"""(index, first row, end row) of a block."""


def _process(job: Any, counts: np.ndarray) -> dict[str, np.ndarray]:
    """A block mapped on a worker (module level, so that workers import it)."""
    return job.process(counts)


def run_blocks(
    job: Any,
    blocks: list[Block],
    *,
    read: Callable[[int, int], np.ndarray],
    save: Callable[[int, dict[str, np.ndarray]], None],
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Map ``blocks`` with ``job`` (:class:`~pigmentmap.mapping.blocks.MapJob`), here or on
    Dask; ``read(r0, r1)`` gives a block's counts, ``save(index, result)`` keeps a result,
    ``progress(rows)`` is told of each finished block.

    A failure stops the run with one :class:`PigmentmapError`; blocks already saved stay saved.

    Examples
    --------
    >>> class Twice:
    ...     def process(self, counts):
    ...         return {"x": 2 * counts}
    >>> kept = {}
    >>> run_blocks(Twice(), [(0, 0, 1), (1, 1, 3)], read=lambda a, b: np.arange(a, b),
    ...            save=kept.__setitem__)
    >>> {k: v["x"].tolist() for k, v in kept.items()}
    {0: [0], 1: [2, 4]}
    """
    tell = progress or (lambda _rows: None)
    if workers is None and scheduler is None:
        for index, r0, r1 in blocks:
            save(index, job.process(read(r0, r1)))
            tell(r1 - r0)
        return
    with dask_client(workers=workers, scheduler=scheduler) as client:
        _run_on(client, job, blocks, read=read, save=save, tell=tell)


@contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: of a new local cluster of ``workers`` processes on 127.0.0.1, or of the
    cluster at ``scheduler`` (refused in one line if it does not answer within
    :data:`CONNECT_SECONDS`). Both are closed on exit.

    Examples
    --------
    >>> with dask_client(scheduler="tcp://127.0.0.1:9") as client:  # doctest: +SKIP
    ...     pass
    Traceback (most recent call last):
    pigmentmap.core.errors.PigmentmapError: no Dask scheduler answers at tcp://127.0.0.1:9 ...
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a main dependency
        raise PigmentmapError(
            "--workers and --scheduler need dask's distributed package (pip install distributed)"
        ) from None
    if scheduler is not None and workers is not None:
        raise PigmentmapError("give --workers (a local cluster) or --scheduler, not both")
    cluster = None
    # Dask's info lines would mix with the progress bar: errors only while a run uses it.
    with quiet_loggers("distributed", "dask", level=logging.ERROR):
        try:
            if scheduler is not None:
                try:
                    client = Client(scheduler, timeout=CONNECT_SECONDS)
                except (OSError, TimeoutError, ValueError, TypeError) as err:
                    raise PigmentmapError(
                        f"no Dask scheduler answers at {scheduler} within {CONNECT_SECONDS:g} s "
                        f"({type(err).__name__}); start one with 'dask scheduler' and "
                        "'dask worker ADDRESS'"
                    ) from None
            else:
                if workers is None or workers < 1:
                    raise PigmentmapError(f"--workers must be at least 1, got {workers}")
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR,
                )  # fmt: skip
                client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()


def _run_on(
    client: Any,
    job: Any,
    blocks: list[Block],
    *,
    read: Callable[[int, int], np.ndarray],
    save: Callable[[int, dict[str, np.ndarray]], None],
    tell: Callable[[int], None],
) -> None:
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    n_workers = max(1, len(client.nthreads()))
    shared = client.scatter(job, broadcast=True)  # the model and the fit, once per worker
    pending = iter(blocks)
    where: dict[Any, Block] = {}

    def submit() -> Any | None:
        block = next(pending, None)
        if block is None:
            return None
        _, r0, r1 = block
        data = client.scatter(read(r0, r1))
        future = client.submit(_process, shared, data, pure=False)
        where[future] = block
        return future

    first = [f for f in (submit() for _ in range(IN_FLIGHT_PER_WORKER * n_workers)) if f]
    queue = as_completed(first)
    try:
        for future in queue:
            index, r0, r1 = where.pop(future)
            try:
                result = future.result()
            except (KilledWorker, FutureCancelledError) as err:
                # a block whose worker died, or whose data (scattered to that worker) died with it
                raise PigmentmapError(
                    f"a Dask worker died while mapping rows {r0}-{r1 - 1} ({type(err).__name__}: "
                    "out of memory, killed or lost); the finished blocks are kept: rerun the same "
                    "command to continue"
                ) from None
            except OSError as err:
                raise PigmentmapError(
                    f"lost the Dask cluster while mapping rows {r0}-{r1 - 1} "
                    f"({type(err).__name__}); the finished blocks are kept: rerun the same "
                    "command to continue"
                ) from None
            save(index, result)
            tell(r1 - r0)
            nxt = submit()
            if nxt is not None:
                queue.add(nxt)
    finally:
        for future in list(where):
            future.cancel()
