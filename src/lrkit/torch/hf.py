"""Hugging Face ``transformers.Trainer`` glue: :class:`SchedulerCallback` feeds an lrkit Scheduler.

Given ``Trainer(optimizers=(opt, sched))`` the Trainer steps ``sched`` once per optimizer update
(after gradient accumulation), with no argument, saves ``sched.state_dict()`` in each checkpoint
(``scheduler.pt``) and loads it on ``train(resume_from_checkpoint=...)``. It passes metrics only to
torch's ``ReduceLROnPlateau``. The callback adds what only the loop knows:

* **tokens or samples** (``Scheduler(..., advance="tokens")``): for each micro-batch the model is
  trained on, ``sched.count(tokens=count(inputs))``, where ``inputs`` is the dict the Trainer passes
  to the model (``model(**inputs)``, read by a forward pre-hook while the model is in training
  mode); the Trainer's ``step()`` after the update consumes the sum;
* **a plateau's metric**: after each evaluation during ``train``, ``sched.step(metric=metrics[monitor])``.

The recipe (docs/frameworks.md)::

    sched = Scheduler(opt, schedule, advance="tokens", resume="wsd")
    trainer = Trainer(..., optimizers=(opt, sched),
                      callbacks=[SchedulerCallback(sched, count="attention_mask", monitor="eval_loss")])
    trainer.train(resume_from_checkpoint=...)  # a changed schedule resumes by the Scheduler's resume= rule

The resume rule belongs to the Scheduler (``resume=``, :mod:`lrkit.horizon`), since the Trainer's
restore calls ``load_state_dict(state)`` with nothing else. Importing this module imports ``transformers``.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from lrkit.torch._feeding import Count, Feed, counter
from lrkit.torch.scheduler import Scheduler

try:
    from transformers import TrainerCallback
except ImportError as err:  # pragma: no cover - exercised without the extra
    raise ImportError("lrkit.torch.hf needs Hugging Face transformers: pip install transformers") from err

__all__ = ["PlateauCallback", "SchedulerCallback"]

#: TrainingArguments that shape the Trainer's own learning-rate scheduler (warmup_ratio: transformers < 5).
_SCHEDULE_ARGUMENTS = ("lr_scheduler_type", "warmup_steps", "warmup_ratio", "lr_scheduler_kwargs")


class SchedulerCallback(TrainerCallback):  # type: ignore[misc]
    """Feed the Trainer's lrkit Scheduler each micro-batch's tokens/samples and a plateau's evaluation metric.

    Args:
        scheduler: the lrkit Scheduler given to the Trainer in ``optimizers=(opt, scheduler)``
            (``None``: the Trainer's ``lr_scheduler`` when training starts, which must be one).
        count: how many tokens (samples) one micro-batch holds, for a Scheduler built with
            ``advance="tokens"`` (``"samples"``); the batch is the dict of inputs the Trainer passes to
            the model. The key of a mask in it (its sum: ``"attention_mask"`` counts the real tokens;
            keep the column with ``remove_unused_columns=False`` if the model's ``forward`` does not
            take it), or a function ``inputs -> int`` (e.g. ``lambda inputs: inputs["input_ids"].numel()``).
            ``None``: with ``advance="samples"`` the batch size (the length of the first tensor); with
            ``advance="tokens"`` an error. Counted on this rank; the Scheduler sums the ranks (``across=``).
        monitor: the evaluation metric fed to the schedule's ``plateau(...)`` after each evaluation
            during ``train`` (the Trainer's ``eval_`` prefix optional: ``"loss"`` is ``"eval_loss"``).

    It holds no state of its own: the progress, the plateau's reductions and the resume rule live in
    the Scheduler, which the Trainer checkpoints. ``ValueError`` at ``train`` start when ``count`` or
    ``monitor`` does not match the Scheduler, or the Scheduler drives another optimizer than the Trainer's.
    A warning (once) when ``TrainingArguments`` set a learning-rate schedule (``lr_scheduler_type``,
    ``warmup_steps``, ``warmup_ratio``, ``lr_scheduler_kwargs``): the Trainer ignores them, the lrkit
    Scheduler governs.

    >>> SchedulerCallback(count="attention_mask", monitor="loss").monitor
    'eval_loss'
    """

    def __init__(self, scheduler: Scheduler | None = None, *, count: Count = None, monitor: str | None = None) -> None:
        who = type(self).__name__
        if scheduler is not None and not isinstance(scheduler, Scheduler):
            raise ValueError(
                f"{who}: scheduler must be the lrkit.torch.Scheduler given to Trainer(optimizers=(opt, scheduler)), "
                f"got {type(scheduler).__name__}"
            )
        if monitor is not None and not isinstance(monitor, str):
            raise ValueError(f"{who}: monitor must be the name of an evaluation metric (a str), got {monitor!r}")
        self._who = who
        self.scheduler = scheduler
        self.count = counter(who, count)
        self.monitor = None if monitor is None else monitor if monitor.startswith("eval_") else f"eval_{monitor}"
        self._feed: Feed | None = None
        self._hook: Any = None
        self._warned = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Check the Scheduler and start counting the model's training inputs."""
        scheduler = kwargs.get("lr_scheduler") if self.scheduler is None else self.scheduler
        if not isinstance(scheduler, Scheduler):
            raise ValueError(
                f"{self._who}: the Trainer's learning-rate scheduler is {type(scheduler).__name__}, not an "
                "lrkit.torch.Scheduler; pass Trainer(optimizers=(opt, Scheduler(opt, schedule)))"
            )
        if kwargs.get("lr_scheduler") is not None and kwargs["lr_scheduler"] is not scheduler:
            raise ValueError(
                f"{self._who}: the Scheduler given to the callback is not the Trainer's lr_scheduler, so the Trainer "
                "would step and checkpoint another one; give the same Scheduler to both"
            )
        optimizer = kwargs.get("optimizer")
        inner = getattr(optimizer, "optimizer", optimizer)  # Accelerate wraps the Trainer's optimizer
        if optimizer is not None and scheduler.optimizer is not inner and scheduler.optimizer is not optimizer:
            raise ValueError(
                f"{self._who}: the Scheduler drives another optimizer than the Trainer's, so the model's learning rate "
                "would never change; build it on the optimizer you pass: "
                "Trainer(optimizers=(opt, Scheduler(opt, schedule)))"
            )
        self._feed = Feed(self._who, scheduler, self.count, self.monitor)
        self._warn_overridden(args)
        self._unhook()
        model = kwargs.get("model")
        if self._feed.unit is not None and model is not None:
            self._hook = model.register_forward_pre_hook(self._on_forward, with_kwargs=True)

    def _warn_overridden(self, args: Any) -> None:
        """Warn once when the arguments set a schedule the Trainer ignores (it was given the lrkit Scheduler)."""
        if self._warned or not dataclasses.is_dataclass(args):
            return
        changed = []
        for field in dataclasses.fields(args):
            if field.name not in _SCHEDULE_ARGUMENTS:
                continue
            value = getattr(args, field.name)
            value = getattr(value, "value", value)  # lr_scheduler_type: an enum of its name
            if value != field.default and (value or field.default):  # lr_scheduler_kwargs={} is the default None
                changed.append(f"{field.name}={value!r}")
        if changed:
            self._warned = True
            warnings.warn(
                f"{self._who}: TrainingArguments({', '.join(changed)}) are ignored: the Trainer was given the lrkit "
                "Scheduler (optimizers=(opt, sched)), and the lrkit Scheduler governs the learning rate; put a warmup "
                "in its schedule (e.g. lk.warmup(n) >> ...) and leave these arguments at their defaults",
                UserWarning,
                stacklevel=2,
            )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._unhook()
        self._feed = None

    def _unhook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _on_forward(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if module.training and self._feed is not None:  # the Trainer's evaluation runs the model in eval mode
            self._feed.batch(kwargs if kwargs or not args else args[0])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kw: Any):
        """Feed the plateau the evaluation's metric (only evaluations during ``train``)."""
        if self.monitor is None or self._feed is None:
            return
        if not metrics or self.monitor not in metrics:
            raise ValueError(
                f"{self._who}: the evaluation reported no {self.monitor!r}; it reported {sorted(metrics or {})}; "
                "pass monitor= one of those"
            )
        self._feed.metric(metrics[self.monitor])


class PlateauCallback(SchedulerCallback):
    """After each evaluation during ``train``, ``scheduler.step(metric=metrics[metric])``.

    ``SchedulerCallback(scheduler, monitor=metric)``, kept under its first name.

    Args:
        scheduler: the lrkit Scheduler given to the Trainer in ``optimizers=(opt, scheduler)``.
        metric: the evaluation metric to feed (default ``"eval_loss"``; ``"loss"`` means the same).

    >>> import torch, lrkit as lk
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = Scheduler(opt, lk.constant(1.0, 1000) * lk.plateau(patience=2))
    >>> PlateauCallback(sched, "loss").monitor
    'eval_loss'
    """

    def __init__(self, scheduler: Scheduler, metric: str = "eval_loss"):
        if not isinstance(scheduler, Scheduler):
            raise ValueError(
                f"PlateauCallback: scheduler must be an lrkit.torch.Scheduler, got {type(scheduler).__name__}"
            )
        super().__init__(scheduler, monitor=metric)
