"""Record a real training run as (update, lr, loss) rows, so it can be fitted by :mod:`lrkit.curves`.

:class:`Recorder` counts the optimizer's real updates with ``optimizer.register_step_post_hook``
(as :class:`lrkit.torch.Scheduler` does: a skipped step, e.g. by a gradient scaler that found
an inf, is not counted). Call :meth:`Recorder.log` with each mini-batch loss *before* the
``optimizer.step()`` that uses it; the row written is ``update`` = the number of updates done
when that loss was measured, ``lr`` = the learning rate that update is made with (the first
parameter group's, read as ``optimizer.step()`` starts: a scheduler that moves the rate between
``log`` and the update, or a step a gradient scaler skipped, does not shift it), and ``loss``.
So row ``i`` is the loss after ``i`` updates and the rate of update ``i``: exactly what
``lrkit.curves.read_run(path)`` reads without a schedule. Rows go to a CSV file (``.csv``) or JSON
lines (``.jsonl``), flushed every ``flush_every`` rows; ``every`` keeps one row in ``every`` (the lr
column is then sparse: give ``read_run`` the schedule).

**One row per real update.** With gradient accumulation ``log`` is called once per micro-batch; the
row of update ``i`` holds the mean of the losses logged before it (a step skipped by a gradient
scaler is no update: its losses join the next update's row).

**Resuming.** An existing file is refused (``exists="error"``) unless told: ``exists="overwrite"``
starts it again, ``exists="append"`` continues it from the resumed update. Save
``rec.state_dict()`` with the checkpoint and ``load_state_dict`` it on resume (or pass
``start=``, the updates done at the checkpoint): the rows the interrupted run wrote after its
checkpoint are dropped, so every update has one row.

    import torch, lrkit as lk
    from lrkit.torch import Scheduler
    from lrkit.torch.record import Recorder

    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    sched = Scheduler(opt, lk.warmup(200) >> lk.cosine(1800, floor=0.1))
    with Recorder(opt, "run.csv") as rec:   # on resume: Recorder(opt, "run.csv", exists="append",
                                            #                     start=sched.updates)
        for x, y in batches:
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward()
            rec.log(loss)               # before opt.step(): the loss after rec.updates updates
            opt.step(); sched.step()

>>> import torch, tempfile, os
>>> from lrkit.curves import read_run
>>> w = torch.nn.Parameter(torch.tensor([2.0]))
>>> opt = torch.optim.SGD([w], lr=0.1)
>>> path = os.path.join(tempfile.mkdtemp(), "run.csv")
>>> with Recorder(opt, path) as rec:
...     for _ in range(3):
...         loss = (w ** 2).sum()
...         opt.zero_grad(); loss.backward(); rec.log(loss); opt.step()
>>> rec.updates
3
>>> run = read_run(path)
>>> run.steps.tolist(), run.losses.round(4).tolist()
([1, 2], [2.56, 1.6384])
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import warnings
import weakref
from pathlib import Path
from typing import IO, Any, Literal

from lrkit.core._io import atomic_write
from lrkit.reactive._schema import Reader
from lrkit.torch._progress import update_skipped

__all__ = ["Recorder"]

#: The version of :meth:`Recorder.state_dict`'s schema.
STATE_VERSION = 1
_EXISTS = ("error", "append", "overwrite")
_HEADER = ["update", "lr", "loss"]


class Recorder:
    """Log ``(update, lr, loss)`` of a torch training run to ``path`` (``.csv`` or ``.jsonl``), one row per update."""

    optimizer: Any
    path: Path
    every: int
    flush_every: int
    group: int
    exists: str
    rows: int
    _count: list[int]
    _jsonl: bool
    _file: IO[str] | None
    _closed: bool
    _wrote: bool
    _pending: int
    _losses: list[float]
    _lr: float
    _handle: Any
    _before: Any

    def __init__(
        self,
        optimizer: Any,
        path: str | Path,
        *,
        every: int = 1,
        flush_every: int = 100,
        group: int = 0,
        exists: Literal["error", "append", "overwrite"] = "error",
        start: int = 0,
    ):
        if not hasattr(optimizer, "register_step_post_hook"):
            raise ValueError("Recorder: optimizer must be a torch.optim.Optimizer (it needs register_step_post_hook)")
        self.path = Path(path)
        if self.path.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
            raise ValueError(f"Recorder: path must end in .csv or .jsonl, got {str(path)!r}")
        if not self.path.parent.is_dir():
            raise ValueError(f"Recorder: folder {str(self.path.parent)!r} does not exist")
        if self.path.is_dir():
            raise ValueError(f"Recorder: {str(self.path)!r} is a folder; give a file name ending in .csv or .jsonl")
        for name, value in (("every", every), ("flush_every", flush_every)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Recorder: {name} must be an integer >= 1, got {value!r}")
        if (
            isinstance(group, bool)
            or not isinstance(group, numbers.Integral)
            or not 0 <= group < len(optimizer.param_groups)
        ):
            raise ValueError(f"Recorder: group must index one of the {len(optimizer.param_groups)} parameter groups")
        if exists not in _EXISTS:
            raise ValueError(f"Recorder: exists must be one of {_EXISTS}, got {exists!r}")
        if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
            raise ValueError(f"Recorder: start must be the number of updates done (an integer >= 0), got {start!r}")
        if exists == "error" and self.path.exists() and self.path.stat().st_size > 0:
            raise ValueError(
                f"Recorder: {str(self.path)!r} exists; to continue it after a resume pass exists='append' "
                "(with start=UPDATES or load_state_dict), to start it again exists='overwrite'"
            )
        self.optimizer = optimizer
        self.every, self.flush_every, self.group = int(every), int(flush_every), int(group)
        self.exists = exists
        self.rows = 0
        self._count = [int(start)]
        self._jsonl = self.path.suffix.lower() != ".csv"
        self._file = None
        self._closed = False
        self._pending = 0
        self._losses: list[float] = []
        self._lr = math.nan

        recorder = weakref.ref(self)

        def _on_update(opt: Any, args: Any, kwargs: Any) -> None:
            me = recorder()
            if me is not None and not update_skipped(opt):
                me._on_update()

        def _before_update(opt: Any, args: Any, kwargs: Any) -> None:
            me = recorder()
            if me is not None:  # the rate this update is made with (a scheduler may have moved it since log())
                me._lr = float(opt.param_groups[me.group]["lr"])

        self._handle = optimizer.register_step_post_hook(_on_update)
        self._before = optimizer.register_step_pre_hook(_before_update)
        weakref.finalize(self, self._handle.remove)
        weakref.finalize(self, self._before.remove)
        self._wrote = False
        if exists != "append":
            self._open()  # the header now: the file exists from the start of the run

    @property
    def updates(self) -> int:
        """Real optimizer updates counted (from ``start``, or the loaded state)."""
        return self._count[0]

    def log(self, loss: Any) -> None:
        """Record ``loss`` (a float or a 0-d tensor), measured before the update that is about to be made."""
        if self._closed:
            raise ValueError("Recorder: log() after close()")
        if hasattr(loss, "detach"):
            if loss.numel() != 1:
                raise ValueError(
                    f"Recorder.log: loss must be one number, got a tensor of shape {tuple(loss.shape)} (reduce it: "
                    "loss.mean())"
                )
            value = float(loss.detach().item())
        elif isinstance(loss, numbers.Real) and not isinstance(loss, bool):
            value = float(loss)
        else:
            raise ValueError(f"Recorder.log: loss must be one number (a float or a 1-element tensor), got {loss!r:.60}")
        self._losses.append(value)

    def _on_update(self) -> None:
        if self._losses and not self._closed:
            self._write_row()
        self._count[0] += 1

    def _write_row(self) -> None:
        update, losses = self._count[0], self._losses
        self._losses = []
        if update % self.every:
            return
        value = math.fsum(losses) / len(losses)
        file = self._open()
        if self._jsonl:
            row = {"update": update, "lr": self._lr, "loss": value if math.isfinite(value) else None}
            file.write(json.dumps(row) + "\n")
        else:
            csv.writer(file).writerow([update, repr(self._lr), repr(value)])
        self.rows += 1
        self._wrote = True
        self._pending += 1
        if self._pending >= self.flush_every:
            file.flush()
            self._pending = 0

    def _open(self) -> IO[str]:
        """Open the file at the first row: new, or continued from ``self.updates`` (``exists='append'``)."""
        if self._file is not None:
            return self._file
        kept: list[str] = []
        if self.exists == "append" and self.path.exists() and self.path.stat().st_size > 0:
            kept = self._rows_before(self.updates)
        with atomic_write(self.path, newline="") as out:
            if not self._jsonl:
                out.write(",".join(_HEADER) + "\r\n")
            out.writelines(kept)
        self._file = self.path.open("a", newline="")
        return self._file

    def _rows_before(self, start: int) -> list[str]:
        """The existing file's rows of updates ``< start`` (the run's rows up to its checkpoint)."""
        with self.path.open(newline="") as f:
            lines = f.read().splitlines(keepends=True)
        if not self._jsonl:
            if not lines or next(csv.reader([lines[0]])) != _HEADER:
                raise ValueError(f"Recorder: {str(self.path)!r} is not a Recorder log (its header is not {_HEADER})")
            lines = lines[1:]
        kept, last = [], -1
        for number, line in enumerate(lines, start=1 if self._jsonl else 2):
            if not line.strip():
                continue
            try:
                if self._jsonl:
                    update = int(json.loads(line)["update"])
                else:
                    fields = next(csv.reader(io.StringIO(line)))
                    if len(fields) != len(_HEADER):
                        raise ValueError(fields)
                    update = int(fields[0])
            except (ValueError, KeyError, TypeError, IndexError):
                bad = line.strip()
                if line is lines[-1] and not line.endswith(("\n", "\r")):  # a write the interruption tore
                    warnings.warn(
                        f"Recorder: {self.path!s}, row {number}: {bad!r} was torn by the interrupted run's "
                        "last write; left out",
                        stacklevel=3,
                    )
                    continue
                raise ValueError(f"Recorder: {self.path!s}, row {number}: not a Recorder row {bad!r}") from None
            last = max(last, update)
            if update < start:
                kept.append(line if line.endswith("\n") else line + ("\n" if self._jsonl else "\r\n"))
        if last >= 0 and start == 0:
            raise ValueError(
                f"Recorder: appending to {str(self.path)!r}, whose rows reach update {last}, from update 0; "
                "pass start= (the updates done at the checkpoint) or load_state_dict the Recorder's saved state"
            )
        return kept

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "Recorder: a Recorder writes a file and hooks an optimizer, so it cannot be pickled or copied; "
            "checkpoint its state_dict() and load it into a new Recorder on resume"
        )

    def state_dict(self) -> dict[str, int]:
        """``{"version", "updates", "rows"}``: save it with the checkpoint; see :meth:`load_state_dict`."""
        return {"version": STATE_VERSION, "updates": self.updates, "rows": self.rows}

    def load_state_dict(self, state: Any) -> None:
        """Continue from a saved :meth:`state_dict`: validated whole, then applied (a bad state changes nothing).

        Only before the first row is written (the file is continued from the saved update).
        """
        reader = Reader("Recorder.load_state_dict", state, "Recorder.state_dict()")
        reader.version(STATE_VERSION)
        reader.only({"version", "updates", "rows"})
        updates, rows = reader.integer("updates"), reader.integer("rows")
        if self._wrote or self._losses:
            raise ValueError("Recorder.load_state_dict: call it before the first log() of the resumed run")
        self._count[0], self.rows = updates, rows

    def close(self) -> None:
        """Write the row of losses logged since the last update, close the file, remove the step hook."""
        if not self._closed:
            if self._losses:  # losses after the last update: the rate the next update would be made with
                self._lr = float(self.optimizer.param_groups[self.group]["lr"])
                self._write_row()
            if self._file is not None:
                self._file.close()
                self._file = None
            self._closed = True
        self._handle.remove()
        self._before.remove()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
