"""Keras 3 adapter: any lrkit schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

Set the backend before Keras is imported (``os.environ.setdefault("KERAS_BACKEND", "jax")``),
then::

    import keras
    import lrkit as lk
    from lrkit.keras import LearningRateSchedule

    lr = LearningRateSchedule(lk.warmup(500) >> lk.cosine(10_000), base_lr=3e-4)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")

``lr(step) == base_lr * schedule(step)``, computed by the schedule's float64 closed form.
Under the jax backend (where Keras jit-compiles the train step) the value comes through
``jax.pure_callback``; under tensorflow through ``tf.numpy_function``; torch and numpy run
eagerly. ``get_config()`` stores the schedule's dict config, so models saved with
``model.save`` load back with the same schedule (the class is registered with Keras as
``lrkit>LearningRateSchedule``). Keras is imported on first use of ``LearningRateSchedule``,
not when this module is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit.schedule import Schedule

__all__ = ["LearningRateSchedule"]  # noqa: F822  (built on first access: see __getattr__)

_CLASS: Any = None


def _check(schedule: Any, base_lr: Any) -> tuple[Schedule, float]:
    if not isinstance(schedule, Schedule):
        raise ValueError(f"lrkit.keras.LearningRateSchedule: schedule must be an lrkit schedule, got {schedule!r}")
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not np.isfinite(base_lr) or base_lr < 0:
        raise ValueError(f"lrkit.keras.LearningRateSchedule: base_lr must be a finite number >= 0, got {base_lr!r}")
    return schedule, float(base_lr)


def _build() -> Any:
    import keras

    @keras.saving.register_keras_serializable(package="lrkit")
    class LearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """``base_lr * schedule(step)`` as a Keras learning-rate schedule (see the module docstring)."""

        def __init__(self, schedule: Schedule, base_lr: float = 1.0):
            super().__init__()
            self.schedule, self.base_lr = _check(schedule, base_lr)

        def _host(self, step: Any) -> np.ndarray:
            values = self.schedule(np.asarray(step, dtype=np.float64)) * self.base_lr
            return np.asarray(values, dtype=np.float32)

        def __call__(self, step: Any) -> Any:
            backend = keras.backend.backend()
            if backend == "jax":
                import jax
                import jax.numpy as jnp

                step = jnp.asarray(step)
                shape = jax.ShapeDtypeStruct(step.shape, jnp.float32)
                return jax.pure_callback(self._host, shape, step, vmap_method="expand_dims")
            if backend == "tensorflow":  # pragma: no cover - tensorflow is not installed in CI
                import tensorflow as tf

                step = tf.convert_to_tensor(step)
                value = tf.numpy_function(self._host, [step], tf.float32)
                value.set_shape(step.shape)
                return value
            return keras.ops.convert_to_tensor(self._host(keras.ops.convert_to_numpy(step)), dtype="float32")

        def get_config(self) -> dict[str, Any]:
            return {"schedule": self.schedule.to_config(), "base_lr": self.base_lr}

        @classmethod
        def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
            from lrkit.compat import register_all
            from lrkit.config import from_config

            register_all()  # compat-only names (e.g. hf_cosine) may appear in the config
            return cls(from_config(config["schedule"]), config.get("base_lr", 1.0))

    return LearningRateSchedule


def __getattr__(name: str) -> Any:
    global _CLASS
    if name == "LearningRateSchedule":
        if _CLASS is None:
            _CLASS = _build()
        return _CLASS
    raise AttributeError(f"module 'lrkit.keras' has no attribute {name!r}")
