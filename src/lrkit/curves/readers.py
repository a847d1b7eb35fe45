"""Read a training run from the log a library wrote: lrkit's CSV / JSON lines, Lightning's ``CSVLogger``,
HF Trainer's ``trainer_state.json``, TensorBoard event files, W&B-style history JSON.

:func:`read_run` is the one entry: it detects the format (or takes ``format=``), reads the loss
series (``metric=``), takes every update's learning rate from the log where the log holds it for
every update, from ``schedule`` otherwise, and refuses the two when they disagree. Every bad value
is one ``ValueError`` line naming the file, the row (line, entry or event) and the column.

Each format's steps are mapped to lrkit's convention (the loss "at step ``t``" was measured after
``t`` updates; ``lrs[i]`` is the rate of update ``i``), as measured on files the libraries wrote
(tests/test_curves_readers.py):

* ``csv`` / ``jsonl`` (lrkit's :class:`lrkit.torch.record.Recorder`, :func:`write_run`): column
  ``step`` or ``update`` = updates done when the loss was measured; ``lr`` = the rate of update ``step``.
* ``lightning`` (``metrics.csv`` of ``CSVLogger``; ``LearningRateMonitor``'s ``lr-*`` column): a
  metric logged in ``training_step`` at ``step`` s was computed after s updates and ``lr-*`` at s is
  update s's rate; a validation metric (its name starts with ``val``) is logged at the step of the
  last training batch, so it is placed at s + 1. With gradient accumulation a validation run between an
  update's micro-batches is logged at the updates done and lands one update late: said with a
  :class:`RunFileWarning` (seen from ``lr-*`` logged several times per update).
* ``hf`` (``trainer_state.json``, ``log_history``): ``loss`` at ``step`` s is the mean training loss of
  the updates since the previous log (each batch's loss measured before its update), placed at the
  middle of them; ``eval_loss`` at s after s updates; ``learning_rate`` at s is the rate of update s - 1.
  A run resumed from a checkpoint repeats the history before it: read with ``parent=``, the branch
  point is where its points stop being the parent's.
* ``tensorboard`` (event files, read with ``tensorboard``'s ``EventAccumulator``): scalars at the
  step they were written with, taken as the updates done (the usual ``add_scalar(tag, v, step)``
  before ``optimizer.step()``). A folder's event files are one run: a later file that starts again at
  the first file's first step is a second run in the folder and refused; one that starts later (resumed
  from a checkpoint) overrides the steps it logs again.
* ``wandb`` (a JSON object with ``history``: either sections ``{"train": {"iter": [...], "train_loss":
  [...]}, ...}`` as the schedule grid, or a list of rows with ``_step`` / ``step`` / ``iter``):
  every value at its logged step, taken as the updates done.

>>> import tempfile, pathlib
>>> import lrkit as lk
>>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
>>> _ = path.write_text("step,loss\\n100,3.5\\n200,3.2\\n")
>>> run = read_run(path, lk.constant(3e-4))
>>> run.steps.tolist(), run.losses.tolist(), run.lrs.size
([100, 200], [3.5, 3.2], 200)
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.curves.core import Run, rates_differ
from lrkit.curves.laws import MAX_UPDATES, _too_long, learning_rates, whole

__all__ = ["FORMATS", "Log", "RunFileWarning", "detect_format", "read_log", "read_run"]

FORMATS = ("csv", "jsonl", "lightning", "hf", "tensorboard", "wandb")
"""The formats :func:`read_run` reads."""

#: Loss series tried, in order, when ``metric`` is not given: a validation loss where the log has one.
DEFAULT_METRICS = (
    "val_loss",
    "val/loss",
    "valid_loss",
    "validation_loss",
    "eval_loss",
    "eval/loss",
    "loss",
    "train_loss",
    "train/loss",
    "train_loss_step",
    "training_loss",
)
#: Learning-rate series tried, in order, when ``lr_key`` is not given (plus Lightning's ``lr-*``).
LR_KEYS = ("lr", "learning_rate", "train_lr", "train/lr", "train/learning_rate", "lr-0")
_STEP_KEYS = ("step", "update", "iter", "global_step", "trainer/global_step", "_step")
#: Relative and absolute (times the largest rate) tolerance between a logged rate and the schedule's.
RTOL, ATOL = 1e-3, 1e-6


class RunFileWarning(UserWarning):
    """A run file read with something left out (non-finite losses).

    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> import lrkit as lk
    >>> from lrkit.curves import RunFileWarning, read_run
    >>> path = Path(tempfile.mkdtemp()) / "run.csv"
    >>> _ = path.write_text("step,loss\\n100,3.9\\n200,nan\\n300,3.6\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     run = read_run(path, lk.constant(3e-4))
    >>> run.steps.tolist(), caught[0].category is RunFileWarning
    ([100, 300], True)
    """


@dataclass(frozen=True)
class Series:
    """One logged quantity: its steps (lrkit's convention, see the module), values and where each came from."""

    steps: np.ndarray
    values: np.ndarray
    where: tuple[str, ...]
    #: values logged at a step logged before (the last of each kept: a resumed run logs some steps again)
    repeated: int = 0


@dataclass(frozen=True)
class Log:
    """A parsed log: its series by name, how its learning rate is indexed, and what the file is."""

    path: Path
    format: str
    series: Mapping[str, Series]
    #: the logged rate at step s is the rate of update s + lr_shift
    lr_shift: int = 0
    #: series the file holds but that cannot be read, with why (an error only if one of them is asked for)
    unreadable: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, what: str) -> Series:
        if key in self.unreadable:
            raise ValueError(f"run file {str(self.path)!r}: {self.unreadable[key]}")
        if key not in self.series:
            known = ", ".join(repr(k) for k in self.series) or "none"
            raise ValueError(f"run file {str(self.path)!r}: no {what} {key!r} in it; it logs {known}")
        return self.series[key]


def _number(value: Any, path: Path, where: str, key: str) -> float | None:
    """A cell's number: ``None`` for a blank cell or a JSON null, else a float (non-numbers are an error)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"run file {str(path)!r}, {where}: {key!r} holds {value!r}, not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"run file {str(path)!r}, {where}: {key!r} holds {value!r}, not a number") from None


def _step(value: Any, path: Path, where: str, key: str) -> int:
    number = _number(value, path, where, key)
    if number is None:
        raise ValueError(f"run file {str(path)!r}, {where}: {key!r} is empty; every row needs its step")
    if not math.isfinite(number) or number != round(number) or number < 0:
        raise ValueError(
            f"run file {str(path)!r}, {where}: {key!r} is {value!r}; a step is a whole number >= 0 of updates"
        )
    if number > MAX_UPDATES:
        raise ValueError(f"run file {str(path)!r}, {where}: {_too_long(repr(key), number)}")
    return int(number)


class _Builder:
    """Collects (step, value, where) per key, then the :class:`Log`."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, tuple[list[int], list[float], list[str]]] = {}
        self.unreadable: dict[str, str] = {}

    def add(self, key: str, step: int, value: Any, where: str) -> None:
        number = _number(value, self.path, where, key)
        if number is None:
            return
        steps, values, wheres = self.data.setdefault(key, ([], [], []))
        steps.append(step)
        values.append(number)
        wheres.append(where)

    def log(self, fmt: str, shift: Callable[[str], np.ndarray | int] | None = None, lr_shift: int = 0) -> Log:
        series = {}
        for key, (steps, values, wheres) in self.data.items():
            t = np.asarray(steps, dtype=np.int64)
            if shift is not None:
                t = t + shift(key)
            # a run resumed from a checkpoint logs some steps again: the value logged last is the one kept
            _, last = np.unique(t[::-1], return_index=True)
            keep = np.sort(t.size - 1 - last)
            v = np.asarray(values, dtype=np.float64)
            series[key] = Series(t[keep], v[keep], tuple(wheres[i] for i in keep), int(t.size - keep.size))
        if not series:
            raise ValueError(f"run file {str(self.path)!r} logs no values")
        return Log(self.path, fmt, series, lr_shift, dict(self.unreadable))


def _table_rows(path: Path, rows: list[dict[str, Any]], fmt: str, where: Callable[[int], str]) -> _Builder:
    out = _Builder(path)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"run file {str(path)!r}, {where(i)}: a row must be an object of columns, got {type(row).__name__}"
            )
        key = next((k for k in _STEP_KEYS if k in row), None)
        if key is None:
            found = ", ".join(repr(k) for k in list(row)[:8]) + (", ..." if len(row) > 8 else "")
            raise ValueError(
                f"run file {str(path)!r}, {where(i)}: no step column (one of {', '.join(_STEP_KEYS[:3])}, ...; "
                f"the columns are {found})"
            )
        step = _step(row[key], path, where(i), key)
        for name, value in row.items():
            if name not in _STEP_KEYS and name != "epoch" and not (isinstance(name, str) and name.startswith("_")):
                out.add(str(name), step, value, where(i))
    return out


def _text(path: Path) -> str:
    """The file's text: UTF-8, a byte-order mark at its start (Excel's "CSV UTF-8", Windows tools) left out."""
    return path.read_text(encoding="utf-8-sig")


def _separator(header: str) -> str:
    """The header line's separator: ``,``, or ``;`` / a tab where the header has one of those and no comma
    (a spreadsheet whose decimal mark is ``,`` separates by ``;``; a ``.tsv`` by tabs)."""
    if "," in header:
        return ","
    return next((sep for sep in ("\t", ";") if sep in header), ",")


def _read_csv(path: Path) -> list[dict[str, Any]]:
    lines = _text(path).splitlines()
    # skipinitialspace: "step, loss" (numpy.savetxt's delimiter=", ", hand-written files) names the column 'loss'
    reader = csv.DictReader(lines, delimiter=_separator(lines[0] if lines else ""), skipinitialspace=True)
    rows = list(reader)
    if reader.fieldnames is None:
        raise ValueError(f"run file {str(path)!r} is empty")
    twice = next((name for i, name in enumerate(reader.fieldnames) if name in reader.fieldnames[:i]), None)
    if twice is not None:  # csv keeps the last of the two: which one is the loss would be a guess
        raise ValueError(f"run file {str(path)!r}, line 1: the column {twice!r} is named twice; rename one")
    for i, row in enumerate(rows):
        if None in row:  # more cells than the header names
            raise ValueError(f"run file {str(path)!r}, line {i + 2}: more cells than the header's columns")
    return rows


def _read_jsonl(path: Path) -> list[Any]:
    rows = []
    for i, line in enumerate(_text(path).splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"run file {str(path)!r}, line {i}: not JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(
                    f"run file {str(path)!r}, line {i}: a line must be a JSON object of columns, "
                    f"got {type(row).__name__}"
                )
            rows.append((i, row))
    lines = [i for i, _ in rows]
    return [lines, [r for _, r in rows]]


def _is_validation(key: str) -> bool:
    return key.lower().startswith(("val", "valid"))


def _parse_csv(path: Path, fmt: str) -> Log:
    rows = _read_csv(path)
    built = _table_rows(path, rows, fmt, lambda i: f"line {i + 2}")
    if fmt == "lightning":  # a validation metric is logged at the last training batch's step: s + 1 updates
        return built.log(fmt, lambda key: 1 if _is_validation(key) else 0)
    return built.log(fmt)


def _parse_jsonl(path: Path) -> Log:
    lines, rows = _read_jsonl(path)
    return _table_rows(path, rows, "jsonl", lambda i: f"line {lines[i]}").log("jsonl")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"run file {str(path)!r}: not JSON ({err.msg}, line {err.lineno})") from None


def _parse_hf(path: Path) -> Log:
    data = _load_json(path)
    history = data.get("log_history") if isinstance(data, dict) else None
    if not isinstance(history, list):
        raise ValueError(f"run file {str(path)!r}: no 'log_history' list (is it HF Trainer's trainer_state.json?)")
    out = _Builder(path)
    previous = 0  # the step of the previous training-loss entry
    for i, entry in enumerate(history):
        where = f"log_history[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"run file {str(path)!r}, {where}: an entry must be an object, got {type(entry).__name__}")
        if "step" not in entry:
            raise ValueError(f"run file {str(path)!r}, {where}: no 'step'")
        step = _step(entry["step"], path, where, "step")
        for key, value in entry.items():
            if key in ("step", "epoch") or key.startswith(("train_", "total_")) or key.endswith("_runtime"):
                continue
            if key == "loss":  # the mean over the updates since the last log, each measured before its update
                if step <= previous:
                    raise ValueError(f"run file {str(path)!r}, {where}: 'loss' at step {step} after step {previous}")
                out.add(key, (previous + step - 1) // 2, value, where)
                previous = step
            else:
                out.add(key, step, value, where)
    return out.log("hf", lr_shift=-1)


def _parse_wandb(path: Path) -> Log:
    data = _load_json(path)
    history = data.get("history") if isinstance(data, dict) else data
    out = _Builder(path)
    if isinstance(history, list):
        built = _table_rows(path, history, "wandb", lambda i: f"history[{i}]")
        return built.log("wandb")
    if not isinstance(history, dict):
        raise ValueError(f"run file {str(path)!r}: no 'history' (a list of rows, or sections of columns)")
    seen: dict[str, str] = {}
    for section, columns in history.items():
        if not isinstance(columns, dict):
            raise ValueError(f"run file {str(path)!r}: history[{section!r}] must be an object of columns")
        key = next((k for k in _STEP_KEYS if k in columns), None)
        if key is None:
            raise ValueError(f"run file {str(path)!r}: history[{section!r}] has no step column ('iter', 'step', ...)")
        steps = columns[key]
        if not isinstance(steps, list):
            raise ValueError(f"run file {str(path)!r}: history[{section!r}][{key!r}] must be a list")
        for name, values in columns.items():
            if name == key or values == []:  # a column never logged
                continue
            label = name if name not in seen else f"{section}/{name}"
            seen[label] = section
            if not isinstance(values, list) or len(values) != len(steps):
                # its values cannot be matched to steps; an error only if this series is the one asked for
                out.unreadable[label] = (
                    f"history[{section!r}][{name!r}] must be a list as long as its {key!r} ({len(steps)})"
                )
                continue
            for i, (s, v) in enumerate(zip(steps, values)):
                where = f"history[{section!r}][{i}]"
                out.add(label, _step(s, path, where, key), v, where)
    return out.log("wandb")


def _parse_tensorboard(path: Path) -> Log:
    from lrkit.core._extras import require

    require("tensorboard", "curves", purpose="reading TensorBoard event files")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(path.glob("events.out.tfevents*")) if path.is_dir() else []
    if len(files) > 1:  # a run resumed from a checkpoint starts its file later; a file from the first step is a run
        firsts = [_first_step(f) for f in files]
        head = firsts[0]
        again = None if head is None else next(
            (i for i, first in enumerate(firsts[1:], 1) if first is not None and first <= head), None
        )
        if again is not None:
            said = "both start" if firsts[again] == head else f"start at step {head} and"
            raise ValueError(
                f"run file {str(path)!r}: two runs in one folder: {files[0].name} and {files[again].name} {said} "
                f"at step {firsts[again]}; read one event file, or give each run a folder of its own"
            )
    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
    accumulator.Reload()
    out = _Builder(path)
    for tag in accumulator.Tags().get("scalars", []):
        for event in accumulator.Scalars(tag):
            where = f"tag {tag!r} at step {event.step}"
            out.add(tag, _step(event.step, path, where, "step"), event.value, where)
    if not out.data:
        raise ValueError(f"run file {str(path)!r}: no scalar events (is it a TensorBoard log folder or event file?)")
    return out.log("tensorboard")


def _first_step(path: Path) -> int | None:
    """The first step of any scalar in one event file (``None``: none)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
    accumulator.Reload()
    steps = [e.step for tag in accumulator.Tags().get("scalars", []) for e in accumulator.Scalars(tag)]
    return min(steps) if steps else None


def detect_format(path: str | Path) -> str:
    """The format of a log file or folder, from its name and first bytes (see :data:`FORMATS`).

    A folder holding ``metrics.csv`` is Lightning's, ``trainer_state.json`` HF's, an
    ``events.out.tfevents.*`` file TensorBoard's; a ``.json`` with ``log_history`` is HF's, with
    ``history`` W&B-style; a CSV named ``metrics.csv`` or with an ``epoch`` column is Lightning's.
    """
    p = Path(path)
    if p.is_dir():
        for name, fmt in (("metrics.csv", "lightning"), ("trainer_state.json", "hf")):
            if (p / name).is_file():
                return fmt
        if any(p.glob("events.out.tfevents*")):
            return "tensorboard"
        raise ValueError(
            f"run file {str(p)!r} is a folder without metrics.csv, trainer_state.json or TensorBoard event files"
        )
    if not p.is_file():
        raise ValueError(f"run file {str(p)!r} does not exist")
    if p.name.startswith("events.out.tfevents"):
        return "tensorboard"
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        head = _text(p)[:1_000_000]
        if '"log_history"' in head:
            return "hf"
        if '"history"' in head:
            return "wandb"
        raise ValueError(
            f"run file {str(p)!r}: a JSON file lrkit reads holds 'log_history' (HF Trainer) or 'history' (W&B-style)"
        )
    if suffix in (".csv", ".tsv", ".txt", ""):
        with p.open(newline="", encoding="utf-8-sig") as f:
            first = f.readline()
        header = next(csv.reader([first], delimiter=_separator(first)), [])
        return "lightning" if p.name == "metrics.csv" or "epoch" in header else "csv"
    raise ValueError(f"run file {str(p)!r}: unknown format; give format= one of {', '.join(FORMATS)}")


def read_log(path: str | Path, format: str | None = None) -> Log:
    """Every series a log file holds, steps mapped to lrkit's convention (see the module).

    >>> import tempfile
    >>> from pathlib import Path
    >>> from lrkit.curves import read_log, write_run
    >>> path = Path(tempfile.mkdtemp()) / "run.csv"
    >>> write_run(path, [100, 200], [3.9, 3.7], lrs=[3e-4, 1e-4])
    >>> log = read_log(path)
    >>> log.format, sorted(log.series), log.series["lr"].values.tolist(), log.series["loss"].steps.tolist()
    ('csv', ['loss', 'lr'], [0.0003, 0.0001], [100, 200])
    """
    if not isinstance(path, (str, PathLike)):
        raise ValueError(f"path: expected a log file's path, got {type(path).__name__} {path!r:.60}")
    p = Path(path)
    try:
        return _read_log(p, format)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"run file {str(p)!r} is not UTF-8 text (byte {err.start}: {err.reason}); give the log file itself"
        ) from None


def _read_log(p: Path, format: str | None) -> Log:
    fmt = detect_format(p) if format is None else format
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not p.exists():
        raise ValueError(f"run file {str(p)!r} does not exist")
    if p.is_dir() and fmt in ("lightning", "hf"):
        p = p / ("metrics.csv" if fmt == "lightning" else "trainer_state.json")
    if fmt in ("csv", "lightning"):
        return _parse_csv(p, fmt)
    if fmt == "jsonl":
        return _parse_jsonl(p)
    if fmt == "hf":
        return _parse_hf(p)
    if fmt == "wandb":
        return _parse_wandb(p)
    return _parse_tensorboard(p)


def _lr_series(log: Log, lr_key: str | None) -> Series | None:
    """The learning-rate series: ``lr_key``, else the first of :data:`LR_KEYS` (then Lightning's ``lr-*``) the
    log holds. Several that disagree (two optimizers' or parameter groups' rates, an ``lr`` and a
    ``learning_rate`` column) are a ``ValueError`` naming them: which one the law should read is the user's."""
    if lr_key is not None:
        return log.get(lr_key, "learning-rate series")
    monitor = sorted(k for k in log.series if k.startswith("lr-"))  # Lightning's LearningRateMonitor
    keys = [k for k in LR_KEYS if k in log.series] + [k for k in monitor if k not in LR_KEYS]
    if not keys:
        return None
    first = log.series[keys[0]]
    for key in keys[1:]:
        other = log.series[key]
        common, i, j = np.intersect1d(first.steps, other.steps, return_indices=True)
        off = np.flatnonzero(~np.isclose(first.values[i], other.values[j], rtol=RTOL, atol=0))
        if off.size:
            k = int(off[0])
            raise ValueError(
                f"run file {str(log.path)!r}: it logs two learning rates that disagree, {keys[0]!r} "
                f"{first.values[i][k]:.6g} and {key!r} {other.values[j][k]:.6g} at step {int(common[k])}; name the "
                "one the loss follows (lr_key=, --lr-key)"
            )
    return first


def _rates(
    log: Log, schedule: Any, updates: int, lr_key: str | None, first: int, prefix: np.ndarray | None
) -> np.ndarray:
    """Every update's rate (``updates`` of them): the log's where it holds each, else the schedule's; both: checked."""
    path = str(log.path)
    logged = _lr_series(log, lr_key)
    index = values = None
    if logged is not None:
        index = logged.steps + log.lr_shift
        values = logged.values
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"run file {path!r}, {logged.where[i]}: learning rate {float(values[i])!r} is not finite and >= 0"
            )
    if schedule is not None:
        rates = learning_rates(schedule, updates)
        if index is not None and values is not None:
            inside = (index >= 0) & (index < updates)
            scale = float(rates.max(initial=0.0))
            spec = rates[index[inside]]
            got = values[inside]
            off = np.flatnonzero(np.abs(got - spec) > RTOL * np.abs(spec) + ATOL * scale)
            if off.size:
                i = int(off[0])
                where = np.asarray(logged.where)[inside][i]  # type: ignore[union-attr]
                both = (spec > 0) & (got > 0)
                ratio = float(np.median(got[both] / spec[both])) if both.any() else math.nan
                hint = (
                    f"the log's rates are {ratio:,.4g}x the schedule's, so one of the two is not in absolute "
                    "rates (a spec on the command line is read times --lr)"
                    if math.isfinite(ratio) and not 0.5 < ratio < 2
                    else "give the schedule the run was trained with"
                )
                raise ValueError(
                    f"run file {path!r}, {where}: the log's learning rate of update {int(index[inside][i])} is "
                    f"{got[i]:.6g}, the schedule given says {spec[i]:.6g}; {hint}, or leave the schedule out to use "
                    "the log's"
                )
        return rates
    if index is None or values is None:
        raise ValueError(f"run file {path!r} logs no learning rate: give its schedule (PATH@SPEC, or schedule=)")
    need = np.arange(first, updates)
    rates = np.full(updates, np.nan)
    inside = (index >= 0) & (index < updates)
    rates[index[inside]] = values[inside]
    clash = np.flatnonzero(~np.isclose(values[inside], rates[index[inside]], rtol=RTOL, atol=0))
    if clash.size:
        i = int(clash[0])
        raise ValueError(
            f"run file {path!r}: update {int(index[inside][i])}'s learning rate is logged twice, differently"
        )
    if prefix is not None:  # before the branch point the parent's rates, where the log holds none the same
        known = np.flatnonzero(~np.isnan(rates[:first]) & ~np.isclose(rates[:first], prefix[:first], rtol=RTOL, atol=0))
        if known.size:
            i = int(known[0])
            raise ValueError(
                f"run file {path!r}: the log's learning rate of update {i} is {rates[i]:.6g} where its parent used "
                f"{prefix[i]:.6g}, before the branch point {first}; give a branch point of at most {i} (at=)"
            )
        rates[:first] = prefix[:first]
    missing = need[np.isnan(rates[need])]
    if missing.size:
        raise ValueError(
            f"run file {path!r}: its learning rate is logged for {need.size - missing.size} of the {need.size} updates "
            f"the losses need (the first missing: update {int(missing[0])}); give its schedule (PATH@SPEC, schedule=)"
        )
    return rates


def read_run(
    path: str | Path,
    schedule: Any = None,
    *,
    format: str | None = None,
    metric: str | None = None,
    lr_key: str | None = None,
    final: str | float | None = None,
    final_step: int | None = None,
    parent: Run | None = None,
    at: int | None = None,
    name: str | None = None,
) -> Run:
    """A :class:`Run` from a training log (see :data:`FORMATS` and the module for each format's steps).

    ``schedule`` (an lrkit schedule of absolute rates, or an array of every update's rate) is
    needed when the log does not hold the rate of every update; when the log holds some rates they
    must agree with it (relative ``1e-3``), else one line names the first disagreeing row and the
    ratio. ``metric``: the loss series (default: the first of :data:`DEFAULT_METRICS` the log holds,
    a validation loss first). Points at step 0 (before any update) are left out, and so are
    non-finite losses, with a :class:`RunFileWarning`. ``final``: the name of a series holding one
    value (the grid's ``final_val_loss``), or a number measured after ``final_step`` updates, scored
    as the run's final (:attr:`Run.final`). ``parent``: the run this one was branched from (its
    checkpoint at update ``at``, default the first step this log holds); the run is then the parent's
    points up to ``at`` and this log's after it (:meth:`Run.branch`), counted once in a fit with both (with a
    grandparent too). A log that repeats its parent's points before the checkpoint (HF Trainer's resumed
    ``trainer_state.json``) branches where they stop being the parent's; ``at`` may lie among them. One that
    starts at its first point after the checkpoint branches where its rates leave the parent's, if the parent
    logs nothing in between; the log's own rates are never replaced by the parent's. The run is
    named after its file, or its folder (``metrics.csv``, ``trainer_state.json``, event files), unless ``name=`` is
    given.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import lrkit as lk
    >>> from lrkit.curves import read_run, write_run
    >>> path = Path(tempfile.mkdtemp()) / "run.csv"
    >>> write_run(path, [100, 200, 300], [3.9, 3.7, 3.6])  # no lr column: the schedule gives every update's
    >>> run = read_run(path, lk.constant(3e-4))
    >>> run.steps.tolist(), run.losses.tolist(), run.lrs.size
    ([100, 200, 300], [3.9, 3.7, 3.6], 300)
    """
    log = read_log(path, format)
    p = Path(path)
    where = str(p)
    finals = {final} if isinstance(final, str) else set()
    if isinstance(final, str) and final in log.series and log.series[final].values.size > 1:  # e.g. --final loss
        raise ValueError(
            f"final: {final!r} holds {log.series[final].values.size} values; it names a series of one value, the "
            "loss measured at the run's end by its own evaluation (e.g. final_val_loss); the loss series is metric= "
            "(--metric)"
        )
    if metric is None:
        metric = next((k for k in DEFAULT_METRICS if k in log.series and k not in finals), None)
        if metric is None:
            broken = next((k for k in DEFAULT_METRICS if k in log.unreadable and k not in finals), None)
            if broken is not None:  # the loss series is there but cannot be read: say why, not that it is missing
                raise ValueError(f"run file {where!r}: {log.unreadable[broken]}")
            known = ", ".join(repr(k) for k in log.series)
            raise ValueError(f"run file {where!r}: no loss series among {known}; name one (metric=, --metric)")
    series = log.get(metric, "loss series")
    fin_value: float | None = None
    fin_step = final_step
    if isinstance(final, str):
        if final_step is not None:
            raise ValueError(f"final_step: the series {final!r} holds its own step; leave final_step out")
        fs = log.get(final, "final-loss series")
        if fs.values.size != 1 or not math.isfinite(fs.values[0]):
            raise ValueError(f"run file {where!r}: the final-loss series {final!r} must hold one finite value")
        if fs.repeated:  # a resumed run measured its final again: the last is kept, as for every series
            warnings.warn(RunFileWarning(f"run file {where!r}: the final-loss series {final!r} is logged "
                                         f"{fs.repeated + 1} times at update {int(fs.steps[0])}: the last is kept"),
                          stacklevel=2)
        fin_value, fin_step = float(fs.values[0]), int(fs.steps[0])
    elif final is not None:
        fin_value = final  # type: ignore[assignment]
    steps, losses = series.steps, series.values
    if series.repeated:  # a resumed run logs a few steps again; a counter that restarts (per epoch) most of them
        said = (f"run file {where!r}: {series.repeated} of {series.repeated + steps.size} {metric!r} values are logged "
                "at a step logged before")
        if series.repeated > steps.size:
            raise ValueError(f"{said}: the step counter restarts (per epoch?); log a step that counts every update "
                             "of the run (e.g. Lightning's global_step)")
        warnings.warn(RunFileWarning(f"{said} (a resumed run): the value logged last at each step is kept"),
                      stacklevel=2)
    if log.format == "lightning" and _is_validation(metric) and any(
        k.startswith("lr-") and v.repeated for k, v in log.series.items()
    ):  # LearningRateMonitor logs each micro-batch: gradient accumulation
        warnings.warn(
            RunFileWarning(
                f"run file {where!r}: logged with gradient accumulation (an 'lr-*' rate logged several times per "
                f"update): a {metric!r} measured between an update's micro-batches is placed one update late; "
                "validate at update boundaries (val_check_interval a multiple of accumulate_grad_batches)"
            ),
            stacklevel=2,
        )
    bad = ~np.isfinite(losses)
    if bad.any():
        first = series.where[int(np.flatnonzero(bad)[0])]
        warnings.warn(
            RunFileWarning(
                f"run file {where!r}: {int(bad.sum())} non-finite {metric!r} value(s) left out (the first at {first})"
            ),
            stacklevel=2,
        )
    keep = ~bad & (steps >= 1)
    steps, losses = steps[keep], losses[keep]
    if steps.size == 0:
        raise ValueError(f"run file {where!r}: no finite {metric!r} value after update 0")
    if at is not None and parent is None:
        raise ValueError(f"at: a branch point ({at!r}) needs the run it branches from: give parent=")
    if parent is not None and not isinstance(parent, Run):
        raise ValueError(f"parent: give the parent's Run (read_run(parent_path, ...)), got {type(parent).__name__}")
    start = 0
    if parent is not None:
        begins = int(min(s.steps.min() for s in log.series.values()))
        # a log that starts where its parent's does repeats its history up to the checkpoint (HF's resumed runs);
        # one that starts later is the branch's own from its start (equal losses there are a coincidence)
        shared = _shared_prefix(parent, steps, losses) if begins <= int(parent.steps.min()) else 0
        leaves = _leaves(log, schedule, lr_key, parent, min(parent.lrs.size, int(steps.max())))
        if leaves is not None and leaves >= 1:
            shared = min(shared, leaves)
        if at is None:  # the checkpoint: after the history it repeats, else where its log starts, or where its
            # rates leave the parent's just before that (a log that starts at its first point after the checkpoint:
            # the parent logs nothing in between)
            start = shared or begins
            if not shared and leaves is not None and 1 <= leaves < begins:
                if not np.any((parent.steps > leaves) & (parent.steps < begins)):
                    start = leaves
        else:
            start = whole("at", at)  # this log's points up to it must be its parent's (a checkpoint's loss logged)
            mine = np.flatnonzero((steps <= start) & (steps > _shared_prefix(parent, steps, losses)))
            if mine.size:
                i = int(mine[0])
                raise ValueError(
                    f"at: run file {where!r} logs {metric!r} {losses[i]:.6g} after update {int(steps[i])}, not its "
                    f"parent's ({'no point there' if int(steps[i]) not in parent.steps else 'another value'}): "
                    f"its own points start there; give a branch point before update {int(steps[i])}"
                )
        own = steps > start
        if not own.any():
            raise ValueError(f"run file {where!r}: every {metric!r} point is its parent's, up to update {start}; "
                             "nothing of its own after the branch point")
        steps, losses = steps[own], losses[own]
    updates = max(int(steps.max()), int(fin_step or 0) if fin_value is not None else 0)
    rates = _rates(log, schedule, updates, lr_key, start, None if parent is None else parent.lrs)
    label = name or run_name(p)
    if parent is None:
        run = Run.of(rates, steps, losses, label, final=fin_value, final_step=fin_step)
    else:
        run = Run.branch(parent, rates, steps, losses, at=start, name=label, final=fin_value, final_step=fin_step)
    schedule_label = (
        "from the log"
        if schedule is None
        else (repr(schedule) if not isinstance(schedule, np.ndarray) else run.schedule)
    )
    return _relabel(run, schedule_label)


def run_name(path: str | Path) -> str:
    """The name :func:`read_run` gives the run at ``path``: a folder's own name (a Lightning ``version_N``, a HF
    output folder, a TensorBoard run folder), the folder's for a file every run of its library names alike
    (``metrics.csv``, ``trainer_state.json``, an event file), else the file's name without its suffix.

    >>> run_name("logs/run/version_3/metrics.csv"), run_name("runs/cosine.csv")
    ('version_3', 'cosine')
    """
    p = Path(path)
    if p.is_dir():
        return p.resolve().name
    if p.name in ("metrics.csv", "trainer_state.json") or p.name.startswith("events.out.tfevents"):
        return p.resolve().parent.name
    return p.stem


def _shared_prefix(parent: Run, steps: np.ndarray, losses: np.ndarray) -> int:
    """The last of ``steps`` up to which this log's points are its parent's (the same step and loss, in order from
    its first; 0 if its first is not): a run resumed from a checkpoint whose log repeats the history before it
    (HF Trainer's ``trainer_state.json`` does)."""
    assert parent.losses is not None
    logged = dict(zip(parent.steps.tolist(), parent.losses.tolist()))
    shared = 0
    for step, loss in zip(steps.tolist(), losses.tolist()):
        theirs = logged.get(step)
        if theirs is None or not math.isclose(loss, theirs, rel_tol=1e-9, abs_tol=0.0):
            break
        shared = step
    return shared


def _leaves(log: Log, schedule: Any, lr_key: str | None, parent: Run, updates: int) -> int | None:
    """The first of ``updates`` whose rate the branch (its schedule, else its log's rates) has differently from its
    parent (``None``: none): it cannot branch later than that."""
    if schedule is not None:
        mine = learning_rates(schedule, updates)
        index = np.arange(updates)
    else:
        logged = _lr_series(log, lr_key)
        if logged is None:
            return None
        index = logged.steps + log.lr_shift
        inside = (index >= 0) & (index < updates)
        index, mine = index[inside], logged.values[inside]
    off = rates_differ(mine, parent.lrs[index])  # as Run.branch compares them before its branch point
    return int(index[off[0]]) if off.size else None


def _relabel(run: Run, label: str) -> Run:
    import dataclasses

    return dataclasses.replace(run, schedule=label)
