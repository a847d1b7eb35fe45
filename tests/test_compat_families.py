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
        ("hf_hard_restarts", dict(steps=10, cycles=0), r"hf_hard_restarts: cycles must be"),
        ("optax_growth", dict(rate=0.5, every=2), r"optax_growth: rate must be > 1, got 0.5; for a decay use"),
        ("keras_staircase", dict(kind="exponential", rate=1.5, every=2), r"keras_staircase: rate must be"),
        ("keras_staircase", dict(kind="inverse_time", rate=-1.0, every=2), r"keras_staircase: rate must be"),
        ("keras_cosine_restarts", dict(first_decay_steps=10, t_mul=0.5), r"keras_cosine_restarts: t_mul must be >= 1"),
        ("timm_cycles", dict(t_initial=10, shape="step"), r"timm_cycles: shape must be one of"),
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
