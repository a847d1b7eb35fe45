"""Agreement across ``torch.distributed`` ranks, so every rank holds the same learning rate.

A reactive schedule decides from the world: a plateau from a metric, a wall clock from
elapsed seconds. Each rank sees a different loss and a different clock, so left alone the
ranks would diverge. :func:`reduce_metric` gives every rank the same metric (mean by default)
and :func:`agree_elapsed` the same seconds (rank 0's, or the maximum) before anything is
decided; identical inputs and identical state then give identical decisions.

Both are collectives: every rank must call them, in the same order (``lrkit.torch.Scheduler``
does so at every ``step()`` that carries a metric or uses a clock). Without an initialised
process group, or with a single process, they return their input unchanged and cost nothing.

The reduction is computed in float64, in rank order, from the gathered values, so every rank
obtains a bitwise-identical result (a NaN on any rank makes the mean NaN on all ranks, which
the plateau's ``nan`` policy then handles). With the NCCL backend the values travel on the
current CUDA device.

A token or sample count (``Scheduler(..., advance="tokens")``) is agreed by :func:`agree_count`:
an exact int64 sum of the ranks' local counts (each rank feeds its own batch), or rank 0's count.

>>> reduce_metric(0.25), agree_elapsed(12.5), agree_count(4096)      # no process group: unchanged
(0.25, 12.5, 4096)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist

from lrkit.core.plateau import metric
from lrkit.reactive.clock import AGREE

__all__ = ["AGREE", "COUNT_OPS", "REDUCE_OPS", "agree_count", "agree_elapsed", "is_distributed", "reduce_metric"]

REDUCE_OPS = ("mean", "sum", "min", "max")
"""How :func:`reduce_metric` combines the ranks' values."""
COUNT_OPS = ("sum", "rank0", "max")
"""How :func:`agree_count` combines the ranks' counts."""


def is_distributed(group: Any = None) -> bool:
    """Whether a process group with more than one rank is initialised.

    >>> import os, tempfile
    >>> import torch.distributed as dist
    >>> from lrkit.torch.distributed import is_distributed
    >>> is_distributed()  # no process group
    False
    >>> store = "file://" + os.path.join(tempfile.mkdtemp(), "store")
    >>> dist.init_process_group("gloo", init_method=store, rank=0, world_size=1)
    >>> is_distributed()  # a group of one rank: nothing to agree on
    False
    >>> dist.destroy_process_group()
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def _device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _number(who: str, name: str, value: Any) -> float:
    try:
        return float(value)  # numbers, numpy scalars, 0-d tensors (any device)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be a number (or a 0-d tensor), got {value!r}") from None


def _option(who: str, name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{who}: {name} must be one of {', '.join(map(repr, options))}, got {value!r}")


def _agree(who: str, how: str, options: tuple[str, ...], value: float, dtype: torch.dtype, group: Any) -> Any:
    """``value`` made the same on every rank (a collective): the ranks' sum, their maximum or rank 0's (``how``).

    Returns ``value`` itself when not distributed, else the agreed number (``.item()`` of ``dtype``)."""
    _option(who, "how", how, options)
    if not is_distributed(group):
        return value
    mine = torch.tensor([value], dtype=dtype, device=_device())
    if how == "rank0":
        dist.broadcast(mine, src=0 if group is None else dist.get_global_rank(group, 0), group=group)
    else:
        dist.all_reduce(mine, op=dist.ReduceOp.SUM if how == "sum" else dist.ReduceOp.MAX, group=group)
    return mine.item()


def reduce_metric(value: float, op: str = "mean", group: Any = None) -> float:
    """The metric combined over every rank (``'mean'``, ``'sum'``, ``'min'`` or ``'max'``).

    ``mean = (x_0 + ... + x_{n-1}) / n`` (exactly rounded sum); if any rank's value is NaN the
    result is NaN. Returns ``float(value)`` unchanged when not distributed.

    >>> import torch
    >>> from lrkit.torch.distributed import reduce_metric
    >>> reduce_metric(torch.tensor(0.25)), reduce_metric(0.25, op="max")  # one process: the value, as a float
    (0.25, 0.25)
    """
    _option("reduce_metric", "op", op, REDUCE_OPS)
    x = metric(value, "reduce_metric", "value")
    if not is_distributed(group):
        return x
    device = _device()
    mine = torch.tensor([x], dtype=torch.float64, device=device)
    parts = [torch.empty(1, dtype=torch.float64, device=device) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, mine, group=group)
    values = torch.cat(parts).tolist()
    if op != "sum" and all(v == values[0] for v in values):
        return values[0]  # already agreed (e.g. reduced by the caller): returned exactly, never re-rounded
    if any(math.isnan(v) for v in values):
        return math.nan
    if op == "min":
        return min(values)
    if op == "max":
        return max(values)
    total = math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
    return total if op == "sum" else total / len(values)


def agree_elapsed(seconds: float, how: str = "rank0", group: Any = None) -> float:
    """The same elapsed seconds (or clock progress) on every rank: rank 0's (``'rank0'``) or the maximum.

    ``'rank0'`` follows one clock (the usual choice: rank 0 also writes the checkpoints);
    ``'max'`` follows the slowest rank, so a time budget is never overrun on any rank.
    Returns ``float(seconds)`` unchanged when not distributed.

    >>> from lrkit.torch.distributed import agree_elapsed
    >>> agree_elapsed(12.5), agree_elapsed(12.5, how="max")  # one process: its own clock
    (12.5, 12.5)
    """
    x = _number("agree_elapsed", "seconds", seconds)
    return float(_agree("agree_elapsed", how, AGREE, x, torch.float64, group))


def agree_count(count: int, how: str = "sum", group: Any = None) -> int:
    """The same integer count on every rank: the sum of the ranks' counts (``'sum'``), rank 0's, or the maximum.

    ``'sum'`` turns per-rank token (sample) counts into the global count of one update, exactly
    (int64, no rounding), whatever each rank's batch size; ``'rank0'`` is for callers that already
    pass the global count. Returns ``int(count)`` unchanged when not distributed.

    >>> from lrkit.torch.distributed import agree_count
    >>> agree_count(4096), agree_count(4096, how="rank0")  # one process: its own count is the global one
    (4096, 4096)
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(f"agree_count: count must be an int, got {count!r}")
    return int(_agree("agree_count", how, COUNT_OPS, count, torch.int64, group))
