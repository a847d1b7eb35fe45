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
from lrkit.curves.core import Run

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
#: The nine published runs.
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
#: The paper's protocol: fit on these three runs ...
FIT_RUNS = ("cosine_24000", "constant_24000", "wsdcon_9")
#: ... and predict these six.
PREDICT_RUNS = tuple(n for n in PAPER_NAMES if n not in FIT_RUNS)


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
        steps, _, losses = _read_table(path)
        if n == 24000:
            keep = steps < 24000
            steps, losses = steps[keep], losses[keep]
        runs[name] = Run.of(sched, steps, losses, name=name)
    if not runs:
        raise ValueError(f"folder {str(root)!r} holds none of the published runs ({PAPER_NAMES[0]}.csv, ...)")
    return runs


# -- run files ------------------------------------------------------------------------------------------------
_STEP_NAMES = ("step", "update")


def _read_rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"run file {str(path)!r}, line {i}: not JSON ({err.msg})") from None
        return rows
    return list(csv.DictReader(text.splitlines()))


def _read_table(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(steps, lrs or None, losses)`` of a CSV or JSON-lines file with columns step (or update), lr, loss."""
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"run file {str(path)!r} has no rows")
    keys = rows[0].keys()
    step_key = next((k for k in _STEP_NAMES if k in keys), None)
    if step_key is None or "loss" not in keys:
        raise ValueError(f"run file {str(path)!r}: needs the columns 'step' (or 'update') and 'loss'")

    def column(key: str) -> np.ndarray:
        try:
            return np.array([math.nan if row[key] in (None, "") else float(row[key]) for row in rows])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"run file {str(path)!r}: column {key!r} must hold a number in every row") from None

    steps = column(step_key)
    lrs = column("lr") if "lr" in keys else None
    return steps.astype(np.int64), lrs, column("loss")


def read_run(path: str | Path, schedule: Any = None, name: str | None = None) -> Run:
    """A run from a CSV or JSON-lines file (columns ``step`` or ``update``, ``loss``, optionally ``lr``).

    ``schedule`` (an lrkit schedule of absolute learning rates, or an array) gives the rate of
    every update; without it the file's ``lr`` column must hold every update from 0 on (as
    :class:`lrkit.torch.record.Recorder` writes). Rows with a non-finite loss are dropped, and
    so is the row at step 0 (no update yet).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"run file {str(path)!r} does not exist")
    steps, lrs, losses = _read_table(path)
    keep = np.isfinite(losses) & (steps >= 1)
    if schedule is None:
        if lrs is None:
            raise ValueError(f"run file {str(path)!r} has no 'lr' column: give its schedule")
        order = np.argsort(steps, kind="stable")
        if not np.array_equal(steps[order], np.arange(steps.size)):
            raise ValueError(
                f"run file {str(path)!r}: its lr column is not logged at every update from 0 on; give its schedule"
            )
        schedule = lrs[order]
        # the last logged step's loss needs the rates of the updates before it only
    return Run.of(schedule, steps[keep], losses[keep], name=name or path.stem)


def write_run(path: str | Path, steps: Any, losses: Any, lrs: Any = None) -> None:
    """Write a run file (CSV, or JSON lines for ``.jsonl``) with the columns ``step``, ``lr`` (if given), ``loss``."""
    path = Path(path)
    steps = np.asarray(steps)
    losses = np.asarray(losses, dtype=np.float64)
    rates = None if lrs is None else np.asarray(lrs, dtype=np.float64)
    with path.open("w", newline="") as out:
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
                writer.writerow([*row_values, repr(float(losses[i]))])
