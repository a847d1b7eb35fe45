"""The peers' own test cases, ported: the expected values are the peers' (their test suites), run on lrkit.compat.

Each test names its origin. Where the real peer is installed (torch, optax, Keras, timm) the same
case also runs on it, so an expected value cannot drift from the peer. fastai is not installable
next to the CPU torch (it requires torchvision), so its notebook's values are used as written.
Behaviours lrkit keeps different on purpose are in docs/migration.md, one row each; the cases here
that pin one say so.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import lrkit as lk
from _peers import rel_diff, timm_scheduler
from lrkit.compat import fastai as cf
from lrkit.compat import keras as ck
from lrkit.compat import optax as co
from lrkit.compat import timm as tt
from lrkit.compat import torch as ct
from lrkit.compat import transformers as hf

os.environ.setdefault("KERAS_BACKEND", "jax")
torch = pytest.importorskip("torch")


# -- PyTorch: test/optim/test_lrscheduler.py ------------------------------------------------------------------------
def torch_opt():
    """test_lrscheduler's setUp: two groups, lr 0.05 and 0.5."""
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{"params": [p1]}, {"params": [p2], "lr": 0.5}], lr=0.05)


def test_cos_anneal_lr_continue():
    """eta_min=0.1 is above group 0's lr 0.05: torch anneals that group *up* to eta_min."""
    opt = torch_opt()
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    opt.step()
    scheduler.step()
    original = scheduler._last_lr
    restarted = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.1, last_epoch=0)._last_lr
    torch.testing.assert_close(original, restarted, rtol=1e-4, atol=1e-5)  # the peer's own assertion
    ours = [ct.CosineAnnealingLR(lr, T_max=5, eta_min=0.1)(1) for lr in (0.05, 0.5)]
    torch.testing.assert_close(ours, [float(x) for x in original], rtol=1e-12, atol=0)


def test_cos_anneal_lr_with_eta_min_above_lr_follows_torch_for_whole_periods():
    opt = torch_opt()
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    got = {0: [], 1: []}
    for _ in range(23):
        for g, group in enumerate(opt.param_groups):
            got[g].append(float(group["lr"]))
        opt.step()
        scheduler.step()
    for g, lr in enumerate((0.05, 0.5)):
        assert rel_diff(ct.CosineAnnealingLR(lr, T_max=5, eta_min=0.1)(np.arange(23)), got[g]) < 1e-9
    assert max(got[0]) == pytest.approx(0.1) and got[0][5] > got[0][0]  # upwards, and back down


def test_cos_anneal_lr():
    epochs, eta_min = 10, 1e-10
    targets = [eta_min + (0.05 - eta_min) * (1 + math.cos(math.pi * x / epochs)) / 2 for x in range(epochs)]
    assert rel_diff(ct.CosineAnnealingLR(0.05, T_max=epochs, eta_min=eta_min)(np.arange(epochs)), targets) < 1e-12


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda opt: ct.StepLR(opt, 30), "StepLR: lr is an optimizer (SGD)"),
        (lambda opt: ct.CosineAnnealingLR(opt, T_max=5), "CosineAnnealingLR: lr is an optimizer (SGD)"),
        (lambda opt: hf.get_scheduler("linear", opt, 10, 100), "get_scheduler: num_warmup_steps is an optimizer (SGD)"),
        (lambda opt: tt.CosineLRScheduler(opt, t_initial=100), "CosineLRScheduler: lr is an optimizer (SGD)"),
    ],
)
def test_an_optimizer_from_torch_habit_gets_one_line_naming_the_lrkit_way(call, name):
    with pytest.raises(ValueError) as info:
        call(torch_opt())
    message = str(info.value)
    assert message.startswith(name) and "\n" not in message and "lrkit.torch.Scheduler(opt, " in message
    assert "param_groups" not in message and "Parameter Group" not in message  # not the optimizer's repr


# -- optax: optax/schedules/_schedule_test.py ------------------------------------------------------------------------
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")


def optax_values(fn, steps):
    return np.asarray([float(fn(jax.numpy.asarray(t))) for t in steps])


@pytest.mark.parametrize(("staircase", "transition_begin"), [(False, 0), (True, 0), (False, 5), (True, 5)])
def test_exponential(staircase, transition_begin):
    """ExponentialTest.test_exponential: decay_rate=2.0 *grows* (optax does not refuse it)."""
    init_value, num_steps, transition_steps, decay_rate = 1.0, 15, 2, 2.0
    kw = dict(init_value=init_value, transition_steps=transition_steps, decay_rate=decay_rate,
              transition_begin=transition_begin, staircase=staircase)

    def staircased(count):
        p = count / transition_steps
        return np.floor(p) if staircase else p

    expected = np.array(
        [init_value] * transition_begin
        + [init_value * np.power(decay_rate, staircased(count)) for count in range(num_steps)],
        dtype=np.float32,
    )
    steps = np.arange(num_steps + transition_begin)
    ours = co.exponential_decay(**kw)(steps)
    np.testing.assert_allclose(expected, ours, atol=1e-3)  # the peer's own tolerance
    np.testing.assert_allclose(ours, optax_values(jax.jit(optax.exponential_decay(**kw)), steps), rtol=1e-6)


@pytest.mark.parametrize(
    ("decay_rate", "end_value", "staircase"),
    [(0.2, 0.1, False), (1.0, 0.1, False), (2.0, 3.0, False), (0.2, 0.1, True), (1.0, 0.1, True), (2.0, 3.0, True)],
)
def test_end_value_with_staircase(decay_rate, end_value, staircase):
    init_value, num_steps, transition_steps, transition_begin = 1.0, 11, 2, 3
    kw = dict(init_value=init_value, transition_steps=transition_steps, decay_rate=decay_rate,
              transition_begin=transition_begin, staircase=staircase, end_value=end_value)

    def staircased(count):
        p = count / transition_steps
        return np.floor(p) if staircase else p

    expected = np.array(
        [init_value] * transition_begin
        + [init_value * np.power(decay_rate, staircased(count)) for count in range(num_steps)],
        dtype=np.float32,
    )
    expected = np.maximum(expected, end_value) if decay_rate < 1.0 else np.minimum(expected, end_value)
    steps = np.arange(num_steps + transition_begin)
    ours = co.exponential_decay(**kw)(steps)
    np.testing.assert_allclose(expected, ours, atol=1e-3)
    np.testing.assert_allclose(ours, optax_values(jax.jit(optax.exponential_decay(**kw)), steps), rtol=1e-6)


# -- optax: optax/contrib/_reduce_on_plateau_test.py -----------------------------------------------------------------
PATIENCE = COOLDOWN = 5
ROP = dict(factor=0.1, patience=PATIENCE, rtol=1e-4, atol=0.0, cooldown=COOLDOWN, accumulation_size=1, min_scale=0.01)


def run_rop(values, enable_x64, start=None):
    """Our reduce_on_plateau through lrkit.optax.scale_by_learning_rate (jit), from optax's test state."""
    from lrkit.optax import scale_by_learning_rate

    tx = scale_by_learning_rate(co.reduce_on_plateau(**ROP), flip_sign=False)
    with jax.enable_x64(enable_x64):
        dtype = jax.numpy.result_type(float)
        state = tx.init(jax.numpy.asarray(1.0))
        if start is not None:  # optax's (best_value, plateau_count, scale, cooldown_count)
            best, count, scale, cooldown = start
            state = state._replace(
                best=jax.numpy.full(1, best, dtype), bad=jax.numpy.full(1, count, jax.numpy.int32),
                scale=jax.numpy.full(1, scale, dtype), cooldown=jax.numpy.full(1, cooldown, jax.numpy.int32),
            )
        update = jax.jit(lambda s, v: tx.update({"params": jax.numpy.asarray(1.0)}, s, value=v))
        for value in values:
            updates, state = update(state, value)
        return updates, state


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_reduced_after_cooldown_period_is_over(enable_x64):
    updates, state = run_rop([1.0] * (PATIENCE + 1), enable_x64)
    np.testing.assert_allclose(state.scale, [0.1], rtol=1e-6)
    np.testing.assert_allclose(state.best, [1.0])
    assert state.bad.tolist() == [0] and state.cooldown.tolist() == [COOLDOWN]
    np.testing.assert_allclose(updates["params"], 0.1, rtol=1e-6)
    _, state = run_rop([1.0] * (PATIENCE + 2), enable_x64)
    np.testing.assert_allclose(state.scale, [0.1], rtol=1e-6)
    assert state.bad.tolist() == [0] and state.cooldown.tolist() == [COOLDOWN - 1]


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_is_not_reduced(enable_x64):
    _, state = run_rop([0.1], enable_x64, start=(1.0, 3, 0.1, 0))
    assert state.bad.tolist() == [0]
    np.testing.assert_allclose(state.scale, [0.1], rtol=1e-6)
    np.testing.assert_allclose(state.best, [0.1], rtol=1e-6)


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_not_reduced_during_cooldown(enable_x64):
    _, state = run_rop([2.0], enable_x64, start=(1.0, 0, 0.1, 3))
    np.testing.assert_allclose(state.scale, [0.1], rtol=1e-6)
    np.testing.assert_allclose(state.best, [1.0])
    assert state.bad.tolist() == [0] and state.cooldown.tolist() == [2]


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_not_reduced_after_end_scale_is_reached(enable_x64):
    updates, state = run_rop([0.1] * (PATIENCE + 1), enable_x64, start=(1.0, 0, 0.01, 0))
    np.testing.assert_allclose(state.scale, [0.01], rtol=1e-6)
    np.testing.assert_allclose(state.best, [0.1], rtol=1e-6)
    assert state.bad.tolist() == [0] and state.cooldown.tolist() == [COOLDOWN]
    np.testing.assert_allclose(updates["params"], 0.01, rtol=1e-6)


# -- Keras: keras/src/callbacks/reduce_lr_on_plateau_test.py ---------------------------------------------------------
keras = pytest.importorskip("keras")


def keras_setup(**kw):
    """The peer's setUp (Dense(5) -> Dense(2), mse, Adam(0.1), 10 samples of 3 features, 2 classes),
    with the learning rate an lrkit schedule fed by PlateauCallback."""
    from lrkit.keras import LearningRateSchedule

    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 3)).astype("float32")
    y_train = np.eye(2, dtype="float32")[rng.integers(0, 2, 10)]
    y_test = np.eye(2, dtype="float32")[rng.integers(0, 2, 10)]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.Dense(2)])
    lr = LearningRateSchedule(ck.ReduceLROnPlateau(0.1, monitor="val_loss", **kw))
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(lr))
    return model, (x_train, y_train), (x_test, y_test)


def keras_fit(epochs, **kw):
    from lrkit.keras import PlateauCallback

    model, train, test = keras_setup(**kw)
    model.fit(*train, validation_data=test, callbacks=[PlateauCallback("val_loss")], epochs=epochs, verbose=0)
    return model, train, test


def test_reduces_lr_with_model_fit():
    model, _, _ = keras_fit(2, patience=1, factor=0.1, min_delta=100)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_honors_min_lr():
    model, _, _ = keras_fit(4, patience=1, factor=0.1, min_delta=10, min_lr=0.005)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.005)


def test_cooldown():
    """With a cooldown of 2 epochs the lr is reduced every other epoch: twice in 4 epochs."""
    model, _, _ = keras_fit(4, patience=1, factor=0.1, min_delta=100, cooldown=2)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_state_is_kept_across_fit_calls_on_purpose():
    """Keras' test_state_reset_across_fit_calls: its callback forgets best/wait/cooldown on each fit().
    lrkit keeps them (they are the schedule's, saved with the model), so a second fit() continues the
    same plateau: docs/migration.md, Keras row 'state across fit() calls'."""
    from lrkit.keras import PlateauCallback

    model, train, test = keras_fit(2, patience=1, factor=0.1, min_delta=100, cooldown=2)
    state = model.optimizer._learning_rate.controller.states[0]
    assert state.cooldown == 2 and state.best is not None
    model.fit(*train, validation_data=test, callbacks=[PlateauCallback("val_loss")], epochs=1, verbose=0)
    assert model.optimizer._learning_rate.controller.states[0].cooldown == 1  # continued, not reset


# -- timm: tests/test_scheduler.py ----------------------------------------------------------------------------------
def test_get_cycle_length():
    assert tt.CosineLRScheduler(0.1, t_initial=100).length == 100
    assert tt.CosineLRScheduler(0.1, t_initial=100, warmup_t=10, warmup_prefix=True).length == 110


@pytest.mark.parametrize(
    "kw",
    [
        dict(t_initial=100), dict(t_initial=100, warmup_t=10, warmup_prefix=True), dict(t_initial=100, warmup_t=10),
        dict(t_initial=30, cycle_limit=3), dict(t_initial=10, cycle_mul=2.0, cycle_limit=3, warmup_t=4,
                                                 warmup_prefix=True),
        dict(t_initial=7, cycle_mul=1.5, cycle_limit=2),
    ],
)
def test_length_is_timms_cycle_length(kw):
    """The compat length is where timm's cycles end; timm's get_cycle_length() floors it."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for name, cls, ours in [
        ("cosine_lr", "CosineLRScheduler", tt.CosineLRScheduler),
        ("poly_lr", "PolyLRScheduler", tt.PolyLRScheduler),
    ]:
        peer = getattr(timm_scheduler(name), cls)(opt, **kw)
        schedule = ours(0.1, **kw)
        assert math.floor(schedule.length) == peer.get_cycle_length()
        # and the value holds lr_min from there on, as timm's does
        steps = np.arange(math.ceil(schedule.length), math.ceil(schedule.length) + 20)
        assert schedule(steps).tolist() == [schedule.final] * 20


# -- fastai: nbs/14_callback.schedule.ipynb -------------------------------------------------------------------------
POS = [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("sched", "expected"),
    [
        (cf.SchedLin(0, 2), [0.0, 0.5, 1.0, 1.5, 2.0]),
        (cf.SchedCos(0, 2), [0.0, 0.29289, 1.0, 1.70711, 2.0]),
        (cf.SchedNo(0, 2), [0.0, 0.0, 0.0, 0.0, 0.0]),
        (cf.SchedExp(1, 2), [1.0, 1.18921, 1.41421, 1.68179, 2.0]),
        (cf.SchedPoly(0, 2, 2), [0.0, 0.125, 0.5, 1.125, 2.0]),
    ],
    ids=["SchedLin", "SchedCos", "SchedNo", "SchedExp", "SchedPoly"],
)
def test_annealers(sched, expected):
    np.testing.assert_allclose([sched(p) for p in POS], expected, atol=1e-5)  # fastai's test_close


def test_combine_scheds():
    f = cf.combine_scheds([0.3, 0.2, 0.5], [cf.SchedLin(0.0, 1.0), cf.SchedNo(1.0, 1.0), cf.SchedCos(1.0, 0.0)])
    got = [f(p) for p in (0.0, 0.15, 0.3, 0.4, 0.5, 0.7, 1.0)]
    np.testing.assert_allclose(got, [0.0, 0.5, 1.0, 1.0, 1.0, 0.65451, 0.0], atol=1e-5)


def test_sched_poly_is_not_lrkits_polynomial_and_round_trips():
    s = cf.SchedPoly(2.0, 0.0, 0.5)
    assert s(0.25) == pytest.approx(2.0 - 2.0 * 0.25**0.5)
    assert s(0.25) != pytest.approx(lk.polynomial(1, power=0.5, start=2.0, end=0.0)(0.25))  # (1 - p) ** power
    assert lk.from_config(repr(s)) == s and lk.from_config(s.to_config()) == s
    run = lk.stretch(s, 1000)  # a fastai position schedule over a 1000-update run
    assert run(250) == s(0.25) and run.length == 1000
