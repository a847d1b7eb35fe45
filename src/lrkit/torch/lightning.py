"""PyTorch Lightning glue: :class:`SchedulerCallback` feeds an lrkit Scheduler what only the loop knows.

Lightning steps the Scheduler returned by ``configure_optimizers`` once per optimizer update
(``"interval": "step"``), with no argument, and checkpoints it (``state_dict`` in the ``.ckpt``,
``load_state_dict`` on ``fit(ckpt_path=...)``). The callback adds the rest:

* **tokens or samples** (``Scheduler(..., advance="tokens")``): for each micro-batch Lightning trains
  on (at its backward), ``scheduler.count(tokens=count(batch))``; Lightning's ``step()`` after the
  update consumes the sum, so ``accumulate_grad_batches`` needs nothing more, and a batch the module
  skips (``on_train_batch_start`` returning ``-1``) counts nothing;
* **a plateau's metric**: after each validation run of ``fit``,
  ``scheduler.step(metric=trainer.callback_metrics[monitor])``, the value logged in that run.

The recipe (docs/frameworks.md)::

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=3e-4)
        sched = Scheduler(opt, schedule, advance="tokens", resume="wsd")
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    trainer = Trainer(..., callbacks=[SchedulerCallback(count="attention_mask", monitor="val_loss")])
    trainer.fit(model, ckpt_path=...)   # a changed schedule resumes by the Scheduler's resume= rule

The resume rule belongs to the Scheduler (``resume=``: ``"keep_step"``, ``"same_fraction"``,
``"wsd"``, ``"branch"``, :mod:`lrkit.horizon`), since Lightning's restore calls
``load_state_dict(state)`` with nothing else. Importing this module imports ``lightning``
(or, without it, ``pytorch_lightning``).
"""

from __future__ import annotations

from typing import Any

from lrkit.torch._feeding import Count, Feed, counter, feeds
from lrkit.torch.scheduler import Scheduler

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the standalone package
    try:
        from pytorch_lightning import Callback  # type: ignore[assignment]
    except ImportError as err:
        raise ImportError("lrkit.torch.lightning needs PyTorch Lightning: pip install lightning") from err

__all__ = ["SchedulerCallback"]

_WHO = "SchedulerCallback"


class SchedulerCallback(Callback):  # type: ignore[misc]
    """Feed the lrkit Scheduler(s) of ``configure_optimizers`` each batch's tokens/samples and a plateau's metric.

    Args:
        count: how many tokens (samples) one batch holds, for a Scheduler built with
            ``advance="tokens"`` (``"samples"``): the key of a mask in a dict batch (its sum:
            ``"attention_mask"`` counts the real tokens), or a function ``batch -> int`` (e.g.
            ``lambda batch: batch["input_ids"].numel()``). ``None``: with ``advance="samples"`` the
            batch size (the length of its first tensor); with ``advance="tokens"`` an error.
            Counted on this rank; the Scheduler sums the ranks (its ``across=``). Measured at the
            batch's start, added at its backward (in manual optimization: ``self.manual_backward``).
        monitor: the logged metric fed to the schedule's ``plateau(...)`` after each validation run
            of ``fit`` (e.g. ``"val_loss"``, logged with ``self.log`` in ``validation_step``); a run
            that does not log it is a ``ValueError`` (Lightning would keep an earlier run's value).

    Each lrkit Scheduler in the Trainer's ``lr_scheduler_configs`` is fed (``count`` those built
    with ``advance="tokens"``/``"samples"``, ``monitor`` those with a plateau); it must be returned with
    ``"interval": "step"`` and without ``"reduce_on_plateau"`` (this callback feeds the metric, once
    per validation). At ``fit`` start the callback checks that, and that ``count``/``monitor`` match
    the Scheduler (``ValueError`` naming the fix otherwise). It holds no state of its own: the
    progress, the plateau's reductions and the resume rule live in the Scheduler, which Lightning
    checkpoints.

    >>> cb = SchedulerCallback(count="attention_mask", monitor="val_loss")
    >>> cb.monitor
    'val_loss'
    """

    def __init__(self, count: Count = None, monitor: str | None = None) -> None:
        if monitor is not None and not isinstance(monitor, str):
            raise ValueError(f"{_WHO}: monitor must be the name of a logged metric (a str), got {monitor!r}")
        self.count = counter(_WHO, count)
        self.monitor = monitor
        self._feeds: list[Feed] = []
        self._measured: list[Any] = []  # this micro-batch's counts, added when Lightning trains on it
        self._before: dict[str, Any] = {}  # the callback metrics when this validation run started
        self._automatic = True  # Lightning's automatic optimization: it steps the Schedulers

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Find the lrkit Schedulers ``configure_optimizers`` returned and check how Lightning steps them."""
        configs = {i: c for i, c in enumerate(trainer.lr_scheduler_configs) if isinstance(c.scheduler, Scheduler)}
        if not configs:
            found = [type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs]
            raise ValueError(
                f"{_WHO}: configure_optimizers returned no lrkit.torch.Scheduler (found {found}); return "
                "{'optimizer': opt, 'lr_scheduler': {'scheduler': Scheduler(opt, schedule), 'interval': 'step'}}"
            )
        self._automatic = bool(pl_module.automatic_optimization)  # manual: the module's own code calls step()
        names = {
            i: _name(i, c) if len(trainer.lr_scheduler_configs) > 1 else "the Scheduler" for i, c in configs.items()
        }
        for i, config in configs.items():
            advance = config.scheduler._advance
            if self._automatic and config.reduce_on_plateau:
                raise ValueError(
                    f"{_WHO}: {names[i]} is returned with 'reduce_on_plateau': True, so Lightning would feed "
                    f"it the metric at every {config.interval} as well; return "
                    "{'scheduler': sched, 'interval': 'step'} and give the metric to SchedulerCallback(monitor=...), "
                    "which feeds it once per validation"
                )
            if self._automatic and advance != "call" and (config.interval != "step" or config.frequency != 1):
                raise ValueError(
                    f"{_WHO}: {names[i]} (advance={advance!r}) is returned with 'interval': "
                    f"{config.interval!r}, 'frequency': {config.frequency}, so its learning rate would change only "
                    "then; return {'scheduler': sched, 'interval': 'step'} (Lightning then steps it after every "
                    "optimizer update; lrkit counts the updates)"
                )
        self._feeds = feeds(_WHO, {names[i]: c.scheduler for i, c in configs.items()}, self.count, self.monitor)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._feeds = []
        self._measured = []

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        """Measure this micro-batch's tokens/samples; :meth:`on_before_backward` adds them once it is trained."""
        self._measured = [feed.measure(batch) for feed in self._feeds]
        if self._automatic:  # Lightning steps the Scheduler after a batch the module skips too: it consumes 0
            for feed, measured in zip(self._feeds, self._measured):
                feed.add(None if measured is None else 0)

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        """Add the micro-batch's tokens/samples to the update in progress (its first backward)."""
        measured, self._measured = self._measured, []
        for feed, value in zip(self._feeds, measured):
            feed.add(value)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None and self._feeds:
            self._before = dict(trainer.callback_metrics)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Feed the plateau the monitored metric of this validation run (not the sanity check, not ``validate``)."""
        if self.monitor is None or not self._feeds or trainer.sanity_checking:
            return
        # Lightning keeps the values of earlier runs: this run's are those it replaced (a fresh tensor each)
        logged = {k: v for k, v in trainer.callback_metrics.items() if self._before.get(k) is not v}
        value = logged.get(self.monitor)
        if value is None:
            raise ValueError(
                f"{_WHO}: monitor={self.monitor!r} was not logged in this validation run (logged: "
                f"{sorted(logged)}); log it in validation_step with self.log({self.monitor!r}, ...)"
            )
        for feed in self._feeds:
            if feed.monitor is not None:
                feed.metric(value)


def _name(index: int, config: Any) -> str:
    """Which Scheduler of ``configure_optimizers`` (for messages, when it returned several)."""
    name = getattr(config, "name", None)
    return f"Scheduler {index} of configure_optimizers" + (f" ({name!r})" if name else "")
