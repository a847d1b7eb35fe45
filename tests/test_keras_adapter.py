"""lrkit.keras: a Keras LearningRateSchedule from any lrkit schedule, checked by model.fit.

Values come from keras.ops in float32: within 1e-6 of the schedule's largest value. A saved
.keras model loads in a fresh process (each installed backend) after ``import lrkit.keras``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import lrkit
from lrkit.compat import transformers as hf

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
from lrkit.keras import LearningRateSchedule  # noqa: E402

SCHEDULES = [  # (schedule, table)
    (lrkit.warmup(3) >> lrkit.cosine(9, floor=0.1), False),
    (lrkit.step_decay(4, factor=0.5), False),
    (lrkit.step_decay(4, factor=0.5), 30),
    (hf.get_cosine_schedule_with_warmup(2, 8), 40),  # a compat-only family (hf_cosine), infinite, not traceable
    (lrkit.noise(lrkit.cosine(10), std=0.2, seed=1), False),  # not traceable, finite: tabulated over its length
]
IDS = [f"{s!r}, table={t}" for s, t in SCHEDULES]
BACKENDS = [b for b in ("jax", "torch", "tensorflow") if importlib.util.find_spec(b) is not None]


def assert_f32_close(got, expected):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6 * max(np.abs(expected).max(), 1e-30))


class RecordLR(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps, self.lrs = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.steps.append(int(keras.ops.convert_to_numpy(optimizer.iterations.value)))
        self.lrs.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))


def tiny_model(sched, base, table=False):
    """A 1-weight linear model with SGD on mae: each step moves the bias by exactly the lr (grad -1)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    lr = LearningRateSchedule(sched, base_lr=base, table=table)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mae")
    return model


DATA = np.zeros((24, 1), dtype="float32"), np.full((24, 1), 100.0, dtype="float32")


@pytest.mark.parametrize(("sched", "table"), SCHEDULES, ids=IDS)
def test_model_fit_uses_the_schedule(sched, table):
    keras.utils.set_random_seed(0)
    base = 0.05
    model = tiny_model(sched, base, table)
    record = RecordLR()
    biases = []

    class RecordBias(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            biases.append(float(keras.ops.convert_to_numpy(self.model.layers[0].bias.value)[0]))

    model.fit(*DATA, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[record, RecordBias()])
    steps = np.asarray(record.steps)
    assert steps.tolist() == list(range(12))
    expected = sched(steps) * base
    assert_f32_close(record.lrs, expected)
    used = np.diff(np.concatenate([[0.0], biases]))
    np.testing.assert_allclose(used, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="inspects a jaxpr")
def test_no_host_callback_under_jax():
    import jax

    for sched, table in SCHEDULES:
        lr = LearningRateSchedule(sched, 0.1, table=table)
        assert "callback" not in str(jax.make_jaxpr(lr)(jax.numpy.asarray(3)))


@pytest.mark.parametrize(("sched", "table"), SCHEDULES, ids=IDS)
def test_config_round_trip(sched, table):
    lr = LearningRateSchedule(sched, base_lr=0.1, table=table)
    config = lr.get_config()
    assert config == {"schedule": sched.to_config(), "base_lr": 0.1, "table": table}
    again = LearningRateSchedule.from_config(config)
    assert again.schedule == sched and again.base_lr == 0.1 and again.table == table
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(lr))
    assert type(restored) is LearningRateSchedule and restored.schedule == sched
    steps = np.arange(15)
    assert_f32_close(keras.ops.convert_to_numpy(restored(steps)), sched(steps) * 0.1)


FRESH = """
import json, sys
import numpy as np, keras
import lrkit.keras
model = keras.models.load_model(sys.argv[1])
if keras.backend.backend() == "torch":
    model.jit_compile = False  # torch.compile of a 4-update fit costs ~40 s on 2 cores; the values are the same
lr = model.optimizer._learning_rate
steps = []
class Record(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        opt = self.model.optimizer
        steps.append([int(keras.ops.convert_to_numpy(opt.iterations.value)),
                      float(keras.ops.convert_to_numpy(opt.learning_rate))])
model.fit(np.zeros((8, 1), "float32"), np.full((8, 1), 100.0, "float32"), batch_size=2, verbose=0,
          shuffle=False, callbacks=[Record()])
print(json.dumps({"type": type(lr).__module__ + "." + type(lr).__name__, "schedule": repr(lr.schedule),
                  "base_lr": lr.base_lr, "backend": keras.backend.backend(), "used": steps}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_model_loads_in_a_fresh_process(tmp_path, backend):
    """issue 12: the class is defined (and registered) when lrkit.keras is imported, so load_model finds it."""
    sched = lrkit.warmup(3) >> lrkit.cosine(12, floor=0.1)
    model = tiny_model(sched, 0.05)
    model.fit(*DATA, batch_size=2, epochs=1, shuffle=False, verbose=0)  # 12 updates
    path = tmp_path / "model.keras"
    model.save(path)
    env = {**os.environ, "KERAS_BACKEND": backend}
    run = subprocess.run([sys.executable, "-c", FRESH, str(path)], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["type"] == "lrkit.keras.LearningRateSchedule" and got["backend"] == backend
    assert lrkit.from_config(got["schedule"]) == sched and got["base_lr"] == 0.05
    steps, lrs = zip(*got["used"])
    assert list(steps) == [12, 13, 14, 15]  # the optimizer's step count came back too
    assert_f32_close(lrs, sched(np.asarray(steps)) * 0.05)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="schedule must be an lrkit schedule"):
        LearningRateSchedule(0.1)
    with pytest.raises(ValueError, match="base_lr must be a finite number >= 0"):
        LearningRateSchedule(lrkit.constant(), base_lr=float("nan"))
    with pytest.raises(ValueError, match=r"cannot be traced by keras.ops and is infinite; give table=<last step>"):
        LearningRateSchedule(lrkit.noise(lrkit.step_decay(3)))
    with pytest.raises(ValueError, match="table=True needs a finite schedule"):
        LearningRateSchedule(lrkit.step_decay(3), table=True)
    with pytest.raises(ValueError, match="table must be True, False or a step count"):
        LearningRateSchedule(lrkit.step_decay(3), table=-2)


def test_without_keras_the_import_error_names_the_extra():
    code = "import sys; sys.modules['keras'] = None\ntry:\n import lrkit.keras\nexcept ImportError as e:\n print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'lrkit[keras]'" in out


# -- integers beyond int32 (issue 25) -------------------------------------------------------------------------------
def test_with_giant_int_steps():
    """optax's test_with_giant_int_steps, in Keras: decay_steps=int(1e10) does not fit int32."""
    from lrkit.compat import keras as ck

    lr = LearningRateSchedule(ck.CosineDecay(1000.0, int(1e10)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lr(int(1e9))), 975.52826, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lr(keras.ops.convert_to_tensor(int(1e9)))), 975.52826)
    sched = lrkit.warmup(3 * 10**9) >> lrkit.cosine(2**40)
    lr = LearningRateSchedule(sched, base_lr=2.0)
    steps = [10**9, 3 * 10**9, 2**39, 2**40, 4 * 2**40]
    got = [keras.ops.convert_to_numpy(lr(step)) for step in steps]  # Python ints beyond int32
    assert_f32_close(got, sched(np.asarray(steps, dtype=np.float64)) * 2.0)


# -- plateaus: PlateauCallback feeds them, the saved model keeps their state ----------------------------------------
from lrkit.keras import PlateauCallback  # noqa: E402

X = np.linspace(0.0, 1.0, 16, dtype="float32").reshape(-1, 1)
Y = 3.0 * X
# the validation input is 0 and the model has no bias: val_loss is the same every epoch, whatever the weights
VAL = np.zeros((4, 1), "float32"), np.full((4, 1), 2.0, "float32")


def plateau_model(sched, base=0.05):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LearningRateSchedule(sched, base)), loss="mse")
    return model


def fit(model, epochs, initial_epoch=0, val=VAL):
    record = RecordLR()
    history = model.fit(
        X, Y, validation_data=val, batch_size=4, epochs=epochs, initial_epoch=initial_epoch, shuffle=False,
        verbose=0, callbacks=[PlateauCallback("val_loss"), record],
    )
    return history.history["val_loss"], record


def test_an_unfed_plateau_refuses_to_run_and_names_the_callback():
    model = plateau_model(lrkit.constant(1.0) * lrkit.plateau())
    with pytest.raises(ValueError, match=r"has a plateau that nothing feeds; pass callbacks=\[lrkit.keras.Plateau"):
        model.fit(X, Y, epochs=1, verbose=0)


def test_fit_reduces_where_the_controller_does():
    """A changing val_loss (the real one of a training run), three plateau placements, the Controller's rule."""
    sched = (lrkit.warmup(6) >> lrkit.constant(1.0, 30) * lrkit.plateau(patience=1, factor=0.5)) * lrkit.plateau(
        patience=2, factor=0.2, threshold=0.05, rule="keras"
    )
    keras.utils.set_random_seed(0)
    model = plateau_model(sched)
    val = X[:4], np.full((4, 1), 9.0, "float32")  # a target the model never reaches: the loss stalls
    losses, record = fit(model, 12, val=val)
    c = lrkit.Controller(sched)
    expected = []
    for epoch in range(12):  # 4 updates per epoch; epoch e's metric is observed at update 4 (e + 1)
        steps = range(4 * epoch, 4 * epoch + 4)
        expected += [0.05 * c.resolve()(s) for s in steps]
        c.observe(losses[epoch], 4 * (epoch + 1))
    assert record.steps == list(range(48))
    assert_f32_close(record.lrs, expected)
    assert min(c.scales) < 1.0  # a reduction happened: not vacuous
    assert model.optimizer._learning_rate.controller.state_dict() == c.state_dict()


def test_saved_model_keeps_the_plateau_state(tmp_path):
    """model.save / keras.models.load_model mid-patience: the resumed run equals the uninterrupted one."""
    sched = lrkit.constant(1.0) * lrkit.plateau(patience=2, factor=0.5, cooldown=1)
    whole = plateau_model(sched)
    _, full = fit(whole, 7)
    first = plateau_model(sched)
    fit(first, 4)
    state = first.optimizer._learning_rate.controller.state_dict()
    assert state["plateaus"][0]["bad"] > 0 or state["plateaus"][0]["cooldown"] > 0  # mid-patience: state matters
    first.save(tmp_path / "model.keras")
    again = keras.models.load_model(tmp_path / "model.keras")
    restored = again.optimizer._learning_rate
    assert type(restored) is LearningRateSchedule and restored.controller.state_dict() == state
    _, rest = fit(again, 7, initial_epoch=4)
    assert rest.steps == full.steps[16:]
    assert_f32_close(rest.lrs, full.lrs[16:])
    assert full.lrs[-1] < full.lrs[0]  # reductions happened


def test_plateau_callback_errors_are_one_line():
    model = tiny_model(lrkit.cosine(10), 0.1)
    with pytest.raises(ValueError, match=r"must be an lrkit.keras.LearningRateSchedule with a plateau"):
        model.fit(*DATA, epochs=1, verbose=0, callbacks=[PlateauCallback()])
    model = plateau_model(lrkit.constant(1.0) * lrkit.plateau())
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in the epoch's logs \(it has \['loss'\]\)"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[PlateauCallback()])


# -- hostile inputs (round 5 sweep) ---------------------------------------------------------------------------------
def test_from_config_without_a_schedule_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"from_config: config must be a dict with the key 'schedule'"):
        LearningRateSchedule.from_config({"base_lr": 0.1})


def test_observe_refuses_a_text_metric_and_takes_a_numpy_base_lr() -> None:
    lr = LearningRateSchedule(lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5), base_lr=np.float32(0.5))
    assert lr.base_lr == 0.5 and type(lr.base_lr) is float
    with pytest.raises(ValueError, match=r"metric must be a number, got '1.0' \(a str\)"):
        lr.observe("1.0", 0)  # type: ignore[arg-type]
    assert lr.controller is not None and lr.controller.states[0].calls == 0


def test_from_config_names_the_plateau_state_key_it_refuses() -> None:
    schedule = lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5)
    config = LearningRateSchedule(schedule, base_lr=0.1).get_config()
    config["plateau_state"]["plateaus"][0]["scale"] = 2.0
    with pytest.raises(
        ValueError, match=r"LearningRateSchedule.from_config: state\['plateau_state.plateaus\[0\].scale'\] must be"
    ):
        LearningRateSchedule.from_config(config)


def test_a_plateau_at_its_floor_is_saved_and_loaded() -> None:
    # Keras' rule counts on at the floor (past patience): from_config refused the config get_config wrote, so the
    # model's .keras file no longer loaded
    from lrkit.compat.keras import ReduceLROnPlateau

    lr = LearningRateSchedule(ReduceLROnPlateau(1.0, factor=0.5, patience=1, min_lr=0.25), base_lr=1.0)
    for step in range(10):
        lr.observe(1.0 + step, step)  # worse every epoch: down to the floor, then counting on
    again = LearningRateSchedule.from_config(json.loads(json.dumps(lr.get_config())))
    assert again.get_config() == lr.get_config() and again.controller.scales == [0.25]


# -- round 9 sweep: PlateauCallback in the ways Keras runs a fit ----------------------------------------------------
FLAT = lrkit.constant(1.0) * lrkit.plateau(patience=0, factor=0.5, threshold=1e9, threshold_mode="abs")  # halves


def test_plateau_callback_feeds_the_schedule_under_mixed_float16() -> None:
    # Keras wraps the optimizer in a LossScaleOptimizer; the callback read the wrapper's learning rate and refused
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = plateau_model(FLAT)
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        fit(model, 2)
    finally:
        keras.mixed_precision.set_global_policy(before)
    lr = model.optimizer.inner_optimizer._learning_rate
    assert lr.controller.states[0].calls == 2 and lr.controller.scales == [0.5]


def test_validation_freq_feeds_the_epochs_that_validated() -> None:
    # fit(validation_freq=2): the epochs without validation have no val_loss; the callback crashed at the first
    model = plateau_model(FLAT)
    record = RecordLR()
    callbacks = [PlateauCallback("val_loss"), record]
    model.fit(X, Y, validation_data=VAL, validation_freq=2, batch_size=4, epochs=6, verbose=0, callbacks=callbacks)
    assert model.optimizer._learning_rate.controller.states[0].calls == 3  # epochs 2, 4 and 6
    assert_f32_close(record.lrs, [0.05] * 16 + [0.025] * 8)  # observed at updates 8 (a first best), 16, 24
    with pytest.raises(ValueError, match=r"monitor 'val_lossx' is not in the epoch's logs \(it has \['loss', 'val"):
        model.fit(X, Y, validation_data=VAL, epochs=1, verbose=0, callbacks=[PlateauCallback("val_lossx")])


def test_a_second_fit_without_the_callback_is_refused() -> None:
    model = plateau_model(FLAT)
    fit(model, 1)
    with pytest.raises(ValueError, match=r"has a plateau that nothing feeds; pass callbacks=\[lrkit.keras.Plateau"):
        model.fit(X, Y, validation_data=VAL, batch_size=4, epochs=2, verbose=0)


def test_a_reused_schedule_continues_on_its_model_and_starts_fresh_on_a_new_one() -> None:
    model = plateau_model(FLAT)
    lr = model.optimizer._learning_rate
    fit(model, 3)  # observed at updates 4, 8, 12: halved twice
    _, again = fit(model, 5, initial_epoch=3)  # the same model resumes training: the plateau goes on
    assert_f32_close(again.lrs[:1], [0.0125])
    fresh = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    fresh.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")  # one schedule, a second model
    _, first = fit(fresh, 2)
    assert first.steps == list(range(8))
    assert_f32_close(first.lrs, [0.05] * 8)  # its own start, as Keras' ReduceLROnPlateau gives a new model
    assert lr.controller.states[0].calls == 2
    with pytest.raises(ValueError, match=r"is that of another optimizer .* build one LearningRateSchedule per model"):
        fit(model, 6, initial_epoch=5)  # the first model again: its plateau state was given up to the second
    with pytest.raises(ValueError, match="has a plateau that nothing feeds"):  # the refused fit fed nothing
        model.fit(X, Y, batch_size=4, epochs=1, verbose=0)


def test_the_rate_reads_outside_fit_and_a_custom_loop_may_feed_it(tmp_path) -> None:
    model = plateau_model(FLAT)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)  # before fit: raised 'nothing feeds'
    fit(model, 2)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.025)
    # a custom loop that feeds the plateau through observe(), before and after its first update
    lr = LearningRateSchedule(FLAT, base_lr=0.5)
    opt = keras.optimizers.SGD(learning_rate=lr)
    w = keras.Variable(np.zeros(1, "float32"))
    opt.build([w])
    for _ in range(3):
        opt.apply([keras.ops.ones(1)], [w])
        lr.observe(1.0, int(opt.iterations))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(w), [-(0.5 + 0.5 + 0.25)])


def test_a_weights_only_resume_warns_that_the_plateau_restarts(tmp_path) -> None:
    model = plateau_model(FLAT)
    fit(model, 2)  # reduced once
    model.save_weights(tmp_path / "w.weights.h5")
    again = plateau_model(FLAT)
    again.optimizer.build(again.trainable_variables)
    again.load_weights(tmp_path / "w.weights.h5")
    assert int(again.optimizer.iterations) == 8
    with pytest.warns(UserWarning, match=r"plateau has seen no metric though the optimizer is at update 8"):
        fit(again, 3, initial_epoch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(again, 4, initial_epoch=3)  # once per schedule; and a fed plateau continues without a warning
        fit(model, 3, initial_epoch=2)
