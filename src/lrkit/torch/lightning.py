"""PyTorch Lightning glue: :class:`SchedulerCallback` feeds an lrkit Scheduler what only the loop knows.

Lightning steps the Scheduler returned by ``configure_optimizers`` once per optimizer update
(``"interval": "step"``), with no argument, and checkpoints it (``state_dict`` in the ``.ckpt``,
``load_state_dict`` on ``fit(ckpt_path=...)``). The callback adds the rest:

* **tokens or samples** (``Scheduler(..., advance="tokens")``): before each micro-batch,
  ``scheduler.count(tokens=count(batch))``; Lightning's ``step()`` after the update consumes the sum,
  so ``accumulate_grad_batches`` needs nothing more;
* **a plateau's metric**: after each validation run of ``fit``,
  ``scheduler.step(metric=trainer.callback_metrics[monitor])``.

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

from lrkit.torch._feeding import Count, Feed, counter
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
            Counted on this rank; the Scheduler sums the ranks (its ``across=``).
        monitor: the logged metric fed to the schedule's ``plateau(...)`` after each validation run
            of ``fit`` (e.g. ``"val_loss"``, logged with ``self.log`` in ``validation_step``).

    Each lrkit Scheduler in the Trainer's ``lr_scheduler_configs`` is fed; it must be returned with
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

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Find the lrkit Schedulers ``configure_optimizers`` returned and check how Lightning steps them."""
        configs = [c for c in trainer.lr_scheduler_configs if isinstance(c.scheduler, Scheduler)]
        if not configs:
            found = [type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs]
            raise ValueError(
                f"{_WHO}: configure_optimizers returned no lrkit.torch.Scheduler (found {found}); return "
                "{'optimizer': opt, 'lr_scheduler': {'scheduler': Scheduler(opt, schedule), 'interval': 'step'}}"
            )
        manual = not pl_module.automatic_optimization  # then the module's own code calls step()
        for config in configs:
            advance = config.scheduler._advance
            if not manual and config.reduce_on_plateau:
                raise ValueError(
                    f"{_WHO}: the lrkit Scheduler is returned with 'reduce_on_plateau': True, so Lightning would feed "
                    f"it the metric at every {config.interval} as well; return "
                    "{'scheduler': sched, 'interval': 'step'} and give the metric to SchedulerCallback(monitor=...), "
                    "which feeds it once per validation"
                )
            if not manual and advance != "call" and (config.interval != "step" or config.frequency != 1):
                raise ValueError(
                    f"{_WHO}: the lrkit Scheduler (advance={advance!r}) is returned with 'interval': "
                    f"{config.interval!r}, 'frequency': {config.frequency}, so its learning rate would change only "
                    "then; return {'scheduler': sched, 'interval': 'step'} (Lightning then steps it after every "
                    "optimizer update; lrkit counts the updates)"
                )
        self._feeds = [Feed(_WHO, c.scheduler, self.count, self.monitor) for c in configs]

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._feeds = []

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        """Count this micro-batch's tokens/samples into the update in progress."""
        for feed in self._feeds:
            feed.batch(batch)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Feed the plateau the monitored metric of this validation run (not the sanity check, not ``validate``)."""
        if self.monitor is None or not self._feeds or trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise ValueError(
                f"{_WHO}: monitor={self.monitor!r} was not logged in this validation run (logged: "
                f"{sorted(trainer.callback_metrics)}); log it in validation_step with self.log({self.monitor!r}, ...)"
            )
        for feed in self._feeds:
            feed.metric(value)
