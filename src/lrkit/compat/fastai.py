"""fastai's annealing functions (``fastai.callback.schedule``) under their own names, as lrkit schedules.

fastai writes a schedule as a function of the *position* ``pos`` in ``[0, 1]`` of training
(``SchedCos(start, end)(pos)``); each constructor here returns an lrkit schedule of length 1 with
``value(pos) == fastai_function(pos)``. Stretch it to a run: ``stretch(SchedCos(1e-3, 1e-5), 10_000)``
(``lrkit.torch.Scheduler`` then steps it once per update). Nothing here imports fastai or torch.

>>> s = SchedPoly(0.0, 2.0, 2)
>>> [s(p) for p in (0.0, 0.25, 0.5, 0.75, 1.0)]
[0.0, 0.125, 0.5, 1.125, 2.0]

fastai's ``SchedPoly`` is ``start + (end - start) * pos ** power``: it leaves ``start`` slowly and
reaches ``end`` fast (for ``power > 1``), the mirror of lrkit's ``polynomial``/``anneal(shape='poly')``
(``end + (start - end) * (1 - pos) ** power``), so it has its own family here (:class:`FastaiPoly`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lrkit.compat._common import arg, sequence
from lrkit.core import _validate as v
from lrkit.core.combinators import Stretch
from lrkit.core.families import Anneal, Constant
from lrkit.core.schedule import Schedule, param, value

__all__ = ["FastaiPoly", "SchedCos", "SchedExp", "SchedLin", "SchedNo", "SchedPoly", "combine_scheds"]


@value
class FastaiPoly(Schedule):
    """fastai's polynomial annealing: ``start + (end - start) * (t / steps) ** power`` on ``[0, steps]``.

    ``power=1`` is linear; ``power=2`` leaves ``start`` slowly and reaches ``end`` fast. It is the
    time mirror of ``anneal(steps, end, start, shape='poly', power=power)``.

    >>> fastai_poly(1, 0.0, 2.0, 2)(0.5)
    0.5
    """

    name = "fastai_poly"
    steps: float = param(v.length)
    start: float = param(v.rate)
    end: float = param(v.rate)
    power: float = param(v.positive)

    def _setup(self) -> float | None:
        return self.steps

    def _eval(self, t: Any, xp: Any) -> Any:
        return self.start + (self.end - self.start) * (t / self.steps) ** self.power


#: Why a negative value is refused: fastai computes one, lrkit never schedules it.
_NEGATIVE = "lrkit never schedules a negative value (fastai computes one)"


def _ends(who: str, start: Any, end: Any) -> tuple[float, float]:
    """``start`` and ``end`` of a fastai annealing function, each a number >= 0."""
    return arg(who, "start", start, 0, fix=_NEGATIVE), arg(who, "end", end, 0, fix=_NEGATIVE)


def SchedLin(start: float, end: float) -> Schedule:
    """``SchedLin``: ``start + pos * (end - start)``.  Native: ``anneal(1, start, end, shape='linear')``.

    >>> SchedLin(0.0, 2.0)(0.25)
    0.5
    """
    return Anneal(1, *_ends("SchedLin", start, end), "linear")


def SchedCos(start: float, end: float) -> Schedule:
    """``SchedCos``: ``start + (1 + cos(pi (1 - pos))) (end - start) / 2``.  Native: ``anneal(1, start, end)``.

    >>> round(SchedCos(0.0, 2.0)(0.25), 5)
    0.29289
    """
    return Anneal(1, *_ends("SchedCos", start, end), "cos")


def SchedNo(start: float, end: float) -> Schedule:
    """``SchedNo``: ``start`` throughout (``end`` unused).  Native: ``constant(start, 1)``.

    >>> SchedNo(0.5, 2.0)(0.75)
    0.5
    """
    return Constant(_ends("SchedNo", start, end)[0], 1)


def SchedExp(start: float, end: float) -> Schedule:
    """``SchedExp``: ``start * (end / start) ** pos``.  Native: ``anneal(1, start, end, shape='exp')``.

    >>> round(SchedExp(1.0, 2.0)(0.5), 5)
    1.41421
    """
    who = "SchedExp"
    start = arg(who, "start", start, 0, open_low=True, fix="fastai divides end by it")
    end = arg(who, "end", end, 0, open_low=True,
              fix="a geometric ramp cannot reach 0 (fastai drops to 0 right after pos 0); use SchedCos or SchedLin")
    return Anneal(1, start, end, "exp")


def SchedPoly(start: float, end: float, power: float) -> Schedule:
    """``SchedPoly``: ``start + (end - start) * pos ** power`` (:class:`FastaiPoly` over ``[0, 1]``).

    >>> SchedPoly(2.0, 0.0, 1)(0.25)
    1.5
    """
    who = "SchedPoly"
    start, end = _ends(who, start, end)
    power = arg(who, "power", power, 0, fix="fastai's pos ** power is infinite at pos 0")
    if power == 0:  # fastai's pos ** 0 is 1, at pos 0 too: end throughout
        return Constant(end, 1)
    return FastaiPoly(1, start, end, power)


def combine_scheds(pcts: Sequence[float], scheds: Sequence[Schedule]) -> Schedule:
    """``combine_scheds``: schedule ``i`` runs over the fraction ``pcts[i]`` of training, on its own ``[0, 1]``.

    Native: ``stretch(s0, p0) >> stretch(s1, p1) >> ...`` (pieces with ``pct == 0`` are skipped, as
    fastai never reaches them).

    >>> s = combine_scheds([0.3, 0.7], [SchedCos(0.3, 0.6), SchedCos(0.6, 0.2)])
    >>> round(s(0.3), 6), round(s(1.0), 6)
    (0.6, 0.2)
    """
    who = "combine_scheds"
    pcts, scheds = list(pcts), list(scheds)
    if len(pcts) != len(scheds) or not pcts:
        raise ValueError(f"{who}: needs one pct per schedule, got {len(pcts)} pcts and {len(scheds)} schedules")
    fractions = [v.non_negative(who, f"pcts[{i}]", p) for i, p in enumerate(pcts)]
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"{who}: pcts must sum to 1, got {sum(fractions)!r}; they are fractions of training")
    pieces: list[Schedule | None] = []
    for i, (fraction, s) in enumerate(zip(fractions, scheds)):
        if not isinstance(s, Schedule) or s.length != 1:
            raise ValueError(f"{who}: scheds[{i}] must be a schedule over [0, 1] (SchedCos(...), ...), got {s!r}")
        pieces.append(Stretch(s, fraction) if v.lasts(fraction) else None)
    return sequence(*pieces)
