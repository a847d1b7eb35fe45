"""A batch-size ramp a data loader follows (:class:`BatchRamp`): an lrkit schedule from progress to batch size."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

from lrkit.core.schedule import Schedule


class BatchRamp:
    """A batch-size schedule a data loader follows: an lrkit schedule from progress to batch size.

    ``schedule(consumed)`` is the global batch size, in samples, once ``consumed`` units of
    progress have been fed, where each sample counts ``tokens_per_sample`` units (1: the
    schedule's progress is in samples; a sequence length: in tokens, as DeepSeek-V2/V3 and
    OLMo's ramps are written). The size is rounded to a multiple of ``multiple`` (at least one
    ``multiple``). A ramp is usually ``lk.piecewise_constant`` (steps) or ``lk.linear`` (smooth).

    Drive the learning rate with the same count: ``Scheduler(opt, lr_schedule, advance="tokens")``
    and ``sched.step(tokens=len(batch) * seq_len)`` on each rank with its own batch, so the LR
    schedule written in tokens stays right however the batch grows. On resume, pass the
    Scheduler's count (``sched.updates``) as ``consumed`` and the batches continue where they
    stopped (for a deterministic ``indices`` order).

    >>> ramp = BatchRamp(piecewise_constant([64], [16, 32]))
    >>> [len(b) for b in ramp.batches(range(200))]
    [16, 16, 16, 16, 32, 32, 32, 32, 8]
    >>> ramp.size(0), ramp.size(64)
    (16, 32)
    """

    def __init__(self, schedule: Schedule, tokens_per_sample: int = 1, multiple: int = 1):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"BatchRamp: schedule must be an lrkit schedule of the batch size, got {schedule!r}")
        for name, value in (("tokens_per_sample", tokens_per_sample), ("multiple", multiple)):
            if not _integer(value) or value < 1:
                raise ValueError(f"BatchRamp: {name} must be an integer >= 1, got {value!r}")
        self.schedule = schedule
        self.tokens_per_sample = int(tokens_per_sample)
        self.multiple = int(multiple)

    def __repr__(self) -> str:
        return f"BatchRamp({self.schedule!r}, tokens_per_sample={self.tokens_per_sample}, multiple={self.multiple})"

    def size(self, consumed: float) -> int:
        """The global batch size (samples) after ``consumed`` units of progress."""
        if isinstance(consumed, bool) or not isinstance(consumed, numbers.Real) or not (
            math.isfinite(consumed) and consumed >= 0
        ):
            raise ValueError(f"BatchRamp.size: consumed must be a count >= 0, got {consumed!r}")
        consumed = int(consumed) if isinstance(consumed, numbers.Integral) else float(consumed)
        wanted = float(self.schedule(consumed))
        if not wanted > 0:
            raise ValueError(f"BatchRamp: the batch-size schedule gives {wanted!r} at {consumed!r}; sizes must be > 0")
        return max(self.multiple, round(wanted / self.multiple) * self.multiple)

    def sizes(self, samples: int, consumed: int = 0) -> Iterator[int]:
        """Successive global batch sizes until ``samples`` samples are fed (the last batch may be short)."""
        fed = 0
        while fed < samples:
            size = min(self.size(consumed), samples - fed)
            yield size
            fed += size
            consumed += size * self.tokens_per_sample

    def batches(
        self, indices: Any, consumed: int = 0, rank: int = 0, world: int = 1, *, drop_last: bool = False
    ) -> Iterator[list[Any]]:
        """A batch sampler over ``indices`` (e.g. ``DataLoader(ds, batch_sampler=ramp.batches(order))``).

        Starts at the sample ``consumed // tokens_per_sample`` of ``indices`` (``consumed`` must be a
        whole number of samples: the count a Scheduler in token mode saved). With ``world > 1``
        each rank gets the slice ``batch[rank::world]`` of every global batch, so ranks' batch
        sizes may differ by one; every rank passes its own count to ``step(tokens=...)``, which sums them.

        Every rank gets the same number of batches and never an empty one (an empty batch makes a
        DataLoader raise, and under DDP the other ranks then wait forever in the all-reduce): a
        global batch is at least ``world`` samples, and the last, short batch is kept
        (``drop_last=False``, padded to ``world`` samples with samples from the start of
        ``indices`` if it has fewer, as ``torch.utils.data.DistributedSampler`` pads) or dropped
        (``drop_last=True``, as ``DataLoader(drop_last=True)``).

        >>> ramp = BatchRamp(constant(4.0))
        >>> [list(ramp.batches(range(6), rank=r, world=4)) for r in range(4)]
        [[[0], [4]], [[1], [5]], [[2], [0]], [[3], [1]]]
        >>> [list(ramp.batches(range(6), rank=r, world=4, drop_last=True)) for r in range(2)]
        [[[0]], [[1]]]
        """
        if not _integer(consumed) or consumed < 0:
            raise ValueError(f"BatchRamp.batches: consumed must be an integer >= 0, got {consumed!r}")
        consumed = int(consumed)
        if consumed % self.tokens_per_sample:
            raise ValueError(
                f"BatchRamp.batches: consumed={consumed} is not a whole number of samples of "
                f"{self.tokens_per_sample} tokens; pass the count the Scheduler saved"
            )
        if not (_integer(world) and _integer(rank) and world >= 1 and 0 <= rank < world):
            raise ValueError(f"BatchRamp.batches: need 0 <= rank < world, got rank={rank!r}, world={world!r}")
        rank, world = int(rank), int(world)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchRamp.batches: drop_last must be True or False, got {drop_last!r}")
        items = list(indices)
        fed = consumed // self.tokens_per_sample
        while fed < len(items):
            size = max(self.size(consumed), world)
            batch = items[fed:fed + size]
            if len(batch) < size:
                if drop_last:
                    return
                if len(batch) < world:  # pad, as DistributedSampler does, so no rank is left empty
                    batch += (items * world)[:world - len(batch)]
            yield batch[rank::world]
            fed += size
            consumed += size * self.tokens_per_sample


def _integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or numpy's; a bool is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
