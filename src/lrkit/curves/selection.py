"""Choose the law by evidence: each candidate's leave-one-run-out error on the runs given.

``curves.fit(runs, "auto")`` fits each candidate (:func:`candidates`: a law of :data:`AUTO_LAWS` and how it is
fitted) once per run with that run left out, scores the left-out run with it (its mean relative error over
its own points after the warmup: a branch whose parent is among the others is scored past its branch point
only), and keeps the candidate whose mean of those errors is lowest (:func:`held_out_error`); the first on a
tie, the multi-power law's staged fit with fewer than two runs. The two laws model the two mechanisms the
data show: the multi-power law (Luo et al., arXiv:2503.12811) the loss drop of a decay as a saturating power
of the rates' reduction, the convex drop (Schaipp et al., ICML 2025, the convex last-iterate bound) a drop set
by the whole cooldown's shape; the multi-power law is a candidate twice, by the paper's two steps and by its
refit (the second step also frees ``alpha`` and ``B``). No constant is chosen on data: the held-out error
decides. What it cannot see: a run longer than every fitted one. Over the 35 choices of three of the
published curves' seven short runs (bench/curves.py --splits) the convex drop wins the held-out error on 20
and then predicts the 72,000-update cosine 0.4-0.8% off: over those splits auto's mean error is 0.151% / 0.172%
(25M / 100M), the multi-power law's alone 0.122% / 0.129%. On the paper's own split and on the 124M grid's
branches it picks the law that predicts better.

>>> from lrkit import curves
>>> runs = curves.paper_runs()
>>> fitted = [runs[n] for n in curves.FIT_RUNS]
>>> round(held_out_error(fitted, "multi_power"), 5) < round(held_out_error(fitted, "convex_drop"), 5)
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["AUTO_LAWS", "JACKKNIFE_BLOCKS", "candidates", "decays", "held_out", "held_out_blocks", "held_out_error",
           "held_out_errors", "jackknife_unit", "select"]

AUTO_LAWS = ("multi_power", "convex_drop")
"""The laws ``law="auto"`` chooses between (names of :data:`lrkit.curves.LAWS`), the first on a tie or with
fewer than two runs."""


def held_out(runs: Sequence[Any], law: Any, **options: Any) -> tuple[list[float], list[Any]]:
    """Each run's mean relative error, predicted by ``law`` fitted (``curves.fit``, ``options``, no jackknife)
    on the other runs (``inf`` where that fit fails), and those fits' laws (the ones that succeeded).

    Three noiseless runs of a momentum law: each left-out run is predicted exactly by the other two.

    >>> import numpy as np, lrkit as lk
    >>> from lrkit.curves import MomentumLaw, Run
    >>> truth, steps, w = MomentumLaw(L0=3.0, A=0.5, alpha=0.5, C=0.2), np.arange(200, 2001, 100), lk.warmup(100)
    >>> runs = [Run.of(s * 1e-3, steps, truth.predict(s * 1e-3, steps)) for s in
    ...         (w >> lk.constant(1.0), w >> lk.constant(1.0, 1400) >> lk.linear(500, 1.0, 0.0), w >> lk.cosine(1900))]
    >>> errors, laws = held_out(runs, "momentum")
    >>> [round(e, 4) for e in errors], len(laws)
    ([0.0, 0.0, 0.0], 3)
    """
    from lrkit.curves.core import _without_shared, fitted_runs, score

    fitted_runs(runs)  # checked: a list of Run values
    runs = list(runs)
    options = {**options, "jackknife": False}
    skip = options.get("skip_warmup", True)
    errors, laws = [], []
    for i, run in enumerate(runs):
        rest = runs[:i] + runs[i + 1 :]
        target = _without_shared(run, rest)  # its points shared with a run still fitted are not held out
        if skip:
            target = target.after_warmup()
        law_i = _quiet_fit(rest, law, options)
        if law_i is None:
            errors.append(math.inf)
            continue
        laws.append(law_i)
        if run.losses is not None and target.steps.size:
            with warnings.catch_warnings():  # a candidate's held-out prediction: what is said is the chosen law's
                warnings.simplefilter("ignore")
                error = score(law_i, [target]).run_mean_error
            errors.append(error if math.isfinite(error) else math.inf)
    return errors, laws


JACKKNIFE_BLOCKS = 2
"""How many consecutive blocks of a run's points :func:`held_out_blocks` leaves out in turn (halves; chosen before
any figure, and thirds give the same coverage on the 124M grid, docs/curves.md)."""


def decays(run: Any) -> bool:
    """Whether ``run``'s learning rate falls below its peak before its last logged step (a decay the loss shows).

    >>> import lrkit as lk
    >>> from lrkit.curves import Run
    >>> steps, losses = [200, 400, 600], [3.0, 2.9, 2.8]
    >>> decays(Run.of((lk.warmup(100) >> lk.constant(1.0)) * 1e-3, steps, losses))
    False
    >>> decays(Run.of((lk.warmup(100) >> lk.cosine(500)) * 1e-3, steps, losses))
    True
    """
    from lrkit.curves.laws import peak_index

    lrs = run.lrs[: int(run.steps.max())] if run.steps.size else run.lrs[:0]
    if lrs.size == 0:
        return False
    top = peak_index(lrs)
    return bool(lrs[top:].min() < lrs[top] * (1 - 1e-9))


def jackknife_unit(runs: Sequence[Any]) -> str:
    """What :func:`lrkit.curves.fit`'s jackknife leaves out: ``"runs"`` (one run at a time), or ``"blocks"``
    (one half of one run's points at a time, :func:`held_out_blocks`) where leaving out a run would leave a fit
    without what it fits: with a single run, or where exactly one run decays (:func:`decays`: the stable run
    and one cooldown branch) -- the fit that leaves that run out has no drop to fit, and its prediction of any
    decay is not a jackknife replicate but the power law alone (on the 124M grid it spread every 95%
    interval to 6-7% of the loss).

    >>> jackknife_unit([])
    'blocks'
    """
    fitted = list(runs)
    return "runs" if len(fitted) >= 2 and sum(decays(r) for r in fitted) != 1 else "blocks"


def held_out_blocks(runs: Sequence[Any], law: Any, blocks: int = JACKKNIFE_BLOCKS, **options: Any) -> list[Any]:
    """The laws fitted (``curves.fit``, ``options``, no jackknife) with one block of one run's points left out:
    each run's fitted points (its own, after its warmup unless ``skip_warmup=False``) cut into ``blocks``
    consecutive parts of (nearly) equal count, each part left out in turn -- the delete-a-block jackknife of
    dependent data (Künsch, "The jackknife and the bootstrap for general stationary observations", Ann.
    Statist. 17, 1989), with ``blocks`` times the runs replicates. A fit that fails is left out.

    >>> import numpy as np, lrkit as lk
    >>> from lrkit.curves import MomentumLaw, Run
    >>> truth, steps = MomentumLaw(L0=3.0, A=0.5, alpha=0.5, C=0.2), np.arange(200, 2001, 100)
    >>> sched = (lk.warmup(100) >> lk.constant(1.0, 1400) >> lk.linear(500, 1.0, 0.0)) * 1e-3
    >>> laws = held_out_blocks([Run.of(sched, steps, truth.predict(sched, steps))], "momentum")
    >>> round(truth.final(sched, 2000), 4), [round(law.final(sched, 2000), 4) for law in laws]
    (3.3409, [3.3409, 3.3834])

    Without the first half the fit finds the truth; without the second it never sees the cooldown (its drop
    unknown): the spread of the two is what the prediction owes to the part of the curve it rests on.
    """
    import dataclasses

    from lrkit.curves.core import fitted_runs

    own = [dataclasses.replace(r, parent=None) for r in fitted_runs(runs)]
    options = {**options, "jackknife": False}
    skip = options.get("skip_warmup", True)
    laws = []
    for i, run in enumerate(own):
        kept = run.after_warmup() if skip else run
        edges = np.linspace(0, kept.steps.size, blocks + 1).round().astype(int)
        for b in range(blocks):
            if edges[b] == edges[b + 1]:
                continue
            out = np.zeros(kept.steps.size, dtype=bool)
            out[edges[b] : edges[b + 1]] = True
            dropped = np.isin(run.steps, kept.steps[out])
            losses = run.losses[~dropped] if run.losses is not None else None
            part = dataclasses.replace(run, steps=run.steps[~dropped], losses=losses)
            law_b = _quiet_fit([*own[:i], part, *own[i + 1 :]], law, options)
            if law_b is not None:
                laws.append(law_b)
    return laws


def _quiet_fit(runs: Sequence[Any], law: Any, options: dict[str, Any]) -> Any:
    """The law ``curves.fit(runs, law, **options)`` ends at, its warnings silenced (a replicate's poor fit is what
    the spread measures); None where the runs cannot be fitted (a ``ValueError``)."""
    from lrkit.curves.core import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fit(runs, law, **options).law
        except ValueError:
            return None


def held_out_errors(runs: Sequence[Any], law: Any, **options: Any) -> list[float]:
    """Each run's mean relative error, predicted by ``law`` fitted on the other runs (``inf`` where it fails):
    :func:`held_out`'s errors (its example).

    >>> held_out_errors([], "momentum")
    []
    """
    return held_out(runs, law, **options)[0]


def held_out_error(runs: Sequence[Any], law: Any, **options: Any) -> float:
    """The mean of :func:`held_out_errors` (``inf`` with fewer than two runs or where a fit failed).

    >>> held_out_error([], "multi_power")   # nothing to leave out
    inf
    """
    if len(runs) < 2:
        return math.inf
    errors = held_out_errors(runs, law, **options)
    return float(np.mean(errors)) if errors else math.inf


def candidates(method: str = "staged") -> tuple[tuple[str, str, str], ...]:
    """What ``law="auto"`` compares, ``(label, law, method)``: each law of :data:`AUTO_LAWS` fitted by ``method``
    and, with ``method="staged"``, also by its refit where it has one (:meth:`lrkit.curves.Law.refit_stages`).

    >>> candidates()
    (('multi_power', 'multi_power', 'staged'), ('multi_power (refit)', 'multi_power', 'refit'), \
('convex_drop', 'convex_drop', 'staged'))
    >>> candidates("joint")
    (('multi_power', 'multi_power', 'joint'), ('convex_drop', 'convex_drop', 'joint'))
    """
    from lrkit.curves.core import _check_law

    out = []
    for name in AUTO_LAWS:
        out.append((name, name, method))
        if method == "staged" and _check_law(name)[0].refit_stages() is not None:
            out.append((f"{name} (refit)", name, "refit"))
    return tuple(out)


def select(runs: Sequence[Any], **options: Any) -> tuple[tuple[str, str], tuple[tuple[str, float], ...], list[Any]]:
    """The candidate (:func:`candidates`: a law of :data:`AUTO_LAWS` and how it is fitted) with the lowest mean
    held-out error as ``(law, method)``, every candidate's error by its label, and the chosen one's
    leave-one-run-out fits (the jackknife ensemble of its fit on every run). ``curves.fit(runs)`` calls it
    (``law="auto"``, the default) and keeps every candidate's error in ``Fit.selection``.

    >>> select([])   # fewer than two runs: the first law, nothing measured
    (('multi_power', 'staged'), (), [])
    """
    method = options.pop("method", "staged")
    if len(runs) < 2:
        return (AUTO_LAWS[0], method), (), []
    found = {label: (law, how, held_out(runs, law, method=how, **options)) for label, law, how in candidates(method)}
    scores = tuple((label, float(np.mean(e)) if e else math.inf) for label, (_, _, (e, _)) in found.items())
    best = min(scores, key=lambda item: item[1])  # the first on a tie
    law, how, (_, laws) = found[best[0] if math.isfinite(best[1]) else next(iter(found))]
    return (law, how), scores, laws
