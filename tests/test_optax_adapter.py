"""lrkit.optax: any lrkit schedule as an optax schedule, checked by training with optax."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.compat import optax as co

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy
from lrkit.optax import schedule  # noqa: E402

SCHEDULES = [
    lrkit.warmup(3) >> lrkit.cosine(7, floor=0.1),
    lrkit.one_cycle(12),
    lrkit.step_decay(2, factor=0.5),
    co.warmup_cosine_decay_schedule(0.0, 1.0, 2, 10),
]


@pytest.mark.parametrize("table", [False, 40], ids=["callback", "table"])
@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_sgd_with_inject_hyperparams_uses_the_schedule(sched, table):
    """loss = sum(w), so each SGD step moves w by exactly the learning rate it used."""
    base = 0.1
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule(sched, base_lr=base, table=table))
    params = jnp.zeros(2)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda w: jnp.sum(w))(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    used, reported = [], []
    for _ in range(12):
        new, state = step(params, state)
        used.append(float(params[0] - new[0]))
        reported.append(float(state.hyperparams["learning_rate"]))  # the value the update just used
        params = new
    expected = sched(np.arange(12)) * base
    np.testing.assert_allclose(used, expected, rtol=1e-6, atol=2e-7)  # w is float32: steps of w lose ~1 ulp of w
    np.testing.assert_allclose(reported, expected, rtol=1e-6, atol=1e-9)


def test_jit_vmap_and_dtype():
    sched = lrkit.warmup(4) >> lrkit.cosine(10)
    fn = schedule(sched, base_lr=2.0)
    counts = jnp.arange(20)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(fn))(counts)), sched(np.arange(20)) * 2.0, rtol=1e-6)
    assert jax.jit(fn)(3).dtype == jnp.float32
    with jax.enable_x64(True):
        value = jax.jit(schedule(sched, 2.0, dtype=jnp.float64))(jnp.asarray(7))
        assert value.dtype == jnp.float64 and float(value) == sched(7) * 2.0


def test_table_matches_the_callback_and_holds_past_its_end():
    sched = lrkit.warmup(4) >> lrkit.cosine(10, floor=0.2)
    by_table, by_callback = schedule(sched, 0.5, table=True), schedule(sched, 0.5)
    counts = jnp.arange(30)
    np.testing.assert_array_equal(np.asarray(jax.jit(by_table)(counts)), np.asarray(jax.jit(by_callback)(counts)))
    assert float(by_table(10**6)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="table=True needs a finite schedule"):
        schedule(lrkit.step_decay(3), table=True)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="sched must be an lrkit schedule"):
        schedule(lambda t: 0.1)
    with pytest.raises(ValueError, match=r"base_lr must be a finite number >= 0, got -1\.0"):
        schedule(lrkit.constant(), base_lr=-1.0)
