"""Parity of lrkit.compat.transformers with the real transformers schedulers (float64, rel 1e-9)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.compat import transformers as hf

pytest.importorskip("torch")
optimization = pytest.importorskip("transformers.optimization")
sys.path.insert(0, os.path.dirname(__file__))
from _peers import rel_diff, torch_lrs  # noqa: E402

TOL = 1e-9
SETTINGS = settings(max_examples=30, deadline=None)
warmups = st.integers(0, 40)
lengths = st.integers(1, 200)


def check(ours: lrkit.Schedule, name: str, lr: float = 1.0, steps: int | None = None, **kwargs):
    """Compare over the whole run and as far again past its end (where HF's cosine climbs back)."""
    total = kwargs.get("num_training_steps") or 100
    steps = steps or 2 * total + 5
    theirs = torch_lrs(lambda o: optimization.get_scheduler(name, o, **kwargs), steps, lr=lr)
    mine = ours(np.arange(steps)) * lr
    assert rel_diff(mine, theirs) <= TOL, (ours, int(np.argmax(np.abs(mine - theirs))))
    assert lrkit.from_config(repr(ours)) == ours
    assert lrkit.from_config(ours.to_config()) == ours


@SETTINGS
@given(w=warmups, extra=lengths)
def test_linear(w, extra):
    t = w + extra
    check(hf.get_scheduler("linear", w, t), "linear", num_warmup_steps=w, num_training_steps=t)


@SETTINGS
@given(w=warmups, extra=lengths, cycles=st.sampled_from([0.5, 0.25, 1.0, 1.5, 3.0]))
def test_cosine_climbs_back_past_the_end(w, extra, cycles):
    t = w + extra
    ours = hf.get_cosine_schedule_with_warmup(w, t, num_cycles=cycles)
    check(ours, "cosine", num_warmup_steps=w, num_training_steps=t,
          scheduler_specific_kwargs={"num_cycles": cycles})


@SETTINGS
@given(w=warmups, extra=lengths, cycles=st.integers(1, 7))
def test_cosine_with_hard_restarts(w, extra, cycles):
    t = w + extra
    ours = hf.get_cosine_with_hard_restarts_schedule_with_warmup(w, t, num_cycles=cycles)
    check(ours, "cosine_with_restarts", num_warmup_steps=w, num_training_steps=t,
          scheduler_specific_kwargs={"num_cycles": cycles})


@SETTINGS
@given(w=warmups, extra=lengths, lr=st.floats(1e-4, 1.0), end=st.floats(0.0, 0.9), power=st.floats(0.2, 3.0))
def test_polynomial(w, extra, lr, end, power):
    t = w + extra
    ours = hf.get_polynomial_decay_schedule_with_warmup(w, t, lr_end=end * lr, power=power, lr_init=lr)
    check(ours, "polynomial", lr=lr, num_warmup_steps=w, num_training_steps=t,
          scheduler_specific_kwargs={"lr_end": end * lr, "power": power})


@SETTINGS
@given(w=warmups)
def test_constant_and_constant_with_warmup(w):
    check(hf.get_scheduler("constant"), "constant", steps=50)
    check(hf.get_scheduler("constant_with_warmup", w), "constant_with_warmup", steps=80, num_warmup_steps=w)


@SETTINGS
@given(w=warmups, timescale=st.none() | st.integers(1, 500))
def test_inverse_sqrt(w, timescale):
    kwargs = {} if timescale is None else {"timescale": timescale}
    ours = hf.get_scheduler("inverse_sqrt", w, scheduler_specific_kwargs=kwargs)
    check(ours, "inverse_sqrt", steps=400, num_warmup_steps=w, scheduler_specific_kwargs=kwargs)


@SETTINGS
@given(w=warmups, extra=lengths, cycles=st.sampled_from([0.5, 1.0, 2.0]), rate=st.floats(0.0, 0.5),
       by_lr=st.booleans())
def test_cosine_with_min_lr(w, extra, cycles, rate, by_lr):
    t = w + extra
    lr = 0.5
    kwargs = {"num_cycles": cycles, **({"min_lr": rate * lr} if by_lr else {"min_lr_rate": rate})}
    ours = hf.get_scheduler("cosine_with_min_lr", w, t, scheduler_specific_kwargs={**kwargs, "lr": lr})
    check(ours, "cosine_with_min_lr", lr=lr, num_warmup_steps=w, num_training_steps=t,
          scheduler_specific_kwargs=kwargs)


@SETTINGS
@given(w=warmups, extra=lengths, rate=st.floats(0.0, 0.5), warm_rate=st.none() | st.floats(0.0, 0.5))
def test_cosine_warmup_with_min_lr(w, extra, rate, warm_rate):
    t = w + extra
    kwargs = {"min_lr_rate": rate, "warmup_lr_rate": warm_rate}
    ours = hf.get_scheduler("cosine_warmup_with_min_lr", w, t, scheduler_specific_kwargs=kwargs)
    check(ours, "cosine_warmup_with_min_lr", num_warmup_steps=w, num_training_steps=t,
          scheduler_specific_kwargs=kwargs)


SHAPES = ["linear", "cosine", "1-sqrt"]


@SETTINGS
@given(
    w=warmups, d=st.integers(0, 60), s=st.integers(0, 60),
    warmup_type=st.sampled_from(SHAPES), decay_type=st.sampled_from(SHAPES),
    ratio=st.floats(0.0, 0.5), cycles=st.sampled_from([0.5, 0.25, 1.0]),
)
def test_warmup_stable_decay(w, d, s, warmup_type, decay_type, ratio, cycles):
    kwargs = {"num_decay_steps": d, "num_stable_steps": s, "warmup_type": warmup_type, "decay_type": decay_type,
              "min_lr_ratio": ratio, "num_cycles": cycles}
    ours = hf.get_scheduler("warmup_stable_decay", w, scheduler_specific_kwargs=kwargs)
    check(ours, "warmup_stable_decay", steps=w + d + s + 20, num_warmup_steps=w, scheduler_specific_kwargs=kwargs)


def test_native_cosine_is_correct_where_hf_climbs_back():
    native = lrkit.warmup(10, start=0.0) >> lrkit.cosine(90)  # HF warms up from 0
    compat = hf.get_cosine_schedule_with_warmup(10, 100)
    steps = np.arange(101)
    np.testing.assert_allclose(native(steps), compat(steps), rtol=1e-12, atol=1e-15)
    assert native(150) == 0.0 and compat(150) > 0.4


def test_every_fixed_formula_type_is_covered():
    from transformers.trainer_utils import SchedulerType

    reactive = {"reduce_lr_on_plateau", "greedy"}
    assert {t.value for t in SchedulerType} - reactive == set(hf._BY_NAME)


def test_unknown_and_reactive_names_raise():
    with pytest.raises(ValueError, match="got 'cosine_foo'"):
        hf.get_scheduler("cosine_foo", 1, 10)
    with pytest.raises(ValueError, match="reacts to metrics"):
        hf.get_scheduler("reduce_lr_on_plateau")


@pytest.mark.parametrize("cycles", [0, 1.5, 2.5])
def test_hard_restarts_with_zero_or_fractional_cycles_as_hf_computes_them(cycles):
    """num_cycles=0: 1.0 until the end, then 0; a fractional count restarts part-way, as HF's float arithmetic does."""
    kwargs = dict(num_warmup_steps=2, num_training_steps=14, scheduler_specific_kwargs=dict(num_cycles=cycles))
    check(hf.get_cosine_with_hard_restarts_schedule_with_warmup(2, 14, num_cycles=cycles), "cosine_with_restarts",
          **kwargs)


@pytest.mark.parametrize("w", [0, 2])
def test_polynomial_power_zero_holds_one_through_the_last_step_as_hf_does(w):
    kwargs = dict(num_warmup_steps=w, num_training_steps=8,
                  scheduler_specific_kwargs=dict(power=0, lr_end=0.1))
    check(hf.get_polynomial_decay_schedule_with_warmup(w, 8, lr_end=0.1, power=0, lr_init=1.0), "polynomial",
          **kwargs)
