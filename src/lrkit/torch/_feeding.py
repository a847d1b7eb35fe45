"""What the framework callbacks (:mod:`lrkit.torch.lightning`, :mod:`lrkit.torch.hf`) feed a Scheduler.

A framework calls ``scheduler.step()`` itself, once per optimizer update and with no argument. Two
things only the training loop knows must reach the :class:`~lrkit.torch.Scheduler` beside it:

* the **tokens or samples** of each batch, for ``advance="tokens"``/``"samples"``:
  ``scheduler.count(tokens=n)`` per micro-batch, summed into the update the framework's next
  ``step()`` makes (so gradient accumulation needs nothing more);
* the **metric** of a ``plateau(...)``: ``scheduler.step(metric=value)`` after each evaluation.

:class:`Feed` holds both for one Scheduler; the callbacks only decide *when* to call it.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import torch

from lrkit.core.plateau import Plateau
from lrkit.torch.scheduler import Scheduler

__all__ = ["Count", "Feed", "batch_size", "counter", "feeds"]

#: How many tokens (samples) one batch holds: a key of a dict batch (the sum of that mask), or a function.
Count = str | Callable[[Any], Any] | None


def batch_size(batch: Any) -> int:
    """The number of samples in ``batch``: the length of its first tensor (a dict's values, a tuple's items).

    >>> import torch
    >>> batch_size({"input_ids": torch.zeros(8, 128), "labels": torch.zeros(8)})
    8
    """
    found = _first_tensor(batch)
    if found is None or found.dim() == 0:
        raise ValueError(
            f"count=None counts samples as the length of the batch's first tensor, but the batch "
            f"({type(batch).__name__}) holds none; pass count=lambda batch: <its number of samples>"
        )
    return int(found.shape[0])


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    items = batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, (list, tuple)) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def counter(who: str, count: Any) -> Callable[[Any], Any] | None:
    """Check ``count`` (at the callback's construction) and turn it into ``batch -> count``.

    A string names a key of a dict batch holding a mask (ones mark what counts, e.g. HF's
    ``"attention_mask"``): the count is that tensor's sum. A function is called with the batch.
    ``None`` stays ``None`` (samples: :func:`batch_size`; tokens: an error once the Scheduler is known).

    >>> import torch
    >>> counter("cb", "attention_mask")({"attention_mask": torch.tensor([[1, 1, 0], [1, 0, 0]])})
    3
    """
    if count is None or callable(count):
        return count  # type: ignore[no-any-return]
    if isinstance(count, str):
        return lambda batch: _mask_sum(who, count, batch)
    raise ValueError(
        f"{who}: count must be the key of a mask in a dict batch (e.g. 'attention_mask'), a function "
        f"batch -> int, or None (samples: the batch size), got {type(count).__name__} {count!r}"
    )


def _mask_sum(who: str, key: str, batch: Any) -> int:
    if not isinstance(batch, Mapping) or key not in batch:
        keys = sorted(map(str, batch)) if isinstance(batch, Mapping) else f"a {type(batch).__name__}, not a dict"
        raise ValueError(
            f"{who}: count={key!r} names a key of the batch, but the batch has none (it holds {keys}); "
            "pass the key of a mask in the batch, or count=lambda batch: <its tokens>"
        )
    mask = batch[key]
    if not isinstance(mask, torch.Tensor) or mask.is_floating_point() or mask.is_complex():
        raise ValueError(
            f"{who}: count={key!r} sums the mask batch[{key!r}] (ones mark the tokens that count), which must be "
            f"an integer or bool tensor, got {mask!r:.80}; pass count=lambda batch: <its tokens> instead"
        )
    return int(mask.sum().item())


def has_plateau(scheduler: Scheduler) -> bool:
    """Whether one of the Scheduler's schedules holds a ``plateau(...)`` (fed a metric)."""
    schedules: list[Any] = []
    for spec in scheduler.schedules.values():
        schedules.extend(spec if isinstance(spec, list) else [spec])
    return any(isinstance(node, Plateau) for s in schedules for node in s.walk())


class Feed:
    """Counts and metrics for one Scheduler, checked against what it counts and what its schedule holds.

    Args:
        who: the callback's name, for messages.
        scheduler: the lrkit Scheduler the framework steps.
        count: from :func:`counter` (``None``: samples are the batch size; tokens need a count).
        monitor: the metric a plateau is fed (``None``: the callback feeds none).
        name: the Scheduler in messages (e.g. which of several it is).

    :func:`feeds` builds them, giving ``count`` and ``monitor`` only to the Schedulers that take them.
    """

    def __init__(
        self,
        who: str,
        scheduler: Any,
        count: Callable[[Any], Any] | None,
        monitor: str | None,
        name: str = "the Scheduler",
    ):
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"{who}: the scheduler must be an lrkit.torch.Scheduler, got {type(scheduler).__name__}")
        advance = scheduler._advance
        self.unit: str | None = advance if advance in ("tokens", "samples") else None
        if count is not None and self.unit is None:
            raise ValueError(
                f"{who}: count= was given but {name} counts {advance}s (advance={advance!r}); build it "
                "with Scheduler(..., advance='tokens') (or 'samples') for a schedule written in tokens, or drop count="
            )
        if self.unit == "tokens" and count is None:
            raise ValueError(
                f"{who}: {name} counts tokens (advance='tokens') but the callback was not told what a batch's "
                "tokens are; pass count='attention_mask' (the key of a mask in a dict batch) or "
                "count=lambda batch: <its tokens>"
            )
        plateau = has_plateau(scheduler)
        if monitor is not None and not plateau:
            raise ValueError(
                f"{who}: monitor={monitor!r} feeds a plateau, but {name}'s schedules have no plateau(...); "
                "put one in the schedule (e.g. lk.constant(1.0, n) * lk.plateau(patience=2)), or drop monitor="
            )
        self.who = who
        self.scheduler = scheduler
        self.count = batch_size if (count is None and self.unit == "samples") else count
        self.monitor = monitor
        self.plateau = plateau

    def batch(self, batch: Any) -> None:
        """Add one (micro-)batch's tokens or samples to the update in progress."""
        self.add(self.measure(batch))

    def measure(self, batch: Any) -> Any:
        """One (micro-)batch's tokens or samples (``None``: this Scheduler counts neither)."""
        return None if self.unit is None or self.count is None else self.count(batch)

    def add(self, value: Any) -> None:
        """Add a count from :meth:`measure` to the update in progress (``None``: nothing)."""
        if value is not None and self.unit is not None:
            self.scheduler.count(**{self.unit: value})

    def metric(self, value: Any) -> None:
        """Feed the plateau one evaluation's metric."""
        if isinstance(value, torch.Tensor):
            value = value.detach()
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{self.who}: the metric {self.monitor!r} must be a number, got {value!r}")
        self.scheduler._evaluated(value)


def feeds(who: str, schedulers: dict[str, Any], count: Callable[[Any], Any] | None, monitor: str | None) -> list[Feed]:
    """One :class:`Feed` per Scheduler, keyed by its name in messages: ``count`` goes to the Schedulers counting
    tokens or samples, ``monitor`` to those holding a plateau; when none takes one, each is given it (and the
    first refuses it, naming itself and the fix).

    >>> import torch, lrkit as lk
    >>> def opt(): return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # one per Scheduler
    >>> by_update, by_tokens = Scheduler(opt(), lk.cosine(8)), Scheduler(opt(), lk.linear(400), advance="tokens")
    >>> [f.unit for f in feeds("cb", {"A": by_update, "B": by_tokens}, len, None)]
    [None, 'tokens']
    >>> with_plateau = Scheduler(opt(), lk.constant(1.0, 100) * lk.plateau(patience=2))
    >>> [f.monitor for f in feeds("cb", {"A": by_update, "B": with_plateau}, None, "val_loss")]
    [None, 'val_loss']
    """

    def counts(scheduler: Any) -> bool:
        return isinstance(scheduler, Scheduler) and scheduler._advance in ("tokens", "samples")

    def plateau(scheduler: Any) -> bool:
        return isinstance(scheduler, Scheduler) and has_plateau(scheduler)

    counted = any(map(counts, schedulers.values()))
    fed = any(map(plateau, schedulers.values()))
    return [
        Feed(
            who,
            scheduler,
            count if counts(scheduler) or not counted else None,
            monitor if plateau(scheduler) or not fed else None,
            name,
        )
        for name, scheduler in schedulers.items()
    ]
