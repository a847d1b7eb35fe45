"""Hugging Face ``transformers.Trainer`` glue: feed evaluation metrics to an lrkit plateau.

The Trainer passes metrics only to torch's ``ReduceLROnPlateau``; any other scheduler it steps
once per update without one. :class:`PlateauCallback` hands the chosen evaluation metric to an
lrkit :class:`~lrkit.torch.Scheduler` after every evaluation, so a ``plateau(...)`` in its
schedule reduces as it should::

    sched = Scheduler(opt, lk.warmup(100) >> (lk.constant(1.0, 10_000) * lk.plateau(patience=2)))
    trainer = Trainer(..., optimizers=(opt, sched), callbacks=[PlateauCallback(sched)])

Importing this module imports ``transformers``.
"""

from __future__ import annotations

from typing import Any

from lrkit.torch.scheduler import Scheduler

try:
    from transformers import TrainerCallback
except ImportError as err:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "lrkit.torch.hf needs Hugging Face transformers: pip install transformers"
    ) from err

__all__ = ["PlateauCallback"]


class PlateauCallback(TrainerCallback):  # type: ignore[misc]
    """After each evaluation, ``scheduler.step(metric=metrics[metric])`` (the Trainer's ``eval_`` prefix optional).

    Args:
        scheduler: the lrkit Scheduler given to the Trainer in ``optimizers=(opt, scheduler)``.
        metric: the evaluation metric to feed (default ``"eval_loss"``; ``"loss"`` means the same).
    """

    def __init__(self, scheduler: Scheduler, metric: str = "eval_loss"):
        if not isinstance(scheduler, Scheduler):
            raise TypeError(f"PlateauCallback: scheduler must be an lrkit.torch.Scheduler, got {scheduler!r}")
        self.scheduler = scheduler
        self.metric = metric if metric.startswith("eval_") else f"eval_{metric}"

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kw: Any):
        if not metrics or self.metric not in metrics:
            known = sorted(metrics or {})
            raise KeyError(f"PlateauCallback: the evaluation reported no {self.metric!r}; it reported {known}")
        self.scheduler.step(metric=metrics[self.metric])
