"""The peers' quirk families: every name the registry lists resolves, lazily, to a value dataclass of that name
whose parameters are checked per field and which round-trips through text, dict and pickle configs."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

import lrkit as lk
from lrkit.core.registry import PEER_FAMILIES, lookup

EXAMPLES = {
    "keras_staircase": dict(kind="exponential", rate=0.5, every=47),
    "keras_cyclic_polynomial": dict(steps=10, power=2.0),
    "keras_cosine_restarts": dict(first_decay_steps=10, m_mul=0.5, alpha=0.1),
    "optax_cosine": dict(steps=10, exponent=2.0),
    "optax_staircase": dict(rate=0.5, every=49),
    "optax_growth": dict(rate=2.0, every=2),
    "fastai_poly": dict(steps=1, start=0.0, end=2.0, power=2),
    "timm_cycles": dict(t_initial=10, shape="poly", cycle_mul=2.0, cycle_limit=3),
    "timm_step": dict(every=1.1, rate=0.5),
    "timm_noise": dict(schedule=lk.cosine(10), start=2, end=8, pct=0.5),
    "hf_cosine": dict(steps=10, cycles=0.5, floor=0.1),
    "hf_hard_restarts": dict(steps=10, cycles=2),
    "hf_sqrt_warmup": dict(steps=4, start=0.1),
}


def test_every_peer_family_has_an_example():
    assert set(EXAMPLES) == set(PEER_FAMILIES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_peer_family_is_a_value_that_round_trips(name):
    cls = lookup(name)
    module, attr = PEER_FAMILIES[name]
    assert cls.__module__ == module and cls.__name__ == attr and cls.name == name
    assert dataclasses.is_dataclass(cls)
    value = cls(**EXAMPLES[name])
    assert lk.from_config(repr(value)) == value
    assert lk.from_config(value.to_config()) == value
    again = pickle.loads(pickle.dumps(value))
    assert again == value and again.length == value.length
    assert again(3) == value(3)
    with pytest.raises(AttributeError):
        value.length = 1


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("hf_cosine", dict(steps=0), r"hf_cosine: steps must be"),
        ("hf_hard_restarts", dict(steps=10, cycles=-1), r"hf_hard_restarts: cycles must be >= 0"),
        ("optax_growth", dict(rate=0.5, every=2), r"optax_growth: rate must be > 1, got 0.5; for a decay use"),
        ("keras_staircase", dict(kind="exponential", rate=1.5, every=2), r"keras_staircase: rate must be"),
        ("keras_staircase", dict(kind="inverse_time", rate=-1.0, every=2), r"keras_staircase: rate must be"),
        ("keras_cosine_restarts", dict(first_decay_steps=10, t_mul=0.5), r"keras_cosine_restarts: t_mul must be >= 1"),
        ("timm_cycles", dict(t_initial=10, shape="step"), r"timm_cycles: shape must be one of"),
        ("timm_cycles", dict(t_initial=10, shape="tanh", lb=3, ub=-7), r"timm_cycles: lb must be < ub, got lb=3"),
        ("timm_cycles", dict(t_initial=10, power=-1.0), r"timm_cycles: power must be >= 0"),
        ("timm_noise", dict(schedule=1.0, start=0), r"timm_noise: schedule must be a schedule"),
        ("timm_noise", dict(schedule=lk.cosine(10), start=0, seed=-1), r"timm_noise: seed must be"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lookup(name)(**kwargs)


def test_keras_staircase_checks_its_rate_by_its_kind():
    assert lookup("keras_staircase")("inverse_time", 1.5, 2)(2) == pytest.approx(1 / 2.5)  # any rate >= 0


def test_timm_cycles_length_is_the_end_of_its_last_cycle():
    assert lookup("timm_cycles")(10, cycle_mul=2.0, cycle_limit=3).length == 70


# -- a compat constructor's refusal names the peer's own argument, as the caller wrote it -------------------------

from lrkit.compat import fastai as cfa  # noqa: E402
from lrkit.compat import keras as ck  # noqa: E402
from lrkit.compat import optax as co  # noqa: E402
from lrkit.compat import timm as ctm  # noqa: E402
from lrkit.compat import torch as ctt  # noqa: E402
from lrkit.compat import transformers as chf  # noqa: E402

NAN = float("nan")
REFUSALS = [  # (call, the line's start: "<peer function>: <argument the caller passed> ...", a word of its fix)
    # optax
    (lambda: co.cosine_decay_schedule(1.0, 10, alpha=-0.5), "cosine_decay_schedule: alpha must be >= 0, got -0.5",
     "alpha * init_value"),
    (lambda: co.cosine_decay_schedule(1.0, 10, exponent=-1), "cosine_decay_schedule: exponent must be >= 0", ""),
    (lambda: co.exponential_decay(-1.0, 10, 0.5, end_value=0.0), "exponential_decay: init_value must be >= 0", ""),
    (lambda: co.exponential_decay(1.0, "10", 0.5), "exponential_decay: transition_steps must be a finite number", ""),
    (lambda: co.linear_schedule(1.0, -1.0, 10), "linear_schedule: end_value must be >= 0", ""),
    (lambda: co.polynomial_schedule(1.0, 0.0, -1, 10), "polynomial_schedule: power must be >= 0", ""),
    (lambda: co.polynomial_schedule(1.0, 0.0, 1, "10"), "polynomial_schedule: transition_steps must be a finite", ""),
    (lambda: co.warmup_constant_schedule(0.0, -1.0, 4), "warmup_constant_schedule: peak_value must be >= 0", ""),
    (lambda: co.warmup_cosine_decay_schedule(-1.0, 1.0, 5, 10), "warmup_cosine_decay_schedule: init_value must", ""),
    (lambda: co.warmup_cosine_decay_schedule(0.0, 1.0, 2, 10, end_value=-0.1),
     "warmup_cosine_decay_schedule: end_value must be >= 0", ""),
    (lambda: co.warmup_cosine_decay_schedule(0.0, 1.0, -5, 10), "warmup_cosine_decay_schedule: warmup_steps must be "
     ">= 0, got -5", "warmup_steps=0"),
    (lambda: co.warmup_exponential_decay_schedule(0.0, 1.0, -5, 10, 0.5),
     "warmup_exponential_decay_schedule: warmup_steps must be >= 0, got -5", "warmup_steps=0"),
    (lambda: co.warmup_exponential_decay_schedule(0.0, -1.0, 2, 10, 0.5),
     "warmup_exponential_decay_schedule: peak_value must be >= 0", ""),
    (lambda: co.warmup_exponential_decay_schedule(0.0, 1.0, 2, 10, -0.5),
     "warmup_exponential_decay_schedule: decay_rate must be >= 0", ""),
    (lambda: co.piecewise_constant_schedule(-1.0, {10: 0.5}), "piecewise_constant_schedule: init_value must be >= 0",
     ""),
    (lambda: co.piecewise_interpolate_schedule("linear", -1.0, {10: 0.5}),
     "piecewise_interpolate_schedule: init_value must be >= 0", ""),
    (lambda: co.piecewise_interpolate_schedule("linear", 1.0, {-3: 0.5}),
     "piecewise_interpolate_schedule: boundaries_and_scales[-3]: a boundary must be >= 0, got -3", ""),
    (lambda: co.linear_onecycle_schedule(40, 1.0, pct_start=-0.3),
     "linear_onecycle_schedule: pct_start must be in [0, 1], got -0.3", "transition_steps"),
    (lambda: co.linear_onecycle_schedule(40, 1.0, pct_final=1.5), "linear_onecycle_schedule: pct_final must be in", ""),
    (lambda: co.linear_onecycle_schedule(40, 1.0, div_factor=0.0), "linear_onecycle_schedule: div_factor must be > 0,"
     " got 0.0", "peak_value / div_factor"),
    (lambda: co.linear_onecycle_schedule("40", 1.0), "linear_onecycle_schedule: transition_steps must be a finite", ""),
    (lambda: co.linear_onecycle_schedule(40, -1.0), "linear_onecycle_schedule: peak_value must be >= 0", ""),
    (lambda: co.cosine_onecycle_schedule(40, 1.0, final_div_factor=0.0),
     "cosine_onecycle_schedule: final_div_factor must be > 0, got 0.0", ""),
    (lambda: co.reduce_on_plateau(min_scale=1.5), "reduce_on_plateau: min_scale must be in [0, 1], got 1.5",
     "lowest scale"),
    (lambda: co.reduce_on_plateau(factor=1.5), "reduce_on_plateau: factor must be in (0, 1), got 1.5", ""),
    (lambda: co.reduce_on_plateau(patience=-1), "reduce_on_plateau: patience must be an integer >= 0", ""),
    (lambda: co.reduce_on_plateau(cooldown=-1), "reduce_on_plateau: cooldown must be an integer >= 0", ""),
    (lambda: co.reduce_on_plateau(rtol=1.5), "reduce_on_plateau: rtol must be in [0, 1), got 1.5", "atol"),
    # Keras
    (lambda: ck.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]),
     "PiecewiseConstantDecay: boundaries must be strictly increasing, got [10, 5]", "sort"),
    (lambda: ck.PiecewiseConstantDecay([10], [1.0, -0.5]), "PiecewiseConstantDecay: values[1] must be >= 0", ""),
    (lambda: ck.PiecewiseConstantDecay([10], [1.0]), "PiecewiseConstantDecay: values must have one more entry than "
     "boundaries", ""),
    (lambda: ck.CosineDecay(0.1, 100, alpha=-0.5), "CosineDecay: alpha must be >= 0, got -0.5", "alpha * "),
    (lambda: ck.CosineDecay(0.1, 0), "CosineDecay: decay_steps must be > 0", ""),
    (lambda: ck.CosineDecayRestarts(0.1, 10, alpha=-0.5), "CosineDecayRestarts: alpha must be >= 0", ""),
    (lambda: ck.CosineDecayRestarts(0.1, 10, t_mul=0.5), "CosineDecayRestarts: t_mul must be >= 1, got 0.5", ""),
    (lambda: ck.CosineDecayRestarts(0.1, 10, m_mul=-1.0), "CosineDecayRestarts: m_mul must be >= 0", ""),
    (lambda: ck.CosineDecayRestarts(0.1, 0), "CosineDecayRestarts: first_decay_steps must be > 0", ""),
    (lambda: ck.PolynomialDecay(1.0, 0), "PolynomialDecay: decay_steps must be > 0", ""),
    (lambda: ck.PolynomialDecay(1.0, 10, power=-1.0), "PolynomialDecay: power must be >= 0", ""),
    (lambda: ck.ExponentialDecay(1.0, 10, 1.5), "ExponentialDecay: decay_rate must be in (0, 1], got 1.5", "Keras"),
    (lambda: ck.ReduceLROnPlateau(0.1, factor=1.5), "ReduceLROnPlateau: factor must be in (0, 1), got 1.5", ""),
    (lambda: ck.ReduceLROnPlateau(0.1, patience=-1), "ReduceLROnPlateau: patience must be an integer >= 0", ""),
    (lambda: ck.ReduceLROnPlateau(0.1, cooldown=-1), "ReduceLROnPlateau: cooldown must be an integer >= 0", ""),
    # timm
    (lambda: ctm.TanhLRScheduler(1.0, 10, lb=3, ub=-7), "TanhLRScheduler: lb must be < ub, got lb=3, ub=-7", "swap"),
    (lambda: ctm.CosineLRScheduler(1.0, 0), "CosineLRScheduler: t_initial must be > 0", ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, lr_min=-1.0), "CosineLRScheduler: lr_min must be >= 0", ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, cycle_limit=-1), "CosineLRScheduler: cycle_limit must be an integer >= 0",
     ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, cycle_mul=0), "CosineLRScheduler: cycle_mul must be > 0", ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, cycle_decay=-1), "CosineLRScheduler: cycle_decay must be >= 0", ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, k_decay=0), "CosineLRScheduler: k_decay must be > 0", ""),
    (lambda: ctm.PolyLRScheduler(1.0, 10, power=-1), "PolyLRScheduler: power must be >= 0, got -1", ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, noise_range_t=2, noise_pct=0), "CosineLRScheduler: noise_pct must be > 0",
     ""),
    (lambda: ctm.CosineLRScheduler(1.0, 10, noise_range_t=2, noise_seed=-1), "CosineLRScheduler: noise_seed must be",
     ""),
    (lambda: ctm.StepLRScheduler(1.0, 10, noise_range_t=[2, 8], noise_std=-1.0),
     "StepLRScheduler: noise_std must be >= 0", ""),
    # Hugging Face
    (lambda: chf.get_wsd_schedule(5, 5, num_training_steps=8), "get_wsd_schedule: num_training_steps must be >= "
     "num_warmup_steps + num_decay_steps, got 8 < 5 + 5", "num_stable_steps"),
    (lambda: chf.get_wsd_schedule(2, 2, num_stable_steps=2, min_lr_ratio=-0.5),
     "get_wsd_schedule: min_lr_ratio must be >= 0, got -0.5", ""),
    (lambda: chf.get_wsd_schedule(2, 2, num_stable_steps=2, num_cycles=NAN), "get_wsd_schedule: num_cycles must be a",
     ""),
    (lambda: chf.get_cosine_schedule_with_warmup(2, 10, num_cycles=NAN),
     "get_cosine_schedule_with_warmup: num_cycles must be a finite number", ""),
    (lambda: chf.get_cosine_with_hard_restarts_schedule_with_warmup(2, 10, num_cycles=-1),
     "get_cosine_with_hard_restarts_schedule_with_warmup: num_cycles must be >= 0, got -1", ""),
    (lambda: chf.get_cosine_with_min_lr_schedule_with_warmup(2, 10, num_cycles=NAN, min_lr_rate=0.1),
     "get_cosine_with_min_lr_schedule_with_warmup: num_cycles must be a finite number", ""),
    (lambda: chf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(2, 10, min_lr_rate=0.1, warmup_lr_rate=-0.5),
     "get_cosine_with_min_lr_schedule_with_warmup_lr_rate: warmup_lr_rate must be >= 0", ""),
    (lambda: chf.get_polynomial_decay_schedule_with_warmup(0, 10, power=-1, lr_init=1.0),
     "get_polynomial_decay_schedule_with_warmup: power must be >= 0", ""),
    # torch
    (lambda: ctt.ConstantLR(1.0, factor=0), "ConstantLR: factor must be in (0, 1], got 0", "divides by it"),
    (lambda: ctt.LinearLR(1.0, end_factor=1.5), "LinearLR: end_factor must be in [0, 1], got 1.5", "multiplies lr"),
    (lambda: ctt.PolynomialLR(1.0, 5, power=-1), "PolynomialLR: power must be >= 0", ""),
    # fastai
    (lambda: cfa.SchedLin(-1.0, 1.0), "SchedLin: start must be >= 0, got -1.0", ""),
    (lambda: cfa.SchedCos(1.0, -1.0), "SchedCos: end must be >= 0, got -1.0", ""),
    (lambda: cfa.SchedExp(0.0, 1.0), "SchedExp: start must be > 0, got 0.0", ""),
    (lambda: cfa.SchedExp(1.0, 0.0), "SchedExp: end must be > 0, got 0.0", "SchedCos"),
    (lambda: cfa.SchedPoly(0.0, 1.0, -1), "SchedPoly: power must be >= 0, got -1", ""),
    (lambda: cfa.SchedPoly(-1.0, 1.0, 2), "SchedPoly: start must be >= 0", ""),
]


@pytest.mark.parametrize(("call", "start", "fix"), REFUSALS, ids=[r[1].split(" must")[0] for r in REFUSALS])
def test_a_compat_refusal_names_the_argument_the_caller_passed(call, start, fix):
    with pytest.raises(ValueError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(start), message
    assert fix in message and "\n" not in message
    assert "fraction of the run" not in message  # lrkit's own wording for its fractions, wrong for these
