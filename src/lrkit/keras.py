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
``monitor='val_loss'`` by default); a ``model.fit`` without it (the first fit or a later one) is
refused. The decisions are those of :class:`lrkit.reactive.Controller` (the schedule holds one), the
plateau state is part of the schedule's config, so ``model.save`` keeps it and
``keras.models.load_model`` restores it::

    lr = LearningRateSchedule(lk.warmup(500) >> lk.constant(1.0) * lk.plateau(patience=3), base_lr=1e-3)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")
    model.fit(x, y, validation_data=(xv, yv), epochs=50, callbacks=[PlateauCallback("val_loss")])

Outside ``fit`` the rate reads as it is (``float(model.optimizer.learning_rate)``, before a fit or on a
loaded model), and a custom training loop feeds the plateau itself with :meth:`LearningRateSchedule.observe`.

* The plateau state follows the optimizer's update count: a fit with :class:`PlateauCallback` that
  starts at update 0 (a new model or a new optimizer compiled with a schedule object that already
  served one: a seed sweep) starts the plateau over, as Keras' ``ReduceLROnPlateau`` starts each model
  from its own rate; a later fit of the same model (update > 0) continues it. A fit past update 0 of
  an optimizer other than the one the schedule last served (two models sharing one schedule object)
  is refused: one schedule holds one plateau state, so build one ``LearningRateSchedule`` per model.
* A weights-only checkpoint (``model.save_weights``, ``keras.callbacks.BackupAndRestore``) holds the
  update count but not the plateau state (Keras saves a schedule's config only with ``model.save``): a
  run resumed from one starts the plateau over at scale 1. :class:`PlateauCallback` warns once where it
  sees this (an optimizer past update 0 whose plateau, active there, has seen no metric); resume with
  ``model.save`` / ``keras.models.load_model`` to keep the reductions.

When the multipliers change, the callback rebuilds the model's compiled train function
(``make_train_function(force=True)``: one new trace per reduction), since a compiled step holds the
schedule's value as a constant of its trace; it rebuilds it at the end of each fit too (one trace per
fit), so that a later fit without the callback evaluates the schedule and is refused.
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings
import weakref
from types import FrameType
from typing import Any

import numpy as np

from lrkit._adapt import exact_count, has_plateau, wide_as_float, wide_step
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
_FIT = inspect.unwrap(keras.Model.fit).__code__  # the backend trainer's fit (under Keras' traceback filter)


def _inside_fit() -> bool:
    """Whether a ``keras.Model.fit`` is running in this thread (its frame is on the stack): its train step is
    evaluating the schedule, not a user reading the rate or a custom training loop."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is _FIT:
            return True
        frame = frame.f_back
    return False


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
        self.feeder: PlateauCallback | None = None  # the PlateauCallback of the running fit, while it runs
        self._warned_lost = False  # the weights-only resume warning, once per schedule
        self._served: weakref.ref[Any] | None = None  # the optimizer whose plateau state this is (its last fit)
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
        if self.controller is not None and self.feeder is None and _inside_fit():
            raise ValueError(
                f"lrkit.keras.LearningRateSchedule: {self.schedule!r} has a plateau that nothing feeds; pass "
                "callbacks=[lrkit.keras.PlateauCallback(monitor='val_loss')] to model.fit"
            )
        ops = keras.ops
        step = wide_step(step)
        if self._table is not None:
            index = ops.cast(ops.clip(ops.convert_to_tensor(step), 0, self._table.shape[0] - 1), "int32")
            return ops.take(self._table, index)
        if keras.backend.backend() == "jax":  # an integer count in float64, x64 off too (lrkit._adapt.exact_count)
            t = ops.convert_to_tensor(step)
            with exact_count(t):
                if "int" in str(t.dtype):
                    t = ops.cast(t, "float64")
                value = self._current.evaluate(t, keras_namespace()) * self.base_lr
                return ops.cast(value, keras.config.floatx())
        return ops.cast(self._current.evaluate(step, keras_namespace()) * self.base_lr, keras.config.floatx())

    def observe(self, metric: float, step: float) -> bool:
        """Feed one metric value at update ``step`` to the plateaus (:meth:`lrkit.reactive.Controller.observe`);
        ``True`` if the learning rate changed (a compiled train function must then be rebuilt). A custom training
        loop calls it (e.g. once per epoch, at ``int(optimizer.iterations)``); in ``model.fit``,
        :class:`PlateauCallback` does."""
        if self.controller is None:
            raise ValueError(
                f"lrkit.keras.LearningRateSchedule.observe: {self.schedule!r} has no plateau(...) to feed"
            )
        changed = self.controller.observe(metric, step)
        if changed:
            self._build(self.controller.resolve())
        return changed

    def _start_fit(self, optimizer: Any, step: int) -> bool:
        """A fit with :class:`PlateauCallback` begins at update ``step`` of ``optimizer`` (the module docstring's
        rules): at 0 the plateau starts over, past 0 it must be this optimizer's. ``True`` if the learning rate
        changed (a compiled train function must then be rebuilt)."""
        controller = self.controller
        assert controller is not None  # PlateauCallback._schedule checked it
        served = self._served() if self._served is not None else None
        if step > 0 and served is not None and served is not optimizer:
            raise ValueError(
                f"lrkit.keras.PlateauCallback: the plateau state of {self.schedule!r} is that of another optimizer "
                "(another model was fit with this schedule object since this one); build one LearningRateSchedule "
                "per model (a loaded model has its own)"
            )
        self._served = weakref.ref(optimizer)
        fresh = Controller(self.schedule).state_dict()
        if step > 0 or controller.state_dict() == fresh:
            return False
        scales = controller.scales  # a new optimizer: the state left by the one served before is not its own
        controller.load_state_dict(fresh)
        self._build(controller.resolve())
        return controller.scales != scales

    def _warn_if_lost(self, step: int) -> None:
        """Warn once if the plateau active at optimizer update ``step`` > 0 has seen no metric (its state lost)."""
        controller = self.controller
        assert controller is not None
        if self._warned_lost or step == 0:
            return
        active = controller.active(step)
        if active and all(controller.states[i].calls == 0 for i in active):
            self._warned_lost = True
            warnings.warn(
                f"lrkit.keras.PlateauCallback: the plateau has seen no metric though the optimizer is at update "
                f"{step}: if this fit resumes a run from a weights-only checkpoint (model.save_weights, "
                "keras.callbacks.BackupAndRestore), the plateau's reductions are lost and it starts over at scale "
                "1, since its state is saved with the schedule's config; resume from model.save / "
                "keras.models.load_model to keep them",
                stacklevel=2,
            )

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
    :func:`~lrkit.plateau` (under ``mixed_float16``, that of the optimizer Keras' ``LossScaleOptimizer``
    wraps); the value is observed at the optimizer's update count (the plateau nodes active there
    observe it) with the schedule's own plateau rule (``rule='keras'`` for Keras' ``ReduceLROnPlateau``
    decisions: :func:`lrkit.compat.keras.ReduceLROnPlateau`). Unlike Keras' callback it keeps no state:
    the state is the schedule's, saved with the model; the module docstring says when a fit starts it over.

    A ``val_*`` monitor is observed at the epochs where ``fit`` validates (``validation_freq``); the
    others are skipped. A monitor missing from the logs of an epoch that validated, or a training
    metric missing, raises at that epoch; a ``val_*`` monitor that no epoch of the fit logged (no
    ``validation_data``) raises at the end of the fit.

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
        self._starting = self._validated = self._seen = False
        self._skipped: dict[str, Any] | None = None  # the logs of an epoch skipped for want of validation

    def _optimizer(self) -> Any:
        optimizer = getattr(self.model, "optimizer", None)
        return getattr(optimizer, "inner_optimizer", optimizer)  # mixed precision: the LossScaleOptimizer's

    def _schedule(self) -> LearningRateSchedule:
        lr = getattr(self._optimizer(), "_learning_rate", None)
        if not isinstance(lr, LearningRateSchedule) or lr.controller is None:
            raise ValueError(
                f"lrkit.keras.PlateauCallback: the optimizer's learning rate must be an "
                f"lrkit.keras.LearningRateSchedule with a plateau, got {type(lr).__name__}; compile with "
                "learning_rate=LearningRateSchedule(... * lrkit.plateau(...))"
            )
        return lr

    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self._optimizer().iterations))

    def _missing(self, logs: dict[str, Any]) -> ValueError:
        return ValueError(
            f"lrkit.keras.PlateauCallback: monitor {self.monitor!r} is not in the epoch's logs (it has "
            f"{sorted(logs)}); pass validation_data to fit for 'val_*' metrics, or monitor one of those"
        )

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        schedule = self._schedule()
        if schedule._start_fit(self._optimizer(), self._step()):
            self.model.make_train_function(force=True)
        schedule.feeder = self
        self._starting, self._seen, self._skipped = True, False, None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._validated = False
        if self._starting:  # after every on_train_begin: BackupAndRestore restores the update count there
            self._starting = False
            self._schedule()._warn_if_lost(self._step())

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._validated = True  # fit validates in this epoch: its val_* metrics will be in the epoch's logs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and not self._validated:
                self._skipped = logs  # fit's validation_freq: no validation in this epoch, nothing to observe
                return
            raise self._missing(logs)
        self._seen = True
        schedule = self._schedule()
        if schedule.observe(float(logs[self.monitor]), self._step()):
            self.model.make_train_function(force=True)  # the compiled step holds the old value

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        schedule = self._schedule()
        if schedule.feeder is self:
            schedule.feeder = None
        self.model.make_train_function(force=True)  # a later fit traces the schedule again: refused unless fed
        if self._skipped is not None and not self._seen:
            raise self._missing(self._skipped)
