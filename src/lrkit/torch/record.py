"""Record a real training run as (update, lr, loss) rows, so it can be fitted by :mod:`lrkit.curves`.

:class:`Recorder` counts the optimizer's real updates with ``optimizer.register_step_post_hook``
(as :class:`lrkit.torch.Scheduler` does: a skipped step, e.g. by a gradient scaler that found
an inf, is not counted). Call :meth:`Recorder.log` with each mini-batch loss *before* the
``optimizer.step()`` that uses it; the row written is ``update`` = the number of updates done
when that loss was measured, ``lr`` = the learning rate of the update about to be made (the first
parameter group's), and ``loss``. So row ``i`` is the loss after ``i`` updates and the rate of
update ``i``: exactly what ``lrkit.curves.read_run(path)`` reads without a schedule. Rows go to a
CSV file (``.csv``) or JSON lines (``.jsonl``), flushed every ``flush_every`` rows; ``every``
keeps one row in ``every`` (the lr column is then sparse: give ``read_run`` the schedule).

    import torch, lrkit as lk
    from lrkit.torch import Scheduler
    from lrkit.torch.record import Recorder

    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    sched = Scheduler(opt, lk.warmup(200) >> lk.cosine(1800, floor=0.1))
    with Recorder(opt, "run.csv") as rec:
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
import json
import math
import weakref
from pathlib import Path
from typing import IO, Any

__all__ = ["Recorder"]


class Recorder:
    """Log ``(update, lr, loss)`` of a torch training run to ``path`` (``.csv`` or ``.jsonl``)."""

    def __init__(self, optimizer: Any, path: str | Path, *, every: int = 1, flush_every: int = 100, group: int = 0):
        if not hasattr(optimizer, "register_step_post_hook"):
            raise ValueError("Recorder: optimizer must be a torch.optim.Optimizer (it needs register_step_post_hook)")
        self.path = Path(path)
        if self.path.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
            raise ValueError(f"Recorder: path must end in .csv or .jsonl, got {str(path)!r}")
        if not self.path.parent.is_dir():
            raise ValueError(f"Recorder: folder {str(self.path.parent)!r} does not exist")
        if int(every) < 1 or int(flush_every) < 1:
            raise ValueError(f"Recorder: every and flush_every must be >= 1, got {every!r}, {flush_every!r}")
        if not 0 <= int(group) < len(optimizer.param_groups):
            raise ValueError(f"Recorder: group must index one of the {len(optimizer.param_groups)} parameter groups")
        self.optimizer = optimizer
        self.every, self.flush_every, self.group = int(every), int(flush_every), int(group)
        self._count = [0]
        box = self._count

        def _on_update(opt: Any, args: Any, kwargs: Any) -> None:
            box[0] += 1

        self._handle = optimizer.register_step_post_hook(_on_update)
        weakref.finalize(self, self._handle.remove)
        self._jsonl = self.path.suffix.lower() != ".csv"
        self._file: IO[str] | None = self.path.open("w", newline="")
        self._writer = None if self._jsonl else csv.writer(self._file)
        if self._writer is not None:
            self._writer.writerow(["update", "lr", "loss"])
        self._pending = 0
        self.rows = 0

    @property
    def updates(self) -> int:
        """Real optimizer updates done since the recorder was made."""
        return self._count[0]

    def log(self, loss: Any) -> None:
        """Record ``loss`` (a float or a 0-d tensor), measured before the update that is about to be made."""
        if self._file is None:
            raise ValueError("Recorder: log() after close()")
        update = self._count[0]
        if update % self.every:
            return
        value = float(loss.detach().item() if hasattr(loss, "detach") else loss)
        lr = float(self.optimizer.param_groups[self.group]["lr"])
        if self._writer is not None:
            self._writer.writerow([update, repr(lr), repr(value)])
        else:
            self._file.write(json.dumps({"update": update, "lr": lr, "loss": value if math.isfinite(value) else None}))
            self._file.write("\n")
        self.rows += 1
        self._pending += 1
        if self._pending >= self.flush_every:
            self._file.flush()
            self._pending = 0

    def close(self) -> None:
        """Flush and close the file, and remove the step hook."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._handle.remove()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
