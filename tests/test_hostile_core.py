"""Hostile input on the core surface: each case a value that was once accepted silently (a wrong learning
rate, a flag read from any truthy text), or refused with a bare Python error instead of one line naming the
parameter and the fix. Every test here failed on the code before its fix."""

from __future__ import annotations

import json
import math
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest

import lrkit as lk
from lrkit.core.errors import ConfigError

# -- flags: True or False, never any truthy value ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lk.exponential(0.5, staircase="false"), "exponential: staircase must be True or False, got 'false'"),
        (lambda: lk.inverse_time(0.5, staircase="no"), "inverse_time: staircase must be True or False, got 'no'"),
        (lambda: lk.one_cycle(100, three_phase=2), "one_cycle: three_phase must be True or False, got 2"),
        (lambda: lk.one_cycle_momentum(100, three_phase=math.nan), "three_phase must be True or False, got nan"),
        (lambda: lk.exponential(0.5, staircase=[False]), "staircase must be True or False, got [False]"),
    ],
)
def test_a_flag_is_true_or_false_not_any_truthy_value(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        build()


def test_a_flag_from_a_text_config_is_refused_when_it_is_text():
    with pytest.raises(ConfigError, match="staircase must be True or False, got 'false'"):
        lk.parse("exponential(0.5, staircase='false')")
    with pytest.raises(ConfigError, match="staircase must be True or False"):
        lk.from_config({"type": "exponential", "decay": 0.5, "staircase": "no"})


def test_flags_still_read_bools_numpy_bools_and_0_or_1():
    assert lk.exponential(0.5, staircase=np.bool_(True)).staircase is True
    assert lk.exponential(0.5, staircase=1).staircase is True
    assert lk.exponential(0.5, staircase=np.int64(0)).staircase is False
    assert lk.one_cycle(100, three_phase=True) == lk.parse("one_cycle(100, three_phase=true)")


# -- numbers: any real number is stored as a Python int or float -------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda x: lk.linear(x),
        lambda x: lk.cosine(10, peak=x),
        lambda x: lk.cosine(10) * x,
        lambda x: lk.warmup(x),
        lambda x: lk.stretch(lk.cosine(1), x),
    ],
)
def test_a_fraction_is_stored_as_a_float(build):
    sched = build(Fraction(7, 2))
    assert not any(isinstance(value, Fraction) for node in sched.walk() for _, value in node._params)
    assert type(sched(1)) is float
    assert lk.parse(repr(sched)) == sched
    assert lk.from_config(json.loads(json.dumps(sched.to_config()))) == sched


def test_a_number_given_as_text_or_as_an_array_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"cosine: steps must be a finite number, got '1e3'; .*without quotes"):
        lk.cosine("1e3")
    with pytest.raises(ValueError, match=r"cosine: steps must be a finite number, got array\(3\.\); .*\.item\(\)"):
        lk.cosine(np.array(3.0))


# -- integers: bounded, so a huge count is a ValueError, not an OverflowError ------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lk.repeat(lk.linear(4), times=10**400), "repeat: times must be an integer"),
        (lambda: lk.repeat(lk.linear(4), times=1e308), "repeat: times must be an integer"),
        (lambda: lk.sgdr(10, cycles=1e308), "sgdr: cycles must be an integer"),
        (lambda: lk.noise(lk.constant(), seed=2**64), "noise: seed must be an integer"),
        (lambda: lk.noise(lk.constant(), seed=1e308), "noise: seed must be an integer"),
    ],
)
def test_a_huge_count_is_a_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_largest_seed_still_evaluates():
    sched = lk.noise(lk.constant(), seed=2**64 - 1)
    assert 0.75 <= sched(3) <= 1.25


def test_a_huge_seed_in_a_text_config_is_a_config_error():
    with pytest.raises(ConfigError, match="noise: seed must be an integer"):
        lk.parse("noise(constant(), seed=99999999999999999999999)")


# -- steps: empty and ragged arrays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sched", [lk.cosine(10), lk.warmup(5) >> lk.cosine(10), lk.constant(0.5), lk.multistep([3]), lk.noise(lk.cosine(9))]
)
@pytest.mark.parametrize("steps", [[], np.empty(0), np.empty((0, 3)), np.empty(0, dtype=np.int64)])
def test_no_steps_give_no_values(sched, steps):
    out = sched(steps)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert out.shape == np.shape(steps)


def test_a_ragged_list_of_steps_is_one_clear_error():
    with pytest.raises(ValueError, match="step must be a number of updates"):
        lk.cosine(10)([[1], [2, 3]])


# -- cyclic and repeat stay in their range wherever a float can hold the step ------------------------------------


def test_cyclic_whose_cycle_overflows_a_float_is_refused():
    with pytest.raises(ValueError, match=r"cyclic: up \+ down must be at most"):
        lk.cyclic(1e308)
    with pytest.raises(ValueError, match=r"cyclic: up \+ down must be at most"):
        lk.cyclic(1e300, down=sys.float_info.max)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the array path's own word on 1e-290
@pytest.mark.parametrize(
    "sched",
    [lk.cyclic(0.1, floor=0.0), lk.cyclic(1 / 3, floor=0.0), lk.cyclic(1e-290, floor=0.0), lk.cyclic(0.7, down=0.2)],
)
def test_cyclic_never_leaves_floor_to_peak(sched):
    steps = np.concatenate([np.linspace(0, 1e3, 10_001), np.random.default_rng(1).uniform(0, 1e15, 20_000)])
    values = sched(steps)
    assert values.min() >= sched.floor and values.max() <= sched.peak
    assert all(sched.floor <= sched(float(t)) <= sched.peak for t in steps[-500:])


def test_repeat_never_leaves_its_schedules_range():
    sched = lk.repeat(lk.linear(0.1))
    steps = np.random.default_rng(1).uniform(0, 1e15, 20_000)
    values = sched(steps)
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert all(0.0 <= sched(float(t)) <= 1.0 for t in steps[:500])


# -- a step too large for the closed form's float arithmetic -----------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy's word on the array path
def test_a_step_whose_quotient_overflows_gives_the_arrays_value():
    sched = lk.step_decay(0.5)
    assert sched(1e308) == sched(np.array([1e308]))[0] == 0.0
    assert lk.step_decay(1e-290)(1e300) == 0.0
    assert lk.exponential(0.5, every=1e-290, staircase=True)(sys.float_info.max) == 0.0


@pytest.mark.parametrize(
    ("sched", "step"),
    [(lk.sgdr(0.5), 1e308), (lk.sgdr(1e-290), 1e300), (lk.sgdr(10, mult=2), sys.float_info.max)],
)
def test_a_step_with_no_finite_value_is_one_clear_error(sched, step):
    with pytest.raises(ValueError, match=r"has no finite value at step .*; the step is too large"):
        sched(step)


# -- arithmetic with arrays and tensors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s * np.array([1.0, 2.0]),
        lambda s: np.array([1.0, 2.0]) * s,
        lambda s: s * np.array(0.5),
    ],
)
def test_scaling_by_an_array_is_refused_with_the_fix(operation):
    with pytest.raises(TypeError, match=r"scale a schedule by one number .* sched\(steps\) \* values"):
        operation(lk.cosine(10))


def test_scaling_by_a_tensor_is_refused_with_the_fix():
    torch = pytest.importorskip("torch")
    for operation in (lambda s: s * torch.tensor(0.5), lambda s: torch.tensor([0.5]) * s):
        with pytest.raises(TypeError, match=r"scale a schedule by one number"):
            operation(lk.cosine(10))


def test_scaling_by_numpy_scalars_still_scales():
    assert lk.cosine(10) * np.float64(0.5) == lk.cosine(10) * 0.5
    assert np.float32(0.5) * lk.cosine(10) == lk.cosine(10) * 0.5


# -- recipes name themselves ----------------------------------------------------------------------------------------


def test_warmup_cosine_names_itself_for_a_negative_start():
    with pytest.raises(ValueError, match="warmup_cosine: start must be >= 0, got -1"):
        lk.warmup_cosine(100, warmup=10, start=-1)


# -- the lrkit command -----------------------------------------------------------------------------------------------


def _lrkit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from lrkit.cli import main

    try:
        status = main(list(args))
    except SystemExit as exit:
        status = int(exit.code or 0)
    _, err = capsys.readouterr()
    return status, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", ""), "lrkit: error: SPEC is empty; give a schedule"),
        (("show", "   "), "lrkit: error: SPEC is empty; give a schedule"),
        (("show", "noise(constant(), seed=99999999999999999999999)"), "lrkit: error: noise: seed must be an integer"),
        (("show", "exponential(0.5, staircase='no')"), "lrkit: error: exponential: staircase must be True or False"),
        (("find", "--iterations", "1"), "lrkit: error: --iterations must be a whole number from 2"),
    ],
)
def test_the_command_refuses_in_one_line_exit_2(capsys, args, message):
    status, err = _lrkit(capsys, *args)
    assert status == 2
    assert err.startswith(message) and err.count("\n") == 1


def test_a_plot_too_large_for_memory_is_refused_before_any_work(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.png"
    status, err = _lrkit(capsys, "plot", "cosine(10)", "--dpi", "1e6", "-o", str(out))
    assert status == 2 and "pixels; at most 16384 a side" in err and err.count("\n") == 1
    assert not out.exists()


# -- config files ----------------------------------------------------------------------------------------------------


def test_yaml_reads_an_exponent_without_a_dot_as_a_number(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text("type: cosine\nsteps: 1e3\nfloor: 1E-2\n")
    assert lk.load(path) == lk.cosine(1000.0, floor=0.01)
    path.write_text("type: cosine\nsteps: '1e3'\n")  # quoted: text, refused with the fix
    with pytest.raises(ConfigError, match=r"steps must be a finite number, got '1e3'; give the number without quotes"):
        lk.load(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.json", '{"type": "cosine", "steps": 10, "steps": 20}'),
        ("s.yaml", "type: cosine\nsteps: 10\nsteps: 20\n"),
        ("n.yaml", "run:\n  schedule:\n    type: cosine\n    floor: 0.1\n    steps: 5\n    floor: 0.2\n"),
    ],
)
def test_a_key_given_twice_in_a_file_is_refused(tmp_path, name, text):
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"key '(steps|floor)' is given twice"):
        lk.load(path, key="run.schedule" if name == "n.yaml" else None)


def test_yaml_merge_keys_still_override(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "m.yaml"
    path.write_text("base: &b {type: cosine, steps: 10}\nrun:\n  <<: *b\n  steps: 20\n")
    assert lk.load(path, key="run") == lk.cosine(20)


def test_a_toml_file_is_refused_naming_the_formats_read(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('type = "cosine"\nsteps = 10\n')
    with pytest.raises(ConfigError, match=r"s\.toml: TOML is not read; lrkit reads \.json, \.yaml/\.yml"):
        lk.load(path)


# -- the finder's options ----------------------------------------------------------------------------------------------


def _curve() -> tuple[np.ndarray, np.ndarray]:
    from lrkit.finder import sweep

    lrs = sweep(100, 1e-5, 10.0)(np.arange(100))
    x = np.log10(lrs)
    return lrs, 1.0 + np.tanh(-2.0 * (x + 2.5)) + np.where(x > -0.5, 10 * (x + 0.5) ** 2, 0.0)


@pytest.mark.parametrize("beta", [-1.0, math.nan, 1.0, "0.9"])
def test_suggest_refuses_a_beta_it_would_have_ignored(beta):
    from lrkit.finder import suggest

    lrs, losses = _curve()
    with pytest.raises(ValueError, match="suggest: beta must be"):
        suggest(lrs, losses, beta=beta)


@pytest.mark.parametrize(("call", "message"), [
    (lambda f, lrs, losses: f.steepest(lrs, losses, half_width=0), "steepest: half_width must be > 0, got 0"),
    (lambda f, lrs, losses: f.steepest(lrs, losses, half_width=math.nan), "steepest: half_width must be a finite"),
    (lambda f, lrs, losses: f.auto_beta(lrs, span=0), "auto_beta: span must be > 0, got 0"),
    (lambda f, lrs, losses: f.FinderResult.from_dict({"lrs": [1.0]}), "FinderResult.from_dict: no 'losses' key"),
])
def test_finder_options_are_checked(call, message):
    import lrkit.finder as f

    lrs, losses = _curve()
    with pytest.raises(ValueError, match=message):
        call(f, lrs, losses)


# -- nesting ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [lambda s: s * 1.0, lambda s: lk.stretch(s, 1.0), lambda s: lk.clamp(s, high=2.0), lambda s: lk.repeat(s, 1),
     lambda s: lk.shift(s, 0.0), lambda s: lk.take(s, 10)],
)
def test_nesting_is_bounded_so_every_schedule_reads_back_from_its_text(wrap):
    from lrkit.core.config import MAX_DEPTH

    sched = lk.cosine(10)
    for _ in range(MAX_DEPTH - 1):
        sched = wrap(sched)
    assert lk.parse(repr(sched)) == sched and lk.from_config(sched.to_config()) == sched
    assert sched(3) == sched(np.array([3.0]))[0]
    with pytest.raises(ValueError, match=rf"nests {MAX_DEPTH + 1} levels deep, more than {MAX_DEPTH}"):
        wrap(sched)


def test_long_joins_and_products_flatten_and_stay_within_the_bound():
    pieces = [lk.constant(1.0, 1)] * 5000
    assert lk.join(*pieces).length == 5000
    assert lk.product(*[lk.constant(1.0)] * 5000)(3) == 1.0


# -- the peers' constructors: their flags too ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: __import__("lrkit.compat.keras").compat.keras.ExponentialDecay(0.1, 10, 0.5, staircase="False"),
         "ExponentialDecay: staircase must be True or False, got 'False'"),
        (lambda: __import__("lrkit.compat.keras").compat.keras.PolynomialDecay(0.1, 10, cycle="no"),
         "PolynomialDecay: cycle must be True or False, got 'no'"),
        (lambda: __import__("lrkit.compat.optax").compat.optax.exponential_decay(0.1, 10, 0.5, staircase="false"),
         "exponential_decay: staircase must be True or False, got 'false'"),
        (lambda: __import__("lrkit.compat.torch").compat.torch.OneCycleLR(0.1, 100, three_phase="False"),
         "OneCycleLR: three_phase must be True or False, got 'False'"),
        (lambda: __import__("lrkit.compat.timm").compat.timm.StepLRScheduler(0.1, 10, warmup_prefix="False"),
         "StepLRScheduler: warmup_prefix must be True or False, got 'False'"),
    ],
)
def test_a_peer_constructors_flag_is_true_or_false(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# -- tensors of flags or complex numbers are no steps (their dtype says so, even while tracing) ----------------------


def test_a_torch_tensor_of_flags_or_complex_numbers_is_no_step():
    torch = pytest.importorskip("torch")
    sched = lk.warmup(5) >> lk.cosine(10)
    for steps in (torch.tensor(True), torch.tensor([1 + 0j])):
        with pytest.raises(ValueError, match=r"step must be a number of updates .* got a tensor of dtype"):
            sched(steps)
    assert float(sched(torch.tensor(3, dtype=torch.int8))) == pytest.approx(sched(3))


def test_a_jax_array_of_flags_is_no_step():
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(ValueError, match=r"step must be a number of updates .* got a tensor of dtype bool"):
        lk.cosine(10)(jnp.asarray(True))
    assert float(lk.cosine(10)(jnp.asarray(5))) == pytest.approx(0.5)


# -- a misspelt keyword in a config names the parameter meant -------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        "cosine(10, flor=0.1)",
        {"type": "cosine", "steps": 10, "flor": 0.1},
        {"_target_": "lrkit.cosine", "steps": 10, "flor": 0.1},
    ],
)
def test_a_misspelt_keyword_suggests_the_parameter(config):
    with pytest.raises(ConfigError, match=r"unexpected keyword argument 'flor'; did you mean 'floor'\?"):
        lk.from_config(config)


# -- lengths so short, or growth so fast, that the closed form overflows before step 2**53 --------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lk.step_decay(1e-320), r"step_decay: every must be >= 5e-293, got 1e-320"),
        (lambda: lk.cyclic(1e-300), r"cyclic: up must be >= 5e-293"),
        (lambda: lk.sgdr(1e-320), r"sgdr: period must be >= 5e-293"),
        (lambda: lk.cosine(5e-324), r"cosine: steps must be >= 5e-293"),
        (lambda: lk.stretch(lk.cosine(10), 1e-300), r"stretch: by must be >= 5e-293"),
        (lambda: lk.sgdr(10, mult=1e308), r"sgdr: mult=1e\+308 with period=10 overflows"),
        (lambda: lk.sgdr(10, mult=1e300), r"sgdr: mult=1e\+300 with period=10 overflows"),
    ],
)
def test_a_length_or_growth_that_overflows_before_step_2_53_is_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_shortest_length_evaluates_up_to_step_2_53():
    from lrkit.core._validate import MIN_LENGTH

    for sched in (lk.step_decay(MIN_LENGTH), lk.sgdr(MIN_LENGTH), lk.cyclic(MIN_LENGTH, floor=0.0)):
        for t in (1.0, 1e6, 2.0**53):
            assert 0.0 <= sched(t) <= 1.0
    assert 0.0 <= lk.sgdr(10, mult=1e290)(2.0**53) <= 1.0


# -- what the sweeps left, mended at the end of the session ---------------------------------------------------------


def test_the_optax_compat_piecewise_constant_refuses_boundaries_that_are_not_numbers():
    from lrkit.compat import optax as compat_optax

    with pytest.raises(ValueError, match=r"piecewise_constant_schedule: boundaries_and_scales\['10'\]: a boundary"):
        compat_optax.piecewise_constant_schedule(1.0, {"10": 0.5})
    assert compat_optax.piecewise_constant_schedule(1.0, {10: 0.5, 20.0: 0.5})(20) == 0.25  # numbers still read


def test_a_range_test_at_learning_rates_of_zero_or_below_says_so():
    from lrkit.finder import suggest

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's log10 of 0 was a RuntimeWarning
        s = suggest(np.zeros(40), np.linspace(3.0, 1.0, 40))
    assert s.value is None and "learning rate > 0" in s.reason, s.reason
