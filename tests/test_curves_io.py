"""lrkit.curves files and arguments: bad rows are one error naming the file, row and column; runs that are
branches or carry a separately measured final; law files written atomically and read back validated whole.

Every test here failed on 21a4fa1 (silently wrong: truncated or dropped steps, AttributeError, OverflowError,
law files accepted whatever they held)."""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves
from lrkit.curves import MultiPowerLaw, Run

TRUE = MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)
STABLE = (lk.warmup(100) >> lk.constant(1.0)) * 3e-4
COOL = (lk.warmup(100) >> lk.constant(1.0, 1100) >> lk.linear(800)) * 3e-4  # branches off STABLE at 1200


def _csv(tmp_path, text, name="run.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- rows ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cell, needle",
    [("10.5", "whole number"), ("", "is empty"), ("inf", "whole number"), ("-5", "whole number"), ("x", "not a num")],
)
def test_a_bad_step_is_an_error_naming_file_line_and_column(tmp_path, cell, needle):
    path = _csv(tmp_path, f"step,loss\n5,3.0\n{cell},2.9\n20,2.8\n")
    with pytest.raises(ValueError, match=rf"run\.csv', line 3: 'step' .*{needle}"):
        curves.read_run(path, STABLE)


def test_a_bad_loss_or_rate_is_an_error_naming_the_row(tmp_path):
    with pytest.raises(ValueError, match=r"line 4: 'loss' holds 'n/a', not a number"):
        curves.read_run(_csv(tmp_path, "step,loss\n5,3.0\n10,2.9\n20,n/a\n"), STABLE)
    with pytest.raises(ValueError, match=r"line 3: learning rate -0.1 is not finite and >= 0"):
        curves.read_run(_csv(tmp_path, "step,lr,loss\n0,0.1,3.0\n1,-0.1,2.9\n2,0.1,2.8\n"))
    with pytest.raises(ValueError, match=r"line 3: more cells than the header"):
        curves.read_run(_csv(tmp_path, "step,loss\n5,3.0\n10,2.9,7\n"), STABLE)


def test_non_finite_losses_are_left_out_with_a_warning_blank_ones_quietly(tmp_path):
    path = _csv(tmp_path, "step,loss\n5,3.0\n10,nan\n15,\n20,2.8\n")
    with pytest.warns(curves.RunFileWarning, match=r"1 non-finite 'loss' value.*line 3"):
        run = curves.read_run(path, STABLE)
    assert run.steps.tolist() == [5, 20]


def test_a_jsonl_line_that_is_not_an_object(tmp_path):
    path = _csv(tmp_path, '{"step": 1, "loss": 3.0}\n[2, 2.9]\n', "run.jsonl")
    with pytest.raises(ValueError, match=r"run\.jsonl', line 2: a line must be a JSON object.*got list"):
        curves.read_run(path, STABLE)


def test_the_log_and_the_schedule_disagreeing_is_refused(tmp_path):
    steps = np.arange(0, 400)
    path = tmp_path / "run.csv"
    curves.write_run(path, steps, TRUE.predict(STABLE, np.maximum(steps, 1)), STABLE(steps) * 3333)
    with pytest.raises(ValueError, match=r"line 2: the log's learning rate of update 0 .*3,333x the schedule's"):
        curves.read_run(path, STABLE)
    assert curves.read_run(path).lrs[-1] == pytest.approx(3e-4 * 3333)  # the log's own rates, every update


def test_a_path_where_a_run_is_expected_names_read_run(tmp_path):
    with pytest.raises(ValueError, match=r"runs\[0\]: expected a Run, got str .*read_run\('run.csv', schedule\)"):
        curves.fit(["run.csv"])
    with pytest.raises(ValueError, match=r"runs\[1\]: expected a Run, got PosixPath|runs\[1\]: expected a Run"):
        curves.score(TRUE, [Run.of(STABLE, [100, 200], [3.5, 3.4]), tmp_path / "run.csv"])
    with pytest.raises(ValueError, match="runs: give a list of Run"):
        curves.fit("run.csv")


@pytest.mark.parametrize("budget", [math.inf, math.nan, 2.5, 0, True])
def test_a_bad_budget_is_one_value_error(budget):
    with pytest.raises(ValueError, match="budget must be a whole number of updates >= 1"):
        curves.rank(TRUE, {"stable": STABLE}, budget)


# -- branches and finals ------------------------------------------------------------------------------------------
def _runs():
    steps = np.arange(200, 2001, 100)
    stable = Run.of(STABLE, steps, TRUE.predict(STABLE, steps), name="stable")
    own = np.arange(1200, 2001, 50)
    cool = Run.branch(stable, COOL, own, TRUE.predict(COOL, own), name="cooldown")
    return stable, cool


def test_a_branch_is_its_parents_points_then_its_own():
    stable, cool = _runs()
    assert cool.at == 1200 and cool.parent is stable
    assert cool.steps.tolist() == [*range(200, 1201, 100), *range(1250, 2001, 50)]
    np.testing.assert_allclose(cool.losses, TRUE.predict(COOL, cool.steps))
    np.testing.assert_array_equal(cool.lrs, COOL(np.arange(2000)))
    with pytest.raises(ValueError, match=r"schedule: the branch's rate of update 1101 .* its parent 'stable' used"):
        Run.branch(stable, (lk.warmup(100) >> lk.constant(1.0, 1000) >> lk.linear(900)) * 3e-4, [1200], [3.0])
    with pytest.raises(ValueError, match=r"at: the branch point must be a whole number of updates in \[1, 1200\]"):
        Run.branch(stable, COOL, [1200], [3.0], at=1300)


def test_a_branch_point_without_a_parent_is_refused(tmp_path):
    path = _csv(tmp_path, "step,loss\n1250,3.0\n1300,2.9\n")
    with pytest.raises(ValueError, match=r"at: a branch point .* give parent="):
        curves.read_run(path, COOL, at=1200)
    stable, _ = _runs()
    assert curves.read_run(path, COOL, parent=stable, at=1200).steps.tolist() == [*range(200, 1201, 100), 1250, 1300]


def test_fit_and_score_count_the_shared_prefix_once():
    stable, cool = _runs()
    both = curves.fit([stable, cool], method="joint")
    by_hand = curves.fit([stable, cool.own()], method="joint")
    np.testing.assert_array_equal(both.law.vector(), by_hand.law.vector())
    assert [r.points for r in both.quality.runs] == [stable.steps.size, cool.own().steps.size]  # all after the warmup
    assert [r.points for r in curves.score(TRUE, [stable, cool]).runs] == [19, 16]
    assert [r.points for r in curves.score(TRUE, [cool]).runs] == [27]  # alone, its whole curve


def test_a_final_from_another_evaluation_is_scored_as_the_final():
    steps = np.arange(200, 1801, 200)
    run = Run.of(COOL, steps, TRUE.predict(COOL, steps), final=3.9, final_step=2000)
    assert run.lrs.size == 2000
    scored = curves.score(TRUE, [run]).runs[0]
    assert scored.final_loss == 3.9 and scored.predicted_final == pytest.approx(TRUE.final(COOL, 2000))
    assert scored.mean_error < 1e-12  # the curve is still scored on its own points
    with pytest.raises(ValueError, match="final: a final loss must be finite"):
        Run.of(COOL, steps, TRUE.predict(COOL, steps), final=math.nan)


# -- law files ---------------------------------------------------------------------------------------------------
def test_law_files_round_trip_with_their_scale(tmp_path):
    stable, cool = _runs()
    fitted = curves.fit([stable, cool], method="joint")
    path = tmp_path / "law.json"
    saved = curves.save_law(path, fitted, lr_scale=3e-4)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["lr"] == {"units": "absolute", "scale": 3e-4, "fitted_peaks": [3e-4, 3e-4]}
    loaded = curves.load_law(path)
    assert loaded.law == fitted.law and loaded.lr_scale == 3e-4 and loaded.peaks == saved.peaks
    assert loaded.check(COOL, 2000) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match=r"peak learning rate 1 is 3,333x above the largest peak"):
        loaded.check(lk.constant(1.0), 2000)
    momentum = curves.MomentumLaw(3.0, 0.5, 0.5, 0.4, decay=0.99)
    curves.save_law(path, momentum)
    assert curves.load_law(path).law == momentum and curves.load_law(path).peaks is None


def _edit(data, change):
    data = json.loads(json.dumps(data))
    change(data)
    return data


GOOD = {"version": 1, **TRUE.to_dict(), "lr": {"units": "absolute", "scale": 3e-4, "fitted_peaks": [3e-4, 3e-4]}}


@pytest.mark.parametrize(
    "data, needle",
    [
        (_edit(GOOD, lambda d: d.pop("version")), "no 'version'"),
        (_edit(GOOD, lambda d: d.update(version=2)), "version 2 is not one this lrkit reads"),
        (_edit(GOOD, lambda d: d.pop("L0")), "needs the parameter 'L0'"),
        (_edit(GOOD, lambda d: d.update(L0="3.0")), "parameter 'L0' must be a finite number"),
        (_edit(GOOD, lambda d: d.update(B=True)), "parameter 'B' must be a finite number"),
        (_edit(GOOD, lambda d: d.update(law="power")), "unknown law 'power'"),
        (_edit(GOOD, lambda d: d.update(L_0=3.0)), "unknown key 'L_0'"),
        (_edit(GOOD, lambda d: d.pop("lr")), "'lr' must be an object"),
        (_edit(GOOD, lambda d: d["lr"].pop("scale")), "'lr.scale' is missing"),
        (_edit(GOOD, lambda d: d["lr"].update(scale=-1)), "'lr.scale' must be a finite number > 0"),
        (_edit(GOOD, lambda d: d["lr"].update(units="multiplier")), "'lr.units' must be 'absolute'"),
        (_edit(GOOD, lambda d: d["lr"].update(fitted_peaks=[2e-3, 1e-3])), "'lr.fitted_peaks' must be"),
        (_edit(GOOD, lambda d: d.update(fit=[1])), "'fit' must be an object"),
        ([GOOD], "must hold a JSON object"),
    ],
)
def test_a_bad_law_file_is_refused_naming_the_key(tmp_path, data, needle):
    path = tmp_path / "law.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"law file '.*law\.json': .*{needle}"):
        curves.load_law(path)


def test_a_law_file_with_nan_or_cut_short_is_refused(tmp_path):
    path = tmp_path / "law.json"
    path.write_text(json.dumps(GOOD).replace('"L0": 3.0', '"L0": NaN'))
    with pytest.raises(ValueError, match="NaN is not a number a law file may hold"):
        curves.load_law(path)
    path.write_text(json.dumps(GOOD)[:-20])
    with pytest.raises(ValueError, match=r"law\.json': not JSON"):
        curves.load_law(path)


def test_a_law_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "law.json"
    curves.save_law(path, TRUE, lr_scale=3e-4)
    before = path.read_text()

    def fail(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        curves.save_law(path, curves.MomentumLaw(3.0, 0.5, 0.5, 0.4), lr_scale=1e-3)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["law.json"]


def test_write_run_leaves_a_non_finite_loss_blank(tmp_path):
    path = tmp_path / "run.csv"
    curves.write_run(path, [1, 2, 3], [3.0, math.nan, 2.8], [0.1, 0.1, 0.1])
    assert path.read_text().splitlines()[2] == "2,0.1,"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a blank cell is a step without a loss: no warning
        assert curves.read_run(path, lk.constant(0.1)).steps.tolist() == [1, 3]


def test_fit_takes_a_law_by_name_and_refuses_what_is_not_a_law():
    stable, cool = _runs()
    assert isinstance(curves.fit([stable, cool], "momentum").law, curves.MomentumLaw)
    with pytest.raises(ValueError, match="law: unknown law 'power'; known: multi_power, momentum"):
        curves.fit([stable, cool], "power")
    with pytest.raises(ValueError, match=r"law: expected a law name .* a Law class or a Law instance"):
        curves.fit([stable, cool], 3)
