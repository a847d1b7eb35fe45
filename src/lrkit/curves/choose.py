"""Choose a schedule from a fitted law: rank candidates at one or several lengths, with intervals.

:func:`family` builds the usual candidates (WSD: cooldown fraction x shape x peak; cosine to a
floor x peak; any spec you add); :func:`choose` predicts each one's final loss with its interval
(:mod:`lrkit.curves.intervals`), ranks them, marks the ones *tied* with the best (the interval of
the difference contains 0), recommends the best as lrkit text config, and says which run, trained
next, would shrink the uncertainty of the choice most. It refuses to rank (``decided`` is False,
``reasons`` says why) when the fit ended at a bound of its parameters (there the law cannot tell
schedules apart by more than their area) or when the candidates tied with the best span predicted finals
wider than the fit's noise floor (:func:`resolvable`: one logged point's scatter around the law); tied
candidates within that floor of the best are "any of these", and the best is recommended.

>>> import lrkit as lk
>>> from lrkit.curves import MultiPowerLaw
>>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.65)
>>> cands = family(24000, peaks=[3e-4], warmup=2160, fractions=(0.1, 0.2), shapes=("linear",), cosine_floors=(0.1,))
>>> sorted(cands)
['cosine-0.1@0.0003', 'wsd-0.1-linear@0.0003', 'wsd-0.2-linear@0.0003']
>>> c = choose(law, cands, 24000)[0]
>>> c.decided, c.best.name  # no uncertainty given: nothing is tied
(True, 'wsd-0.1-linear@0.0003')
>>> lk.from_config(c.best.config)(24000 - 1) < 1e-4
True
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import lrkit as lk
from lrkit.curves.intervals import Uncertainty, _checked, difference, interval, z_value
from lrkit.curves.laws import MAX_UPDATES, Law, _too_long, learning_rates, plain, positive_number, whole

__all__ = ["Candidate", "Choice", "Row", "choose", "family", "resolvable"]


@dataclass(frozen=True)
class Candidate:
    """A schedule to compare: its lrkit text config (absolute learning rates) and, for reports, its peak.

    >>> from lrkit.curves import Candidate
    >>> c = Candidate("wsd", "(warmup(100) >> constant(steps=700) >> linear(200, 1.0, 0.0)) * 0.001", peak=1e-3)
    >>> c.schedule(500), c.schedule(1000)
    (0.001, 0.0)
    """

    name: str
    config: str
    peak: float = math.nan
    #: every update's learning rate, for a schedule lrkit's config cannot write (then ``config`` only describes it)
    rates: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def schedule(self) -> Any:
        """The absolute learning rates: an lrkit schedule (from :attr:`config`), or :attr:`rates`."""
        return self.rates if self.rates is not None else lk.from_config(self.config)


def _config(body: lk.Schedule, peak: float) -> str:
    return repr(body * float(peak))


def family(
    length: int,
    *,
    peaks: Iterable[float],
    warmup: int = 0,
    warmup_start: float = 0.0,
    fractions: Iterable[float] = (0.1, 0.2, 0.4, 0.6, 0.8, 0.9),
    shapes: Iterable[str] = ("linear", "1-sqrt"),
    floor: float = 0.0,
    cosine_floors: Iterable[float] = (0.0, 0.1),
    extra: Mapping[str, str] | None = None,
) -> dict[str, Candidate]:
    """Candidates for a run of ``length`` updates: for each peak, WSD (``warmup`` updates of linear warmup from
    ``warmup_start`` x peak, constant, then a cooldown over the last ``fraction`` of the run to ``floor`` x
    peak, each ``shape``: 'linear', '1-sqrt', 'cos') and a cosine from the peak to each of ``cosine_floors``
    (multipliers); ``extra``: more, as ``{name: lrkit text config in absolute rates}``.

    >>> from lrkit.curves import family
    >>> cands = family(24000, peaks=[3e-4], warmup=2160, fractions=(0.1, 0.2), shapes=("linear",),
    ...                cosine_floors=(0.1,))
    >>> sorted(cands)
    ['cosine-0.1@0.0003', 'wsd-0.1-linear@0.0003', 'wsd-0.2-linear@0.0003']
    >>> cands["wsd-0.1-linear@0.0003"].schedule(23999) < 1e-6  # cooled down to floor 0
    True
    """
    length, warmup = whole("length", length, minimum=2), whole("warmup", warmup, minimum=0)
    if not warmup < length:
        raise ValueError(f"warmup: must be >= 0 and < length {length}, got {warmup!r}")
    peaks = [positive_number("peaks", p) for p in _listed("peaks", peaks, "[3e-4, 1e-3]")]
    fractions = _listed("fractions", fractions, "[0.2, 0.6]")
    shapes = _listed("shapes", shapes, "['linear', '1-sqrt']")
    cosine_floors = _listed("cosine_floors", cosine_floors, "[0.0, 0.1]")
    for low in (floor, *cosine_floors):  # multipliers of the peak: a floor at or above it is no decay
        if isinstance(low, (bool, str)) or not (isinstance(low, numbers.Real) and 0 <= float(low) < 1):
            which = "floor" if low is floor else "cosine_floors"
            raise ValueError(f"{which}: a floor is a multiplier of the peak in [0, 1), got {low!r}")
    for name, values in (("peaks", peaks), ("fractions", fractions), ("shapes", shapes), ("cosine_floors",
                                                                                          cosine_floors)):
        printed = [f"{v:g}" if isinstance(v, numbers.Real) else str(v) for v in values]
        twice = next((v for i, v in enumerate(printed) if v in printed[:i]), None)
        if twice is not None:  # two candidates would share a name (a name prints each value to 6 digits)
            raise ValueError(f"{name}: two values read {twice} in a candidate's name; give each once, differing "
                             "within 6 digits")
    out: dict[str, Candidate] = {}
    skipped: list[float] = []
    rounded: list[float] = []  # a cooldown of less than half an update: none
    head = lk.warmup(warmup, start=warmup_start) if warmup else None
    for peak in peaks:
        for fraction in fractions:
            if isinstance(fraction, (bool, str)) or not 0 < fraction <= 1:
                raise ValueError(f"fractions: each cooldown fraction must be in (0, 1], got {fraction!r}")
            decay = round(fraction * length)
            stable = length - warmup - decay
            if decay < 1 or stable < 0:
                (rounded if decay < 1 else skipped).append(fraction)
                continue
            for shape in shapes:
                parts = [p for p in (head, lk.constant(1.0, stable) if stable else None) if p is not None]
                body: lk.Schedule = lk.anneal(decay, 1.0, floor, shape=shape)
                for p in reversed(parts):
                    body = p >> body
                out[f"wsd-{fraction:g}-{shape}@{peak:g}"] = Candidate(
                    f"wsd-{fraction:g}-{shape}@{peak:g}", _config(body, peak), float(peak)
                )
        for low in cosine_floors:
            cosine: lk.Schedule = lk.cosine(length - warmup, floor=low)
            if head is not None:
                cosine = head >> cosine
            out[f"cosine-{low:g}@{peak:g}"] = Candidate(
                f"cosine-{low:g}@{peak:g}", _config(cosine, peak), float(peak)
            )
    why = []
    if rounded:
        why.append(f"{', '.join(f'{f:g}' for f in sorted(set(rounded)))} of {length} updates round to a cooldown of 0 "
                   "updates")
    if skipped:
        why.append(f"{', '.join(f'{f:g}' for f in sorted(set(skipped)))} leave no constant phase after the warmup of "
                   f"{warmup} in {length} updates")
    if why:
        if not out and not extra:
            raise ValueError(f"fractions: {'; '.join(why)}, and no cosine floor is given: no candidate; give "
                             "fractions that fit the length, or a shorter warmup")
        warnings.warn(f"fractions: {'; '.join(why)}: no WSD candidate with them at this length", stacklevel=2)
    for name, config in (extra or {}).items():
        if not isinstance(config, str):
            kind = type(config).__name__
            raise ValueError(f"extra: {name!r}: must be lrkit text config (absolute rates), got {kind}")
        if name in out:
            raise ValueError(f"extra: the name {name!r} is also a candidate of the family; give it another name")
        out[name] = Candidate(name, config)
        _schedule_of(out[name], "extra")  # a config that does not read is refused here, naming the candidate
    return out


def _listed(name: str, values: Any, example: str) -> list[Any]:
    """``values`` as a list; one number or one text in place of a list is a ``ValueError`` naming ``name``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name}: give a list (e.g. {example}), got {values!r:.60}")
    return list(values)


def _schedule_of(candidate: Candidate, where: str = "candidates") -> Any:
    """The candidate's schedule; a config that does not read is a ``ValueError`` naming the candidate."""
    try:
        return candidate.schedule
    except ValueError as err:
        reason = err.one_line() if hasattr(err, "one_line") else " ".join(str(err).split())
        raise ValueError(f"{where}: {candidate.name!r}: {reason}") from None


@dataclass(frozen=True)
class Row:
    """One candidate's predicted final loss and its interval; ``tied``: indistinguishable from the best.

    :func:`choose` builds them (see :class:`Choice` for an example); ``schedule`` gives the candidate's rates:

    >>> row = Row("constant", "constant(0.0003)", 3e-4, 3.2, 3.1, 3.3, 0.01, 0.02, True)
    >>> row.to_dict()["high"], float(row.schedule(5))
    (3.3, 0.0003)
    """

    name: str
    config: str
    peak: float
    predicted: float
    low: float
    high: float
    gap: float  # predicted - the best's
    gap_se: float  # standard error of the gap (the parameters' uncertainty)
    tied: bool
    rates: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def schedule(self) -> Any:
        """The candidate's absolute learning rates (an lrkit schedule, or every update's rate)."""
        return self.rates if self.rates is not None else lk.from_config(self.config)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "rates"}


@dataclass(frozen=True)
class Choice:
    """The candidates at one length, best first; ``decided`` False means: do not trust the order (``reasons``).

    >>> from lrkit.curves import MultiPowerLaw
    >>> from lrkit.curves.choose import choose, family
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> cands = family(24000, peaks=[3e-4], warmup=2160, fractions=(0.1, 0.2), shapes=("linear",),
    ...                cosine_floors=(0.1,))
    >>> choice = choose(law, cands, 24000)[0]
    >>> choice.budget, choice.decided, choice.best.name, choice.tied
    (24000, True, 'wsd-0.1-linear@0.0003', ('wsd-0.1-linear@0.0003',))
    >>> print(choice.table().splitlines()[4])
    | 3 | cosine-0.1@0.0003 | 3.2662 | 3.2662 .. 3.2662 | +0.0534 +- 0.0000 |  |
    """

    budget: int
    rows: tuple[Row, ...]
    decided: bool
    reasons: tuple[str, ...]
    level: float
    #: (candidate, share of the variance of the best-vs-runner-up gap a run of it would remove), best first
    suggestions: tuple[tuple[str, float], ...] = field(default=())
    #: the smallest difference of finals the fit resolves (:func:`resolvable`): tied candidates closer to the best
    #: than this are "any of these"
    floor: float = 0.0

    @property
    def best(self) -> Row:
        """The recommended candidate (the lowest predicted loss; check :attr:`decided`)."""
        return self.rows[0]

    @property
    def tied(self) -> tuple[str, ...]:
        """The candidates tied with the best (the best included)."""
        return tuple(r.name for r in self.rows if r.tied)

    def table(self) -> str:
        """A Markdown table (rank, candidate, predicted final loss, interval, gap to the best, tied)."""
        pct = f"{100 * self.level:g}%"
        head = (
            f"| rank | schedule | predicted loss at {self.budget:,} | {pct} interval | vs best | tied with best |"
        )
        lines = [head, "| ---: | --- | ---: | --- | ---: | :---: |"]
        for i, r in enumerate(self.rows, 1):
            rank = str(i) if self.decided else "-"
            lines.append(
                f"| {rank} | {r.name} | {r.predicted:.4f} | {r.low:.4f} .. {r.high:.4f} | "
                f"{r.gap:+.4f} +- {z_value(self.level) * r.gap_se:.4f} | {'yes' if r.tied else ''} |"
            )
        return "\n".join(lines)

    def report(self) -> str:
        """The table, the verdict, the recommended schedule (text config) and the runs that would help most."""
        out = [f"## {self.budget:,} updates", "", self.table(), ""]
        if self.decided:
            others = [n for n in self.tied if n != self.best.name]
            out.append(f"recommended: {self.best.name} (predicted {self.best.predicted:.4f})")
            if others:
                out.append(
                    f"any of these is as good (within the {100 * self.level:g}% interval of it, and predicted within "
                    f"the fit's noise floor {self.floor:.4f}): {', '.join(others)}"
                )
            out += ["", "```", self.best.config, "```"]
        else:
            out.append("cannot tell the candidates apart; no ranking: " + "; ".join(self.reasons))
        if self.suggestions:
            shown = ", ".join(f"{n} ({100 * s:.0f}%)" for n, s in self.suggestions[:3])
            out += ["", f"runs that would shrink the uncertainty of this choice most (share of its variance): {shown}"]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "decided": self.decided,
            "reasons": list(self.reasons),
            "level": self.level,
            "floor": self.floor,
            "recommended": self.best.config if self.decided else None,
            "rows": [r.to_dict() for r in self.rows],
            "suggestions": [{"schedule": n, "share": s} for n, s in self.suggestions],
        }


def _candidates(candidates: Any) -> dict[str, Candidate]:
    if isinstance(candidates, Mapping):
        items = list(candidates.items())
    elif isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
        raise ValueError(
            f"candidates: expected a mapping name -> Candidate / spec text, or a list of specs, got "
            f"{type(candidates).__name__}"
        )
    else:
        items = [(c.name if isinstance(c, Candidate) else str(c), c) for c in candidates]
    out = {}
    for name, c in items:
        if isinstance(c, Candidate):
            out[str(name)] = c
        elif isinstance(c, str):
            out[str(name)] = Candidate(str(name), c)
        elif isinstance(c, lk.Schedule):
            out[str(name)] = Candidate(str(name), repr(c))
        elif isinstance(c, np.ndarray):
            out[str(name)] = Candidate(str(name), f"<{c.size} learning rates>", rates=np.asarray(c, np.float64))
        else:
            raise ValueError(
                f"candidates: {name!r} is a {type(c).__name__}; give a Candidate, an lrkit schedule "
                "(absolute rates) or its text config"
            )
    if not out:
        raise ValueError("candidates: give at least one schedule")
    return out


def _share(law: Law, u: Uncertainty, candidate: Candidate, budget: int, gap: np.ndarray) -> float:
    """The share of the variance of ``gap . parameters`` that fitting a run of ``candidate`` (its curve logged at
    64 points after its peak) would remove (Woodbury on the Laplace covariance)."""
    lrs = learning_rates(candidate.schedule, budget)
    first = int(np.argmax(lrs)) + 1
    steps = np.unique(np.linspace(first, budget, 64).round().astype(np.int64))
    values, jac = law.evaluate(law.prepare(lrs, steps, **law.settings()), jacobian=True)
    assert jac is not None
    j = np.where(np.isfinite(jac), jac, 0.0) / values[:, None]  # relative, as the fit's residuals
    cov = u.covariance
    before = float(gap @ cov @ gap)
    if before <= 0:
        return 0.0
    noise = (u.noise**2) * u.inflation
    inner = noise * np.eye(steps.size) + j @ cov @ j.T
    v = j @ cov @ gap
    removed = float(v @ np.linalg.solve(inner, v))
    return min(max(removed / before, 0.0), 1.0)


def resolvable(uncertainty: Uncertainty | None, loss: float) -> float:
    """The noise floor of a fit at a final ``loss``: the scatter of one logged point around the law, ``s * loss``
    (``s`` the fit's relative residual sd, :attr:`Uncertainty.noise`); two finals closer than this cannot be told
    apart by the runs' own logs. 0 without an uncertainty.

    >>> import numpy as np
    >>> from lrkit.curves import Uncertainty
    >>> round(resolvable(Uncertainty(("L0",), np.zeros((1, 1)), noise=0.001, inflation=1.0), 3.0), 6)
    0.003
    """
    if uncertainty is None or not math.isfinite(uncertainty.noise):
        return 0.0
    return float(uncertainty.noise * abs(loss))


def choose(
    law: Any,
    candidates: Any,
    lengths: int | Iterable[int],
    *,
    uncertainty: Uncertainty | None = None,
    level: float = 0.95,
    suggest: bool = True,
    peaks: tuple[float, float] | None = None,
) -> list[Choice]:
    """Rank ``candidates`` by the final loss ``law`` predicts after each of ``lengths`` updates.

    ``law``: a :class:`lrkit.curves.Fit` (its law and uncertainty) or a :class:`Law` (then give
    ``uncertainty``, or every interval is a point). ``candidates``: from :func:`family`, or a mapping
    name -> lrkit schedule / text config (absolute learning rates), or a list of text configs; the
    same candidates serve every length only if they are written for it (use :func:`family` per length,
    or a callable ``length -> candidates``).

    One :class:`Choice` per length: rows best first with the ``level`` interval of each final, the
    gap to the best with its standard error, and ``tied`` where ``|gap| <= z * se``; not ``decided``
    (``reasons``) when the fit ended at a parameter bound, or when a candidate tied with the best is predicted
    more than the fit's noise floor (:func:`resolvable`) from it; ties within the floor are "any of these".
    ``peaks``: the lowest and highest peak rate of the runs the law was fitted on (taken from a
    :class:`~lrkit.curves.Fit`'s runs; a law file's ``fitted_peaks``): candidates whose peak lies outside them
    are predicted by extrapolating the law in the peak, and a :class:`~lrkit.curves.CurveFitWarning` says so
    once (fit runs at every peak you compare: docs/curves.md).

    >>> from lrkit.curves import MultiPowerLaw
    >>> from lrkit.curves.choose import choose, family
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> cands = family(24000, peaks=[3e-4], warmup=2160, fractions=(0.1, 0.2), shapes=("linear",),
    ...                cosine_floors=(0.1,))
    >>> [choice.best.name for choice in choose(law, cands, [12000, 24000])]  # one Choice per length
    ['cosine-0.1@0.0003', 'wsd-0.1-linear@0.0003']

    (Stopped at 12,000 updates, the WSD runs built for 24,000 have not begun their cooldown.)
    """
    from lrkit.curves.core import Fit, as_law
    from lrkit.curves.lawfile import LawFile

    if isinstance(law, Fit):
        uncertainty = law.uncertainty if uncertainty is None else uncertainty
        tops = [float(run.lrs.max()) for run in law.runs if run.lrs.size]
        peaks = (min(tops), max(tops)) if tops and peaks is None else peaks
    elif isinstance(law, LawFile):  # a law file: its intervals and the peaks it was fitted on, as the CLI's choose
        uncertainty = law.uncertainty if uncertainty is None else uncertainty
        peaks = law.peaks if peaks is None else peaks
    law = as_law(law)
    given: Any = plain(lengths)
    if isinstance(given, (numbers.Real, np.integer, np.floating)):
        given = [given]
    given = [] if isinstance(given, (str, bytes)) or not isinstance(given, Iterable) else list(given)
    if not given:
        raise ValueError(f"lengths: give one or more run lengths >= 2 updates, got {lengths!r:.60}")
    budgets = [whole("lengths", n, minimum=2) for n in given]
    twice = next((n for i, n in enumerate(budgets) if n in budgets[:i]), None)
    if twice is not None:
        raise ValueError(f"lengths: {twice} is given twice; give each length once")
    if max(budgets) > MAX_UPDATES:
        raise ValueError(_too_long("lengths", max(budgets)))
    if peaks is not None:
        if isinstance(peaks, (str, bytes)) or not isinstance(peaks, Sequence) or len(peaks) != 2:
            raise ValueError(f"peaks: give (lowest, highest) peak rate of the fitted runs, got {peaks!r:.60}")
        peaks = (positive_number("peaks", peaks[0]), positive_number("peaks", peaks[1]))
        if peaks[0] > peaks[1]:
            raise ValueError(f"peaks: give (lowest, highest) peak rate of the fitted runs, got {peaks!r}")
    z = _checked(law, uncertainty, level)  # the law, its uncertainty and level: before any candidate is read
    out = []
    outside: set[float] = set()
    for budget in budgets:
        cands = _candidates(candidates(budget) if callable(candidates) else candidates)
        rows: list[tuple[float, Candidate, float, float]] = []
        for c in cands.values():
            schedule = _schedule_of(c)
            try:  # a schedule too short for the length, or not one: the line names the candidate
                rates = learning_rates(schedule, budget)
            except ValueError as err:
                raise ValueError(f"candidates: {c.name!r}: {err}") from None
            if peaks is not None:
                top = c.peak if math.isfinite(c.peak) else float(rates.max(initial=0.0))
                if not peaks[0] * (1 - 1e-9) <= top <= peaks[1] * (1 + 1e-9):
                    outside.add(top)
            m, lo, hi = interval(law, uncertainty, schedule, [budget], level)
            rows.append((float(m[0]), c, float(lo[0]), float(hi[0])))
        rows.sort(key=lambda r: r[0])
        best = rows[0][1]
        table = []
        for mean, c, low, high in rows:
            gap, se = (0.0, 0.0) if c is best else difference(law, uncertainty, c.schedule, best.schedule, budget)
            tied = c is best or abs(gap) <= z * se
            table.append(Row(c.name, c.config, c.peak, mean, low, high, gap, se, tied, c.rates))
        reasons = []
        if uncertainty is not None and uncertainty.at_bounds:
            reasons.append(
                f"the fit ended at the bound of {', '.join(uncertainty.at_bounds)} (the law then tells schedules "
                "apart by little more than their area); fit more varied runs"
            )
        floor = resolvable(uncertainty, rows[0][0])
        spread = max(r.predicted for r in table if r.tied) - rows[0][0]
        ties = sum(r.tied for r in table) - 1
        if ties and spread > floor:
            reasons.append(
                f"{ties} of the {len(table) - 1} other candidates are within the {100 * level:g}% interval of the "
                f"best and their predicted finals span {spread:.4f}, more than the fit's noise floor {floor:.4f} "
                "(the intervals are wider than the differences that matter)"
            )
        suggestions: list[tuple[str, float]] = []
        if suggest and uncertainty is not None and len(rows) > 1:
            runner = rows[1][1]
            _, ga = _final_gradient(law, best, budget)
            _, gb = _final_gradient(law, runner, budget)
            gap_vector = ga - gb
            suggestions = sorted(
                ((c.name, _share(law, uncertainty, c, budget, gap_vector)) for _, c, _, _ in rows),
                key=lambda item: -item[1],
            )
        out.append(Choice(budget, tuple(table), not reasons, tuple(reasons), level, tuple(suggestions), floor))
    if outside and peaks is not None:
        from lrkit.curves.core import CurveFitWarning

        fitted = f"{peaks[0]:g}" if peaks[0] == peaks[1] else f"{peaks[0]:g}-{peaks[1]:g}"
        warnings.warn(
            f"candidates at peaks {', '.join(f'{p:g}' for p in sorted(outside))}: the law was fitted on runs at peaks "
            f"{fitted}, and predicts other peaks by extrapolating (a law fitted at one peak can miss another peak's "
            "final losses by percents); to compare peaks, fit runs at each of them",
            CurveFitWarning,
            stacklevel=2,
        )
    return out


def _final_gradient(law: Law, c: Candidate, budget: int) -> tuple[float, np.ndarray]:
    t = np.array([budget])
    values, jac = law.evaluate(law.prepare(learning_rates(c.schedule, budget), t, **law.settings()), jacobian=True)
    assert jac is not None
    return float(values[0]), np.where(np.isfinite(jac[0]), jac[0], 0.0)
