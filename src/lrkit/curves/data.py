"""The published loss curves of Luo et al. (ICLR 2025), their schedules, and run files.

The 25M-parameter curves ship in the package (``lrkit/curves/data/25M``, MIT licence,
Copyright (c) 2025 Kairong Luo; see ``data/README.md`` and ``data/LICENSE`` there); the 100M
set, or any folder laid out the same way, is read from a path you give.

>>> runs = paper_runs()
>>> sorted(runs)[:3]
['constant_24000', 'constant_72000', 'cosine_24000']
>>> int(runs["cosine_24000"].steps[-1])
23920
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

import lrkit as lk
from lrkit.core._io import atomic_write
from lrkit.curves.core import Run
from lrkit.curves.laws import _vector

__all__ = [
    "FIT_RUNS",
    "PAPER_NAMES",
    "PREDICT_RUNS",
    "data_dir",
    "paper_runs",
    "paper_schedule",
    "read_run",
    "write_run",
]

#: The peak learning rate and warmup of every published run.
PEAK, WARMUP = 3e-4, 2160
PAPER_NAMES = (
    "constant_24000",
    "constant_72000",
    "cosine_24000",
    "cosine_72000",
    "wsd_20000_24000",
    "wsdld_20000_24000",
    "wsdcon_3",
    "wsdcon_9",
    "wsdcon_18",
)
"""The nine published runs."""
FIT_RUNS = ("cosine_24000", "constant_24000", "wsdcon_9")
"""The paper's protocol: fit on these three runs (and predict :data:`PREDICT_RUNS`)."""
PREDICT_RUNS = tuple(n for n in PAPER_NAMES if n not in FIT_RUNS)
"""The paper's protocol: predict these six runs (after fitting on :data:`FIT_RUNS`)."""


def data_dir() -> Path:
    """The folder of the shipped curves (it holds ``25M/``)."""
    return Path(__file__).parent / "data"


def paper_schedule(name: str, multiplier: bool = False) -> tuple[lk.Schedule, int]:
    """The schedule (absolute learning rates, or multipliers of 3e-4) and length of a published run.

    >>> s, n = paper_schedule("wsdcon_9")
    >>> n, s(0), s(2160), s(7999), round(s(8000), 12)
    (16000, 0.0, 0.0003, 0.0003, 9e-05)
    """
    w = lk.warmup(WARMUP, start=0.0)  # the paper warms up from 0
    if name in ("constant_24000", "constant_72000"):
        sched, n = w >> lk.constant(1.0), int(name.split("_")[1])
    elif name in ("cosine_24000", "cosine_72000"):
        n = int(name.split("_")[1])
        sched = w >> lk.cosine(n - WARMUP, floor=0.1)
    elif name in ("wsd_20000_24000", "wsdld_20000_24000"):
        shape = "exp" if name.startswith("wsd_") else "linear"
        sched, n = w >> lk.constant(1.0, 20000 - WARMUP) >> lk.anneal(4000, 1.0, 0.1, shape=shape), 24000
    elif name in ("wsdcon_3", "wsdcon_9", "wsdcon_18"):
        level = int(name.split("_")[1]) / 30
        sched, n = w >> lk.constant(1.0, 8000 - WARMUP) >> lk.constant(level), 16000
    else:
        raise ValueError(f"unknown published run {name!r}; known: {', '.join(PAPER_NAMES)}")
    return (sched if multiplier else sched * PEAK), n


def paper_runs(folder: str | Path | None = None) -> dict[str, Run]:
    """The published runs found in ``folder`` (default: the shipped 25M set), by name.

    As the paper, the row at update 24,000 of the 24,000-update runs is dropped (``step < 24000``).

    >>> from lrkit.curves import FIT_RUNS, paper_runs
    >>> runs = paper_runs()
    >>> len(runs), [runs[n].name for n in FIT_RUNS]
    (9, ['cosine_24000', 'constant_24000', 'wsdcon_9'])
    >>> int(runs["constant_24000"].steps[-1]) < 24000
    True
    """
    root = data_dir() / "25M" if folder is None else Path(folder)
    if not root.is_dir():
        raise ValueError(f"folder {str(root)!r} does not exist")
    runs = {}
    for name in PAPER_NAMES:
        path = root / f"{name}.csv"
        if not path.is_file():
            continue
        sched, n = paper_schedule(name)
        run = read_run(path, sched, format="csv", name=name)  # the file's lr column is checked against it
        if n == 24000:
            keep = run.steps < 24000
            run = Run.of(sched, run.steps[keep], run.losses[keep], name=name)  # type: ignore[index]
        runs[name] = run
    if not runs:
        raise ValueError(f"folder {str(root)!r} holds none of the published runs ({PAPER_NAMES[0]}.csv, ...)")
    return runs


# -- run files ------------------------------------------------------------------------------------------------
def read_run(path: str | Path, schedule: Any = None, **options: Any) -> Run:
    """:func:`lrkit.curves.readers.read_run` (kept here for the imports that name this module)."""
    from lrkit.curves.readers import read_run as read

    return read(path, schedule, **options)


def write_run(path: str | Path, steps: Any, losses: Any, lrs: Any = None) -> None:
    """Write a run file (CSV, or JSON lines for ``.jsonl``) with the columns ``step``, ``lr`` (if given), ``loss``.

    A non-finite loss is written as a blank cell (CSV) or ``null`` (JSON lines): a step without a loss.
    The file appears whole or not at all (:func:`lrkit.core._io.atomic_write`).

    >>> import tempfile
    >>> from pathlib import Path
    >>> from lrkit.curves import write_run
    >>> path = Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> write_run(path, [100, 200], [3.9, float("nan")], lrs=[3e-4, 3e-4])
    >>> print(path.read_text(), end="")
    {"step": 100, "lr": 0.0003, "loss": 3.9}
    {"step": 200, "lr": 0.0003, "loss": null}
    """
    path = Path(path)
    steps = _vector(np.asarray(steps).reshape(-1) if np.ndim(steps) == 0 else np.asarray(steps), "steps")
    if steps.dtype.kind not in "iuf" or not (np.all(np.isfinite(steps)) and np.all(steps == np.round(steps))
                                             and steps.min(initial=0) >= 0):
        raise ValueError(f"steps: every step must be a whole number >= 0 of updates, got {steps.tolist()!r:.60}")
    losses = _numbers(losses, "losses", steps.size)
    rates = None if lrs is None else _numbers(lrs, "lrs", steps.size)
    if rates is not None and not (np.all(np.isfinite(rates)) and rates.min(initial=0.0) >= 0):
        raise ValueError("lrs: learning rates must be finite and >= 0")
    with atomic_write(path, newline="") as out:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for i in range(steps.size):
                row: dict[str, Any] = {"step": int(steps[i])}
                if rates is not None:
                    row["lr"] = float(rates[i])
                row["loss"] = float(losses[i]) if math.isfinite(losses[i]) else None
                out.write(json.dumps(row) + "\n")
        else:
            writer = csv.writer(out)
            writer.writerow(["step", "lr", "loss"] if rates is not None else ["step", "loss"])
            for i in range(steps.size):
                row_values: list[Any] = [int(steps[i])]
                if rates is not None:
                    row_values.append(repr(float(rates[i])))
                writer.writerow([*row_values, repr(float(losses[i])) if math.isfinite(losses[i]) else ""])


def _numbers(values: Any, name: str, size: int) -> np.ndarray:
    """``values`` as ``size`` floats, one per step (a ``ValueError`` naming ``name`` otherwise)."""
    try:
        out = _vector(np.asarray(values, dtype=np.float64), name)
    except (TypeError, ValueError) as err:
        if str(err).startswith(f"{name}:"):
            raise
        raise ValueError(f"{name}: every value must be a number, got {values!r:.60}") from None
    if out.size != size:
        raise ValueError(f"{name}: {out.size} values for {size} steps; give one per step")
    return out
