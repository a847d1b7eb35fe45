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
infinite one needs ``table=n``. Lengths and steps beyond int32 (``cosine(10**10)``) are computed as floats.

A schedule with a :func:`~lrkit.plateau` is fed by :class:`PlateauCallback` (one metric per epoch,
``monitor='val_loss'`` by default) and refuses to run without it. The decisions are those of
:class:`lrkit.reactive.Controller` (the schedule holds one), the plateau state is part of the
schedule's config, so ``model.save`` keeps it and ``keras.models.load_model`` restores it::

    lr = LearningRateSchedule(lk.warmup(500) >> lk.constant(1.0) * lk.plateau(patience=3), base_lr=1e-3)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")
    model.fit(x, y, validation_data=(xv, yv), epochs=50, callbacks=[PlateauCallback("val_loss")])

When the multipliers change, the callback rebuilds the model's compiled train function
(``make_train_function(force=True)``: one new trace per reduction), since a compiled step holds the
schedule's value as a constant of its trace.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit._adapt import has_plateau, wide_as_float, wide_step
from lrkit.core.backend import keras_namespace
from lrkit.core.config import from_config
from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller

try:
    import keras
except ImportError as err:  # keras missing, or its backend (tensorflow by default) missing
    raise ImportError(
        f"lrkit.keras needs Keras 3 and a backend (KERAS_BACKEND=jax, torch or tensorflow): "
        f"pip install 'lrkit[keras]' (importing keras failed: {err})"
    ) from err

__all__ = ["LearningRateSchedule", "PlateauCallback"]

_FIX = "give table=<last step> (later steps hold its value)"


@keras.saving.register_keras_serializable(package="lrkit")
class LearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``base_lr * schedule(step)`` as a Keras learning-rate schedule (see the module docstring).

    >>> import keras, lrkit as lk
    >>> lr = LearningRateSchedule(lk.warmup(10) >> lk.cosine(90), base_lr=3e-4)
    >>> round(float(lr(10)), 8)
    0.0003
    >>> opt = keras.optimizers.AdamW(learning_rate=lr)   # saved and reloaded with the model
    """

    def __init__(self, schedule: Schedule, base_lr: float = 1.0, table: bool | int = False):
        super().__init__()
        who = "lrkit.keras.LearningRateSchedule"
        if not isinstance(schedule, Schedule):
            raise ValueError(f"{who}: schedule must be an lrkit schedule, got {schedule!r}")
        number = isinstance(base_lr, (int, float, np.integer, np.floating)) and not isinstance(base_lr, bool)
        if not number or not 0 <= base_lr < math.inf:
            raise ValueError(f"{who}: base_lr must be a finite number >= 0, got {base_lr!r}")
        if not (isinstance(table, bool) or (isinstance(table, int) and table >= 0)):
            raise ValueError(f"{who}: table must be True, False or a step count >= 0, got {table!r}")
        self.schedule, self.base_lr, self.table = schedule, float(base_lr), table
        self.controller = Controller(schedule) if has_plateau(schedule) else None
        self.feeder: PlateauCallback | None = None  # set by the PlateauCallback that feeds a plateau
        if table is False and not all(node.traceable for node in schedule.walk()):
            if schedule.length is None:
                raise ValueError(f"{who}: {schedule!r} cannot be traced by keras.ops and is infinite; {_FIX}")
        self._build(schedule)

    def _build(self, schedule: Schedule) -> None:
        """The closed form (or table) of ``schedule``: the schedule itself, or what its plateaus resolve to."""
        self._current, self._table = wide_as_float(schedule), None
        table = self.table
        if table is False and not all(node.traceable for node in schedule.walk()):
            table = True
        if table is True:
            if schedule.length is None:
                raise ValueError(
                    f"lrkit.keras.LearningRateSchedule: table=True needs a finite schedule, {schedule!r} is "
                    f"infinite; {_FIX}"
                )
            table = math.ceil(schedule.length)
        if table is not False:  # the values at 0..table, indexed by the step (clipped to the table)
            values = schedule(np.arange(table + 1)) * self.base_lr
            self._table = keras.ops.convert_to_tensor(values, dtype=keras.config.floatx())

    def __call__(self, step: Any) -> Any:
        if self.controller is not None and self.feeder is None:
            raise ValueError(
                f"lrkit.keras.LearningRateSchedule: {self.schedule!r} has a plateau that nothing feeds; pass "
                "callbacks=[lrkit.keras.PlateauCallback(monitor='val_loss')] to model.fit"
            )
        ops = keras.ops
        step = wide_step(step)
        if self._table is not None:
            index = ops.cast(ops.clip(ops.convert_to_tensor(step), 0, self._table.shape[0] - 1), "int32")
            return ops.take(self._table, index)
        return ops.cast(self._current.evaluate(step, keras_namespace()) * self.base_lr, keras.config.floatx())

    def observe(self, metric: float, step: float) -> bool:
        """Feed one metric value at update ``step`` to the plateaus (:meth:`lrkit.reactive.Controller.observe`);
        ``True`` if the learning rate changed (a compiled train function must then be rebuilt)."""
        if self.controller is None:
            raise ValueError(
                f"lrkit.keras.LearningRateSchedule.observe: {self.schedule!r} has no plateau(...) to feed"
            )
        changed = self.controller.observe(metric, step)
        if changed:
            self._build(self.controller.resolve())
        return changed

    def get_config(self) -> dict[str, Any]:
        config = {"schedule": self.schedule.to_config(), "base_lr": self.base_lr, "table": self.table}
        if self.controller is not None:
            config["plateau_state"] = self.controller.state_dict()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        if not isinstance(config, dict) or "schedule" not in config:
            raise ValueError(
                "lrkit.keras.LearningRateSchedule.from_config: config must be a dict with the key 'schedule' (the "
                f"schedule's config), got {config!r}; pass the config get_config() wrote"
            )
        out = cls(from_config(config["schedule"]), config.get("base_lr", 1.0), config.get("table", False))
        state = config.get("plateau_state")
        if state is not None:
            if out.controller is None:
                raise ValueError(
                    "lrkit.keras.LearningRateSchedule.from_config: plateau_state given for a schedule without a "
                    "plateau; pass the config get_config() wrote"
                )
            controller = out.controller
            controller.apply_state(controller.parse_state(state, "lrkit.keras.LearningRateSchedule.from_config",
                                                          "plateau_state"))
            out._build(out.controller.resolve())
        return out


class PlateauCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Feed ``logs[monitor]`` at the end of each epoch to the plateaus of the optimizer's lrkit schedule.

    The optimizer's learning rate must be a :class:`LearningRateSchedule` whose schedule has a
    :func:`~lrkit.plateau`; the value is observed at the optimizer's update count (the plateau
    nodes active there observe it) with the schedule's own plateau rule (``rule='keras'`` for
    Keras' ``ReduceLROnPlateau`` decisions: :func:`lrkit.compat.keras.ReduceLROnPlateau`). Unlike
    Keras' callback it keeps no state: the state is the schedule's, saved with the model.

    >>> import keras, lrkit as lk
    >>> lr = LearningRateSchedule(lk.constant(1.0) * lk.plateau(patience=2), base_lr=1e-3)
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(learning_rate=lr), loss="mse")
    >>> callbacks = [PlateauCallback(monitor="val_loss")]   # model.fit(..., validation_data=..., callbacks=callbacks)
    """

    def __init__(self, monitor: str = "val_loss"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"lrkit.keras.PlateauCallback: monitor must be a metric name, got {monitor!r}")
        self.monitor = monitor

    def _schedule(self) -> LearningRateSchedule:
        optimizer = getattr(self.model, "optimizer", None)
        lr = getattr(optimizer, "_learning_rate", None)
        if not isinstance(lr, LearningRateSchedule) or lr.controller is None:
            raise ValueError(
                f"lrkit.keras.PlateauCallback: the optimizer's learning rate must be an "
                f"lrkit.keras.LearningRateSchedule with a plateau, got {type(lr).__name__}; compile with "
                "learning_rate=LearningRateSchedule(... * lrkit.plateau(...))"
            )
        return lr

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._schedule().feeder = self

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"lrkit.keras.PlateauCallback: monitor {self.monitor!r} is not in the epoch's logs (it has "
                f"{sorted(logs)}); pass validation_data to fit for 'val_*' metrics, or monitor one of those"
            )
        schedule = self._schedule()
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if schedule.observe(float(logs[self.monitor]), step):
            self.model.make_train_function(force=True)  # the compiled step holds the old value
