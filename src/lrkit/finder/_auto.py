"""``auto``'s rule, framework-free: from a finished range test to a peak LR and a one-cycle schedule.

The torch driver (:func:`lrkit.torch.finder.auto`) runs the range test and then calls :func:`choose`; any
other front end that ran a range test itself can call it (or :func:`peak_from`) the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lrkit.core import _validate as v
from lrkit.core.recipes import one_cycle, warmup_cosine
from lrkit.core.schedule import Schedule, child
from lrkit.finder._result import FinderResult
from lrkit.finder._valley import valley_centre

VALLEY_FACTOR = 1.122
"""The peak rule of :func:`auto` (``rule="valley"``): ``peak = VALLEY_FACTOR x valley_centre(fall=VALLEY_FALL,
rise=VALLEY_RISE)`` (:func:`lrkit.finder.valley_centre`). The constants are the ones bench/auto.py selects on
all four built-in tasks together (falls 0.8/0.9, rises 0.1/0.25/0.5, factors in 0.05-decade steps; the
worst task's interpolated one-cycle grid score; range tests stopped at their first rebound, as auto runs
them); the benchmark reports every task with constants selected on the *other* tasks only
(leave-one-task-out), see bench/results/auto.md. The factor is close to 1: the peak is about the valley
centre of the centred running median of the losses.
"""
VALLEY_FALL = 0.8
"""The valley rule's ``fall``: its first LR is where the loss has done this fraction of its fall
(see :data:`VALLEY_FACTOR`)."""
VALLEY_RISE = 0.1
"""The valley rule's ``rise``: its second LR is where the loss has climbed back this fraction of its fall
(see :data:`VALLEY_FACTOR`)."""
AUTO_FACTOR = 2.0
"""``peak = AUTO_FACTOR x suggestion`` for ``rule="steepest"``: lrkit 0.1's rule (the steepest-slope suggestion
times 2, chosen on MNIST-1D and digits only), kept for comparison and for ``lrkit find``'s printed peak."""
COST_LIMIT = 1.5
"""``auto`` warns in its report when finder + training exceed this many training runs."""


class NoSuggestion(ValueError):
    """The range test gave no confident suggestion; ``reason`` says why, ``result`` is the test.

    >>> import numpy as np
    >>> from lrkit.finder import FinderResult, NoSuggestion, peak_from
    >>> flat = FinderResult.from_curve(np.logspace(-5, 1, 120), np.full(120, 2.0))
    >>> try:
    ...     peak_from(flat)
    ... except NoSuggestion as error:
    ...     print(error.reason.split(":")[0], isinstance(error, ValueError))
    the smoothed loss never fell meaningfully True
    """

    def __init__(self, reason: str, result: FinderResult):
        self.reason = reason
        self.result = result
        super().__init__(
            f"auto: the LR range test gave no confident suggestion: {reason}. "
            "Look at result.plot(), or pick peak_lr yourself and build the schedule directly"
        )


@dataclass
class AutoResult:
    """What :func:`auto` returns, and what it did.

    ``schedule``: the unitless lrkit schedule (peak 1.0), to be driven as a multiplier of each
    group's LR (``lrkit.torch.Scheduler(optimizer, schedule)``); ``peak_lr``: the LR at the peak;
    ``lr_schedule``: ``schedule * peak_lr`` (absolute LRs, for plots or a single group);
    ``suggestion``: the finder's value the rule scaled (the valley centre, or the steepest-slope
    suggestion for ``rule="steepest"``); ``rule``: the rule in words; ``cost``: the updates spent
    (``finder``, ``training``, ``total``) and ``runs`` = total / training; ``config``: all of it as a
    dict (with the schedule's text config); ``result``: the range test. ``report()`` is a summary.

    >>> import numpy as np
    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> from lrkit.finder import FinderResult, build_schedule, choose
    >>> chosen = choose(FinderResult.from_curve(lrs, losses), build_schedule("one_cycle", 1000), updates=1000,
    ...                 recipe="one_cycle")
    >>> chosen.schedule, round(chosen.peak_lr, 4), chosen.cost["runs"]
    (one_cycle(1000), 0.0134, 1.12)
    >>> print(chosen.report().splitlines()[2])
    peak lr: 0.01335 = 1.122 x 0.0119
    """

    schedule: Schedule
    peak_lr: float
    result: FinderResult
    factor: float
    config: dict[str, Any] = field(default_factory=dict)
    suggestion: float = math.nan
    rule: str = ""
    cost: dict[str, float] = field(default_factory=dict)

    @property
    def lr_schedule(self) -> Schedule:
        return self.schedule * self.peak_lr

    def report(self) -> str:
        """What ``auto`` did, in a few lines: the range test, the rule, the peak, the schedule and the cost."""
        cost = self.cost
        lines = [
            f"range test: {len(self.result.lrs)} updates from {self.result.lrs[0]:.3g} to {self.result.lrs[-1]:.3g} "
            f"({self.result.stopped}); steepest-slope suggestion {self.result.suggestion:.3g}",
            f"rule: {self.rule}",
            f"peak lr: {self.peak_lr:.4g} = {self.factor:g} x {self.suggestion:.4g}",
            f"schedule: {self.config.get('schedule', repr(self.schedule))}",
            f"cost: {cost.get('finder', 0):g} finder + {cost.get('training', 0):g} training updates = "
            f"{cost.get('runs', math.nan):.2f} training runs",
        ]
        if cost.get("runs", 0.0) > COST_LIMIT:
            lines.append(
                f"warning: more than {COST_LIMIT:g} training runs in all; a shorter range test (iterations=) costs less"
            )
        return "\n".join(lines)


RECIPES = ("one_cycle", "warmup_cosine")
"""The recipes ``auto`` builds."""


def build_schedule(recipe: str, updates: int, **options: Any) -> Schedule:
    """The unitless schedule ``auto`` returns: ``one_cycle(updates, **options)`` or
    ``warmup_cosine(updates, warmup=options.get('warmup', 5% of updates), ...)``.

    >>> from lrkit.finder import build_schedule
    >>> build_schedule("one_cycle", 1000), build_schedule("warmup_cosine", 1000)
    (one_cycle(1000), warmup_cosine(1000, 50))
    >>> build_schedule("warmup_cosine", 1000, warmup=10)(10)  # the peak (1.0) after the warmup
    1.0
    """
    recipe = v.choice("auto", "recipe", recipe, RECIPES)
    updates = v.integer("build_schedule", "updates", updates)
    if recipe == "one_cycle":
        return one_cycle(updates, **options)
    options = dict(options)
    warmup = options.pop("warmup", max(1, round(0.05 * updates)))
    return warmup_cosine(updates, warmup=warmup, **options)


RULES = ("valley", "steepest")
"""The peak rules of ``auto``."""


def peak_from(
    result: FinderResult,
    *,
    rule: str = "valley",
    factor: float | None = None,
    fall: float | None = None,
    rise: float | None = None,
) -> tuple[float, float, float, str]:
    """``auto``'s peak from a finished range test: ``(peak_lr, value, factor, rule in words)``; raises
    :class:`NoSuggestion` where ``auto`` would. ``rule="valley"``: ``peak = factor x valley_centre``
    (defaults :data:`VALLEY_FACTOR`, :data:`VALLEY_FALL`, :data:`VALLEY_RISE`); ``rule="steepest"``:
    ``peak = factor x result.suggestion`` (default :data:`AUTO_FACTOR`). For front ends that show the
    peak of a range test they ran themselves (``lrkit find``).

    >>> import numpy as np
    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> from lrkit.finder import FinderResult, peak_from
    >>> result = FinderResult.from_curve(lrs, losses)
    >>> peak, value, factor, text = peak_from(result)
    >>> round(peak, 4), round(value, 4), factor
    (0.0134, 0.0119, 1.122)
    >>> round(peak_from(result, rule="steepest")[0], 5)  # 2 x the steepest-slope suggestion
    0.00417
    """
    rule = v.choice("auto", "rule", rule, RULES)
    if result.suggestion is None:
        raise NoSuggestion(result.reason, result)
    if rule == "valley":
        factor = VALLEY_FACTOR if factor is None else v.positive("auto", "factor", factor)
        fall = VALLEY_FALL if fall is None else v.positive("auto", "fall", fall)
        rise = VALLEY_RISE if rise is None else v.positive("auto", "rise", rise)
        value, why = valley_centre(result.lrs, result.losses, beta=result.settings.get("beta"), fall=fall, rise=rise)
        if value is None:
            raise NoSuggestion(why, result)
        text = (
            f"valley: peak = {factor:g} x sqrt(lr at {fall:.0%} of the fall x lr at {rise:.0%} climbed back) "
            "of the centred running median of the range-test losses"
        )
    else:
        factor = AUTO_FACTOR if factor is None else v.positive("auto", "factor", factor)
        value = float(result.suggestion)
        text = f"steepest: peak = {factor:g} x the steepest-slope suggestion"
    peak = float(value * factor)
    if not (math.isfinite(peak) and peak > 0):  # pragma: no cover - the values are finite and > 0
        raise NoSuggestion(f"the value {value!r} is not a usable learning rate", result)
    return peak, float(value), float(factor), text


def choose(
    result: FinderResult,
    schedule: Schedule,
    *,
    updates: int,
    recipe: str,
    rule: str = "valley",
    factor: float | None = None,
    fall: float | None = None,
    rise: float | None = None,
) -> AutoResult:
    """``auto``'s answer from a finished range test and the unitless ``schedule`` (:func:`build_schedule`).

    ``peak_lr = factor x value`` (:func:`peak_from`: the valley centre, or the steepest-slope suggestion);
    ``cost`` counts ``finder = len(result.lrs)`` and ``training = updates`` updates, ``runs = (finder +
    training) / training``; ``config`` is all of it as a dict. Raises :class:`NoSuggestion` where the rule
    has no answer. The rule follows Smith (2017, "Cyclical Learning Rates") in reading the peak of a
    one-cycle schedule from the range test's loss.

    >>> import numpy as np
    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> chosen = choose(FinderResult.from_curve(lrs, losses), build_schedule("one_cycle", 1000), updates=1000,
    ...                 recipe="one_cycle")
    >>> round(chosen.peak_lr, 4), chosen.cost["runs"]
    (0.0134, 1.12)
    """
    schedule = child("choose", "schedule", schedule)
    updates = v.integer("choose", "updates", updates)
    recipe = v.choice("choose", "recipe", recipe, RECIPES)
    peak, value, factor, text = peak_from(result, rule=rule, factor=factor, fall=fall, rise=rise)
    finder_updates = len(result.lrs)
    cost = {
        "finder": float(finder_updates),
        "training": float(updates),
        "total": float(finder_updates + updates),
        "runs": (finder_updates + updates) / updates,
    }
    config = {
        "schedule": repr(schedule),
        "peak_lr": peak,
        "suggestion": value,
        "factor": factor,
        "recipe": recipe,
        "rule": text,
        "cost": cost,
    }
    return AutoResult(
        schedule=schedule,
        peak_lr=peak,
        result=result,
        factor=factor,
        config=config,
        suggestion=value,
        rule=text,
        cost=cost,
    )
