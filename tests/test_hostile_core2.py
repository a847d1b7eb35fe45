"""A hostile sweep of the core (round 3, stop 8): each defect as a test that failed before its fix."""

from __future__ import annotations

import errno
import json
import math
import os

import numpy as np
import pytest

import lrkit as lk
from lrkit.cli import main
from lrkit.core.errors import ConfigError
from lrkit.core.schedule import MAX_DEPTH

# -- a flag is no step, a 0-d bool array included -----------------------------------------------------------------


@pytest.mark.parametrize("step", [np.array(True), np.array(False)])
def test_a_zero_d_bool_array_is_refused_as_a_step(step):
    s = lk.warmup(10) >> lk.cosine(90)
    with pytest.raises(ValueError, match="step must be a number of updates"):
        s(step)


# -- key=: a list index is ASCII digits -----------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["\u00b2", "\u0660", "\uff11"])  # superscript two, Arabic-Indic zero, fullwidth one
def test_a_key_with_a_unicode_digit_is_no_list_index(tmp_path, part):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"a": [{"type": "cosine", "steps": 10}, {"type": "linear", "steps": 5}]}))
    with pytest.raises(ConfigError, match=f"key 'a.{part}': 'a' has 2 items, so '{part}' is not one of its indices"):
        lk.load(path, key=f"a.{part}")
    assert lk.load(path, key="a.1") == lk.linear(5)


def test_the_cli_names_a_key_with_a_unicode_digit(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"a": [{"type": "cosine", "steps": 10}]}))
    assert main(["show", str(path), "--key", "a.\u00b2"]) == 2
    err = capsys.readouterr().err
    assert "is not one of its indices" in err and "invalid literal" not in err


# -- a composition longer than a float can hold is refused at construction, naming the argument ---------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lk.stretch(lk.cosine(1e300), 1e300), r"stretch: by=1e\+300 times the schedule's length 1e\+300"),
        (
            lambda: lk.join(lk.constant(1, 1e308), lk.constant(0.5, 1e308)),
            r"join: the pieces' lengths up to piece 1: longer than a float",
        ),
        (
            lambda: lk.join(lk.constant(1, 1e308), lk.constant(0.5, 1e308), lk.cosine(1)),
            r"join: the pieces' lengths up to piece 1: longer",
        ),
        (
            lambda: lk.repeat(lk.cosine(1e300), times=2**53),
            r"repeat: times=9007199254740992 with the schedule's length",
        ),
        (lambda: lk.shift(lk.cosine(1e308), -1e308), r"shift: by=-1e\+308 with the schedule's length 1e\+308"),
    ],
)
def test_a_composition_longer_than_a_float_is_refused_naming_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_text_composition_longer_than_a_float_is_a_config_error():
    with pytest.raises(ConfigError, match="stretch: by=1e\\+300"):
        lk.from_config("stretch(cosine(1e300), 1e300)")
    assert lk.stretch(lk.cosine(1e150), 1e150).length == pytest.approx(1e300)  # long, but a float


# -- a schedule at the nesting limit reads back, whatever its innermost family takes ---------------------------------


@pytest.mark.parametrize(
    "inner",
    [
        lambda: lk.multistep([100, 200]),
        lambda: lk.piecewise_linear([0, 10], [1.0, 0.0]),
        lambda: lk.cyclic(5, amplitude=lk.multistep([1, 2])),  # a list one schedule further in
    ],
)
@pytest.mark.parametrize(
    "wrap",
    [lambda s: lk.clamp(s, low=0.01), lambda s: s * 0.5, lambda s: (lk.constant(1.0, 2) >> s) * 0.5],
)
def test_a_schedule_at_the_nesting_limit_reads_back_with_a_list_inside(inner, wrap):
    sched = inner()
    while sched._depth < MAX_DEPTH:
        try:
            sched = wrap(sched)
        except ValueError:  # two levels at once, one too many
            sched = lk.clamp(sched, low=0.01)
    assert sched._depth == MAX_DEPTH
    assert lk.from_config(repr(sched)) == sched
    assert lk.from_config(sched.to_config()) == sched
    assert lk.from_config(json.loads(json.dumps(sched.to_config()))) == sched
    with pytest.raises(ValueError, match=f"more than {MAX_DEPTH}"):
        lk.clamp(sched, low=0.01)
    for text in (f"clamp({sched!r}, low=0.01)", "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)):
        with pytest.raises(ConfigError, match="nested more than"):
            lk.from_config(text)
    with pytest.raises(ConfigError, match="nested more than"):
        lk.from_config({"type": "clamp", "schedule": sched.to_config(), "low": 0.01})


# -- join([a, b]) and product([a, b]) in Python, as in the text form -------------------------------------------------


def test_join_and_product_take_one_list_as_the_text_form_does():
    a, b = lk.warmup(10), lk.cosine(90)
    assert lk.join([a, b]) == a >> b == lk.from_config("join([warmup(10), cosine(90)])")
    assert lk.join((a, b)) == a >> b
    assert lk.product([a, b]) == a * b == lk.from_config("product([warmup(10), cosine(90)])")
    with pytest.raises(ValueError, match=r"join: pieces\[1\] must be a schedule, got 3"):
        lk.join([a, 3])
    with pytest.raises(ValueError, match="join: needs at least 2 pieces, got 1"):
        lk.join([a])
    with pytest.raises(ValueError, match=r"product: factors\[0\] must be a schedule, got \[warmup"):
        lk.product([a, b], a)  # a list among schedules is still no schedule


# -- lrkit plot -o PATH that cannot be written: the option, the user's path and the cause --------------------------


def _plot_error(capsys, out) -> str:
    assert main(["plot", "cosine(10)", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ".tmp" not in err
    return err


def test_plot_to_an_existing_folder_names_the_option_and_the_path(tmp_path, capsys):
    (tmp_path / "out.png").mkdir()
    err = _plot_error(capsys, tmp_path / "out.png")
    assert f"-o/--out: {str(tmp_path / 'out.png')!r} is a folder" in err


def test_plot_into_a_file_says_the_parent_is_a_file_not_a_folder(tmp_path, capsys):
    (tmp_path / "notes").write_text("x")
    err = _plot_error(capsys, tmp_path / "notes" / "x.png")
    assert f"-o/--out: {str(tmp_path / 'notes')!r} is a file, not a folder" in err


def test_plot_with_a_name_too_long_names_the_option_and_the_length(tmp_path, capsys):
    out = tmp_path / ("a" * 300 + ".png")
    err = _plot_error(capsys, out)
    assert err.startswith("lrkit: error: -o/--out: cannot write ") and "the file name is too long" in err
    assert "304 characters" in err and len(err) < 400
    err = _plot_error(capsys, tmp_path / ("a" * 250 + ".png"))  # fits, but not the temporary file beside it
    assert "the file name is too long" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_plot_into_a_folder_that_takes_no_files_names_the_users_path(capsys):
    err = _plot_error(capsys, "/proc/x.png")
    assert err.startswith("lrkit: error: -o/--out: cannot write '/proc/x.png': ")


def test_an_image_write_that_fails_late_names_the_option_and_the_path(tmp_path):
    from lrkit.cli._paths import writing

    out = tmp_path / "x.png"
    with pytest.raises(ValueError, match=r"-o/--out: cannot write '.*x.png': No space left on device$"):
        with writing(out, "-o/--out"):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".x.png.abcd1234.tmp"))


# -- finder.choose and build_schedule check their arguments --------------------------------------------------------


def _finder_result():
    from lrkit.finder import FinderResult

    lrs = np.logspace(-5, 1, 120)
    x = np.log10(lrs)
    return FinderResult.from_curve(lrs, 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"updates": 0}, "choose: updates must be an integer >= 1, got 0"),
        ({"updates": -5}, "choose: updates must be an integer >= 1, got -5"),
        ({"updates": 10.5}, "choose: updates must be an integer >= 1, got 10.5"),
        ({"recipe": "bogus"}, "choose: recipe must be one of 'one_cycle', 'warmup_cosine', got 'bogus'"),
        ({"schedule": "one_cycle(1000)"}, "choose: schedule must be a schedule, got 'one_cycle"),
    ],
)
def test_choose_refuses_bad_updates_recipe_and_schedule(options, message):
    from lrkit.finder import build_schedule, choose

    call = {"schedule": build_schedule("one_cycle", 1000), "updates": 1000, "recipe": "one_cycle", **options}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose(_finder_result(), call.pop("schedule"), **call)


@pytest.mark.parametrize("recipe", ["one_cycle", "warmup_cosine"])
@pytest.mark.parametrize("updates", ["100", 0, -3, True])
def test_build_schedule_refuses_updates_that_are_no_count(recipe, updates):
    from lrkit.finder import build_schedule

    with pytest.raises(ValueError, match=f"build_schedule: updates must be an integer >= 1, got {updates!r}"):
        build_schedule(recipe, updates)


# -- a product that overflows to inf raises, never returns inf ------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["cosine(10) * 1e308 * 1e308", "constant(1e308) * constant(10.0)", "cosine(10) * 1e300 * constant(1e300)"]
)
def test_a_product_past_the_float_range_raises_instead_of_giving_inf(text):
    s = lk.from_config(text)
    message = "overflows to inf"
    for call in (lambda: s(0), lambda: s(5.0), lambda: s(np.int64(3)), lambda: s.math_function()(0.0)):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=message):
        s(np.arange(0, 11))  # sorted steps
    with pytest.raises(ValueError, match=message):
        s(np.array([5.0, 1.0]))  # unsorted


def test_a_product_within_the_float_range_is_unchanged():
    s = lk.cosine(10) * 1e154 * lk.constant(1e154)
    assert s(0) == pytest.approx(1e308) and s(10) == 0.0 and np.isfinite(s(np.arange(11))).all()
    assert (lk.cosine(10) * 1e308 * 1e308)(10) == 0.0  # the end of the cosine is 0: a finite value is given


def test_noise_past_the_float_range_raises():
    s = lk.noise(lk.constant(1.7e308), std=0.2, seed=1)
    steps = np.arange(50)
    with pytest.raises(ValueError, match="overflows to inf"):
        s(steps)


def test_the_cli_refuses_a_schedule_that_overflows(capsys):
    assert main(["show", "cosine(10) * 1e308 * 1e308", "--rows", "3"]) == 2
    err = capsys.readouterr().err
    assert "overflows to inf" in err and len(err.splitlines()) == 1


# -- the finder names the function and the parameter of input of the wrong kind ------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.suggest(["1e-3", "x"] * 10, [1.0] * 20), r"suggest: lrs must be numbers .*got \['1e-3', 'x'"),
        (lambda f: f.suggest(np.logspace(-5, 0, 20), ["1.0"] * 20), r"suggest: losses must be numbers"),
        (lambda f: f.suggest([[1e-3, 1e-2], [1e-1]], [1.0, 2.0, 3.0]), r"suggest: lrs must be numbers"),
        (lambda f: f.steepest(["a"] * 5, [1.0] * 5), r"steepest: lrs must be numbers"),
        (lambda f: f.valley(np.logspace(-3, 0, 5), [True] * 5), r"valley: losses must be numbers"),
        (lambda f: f.minimum(np.logspace(-3, 0, 5), [[1.0], [2.0, 3.0]]), r"minimum: losses must be numbers"),
        (lambda f: f.valley_centre(["1e-3"] * 5, [1.0] * 5), r"valley_centre: lrs must be numbers"),
        (lambda f: f.valley_centre(np.logspace(-3, 0, 5), "12345"), r"valley_centre: losses must be numbers"),
        (lambda f: f.FinderResult.from_curve(["x"] * 5, [1.0] * 5), r"from_curve: lrs must be numbers"),
    ],
)
def test_finder_functions_name_themselves_and_the_parameter_of_a_bad_curve(call, message):
    from lrkit import finder

    with pytest.raises(ValueError, match=message):
        call(finder)


@pytest.mark.parametrize("loss", [np.array([1.0, 2.0]), [1.0, 2.0], "1.0", np.array(["x"])])
def test_range_test_names_a_step_that_returns_no_single_loss(loss):
    from lrkit import finder

    with pytest.raises(
        (TypeError, ValueError), match=r"range_test: the step must return a number \(the loss\) or None, got "
    ):
        finder.range_test(lambda lr: loss, iterations=5)


def test_range_test_still_reads_a_one_element_array_or_tensor():
    import torch

    from lrkit import finder

    result = finder.range_test(lambda lr: np.array([1.0]), iterations=5)
    assert len(result.lrs) == 5
    assert len(finder.range_test(lambda lr: torch.tensor(1.0), iterations=5).lrs) == 5


# -- a geometric ramp whose start/end ratio passes the float range -------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [(1.0, 1e-310), (1e160, 1e-160), (1e-160, 1e160), (1e-300, 1e308)])
def test_a_geometric_ramp_past_the_float_range_of_its_ratio_stays_geometric(start, end):
    s = lk.anneal(10, start, end, shape="exp")
    steps = np.arange(11)
    expected = np.exp(np.log(start) + steps / 10 * (np.log(end) - np.log(start)))
    np.testing.assert_allclose(s(steps), expected, rtol=1e-9)
    np.testing.assert_allclose([s(int(t)) for t in steps], s(steps), rtol=1e-15)  # math and numpy agree
    assert s(0) == start and s(10) == end


def test_a_range_test_sweep_across_the_float_range_is_geometric():
    from lrkit import finder

    lrs = finder.sweep(10, 1e-300, 1e308)(np.arange(10))
    np.testing.assert_allclose(np.diff(np.log10(lrs)), 608 / 9, rtol=1e-9)


# -- a recipe of fractions of a run lasts exactly the run ------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda n: lk.warmup_flat_warmdown(n),
        lambda n: lk.warmup_flat_warmdown(n, warmup=0.1, warmdown=0.3, floor=0.1),
        lambda n: lk.warmup_flat_warmdown(n, warmup=0.0, warmdown=0.9, floor=0.1),
        lambda n: lk.warmup_flat_warmdown(n, warmup=0.3, warmdown=0.7, floor=0.1),
        lambda n: lk.wsd(n, warmup=0.07 * n, floor=0.1),
        lambda n: lk.wsd(n, warmup=0.13 * n, decay=0.61 * n, floor=0.1),
        lambda n: lk.flat_cosine(n, flat=0.37, floor=0.1),
    ],
)
def test_a_recipe_of_fractions_lasts_exactly_its_steps_and_ends_at_its_floor(build):
    for n in range(1, 1001):
        s = build(n)
        assert s.length == n, (n, s.length)
        assert s(n) == s.final == s(10 * n) == getattr(s, "floor", 0.0), n


def test_a_run_of_exactly_the_recipes_steps_does_not_warn_past_the_end():
    import warnings

    import torch

    from lrkit.torch import Scheduler

    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = Scheduler(opt, lk.warmup_flat_warmdown(47))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(47):
            opt.step()
            sched.step()


# -- YAML numbers read as YAML 1.2 (and JSON) read them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("type: cosine\nsteps: 010\n", lambda: lk.cosine(10)),  # YAML 1.1: octal 8
        ("type: cosine\nsteps: -0\nfloor: 0\n", None),
        ("type: cosine\nsteps: .5e3\n", lambda: lk.cosine(500)),  # YAML 1.1: text
        ("type: cosine\nsteps: 5.E2\n", lambda: lk.cosine(500)),
        ("type: cosine\nsteps: 1e3\n", lambda: lk.cosine(1000)),
        ("type: cosine\nsteps: 0o17\n", lambda: lk.cosine(15)),  # YAML 1.2's octal
        ("type: cosine\nsteps: 0x1F\n", lambda: lk.cosine(31)),
        ("type: cosine\nsteps: 10_000\n", lambda: lk.cosine(10_000)),
        ("type: multistep\nmilestones: [007, 0100]\n", lambda: lk.multistep([7, 100])),
    ],
)
def test_yaml_numbers_are_read_as_yaml_1_2_reads_them(tmp_path, body, expected):
    pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text(body)
    if expected is None:
        with pytest.raises(ConfigError, match="steps must be > 0"):
            lk.load(path)
    else:
        assert lk.load(path) == expected()


@pytest.mark.parametrize("text", ["1:30", "-1:30", "1:30.5", "0b101"])
def test_yaml_1_1_sexagesimal_and_binary_numbers_are_text_and_refused(tmp_path, text):
    pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text(f"type: multistep\nmilestones: [{text}, 200]\n")
    with pytest.raises(ConfigError, match=rf"milestones\[0\] must be a finite number, got '{text}'"):
        lk.load(path)


# -- a hostile value is echoed cut short, never whole -------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: lk.warmup(5, shape="x" * 10**6),
        lambda: lk.multistep([5] * 100_000),
        lambda: lk.multistep([1, 2, "x" * 10**6]),
        lambda: lk.exponential(0.5, staircase="x" * 10**6),
        lambda: lk.cosine(10, floor="1" * 10**6),
        lambda: lk.clamp("x" * 10**6, low=0.1),
        lambda: lk.join("x" * 10**6),
        lambda: lk.piecewise_constant([1, 2], [1.0] * 100_000),
        lambda: lk.cosine(10)("x" * 10**6),
        lambda: lk.cosine(10)([[1.0], [2.0, 3.0]] * 100_000),
    ],
)
def test_a_hostile_value_is_echoed_cut_short(build):
    with pytest.raises(ValueError) as caught:
        build()
    assert len(str(caught.value)) < 500, str(caught.value)[:300]


def test_a_hostile_text_config_gives_a_short_line_and_the_cli_one_short_line(capsys):
    for text in ["warmup(5, shape='" + "x" * 10**6 + "')", "multistep([" + ",".join(["5"] * 100_000) + "])"]:
        with pytest.raises(ConfigError) as caught:
            lk.from_config(text)
        assert len(caught.value.one_line()) < 500
    assert main(["show", "warmup(5, shape='" + "x" * 100_000 + "')"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 500 and len(err.splitlines()) == 1 and "shape must be one of" in err


# -- phase marks of a repeat forever: as many up to inf as up to 1e308 ---------------------------------------------


def test_phase_starts_of_an_infinite_repeat_up_to_inf_are_those_up_to_a_huge_step():
    s = lk.repeat(lk.warmup(2) >> lk.cosine(3))
    marks = s.phase_starts(math.inf)
    assert marks == s.phase_starts(1e308) and len(marks) == 1000 and marks[:4] == [2.0, 5.0, 7.0, 10.0]
    assert len(lk.sgdr(5).phase_starts(math.inf)) == len(marks)
    assert lk.repeat(lk.warmup(2) >> lk.cosine(3), times=3).phase_starts(math.inf) == [2.0, 5.0, 7.0, 10.0, 12.0]


def test_an_overflow_hidden_by_a_zero_factor_raises_too():
    s = lk.constant(1e308) * lk.constant(10.0) * lk.linear(10)  # inf * 0 at the end: NaN
    for call in (lambda: s(10), lambda: s(np.arange(11)), lambda: s.math_function()(10.0)):
        with pytest.raises(ValueError, match="overflows to inf"):
            call()
