"""``Scheduler.step`` inside a ``torch.compile``'d function: run eagerly (a graph break, as torch's own schedulers
get), since traced, every new learning rate would be a new constant and a recompile.

The eager step is ``torch.compiler.disable`` around a plain call of ``step``, built on first use (the decorator
imports dynamo, ~4 s) or at construction when dynamo is already imported (outside any trace).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["DYNAMO_CHECK", "EAGER", "eager_step"]

# torch >= 2.3 has the cheaper check, half the cost of is_compiling (torch's docs call it internal: fall back to
# is_compiling without it)
DYNAMO_CHECK = hasattr(torch.compiler, "is_dynamo_compiling")
EAGER: list[Any] = []  #: the eager step, once built


def _step(scheduler: Any, metric: float | None, tokens: Any = None, samples: Any = None) -> None:
    scheduler.step(metric, tokens=tokens, samples=samples)


def eager_step() -> Any:
    """``step`` behind ``torch.compiler.disable`` (``eager_step()(scheduler, metric, tokens, samples)``)."""
    if not EAGER:
        EAGER.append(torch.compiler.disable(_step))
    return EAGER[0]
