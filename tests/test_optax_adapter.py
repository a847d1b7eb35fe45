"""lrkit.optax: any lrkit schedule as a pure-jnp optax schedule, checked by training with optax.

Values are computed by jax in float32 (x64 off): within 1e-6 of the schedule's largest value of
lrkit's float64 numbers. No host callback anywhere: the jaxprs are inspected.
"""

from __future__ import annotations

import math
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


# -- integers beyond int32 (issue 25) -------------------------------------------------------------------------------
def test_with_giant_int_steps():
    """optax's own case (schedules/_schedule_test.py): decay_steps=int(1e10) does not fit int32."""
    fn = jax.jit(schedule(co.cosine_decay_schedule(init_value=1000.0, decay_steps=int(1e10), alpha=0.0, exponent=1)))
    np.testing.assert_allclose(fn(int(1e9)), 975.52826)
    peer = jax.jit(optax.cosine_decay_schedule(init_value=1000.0, decay_steps=int(1e10), alpha=0.0, exponent=1))
    np.testing.assert_allclose(fn(int(1e9)), peer(int(1e9)), rtol=1e-6)
    # lengths and counts beyond int32 everywhere: a join, a step decay, a Python int count of 2**40
    sched = lrkit.warmup(3 * 10**9) >> lrkit.cosine(2**40)
    fn = schedule(sched, base_lr=2.0)
    counts = [10**9, 3 * 10**9, 2**39, 2**40, 4 * 2**40]  # float32 holds each exactly
    expected = sched(np.asarray(counts, dtype=np.float64)) * 2.0
    assert_f32_close(jax.jit(fn)(jnp.asarray(counts, jnp.float32)), expected)
    assert_f32_close([fn(count) for count in counts], expected)  # Python ints beyond int32
    assert_f32_close(schedule(lrkit.step_decay(2**33, factor=0.5))(2**34 + 1), 0.25)


# -- plateaus: refused by schedule(), fed by scale_by_learning_rate ------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lrkit.optax import scale_by_learning_rate  # noqa: E402


def test_schedule_refuses_a_plateau_and_names_the_transformation():
    with pytest.raises(ValueError, match=r"has a plateau, which an optax schedule .* cannot feed; use "
                                         r"lrkit.optax.scale_by_learning_rate\(sched, base_lr\) and pass value="):
        schedule(lrkit.warmup(3) >> lrkit.constant(1.0) * lrkit.plateau())


def structures(p, q):
    """Where plateau nodes sit: everywhere, inside one piece of a join, over a whole join, two of them."""
    return [
        lrkit.constant(1.0) * p,
        lrkit.warmup(3) >> (lrkit.constant(1.0, 12) * p) >> lrkit.cosine(6),
        (lrkit.warmup(2) >> lrkit.cosine(30, floor=0.1)) * p,
        (lrkit.warmup(2) >> lrkit.constant(1.0, 9) * p >> lrkit.linear(5)) * q,
    ]


plateau_kwargs = st.fixed_dictionaries({
    "rule": st.sampled_from(["torch", "optax", "keras"]),
    "mode": st.sampled_from(["min", "max"]),
    "factor": st.sampled_from([0.1, 0.5, 0.8]),
    "patience": st.integers(0, 4),
    "threshold_mode": st.sampled_from(["rel", "abs"]),
    "threshold": st.sampled_from([0.0, 1e-3, 0.1]),
    "cooldown": st.integers(0, 3),
    "min_scale": st.sampled_from([0.0, 0.05]),
    "eps": st.sampled_from([1e-8, 0.0]),
    "smoothing": st.sampled_from([0.0, 0.5]),
    "nan": st.sampled_from(["bad", "ignore"]),
})
metric = st.one_of(
    st.sampled_from([1.0, 0.5, 2.0, -1.0, 1.05, math.nan, math.inf, -math.inf]),
    st.floats(-3, 3, allow_nan=False, width=32),
)


def run_fed(sched, seq, jit):
    """Feed ``seq`` (one value per update, float64) to scale_by_learning_rate: per-update outputs."""
    tx = scale_by_learning_rate(sched, base_lr=0.5)
    with jax.enable_x64(True):
        params = jnp.zeros(2, jnp.float64)

        def body(state, value):
            updates, state = tx.update(jnp.ones(2, jnp.float64), state, params, value=value)
            return state, (state.learning_rate, updates[0], state.scale, state.bad, state.cooldown, state.best)

        values = jnp.asarray(seq, jnp.float64)
        if jit:
            run = jax.jit(lambda values: jax.lax.scan(body, tx.init(params), values))
            assert no_callbacks(jax.make_jaxpr(run)(values))
            return run(values)[1]
        with jax.disable_jit():  # the same code, op by op: no compile per Hypothesis example
            return jax.lax.scan(body, tx.init(params), values)[1]


def assert_as_controller(sched, seq, outputs):
    lrs, moved, scales, bad, cooldown, best = outputs
    c = lrkit.Controller(sched)
    for k, value in enumerate(seq):
        c.observe(value, k)
        assert np.asarray(scales[k]).tolist() == c.scales, (k, value)
        assert np.asarray(bad[k]).tolist() == [s.bad for s in c.states]
        assert np.asarray(cooldown[k]).tolist() == [s.cooldown for s in c.states]
        assert [None if math.isnan(b) else b for b in np.asarray(best[k]).tolist()] == [s.best for s in c.states]
        expected = 0.5 * c.resolve()(k)
        assert float(lrs[k]) == pytest.approx(expected, rel=1e-12, abs=1e-300)
        assert float(moved[k]) == pytest.approx(-expected, rel=1e-12, abs=1e-300)
    return c


@settings(max_examples=12, deadline=None)
@given(plateau_kwargs, plateau_kwargs, st.integers(0, 3), st.lists(metric, min_size=1, max_size=20))
def test_decisions_equal_the_controllers(kw, kw2, where, seq):
    """float64 (x64): every counter of every node and the learning rate, update by update, are the Controller's."""
    sched = structures(lrkit.plateau(**kw), lrkit.plateau(**kw2))[where]
    assert_as_controller(sched, seq, run_fed(sched, seq, jit=False))


@pytest.mark.parametrize("rule", ["torch", "optax", "keras"])
def test_decisions_equal_the_controllers_under_jit_and_scan(rule):
    p = lrkit.plateau(patience=1, factor=0.5, cooldown=1, smoothing=0.5, rule=rule)
    q = lrkit.plateau(mode="max", patience=2, threshold=0.1, threshold_mode="abs", min_scale=0.05, rule=rule)
    sched = structures(p, q)[3]
    seq = [3.0, 2.0, 2.0, math.nan, 2.0, 2.0, 1.0, 1.0, -1.0, -1.0, math.inf, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5] * 2
    c = assert_as_controller(sched, seq, run_fed(sched, seq, jit=True))
    assert sum(s.reductions for s in c.states) >= 3  # not vacuous


def test_a_training_loop_in_float32_reduces_where_the_controller_does():
    """x64 off (the default): an AdamW chain under jit, a metric fed every 5 updates, two plateaus."""
    sched = (lrkit.warmup(5) >> lrkit.constant(1.0, 40) * lrkit.plateau(patience=1, factor=0.5)) * lrkit.plateau(
        patience=3, factor=0.1, rule="keras"
    )
    tx = optax.chain(optax.scale_by_adam(), scale_by_learning_rate(sched, base_lr=1e-2))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)

    @jax.jit
    def fed(params, state, value):
        grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
        updates, state = tx.update(grads, state, params, value=value)
        return optax.apply_updates(params, updates), state

    @jax.jit
    def plain(params, state):
        grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    c = lrkit.Controller(sched)
    metrics = [4.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0]
    lrs, expected = [], []
    # plain is traced before any update passed a metric: said once (jit runs Python per trace, not per update)
    with pytest.warns(UserWarning, match=r"traced without value=.* If your first evaluation is still to come"):
        for k in range(60):
            if k % 5 == 4:
                value = metrics[k // 5]
                params, state = fed(params, state, value)
                c.observe(value, k)
            else:
                params, state = plain(params, state)
            lrs.append(float(state[1].learning_rate))
            expected.append(1e-2 * c.resolve()(k))
    assert_f32_close(lrs, expected)
    assert c.scales != [1.0, 1.0] and min(c.scales) < 0.5  # both plateaus reduced: not vacuous
    assert state[1].count == 60


def test_plateau_state_round_trips_through_a_checkpoint_of_the_optimizer_state():
    sched = lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5)
    tx = scale_by_learning_rate(sched, base_lr=1.0)
    state = tx.init(jnp.zeros(1))
    for value in (1.0, 1.0, 1.0):
        _, state = tx.update(jnp.ones(1), state, value=value)
    saved = jax.tree.map(np.asarray, state)  # what a checkpoint writes
    restored = jax.tree.map(jnp.asarray, saved)
    _, again = tx.update(jnp.ones(1), restored, value=1.0)
    assert float(again.learning_rate) == 0.125 and int(again.count) == 4


def test_scale_by_learning_rate_without_a_plateau_is_the_schedule():
    sched = lrkit.warmup(3) >> lrkit.cosine(7)
    tx = scale_by_learning_rate(sched, base_lr=0.1, flip_sign=False)
    state = tx.init(jnp.zeros(1))
    got = []
    for _ in range(10):
        updates, state = tx.update(jnp.ones(1), state)
        got.append(float(updates[0]))
    assert_f32_close(got, sched(np.arange(10)) * 0.1)


def test_scale_by_learning_rate_refuses_what_jit_cannot_do():
    with pytest.raises(ValueError, match=r"nan='raise', which cannot raise inside jax.jit; use nan='bad'"):
        scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(nan="raise"))
    with pytest.raises(ValueError, match="cannot be traced by jax, and a table cannot follow its plateau"):
        scale_by_learning_rate(lrkit.noise(lrkit.cosine(10)) * lrkit.plateau())
    with pytest.raises(ValueError, match="sched must be an lrkit schedule"):
        scale_by_learning_rate(0.1)


# -- hostile inputs (round 5 sweep): text as a metric, a numpy base_lr ----------------------------------------------
def test_a_text_metric_is_refused_not_parsed() -> None:
    from lrkit.optax import scale_by_learning_rate

    tx = scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5), base_lr=0.1)
    state = tx.init(jax.numpy.zeros(2))
    with pytest.raises(ValueError, match=r"scale_by_learning_rate: metric must be a number, got 'nan' \(a str\)"):
        tx.update(jax.numpy.ones(2), state, value="nan")


@pytest.mark.parametrize("base_lr", [np.float32(0.5), np.int64(1)])
def test_a_numpy_base_lr_is_a_number(base_lr: object) -> None:
    from lrkit.optax import scale_by_learning_rate, schedule

    assert float(schedule(lrkit.constant(1.0), base_lr)(3)) == float(base_lr)  # type: ignore[arg-type]
    tx = scale_by_learning_rate(lrkit.constant(1.0), base_lr=base_lr)  # type: ignore[arg-type]
    _, state = tx.update(jax.numpy.ones(2), tx.init(jax.numpy.zeros(2)))
    assert float(state.learning_rate) == float(base_lr)


def test_a_state_of_another_schedule_is_refused_not_read_with_clamped_indices() -> None:
    # jax clamps an index out of bounds: a 1-plateau state fed to 2 plateaus gave the second the first's counters
    from lrkit.optax import scale_by_learning_rate

    one = scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5), base_lr=0.1)
    two = scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(patience=0) * lrkit.plateau(patience=3), 0.1)
    plain = scale_by_learning_rate(lrkit.cosine(10), base_lr=0.1)
    g = jax.numpy.ones(2)
    for tx, state in [(one, two.init(g)), (two, one.init(g)), (one, plain.init(g)), (plain, one.init(g))]:
        with pytest.raises(ValueError, match=r"scale_by_learning_rate: state must be the ScheduleState .* plateau"):
            tx.update(g, state, value=1.0)
    with pytest.raises(ValueError, match=r"scale_by_learning_rate: state must be the ScheduleState"):
        one.update(g, optax.EmptyState(), value=1.0)
    # a checkpoint restored as a plain tuple (without its structure) is the same state
    state = one.init(g)
    same = jax.tree.map(
        lambda a, b: bool(np.array_equal(a, b, equal_nan=True)),
        one.update(g, tuple(state), value=1.0)[1],
        one.update(g, state, value=1.0)[1],
    )
    assert all(jax.tree.leaves(same))


# -- QA sweep (adapters): an unfed plateau, bad metrics, grad past a polynomial's end, a JSON-restored state ---------
def test_a_plateau_never_fed_warns_once_eager_at_the_50th_update() -> None:
    import warnings

    from lrkit.optax import scale_by_learning_rate

    tx = scale_by_learning_rate(lrkit.cosine(1000) * lrkit.plateau(patience=2), base_lr=1e-3)
    state = tx.init(jax.numpy.zeros(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(49):
            _, state = tx.update(jax.numpy.ones(3), state)  # value= forgotten
        assert not caught
        for _ in range(200):
            _, state = tx.update(jax.numpy.ones(3), state)
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert str(caught[0].message).startswith(
        "lrkit.optax.scale_by_learning_rate: the schedule's plateau(...) has been active for 50 updates and no metric "
        "has reached it"
    )
    assert "update(grads, state, params, value=val_loss)" in str(caught[0].message)
    # fed once (the first evaluation came before the 50th update): no warning
    tx = scale_by_learning_rate(lrkit.warmup(100) >> lrkit.constant(1.0) * lrkit.plateau(patience=2))
    state = tx.init(jax.numpy.zeros(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(149):  # the plateau is active from update 100: 49 unfed updates there
            _, state = tx.update(jax.numpy.ones(3), state)
        _, state = tx.update(jax.numpy.ones(3), state, value=1.0)
        for _ in range(100):
            _, state = tx.update(jax.numpy.ones(3), state)
    assert not caught


def test_a_plateau_never_fed_warns_once_when_jit_traces_the_update_without_value() -> None:
    import warnings

    from lrkit.optax import scale_by_learning_rate

    tx = scale_by_learning_rate(lrkit.cosine(1000) * lrkit.plateau(patience=2), base_lr=1e-3)
    state = tx.init(jax.numpy.zeros(3))
    step = jax.jit(lambda g, s: tx.update(g, s))
    with pytest.warns(UserWarning, match=r"update\(\) was traced without value= .* plateau") as caught:
        for _ in range(3):
            _, state = step(jax.numpy.ones(3), state)
        jax.jit(lambda g, s: tx.update(g * 2.0, s))(jax.numpy.ones(3), state)  # another trace: said once
    assert len(caught) == 1
    # traced with value= first: fed, no warning for the variant without it
    tx = scale_by_learning_rate(lrkit.cosine(1000) * lrkit.plateau(patience=2), base_lr=1e-3)
    state = tx.init(jax.numpy.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, state = jax.jit(lambda g, s, v: tx.update(g, s, value=v))(jax.numpy.ones(3), state, 1.0)
        _, state = jax.jit(lambda g, s: tx.update(g, s))(jax.numpy.ones(3), state)


@pytest.mark.parametrize(
    "metric, found",
    [
        (np.array([0.5]), r"an array of shape \(1,\)"),
        ([0.5, 0.4], r"an array of shape \(2,\)"),
        (1 + 2j, r"\(1\+2j\) \(a complex\)"),
        (object(), r"<object object at .*> \(a object\)"),
    ],
    ids=["array", "list", "complex", "object"],
)
def test_a_metric_that_is_no_real_scalar_is_refused_naming_value(metric, found) -> None:
    from lrkit.optax import scale_by_learning_rate

    tx = scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(patience=2), base_lr=0.1)
    state = tx.init(jax.numpy.zeros(2))
    with pytest.raises(
        ValueError,
        match=rf"^lrkit.optax.scale_by_learning_rate: value= must be one real number "
        rf"\(the metric\), got {found}; pass e.g. value=float\(val_loss\)$",
    ):
        tx.update(jax.numpy.ones(2), state, value=metric)


def test_grad_past_the_end_of_a_polynomial_with_power_below_1_is_zero_not_nan() -> None:
    sched = lrkit.polynomial(50, power=0.5)
    fn = schedule(sched)
    assert float(jax.grad(fn)(25.0)) == pytest.approx(-0.5 / 50 / math.sqrt(0.5), rel=1e-5)
    for t in (50.0, 60.0, 1000.0):
        assert float(jax.grad(fn)(t)) == 0.0
    ts = jnp.arange(0.0, 100.0, 10.0)
    assert np.isfinite(np.asarray(jax.grad(lambda t: fn(t).sum())(ts))).all()
    assert_f32_close(jax.vmap(fn)(ts), sched(np.arange(0, 100, 10)))  # the values are unchanged


def test_a_state_restored_from_json_lists_is_the_state() -> None:
    import json

    from lrkit.optax import ScheduleState, scale_by_learning_rate

    tx = scale_by_learning_rate(lrkit.constant(1.0) * lrkit.plateau(patience=0), base_lr=0.1)
    g = jnp.ones(2)
    _, state = tx.update(g, tx.init(jnp.zeros(2)), value=1.0)
    text = json.dumps({k: np.asarray(v).tolist() for k, v in state._asdict().items()})  # NaN written as NaN
    restored = ScheduleState(**json.loads(text))
    assert isinstance(restored.count, int) and isinstance(restored.best, list)
    got, expected = tx.update(g, restored, value=1.0)[1], tx.update(g, state, value=1.0)[1]
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    # a field of the wrong length or kind says which
    with pytest.raises(ValueError, match=r"state\.bad must hold 1 integer\(s\) \(one per plateau\), got \[0, 0\]"):
        tx.update(g, restored._replace(bad=[0, 0]), value=1.0)
    with pytest.raises(ValueError, match=r"state\.count must be an integer \(the update count\), got 'x'"):
        tx.update(g, restored._replace(count="x"), value=1.0)
