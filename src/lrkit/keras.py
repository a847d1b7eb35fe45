"""Keras 3 adapter: any lrkit schedule as a ``keras.optimizers.schedules.LearningRateSchedule``.

Importing this module imports Keras (set ``KERAS_BACKEND`` first, as for Keras itself) and
registers the class with Keras as ``lrkit>LearningRateSchedule``, so after ``import lrkit.keras``
a model saved with ``model.save`` loads back, in any process, with the same schedule::

    import keras
    import lrkit as lk
    from lrkit.keras import LearningRateSchedule

    lr = LearningRateSchedule(lk.warmup(500) >> lk.cosine(10_000), base_lr=3e-4)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")

``lr(step) == base_lr * schedule(step)``, computed by ``keras.ops`` (:func:`lrkit.core.backend.keras_namespace`)
on every backend, in Keras's ``floatx`` (within 1e-6 of the schedule's largest value in float32).
``table=True`` (finite schedules) or ``table=n`` tabulates the float64 values at steps ``0..n`` once
(later steps hold the last value) and indexes them with ``keras.ops.take``; schedules that cannot
be traced (``noise``, the peers' float32 quirk families) are tabulated over their length, and an
infinite one needs ``table=n``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit.core.backend import keras_namespace
from lrkit.core.config import from_config
from lrkit.core.schedule import Schedule

try:
    import keras
except ImportError as err:  # keras missing, or its backend (tensorflow by default) missing
    raise ImportError(
        f"lrkit.keras needs Keras 3 and a backend (KERAS_BACKEND=jax, torch or tensorflow): "
        f"pip install 'lrkit[keras]' (importing keras failed: {err})"
    ) from err

__all__ = ["LearningRateSchedule"]

_FIX = "give table=<last step> (later steps hold its value)"


@keras.saving.register_keras_serializable(package="lrkit")
class LearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``base_lr * schedule(step)`` as a Keras learning-rate schedule (see the module docstring)."""

    def __init__(self, schedule: Schedule, base_lr: float = 1.0, table: bool | int = False):
        super().__init__()
        who = "lrkit.keras.LearningRateSchedule"
        if not isinstance(schedule, Schedule):
            raise ValueError(f"{who}: schedule must be an lrkit schedule, got {schedule!r}")
        if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) or not 0 <= base_lr < math.inf:
            raise ValueError(f"{who}: base_lr must be a finite number >= 0, got {base_lr!r}")
        if not (isinstance(table, bool) or (isinstance(table, int) and table >= 0)):
            raise ValueError(f"{who}: table must be True, False or a step count >= 0, got {table!r}")
        self.schedule, self.base_lr, self.table = schedule, float(base_lr), table
        self._table = None
        if table is False and not all(node.traceable for node in schedule.walk()):
            if schedule.length is None:
                raise ValueError(f"{who}: {schedule!r} cannot be traced by keras.ops and is infinite; {_FIX}")
            table = True
        if table is True:
            if schedule.length is None:
                raise ValueError(f"{who}: table=True needs a finite schedule, {schedule!r} is infinite; {_FIX}")
            table = math.ceil(schedule.length)
        if table is not False:  # the values at 0..table, indexed by the step (clipped to the table)
            values = schedule(np.arange(table + 1)) * self.base_lr
            self._table = keras.ops.convert_to_tensor(values, dtype=keras.config.floatx())

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        if self._table is not None:
            index = ops.cast(ops.clip(ops.convert_to_tensor(step), 0, self._table.shape[0] - 1), "int32")
            return ops.take(self._table, index)
        return ops.cast(self.schedule.evaluate(step, keras_namespace()) * self.base_lr, keras.config.floatx())

    def get_config(self) -> dict[str, Any]:
        return {"schedule": self.schedule.to_config(), "base_lr": self.base_lr, "table": self.table}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(from_config(config["schedule"]), config.get("base_lr", 1.0), config.get("table", False))
