"""The steps both jax-side adapters (lrkit.optax.schedule, lrkit.keras.LearningRateSchedule on jax) are given:
int32 counts past 2**24, numpy integers past int32, half-precision floats. Values must be within 1e-6 of the
schedule's largest value of lrkit's float64 numbers, as the adapters' docstrings promise.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import lrkit

jax = pytest.importorskip("jax")
pytest.importorskip("optax")
os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
jnp = jax.numpy
from lrkit.keras import LearningRateSchedule  # noqa: E402
from lrkit.optax import schedule  # noqa: E402

KERAS_ON_JAX = keras.backend.backend() == "jax"


def assert_f32_close(got, expected):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * max(np.abs(expected).max(), 1e-30))


def optax_lr(sched):
    return schedule(sched)


def keras_lr(sched):
    return LearningRateSchedule(sched)


ADAPTERS = [
    pytest.param(optax_lr, id="optax"),
    pytest.param(keras_lr, id="keras"),
]
PERIODIC = [lrkit.sgdr(1000), lrkit.cyclic(2000), lrkit.warmup(100) >> lrkit.sgdr(1000, floor=0.1)]


@pytest.mark.skipif(not KERAS_ON_JAX, reason="int32 counts are jax's")
@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("sched", PERIODIC, ids=repr)
def test_periodic_schedules_are_exact_at_int32_counts_past_2_24(adapter, sched):
    """float32 holds integers up to 2**24 only: 20_004_999 read as 20_005_000 is a restart one update early."""
    counts = np.concatenate([np.arange(2 * 10**7, 2 * 10**7 + 3000), [20_004_999, 33_554_999, 100_000_999]])
    lr = adapter(sched)
    got = jax.jit(jax.vmap(lr))(jnp.asarray(counts, jnp.int32))
    assert got.dtype == jnp.float32
    assert_f32_close(got, sched(counts))


@pytest.mark.skipif(not KERAS_ON_JAX, reason="the step types are jax's")
@pytest.mark.parametrize("adapter", [optax_lr, keras_lr], ids=["optax", "keras"])
def test_numpy_integers_beyond_int32_are_widened_like_python_ints(adapter):
    sched = lrkit.cosine(10**10)
    lr = adapter(sched)
    for step in (np.int64(5 * 10**9), np.int64(2**31 + 5), np.uint64(5 * 10**9), np.array([5 * 10**9, 2**31 + 5])):
        assert_f32_close(lr(step), sched(np.asarray(step, np.int64)))
    assert_f32_close(lr(np.int64(7)), sched(7))  # within int32: unchanged


@pytest.mark.skipif(not KERAS_ON_JAX, reason="the step types are jax's")
@pytest.mark.parametrize("adapter", [optax_lr, keras_lr], ids=["optax", "keras"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_float_steps_compute_in_jaxs_float(adapter, dtype):
    """37, 64 and 99 are exact in both half types: only the closed form's own (float32) arithmetic may round."""
    sched = lrkit.cosine(100)
    lr = adapter(sched)
    steps = [jnp.asarray(t, dtype) for t in (37, 64, 99)]
    if dtype == "float16":
        steps += [np.float16(t) for t in (37, 64, 99)]
    got = [lr(step) for step in steps]
    assert {g.dtype for g in got} == {jnp.dtype(jnp.float32)}
    assert_f32_close(np.asarray(got), sched(np.asarray([float(s) for s in steps])))
