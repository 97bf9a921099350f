"""A long fuzz campaign over every reader (issue 13): crashes, hangs and blow-ups are counted.

Usage: python benchmarks/fuzz_campaign.py [--per-format 5000] [--seed 13] [--minutes 30]
       [--jobs 2] --out benchmarks/results/fuzz_campaign.json

The valid seed files of the fuzz suite (``tests/io/fuzz_inputs.py``: every format the readers
accept, Bruker ``.bcf`` included) are mutated with the suite's own mutations, many more times
than ``make test`` does. Each read (``open_cube``, then ``describe`` and the counts read whole)
runs in a forked child process in a process group of its own, with an address-space limit
(``RLIMIT_AS``) and a wall-clock limit, so that a hang, a crash in C code or a memory blow-up
is counted instead of suffered. Per format the campaign counts the inputs, the cubes read, the
refusals (:class:`PigmentmapError`), other exceptions (deduplicated by type and place), broken
promises (an error of several lines or not naming the file, NaN counts), crashes (signals),
hangs, memory failures, slow reads, and the peak RSS of the worst case. Each input that is not
read or refused as promised is saved under ``--findings`` with ``info.json`` (the exception,
where it was raised, the traceback, how to reproduce it). The JSON result is written atomically
(every minute while running, and at the end).

Inputs are drawn from ``np.random.default_rng(seed)``: the same seed and ``--per-format`` give
the same inputs (formats are interleaved, so a run stopped by ``--minutes`` has covered every
format about equally).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import faulthandler
import io
import json
import os
import pickle
import random
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.io.fuzz_inputs import SEEDS, Seed, mutated_files, read, violation  # noqa: E402

import pigmentmap  # noqa: E402
from pigmentmap.io import hdf5  # noqa: E402

from _common import machine, write_json  # noqa: E402

KINDS = ("accepted", "refused", "exception", "violation", "crash", "hang", "memory")
"""What a read may come to; all but the first two are failures, saved as findings."""
FAILURES = KINDS[2:]
PACKAGE = str(Path(pigmentmap.__file__).resolve().parent) + os.sep
_SIGNALS = {int(s): s.name for s in signal.Signals}
MARKER = ".fuzz_campaign"
"""The file that marks a findings folder as the campaign's (emptied by the next run)."""


@dataclass
class Task:
    """One mutated input: its format, its number in that format and the seed of its mutation."""

    fmt: str
    index: int
    seed: int


@dataclass
class Running:
    """A child reading one input."""

    task: Task
    pid: int
    fd: int
    slot: int
    start: float
    data: bytearray = field(default_factory=bytearray)
    timed_out: bool = False
    status: int = 0
    rss_kb: int = 0


@dataclass
class Result:
    """How a read ended, as the parent saw it."""

    kind: str
    seconds: float
    rss_kb: int
    error: str = ""
    """The exception type or signal name."""
    message: str = ""
    where: str = ""
    """The innermost frame (``file:line in function``)."""
    reader: str = ""
    """The innermost frame in pigmentmap (the reader's line)."""
    trace: str = ""


@dataclass
class Stats:
    """Per-format counts."""

    inputs: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    slow: int = 0
    big: int = 0
    seconds: float = 0.0
    max_seconds: float = 0.0
    peak_rss_kb: int = 0
    peak_input: int = -1

    def as_json(self) -> dict[str, Any]:
        """The counts, with the names used in the JSON result."""
        c = self.counts
        return {
            "inputs": self.inputs,
            "accepted": c["accepted"],
            "project_errors": c["refused"],
            "other_exceptions": c["exception"],
            "broken_promises": c["violation"],
            "crashes": c["crash"],
            "hangs": c["hang"],
            "memory_failures": c["memory"],
            "slow_reads": self.slow,
            "big_rss_reads": self.big,
            "mean_seconds": round(self.seconds / max(self.inputs, 1), 4),
            "max_seconds": round(self.max_seconds, 3),
            "peak_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "peak_rss_input": self.peak_input,
        }


def short_path(filename: str) -> str:
    """A source file named from ``site-packages`` or the repository (for stable locations)."""
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def frames_of(tb: list[traceback.FrameSummary]) -> tuple[str, str]:
    """The innermost frame, and the innermost frame in pigmentmap, as ``file:line in name``."""
    where = reader = ""
    for fr in tb:
        text = f"{short_path(fr.filename)}:{fr.lineno} in {fr.name}"
        where = text
        if fr.filename.startswith(PACKAGE):
            reader = text
    return where, reader


_DUMP_FRAME = re.compile(r'File "([^"]+)", line (\d+) in (\S+)')


def frames_of_dump(text: str) -> tuple[str, str]:
    """:func:`frames_of` for a faulthandler dump (the current thread, most recent call first)."""
    block = text.split("\n\n")[0] if "Current thread" in text else text
    lines = [m.groups() for m in _DUMP_FRAME.finditer(block)]
    where = reader = ""
    if lines:
        f, n, name = lines[0]
        where = f"{short_path(f)}:{n} in {name}"
    for f, n, name in lines:
        if f.startswith(PACKAGE):
            reader = f"{short_path(f)}:{n} in {name}"
            break
    return where, reader


def first_line(text: str, most: int = 300) -> str:
    """The first line of ``text``, at most ``most`` characters."""
    line = text.strip().split("\n", 1)[0] if text.strip() else ""
    return line if len(line) <= most else line[: most - 3] + "..."


# --- the child ----------------------------------------------------------------------------


def child(path: Path, seed: Seed, fd: int, log: Path, memory_bytes: int) -> None:
    """Read ``path`` in the forked child and write what happened (pickled) to ``fd``; never
    returns."""
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        dump = open(log, "w")  # kept open until the child exits
        faulthandler.enable(file=dump, all_threads=False)
        faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)
        out: dict[str, Any]
        start = time.monotonic()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, counts = read(path, **seed.kwargs)
                problem = violation(path, result, counts)
            if problem:
                out = {"kind": "violation", "error": "BrokenPromise", "message": problem}
            elif counts is None:
                message = str(result)
                memory = "not enough memory" in message or "MemoryError" in message
                out = {"kind": "memory" if memory else "refused", "message": message}
                if memory:
                    out["error"] = "PigmentmapError"
            else:
                out = {"kind": "accepted"}
        except BaseException as err:  # what the campaign is looking for
            tb = traceback.extract_tb(err.__traceback__)
            where, reader = frames_of(tb)
            out = {
                "kind": "memory" if isinstance(err, MemoryError) else "exception",
                "error": type(err).__name__,
                "message": first_line(str(err)),
                "where": where,
                "reader": reader,
                "trace": "".join(traceback.format_exception(err))[-6000:],
            }
        out["seconds"] = time.monotonic() - start
        data = pickle.dumps(out)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os._exit(0)


# --- the parent ---------------------------------------------------------------------------


class Campaign:
    """Runs the tasks, at most ``jobs`` children at a time, and keeps the counts and findings."""

    def __init__(self, args: argparse.Namespace, formats: list[str], work: Path) -> None:
        self.args = args
        self.formats = formats
        self.work = work
        self.findings = Path(args.findings)
        self.stats = {f: Stats() for f in formats}
        self.failures: dict[tuple[str, ...], dict[str, Any]] = {}
        self.peak: dict[str, Any] = {}
        self.start = time.monotonic()
        self.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.stopped_early = False
        self.interrupted = False
        self.baseline_rss_kb = 0
        self.memory_bytes = args.memory_mb * 2**20
        self.source = source_state()
        for k in range(args.jobs):
            (work / f"slot{k}").mkdir()
        self.free = list(range(args.jobs))

    def slot_dir(self, slot: int) -> Path:
        return self.work / f"slot{slot}"

    def log(self, slot: int) -> Path:
        return self.work / f"slot{slot}.log"

    def launch(self, task: Task) -> Running:
        """Write the mutated input of ``task`` and fork the child that reads it."""
        seed = SEEDS[task.fmt]
        slot = self.free.pop()
        files = mutated_files(seed, random.Random(task.seed))
        path = seed.write(self.slot_dir(slot), files)
        log = self.log(slot)
        log.unlink(missing_ok=True)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            child(path, seed, w, log, self.memory_bytes)
        os.close(w)
        try:
            os.setpgid(pid, pid)
        except OSError:  # the child did it first, or is gone already
            pass
        os.set_blocking(r, False)
        return Running(task, pid, r, slot, time.monotonic())

    def baseline(self) -> int:
        """Peak RSS (kB) of a forked child that reads nothing: what every child starts with."""
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        return int(os.wait4(pid, 0)[2].ru_maxrss)

    def run(self, tasks: Iterator[Task], total: int) -> None:
        """Run every task (or until ``--minutes`` is up), printing progress."""
        self.baseline_rss_kb = self.baseline()
        limit = self.start + 60.0 * self.args.minutes
        running: dict[int, Running] = {}
        done, last_print, last_write = 0, self.start, self.start
        pending = iter(tasks)
        exhausted = False
        try:
            while True:
                while not exhausted and self.free:
                    if time.monotonic() > limit:
                        self.stopped_early = exhausted = True
                        break
                    task = next(pending, None)
                    if task is None:
                        exhausted = True
                        break
                    job = self.launch(task)
                    running[job.pid] = job
                if exhausted and not running:
                    break
                for job in self.poll(running):
                    done += 1
                    self.record(job)
                    self.free.append(job.slot)
                now = time.monotonic()
                if now - last_print >= self.args.progress or (exhausted and not running):
                    self.progress(done, total)
                    last_print = now
                if now - last_write >= 60:  # a snapshot, in case the run is killed
                    with contextlib.redirect_stdout(io.StringIO()):
                        self.write(complete=False)
                    last_write = now
        except KeyboardInterrupt:
            self.interrupted = True
            for job in running.values():
                self.kill(job)
            print("interrupted: writing what was found so far", flush=True)

    def poll(self, running: dict[int, Running]) -> list[Running]:
        """Wait a little for children to answer or exit; return the finished ones."""
        now = time.monotonic()
        wait = min((j.start + self.args.timeout - now for j in running.values()), default=0.1)
        fds = [j.fd for j in running.values()]
        ready = select.select(fds, [], [], max(0.0, min(wait, 0.05)))[0] if fds else []
        finished = []
        for job in list(running.values()):
            if job.fd in ready:
                self.drain(job)
            pid, status, usage = os.wait4(job.pid, os.WNOHANG)
            if pid == 0 and time.monotonic() - job.start > self.args.timeout:
                job.timed_out = True
                self.kill(job)
                pid, status, usage = os.wait4(job.pid, 0)
            if pid == 0:
                continue
            self.drain(job)
            job.status, job.rss_kb = status, int(usage.ru_maxrss)
            try:
                os.killpg(job.pid, signal.SIGKILL)  # what it left running (an HDF5 child)
            except OSError:
                pass
            os.close(job.fd)
            del running[job.pid]
            finished.append(job)
        return finished

    def drain(self, job: Running) -> None:
        while True:
            try:
                chunk = os.read(job.fd, 2**16)
            except BlockingIOError:
                return
            if not chunk:
                return
            job.data += chunk

    def kill(self, job: Running) -> None:
        """Stop a child that ran out of time: its Python stack is dumped first (SIGUSR1)."""
        try:
            os.kill(job.pid, signal.SIGUSR1)
            time.sleep(0.3)
            os.killpg(job.pid, signal.SIGKILL)
        except OSError:
            pass

    def classify(self, job: Running) -> Result:
        """What the child reported, or what its death says."""
        status, rss = job.status, job.rss_kb
        elapsed = time.monotonic() - job.start
        dump = self.log(job.slot).read_text(errors="replace") if self.log(job.slot).exists() else ""
        if job.data and not job.timed_out:
            try:
                out = pickle.loads(bytes(job.data))
            except Exception as err:  # a child that died while writing
                out = {"kind": "crash", "error": "TruncatedAnswer", "message": str(err)}
            return Result(
                out["kind"],
                float(out.get("seconds", elapsed)),
                rss,
                out.get("error", ""),
                out.get("message", ""),
                out.get("where", ""),
                out.get("reader", ""),
                out.get("trace", ""),
            )
        where, reader = frames_of_dump(dump)
        if job.timed_out:
            what = f"still reading after {self.args.timeout:g} s"
            return Result("hang", elapsed, rss, "Hang", what, where, reader, dump[-6000:])
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = _SIGNALS.get(sig, f"signal {sig}")
            kind = "memory" if sig == signal.SIGKILL else "crash"  # SIGKILL: the OOM killer
            what = f"killed by {name}" + (" (out of memory?)" if kind == "memory" else "")
            return Result(kind, elapsed, rss, name, what, where, reader, dump[-6000:])
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        what = f"exited with status {code} without an answer"
        return Result("crash", elapsed, rss, "Exit", what, where, reader, dump[-6000:])

    def record(self, job: Running) -> None:
        """Count the outcome of a finished child; save its input if it is a failure."""
        task, res = job.task, self.classify(job)
        st = self.stats[task.fmt]
        st.inputs += 1
        st.counts[res.kind] += 1
        st.seconds += res.seconds
        st.max_seconds = max(st.max_seconds, res.seconds)
        if res.seconds > self.args.slow and res.kind != "hang":
            st.slow += 1
        if res.rss_kb > st.peak_rss_kb:
            st.peak_rss_kb, st.peak_input = res.rss_kb, task.index
        big = res.rss_kb > self.args.big_mb * 1024
        if big:
            st.big += 1
        if res.rss_kb > self.peak.get("rss_kb", 0):
            self.peak = {
                "rss_kb": res.rss_kb,
                "format": task.fmt,
                "index": task.index,
                "seed": task.seed,
                "kind": res.kind,
                "seconds": round(res.seconds, 3),
                "message": first_line(re.sub(r"'[^']*/", "'", res.message), 200),
            }
            self.peak["saved"] = self.save(job, res, "peak_rss", replace=True)
        if res.kind not in FAILURES and not big:
            return
        kind = res.kind if res.kind in FAILURES else "big_rss"
        message = re.sub(r"'[^']*/", "'", res.message)  # no temporary folders
        # the same failure in other words: the same place, or the same message but its numbers
        place = res.where or f"{res.kind}: " + re.sub(r"\d+(\.\d+)?", "#", message)[:80]
        if kind == "big_rss":
            message = f"peak RSS {res.rss_kb / 1024:.0f} MB ({res.kind}: {message})"
        key = (task.fmt, kind, res.error, place, res.reader)
        entry = self.failures.setdefault(
            key,
            {
                "format": task.fmt,
                "kind": kind,
                "error": res.error,
                "message": message,
                "where": res.where,
                "reader": res.reader,
                "count": 0,
                "examples": [],
            },
        )
        entry["count"] += 1
        if len(entry["examples"]) < self.args.keep:
            entry["examples"].append(self.save(job, res, f"{kind}-{task.index}"))
        if entry["count"] == 1:  # each distinct failure once
            print(
                f"  new {kind}: {task.fmt} #{task.index}: {res.error}: "
                f"{first_line(message, 120)} [{res.reader or res.where}]",
                flush=True,
            )

    def save(self, job: Running, res: Result, name: str, *, replace: bool = False) -> str:
        """Copy the input of ``job`` (and what is known of its outcome) under the findings."""
        task, seed = job.task, SEEDS[job.task.fmt]
        dest = self.findings / task.fmt / name if name != "peak_rss" else self.findings / name
        if dest.exists() and replace:
            shutil.rmtree(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for f in self.slot_dir(job.slot).iterdir():
            shutil.copy2(f, dest / f.name)
        target = dest if seed.target == "." else dest / seed.target
        kwargs = ", ".join(f"{k}={v!r}" for k, v in seed.kwargs.items())
        info = {
            "format": task.fmt,
            "index": task.index,
            "mutation_seed": task.seed,
            "campaign_seed": self.args.seed,
            "kind": res.kind,
            "error": res.error,
            "message": res.message,
            "where": res.where,
            "reader": res.reader,
            "seconds": round(res.seconds, 3),
            "peak_rss_mb": round(res.rss_kb / 1024, 1),
            "reproduce": (
                '.venv/bin/python -c "from pigmentmap.io import open_cube; '
                f"open_cube('{target}', allow_uncalibrated=True{', ' if kwargs else ''}{kwargs})\""
            ),
            "traceback": res.trace,
        }
        (dest / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        return str(dest)

    def progress(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.start
        sums = {k: sum(s.counts[k] for s in self.stats.values()) for k in FAILURES}
        sums["big_rss"] = sum(s.big for s in self.stats.values())
        bad = " ".join(f"{k} {v}" for k, v in sums.items())
        print(
            f"[{elapsed:6.0f} s] {done}/{total} inputs ({done / max(elapsed, 1e-9):.0f}/s) | {bad}",
            flush=True,
        )

    def write(self, *, complete: bool) -> dict[str, Any]:
        """The JSON result (written atomically to ``--out``)."""
        formats = {f: s.as_json() for f, s in self.stats.items()}
        totals: dict[str, Any] = {
            k: sum(v[k] for v in formats.values())
            for k in next(iter(formats.values()))
            if k not in ("mean_seconds", "max_seconds", "peak_rss_mb", "peak_rss_input")
        }
        totals["max_seconds"] = max(v["max_seconds"] for v in formats.values())
        totals["peak_rss_mb"] = max(v["peak_rss_mb"] for v in formats.values())
        a = self.args
        data = {
            "benchmark": "fuzz_campaign",
            "issue": 13,
            "complete": complete and not self.interrupted,
            "stopped_by_minutes": self.stopped_early,
            "started_utc": self.started,
            "seconds": round(time.monotonic() - self.start, 1),
            "settings": {
                "per_format": a.per_format,
                "seed": a.seed,
                "minutes": a.minutes,
                "jobs": a.jobs,
                "timeout_s": a.timeout,
                "slow_s": a.slow,
                "memory_limit_mb": a.memory_mb,
                "big_rss_mb": a.big_mb,
                "hdf5_metadata_s": a.hdf5_seconds,
                "formats": self.formats,
                "how": "each read in a forked child (own process group) under RLIMIT_AS and a "
                "wall-clock limit; mutations of tests/io/fuzz_inputs.py",
            },
            "machine": machine(),
            "source": self.source,
            "baseline_rss_mb": round(self.baseline_rss_kb / 1024, 1),
            "totals": totals,
            "formats": formats,
            "worst_peak_rss": {**self.peak, "rss_mb": round(self.peak.get("rss_kb", 0) / 1024, 1)},
            "failures": sorted(self.failures.values(), key=lambda e: (-e["count"], e["format"])),
        }
        write_json(self.args.out, data)
        return data


def source_state() -> dict[str, Any]:
    """The commit the readers were taken from, and the reader files changed since (the
    figures are for that state of ``src/pigmentmap/io``)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/pigmentmap/io"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"commit": commit, "io_changed": sorted(line[3:] for line in changed.splitlines())}


def tasks_for(formats: list[str], per_format: int, seed: int) -> Iterator[Task]:
    """The inputs, formats interleaved; each format's mutation seeds come from its own stream
    of ``np.random.default_rng(seed)`` (so a format's inputs do not depend on the others)."""
    streams = dict(zip(sorted(SEEDS), np.random.default_rng(seed).spawn(len(SEEDS)), strict=True))
    seeds = {f: streams[f].integers(0, 2**63, size=per_format) for f in formats}
    for i in range(per_format):
        for f in formats:
            yield Task(f, i, int(seeds[f][i]))


def check_seeds(work: Path) -> None:
    """Every seed opens before it is mutated (and the lazily imported readers are imported
    here, once, not in every child)."""
    folder = work / "seeds"
    folder.mkdir()
    for name, seed in SEEDS.items():
        result, counts = read(seed.write(folder, None), **seed.kwargs)
        if counts is None:
            raise SystemExit(f"the valid seed {name} does not open: {result}")


def print_table(data: dict[str, Any]) -> None:
    """The per-format counts as a table, and the worst case's peak RSS."""
    cols = {
        "inputs": "inputs", "accepted": "read", "project_errors": "refused",
        "other_exceptions": "other", "broken_promises": "broken", "crashes": "crash",
        "hangs": "hang", "memory_failures": "memory", "big_rss_reads": "big RSS",
        "slow_reads": "slow", "max_seconds": "max s", "peak_rss_mb": "peak MB",
    }  # fmt: skip
    print(f"{'format':16}" + "".join(f"{h:>9}" for h in cols.values()))
    for name, row in [*data["formats"].items(), ("total", data["totals"])]:
        print(f"{name:16}" + "".join(f"{row[c]:>9}" for c in cols))
    peak = data["worst_peak_rss"]
    print(
        f"baseline RSS of a child {data['baseline_rss_mb']} MB; worst case {peak['rss_mb']} MB "
        f"({peak.get('format')} #{peak.get('index')}, {peak.get('kind')})"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; the exit status is 1 if any input was not read or refused as promised.

    Parameters
    ----------
    argv : list of str, optional
        The command line (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 when every input was read or refused (within the limits), else 1.
    """
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("--per-format", type=int, default=5000, help="mutated inputs per format")
    ap.add_argument("--seed", type=int, default=13, help="seed of np.random.default_rng")
    ap.add_argument("--minutes", type=float, default=30.0, help="stop starting reads after this")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="children")
    ap.add_argument("--timeout", type=float, default=10.0, help="a read longer is a hang (s)")
    ap.add_argument("--slow", type=float, default=5.0, help="a read longer is slow (s)")
    ap.add_argument("--memory-mb", type=int, default=2048, help="RLIMIT_AS of each child (MiB)")
    ap.add_argument(
        "--big-mb",
        type=int,
        default=1024,
        help="a read whose peak RSS is above this (MiB) is a blow-up, saved and counted",
    )
    ap.add_argument(
        "--hdf5-seconds",
        type=float,
        default=3.0,
        help="how long the HDF5 reader explores a file before giving up (below --timeout)",
    )
    ap.add_argument("--formats", default="", help="comma-separated subset of: " + ",".join(SEEDS))
    ap.add_argument("--keep", type=int, default=3, help="inputs saved per distinct failure")
    ap.add_argument("--progress", type=float, default=15.0, help="seconds between progress lines")
    ap.add_argument("--out", default="benchmarks/results/fuzz_campaign.json")
    ap.add_argument("--findings", default="benchmarks/results/fuzz_findings")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()] or sorted(SEEDS)
    unknown = sorted(set(formats) - set(SEEDS))
    if unknown:
        ap.error(f"unknown formats {unknown}; known: {', '.join(sorted(SEEDS))}")
    if not sys.platform.startswith("linux"):
        ap.error("the campaign forks children and limits them with setrlimit: Linux only")
    if args.hdf5_seconds >= args.timeout:
        ap.error("--hdf5-seconds must be below --timeout")
    hdf5.METADATA_SECONDS = args.hdf5_seconds
    findings = Path(args.findings)
    if findings.exists() and any(findings.iterdir()):
        if not (findings / MARKER).exists():
            ap.error(f"--findings {findings} holds files of something else: choose another")
        shutil.rmtree(findings)  # the findings of the previous run
    findings.mkdir(parents=True, exist_ok=True)
    (findings / MARKER).write_text("made by benchmarks/fuzz_campaign.py; emptied by each run\n")
    total = args.per_format * len(formats)
    with tempfile.TemporaryDirectory(prefix="fuzz_campaign_") as tmp:
        work = Path(tmp)
        check_seeds(work)
        print(
            f"fuzz campaign: {len(formats)} formats x {args.per_format} inputs = {total}, "
            f"{args.jobs} children at a time, at most {args.minutes:g} min, seed {args.seed}; "
            f"limits {args.timeout:g} s and {args.memory_mb} MiB a read",
            flush=True,
        )
        campaign = Campaign(args, formats, work)
        campaign.run(tasks_for(formats, args.per_format, args.seed), total)
        data = campaign.write(complete=True)
    print_table(data)
    print(f"{data['seconds']:.0f} s; findings under {findings}/", flush=True)
    failures = ("other_exceptions", "broken_promises", "crashes", "hangs", "memory_failures")
    bad = sum(data["totals"][k] for k in (*failures, "big_rss_reads"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
