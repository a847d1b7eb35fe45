"""The learning-rate range test (Smith, 2017 "Cyclical Learning Rates"; the fastai "LR finder").

Framework-free: the sweep is an lrkit schedule, the test drives any training-step callable,
every suggestion is a pure function of ``(lrs, losses)``, and ``auto``'s rule (:func:`choose`,
:func:`peak_from`) a pure function of a finished test. The PyTorch driver (a transactional test on a
model and optimizer, and ``auto``) is :mod:`lrkit.torch.finder`.

Private modules, one job each: ``_sweep`` (the LRs), ``_smooth`` (the moving average), ``_curve``
(finite points, the usable part, slopes), ``_methods`` (steepest, valley, minimum), ``_evidence`` (did
the loss fall?), ``_suggest`` (the default), ``_valley`` and ``_auto`` (auto's rule), ``_result``
(:class:`FinderResult`), ``_loop`` (the range test over a ``step(lr)`` callable).

The sweep. Update ``i`` (``0 <= i < N``) trains at ``lr_i = sweep(N, start, end)(i)``:
geometric ``lr_i = start * (end/start)^(i/(N-1))`` (``mode='exp'``) or linear
``lr_i = start + (end-start) * i/(N-1)``; exactly ``start`` at the first update and ``end``
at the last.

Smoothing. A bias-corrected exponential moving average of the raw losses (as Adam corrects
its moments): ``a_k = beta a_{k-1} + (1-beta) x_k``, ``smoothed_k = a_k / (1 - beta^k)``,
where ``k`` counts the finite losses seen so far; a NaN or inf loss is skipped (its smoothed
value is NaN) and never enters the average. By default ``beta`` is set so the average spans
0.8 decade of learning rate (:func:`auto_beta`), so the curve, and the suggestion read from it,
lag the LR by the same amount whatever the number of iterations (a fixed ``beta``'s span in decades
shrinks with the number of points per decade).

Divergence. The test stops after the first update whose smoothed loss exceeds ``diverge``
times the best smoothed loss so far (losses are assumed positive, as for cross-entropy), or
whose raw loss is NaN or inf. The best is tracked from the end of the first 10% of updates on,
so one lucky early mini-batch cannot set it.
With ``rebound=True`` (``auto``'s default) it also stops after the first update where the curve
*rebounds* in the sense of :func:`usable_region`: the smoothed loss, having fallen by more than 20%
from its value at the end of the first 10% of updates, climbs back more than half-way from its best
to that value. No suggestion looks past a rebound, so the updates after it are only cost.

Suggestions (each on the smoothed curve, NaN/inf points dropped, the first 10% of points
dropped, and only on the part of the curve before it *rebounds*: the first point that climbs
back more than half-way from the running minimum to the starting loss; see
:func:`usable_region`):

* ``steepest``: the LR of the most negative slope ``d loss / d log10(lr)`` (measured over
  +-0.2 decade, so jitter is not a drop), searched up to the minimum of the usable region, so
  the fall after a spike can never be taken for the steepest drop;
* ``valley``: fastai's rule: the longest decreasing run (longest decreasing subsequence) of
  the curve, and the LR half-way along it;
* ``minimum``: the LR of the smoothed minimum divided by 10.

The default (:func:`suggest`) is ``steepest`` when ``minimum`` confirms it (the two within
``max_spread`` = 1 decade), else the median of the three (one wild method cannot move it). It
declines, with the reason, when the curve gives no evidence: too few points, a loss that never
fell meaningfully, a minimum at the start of the sweep, or no two methods agreeing within
``max_spread`` decades. Why steepest and not valley: docs/finder.md gives bench/finder.py's comparison
against each built-in task's one-cycle grid.

>>> import numpy as np
>>> lrs = sweep(100, 1e-5, 10.0)(np.arange(100))
>>> x = np.log10(lrs)
>>> losses = 1.0 + np.tanh(-2.0 * (x + 2.5)) + np.where(x > -0.5, 10 * (x + 0.5) ** 2, 0.0)
>>> s = suggest(lrs, losses)
>>> s.reason
''
>>> 1e-3 < s.value < 3e-2
True
"""

from __future__ import annotations

from lrkit.finder._auto import (
    AUTO_FACTOR,
    COST_LIMIT,
    RECIPES,
    RULES,
    VALLEY_FACTOR,
    VALLEY_FALL,
    VALLEY_RISE,
    AutoResult,
    NoSuggestion,
    build_schedule,
    choose,
    peak_from,
)
from lrkit.finder._curve import usable_region
from lrkit.finder._evidence import descent_evidence
from lrkit.finder._loop import range_test
from lrkit.finder._methods import METHODS, minimum, steepest, valley
from lrkit.finder._result import FinderResult
from lrkit.finder._smooth import Ema, auto_beta, smooth
from lrkit.finder._suggest import Suggestion, suggest
from lrkit.finder._sweep import sweep
from lrkit.finder._valley import valley_centre

__all__ = [
    "AUTO_FACTOR",
    "COST_LIMIT",
    "METHODS",
    "RECIPES",
    "RULES",
    "VALLEY_FACTOR",
    "VALLEY_FALL",
    "VALLEY_RISE",
    "AutoResult",
    "Ema",
    "FinderResult",
    "NoSuggestion",
    "Suggestion",
    "auto_beta",
    "build_schedule",
    "choose",
    "descent_evidence",
    "minimum",
    "peak_from",
    "range_test",
    "smooth",
    "steepest",
    "suggest",
    "sweep",
    "usable_region",
    "valley",
    "valley_centre",
]
