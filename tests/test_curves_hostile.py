"""Hostile input to lrkit.curves and `lrkit curve`: every bad argument or file is one ValueError line naming the
parameter (and the file and row where there is one), on the command line `lrkit: error: ...` and exit 2.

Every case here failed on 6db073d: an AttributeError (`rank(fit(...), ...)`), TypeError (`family(peaks=3e-4)`),
IndexError (a step array of two rows), OverflowError (`choose(..., inf)`), MemoryError (a step of 5e9 in a log
asked for 37 GiB; on the command line "internal error, please report it"), a timeout (`max_evaluations=2.5`), or
a silent wrong answer: 2.5 updates read as 2, `skip_warmup="no"` as True, a CSV with two 'loss' columns read as
the last one, an edited law file with `A = -5` or another law's uncertainty predicting without a word.
The probes behind this file (about 250 cases, with what each did before and after) are in the helper's report.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves
from lrkit.cli import main

TRUE = curves.MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)
SPECS = {
    "constant": "warmup(200) >> constant(1.0)",
    "cosine": "warmup(200) >> cosine(3800, floor=0.1)",
    "drop": "warmup(200) >> constant(1.0, 1800) >> constant(0.3)",
}
PEAK = 3e-4
SCHED = lk.from_config(SPECS["cosine"]) * PEAK
STEPS = np.arange(256, 4001, 64)
RUN = curves.Run.of(SCHED, STEPS, TRUE.predict(SCHED, STEPS), name="cosine")
SRC = Path(curves.__file__).resolve().parents[2]


def _runs():
    return [
        curves.Run.of(lk.from_config(s) * PEAK, STEPS, TRUE.predict(lk.from_config(s) * PEAK, STEPS), name=n)
        for n, s in SPECS.items()
    ]


@pytest.fixture(scope="module")
def fitted():
    return curves.fit(_runs(), "multi_power", method="joint", prior=None)


CANDS = curves.family(4000, peaks=[PEAK], warmup=200, fractions=(0.1, 0.2), shapes=("linear",), cosine_floors=(0.1,))


# -- a fit where a law is meant ------------------------------------------------------------------------------
def test_rank_score_optimize_take_a_fit_as_choose_does(fitted):
    # each raised AttributeError: 'Fit' object has no attribute 'final' / 'predict' / 'final_gradient'
    schedules = {"cosine": SCHED, "constant": lk.from_config(SPECS["constant"]) * PEAK}
    assert curves.rank(fitted, schedules, 4000) == curves.rank(fitted.law, schedules, 4000)
    assert curves.score(fitted, _runs()).mean_error == curves.score(fitted.law, _runs()).mean_error
    a = curves.optimize(fitted, 1000, PEAK, 100, knots=4, max_iterations=5)
    b = curves.optimize(fitted.law, 1000, PEAK, 100, knots=4, max_iterations=5)
    assert a.schedule == b.schedule and a.predicted_loss == b.predicted_loss


@pytest.mark.parametrize(
    "call",
    [
        lambda: curves.rank("law.json", {"a": SCHED}, 4000),
        lambda: curves.score("law.json", [RUN]),
        lambda: curves.optimize("law.json", 1000, PEAK),
        lambda: curves.choose(Path("law.json"), CANDS, 4000),
    ],
    ids=["rank", "score", "optimize", "choose"],
)
def test_a_law_file_path_where_a_law_is_meant_names_load_law(call):
    expected = r"^law: expected a curves\.Law, a curves\.Fit or a law file \(curves\.load_law\), got .*load_law\(path\)"
    with pytest.raises(ValueError, match=expected):
        call()


# -- numbers: whole numbers where a count is meant; nan, inf, 2.5, text --------------------------------------
BAD_ARGUMENTS = {
    # choose: 2.5 and nan gave TypeError ('float' object is not iterable), inf OverflowError, [4000.7] ran at 4000
    "choose lengths 2.5": (lambda: curves.choose(TRUE, CANDS, 2.5), "lengths"),
    "choose lengths nan": (lambda: curves.choose(TRUE, CANDS, math.nan), "lengths"),
    "choose lengths inf": (lambda: curves.choose(TRUE, CANDS, [math.inf]), "lengths"),
    "choose lengths None": (lambda: curves.choose(TRUE, CANDS, None), "lengths"),
    "choose lengths 4000.7": (lambda: curves.choose(TRUE, CANDS, [4000.7]), "lengths"),
    "choose peaks text": (lambda: curves.choose(TRUE, CANDS, 4000, peaks="3e-4"), "peaks"),
    "choose peaks reversed": (lambda: curves.choose(TRUE, CANDS, 4000, peaks=(1e-3, 1e-4)), "peaks"),
    "choose peaks nan": (lambda: curves.choose(TRUE, CANDS, 4000, peaks=(math.nan, 1e-3)), "peaks"),
    "choose a config that does not read": (lambda: curves.choose(TRUE, {"mine": "cosine("}, 4000),
                                           "candidates: 'mine'"),
    # family: nan / inf / 2.5 lengths (ValueError 'cannot convert float NaN', OverflowError, cut to 2), a peak
    # given as one number (TypeError), shapes as one text (read letter by letter: "got 'l'")
    "family length nan": (lambda: curves.family(math.nan, peaks=[PEAK]), "length"),
    "family length inf": (lambda: curves.family(math.inf, peaks=[PEAK]), "length"),
    "family length 100.7": (lambda: curves.family(100.7, peaks=[PEAK]), "length"),
    "family warmup 2.5": (lambda: curves.family(4000, peaks=[PEAK], warmup=2.5), "warmup"),
    "family peaks one number": (lambda: curves.family(4000, peaks=PEAK), "peaks"),
    "family peaks text": (lambda: curves.family(4000, peaks="3e-4"), "peaks"),
    "family peak text": (lambda: curves.family(4000, peaks=["3e-4"]), "peaks"),
    "family fractions text": (lambda: curves.family(4000, peaks=[PEAK], fractions="0.1"), "fractions"),
    "family shapes text": (lambda: curves.family(4000, peaks=[PEAK], shapes="linear"), "shapes"),
    "family extra bad config": (lambda: curves.family(4000, peaks=[PEAK], extra={"mine": "cosine("}), "extra: 'mine'"),
    "family extra not text": (lambda: curves.family(4000, peaks=[PEAK], extra={"mine": 5}), "extra: 'mine'"),
    # optimize: nan (cannot convert), inf (OverflowError), 2.5 / '1000' read as 2 / 1000, knots 0 / -5 read as 1,
    # max_iterations 0 / nan ran without a word, a text peak TypeError
    "optimize budget nan": (lambda: curves.optimize(TRUE, math.nan, PEAK), "budget"),
    "optimize budget inf": (lambda: curves.optimize(TRUE, math.inf, PEAK), "budget"),
    "optimize budget 2.5": (lambda: curves.optimize(TRUE, 2.5, PEAK), "budget"),
    "optimize budget text": (lambda: curves.optimize(TRUE, "1000", PEAK), "budget"),
    "optimize budget 1e9": (lambda: curves.optimize(TRUE, 10**9, PEAK), "budget"),
    "optimize peak text": (lambda: curves.optimize(TRUE, 1000, "3e-4"), "peak"),
    "optimize peak None": (lambda: curves.optimize(TRUE, 1000, None), "peak"),
    "optimize warmup 2.5": (lambda: curves.optimize(TRUE, 1000, PEAK, 2.5), "warmup"),
    "optimize knots 0": (lambda: curves.optimize(TRUE, 1000, PEAK, knots=0), "knots"),
    "optimize knots -5": (lambda: curves.optimize(TRUE, 1000, PEAK, knots=-5), "knots"),
    "optimize knots 2.7": (lambda: curves.optimize(TRUE, 1000, PEAK, knots=2.7), "knots"),
    "optimize knots past memory": (lambda: curves.optimize(TRUE, 40000, PEAK, knots=40000), "knots"),
    "optimize max_iterations 0": (lambda: curves.optimize(TRUE, 1000, PEAK, max_iterations=0), "max_iterations"),
    "optimize max_iterations nan": (lambda: curves.optimize(TRUE, 1000, PEAK, max_iterations=math.nan),
                                    "max_iterations"),
    # fit: a text delta (TypeError), max_evaluations 0 (scipy's "`max_nfev` must be ..."), 2.5 / nan (ran for
    # minutes), resolution nan / inf (cannot convert, OverflowError), 0 / -3 / 2.7 read as 1 / 1 / 2, a text
    # flag ("no") read as True
    "fit delta text": (lambda: curves.fit(_runs(), "multi_power", delta="1e-3"), "delta"),
    "fit delta text auto": (lambda: curves.fit(_runs(), delta="1e-3"), "delta"),
    "fit max_evaluations 0": (lambda: curves.fit(_runs(), "multi_power", max_evaluations=0), "max_evaluations"),
    "fit max_evaluations 2.5": (lambda: curves.fit(_runs(), "multi_power", max_evaluations=2.5), "max_evaluations"),
    "fit max_evaluations nan": (lambda: curves.fit(_runs(), "multi_power", max_evaluations=math.nan),
                                "max_evaluations"),
    "fit resolution nan": (lambda: curves.fit(_runs(), "multi_power", resolution=math.nan), "resolution"),
    "fit resolution inf": (lambda: curves.fit(_runs(), "multi_power", resolution=math.inf), "resolution"),
    "fit resolution 0": (lambda: curves.fit(_runs(), "multi_power", resolution=0), "resolution"),
    "fit resolution 2.7": (lambda: curves.fit(_runs(), "multi_power", resolution=2.7), "resolution"),
    "fit skip_warmup text": (lambda: curves.fit(_runs(), "multi_power", skip_warmup="no"), "skip_warmup"),
    "fit relative text": (lambda: curves.fit(_runs(), "multi_power", relative="no"), "relative"),
    "fit jackknife text": (lambda: curves.fit(_runs(), "multi_power", jackknife="no"), "jackknife"),
    # predict: resolution nan (cannot convert), 0 / -1 / 2.5 read as 1 / 1 / 2
    "predict resolution nan": (lambda: TRUE.predict(SCHED, [4000], resolution=math.nan), "resolution"),
    "predict resolution 0": (lambda: TRUE.predict(SCHED, [4000], resolution=0), "resolution"),
    "predict resolution 2.5": (lambda: TRUE.predict(SCHED, [4000], resolution=2.5), "resolution"),
    # interval: a level of 95 (a percent) or nan went unchecked when there was no uncertainty
    "interval level 95": (lambda: curves.interval(TRUE, None, SCHED, [4000], 95), "level"),
    "interval level nan": (lambda: curves.interval(TRUE, None, SCHED, [4000], math.nan), "level"),
    "interval law text": (lambda: curves.interval("law.json", None, SCHED, [4000]), "law"),
    # an uncertainty that is not one (AttributeError), or another law's (numpy's broadcast message)
    "interval uncertainty dict": (lambda: curves.interval(TRUE, {"L0": 1.0}, SCHED, [4000]), "uncertainty"),
    "interval uncertainty of another law": (
        lambda: curves.interval(TRUE, curves.Uncertainty(("L0", "A"), np.eye(2), 0.01, 1.0), SCHED, [4000]),
        "uncertainty",
    ),
    "choose uncertainty of another law": (
        lambda: curves.choose(TRUE, CANDS, 4000, uncertainty=curves.Uncertainty(("a",), np.eye(1), 0.01, 1.0)),
        "uncertainty",
    ),
    # shapes: an array of two rows (IndexError), a function returning one number (IndexError), a spec's text
    # (numpy's "could not convert string to float"), a schedule array of two rows read end to end
    "predict steps of two rows": (lambda: TRUE.predict(SCHED, [[100, 200], [300, 400]]), "steps"),
    "Run.of steps of two rows": (lambda: curves.Run.of(SCHED, [[100, 200], [300, 400]], [3, 3, 3, 3]), "steps"),
    "Run.of losses of two rows": (lambda: curves.Run.of(SCHED, [1, 2, 3, 4], [[3, 3], [3, 3]]), "losses"),
    "predict a function of one number": (lambda: TRUE.predict(lambda t: 3e-4, [4000]), "schedule"),
    "predict a function with an if": (lambda: TRUE.predict(lambda t: 3e-4 if t < 100 else 1e-4, [4000]),
                                      "schedule"),
    "predict a spec's text": (lambda: TRUE.predict(SPECS["cosine"], [100]), "schedule"),
    "Run.of a spec's text": (lambda: curves.Run.of(SPECS["cosine"], [100], [3.0]), "schedule"),
    "Run.of rates of two rows": (lambda: curves.Run.of(np.full((2, 4000), PEAK), [4000], [3.0]), "schedule"),
    "Run.of losses text": (lambda: curves.Run.of(SCHED, [100], ["abc"]), "losses"),
    "Run.branch without losses": (lambda: curves.Run.branch(RUN, SCHED, [300], None), "losses"),
    # lengths no machine holds: 2e9 updates asked for 15 GiB (MemoryError), 3e8 for 2.2 GiB per array
    "Run.of steps 2e9": (lambda: curves.Run.of(SCHED, [2_000_000_000], [3.0]), "steps"),
    "predict steps 3e8": (lambda: TRUE.predict(lk.constant(PEAK), [3 * 10**8]), "steps"),
    # paths that are not paths (TypeError from pathlib)
    "read_run path int": (lambda: curves.read_run(5, SCHED), "path"),
    "read_run path None": (lambda: curves.read_run(None, SCHED), "path"),
    "load_law path int": (lambda: curves.load_law(5), "path"),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS), ids=list(BAD_ARGUMENTS))
def test_a_bad_argument_is_one_line_naming_it(case):
    call, name = BAD_ARGUMENTS[case]
    with pytest.raises(ValueError, match=rf"^{name}: ") as err:
        call()
    assert "\n" not in str(err.value)


def test_a_list_or_a_row_of_steps_still_reads_as_a_list():
    row = TRUE.predict(SCHED, [[1000, 2000]])
    column = TRUE.predict(SCHED, np.array([[1000], [2000]]))
    assert np.array_equal(row, TRUE.predict(SCHED, [1000, 2000])) and np.array_equal(column, row)
    assert curves.choose(TRUE, CANDS, 4000.0)[0].budget == 4000  # a whole float is a whole number
    assert curves.optimize(TRUE, 1000.0, PEAK, 100.0, knots=4.0, max_iterations=5).budget == 1000


# -- run files ------------------------------------------------------------------------------------------------
def test_a_step_no_run_has_is_refused_naming_its_row(tmp_path):
    # step 5e9 (an epoch logged as a step, a typo) asked numpy for 37 GiB: MemoryError, on the command line
    # "internal error, please report it"; an integer step of 30 digits an OverflowError
    csv_file = tmp_path / "run.csv"
    csv_file.write_text("step,loss\n100,3.5\n5000000000,3.4\n")
    with pytest.raises(ValueError, match=r"run\.csv', line 3: 'step': at most 1e\+08 updates.*got 5e\+09"):
        curves.read_run(csv_file, SCHED)
    lines = tmp_path / "run.jsonl"
    lines.write_text('{"step": 100, "loss": 3.5}\n{"step": 123456789012345678901234567890, "loss": 3.4}\n')
    with pytest.raises(ValueError, match=r"run\.jsonl', line 2: 'step': at most"):
        curves.read_run(lines, SCHED)


def test_a_csv_naming_a_column_twice_is_refused(tmp_path):
    # csv kept the last 'loss' column in silence: the run's losses were the second column's
    path = tmp_path / "run.csv"
    path.write_text("step,loss,loss\n100,3.5,9\n200,3.4,9\n")
    with pytest.raises(ValueError, match=r"run\.csv', line 1: the column 'loss' is named twice"):
        curves.read_run(path, SCHED)


def test_a_csv_separated_by_comma_and_space_reads(tmp_path):
    # numpy.savetxt(..., delimiter=", ") and hand-written files: the column was ' loss', "no loss series"
    path = tmp_path / "run.csv"
    path.write_text("step, lr, loss\n100, 0.0003, 3.5\n200, 0.0003, 3.4\n")
    run = curves.read_run(path, lk.constant(PEAK))
    assert run.steps.tolist() == [100, 200] and run.losses.tolist() == [3.5, 3.4]


# -- law files ------------------------------------------------------------------------------------------------
@pytest.fixture()
def law_file(tmp_path, fitted):
    path = tmp_path / "law.json"
    curves.save_law(path, fitted, lr_scale=PEAK)
    return path


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


EDITS = {
    # each was read and predicted with (A = -5: predictions below L0 ; another law's uncertainty: numpy's
    # "operands could not be broadcast", or with as many parameters wrong intervals; a negative variance or
    # noise: intervals silently clipped to points)
    "A negative": (lambda d: d.update(A=-5.0), r"'A' = -5\.0 is outside 1e-06 to inf"),
    "beta past its bound": (lambda d: d.update(beta=-1.0), r"'beta' = -1\.0 is outside"),
    "gamma past its bound": (lambda d: d.update(gamma=100.0), r"'gamma' = 100\.0 is outside"),
    "another law's uncertainty": (
        lambda d: d["uncertainty"].update(names=["L0", "A", "alpha", "C"], covariance=np.eye(4).tolist()),
        r"'uncertainty': uncertainty: its parameters \['L0', 'A', 'alpha', 'C'\] are not the multi_power",
    ),
    "an ensemble of another law": (
        lambda d: d["uncertainty"].update(ensemble=[{"law": "momentum", "L0": 3, "A": 1, "alpha": 0.5, "C": 1}]),
        r"'uncertainty': uncertainty: its ensemble holds a momentum law",
    ),
    "a negative variance": (
        lambda d: d["uncertainty"].update(covariance=(-np.eye(7)).tolist()),
        r"'uncertainty': uncertainty: covariance must be symmetric with variances >= 0",
    ),
    "a negative noise": (lambda d: d["uncertainty"].update(noise=-1.0), r"'uncertainty': uncertainty: noise must"),
    "a negative inflation": (lambda d: d["uncertainty"].update(inflation=-5), r"'uncertainty': uncertainty: noise"),
    "at_bounds a text": (lambda d: d["uncertainty"].update(at_bounds="beta"), r"'uncertainty': uncertainty: at_bounds"),
    "ensemble a number": (lambda d: d["uncertainty"].update(ensemble=5), r"'uncertainty': uncertainty: ensemble"),
}


@pytest.mark.parametrize("case", list(EDITS), ids=list(EDITS))
def test_an_edited_law_file_is_refused_naming_the_key(law_file, case):
    change, needle = EDITS[case]
    _edit(law_file, change)
    with pytest.raises(ValueError, match=rf"^law file '.*law\.json': .*{needle}"):
        curves.load_law(law_file)


def test_a_law_file_saved_with_a_byte_order_mark_reads_and_a_folder_is_named(law_file, tmp_path):
    # "not JSON (Unexpected UTF-8 BOM ...)"; a folder "does not exist"
    law_file.write_text("\ufeff" + law_file.read_text())
    assert curves.load_law(law_file).law.name == "multi_power"
    with pytest.raises(ValueError, match=r"^law file '.*' is a folder; give the law file in it"):
        curves.load_law(tmp_path)


def test_law_from_dict_refuses_a_parameter_outside_its_law_range():
    with pytest.raises(ValueError, match=r"^law: parameter 'alpha' = 7\.0 is outside 0\.001 to 3"):
        curves.law_from_dict({**TRUE.to_dict(), "alpha": 7.0})
    assert curves.law_from_dict(TRUE.to_dict()) == TRUE


# -- the command line -----------------------------------------------------------------------------------------
def _cli(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture()
def cli_law(tmp_path, capsys):
    files = []
    for name, spec in SPECS.items():
        path = tmp_path / f"{name}.csv"
        schedule = lk.from_config(spec) * PEAK
        curves.write_run(path, STEPS, TRUE.predict(schedule, STEPS))
        files.append(f"{path}@{spec}")
    path = tmp_path / "law.json"
    status, _, err = _cli(["curve", "fit", *files, "--lr", PEAK, "--law", "multi_power", "-o", path], capsys)
    assert status == 0, err
    return path


def _one_error(status, err, needle):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and needle in lines[0], err
    assert "internal error" not in err and "Traceback" not in err


def test_cli_lengths_no_machine_holds_are_one_line(cli_law, tmp_path, capsys):
    # each was "internal error, please report it: MemoryError: Unable to allocate 74.5 GiB", exit 1
    status, _, err = _cli(["curve", "predict", cli_law, "constant()", "--budget", 10**10], capsys)
    _one_error(status, err, "at most 1e+08 updates")
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 10**10, "--peak", PEAK], capsys)
    _one_error(status, err, "--length: ")
    assert "at most 1e+08 updates" in err
    status, _, err = _cli(["curve", "optimize", cli_law, "--budget", 40000, "--peak", PEAK, "--knots", 40000], capsys)
    _one_error(status, err, "knots: ")
    log = tmp_path / "long.csv"
    log.write_text("step,loss\n300,3.5\n5000000000,3.4\n")
    status, _, err = _cli(["curve", "fit", f"{log}@{SPECS['constant']}", "--lr", PEAK], capsys)
    _one_error(status, err, "line 3: 'step': at most 1e+08 updates")


def test_cli_a_law_file_with_another_law_uncertainty_is_one_line(cli_law, capsys):
    # numpy's "operands could not be broadcast together with remapped shapes", exit 2 with no word of the file
    _edit(cli_law, lambda d: d["uncertainty"].update(names=["L0", "A", "alpha", "C"], covariance=np.eye(4).tolist()))
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 4000, "--peak", PEAK], capsys)
    _one_error(status, err, "'uncertainty': uncertainty: its parameters")


def test_cli_predict_more_points_than_updates_prints_every_update(cli_law, capsys):
    # --points 50 over 10 updates rounded a step to 0: "steps: steps must be whole numbers >= 1", exit 2
    status, out, err = _cli(["curve", "predict", cli_law, "constant()", "--budget", 10, "--points", 50], capsys)
    assert status == 0, err
    assert [int(line.split(",")[0]) for line in out.splitlines()[1:]] == list(range(1, 11))


def test_cli_a_path_holding_an_at_sign_reads(tmp_path, capsys):
    # 'lr@3e-4.csv@SPEC' was split at its first '@': "unexpected character" in the spec 3e-4.csv@...
    path = tmp_path / "lr@3e-4.csv"
    schedule = lk.from_config(SPECS["cosine"]) * PEAK
    curves.write_run(path, STEPS, TRUE.predict(schedule, STEPS))
    status, out, err = _cli(["curve", "fit", f"{path}@{SPECS['cosine']}", "--lr", PEAK, "--law", "multi_power"],
                            capsys)
    assert status == 0, err
    assert "| lr@3e-4 |" in out


def test_cli_out_of_memory_is_one_line(cli_law):
    # a request the machine cannot hold (here: the address space limited to 3 GiB, a cosine predicted over 6e7
    # updates, about 5 GiB) was "internal error, please report it: MemoryError", exit 1
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    env = {**os.environ, "PYTHONPATH": str(SRC), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    code = "import sys; from lrkit.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = ["curve", "predict", str(cli_law), "cosine(60000000)", "--budget", str(6 * 10**7), "--points", "3"]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          preexec_fn=limit, timeout=300)
    _one_error(done.returncode, done.stderr, "not enough memory for this request")


def test_save_law_to_a_folder_or_a_missing_folder_is_one_line(tmp_path):
    # IsADirectoryError naming a temporary file ('.x.9qgu.tmp' -> 'x'); FileNotFoundError; peaks of 3 numbers
    # "too many values to unpack"
    with pytest.raises(ValueError, match=r"^path: '.*' is a folder; give a file name"):
        curves.save_law(tmp_path, TRUE)
    with pytest.raises(ValueError, match=r"^path: folder '.*nope' does not exist"):
        curves.save_law(tmp_path / "nope" / "law.json", TRUE)
    with pytest.raises(ValueError, match=r"^peaks must be \(lowest, highest\)"):
        curves.save_law(tmp_path / "law.json", TRUE, peaks=(1e-4, 2e-4, 3e-4))
    assert not (tmp_path / "law.json").exists()


def test_plots_take_a_fit_and_one_run_and_check_the_rest(fitted, tmp_path):
    # plot(fit(...)) raised AttributeError, plot(law, fitted=run) TypeError, plot_choice(top=0) "max() arg is an
    # empty sequence", top=2.5 TypeError, a missing folder FileNotFoundError, one candidate without an
    # uncertainty matplotlib's "Attempting to set identical low and high ylims"
    pytest.importorskip("matplotlib")
    import warnings

    assert len(curves.plot(fitted, fitted=RUN).axes[0].get_lines()) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = curves.choose(TRUE, {"only": SCHED}, 4000)
        assert len(curves.plot_choice(TRUE, one).axes) == 1
        assert len(curves.plot_choice(fitted, one[0]).axes) == 1  # a Fit, its uncertainty, and one Choice
    for top in (0, -1, 2.5):
        with pytest.raises(ValueError, match=r"^top: must be a whole number >= 1"):
            curves.plot_choice(TRUE, one, top=top)
    with pytest.raises(ValueError, match=r"^choices: give a list of Choice values"):
        curves.plot_choice(TRUE, [RUN])
    with pytest.raises(ValueError, match=r"^fitted: give a list of Run values"):
        curves.plot(TRUE, fitted="run.csv")
    with pytest.raises(ValueError, match=r"^path: folder '.*nope' does not exist"):
        curves.plot(TRUE, fitted=[RUN], path=tmp_path / "nope" / "fit.png")


def test_a_final_step_given_as_a_whole_float_reads():
    # final_step=1000.0 was refused while every other count reads a whole float
    assert curves.Run.of(SCHED, [100], [3.0], final=3.0, final_step=1000.0).final_step == 1000
    with pytest.raises(ValueError, match=r"^final_step: .* whole number >= 1, got 2\.5"):
        curves.Run.of(SCHED, [100], [3.0], final=3.0, final_step=2.5)


def test_a_fit_of_multipliers_says_so_once(tmp_path, capsys):
    # runs given lk.cosine(n) (multipliers, peak 1) instead of lk.cosine(n) * peak fitted without a word; a
    # schedule in absolute rates given to the law later was then read 3,000x off
    runs = [curves.Run.of(lk.from_config(s), STEPS, TRUE.predict(lk.from_config(s) * PEAK, STEPS), name=n)
            for n, s in SPECS.items()]
    with pytest.warns(curves.CurveFitWarning, match="peaks at exactly 1: if these are lrkit multipliers") as caught:
        result = curves.fit(runs, "multi_power", jackknife=False)
    assert sum("peaks at exactly 1" in str(w.message) for w in caught) == 1
    assert sum("peaks at exactly 1" in p for p in result.problems) == 1
    files = []
    for name, spec in SPECS.items():
        path = tmp_path / f"{name}.csv"
        curves.write_run(path, STEPS, TRUE.predict(lk.from_config(spec) * PEAK, STEPS))
        files.append(f"{path}@{spec}")
    status, out, err = _cli(["curve", "fit", *files, "--law", "multi_power"], capsys)  # --lr left out
    assert status == 0, err
    assert out.count("warning: every fitted run's learning rate peaks at exactly 1") == 1
    status, out, _ = _cli(["curve", "fit", *files, "--law", "multi_power", "--lr", PEAK], capsys)
    assert status == 0 and "peaks at exactly 1" not in out


def test_two_learning_rate_columns_that_disagree_are_named(tmp_path, capsys):
    # a log with 'lr' and 'learning_rate' (or two parameter groups' lr-*) was read with its first in silence
    path = tmp_path / "run.csv"
    rows = "".join(f"{s},{PEAK},{PEAK / 10},{3.0 + 1 / (s + 1)}\n" for s in range(301))
    path.write_text("step,lr,learning_rate,loss\n" + rows)
    with pytest.raises(ValueError, match=r"two learning rates that disagree, 'lr' 0\.0003 and 'learning_rate' "
                                         r"3e-05 at step 0; name the one the loss follows \(lr_key=, --lr-key\)"):
        curves.read_run(path)
    assert curves.read_run(path, lr_key="learning_rate").lrs.max() == PEAK / 10
    status, _, err = _cli(["curve", "fit", path], capsys)
    _one_error(status, err, "two learning rates that disagree")
    path.write_text("step,lr,learning_rate,loss\n" + rows.replace(f",{PEAK / 10},", f",{PEAK},"))
    assert curves.read_run(path).lrs.max() == PEAK  # two columns that agree: read as one


def test_a_prior_mapping_with_the_auto_law_is_refused():
    # law="auto" fitted both laws with it: {"beta": ...} failed the convex drop's fits, whose held-out error was
    # then inf, and the multi-power law was "chosen by evidence" in silence; {"C": (2, 1)} centred the convex
    # drop's C (10-200) on the multi-power law's 2
    for prior in ({"beta": (0.6, 1.0)}, {"C": (2.0, 1.0)}):
        with pytest.raises(ValueError, match=r"^prior: a mapping names one law's parameters; law='auto' fits two"):
            curves.fit(_runs(), prior=prior)
    assert curves.fit(_runs(), "multi_power", prior={"beta": (0.6, 1.0)}, jackknife=False).law.name == "multi_power"


@pytest.mark.parametrize(
    "args, needle",
    [
        (([10.5, 20], [3.0, 2.9]), "steps: every step must be a whole number >= 0"),  # written as 10 in silence
        (([-5, 20], [3.0, 2.9]), "steps: every step must be a whole number >= 0"),  # written, refused on reading
        (([10, 20], [3.0]), "losses: 1 values for 2 steps"),  # IndexError
        (([10, 20], [3.0, 2.9], [1e-3]), "lrs: 1 values for 2 steps"),  # IndexError
        (([10, 20], [3.0, 2.9], [-1.0, 1e-3]), "lrs: learning rates must be finite and >= 0"),  # written
        (("ab", [3.0, 2.9]), "steps: "),  # IndexError
    ],
)
def test_write_run_refuses_what_read_run_would_not_read_back(tmp_path, args, needle):
    path = tmp_path / "run.csv"
    with pytest.raises(ValueError, match=rf"^{needle}"):
        curves.write_run(path, *args)
    assert not path.exists()


def test_a_candidate_that_cannot_be_predicted_is_named():
    # rank / choose said "lrs: 10 learning rates given, ..." without naming which candidate
    short = np.full(10, PEAK)
    with pytest.raises(ValueError, match=r"^candidates: 'short': lrs: 10 learning rates given"):
        curves.rank(TRUE, {"cosine": SCHED, "short": short}, 4000)
    with pytest.raises(ValueError, match=r"^candidates: 'short': lrs: 10 learning rates given"):
        curves.choose(TRUE, {"cosine": SCHED, "short": short}, 4000)
    with pytest.raises(ValueError, match=r"^budget: at most 1e\+08 updates"):
        curves.rank(TRUE, {"cosine": SCHED}, 10**9)
    with pytest.raises(ValueError, match=r"^lengths: at most 1e\+08 updates"):
        curves.choose(TRUE, {"cosine": SCHED}, 10**9)


def test_a_branch_point_given_as_a_whole_float_reads_as_every_other_count():
    import lrkit as lk
    from lrkit.curves import Run

    stable = Run.of(lk.constant(1e-3), [100, 200, 300], [3.0, 2.9, 2.85], name="stable")
    sched = lk.constant(1e-3, 200) >> lk.linear(200, 1e-3, 0.0)
    cool = Run.branch(stable, sched, [200, 300, 400], [2.9, 2.8, 2.7], at=200.0)
    assert cool.at == 200 and isinstance(cool.at, int)
    with pytest.raises(ValueError, match=r"^at: the branch point must be a whole number"):
        Run.branch(stable, sched, [200, 300, 400], [2.9, 2.8, 2.7], at=200.5)


def test_the_multi_power_law_predicts_a_schedule_without_warmup_as_one_with_a_one_update_warmup():
    """Training starts at rate 0: a schedule that starts at its peak rises to it at update 0. The law sums a
    warmup's rises as negative decreases, and used to skip the first update's, so a schedule without warmup was
    predicted about ``B x peak`` (0.117 with the published 25M parameters) below the same schedule with a
    one-update warmup from 0, which `choose --warmup 0` then did to every candidate, silently."""
    law = TRUE
    none = lk.constant(1.0) * 3e-4
    one = (lk.warmup(1, start=0.0) >> lk.constant(1.0)) * 3e-4
    cooled = (lk.constant(1.0, 20000) >> lk.linear(4000, 1.0, 0.0)) * 3e-4
    cooled_one = (lk.warmup(1, start=0.0) >> lk.constant(1.0, 19999) >> lk.linear(4000, 1.0, 0.0)) * 3e-4
    assert law.final(none, 24000) == pytest.approx(law.final(one, 24000), abs=2e-4)
    assert law.final(cooled, 24000) == pytest.approx(law.final(cooled_one, 24000), abs=2e-4)
    lrs = cooled(np.arange(24000))
    loss, grad = law.final_gradient(lrs)
    assert loss == pytest.approx(law.final(lrs, 24000), rel=1e-10)
    for j in (0, 1, 20000, 23999):
        bumped = lrs.copy()
        bumped[j] += 1e-9
        assert (law.final(bumped, 24000) - loss) / 1e-9 == pytest.approx(grad[j], rel=2e-3, abs=1e-3)


def test_a_schedule_that_ends_before_the_budget_warns_once_naming_its_length():
    """Past its end an lrkit schedule holds its last rate: a 24,000-update WSD asked for 72,000 updates stays at 0
    for the last 48,000 and its predicted loss flat; predict, rank and choose did that silently."""
    short = lk.wsd(4000, 200, 800) * PEAK
    with pytest.warns(curves.CurvePredictionWarning, match=r"schedule: it ends after 4000 updates .* 8000"):
        TRUE.predict(short, [2000, 8000])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TRUE.predict(short, [2000, 4000])  # as long as the budget: silent
        TRUE.predict(lk.wsd(8000, 200, 800) * PEAK, [4000])  # longer (a run stopped early): silent
        TRUE.predict(lk.constant(1.0) * PEAK, [8000])  # no end


def test_cli_fit_refuses_to_write_the_law_over_one_of_its_runs(tmp_path, capsys):
    path = tmp_path / "constant.csv"
    schedule = lk.from_config(SPECS["constant"]) * PEAK
    curves.write_run(path, STEPS, TRUE.predict(schedule, STEPS))
    before = path.read_bytes()
    status, _, err = _cli(["curve", "fit", f"{path}@{SPECS['constant']}", "--lr", PEAK, "--law", "convex_drop",
                           "-o", path], capsys)
    _one_error(status, err, "-o: ")
    assert path.read_bytes() == before  # the run's log is still there


def test_cli_choose_refuses_a_spec_named_as_a_family_candidate(cli_law, capsys):
    # the row 'cosine-0.1@0.0003' showed the constant run's loss: --spec replaced the family's candidate silently
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 4000, "--peak", PEAK, "--warmup", 200,
                           "--fractions", 0.2, "--shapes", "linear", "--cosine-floors", 0.1,
                           "--spec", f"cosine-0.1@{PEAK:g}=({SPECS['constant']}) * {PEAK}"], capsys)
    _one_error(status, err, "--spec: ")


def test_cli_rank_refuses_a_schedule_given_twice(cli_law, capsys):
    status, _, err = _cli(["curve", "rank", cli_law, SPECS["cosine"], SPECS["cosine"], "--budget", 4000], capsys)
    _one_error(status, err, "given twice")


def test_family_says_which_fractions_it_leaves_out_and_refuses_floors_at_or_above_the_peak():
    with pytest.warns(UserWarning, match=r"fractions: 0.9 leave no constant phase after the warmup of 2160"):
        cands = curves.family(3000, peaks=[PEAK], warmup=2160, fractions=(0.1, 0.9), shapes=("linear",),
                              cosine_floors=(0.1,))
    assert sorted(cands) == ["cosine-0.1@0.0003", "wsd-0.1-linear@0.0003"]
    with pytest.raises(ValueError, match=r"^fractions: 0.9 leave .* no candidate"):
        curves.family(3000, peaks=[PEAK], warmup=2160, fractions=(0.9,), cosine_floors=())
    for kwargs, needle in (({"floor": 2.0}, "floor: "), ({"cosine_floors": (-0.5,)}, "cosine_floors: ")):
        with pytest.raises(ValueError, match=f"^{needle}"):
            curves.family(3000, peaks=[PEAK], **kwargs)
    with pytest.raises(ValueError, match=r"^fractions: two values read 0\.1 in a candidate's name"):
        curves.family(3000, peaks=[PEAK], fractions=(0.1, 0.1000000001), shapes=("linear",), cosine_floors=())


def test_cli_choose_names_its_own_options(cli_law, capsys):
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 4000, "--peak", PEAK, "--cosine-floors", -0.5],
                          capsys)
    _one_error(status, err, "--cosine-floors: ")
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 3000, "--peak", PEAK, "--warmup", 2160,
                           "--fractions", 0.9, "--cosine-floors"], capsys)
    _one_error(status, err, "--fractions: 0.9 leave")


def test_a_step_counter_that_restarts_is_refused_and_a_resumed_run_is_said(tmp_path):
    """Steps logged again: a run resumed from a checkpoint (a few; the value logged last kept, now said once) or a
    counter that restarts each epoch (most of them: two-thirds of the log was dropped silently)."""
    path = tmp_path / "reset.csv"
    path.write_text("step,loss\n" + "".join(f"{s},{5 - 0.5 * e - 0.0005 * s:.4f}\n" for e in range(3)
                                              for s in range(100, 1001, 100)))
    with pytest.raises(ValueError, match=r"20 of 30 'loss' values are logged at a step logged before: the step "):
        curves.read_run(path, lk.constant(1e-3))
    resumed = tmp_path / "resumed.csv"
    resumed.write_text("step,loss\n100,4\n200,3.9\n300,3.8\n200,3.85\n300,3.75\n400,3.7\n")
    with pytest.warns(curves.RunFileWarning, match=r"2 of 6 'loss' values .* the value logged last at each step"):
        run = curves.read_run(resumed, lk.constant(1e-3))
    assert run.steps.tolist() == [100, 200, 300, 400] and run.losses.tolist() == [4.0, 3.85, 3.75, 3.7]


def test_cli_score_scores_the_points_a_fit_uses(cli_law, tmp_path, capsys):
    """Points inside the warmup (the law is not fitted there) made `curve score` report a 177% worst error for a
    run the law predicts to 0.05%, and a point at step 1 of a warmup from 0 an error naming no run."""
    schedule = lk.from_config(SPECS["constant"]) * PEAK
    path = tmp_path / "early.csv"
    steps = np.concatenate(([1, 100], STEPS))
    losses = np.concatenate(([10.8, 9.0], TRUE.predict(schedule, STEPS)))
    path.write_text("step,loss\n" + "".join(f"{s},{v}\n" for s, v in zip(steps, losses)))
    status, out, err = _cli(["curve", "score", cli_law, f"{path}@warmup(200, start=0.0) >> constant(1.0)",
                             "--json"], capsys)
    assert status == 0, err
    scored = json.loads(out)
    assert scored["worst_error"] < 0.01 and scored["runs"][0]["points"] == STEPS.size


def test_cli_predict_says_when_steps_lie_inside_the_warmup(cli_law, capsys):
    # a loss of 1719.9 at step 1 was printed like any other
    status, _, err = _cli(["curve", "predict", cli_law, SPECS["cosine"], "--budget", 4000, "--points", 40], capsys)
    assert status == 0, err
    assert err.count("lrkit: warning: SCHEDULE: 2 of the 40 steps lie inside its warmup (to update 200)") == 1, err
    status, _, err = _cli(["curve", "predict", cli_law, SPECS["cosine"], "--budget", 4000, "--points", 10], capsys)
    assert status == 0 and "warmup" not in err, err  # the first of 10 steps is 400, past the warmup


def test_cli_json_is_strict_json_and_error_lines_say_more(cli_law, tmp_path, capsys):
    flat = tmp_path / "flat.csv"
    flat.write_text("step,loss\n" + "".join(f"{s},3.5\n" for s in STEPS))
    status, out, err = _cli(["curve", "score", cli_law, f"{flat}@{SPECS['constant']}", "--json"], capsys)
    assert status == 0, err
    json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in --json output"))
    header = tmp_path / "header.csv"
    header.write_text("Step,Loss\n100,3.9\n")
    status, _, err = _cli(["curve", "fit", f"{header}@{SPECS['constant']}", "--lr", PEAK], capsys)
    _one_error(status, err, "the columns are 'Step', 'Loss'")
    wb = tmp_path / "wb.json"
    wb.write_text('{"history":{"train":{"iter":[100,200,300],"train_loss":[3.0,2.9],"lr":[1e-3,1e-3,1e-3]}}}')
    status, _, err = _cli(["curve", "fit", f"{wb}@constant()", "--lr", "1e-3"], capsys)
    assert status == 2 and "train_loss" in err, err


def test_a_branch_whose_rates_differ_slightly_from_its_parent_shows_the_difference(tmp_path, capsys):
    # "the branch's rate of update 64 is 0.0003 where its parent 'p' used 0.0003": the two printed alike
    parent, child = tmp_path / "p.csv", tmp_path / "c.csv"
    parent.write_text("step,loss\n1000,4\n2000,3.9\n3000,3.8\n")
    child.write_text("step,loss\n3000,3.8\n4000,3.7\n5000,3.6\n")
    status, _, err = _cli(["curve", "fit", f"{parent}@constant()", f"{child}@cosine(100000)", "--lr", PEAK,
                           "--branch", f"{child}={parent}", "--law", "convex_drop"], capsys)
    _one_error(status, err, "relative difference")
    assert "is 0.0003 where" not in err, err


def test_cli_predict_says_a_schedule_ends_early_once(cli_law, capsys):
    # the check runs wherever the schedule is evaluated (the law file's check, the prediction, the warmup's
    # end): the same line was printed three times
    status, out, err = _cli(["curve", "predict", cli_law, "wsd(2000, 200, 400)", "--budget", 4000, "--points", 4],
                            capsys)
    assert status == 0, err
    assert err.count("lrkit: warning: schedule: it ends after 2000 updates") == 1, err
    assert len({line.split(",")[1] for line in out.splitlines()[2:]}) == 1  # held at its floor: flat


def test_a_final_loss_must_be_positive_and_measured_at_the_run_end():
    # final=-1 and a final_step before the last logged step were taken as given
    for kwargs, needle in (({"final": -1.0}, "^final: "), ({"final": 3.0, "final_step": 300}, "^final_step: ")):
        with pytest.raises(ValueError, match=needle):
            curves.Run.of(SCHED, STEPS, TRUE.predict(SCHED, STEPS), **kwargs)
    run = curves.Run.of(SCHED, STEPS, TRUE.predict(SCHED, STEPS), final=3.0, final_step=4000)
    assert run.final == 3.0 and run.final_step == 4000


def test_a_fit_of_runs_whose_peaks_span_a_unit_slip_says_so():
    # one run's rates in multipliers (peak 1) among runs at 3e-4: fitted with R^2 < 0 and no word of the cause
    runs = [curves.Run.of(lk.from_config(s) * (1.0 if n == "drop" else PEAK), STEPS,
                          TRUE.predict(lk.from_config(s) * PEAK, STEPS), name=n) for n, s in SPECS.items()]
    with pytest.warns(curves.CurveFitWarning, match=r"peak learning rates span 0.0003 to 1 \(3333x"):
        curves.fit(runs, "convex_drop", jackknife=False)


def test_cli_choose_names_peak_for_two_peaks_printed_alike(cli_law, capsys):
    # family's parameter is `peaks`; the option is --peak
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 4000, "--peak", PEAK, PEAK * (1 + 1e-9),
                           "--warmup", 200], capsys)
    _one_error(status, err, "--peak: two values read 0.0003")


def test_a_schedule_with_a_length_that_fails_on_arrays_is_one_error_naming_schedule():
    class Scalar:  # has an end, but takes one update at a time
        length = 10

        def __call__(self, t):
            return 1e-3 if float(t) < 10 else 0.0

    with pytest.raises(ValueError, match=r"^schedule: Scalar failed on the array"):
        TRUE.predict(Scalar(), [20])


# -- the second hostile sweep (round 3, stop 7): each failed on f227e86 -------------------------------------------
def _stable_and_branches():
    stable_s = (lk.warmup(100) >> lk.constant(1.0)) * PEAK
    steps = np.arange(50, 3001, 50)
    stable = curves.Run.of(stable_s, steps, TRUE.predict(stable_s, steps), name="stable")
    cool_s = (lk.warmup(100) >> lk.constant(1.0, 1900) >> lk.linear(1000, 1.0, 0.0)) * PEAK
    cool_steps = np.arange(2050, 3001, 50)
    cool = curves.Run.branch(stable, cool_s, cool_steps, TRUE.predict(cool_s, cool_steps), at=2000, name="cool")
    half_s = (lk.warmup(100) >> lk.constant(1.0, 1900) >> lk.linear(500, 1.0, 0.5) >> lk.constant(0.5)) * PEAK
    half_steps = np.arange(2550, 3501, 50)
    half = curves.Run.branch(cool, half_s, half_steps, TRUE.predict(half_s, half_steps), at=2500, name="half")
    return stable, cool, half


def test_a_branch_of_a_branch_fitted_with_its_grandparent_counts_the_shared_points_once():
    # fitted_runs reduced a run only when its direct parent was given: with the grandparent and not the middle run,
    # the grandparent's 40 points up to update 2,000 were fitted twice
    stable, cool, half = _stable_and_branches()
    reduced = curves.core.fitted_runs([stable, half])
    assert [r.steps.size for r in reduced] == [60, half.steps.size - 40]
    assert reduced[1].steps.min() > 2000
    assert [r.steps.size for r in curves.core.fitted_runs([stable, cool, half])] == [60, 20, 20]


def test_torch_losses_that_require_grad_and_torch_scalars_are_read_as_numbers():
    torch = pytest.importorskip("torch")
    losses = torch.tensor([3.5, 3.4], requires_grad=True)  # a loss kept from the training loop, not detached
    run = curves.Run.of(lk.constant(3e-4), torch.tensor([500, 1000]), losses)
    assert run.losses.tolist() == pytest.approx([3.5, 3.4])
    half = curves.Run.of(lk.constant(3e-4), [500, 1000], losses.detach().to(torch.bfloat16))  # numpy has no bf16
    assert half.losses.tolist() == pytest.approx([3.5, 3.4], rel=1e-2)
    law = curves.fit([RUN], "momentum", jackknife=False)
    assert curves.rank(law, {"a": SCHED}, torch.tensor(4000)).best == "a"
    chosen = curves.choose(law, {"a": SCHED, "b": SCHED * 0.5}, torch.tensor([2000, 4000]))
    assert [c.budget for c in chosen] == [2000, 4000]
    best = curves.optimize(law, 4000, torch.tensor(PEAK), 200, knots=4)
    assert best.peak == pytest.approx(PEAK)
    stable, cool, _ = _stable_and_branches()
    again = curves.Run.branch(stable, cool.lrs, cool.own().steps, cool.own().losses, at=torch.tensor(2000))
    assert again.at == 2000


def test_a_fraction_whose_cooldown_rounds_to_no_update_says_so():
    with pytest.warns(UserWarning, match=r"fractions: 0\.1 of 2 updates round to a cooldown of 0 updates"):
        curves.family(2, peaks=[3e-4], fractions=[0.1, 0.5], cosine_floors=[])


def test_cli_choose_refuses_a_length_given_twice(cli_law, capsys):
    code = main(["curve", "choose", str(cli_law), "--length", "2000", "2000", "--peak", "3e-4"])
    assert code == 2
    assert "--length: 2000 is given twice" in capsys.readouterr().err


def test_cli_choose_prints_a_short_spec_warning_once(cli_law, capsys):
    code = main(["curve", "choose", str(cli_law), "--length", "2000", "--peak", "3e-4", "--spec",
                 "short=constant(3e-4, 100)", "--fractions", "0.2", "--shapes", "linear", "--cosine-floors"])
    out = capsys.readouterr()
    assert code == 0
    assert (out.out + out.err).count("it ends after 100 updates") == 1


# -- the third hostile sweep (round 3, stop 7): each failed before its fix -----------------------------------------
def test_a_branch_from_before_its_parent_s_own_branch_point_keeps_its_points_with_the_grandparent():
    # stable -> cool (at 2000) -> early (from cool at 1500): with stable alone, early shares stable's points up to
    # 1500, not 2000; its own points 1550-2000 were dropped and a fit of them refused "no logged loss"
    stable, cool, _ = _stable_and_branches()
    sched = (lk.warmup(100) >> lk.constant(1.0, 1400) >> lk.linear(500, 1.0, 0.0)) * PEAK
    steps = np.arange(1550, 2001, 50)
    early = curves.Run.branch(cool, sched, steps, TRUE.predict(sched, steps), at=1500, name="early")
    reduced = curves.core.fitted_runs([stable, early])
    assert reduced[1].steps.tolist() == steps.tolist()
    assert [r.steps.size for r in curves.fit([stable, early], "convex_drop", jackknife=False).runs][1] > 0


def _branch_log(tmp_path, rounded):
    """A cooldown from the stable run's checkpoint at 2000, logged lrkit-style: every update's rate from 2000 on,
    a loss every 50 from 2050 (rounded to 2 decimals where ``rounded``, as loggers print them)."""
    stable_s = (lk.warmup(100) >> lk.constant(1.0)) * PEAK
    steps = np.arange(50, 3001, 50)
    losses = TRUE.predict(stable_s, steps)
    stable = curves.Run.of(stable_s, steps, np.round(losses, 2) if rounded else losses, name="stable")
    cool_s = (lk.warmup(100) >> lk.constant(1.0, 1900) >> lk.linear(1000, 1.0, 0.0)) * PEAK
    own = np.arange(2050, 3001, 50)
    cool = TRUE.predict(cool_s, own)
    rates = curves.learning_rates(cool_s, 3000)
    path = tmp_path / "cool.csv"
    rows = ["update,lr,loss"]
    for u in range(2000, 3000):
        loss = (round(float(cool[list(own).index(u)]), 2) if rounded else float(cool[list(own).index(u)])) \
            if u in own else ""
        rows.append(f"{u},{float(rates[u])!r},{loss}")
    path.write_text("\n".join(rows) + "\n")
    return stable, path, rates, cool_s


def test_a_branch_whose_first_losses_equal_its_parent_s_keeps_its_own_logged_rates(tmp_path):
    # rounded losses made the branch's first own loss equal its parent's: the branch point moved to 2100 and the
    # branch's own logged cooldown rates of updates 2000-2099 were replaced by the parent's constant rate
    stable, path, rates, _ = _branch_log(tmp_path, rounded=True)
    run = curves.read_run(path, parent=stable)
    assert run.at == 2000
    np.testing.assert_allclose(run.lrs[2000:2100], rates[2000:2100])
    assert run.own().steps[0] == 2050


def test_a_branch_logged_from_after_its_checkpoint_branches_where_its_schedule_leaves_the_parent_s(tmp_path, capsys):
    # the cooldown's log starts at 2050, its checkpoint is 2000: the branch point defaulted to 2050 and the right
    # schedule was refused ("give the whole run's schedule"); the CLI had no way to say the branch point
    stable, path, rates, cool_s = _branch_log(tmp_path, rounded=False)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], *(line for line in lines[1:] if line.split(",")[2])]) + "\n")  # losses only
    run = curves.read_run(path, cool_s, parent=stable)
    assert run.at == 2001  # the first update whose rate differs from the parent's: the points up to it are shared
    np.testing.assert_allclose(run.lrs, rates[: run.lrs.size])
    stable_file = tmp_path / "stable.csv"
    curves.write_run(stable_file, stable.steps, stable.losses)
    code = main(["curve", "fit", f"{stable_file}@warmup(100) >> constant()",
                 f"{path}@warmup(100) >> constant(1.0, 1900) >> linear(1000, 1.0, 0.0)",
                 "--branch", f"{path}={stable_file}", "--lr", str(PEAK), "--law", "convex_drop"])
    assert code == 0, capsys.readouterr().err


def test_cli_fit_refuses_one_file_for_the_law_and_the_plot(tmp_path, capsys):
    # fit -o X --plot X wrote the law, drew the plot over it and said "wrote X": the law was lost, exit 0
    path = tmp_path / "run.csv"
    curves.write_run(path, STEPS, TRUE.predict(SCHED, STEPS))
    same = tmp_path / "law.png"
    status, _, err = _cli(["curve", "fit", f"{path}@{SPECS['cosine']}", "--lr", PEAK, "--law", "convex_drop",
                           "-o", same, "--plot", same], capsys)
    _one_error(status, err, "-o and --plot both name")
    assert not same.exists()


def test_cli_plot_naming_a_folder_is_refused_before_the_work(cli_law, tmp_path, capsys):
    # the whole ranking was printed, then "Is a directory" naming no option
    folder = tmp_path / "plot.png"
    folder.mkdir()
    status, out, err = _cli(["curve", "choose", cli_law, "--length", 2000, "--peak", PEAK, "--plot", folder], capsys)
    _one_error(status, err, "--plot: ")
    assert "is a folder" in err and out == ""


def test_cli_says_a_law_file_without_fitted_peaks_cannot_check_the_scale(tmp_path, capsys):
    # save_law(path, law) of a bare law writes no peaks: a spec in multipliers was then predicted at a peak of 1
    # (losses of 217) with exit 0 and no word
    path = tmp_path / "law.json"
    curves.save_law(path, TRUE)
    status, _, err = _cli(["curve", "predict", path, SPECS["cosine"], "--budget", 4000, "--points", 2], capsys)
    assert status == 0
    assert err.count("records no fitted peaks") == 1 and "times 1" in err


def test_a_loaded_law_file_is_taken_wherever_a_fit_is_with_its_intervals_and_peaks(tmp_path):
    # choose, rank, optimize, score and interval refused a LawFile; its suggested .law dropped the intervals and
    # the peak check in silence
    path = tmp_path / "law.json"
    fitted = curves.fit([RUN], "momentum")
    curves.save_law(path, fitted)
    saved = curves.load_law(path)
    cands = {"a": SCHED, "b": SCHED * 0.5}
    from_file, from_fit = curves.choose(saved, cands, 4000), curves.choose(fitted, cands, 4000)
    assert [(r.name, r.low, r.high) for r in from_file[0].rows] == [(r.name, r.low, r.high) for r in from_fit[0].rows]
    assert from_file[0].rows[0].low < from_file[0].rows[0].predicted
    assert curves.rank(saved, cands, 4000).best == curves.rank(fitted, cands, 4000).best
    mean, low, high = curves.interval(saved, None, SCHED, [4000])
    assert low[0] < mean[0] < high[0]
    assert curves.score(saved, [RUN]).run_mean_error == curves.score(fitted, [RUN]).run_mean_error
    assert curves.optimize(saved, 4000, PEAK, 200, knots=4).peak == PEAK


def test_cli_predict_every_update_of_a_warmup_from_zero_starts_after_the_first_update_with_a_rate(cli_law, capsys):
    # --points >= --budget asked for step 1, after one update at rate 0: "S1 > 0", naming no step and no fix
    status, out, err = _cli(["curve", "predict", cli_law, "warmup(200, start=0.0) >> cosine(3800)", "--budget",
                             400, "--points", 400], capsys)
    assert status == 0, err
    steps = [int(line.split(",")[0]) for line in out.splitlines() if line[:1].isdigit()]
    assert steps[0] == 2 and steps[-1] == 400 and len(steps) == 399


def test_cli_choose_spec_refusal_says_the_spec_is_absolute(cli_law, capsys):
    # the refusal explained the scale with --lr, which choose does not have (its --spec is in absolute rates)
    status, _, err = _cli(["curve", "choose", cli_law, "--length", 4000, "--peak", PEAK, "--spec",
                           f"x={SPECS['cosine']}"], capsys)
    _one_error(status, err, "--spec 'x'")
    assert "absolute learning rates" in err and f"* {PEAK:g}" in err and "--lr" not in err


def test_a_final_naming_the_loss_series_itself_says_so(tmp_path):
    # "--final loss" was refused as "no loss series among 'lr', 'loss', ...", listing the series it said was missing
    path = tmp_path / "run.csv"
    curves.write_run(path, STEPS, TRUE.predict(SCHED, STEPS))
    with pytest.raises(ValueError, match=r"final: 'loss' holds \d+ values; it names a series of one value"):
        curves.read_run(path, SCHED, final="loss")


def test_auto_says_nothing_of_the_candidates_it_did_not_choose():
    # the held-out candidates' predictions warned (two CurvePredictionWarnings naming the multi-power law) although
    # the convex drop was chosen
    steps = np.arange(200, 3001, 100)
    up = [curves.Run.of((lk.warmup(100) >> lk.cosine(2900, floor=0.1)) * PEAK, steps, 3 + steps / 3000, name="up"),
          curves.Run.of((lk.warmup(100) >> lk.constant(1.0)) * PEAK, steps, 3 + steps / 2000, name="up2")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = curves.fit(up, jackknife=False)
    chosen = type(result.law).__name__
    others = [str(w.message) for w in caught if issubclass(w.category, curves.CurvePredictionWarning)
              and any(n in str(w.message) for n in ("MultiPowerLaw", "ConvexDropLaw") if n != chosen)]
    assert others == []


def test_the_same_run_given_twice_to_a_fit_is_refused():
    # fit([run, run]) fitted it with twice the weight, and its jackknife left one copy out, without a word
    with pytest.raises(ValueError, match=r"runs\[1\]: the run 'cosine' is given twice"):
        curves.fit([RUN, RUN], "momentum")


def test_cli_fit_says_lr_is_unused_when_every_rate_comes_from_the_logs(tmp_path, capsys):
    # the file recorded --lr as the specs' scale and said "its specs were read times --lr" with no spec read
    path = tmp_path / "run.csv"  # every update's rate logged, a loss every 64 updates
    rates = curves.learning_rates(SCHED, 4000)
    losses = dict(zip(STEPS.tolist(), TRUE.predict(SCHED, STEPS).tolist()))
    path.write_text("step,lr,loss\n" + "".join(f"{u},{float(rates[u])!r},{losses.get(u, '')}\n" for u in range(4000)))
    out_path = tmp_path / "law.json"
    status, out, err = _cli(["curve", "fit", path, "--lr", PEAK, "--law", "momentum", "-o", out_path], capsys)
    assert status == 0, err
    assert err.count("--lr 0.0003 is unused") == 1 and "specs were read" not in out
    assert curves.load_law(out_path).lr_scale == 1.0


def test_cli_predict_of_a_schedule_at_rate_0_says_so(cli_law, capsys):
    # "its peak learning rate 0 is 3e+296x below the smallest peak"
    status, _, err = _cli(["curve", "predict", cli_law, "warmup(200, start=0.0) >> constant()", "--budget", 1],
                          capsys)
    _one_error(status, err, "SCHEDULE: its rate is 0 at every update up to 1")


def test_a_final_logged_twice_at_its_step_says_the_last_is_kept(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("step,loss,final_val_loss\n100,3.9,\n200,3.7,\n200,,3.61\n200,,3.62\n")
    with pytest.warns(curves.RunFileWarning, match=r"'final_val_loss' is logged 2 times at update 200: the last"):
        run = curves.read_run(path, lk.constant(3e-4), final="final_val_loss")
    assert run.final == 3.62


def _checkpoint_logged(tmp_path, stable_to):
    """A stable run to ``stable_to`` and a cooldown branched at 2000 whose log starts with the checkpoint's loss
    (as the grid's branches do): the stable run, the cooldown's schedule and its log's path."""
    stable_s = (lk.warmup(100) >> lk.constant(1.0)) * PEAK
    steps = np.arange(50, stable_to + 1, 50)
    stable = curves.Run.of(stable_s, steps, TRUE.predict(stable_s, steps), name="stable")
    cool_s = (lk.warmup(100) >> lk.constant(1.0, 1900) >> lk.linear(1000, 1.0, 0.0)) * PEAK
    own = np.arange(2000, 3001, 50)
    path = tmp_path / "cool.csv"
    curves.write_run(path, own, TRUE.predict(cool_s, own))
    return stable, cool_s, path


def test_a_branch_shorter_than_its_parent_reads_without_a_schedule_warning(tmp_path):
    # the branch point's search evaluated the branch's schedule over all of its parent's updates: a 3,000-update
    # cooldown of a 10,000-update stable run warned that its schedule "ends after 3000 updates"
    stable, cool_s, path = _checkpoint_logged(tmp_path, 10000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = curves.read_run(path, cool_s, parent=stable)
    assert run.at == 2000 and run.lrs.size == 3000


def test_a_branch_that_logs_its_checkpoint_s_loss_reads_with_that_branch_point_given(tmp_path):
    # a cooldown whose log starts with the checkpoint's loss (the grid's branches do): at= its first step was
    # refused as "not its parent's" by the check of the points up to at
    stable, cool_s, path = _checkpoint_logged(tmp_path, 4000)
    run = curves.read_run(path, cool_s, parent=stable, at=2000)
    assert run.at == 2000 and run.own().steps[0] == 2050
