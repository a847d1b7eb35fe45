"""lrkit.keras: a Keras LearningRateSchedule from any lrkit schedule, checked by model.fit."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lrkit
from lrkit.compat import transformers as hf

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
from lrkit.keras import LearningRateSchedule  # noqa: E402

SCHEDULES = [
    lrkit.warmup(3) >> lrkit.cosine(9, floor=0.1),
    lrkit.step_decay(4, factor=0.5),
    hf.get_cosine_schedule_with_warmup(2, 8),  # a compat-only family (hf_cosine) in the config
]


class RecordLR(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps, self.lrs = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.steps.append(int(keras.ops.convert_to_numpy(optimizer.iterations.value)))
        self.lrs.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))


@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_model_fit_uses_the_schedule(sched):
    """A 1-weight linear model with SGD: each step moves the bias by lr * grad; the callback sees the lr."""
    keras.utils.set_random_seed(0)
    base = 0.05
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LearningRateSchedule(sched, base_lr=base)), loss="mae")
    x = np.zeros((24, 1), dtype="float32")
    y = np.full((24, 1), 100.0, dtype="float32")  # mae gradient of the bias is exactly -1 while pred < y
    record = RecordLR()
    biases = []

    class RecordBias(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            biases.append(float(keras.ops.convert_to_numpy(self.model.layers[0].bias.value)[0]))

    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[record, RecordBias()])
    steps = np.asarray(record.steps)
    assert steps.tolist() == list(range(12))
    expected = sched(steps) * base
    np.testing.assert_allclose(record.lrs, expected, rtol=1e-6, atol=1e-9)
    used = np.diff(np.concatenate([[0.0], biases]))
    np.testing.assert_allclose(used, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_config_round_trip(sched):
    lr = LearningRateSchedule(sched, base_lr=0.1)
    config = lr.get_config()
    assert config == {"schedule": sched.to_config(), "base_lr": 0.1}
    again = LearningRateSchedule.from_config(config)
    assert again.schedule == sched and again.base_lr == 0.1
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(lr))
    assert type(restored) is LearningRateSchedule and restored.schedule == sched
    steps = np.arange(15)
    np.testing.assert_allclose(np.asarray(restored(steps)), sched(steps) * 0.1, rtol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="schedule must be an lrkit schedule"):
        LearningRateSchedule(0.1)
    with pytest.raises(ValueError, match="base_lr must be a finite number >= 0"):
        LearningRateSchedule(lrkit.constant(), base_lr=float("nan"))
