"""The fit's faster paths give the plain computation's numbers exactly (bitwise), and a fit runs BLAS on one thread.

The multi-power law is evaluated in pieces of rows (each up to the blocks its last step sees), keeps the last
parameters' terms for the Jacobian that follows, and its starting points reuse one drop for every ``alpha``:
each is checked here against the computation without it. Time is measured by ``python bench/curves_scale.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import lrkit as lk
from lrkit import curves
from lrkit.curves import laws as laws_module

TRUE = curves.MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
SCHEDULE = (lk.warmup(50, start=0.01) >> lk.constant(1.0, 400) >> lk.cosine(1550, floor=0.1)) * 1e-3
LRS = SCHEDULE(np.arange(2000))
STEPS = np.concatenate((np.arange(2000, 40, -7), [1000, 61]))  # unsorted, a repeated step


def _evaluate(law: curves.MultiPowerLaw, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    values, jac = law.evaluate(law.prepare(LRS, STEPS, resolution), jacobian=True)
    assert jac is not None
    return values, jac


@pytest.mark.parametrize("tile", [1 << 20, 997])  # one cached tile; many tiles, not cached
@pytest.mark.parametrize("resolution", [1, 9])
def test_pieces_give_the_whole_tiles_numbers(monkeypatch, tile, resolution):
    monkeypatch.setattr(laws_module, "TILE", tile)
    pieces = _evaluate(TRUE, resolution)
    monkeypatch.setattr(laws_module, "PIECE", 1 << 30)  # one piece per tile: every block of the tile evaluated
    whole = _evaluate(TRUE, resolution)
    np.testing.assert_array_equal(pieces[0], whole[0])
    np.testing.assert_array_equal(pieces[1], whole[1])
    monkeypatch.setattr(laws_module, "PIECE", 1)  # one row per piece
    np.testing.assert_array_equal(_evaluate(TRUE, resolution)[1], whole[1])


def test_the_jacobian_after_the_residuals_is_the_fresh_one():
    prepared = TRUE.prepare(LRS, STEPS, 5)
    other = TRUE.replace(TRUE.vector() * 1.01)
    for law in (TRUE, other, TRUE):  # evaluated, then its Jacobian from the kept terms; then other parameters
        values, _ = law.evaluate(prepared)
        again, jac = law.evaluate(prepared, jacobian=True)
        fresh, fresh_jac = law.evaluate(law.prepare(LRS, STEPS, 5), jacobian=True)
        np.testing.assert_array_equal(values, fresh)
        np.testing.assert_array_equal(again, fresh)
        np.testing.assert_array_equal(jac, fresh_jac)
    assert prepared.last and prepared.last[0] == tuple(TRUE.vector()[4:])  # the kept terms are the last law's


def _plain_guesses(prepared: list[Any], losses: list[np.ndarray]) -> list[curves.Law]:
    """The starting points as first written: every probe's whole Jacobian, its columns of L0, A and B."""
    y = np.concatenate(losses)
    scored = []
    for alpha, c, beta, gamma in itertools.product((0.3, 0.5, 0.8), (0.5, 2.0, 8.0), (0.4, 0.7), (0.4, 0.7)):
        probe = curves.MultiPowerLaw(0.0, 1.0, alpha, 1.0, c, beta, gamma)
        design = np.concatenate([probe.evaluate(p, jacobian=True)[1][:, [0, 1, 3]] for p in prepared])  # type: ignore[index]
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        coef[1:] = np.maximum(coef[1:], 1e-6)
        scored.append((float(np.sum((design @ coef - y) ** 2)), curves.MultiPowerLaw(coef[0], coef[1], alpha,
                                                                                        coef[2], c, beta, gamma)))
    scored.sort(key=lambda item: item[0])
    return [law for _, law in scored[:4]]


def test_starting_points_equal_the_probes_jacobians():
    schedules = [SCHEDULE, (lk.warmup(50, start=0.01) >> lk.constant(1.0)) * 1e-3]
    steps = np.arange(60, 2001, 20)
    noise = 1 + 1e-3 * np.random.default_rng(0).standard_normal(steps.size)
    losses = [TRUE.predict(s, steps) * noise for s in schedules]
    prepared = [curves.MultiPowerLaw.prepare(curves.learning_rates(s, 2000), steps, 5) for s in schedules]
    assert curves.MultiPowerLaw.guesses(prepared, losses, {}) == _plain_guesses(prepared, losses)


@dataclass(frozen=True)
class _Recording(curves.MomentumLaw):
    """The momentum law, noting the BLAS threads of every evaluation."""

    def evaluate(self, prepared: Any, jacobian: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        THREADS.update(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
        return super().evaluate(prepared, jacobian)


THREADS: set[int] = set()


def test_a_fit_runs_blas_on_one_thread_and_gives_the_threads_back():
    w = lk.warmup(100)
    steps = np.arange(200, 2001, 100)
    runs = [curves.Run.of(s * 1e-3, steps, curves.MomentumLaw(3.0, 0.5, 0.5, 0.2).predict(s * 1e-3, steps))
            for s in (w >> lk.constant(1.0), w >> lk.cosine(1900), w >> lk.constant(1.0, 1400) >> lk.linear(500, 1, 0))]
    if not any(lib["user_api"] == "blas" for lib in threadpool_info()):
        pytest.skip("no BLAS library loaded")
    THREADS.clear()
    with threadpool_limits(limits=2, user_api="blas"):
        result = curves.fit(runs, _Recording)
        after = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert THREADS == {1}  # every evaluation of the fit and of its leave-one-run-out fits
    assert after == {2}
    assert result.quality.worst_error < 1e-6


def test_a_fit_computes_the_convex_bound_of_a_run_once():
    from lrkit.curves.convex import bound_terms

    lrs, steps = LRS.copy(), np.array([100, 700, 2000])
    assert bound_terms(lrs, steps)[1] is not bound_terms(lrs, steps)[1]  # outside a fit: nothing kept
    with laws_module._keeping():
        first = bound_terms(lrs, steps)
        again = bound_terms(lrs.copy(), steps.copy())  # the same contents: the same arrays
        other = bound_terms(lrs, steps[:2])
    assert again[0] is first[0] and again[1] is first[1] and other[1] is not first[1]
    assert not first[1].flags.writeable  # shared within the fit: not to be changed by one caller
    np.testing.assert_array_equal(first[1], bound_terms(lrs, steps)[1])


def test_a_fit_keeping_its_precomputations_gives_the_same_fit(monkeypatch):
    from contextlib import nullcontext

    from lrkit.curves import core

    w = lk.warmup(100)
    steps = np.arange(200, 2001, 50)
    truth = curves.ConvexDropLaw(3.0, 0.9, 0.45, 40.0)
    noise = 1 + 1e-3 * np.random.default_rng(1).standard_normal(steps.size)
    runs = [curves.Run.of(s * 1e-3, steps, truth.predict(s * 1e-3, steps) * noise)
            for s in (w >> lk.constant(1.0), w >> lk.cosine(1900), w >> lk.constant(1.0, 1400) >> lk.linear(500, 1, 0))]
    kept = curves.fit(runs)  # "auto": both laws, each with every run left out once
    monkeypatch.setattr(core, "_keeping", nullcontext)
    plain = curves.fit(runs)
    assert kept.law == plain.law and kept.selection == plain.selection
    assert kept.uncertainty is not None and plain.uncertainty is not None
    assert kept.uncertainty.ensemble == plain.uncertainty.ensemble
    np.testing.assert_array_equal(kept.uncertainty.covariance, plain.uncertainty.covariance)
