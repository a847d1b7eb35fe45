"""Runs, fitting, scoring and ranking of loss-curve laws.

A :class:`Run` is a training run: the learning rate of every update, the steps at which the
loss was logged and, for a run that was trained, the losses. :func:`fit` fits a law to runs
(scipy's ``least_squares`` with a Huber loss of the log-loss residuals, in the paper's two steps for
the multi-power law, from a few deterministic starting points); :func:`score` measures a law's prediction of runs;
:func:`rank` predicts the final loss of candidate schedules at a budget.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, ParamSpec, TypeVar

import numpy as np

from lrkit.curves.intervals import Uncertainty, covariance
from lrkit.curves.laws import (
    LAWS,
    MAX_UPDATES,
    Law,
    MultiPowerLaw,  # noqa: F401  (the doctests' name)
    Stage,
    _keeping,
    _steps,
    _too_long,
    _vector,
    learning_rates,
    magnitude,
    peak_index,
    plain,
    positive_number,
    whole,
)

__all__ = [
    "CurveFitWarning",
    "Fit",
    "Ranking",
    "Run",
    "RunScore",
    "Score",
    "fit",
    "law_from_dict",
    "rank",
    "score",
]


class CurveFitWarning(UserWarning):
    """A fit whose quality is poor (R^2 below 0.99 on a fitted run, or the optimizer did not converge).

    >>> import warnings
    >>> from lrkit.curves import CurveFitWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", CurveFitWarning)  # a poor fit stops the script instead of going on
    ...     issubclass(CurveFitWarning, UserWarning)
    True
    """


def _label(schedule: Any) -> str:
    if isinstance(schedule, np.ndarray):
        return f"<{schedule.size} learning rates>"
    return repr(schedule)


@dataclass(frozen=True, eq=False)
class Run:
    """A training run: ``lrs[i]`` the learning rate of update ``i``, ``losses[j]`` the loss after ``steps[j]`` updates.

    ``losses`` is ``None`` for a schedule not trained (a candidate to predict). Build one with
    :meth:`of` from an lrkit schedule (absolute learning rates) or an array of rates, with
    :meth:`branch` for a run continued from another's checkpoint, or read one from a log with
    :func:`lrkit.curves.read_run`.

    ``final`` is a final loss measured by another evaluation than the logged curve (a larger
    validation pass, as the schedule grid's ``final_val_loss``) after ``final_step`` updates;
    :func:`score` compares a law's final with it. ``parent`` and ``at``: the run is a branch of
    ``parent`` at update ``at`` (its points up to ``at`` are the parent's); :func:`fit` and
    :func:`score` count those points once when both runs are given.

    >>> import lrkit as lk
    >>> run = Run.of(lk.constant(3e-4), [100, 200], [3.9, 3.7], name="constant")
    >>> run.lrs.size, run.steps.tolist(), run.name
    (200, [100, 200], 'constant')
    """

    lrs: np.ndarray
    steps: np.ndarray
    losses: np.ndarray | None = None
    name: str = ""
    schedule: str = ""
    final: float | None = None
    final_step: int = 0
    parent: Run | None = field(default=None, repr=False)
    at: int = 0

    @classmethod
    def of(
        cls,
        schedule: Any,
        steps: Any,
        losses: Any = None,
        name: str = "",
        *,
        final: float | None = None,
        final_step: int | None = None,
    ) -> Run:
        """A run from a schedule (an lrkit schedule giving absolute learning rates, or an array of every
        update's rate), the logged steps and (optionally) the logged losses; ``final``: a final loss
        measured by another evaluation after ``final_step`` updates (default: the last logged step)."""
        t = _steps(steps)
        order = np.argsort(t, kind="stable")
        t = t[order]
        last, fin = _final(final, final_step, int(t.max()))
        lrs = learning_rates(schedule, max(int(t.max()), last))
        values = None
        if losses is not None:
            try:
                values = _vector(np.asarray(plain(losses), dtype=np.float64), "losses")
            except (TypeError, ValueError) as err:
                if str(err).startswith("losses:"):
                    raise
                raise ValueError(f"losses: every loss must be a number, got {losses!r:.60}") from None
            if values.size != t.size:
                raise ValueError(f"losses: {values.size} losses for {t.size} steps; give one loss per step")
            if not np.all(np.isfinite(values)):
                raise ValueError("losses: every loss must be finite (drop diverged points)")
            values = values[order]
        label = _label(schedule)
        return cls(lrs=lrs, steps=t, losses=values, name=name or label, schedule=label, final=fin, final_step=last)

    @classmethod
    def branch(
        cls,
        parent: Run,
        schedule: Any,
        steps: Any,
        losses: Any,
        *,
        at: int | None = None,
        name: str = "",
        final: float | None = None,
        final_step: int | None = None,
    ) -> Run:
        """A run continued from ``parent``'s checkpoint after ``at`` updates (default: its first logged step).

        ``schedule`` gives the whole run's rates from update 0 (it must equal the parent's before
        ``at``); ``steps`` and ``losses`` are the branch's own log. The run is the parent's points up
        to ``at``, then the branch's points after it; :func:`fit` and :func:`score` count the shared
        points once when the parent is among their runs.

        >>> import lrkit as lk
        >>> stable = Run.of(lk.constant(1e-3), [100, 200, 300], [3.0, 2.9, 2.85], name="stable")
        >>> cool = Run.branch(stable, lk.constant(1e-3, 200) >> lk.linear(200, 1e-3, 0.0), [200, 300, 400],
        ...                   [2.9, 2.8, 2.7], name="cooldown")
        >>> cool.steps.tolist(), cool.losses.tolist(), cool.at
        ([100, 200, 300, 400], [3.0, 2.9, 2.8, 2.7], 200)
        """
        if not isinstance(parent, Run) or parent.losses is None:
            raise ValueError(f"parent: give the Run (with losses) the branch continues, got {type(parent).__name__}")
        if losses is None:
            raise ValueError("losses: a branch is a trained run; give the losses its own log holds after the branch")
        own = cls.of(schedule, steps, losses, name, final=final, final_step=final_step)
        at = plain(at)
        if isinstance(at, (float, np.floating)) and float(at).is_integer():
            at = int(at)  # 200.0 reads as 200, as every other count does
        start = int(own.steps.min()) if at is None else at
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 1 <= start <= own.steps.min():
            raise ValueError(
                f"at: the branch point must be a whole number of updates in [1, {int(own.steps.min())}] (the branch's "
                f"first logged step), got {at!r}"
            )
        start = int(start)
        if parent.lrs.size < start:
            raise ValueError(
                f"at: {parent.name!r} has the rates of {parent.lrs.size} updates, the branch starts after {start}"
            )
        before, mine = parent.lrs[:start], own.lrs[:start]
        off = rates_differ(mine, before)
        if off.size:
            i = int(off[0])
            raise ValueError(
                f"schedule: the branch's rate of update {i} is {mine[i]:.10g} where its parent {parent.name!r} used "
                f"{before[i]:.10g} (relative difference {abs(mine[i] - before[i]) / max(abs(before[i]), 1e-300):.2g}); "
                f"give the whole run's schedule, equal to the parent's before update {start}"
            )
        lrs = np.concatenate((before, own.lrs[start:]))
        keep_parent = parent.steps <= start
        keep_own = own.steps > start
        t = np.concatenate((parent.steps[keep_parent], own.steps[keep_own]))
        values = np.concatenate((parent.losses[keep_parent], own.losses[keep_own]))  # type: ignore[index]
        return cls(lrs, t, values, own.name, own.schedule, own.final, own.final_step, parent, start)

    def own(self) -> Run:
        """The run without the points it shares with its parent (itself if it is not a branch)."""
        if self.parent is None:
            return self
        keep = self.steps > self.at
        losses = None if self.losses is None else self.losses[keep]
        return dataclasses.replace(self, steps=self.steps[keep], losses=losses)

    def after_warmup(self) -> Run:
        """The run restricted to steps after the warmup (the peak of the schedule), as the paper fits."""
        keep = self.steps > peak_index(self.lrs)
        if keep.all():
            return self
        losses = None if self.losses is None else self.losses[keep]
        return dataclasses.replace(self, steps=self.steps[keep], losses=losses)


def rates_differ(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """The indices where a branch's rates ``mine`` are not its parent's ``theirs`` (relative ``1e-6``: a rate
    logged in float32 passes; a cooldown's first step from the peak does not).

    >>> rates_differ(np.array([3e-4, 3e-4, 2.997e-4]), np.array([3e-4, 3.0000001e-4, 3e-4])).tolist()
    [2]
    """
    scale = max(1.0, float(theirs.max(initial=0.0)))
    return np.flatnonzero(~np.isclose(mine, theirs, rtol=1e-6, atol=1e-12 * scale))


def _final(final: Any, final_step: Any, last: int) -> tuple[int, float | None]:
    """``(final_step, final)`` checked: a finite loss after a whole number >= 1 of updates (0, None: none)."""
    if final is None:
        if final_step is not None:
            raise ValueError(f"final_step: given ({final_step!r}) without a final loss (final=)")
        return 0, None
    if isinstance(final, bool) or not isinstance(final, (int, float, np.floating, np.integer)):
        raise ValueError(f"final: a final loss must be a number, got {final!r}")
    if not math.isfinite(final) or final <= 0:
        raise ValueError(f"final: a final loss must be finite and > 0 (errors are relative), got {final!r}")
    step = last if final_step is None else final_step
    try:
        counted = whole("final_step", step)
    except ValueError:
        raise ValueError(
            f"final_step: the updates before the final loss must be a whole number >= 1, got {step!r}"
        ) from None
    if counted < last:
        raise ValueError(
            f"final_step: the final loss is measured at the run's end, after its last logged step {last}; got {step!r}"
        )
    return counted, float(final)


def fitted_runs(runs: Any, where: str = "runs") -> list[Run]:
    """``runs`` checked to be :class:`Run` values, each branch whose parent is also given reduced to its own points.

    A path or a string in place of a run is an error that names :func:`lrkit.curves.read_run`.
    """
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence):
        raise ValueError(f"{where}: give a list of Run values (curves.read_run(path, schedule) reads one)")
    for i, run in enumerate(runs):
        if not isinstance(run, Run):
            hint = (
                f"read the file first: lrkit.curves.read_run({str(run)!r}, schedule)"
                if isinstance(run, (str, PathLike))
                else "build one with Run.of(schedule, steps, losses) or lrkit.curves.read_run(path)"
            )
            raise ValueError(f"{where}[{i}]: expected a Run, got {type(run).__name__} {run!r:.60}; {hint}")
        twin = next((j for j in range(i) if _same(runs[j], run)), None)
        if twin is not None:  # fitted twice it would weigh twice, and a jackknife would leave one copy out
            raise ValueError(f"{where}[{i}]: the run {run.name!r} is given twice ({where}[{twin}]); give each run once")
    return [_without_shared(run, runs) for run in runs]


def _without_shared(run: Run, runs: Sequence[Run]) -> Run:
    """``run`` without the points it shares with its nearest ancestor among ``runs`` (a branch of a branch fitted with
    its grandparent keeps the middle run's points and its own, after the grandparent's branch point)."""
    child, ancestor, at = run, run.parent, run.at
    while ancestor is not None:
        at = min(at, child.at)  # shared with an ancestor up to the earliest branch point on the way to it
        if any(_same(ancestor, r) for r in runs):
            keep = run.steps > at
            losses = None if run.losses is None else run.losses[keep]
            return dataclasses.replace(run, steps=run.steps[keep], losses=losses)
        child, ancestor = ancestor, ancestor.parent
    return run


def _same(a: Run, b: Run) -> bool:
    if a is b:
        return True
    return (
        a.name == b.name
        and np.array_equal(a.steps, b.steps)
        and np.array_equal(a.lrs, b.lrs)
        and (a.losses is None) == (b.losses is None)
        and (a.losses is None or np.array_equal(a.losses, b.losses))  # type: ignore[arg-type]
    )


def as_law(law: Any, where: str = "law") -> Law:
    """``law`` as a :class:`Law`: a law, a :class:`Fit`'s law (what :func:`fit` returns) or a law file's
    (:func:`lrkit.curves.load_law`); anything else (a law file's path, a law's name) is a ``ValueError`` naming
    ``where`` and how to get a law."""
    from lrkit.curves.lawfile import LawFile

    if isinstance(law, Law):
        return law
    if isinstance(law, (Fit, LawFile)):
        return law.law
    hint = (
        "read the file first: curves.load_law(path)"
        if isinstance(law, (str, PathLike))
        else "give curves.fit(...) or its .law"
    )
    raise ValueError(
        f"{where}: expected a curves.Law, a curves.Fit or a law file (curves.load_law), got {type(law).__name__} "
        f"{law!r:.60}; {hint}"
    )


@dataclass(frozen=True)
class RunScore:
    """How well a law matches one run: over its logged points, the relative errors ``|pred - loss| / loss``.

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Run, score
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> sched = (lk.warmup(100) >> lk.cosine(900, floor=0.1)) * 3e-4
    >>> run = Run.of(sched, [200, 600, 1000], law.predict(sched, [200, 600, 1000]) * 1.01, name="cosine")
    >>> r = score(law, [run]).runs[0]  # the losses are 1% above the law's
    >>> r.name, r.points, round(r.mean_error, 4), round(r.worst_error, 4)
    ('cosine', 3, 0.0099, 0.0099)
    """

    name: str
    points: int
    mean_error: float  # mean relative error
    worst_error: float  # largest relative error
    rmse: float
    r2: float
    final_loss: float
    predicted_final: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Score:
    """A law's prediction of several runs.

    ``mean_error`` is the mean relative error over all logged points of all runs (long runs, with
    more points, weigh more); ``run_mean_error`` is the mean of the runs' own mean errors (every run
    weighs the same; the figures 0.110% / 0.142% of the published parameters in the data's README are
    this one).

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Run, score
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> sched = (lk.warmup(100) >> lk.cosine(900, floor=0.1)) * 3e-4
    >>> run = Run.of(sched, [200, 600, 1000], law.predict(sched, [200, 600, 1000]) * 1.01)
    >>> s = score(law, [run])
    >>> round(s.mean_error, 4), round(s.run_mean_error, 4), len(s.runs), s.min_r2 > 0.99
    (0.0099, 0.0099, 1, True)
    """

    runs: tuple[RunScore, ...]
    mean_error: float
    worst_error: float
    min_r2: float
    run_mean_error: float = math.nan
    residuals: tuple[np.ndarray, ...] = field(repr=False, default=())
    predictions: tuple[np.ndarray, ...] = field(repr=False, default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (errors as fractions, not percent)."""
        figures = {k: getattr(self, k) for k in ("mean_error", "run_mean_error", "worst_error", "min_r2")}
        return {**figures, "runs": [r.to_dict() for r in self.runs]}

    def table(self) -> str:
        """A Markdown table, errors in percent."""
        rows = [
            "| run | points | mean error | worst error | R^2 | final loss | predicted |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in self.runs:
            rows.append(
                f"| {r.name} | {r.points} | {100 * r.mean_error:.3f}% | {100 * r.worst_error:.3f}% | {r.r2:.4f} | "
                f"{r.final_loss:.4f} | {r.predicted_final:.4f} |"
            )
        rows.append(
            f"| **all** | {sum(r.points for r in self.runs)} | **{100 * self.mean_error:.3f}%** | "
            f"{100 * self.worst_error:.3f}% | {self.min_r2:.4f} | | |"
        )
        if len(self.runs) > 1:
            rows.append(f"| mean of the runs | | {100 * self.run_mean_error:.3f}% | | | | |")
        return "\n".join(rows)


def _rms(residuals: np.ndarray) -> float:
    """Root mean square, computed in :func:`~lrkit.curves.laws.magnitude` units (no overflow for huge losses)."""
    unit = magnitude(residuals)
    return unit * float(np.sqrt(np.mean((residuals / unit) ** 2)))


def _r_squared(losses: np.ndarray, residuals: np.ndarray) -> float:
    """``1 - SS_res / SS_tot``, both in :func:`~lrkit.curves.laws.magnitude` units of the losses (no overflow for
    huge losses); ``nan`` when the losses do not vary (``SS_tot = 0``: R^2 is undefined)."""
    unit = magnitude(losses)
    total = float(np.sum(((losses - losses.mean()) / unit) ** 2))
    if not total > 0:
        return math.nan
    return 1.0 - float(np.sum((residuals / unit) ** 2)) / total


def score(law: Law, runs: Sequence[Run]) -> Score:
    """Compare ``law``'s prediction with each run's logged losses (runs without losses are an error).

    A run with a ``final`` (:attr:`Run.final`, measured by another evaluation) reports that as its
    final loss and the law's loss after ``final_step`` updates as the predicted one; a branch whose
    parent is also given is scored on its own points only (:meth:`Run.own`).

    >>> import lrkit as lk
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> sched = (lk.warmup(100) >> lk.cosine(900, floor=0.1)) * 3e-4
    >>> steps = [200, 600, 1000]
    >>> s = score(law, [Run.of(sched, steps, law.predict(sched, steps) * 1.01)])
    >>> round(s.mean_error, 4), round(s.worst_error, 4)
    (0.0099, 0.0099)
    """
    law = as_law(law)
    runs = fitted_runs(runs)
    if not runs:
        raise ValueError("runs: give at least one run with losses")
    out, residuals, predictions = [], [], []
    for run in runs:
        if run.losses is None:
            raise ValueError(f"run {run.name!r} has no losses to score against")
        pred = law.predict(run.lrs, run.steps)  # exact up to 10^7 (step, update) pairs, grouped beyond
        final, predicted_final = float(run.losses[-1]), float(pred[-1])
        if run.final is not None:  # measured by its own evaluation: compare the law's final with it
            final = run.final
            predicted_final = float(law.predict(run.lrs, np.array([run.final_step]))[0])
        res = pred - run.losses
        rel = np.abs(res) / np.abs(run.losses)
        r2 = _r_squared(run.losses, res)
        out.append(
            RunScore(
                name=run.name,
                points=int(run.steps.size),
                mean_error=float(rel.mean()),
                worst_error=float(rel.max()),
                rmse=_rms(res),
                r2=r2,
                final_loss=final,
                predicted_final=predicted_final,
            )
        )
        residuals.append(res)
        predictions.append(pred)
    every = np.concatenate([np.abs(r) / np.abs(run.losses) for r, run in zip(residuals, runs)])  # type: ignore[arg-type]
    r2s = [r.r2 for r in out if not math.isnan(r.r2)]
    return Score(
        runs=tuple(out),
        mean_error=float(every.mean()),
        worst_error=float(every.max()),
        min_r2=min(r2s) if r2s else math.nan,
        run_mean_error=float(np.mean([r.mean_error for r in out])),
        residuals=tuple(residuals),
        predictions=tuple(predictions),
    )


@dataclass(frozen=True)
class Fit:
    """A fitted law and the quality of its fit on the runs it was fitted on (what :func:`fit` returns).

    >>> import numpy as np
    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Run, fit
    >>> true = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> steps = np.arange(128, 2001, 128)
    >>> shapes = [lk.warmup(100) >> lk.constant(1.0), lk.warmup(100) >> lk.cosine(1900, floor=0.1)]
    >>> result = fit([Run.of(s * 3e-4, steps, true.predict(s * 3e-4, steps)) for s in shapes], "multi_power")
    >>> result.method, result.weights, result.converged, result.quality.worst_error < 1e-2
    ('staged', 'runs', True, True)
    """

    law: Law
    runs: tuple[Run, ...] = field(repr=False)
    quality: Score
    seconds: float
    evaluations: int
    converged: bool
    problems: tuple[str, ...] = ()
    #: how it was fitted: "staged" (the law's :meth:`Law.stages`), "refit" (its :meth:`Law.refit_stages`) or "joint"
    #: (every parameter at once)
    method: str = "joint"
    #: how the points were weighed: "runs" (each run the same in total) or "points" (each point the same)
    weights: str = "runs"
    #: the parameters' uncertainty (:class:`lrkit.curves.Uncertainty`): what every interval is computed from
    uncertainty: Uncertainty | None = None
    #: ``law="auto"``: each candidate law's leave-one-run-out mean error, ``(name, error)`` (empty otherwise)
    selection: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the law, the fit's quality and (``"uncertainty"``) the parameters' covariance."""
        extra = {} if self.uncertainty is None else {"uncertainty": self.uncertainty.to_dict()}
        return {
            **self.law.to_dict(),
            **extra,
            "fit": {
                "runs": [r.name for r in self.runs],
                "method": self.method,
                "weights": self.weights,
                "seconds": self.seconds,
                "evaluations": self.evaluations,
                "converged": self.converged,
                "problems": list(self.problems),
                **({"selection": dict(self.selection)} if self.selection else {}),
                **self.quality.to_dict(),
            },
        }

    def report(self) -> str:
        """Parameters and the quality table, as Markdown."""
        lines = [f"{type(self.law).__name__} fitted on {len(self.runs)} run(s) in {self.seconds:.2f} s", ""]
        if self.selection:
            errors = ", ".join(f"{name} {100 * e:.3f}%" for name, e in self.selection)
            lines += [f"law chosen by leave-one-run-out mean error: {errors}", ""]
        lines.append("| " + " | ".join(self.law.param_names()) + " |")
        lines.append("|" + " ---: |" * len(self.law.param_names()))
        lines.append("| " + " | ".join(f"{x:.6g}" for x in self.law.vector()) + " |")
        lines += ["", self.quality.table()]
        lines += [f"\nwarning: {p}" for p in self.problems]
        return "\n".join(lines)


def _auto_resolution(runs: Sequence[Run]) -> int:
    longest = max(int(r.steps.max()) for r in runs)
    return max(1, longest // 375)


#: How :func:`fit` may fit a law: its :meth:`Law.stages`, its :meth:`Law.refit_stages`, or every parameter at once.
METHODS = ("staged", "refit", "joint")

#: A fitted run with more logged points than this (after the warmup) is fitted on the means of consecutive
#: points, this many per run, each weighed by the points it holds (memory and time linear in the log).
MAX_POINTS = 2000


def _binned(run: Run, most: int) -> tuple[Run, np.ndarray]:
    """``run`` with at most ``most`` points (the means of consecutive ones) and each point's count."""
    n = run.steps.size
    if n <= most:
        return run, np.ones(n)
    edges = np.linspace(0, n, most + 1).round().astype(np.int64)
    counts = np.diff(edges).astype(np.float64)
    ids = np.repeat(np.arange(most), np.diff(edges))
    steps = np.round(np.bincount(ids, weights=run.steps) / counts).astype(np.int64)
    losses = np.bincount(ids, weights=run.losses) / counts  # type: ignore[arg-type]
    return Run(run.lrs, steps, losses, run.name, run.schedule), counts


def _check_law(law: Any) -> tuple[type[Law], dict[str, Any]]:
    if isinstance(law, str):
        if law not in LAWS:
            raise ValueError(
                f"law: unknown law {law!r}; known: {', '.join(LAWS)}, 'auto' (or a Law class or instance)"
            )
        return LAWS[law], {}
    if isinstance(law, type) and issubclass(law, Law):
        return law, {}
    if isinstance(law, Law):
        return type(law), law.settings()
    raise ValueError(
        f"law: expected a law name ({', '.join(LAWS)}), a Law class or a Law instance, got {law!r} "
        f"({type(law).__name__})"
    )


def _weighted_huber(weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """scipy ``least_squares``'s Huber loss ``rho(z)`` (``z`` the squared scaled residual) times a weight
    per residual: the objective ``sum_j w_j huber(r_j)``, with its two derivatives in ``z``."""

    def rho(z: np.ndarray) -> np.ndarray:
        out = np.empty((3, z.size))
        small = z <= 1
        root = np.sqrt(np.where(small, 1.0, z))
        out[0] = np.where(small, z, 2 * root - 1)
        out[1] = np.where(small, 1.0, 1 / root)
        out[2] = np.where(small, 0.0, -0.5 / (root * root * root))
        return out * weights

    return rho


def _inside(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``x`` moved strictly inside the bounds (``least_squares`` starts from an interior point)."""
    span = np.where(np.isfinite(high - low), high - low, np.where(np.isfinite(low), np.maximum(1.0, np.abs(low)), 1.0))
    eps = 1e-6 * span
    return np.minimum(np.maximum(x, low + eps), np.where(np.isfinite(high), high - eps, np.inf))


_P = ParamSpec("_P")
_R = TypeVar("_R")
#: whether this context already runs a fit (a fit's inner fits: selection, jackknife)
_IN_FIT: ContextVar[bool] = ContextVar("lrkit_curves_in_fit", default=False)


def _one_fit(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` run as one fit, with its inner fits (law selection, jackknife): the BLAS libraries numpy and
    scipy loaded on one thread (threadpoolctl), and each exact precomputation a law keeps (laws._kept: the
    convex bound's terms of a run) computed once.

    A fit's products are a few thousand points by a few hundred blocks: too small for BLAS threads to gain,
    whose busy waits between calls only burn the machine's other cores (about 3x a fit's CPU time on 2 cores,
    and more wall time on a loaded machine). Either way the numbers are the same.
    """

    @functools.wraps(func)
    def whole(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if _IN_FIT.get():
            return func(*args, **kwargs)
        from lrkit.core._extras import require

        threadpoolctl = require("threadpoolctl", "curves", purpose="fitting a law")
        token = _IN_FIT.set(True)
        try:
            with threadpoolctl.threadpool_limits(limits=1, user_api="blas"), _keeping():
                return func(*args, **kwargs)
        finally:
            _IN_FIT.reset(token)

    return whole


#: The widest span of the fitted runs' peak rates a fit takes without a word (chosen before any figure as a sanity
#: bound, not a tuned constant: the published sweeps and the 124M grid span 20x at most, a unit slip 1,000x or more).
PEAK_SPAN = 100.0


@_one_fit
def fit(
    runs: Sequence[Run],
    law: type[Law] | Law | str = "auto",
    *,
    method: str = "staged",
    delta: float = 1e-3,
    relative: bool = True,
    skip_warmup: bool = True,
    resolution: int | None = None,
    max_evaluations: int = 400,
    weights: str = "runs",
    prior: Mapping[str, tuple[float, float]] | str | None = "law",
    jackknife: bool = True,
) -> Fit:
    """Fit ``law`` (a law class, a law whose fixed settings to keep, a name of :data:`LAWS`, or ``"auto"``) to runs.

    ``law="auto"`` (the default) chooses, by each candidate's leave-one-run-out error on ``runs``, between the
    multi-power law (with ``method="staged"``: its staged fit and its refit) and the convex drop law
    (:mod:`lrkit.curves.selection`; the multi-power law's staged fit with a single run), fits the chosen one
    and records every candidate's held-out error in :attr:`Fit.selection`; the chosen one's held-out fits are
    the jackknife's. On the published 25M / 100M curves it picks the multi-power law's refit, on the 124M
    schedule grid's cooldown branches the convex drop (docs/curves.md).

    Minimises the Huber loss ``sum_j huber_delta(r_j)`` of the residuals over every logged point
    of every run with ``scipy.optimize.least_squares`` (trust-region reflective, bounds, the
    analytic Jacobian), from each of the law's starting points (:meth:`Law.guesses`;
    deterministic), keeping the best. As Luo et al. (arXiv:2503.12811, their code), the residual
    is ``r_j = log(pred_j) - log(loss_j)`` (about the relative error) and ``delta = 1e-3``;
    ``relative=False`` takes ``pred_j - loss_j`` instead (``delta`` then in loss units).

    ``method="staged"`` (the default) follows the law's :meth:`Law.stages` where it has them: the
    multi-power law is fitted as the paper does, ``L0, A, alpha, B`` in its realised-drop limit
    first, then ``C, beta, gamma`` with those four held (on the published curves this extrapolates
    better than the joint optimum: 0.100% / 0.135% mean error against 0.131% / 0.165%, see
    docs/curves.md). ``method="joint"`` fits every parameter at once (the objective's optimum; it
    recovers the parameters of a noiseless curve of the law exactly, which the staged fit does only
    approximately). ``method="refit"`` follows the law's :meth:`Law.refit_stages` (the multi-power law's
    second step also refits ``alpha`` and ``B``), its stages where it has none. A law without stages is
    fitted jointly either way.

    ``weights="runs"`` (the default) weighs every run the same in total, whatever the number of
    points it logged (``sum_j w_j huber(r_j)``, ``w_j = mean points per run / points of j's run``), as
    the figure of merit, the mean of the runs' own mean errors, does; ``weights="points"`` weighs
    every point the same (the paper's code), so a run logged twice as often counts twice. On the
    published curves, each run weighed the same predicts the other six with 0.100% / 0.135% mean
    error against 0.115% / 0.140% (25M / 100M); over the 33 other choices of three fitted runs of
    unequal lengths it is better on 27 / 13 and worse on 5 / 20, lowering the mean error over them
    from 0.129% / 0.129% to 0.122% / 0.125% (bench/curves.py --splits).

    ``prior="law"`` (the default) adds the law's :meth:`Law.prior`: for the multi-power law a residual
    ``delta * sqrt(W) * (log p - log centre) / sd`` on each of ``C, beta, gamma`` (centred on Luo et
    al.'s published values, sd 1; ``W`` the points' total weight), which keeps the three parameters
    the runs leave poorly determined off their bounds; ``None``: no prior; or a mapping ``{name:
    (centre, sd of log)}``. ``jackknife=True`` (the default) also fits the law once with each run
    left out; :attr:`Fit.uncertainty` (the Laplace covariance, see :mod:`lrkit.curves.intervals`)
    carries those fits, and every interval their spread. With a single run, or where only one run decays
    (a stable run and one cooldown branch: leaving the branch out leaves no drop to fit), it leaves out
    each half of each run's points instead (:func:`lrkit.curves.selection.jackknife_unit`).

    While fitting, decreases of up to ``resolution`` consecutive updates are grouped (default:
    the longest run / 375); the reported quality uses the law exact up to 10^7 (step, update) pairs. A
    run with more than :data:`MAX_POINTS` points after its warmup is fitted on that many means of
    consecutive points, each weighed by its count (memory and time linear in the log). Points during
    the warmup are left out unless
    ``skip_warmup=False``. A poor fit (R^2 < 0.99 on a run, or no convergence) emits
    :class:`CurveFitWarning` and lists the problem in :attr:`Fit.problems`. The fit runs numpy's and scipy's
    BLAS on one thread (threadpoolctl; its products are too small to gain from more) and gives the threads
    back when it returns.

    >>> import lrkit as lk
    >>> true = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> w = lk.warmup(100)
    >>> schedules = [w >> lk.constant(1.0), w >> lk.cosine(1900, floor=0.1),
    ...              w >> lk.constant(1.0, 900) >> lk.constant(0.3)]
    >>> steps = np.arange(128, 2001, 64)
    >>> runs = [Run.of(s * 3e-4, steps, true.predict(s * 3e-4, steps)) for s in schedules]
    >>> result = fit(runs, method="joint", prior=None)
    >>> result.quality.worst_error < 1e-4, result.quality.min_r2 > 0.999
    (True, True)
    >>> staged = fit(runs)  # the paper's two steps, with the default prior: close, not exact (0.5% worst here)
    >>> staged.quality.worst_error < 1e-2, staged.quality.min_r2 > 0.99
    (True, True)
    """
    from lrkit.core._extras import require

    require("scipy", "curves", purpose="fitting a law")  # missing: a hint naming the extra
    from scipy.optimize import least_squares

    start = time.perf_counter()
    delta, max_evaluations, resolution = _fit_options(
        delta, max_evaluations, resolution, skip_warmup=skip_warmup, relative=relative, jackknife=jackknife
    )
    if method not in METHODS:
        raise ValueError(f"method must be 'staged', 'refit' or 'joint', got {method!r}")
    if isinstance(law, str) and law == "auto":
        from lrkit.curves.selection import select

        fitted_runs(runs)  # checked first: one line naming what is wrong
        if prior is not None and not isinstance(prior, str):
            # the laws auto compares share names, not meanings (multi_power's C is about 2, convex_drop's 10-200):
            # a mapping would centre one law's C on the other's, or fail one law's fit and leave it out in silence
            raise ValueError(
                "prior: a mapping names one law's parameters; law='auto' fits two (multi_power and convex_drop), so "
                "give the law it is for (fit(runs, 'convex_drop', prior=...)), or prior='law' or None"
            )
        options: dict[str, Any] = dict(
            method=method, delta=delta, relative=relative, skip_warmup=skip_warmup, resolution=resolution,
            max_evaluations=max_evaluations, weights=weights, prior=prior,
        )
        (picked, options["method"]), scores, left_out = select(runs, **options)
        result = fit(runs, picked, **options, jackknife=False)
        if jackknife and result.uncertainty is not None:
            from lrkit.curves.selection import held_out_blocks, jackknife_unit

            # over runs, the chosen law's leave-one-run-out fits are the jackknife's: reused, not fitted again
            by_runs = jackknife_unit(fitted_runs(runs)) == "runs"
            ensemble = left_out if by_runs else held_out_blocks(runs, picked, **options)
            result = dataclasses.replace(result, uncertainty=dataclasses.replace(result.uncertainty,
                                                                                 ensemble=tuple(ensemble)))
        return dataclasses.replace(result, selection=scores, seconds=time.perf_counter() - start)
    kind, settings = _check_law(law)
    given = runs
    runs = fitted_runs(runs)
    if not runs:
        raise ValueError("runs: give at least one run with losses")
    if weights not in ("runs", "points"):
        raise ValueError(f"weights must be 'runs' or 'points', got {weights!r}")
    centres = _check_prior(kind, prior)
    used, counts = [], []
    for run in runs:
        if run.losses is None:
            raise ValueError(f"run {run.name!r} has no losses: a fit needs logged losses")
        kept = run.after_warmup() if skip_warmup else run
        if kept.steps.size == 0:
            raise ValueError(f"run {run.name!r} has no logged loss after its warmup")
        kept, count = _binned(kept, MAX_POINTS)
        used.append(kept)
        counts.append(count)
    total = sum(r.steps.size for r in used)
    if total < len(kind.param_names()) + 1:
        raise ValueError(f"runs: {total} points cannot fit {len(kind.param_names())} parameters; log more losses")
    res = _auto_resolution(used) if resolution is None else resolution
    prepared = [kind.prepare(r.lrs, r.steps, res, **settings) for r in used]
    losses = [r.losses for r in used]
    y: np.ndarray = np.concatenate(losses)  # type: ignore[arg-type]
    sizes = [float(c.sum()) for c in counts]
    point_weights = np.concatenate(
        [c * (np.mean(sizes) / n if weights == "runs" else 1.0) for c, n in zip(counts, sizes)]
    )
    loss: Any = _weighted_huber(np.concatenate([point_weights, np.ones(len(centres))]))
    prior_index = np.array([kind.param_names().index(n) for n in centres], dtype=np.int64)
    prior_log_centre = np.log(np.array([c for c, _ in centres.values()]))
    prior_scale = delta * np.sqrt(point_weights.sum()) / np.array([sd for _, sd in centres.values()])
    if relative and not np.all(y > 0):
        run = next(r for r in used if not np.all(r.losses > 0))  # type: ignore[operator]
        at = int(np.argmax(~(run.losses > 0)))  # type: ignore[operator]
        loss = float(run.losses[at])  # type: ignore[index]
        raise ValueError(
            f"run {run.name or '(unnamed)'!r}: the loss after {int(run.steps[at])} updates is {loss:g}; "
            "the fit measures relative errors, which need losses > 0 (a loss shifted below 0? in Python, "
            "curves.fit(..., relative=False) fits absolute errors)"
        )
    names = kind.param_names()
    low, high = kind.bounds()
    template = kind.guesses(prepared, losses, settings)  # type: ignore[arg-type]
    refit = kind.refit_stages() if method == "refit" else None
    stages = ((refit or kind.stages()) if method != "joint" else None) or (Stage(names),)
    how = "joint" if len(stages) == 1 else "refit" if refit else "staged"  # what was done, recorded in the Fit

    evaluations = 0
    log_y = np.log(y) if relative else y

    def solve(x0: np.ndarray, free: np.ndarray) -> Any:
        def residuals(theta: np.ndarray) -> np.ndarray:
            nonlocal evaluations
            evaluations += 1
            x = x0.copy()
            x[free] = theta
            current = template[0]._trial(x)
            pred = np.concatenate([current.evaluate(p)[0] for p in prepared])
            data = np.log(np.maximum(pred, 1e-12)) - log_y if relative else pred - y
            held = x[prior_index]
            gap = np.where(np.isfinite(held), np.log(np.maximum(held, 1e-300)) - prior_log_centre, 0.0)
            return np.concatenate((data, prior_scale * gap))

        def jacobian(theta: np.ndarray) -> np.ndarray:
            x = x0.copy()
            x[free] = theta
            current = template[0]._trial(x)
            parts = [current.evaluate(p, jacobian=True) for p in prepared]
            jac = np.concatenate([j for _, j in parts])[:, free]  # type: ignore[misc]
            if relative:
                jac = jac / np.maximum(np.concatenate([v for v, _ in parts]), 1e-12)[:, None]
            extra = np.zeros((prior_index.size, names_count))
            held = x[prior_index]
            extra[np.arange(prior_index.size), prior_index] = np.where(
                np.isfinite(held), prior_scale / np.maximum(held, 1e-300), 0.0
            )
            return np.concatenate((jac, extra[:, free]))

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            result = least_squares(
                residuals,
                _inside(x0[free], low[free], high[free]),
                jac=jacobian,
                bounds=(low[free], high[free]),
                loss=loss,
                f_scale=delta,
                x_scale="jac",
                method="trf",
                max_nfev=max_evaluations,
                xtol=1e-12,
                ftol=1e-12,
                gtol=1e-10,
            )
        x = x0.copy()
        x[free] = result.x
        return result, x

    names_count = len(names)
    index = {n: i for i, n in enumerate(names)}
    points = [g.vector() for g in template]
    best: Any = None
    for stage in stages:
        unknown = [n for n in (*stage.free, *stage.hold, *(k for s in stage.starts for k in s)) if n not in index]
        if unknown:
            raise ValueError(f"{kind.__name__}.stages(): unknown parameter {unknown[0]!r}")
        free = np.array([index[n] for n in stage.free])
        if stage.starts:
            points = [p.copy() for p in points[:1] for _ in stage.starts]
            for p, values in zip(points, stage.starts):
                for n, v in values.items():
                    p[index[n]] = v
        best, chosen = None, points[0]
        for x0 in points:
            x0 = x0.copy()
            for n, v in stage.hold.items():
                x0[index[n]] = v
            result, x = solve(x0, free)
            if np.all(np.isfinite(result.x)) and (best is None or result.cost < best.cost):
                best, chosen = result, x
        if best is None:
            raise ValueError("the fit failed from every starting point (the losses may not follow the law)")
        points = [chosen]
    if not np.all(np.isfinite(points[0])):
        raise ValueError(f"{kind.__name__}.stages(): a held parameter was never fitted again")
    fitted = template[0].replace(points[0])
    quality = score(fitted, used)
    uncertainty = covariance(
        fitted, prepared, used, point_weights, relative=relative,
        prior=(prior_index, prior_scale) if prior_index.size else None,
    )
    problems = []
    if all(float(r.lrs.max(initial=0.0)) == 1.0 for r in used):
        # lrkit's schedules are multipliers (lk.cosine(n) peaks at 1): a law fitted on them predicts only schedules
        # in multipliers, and a schedule in absolute rates given to it later is read 3,000x off, in silence
        problems.append(
            "every fitted run's learning rate peaks at exactly 1: if these are lrkit multipliers (lk.cosine(n)), "
            "give the rates the runs were trained at (lk.cosine(n) * peak; on the command line --lr PEAK), or "
            "predict with this law only schedules in the same multipliers"
        )
    tops = [float(r.lrs.max(initial=0.0)) for r in used]
    if tops and min(tops) > 0 and max(tops) / min(tops) > PEAK_SPAN:
        # one log's lr column in multipliers (peak 1) among runs in absolute rates fitted with R^2 < 0 and no word
        # of the cause
        problems.append(
            f"the fitted runs' peak learning rates span {min(tops):.3g} to {max(tops):.3g} "
            f"({max(tops) / min(tops):.0f}x, more than {PEAK_SPAN:g}x): check they are in one unit (a log's lr "
            "column in multipliers, or a spec already times the peak and then times --lr again?)"
        )
    if not best.success:
        problems.append(f"the optimizer stopped before converging ({best.message})")
    if uncertainty.at_bounds:
        ends = ", ".join(
            f"{n} = {getattr(fitted, n):.3g} (bounds {low[i]:g} to {high[i]:g})"
            for i, n in enumerate(names) if n in uncertainty.at_bounds
        )
        problems.append(
            f"the fit ended at a bound: {ends}. The runs do not pin it down, so predictions that depend on it "
            "are extrapolation and curves.choose declines to rank; fit more varied runs (a bound on A or L0 "
            "also meets losses far from order 1: rescale them)"
        )
    for r in quality.runs:
        if math.isnan(r.r2):
            problems.append(
                f"run {r.name!r}: every logged loss is the same, so it says nothing of the curve's shape "
                "(R^2 is undefined); log a run whose loss moves"
            )
        elif r.r2 < 0.99:
            problems.append(f"R^2 = {r.r2:.4f} < 0.99 on run {r.name!r}: the law fits it poorly")
    if jackknife:
        # the ensemble of fits that each leave one run out: how much the prediction depends on which runs
        # were fitted (a jackknife over runs; lrkit.curves.intervals adds its spread to every interval). A branch
        # whose parent is left out keeps the parent's points before its branch point: it was trained on them.
        # Where that would leave a fit without what it fits (one run; one decaying run), half a run's points.
        from lrkit.curves.selection import held_out, held_out_blocks, jackknife_unit

        inner: dict[str, Any] = dict(method=method, delta=delta, relative=relative, skip_warmup=skip_warmup,
                                     resolution=resolution, max_evaluations=max_evaluations, weights=weights,
                                     prior=prior)
        if jackknife_unit(runs) == "runs":
            _, laws = held_out(given, law, **inner)
        else:
            laws = held_out_blocks(given, law, **inner)
        uncertainty = dataclasses.replace(uncertainty, ensemble=tuple(laws))
    for problem in problems:
        warnings.warn(CurveFitWarning(problem), stacklevel=2)
    return Fit(
        law=fitted,
        runs=tuple(used),
        quality=quality,
        seconds=time.perf_counter() - start,
        evaluations=evaluations,
        converged=bool(best.success),
        problems=tuple(problems),
        method=how,
        weights=weights,
        uncertainty=uncertainty,
    )


def _fit_options(
    delta: Any, max_evaluations: Any, resolution: Any, **flags: Any
) -> tuple[float, int, int | None]:
    """:func:`fit`'s numeric options checked (``ValueError`` naming the option): ``delta`` a finite number > 0,
    ``max_evaluations`` and ``resolution`` (or ``None``) whole numbers >= 1, each flag ``True`` or ``False``."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name}: must be True or False, got {value!r:.60}")
    return (
        positive_number("delta", delta),
        whole("max_evaluations", max_evaluations),
        None if resolution is None else whole("resolution", resolution),
    )


def _check_prior(
    kind: type[Law], prior: Mapping[str, tuple[float, float]] | str | None
) -> dict[str, tuple[float, float]]:
    """The prior as ``{name: (centre, sd of log)}``: ``"law"`` takes the law's :meth:`Law.prior`, ``None`` none."""
    if prior is None:
        return {}
    if isinstance(prior, str):
        if prior != "law":
            raise ValueError(f"prior: expected 'law', None or a mapping name -> (centre, sd), got {prior!r}")
        return dict(kind.prior())
    if not isinstance(prior, Mapping):
        raise ValueError(f"prior: expected 'law', None or a mapping name -> (centre, sd), got {type(prior).__name__}")
    out = {}
    for name, value in prior.items():
        if name not in kind.param_names():
            raise ValueError(f"prior: {kind.__name__} has no parameter {name!r}; its parameters: "
                             f"{', '.join(kind.param_names())}")
        try:
            centre, sd = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"prior: {name!r} needs (centre, sd of its log), got {value!r}") from None
        if not (centre > 0 and sd > 0 and math.isfinite(centre) and math.isfinite(sd)):
            raise ValueError(f"prior: {name!r} needs a centre > 0 and an sd > 0, got {value!r}")
        out[name] = (centre, sd)
    return out


def law_from_dict(data: Mapping[str, Any]) -> Law:
    """The law a :meth:`Law.to_dict` or :meth:`Fit.to_dict` dict describes, validated whole.

    ``law`` must name a known law; every fitted parameter must be present and a finite number, and
    so must a fixed setting given; a key the law does not have is an error (besides ``fit``,
    ``version`` and ``lr``, which a law file adds: :func:`lrkit.curves.load_law` reads those).

    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> law_from_dict(law.to_dict()) == law
    True
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"law: expected an object with 'law' and the parameters, got {type(data).__name__}")
    name = data.get("law")
    if not isinstance(name, str) or name not in LAWS:
        raise ValueError(f"law: unknown law {name!r}; known laws: {', '.join(LAWS)}")
    kind = LAWS[name]
    names = [f.name for f in dataclasses.fields(kind) if f.init]
    unknown = [k for k in data if k not in names and k not in ("law", "fit", "version", "lr", "uncertainty")]
    if unknown:
        raise ValueError(f"law: unknown key {unknown[0]!r} for the {name} law (its keys: {', '.join(names)})")
    missing = [n for n in kind.param_names() if n not in data]
    if missing:
        raise ValueError(f"law: {name} needs the parameter {missing[0]!r}")
    values = {}
    low, high = kind.bounds()
    fitted = kind.param_names()
    for n in names:
        if n in data:
            value = data[n]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"law: parameter {n!r} must be a finite number, got {value!r}")
            if n in fitted:  # a fit never leaves its bounds: a value outside them was edited, or is another law's
                i = fitted.index(n)
                slack = 1e-9 * max(1.0, abs(value))
                if not low[i] - slack <= value <= high[i] + slack:
                    raise ValueError(
                        f"law: parameter {n!r} = {value!r} is outside {low[i]:g} to {high[i]:g}, the range a fit of "
                        f"the {name} law keeps it in (an edited file?); refit the law rather than edit it"
                    )
            values[n] = float(value)
    return kind(**values)


@dataclass(frozen=True)
class Ranking:
    """Candidate schedules ranked by predicted final loss at a budget (best first); :func:`rank` returns it.

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, rank
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> w = lk.warmup(2160)
    >>> r = rank(law, {"constant": (w >> lk.constant(1.0)) * 3e-4, "cosine": (w >> lk.cosine(21840)) * 3e-4}, 24000)
    >>> r.best, [name for name, _ in r.rows], r.budget
    ('cosine', ['cosine', 'constant'], 24000)
    >>> print(r.table().splitlines()[2])
    | 1 | cosine | 3.2687 | +0.0000 |
    """

    budget: int
    rows: tuple[tuple[str, float], ...]  # (name, predicted final loss)

    @property
    def best(self) -> str:
        return self.rows[0][0]

    def table(self) -> str:
        """A Markdown table: rank, schedule, predicted final loss, gap to the best."""
        best = self.rows[0][1]
        lines = [
            f"| rank | schedule | predicted loss at {self.budget:,} | vs best |",
            "| ---: | --- | ---: | ---: |",
        ]
        for i, (name, loss) in enumerate(self.rows, 1):
            lines.append(f"| {i} | {name} | {loss:.4f} | {loss - best:+.4f} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "ranking": [{"schedule": n, "predicted_loss": v} for n, v in self.rows]}


def rank(law: Law, candidates: Mapping[str, Any] | Sequence[Any], budget: int) -> Ranking:
    """Rank schedules (absolute learning rates) by the loss ``law`` predicts after ``budget`` updates.

    >>> import lrkit as lk
    >>> law = MultiPowerLaw(3.15, 0.52, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> w = lk.warmup(2160)
    >>> r = rank(law, {"constant": (w >> lk.constant(1.0)) * 3e-4, "cosine": (w >> lk.cosine(21840)) * 3e-4}, 24000)
    >>> r.best
    'cosine'
    """
    budget = plain(budget)
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float, np.integer, np.floating))
        or not (math.isfinite(budget) and float(budget).is_integer() and budget >= 1)
    ):
        raise ValueError(f"budget must be a whole number of updates >= 1, got {budget!r}")
    budget = int(budget)
    if budget > MAX_UPDATES:
        raise ValueError(_too_long("budget", budget))
    law = as_law(law)
    items = list(candidates.items()) if isinstance(candidates, Mapping) else [(_label(c), c) for c in candidates]
    if not items:
        raise ValueError("candidates: give at least one schedule")
    rows = []
    for name, schedule in items:
        try:
            rows.append((name, law.final(schedule, budget)))
        except ValueError as err:  # a schedule too short, or not one: the line names the candidate
            raise ValueError(f"candidates: {name!r}: {err}") from None
    rows.sort(key=lambda row: row[1])
    return Ranking(budget=budget, rows=tuple(rows))
