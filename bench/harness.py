"""Shared benchmark plumbing: interleaved timing, medians with spread, the machine summary.

Protocol (../shared/BENCHMARKS.md): candidates are timed in the same process, interleaved
(A B A B ...), each sample a batch of calls; we report the median per call and the spread
(min..max of the samples), and quote ratios against a peer measured in the same run.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from lrkit.core._io import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    """Seconds per call: the median of the samples and their range."""

    median: float
    low: float
    high: float

    def us(self) -> str:
        return f"{self.median * 1e6:.2f} ({self.low * 1e6:.2f}-{self.high * 1e6:.2f})"

    def ms(self) -> str:
        return f"{self.median * 1e3:.1f} ({self.low * 1e3:.1f}-{self.high * 1e3:.1f})"


def interleaved(cases: dict[str, Callable[[], object]], *, repeats: int, number: int = 1) -> dict[str, Timing]:
    """Time each case ``repeats`` times, interleaved; each sample runs the case ``number`` times."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm up every case once before measuring
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: Timing(statistics.median(s), min(s), max(s)) for name, s in samples.items()}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(*packages: str) -> str:
    found = []
    for name in ("lrkit", "numpy", *packages):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def header(title: str, *packages: str) -> str:
    """The block every results file starts with: command, date, machine, versions."""
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    return (
        f"## {title}\n\n"
        f"- command: `{command}`\n"
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}\n"
        f"- versions: {versions(*packages)}\n"
    )


def write(name: str, text: str, quick: bool) -> Path:
    """Write a results file (``--quick`` runs go to a scratch name so they never replace real figures)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / (f"{name}.quick.md" if quick else f"{name}.md")
    with atomic_write(path) as f:  # complete or not at all (an interrupted run leaves the previous file)
        f.write(text)
    return path
