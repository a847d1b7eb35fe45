"""lrkit.optax: any lrkit schedule as a pure-jnp optax schedule, checked by training with optax.

Values are computed by jax in float32 (x64 off): within 1e-6 of the schedule's largest value of
lrkit's float64 numbers. No host callback anywhere: the jaxprs are inspected.
"""

from __future__ import annotations

import subprocess
import sys

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
    lrkit.step_decay(2, factor=0.5),  # infinite
    co.warmup_cosine_decay_schedule(0.0, 1.0, 2, 10),
    co.cosine_decay_schedule(1.0, 9, exponent=2.0),  # optax_cosine: float32 emulation, not traceable (a table)
    lrkit.noise(lrkit.cosine(10), std=0.2, seed=4),  # not traceable, finite (a table)
]


def assert_f32_close(got, expected):
    """The float32 contract: within 1e-6 of the largest value."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * max(np.abs(expected).max(), 1e-30))


def no_callbacks(jaxpr) -> bool:
    """No callback primitive anywhere in ``jaxpr`` (sub-jaxprs of jit/scan/cond included)."""
    return "callback" not in str(jaxpr)


@pytest.mark.parametrize("table", [False, 40], ids=["traced", "table"])
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

    assert no_callbacks(jax.make_jaxpr(step)(params, state))
    used, reported = [], []
    for _ in range(12):
        new, state = step(params, state)
        used.append(float(params[0] - new[0]))
        reported.append(float(state.hyperparams["learning_rate"]))  # the value the update just used
        params = new
    expected = sched(np.arange(12)) * base
    np.testing.assert_allclose(used, expected, rtol=1e-6, atol=3e-7)  # w is float32: steps of w lose ~1 ulp of w
    assert_f32_close(reported, expected)
    if table:  # tabulated: the float64 values rounded once
        np.testing.assert_array_equal(reported, np.float32(expected))


def test_adamw_mlp_in_lax_scan():
    """A whole AdamW training loop of a small MLP inside one jitted lax.scan reports the schedule's values."""
    sched = lrkit.warmup(5) >> lrkit.cosine(25, floor=0.1)
    opt = optax.inject_hyperparams(optax.adamw)(learning_rate=schedule(sched, 1e-2), weight_decay=1e-4)
    key = jax.random.PRNGKey(0)
    params = {"w1": jax.random.normal(key, (4, 8)) * 0.3, "w2": jnp.zeros((8, 1))}
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 4))
    y = jnp.sum(x, axis=1, keepdims=True)

    def loss(p):
        return jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - y) ** 2)

    def body(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, updates), s), (s.hyperparams["learning_rate"], loss(p))

    run = jax.jit(lambda p: jax.lax.scan(body, (p, opt.init(p)), None, length=40))
    assert no_callbacks(jax.make_jaxpr(run)(params))
    (_, _), (lrs, losses) = run(params)
    assert_f32_close(lrs, sched(np.arange(40)) * 1e-2)
    assert float(losses[-1]) < float(losses[0])


def test_jit_vmap_scan_and_dtype():
    sched = lrkit.warmup(4) >> lrkit.cosine(10)
    fn = schedule(sched, base_lr=2.0)
    expected = sched(np.arange(20)) * 2.0
    assert_f32_close(jax.jit(jax.vmap(fn))(jnp.arange(20)), expected)
    assert_f32_close(jax.lax.scan(lambda c, t: (c, fn(t)), 0, jnp.arange(20))[1], expected)
    assert_f32_close(fn(np.arange(20)), expected)
    assert jax.jit(fn)(3).dtype == jnp.float32 and fn(-5) == fn(0)  # negative counts read step 0
    assert jax.jit(schedule(sched, dtype=jnp.bfloat16))(jnp.asarray(300)).dtype == jnp.bfloat16
    with jax.enable_x64(True):
        value = jax.jit(schedule(sched, 2.0, dtype=jnp.float64))(jnp.asarray(7))
        assert value.dtype == jnp.float64 and abs(float(value) - sched(7) * 2.0) <= 4 * np.spacing(2.0)


def test_grad_of_the_schedule_and_through_it():
    steps, fn = 10.0, schedule(lrkit.cosine(10), base_lr=2.0)
    t = 3.0
    expected = -np.pi / steps * np.sin(np.pi * t / steps)  # d/dt of 2 * (1 + cos(pi t / T)) / 2
    assert float(jax.grad(fn)(t)) == pytest.approx(expected, rel=1e-5)
    # every family differentiable in t: grad does not fail, and is finite inside the pieces
    for sched in SCHEDULES[:4]:
        grads = jax.vmap(jax.grad(schedule(sched)))(jnp.arange(12.0) + 0.5)
        assert np.isfinite(np.asarray(grads)).all()
    # grad w.r.t. a base learning rate that flows into a loss through the schedule's value
    assert float(jax.grad(lambda lr: lr * fn(t))(1.0)) == pytest.approx(float(fn(t)))


@pytest.mark.parametrize("sched", [SCHEDULES[0], SCHEDULES[2], SCHEDULES[4]], ids=repr)
def test_jax_export_round_trip(sched):
    fn = schedule(sched, base_lr=0.5)
    exported = jax.export.export(jax.jit(fn))(jax.ShapeDtypeStruct((7,), jnp.int32))
    assert "callback" not in exported.mlir_module()
    steps = jnp.arange(0, 21, 3, dtype=jnp.int32)
    assert_f32_close(exported.call(steps), sched(np.asarray(steps)) * 0.5)
    pytest.importorskip("flatbuffers")  # jax.export's serialization needs it (not a dependency of jax)
    again = jax.export.deserialize(exported.serialize())
    assert_f32_close(again.call(steps), sched(np.asarray(steps)) * 0.5)


def test_tables():
    sched = lrkit.warmup(4) >> lrkit.cosine(10, floor=0.2)
    by_table = schedule(sched, 0.5, table=True)
    counts = np.arange(30)
    np.testing.assert_array_equal(np.asarray(jax.jit(by_table)(counts)), np.float32(sched(counts) * 0.5))
    assert float(by_table(10**6)) == pytest.approx(0.1) and float(by_table(-3)) == float(by_table(0))
    assert by_table.lrkit_schedule == sched and by_table.base_lr == 0.5
    with pytest.raises(ValueError, match="table=True needs a finite schedule"):
        schedule(lrkit.step_decay(3), table=True)
    with pytest.raises(ValueError, match="table must be True or a step count"):
        schedule(sched, table=-1)
    infinite = lrkit.noise(lrkit.step_decay(3))
    with pytest.raises(ValueError, match=r"cannot be traced by jax and is infinite.*table=<last step>"):
        schedule(infinite)
    np.testing.assert_array_equal(np.asarray(schedule(infinite, table=50)(counts)), np.float32(infinite(counts)))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="sched must be an lrkit schedule"):
        schedule(lambda t: 0.1)
    with pytest.raises(ValueError, match=r"base_lr must be a finite number >= 0, got -1\.0"):
        schedule(lrkit.constant(), base_lr=-1.0)


def test_without_jax_the_import_error_names_the_extra():
    code = "import sys; sys.modules['jax'] = None\ntry:\n import lrkit.optax\nexcept ImportError as e:\n print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'lrkit[jax]'" in out
