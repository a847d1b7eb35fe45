"""lrkit.curves.ConvexBoundLaw: the convex last-iterate bound (Defazio et al. 2023, Theorem 10) as a law."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit as lk
from lrkit import curves
from lrkit.curves import ConvexBoundLaw, ConvexDropLaw, Run
from lrkit.curves.cli import add_commands, run_args
from lrkit.curves.convex import bound_terms

TRUE = ConvexBoundLaw(L0=3.0, A=0.4, D=0.2, p=0.3)
W = lk.warmup(100, start=0.01)
SCHEDULES = {
    "constant": W >> lk.constant(1.0),
    "wsd": W >> lk.constant(1.0, 1400) >> lk.linear(500, 1.0, 0.0),
    "cosine": W >> lk.cosine(1900, floor=0.1),
}
STEPS = np.arange(150, 2001, 50)


def direct_bound(etas: np.ndarray, T: int, D: float, G: float) -> float:
    """Theorem 10 of Defazio et al. (arXiv:2310.07831) written out term by term, O(T^2): the reference."""
    eta = [None, *etas[:T]]  # 1-based
    total = sum(eta[t] for t in range(1, T + 1))
    out = (D * D + G * G * sum(eta[t] ** 2 for t in range(1, T + 1))) / (2 * total)
    for k in range(1, T):
        after = sum(eta[t] for t in range(k + 1, T + 1))
        from_k = sum(eta[t] for t in range(k, T + 1))
        squares = sum(eta[t] ** 2 for t in range(k, T + 1))
        out += G * G / 2 * eta[k] / after * squares / from_k
    return out


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(0.01, 2.0), min_size=2, max_size=12),
    st.floats(0.1, 3.0),
)
def test_bound_matches_the_theorem_term_by_term(etas, D):
    etas = np.array(etas)
    steps = np.arange(1, etas.size + 1)
    a, b = bound_terms(etas, steps)
    for t in steps:
        assert D * D * a[t - 1] + b[t - 1] == pytest.approx(direct_bound(etas, int(t), D, 1.0), rel=1e-10)


def test_bound_scales_with_G_squared_and_D_squared():
    etas = np.array([0.5, 1.0, 1.0, 0.7, 0.2])
    a, b = bound_terms(etas, np.array([5]))
    assert 0.3**2 * a[0] + 2.0**2 * b[0] == pytest.approx(direct_bound(etas, 5, 0.3, 2.0), rel=1e-12)


def test_zero_rate_updates_leave_the_bound_where_it_was():
    etas = np.array([1.0, 0.8, 0.4, 0.0, 0.0])
    a, b = bound_terms(etas, np.array([3, 4, 5]))
    assert np.all(np.isfinite(b)) and np.allclose(a, a[0]) and np.allclose(b, b[0])
    with pytest.raises(ValueError, match="positive learning rate"):
        bound_terms(np.array([0.0, 1.0]), np.array([1]))


def test_tiles_give_the_same_bound(monkeypatch):
    import lrkit.curves.convex as convex

    etas = np.abs(np.sin(np.arange(300) / 17.0)) + 0.05
    steps = np.arange(7, 301, 7)
    whole = bound_terms(etas, steps)
    monkeypatch.setattr(convex, "TILE", 256)  # a few rows per tile
    tiled = bound_terms(etas, steps[::-1])
    assert np.allclose(whole[0], tiled[0][::-1]) and np.allclose(whole[1], tiled[1][::-1], rtol=1e-12)


def test_a_cooldown_lowers_the_bound_and_p_one_is_the_bound_itself():
    law = ConvexBoundLaw(L0=3.0, A=2.0, D=0.01, p=1.0)
    lrs = lk.constant(1e-3, 800) >> lk.linear(200, 1e-3, 0.0)
    a, b = bound_terms(curves.learning_rates(lrs, 1000), np.array([999]))
    assert law.final(lrs, 999) == pytest.approx(3.0 - 2.0 + 2.0 * (1e-4 * a[0] + b[0]), rel=1e-12)
    assert law.final(lrs, 999) < law.final(lk.constant(1e-3), 999)


def test_box_cox_is_continuous_through_p_zero():
    lrs = (W >> lk.constant(1.0)) * 1e-3
    near = [ConvexBoundLaw(3.0, 0.4, 0.2, p).final(lrs, 1000) for p in (-1e-5, 0.0, 1e-5)]
    assert abs(near[1] - (near[0] + near[2]) / 2) < 1e-9 and np.ptp(near) < 1e-4  # smooth: the midpoint


@pytest.mark.parametrize("p", [1e-7, 0.3, -0.4])
def test_jacobian_matches_finite_differences(p):
    law = ConvexBoundLaw(3.0, 0.4, 0.2, p)
    prep = ConvexBoundLaw.prepare(curves.learning_rates(SCHEDULES["wsd"] * 1e-3, 2000), STEPS)
    _, jac = law.evaluate(prep, jacobian=True)
    x = law.vector()
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        numeric = (law.replace(up).evaluate(prep)[0] - law.replace(down).evaluate(prep)[0]) / (2 * h)
        assert np.allclose(jac[:, j], numeric, rtol=1e-4, atol=1e-7)


def test_fit_recovers_a_noiseless_curve_of_the_law():
    runs = [Run.of(s * 1e-3, STEPS, TRUE.predict(s * 1e-3, STEPS), name=n) for n, s in SCHEDULES.items()]
    result = curves.fit(runs, ConvexBoundLaw, jackknife=False)
    assert np.allclose(result.law.vector(), TRUE.vector(), rtol=1e-3)
    assert result.quality.run_mean_error < 1e-7
    # by name, and through a law file's dict
    assert curves.fit(runs, "convex_bound", jackknife=False).law.name == "convex_bound"
    assert curves.law_from_dict(result.law.to_dict()) == result.law


def _cli(argv):
    parser = argparse.ArgumentParser(prog="lrkit")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_args(parser.parse_args(argv))


def test_cli_fits_and_ranks_with_the_convex_bound(tmp_path, capsys):
    files = []
    for name, sched in SCHEDULES.items():
        path = tmp_path / f"{name}.csv"
        curves.write_run(path, STEPS, TRUE.predict(sched * 1e-3, STEPS))
        files.append(f"{path}@{sched!r}")
    law = tmp_path / "law.json"
    assert _cli(["curve", "fit", *files, "--law", "convex_bound", "--lr", "1e-3", "-o", str(law)]) == 0
    assert "ConvexBoundLaw" in capsys.readouterr().out
    assert curves.load_law(law).law.name == "convex_bound"
    assert _cli(["curve", "rank", str(law), repr(SCHEDULES["wsd"]), repr(SCHEDULES["constant"]), "--budget", "2000",
                 "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)["ranking"]
    assert ranking[0]["schedule"] == repr(SCHEDULES["wsd"])  # the cooldown first, as the law says


# -- the convex-drop law: a power law of the area less the bound's drop -----------------------------------------
TRUE_DROP = ConvexDropLaw(L0=3.0, A=0.6, alpha=0.45, C=60.0)


def test_drop_is_zero_for_a_held_rate_and_the_bound_difference_otherwise():
    hold = curves.learning_rates(SCHEDULES["constant"] * 1e-3, 2000)
    prep = ConvexDropLaw.prepare(hold, STEPS)
    assert np.all(prep.s2 == 0)
    wsd = curves.learning_rates(SCHEDULES["wsd"] * 1e-3, 2000)
    prep = ConvexDropLaw.prepare(wsd, STEPS)
    _, b = bound_terms(wsd, STEPS)
    _, b_hold = bound_terms(hold, STEPS)  # the WSD run held at its running maximum is the constant run
    np.testing.assert_allclose(prep.s2, b_hold - b, rtol=1e-12)
    assert np.all(prep.s2[STEPS <= 1500] == 0) and np.all(prep.s2[STEPS > 1600] > 0)


def test_a_longer_cooldown_drops_more_at_the_same_area_cost():
    law = TRUE_DROP
    short = (W >> lk.constant(1.0, 1700) >> lk.linear(200, 1.0, 0.0)) * 1e-3
    long = (W >> lk.constant(1.0, 900) >> lk.linear(1000, 1.0, 0.0)) * 1e-3
    d_short = ConvexDropLaw.prepare(curves.learning_rates(short, 2000), np.array([2000])).s2[0]
    d_long = ConvexDropLaw.prepare(curves.learning_rates(long, 2000), np.array([2000])).s2[0]
    assert d_long > d_short > 0
    assert law.final(long, 2000) != law.final(short, 2000)


def test_drop_law_recovers_a_noiseless_curve_and_works_by_name():
    runs = [Run.of(s * 1e-3, STEPS, TRUE_DROP.predict(s * 1e-3, STEPS), name=n) for n, s in SCHEDULES.items()]
    result = curves.fit(runs, "convex_drop", jackknife=False)
    assert isinstance(result.law, ConvexDropLaw)
    np.testing.assert_allclose(result.law.vector(), TRUE_DROP.vector(), rtol=1e-3)
    assert curves.law_from_dict(result.law.to_dict()) == result.law


def test_drop_law_jacobian_matches_finite_differences():
    prep = ConvexDropLaw.prepare(curves.learning_rates(SCHEDULES["wsd"] * 1e-3, 2000), STEPS)
    _, jac = TRUE_DROP.evaluate(prep, jacobian=True)
    x = TRUE_DROP.vector()
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        numeric = (TRUE_DROP.replace(up).evaluate(prep)[0] - TRUE_DROP.replace(down).evaluate(prep)[0]) / (2 * h)
        assert np.allclose(jac[:, j], numeric, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("law", [ConvexBoundLaw(3.0, 0.5, 0.2, 0.3), TRUE_DROP])
def test_final_gradient_matches_finite_differences(law):
    # a warmup, then a strict decay: no rate ties the running maximum (where the held schedule has a kink)
    lrs = np.concatenate((np.linspace(1e-5, 1e-3, 10), np.linspace(0.99e-3, 0.9e-3, 20), np.linspace(8.9e-4, 1e-4, 15)))
    value, grad = law.final_gradient(lrs)
    assert value == pytest.approx(law.final(lrs, lrs.size), rel=1e-12)
    numeric = np.empty(lrs.size)
    for j in range(lrs.size):
        up, down = lrs.copy(), lrs.copy()
        up[j] += 1e-10
        down[j] -= 1e-10
        numeric[j] = (law.final(up, lrs.size) - law.final(down, lrs.size)) / 2e-10
    assert np.max(np.abs(grad - numeric)) < 1e-5 * np.max(np.abs(numeric))


def test_final_gradient_is_zero_after_the_last_positive_rate():
    lrs = np.array([5e-4, 1e-3, 8e-4, 3e-4, 0.0, 0.0])
    value, grad = ConvexBoundLaw(3.0, 0.5, 0.2, 0.3).final_gradient(lrs)
    assert np.all(grad[4:] == 0) and np.all(grad[:4] != 0)
    assert value == pytest.approx(ConvexBoundLaw(3.0, 0.5, 0.2, 0.3).final(lrs[:4], 4), rel=1e-12)


def test_optimize_uses_the_analytic_gradient():
    best = curves.optimize(TRUE_DROP, 2000, 1e-3, 100, knots=8, floor=0.1)
    hold = (W >> lk.constant(1.0)) * 1e-3
    assert best.predicted_loss < TRUE_DROP.final(hold, 2000)  # the law rewards a decay: the optimum decays
