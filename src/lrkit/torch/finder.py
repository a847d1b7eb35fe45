"""The torch driver of the LR range test: a transactional test on a model and optimizer, and ``auto``.

The range test itself (the sweep, the smoothing, the stops, the suggestions) and ``auto``'s rule are
:mod:`lrkit.finder`'s; this module owns only what needs torch: capturing and restoring state, and
the training step. :func:`range_test` sweeps the learning rate of a real optimizer on a real model (see
:mod:`lrkit.finder` for the sweep, the smoothing, the divergence rule and the suggestions)
and then puts everything back *bitwise*, in memory: parameters and their gradients, buffers,
each module's train/eval flag, the optimizer's per-parameter state and every param-group
value, the state of any schedulers and of the AMP ``GradScaler`` you pass, and the RNG states
(python ``random``, numpy's global generator, torch's CPU generator, CUDA's when initialised,
and the generator of a ``DataLoader`` you pass as data). A training run after the test is
bitwise identical to one without it. :class:`Snapshot` is the same machinery as a context
manager, for range tests on your own step callable.

One point per *real* optimizer update: with ``accumulate=k`` each update averages ``k``
micro-batches; with a ``GradScaler`` an update that the scaler skips (inf/NaN gradients) gives
no point and the sweep stays at the same LR (a step post-hook counts the real updates). The
optimizer's own step hooks (e.g. the update counter of an attached ``lrkit.torch.Scheduler``)
are detached during the test, so they never see its updates; global optimizer hooks
(``torch.optim.optimizer.register_optimizer_step_post_hook``) still do.

Learning rates reach the optimizer only from the sweep (finite, > 0); several param groups keep
their ratios: group ``g`` gets ``lr * lr_g / max_h lr_h`` (the group with the largest LR sweeps
exactly from ``start`` to ``end``).

``auto`` runs the test and returns a one-cycle (or warmup + cosine) schedule, a plain lrkit
schedule of unitless multipliers, and the peak LR ``peak = factor x valley centre`` of the range
test's loss (:func:`lrkit.finder.choose`); see :func:`auto` for the rule and bench/auto.py for the
measurements behind it.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lrkit.core import _validate as v
from lrkit.finder import RULES, FinderResult, build_schedule, choose
from lrkit.finder import range_test as _range_test

# auto's rule lives in lrkit.finder; its names are re-exported here, where they were first published
from lrkit.finder._auto import (  # noqa: F401
    AUTO_FACTOR,
    COST_LIMIT,
    VALLEY_FACTOR,
    VALLEY_FALL,
    VALLEY_RISE,
    AutoResult,
    NoSuggestion,
    peak_from,
)
from lrkit.torch._progress import update_skipped

__all__ = ["AutoResult", "NoSuggestion", "Snapshot", "auto", "find_for_task", "peak_from", "range_test", "task_batches"]


# -- snapshot / restore ------------------------------------------------------------------------
def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return copy.deepcopy(value)


def _put(original: Any, saved: Any) -> Any:
    """Write ``saved`` back, into the original tensor object when there is one (keeps identity)."""
    if isinstance(original, torch.Tensor) and isinstance(saved, torch.Tensor):
        with torch.no_grad():
            if original.shape != saved.shape or original.dtype != saved.dtype:
                original.data = saved.clone()
            else:
                original.copy_(saved)
        return original
    return copy.deepcopy(saved)


class _DictState:
    """A dict's keys, each value's original object and a clone of its contents."""

    def __init__(self, d: Mapping[Any, Any], skip: tuple[str, ...] = ()):
        self.d = d
        self.items = [(k, val, _clone(val)) for k, val in d.items() if k not in skip]
        self.keys = set(d.keys())

    def restore(self) -> None:
        d: Any = self.d
        for key in list(d.keys()):
            if key not in self.keys:
                del d[key]
        for key, original, saved in self.items:
            d[key] = _put(original, saved)


class Snapshot:
    """Capture, in memory, everything a range test changes; :meth:`restore` puts it back bitwise.

    Use it as a context manager (restores on exit, also after an exception)::

        with Snapshot(model, optimizer):
            ...   # anything: lrkit.finder.range_test(my_step), a few trial updates

    ``schedulers``: objects with ``state_dict()``/``load_state_dict()`` (torch or lrkit
    schedulers). ``scaler``: a ``torch.amp.GradScaler``. ``generators``: extra
    ``torch.Generator`` objects to restore (a ``DataLoader``'s own generator is found by
    :func:`range_test`).
    """

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        schedulers: Sequence[Any] = (),
        scaler: Any = None,
        generators: Sequence[torch.Generator] = (),
    ):
        self._modules: list[tuple[torch.nn.Module, bool, _DictState, _DictState]] = []
        self._grads: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]] = []
        seen: set[int] = set()
        params: list[torch.Tensor] = []
        if model is not None:
            for module in model.modules():
                self._modules.append(
                    (module, module.training, _DictState(module._parameters), _DictState(module._buffers))
                )
                params.extend(p for p in module._parameters.values() if p is not None)
        self._optimizer = optimizer
        self._extra_params: list[tuple[torch.Tensor, torch.Tensor]] = []
        if optimizer is not None:
            self._groups = [(group, _DictState(group, skip=("params",))) for group in optimizer.param_groups]
            self._group_list = list(optimizer.param_groups)
            self._state_keys = list(optimizer.state.keys())
            self._state = {p: (optimizer.state[p], _DictState(optimizer.state[p])) for p in self._state_keys}
            self._flags = {k: val for k, val in vars(optimizer).items() if isinstance(val, (bool, int, float, str))}
            self._flag_keys = set(vars(optimizer))
            in_model = {id(p) for p in params}
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if id(p) not in in_model:
                        self._extra_params.append((p, p.detach().clone()))
                        params.append(p)
        for p in params:
            if id(p) in seen:
                continue
            seen.add(id(p))
            grad = p.grad
            self._grads.append((p, grad, None if grad is None else grad.detach().clone()))
        self._schedulers = [(s, copy.deepcopy(s.state_dict())) for s in schedulers]
        self._scaler = (scaler, _DictState(scaler.__dict__)) if scaler is not None else None
        self._generators = [(g, g.get_state()) for g in generators]
        self._python = random.getstate()
        self._numpy = np.random.get_state()
        self._torch = torch.get_rng_state()
        self._cuda = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )

    def restore(self) -> None:
        """Put everything back (idempotent)."""
        with torch.no_grad():
            for extra, extra_saved in self._extra_params:
                extra.copy_(extra_saved)
            for module, training, parameters, buffers in self._modules:
                parameters.restore()
                buffers.restore()
                module.training = training
            for param, grad, saved_grad in self._grads:
                if saved_grad is None:
                    param.grad = None
                elif grad is not None:
                    grad.copy_(saved_grad)
                    if param.grad is not grad:
                        param.grad = grad
                else:  # pragma: no cover - defensive
                    param.grad = saved_grad.clone()
        optimizer = self._optimizer
        if optimizer is not None:
            optimizer.param_groups[:] = self._group_list
            for _group, state in self._groups:
                state.restore()
            for p in list(optimizer.state.keys()):
                if p not in self._state:
                    del optimizer.state[p]
            for p, (inner, state) in self._state.items():
                state.restore()
                optimizer.state[p] = inner
            attributes = vars(optimizer)
            for key in [k for k in attributes if k not in self._flag_keys]:
                del attributes[key]  # e.g. a flag a torch scheduler's step wrapper set
            attributes.update(self._flags)
        for scheduler, saved in self._schedulers:
            scheduler.load_state_dict(copy.deepcopy(saved))
        if self._scaler is not None:
            self._scaler[1].restore()
        for generator, generator_state in self._generators:
            generator.set_state(generator_state)
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        torch.set_rng_state(self._torch)
        if self._cuda is not None:
            torch.cuda.set_rng_state_all(self._cuda)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()


def _loader_generators(data: Any) -> list[torch.Generator]:
    """Generators owned by a DataLoader (its own, its sampler's, its batch sampler's sampler's)."""
    found: list[torch.Generator] = []
    candidates = [
        data,
        getattr(data, "sampler", None),
        getattr(getattr(data, "batch_sampler", None), "sampler", None),
    ]
    for obj in candidates:
        g = getattr(obj, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not h for h in found):
            found.append(g)
    return found


# -- the torch range test ------------------------------------------------------------------------
_HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks")


def _suspend_step_hooks(optimizer: torch.optim.Optimizer) -> dict[str, list[tuple[Any, Any]]]:
    """Detach the optimizer's own step hooks (a scheduler's update counter, EMA callbacks) for the test."""
    saved: dict[str, list[tuple[Any, Any]]] = {}
    for name in _HOOK_DICTS:
        hooks = getattr(optimizer, name, None)
        if hooks is not None:
            saved[name] = list(hooks.items())
            hooks.clear()
    return saved


def _resume_step_hooks(optimizer: torch.optim.Optimizer, saved: Mapping[str, list[tuple[Any, Any]]]) -> None:
    for name, items in saved.items():
        hooks = getattr(optimizer, name)
        hooks.clear()
        hooks.update(items)


def _batches(data: Iterable[Any], who: str) -> Iterator[Any]:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError(f"{who}: data gave no batches; pass an iterable of (inputs, targets) batches")


def _move(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(o, device) for k, o in obj.items()}
    return obj


def _split(batch: Any, who: str) -> tuple[Any, Any]:
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(
        f"{who}: each batch must be an (inputs, targets) pair, got {type(batch).__name__}; "
        "for other batch layouts write a step(lr) callable and use lrkit.finder.range_test inside a Snapshot"
    )


def _ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    top = max(lrs)
    if not (math.isfinite(top) and top > 0) or any(not (math.isfinite(x) and x >= 0) for x in lrs):
        return [1.0] * len(lrs)
    return [x / top for x in lrs]


def _set_lr(optimizer: torch.optim.Optimizer, lr: float, ratios: Sequence[float]) -> None:
    if not (math.isfinite(lr) and lr > 0):  # pragma: no cover - the sweep never produces one
        raise ValueError(f"range_test: refusing to set a non-finite or non-positive learning rate {lr!r}")
    for group, ratio in zip(optimizer.param_groups, ratios):
        value = lr * ratio
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    data: Iterable[Any],
    *,
    accumulate: int = 1,
    scaler: Any = None,
    autocast: torch.dtype | None = None,
    val_data: Iterable[Any] | None = None,
    schedulers: Sequence[Any] = (),
    generators: Sequence[torch.Generator] = (),
    progress: bool = True,
    **options: Any,
) -> FinderResult:
    """Sweep the LR from ``start`` to ``end`` over ``iterations`` real updates; restore everything after.

    ``data`` is any iterable of ``(inputs, targets)`` batches (a DataLoader, a list), re-iterated
    when exhausted; each batch is moved to the device of the model's first parameter and the loss
    is ``loss_fn(model(inputs), targets)``. ``accumulate`` micro-batches make one update (their
    mean loss is the point). With ``scaler`` (a ``torch.amp.GradScaler``) the scaled backward,
    ``scaler.step`` and ``scaler.update`` are used and skipped updates give no point; ``autocast``
    (a dtype such as ``torch.bfloat16``) runs the forward pass under ``torch.autocast``.
    ``val_data``: record the mean loss on these batches (eval mode, no grad) after each update
    instead of the training loss (slower, less noisy). ``schedulers``/``generators``: more state to
    restore. ``options`` are :func:`lrkit.finder.range_test`'s (``start``, ``end``, ``iterations``,
    ``mode``, ``beta``, ``diverge``, ``rebound``, ``max_skips``) and :func:`lrkit.finder.suggest`'s: the
    test stops at ``diverge`` x the best smoothed loss, at a NaN/inf loss, or, with ``rebound=True``,
    at the curve's first rebound.

    >>> torch.manual_seed(0) and None
    >>> model = torch.nn.Linear(4, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> x = torch.randn(256, 4); y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    >>> data = [(x, y[:, None])]                     # one full batch: a noise-free curve
    >>> before = model.weight.clone()
    >>> result = range_test(model, opt, torch.nn.functional.mse_loss, data, iterations=80, progress=False)
    >>> torch.equal(model.weight, before), opt.param_groups[0]["lr"], opt.state == {}
    (True, 0.1, True)
    >>> result.suggestion is not None and 1e-4 < result.suggestion < 1.0
    True
    """
    who = "range_test"
    accumulate = v.integer(who, "accumulate", accumulate)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"{who}: optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    device_type = device.type
    generators = list(generators) + [g for g in _loader_generators(data) if all(g is not h for h in generators)]
    if val_data is not None:
        generators += [g for g in _loader_generators(val_data) if all(g is not h for h in generators)]

    with Snapshot(model, optimizer, schedulers=schedulers, scaler=scaler, generators=generators):
        ratios = _ratios(optimizer)
        batches = _batches(data, who)
        updates = [0]

        def count(opt: Any, *_: Any) -> None:
            if not update_skipped(opt):
                updates[0] += 1

        hooks = _suspend_step_hooks(optimizer)
        handle = optimizer.register_step_post_hook(count)

        def forward(inputs: Any, targets: Any) -> torch.Tensor:
            if autocast is None:
                return loss_fn(model(inputs), targets)
            with torch.autocast(device_type=device_type, dtype=autocast):
                return loss_fn(model(inputs), targets)

        def validate() -> float:
            model.eval()
            total, n = 0.0, 0
            with torch.no_grad():
                for batch in val_data:  # type: ignore[union-attr]
                    inputs, targets = _split(_move(batch, device), who)
                    total += float(forward(inputs, targets).float().item())
                    n += 1
            model.train()
            if n == 0:
                raise ValueError(f"{who}: val_data gave no batches")
            return total / n

        def step(lr: float) -> float | None:
            _set_lr(optimizer, lr, ratios)
            model.train()
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for _ in range(accumulate):
                inputs, targets = _split(_move(next(batches), device), who)
                loss = forward(inputs, targets)
                total += float(loss.detach().float().item())
                scaled = loss / accumulate if accumulate > 1 else loss
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            before = updates[0]
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            if updates[0] == before:
                return None  # skipped by the scaler: not a real update, no point
            return validate() if val_data is not None else total / accumulate

        try:
            return _range_test(step, progress=progress, **options)
        finally:
            handle.remove()
            _resume_step_hooks(optimizer, hooks)


# -- auto -------------------------------------------------------------------------------------------
def auto(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    data: Iterable[Any],
    *,
    updates: int,
    recipe: str = "one_cycle",
    rule: str = "valley",
    factor: float | None = None,
    fall: float | None = None,
    rise: float | None = None,
    recipe_options: Mapping[str, Any] | None = None,
    set_lr: bool = True,
    **finder_options: Any,
) -> AutoResult:
    """One call from model to schedule: range test, then a one-cycle (or warmup + cosine) schedule.

    The rule (``rule="valley"``, the default)::

        peak_lr = factor x valley_centre(lrs, losses, fall=fall, rise=rise)
                = factor x sqrt(lr where the loss has done `fall` of its fall
                                x lr where it has climbed back `rise` of it)

    on the centred running median of the raw losses over one smoothing span (no lag, no spikes).

    with ``factor``, ``fall``, ``rise`` defaulting to :data:`VALLEY_FACTOR`, :data:`VALLEY_FALL`,
    :data:`VALLEY_RISE` (chosen by bench/auto.py on the built-in tasks; its report gives every task
    with constants chosen on the other tasks only). ``rule="steepest"`` is the old rule,
    ``peak_lr = 2 x`` the steepest-slope suggestion (:data:`AUTO_FACTOR`).

    The schedule is ``one_cycle(updates, **recipe_options)``: the LR rises for 30% of the updates
    from peak/25 (cosine), then falls (cosine) to peak/25e4 -- torch OneCycleLR's LR curve with
    its defaults; beta1/momentum is *not* cycled (torch's ``cycle_momentum=True`` also moves Adam's
    beta1 0.95 -> 0.85 -> 0.95; bench/auto.py measures that against lrkit's one-cycle). With
    ``recipe="warmup_cosine"``: ``warmup_cosine(updates, warmup=5%)``.

    The range test is transactional, so model, optimizer and RNG are as they were; then, if
    ``set_lr``, every group's LR is set to the peak (groups keep their ratios), ready for
    ``lrkit.torch.Scheduler(optimizer, result.schedule)``. It raises :class:`NoSuggestion` (with the
    reason and the range test) instead of guessing: when the range test declines (no evidence that
    the loss fell, ...) or, for the valley rule, when the loss never climbs back after its minimum
    (the sweep did not reach the unstable LRs). ``finder_options`` go to :func:`range_test`
    (iterations, start, end, accumulate, scaler, val_data, ...); ``rebound`` defaults to true here: the
    range test stops at the curve's first rebound, past which no rule looks, and ``cost`` counts the
    updates it actually spent. ``result.report()`` says what it did.

    >>> import lrkit as lk
    >>> torch.manual_seed(0) and None
    >>> model = torch.nn.Linear(8, 3)
    >>> opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(512, 8, generator=g); y = (x[:, :3] @ torch.ones(3) > 0).long() + (x[:, 3] > 1).long()
    >>> data = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 512, 64)]
    >>> chosen = auto(model, opt, torch.nn.functional.cross_entropy, data, updates=1000, progress=False)
    >>> chosen.schedule == lk.one_cycle(1000), chosen.cost["total"] == len(chosen.result.lrs) + 1000
    (True, True)
    """
    updates = v.integer("auto", "updates", updates)
    rule = v.choice("auto", "rule", rule, RULES)
    schedule = build_schedule(recipe, updates, **dict(recipe_options or {}))  # bad options fail before the test
    finder_options.setdefault("rebound", True)
    result = range_test(model, optimizer, loss_fn, data, **finder_options)
    chosen = choose(result, schedule, updates=updates, recipe=recipe, rule=rule, factor=factor, fall=fall, rise=rise)
    if set_lr:
        _set_lr(optimizer, chosen.peak_lr, _ratios(optimizer))
    return chosen


# -- the CLI entry point (contract with lrkit.tasks / lrkit.cli) -------------------------------------
def task_batches(task: Any, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of the task's training mini-batches in the order a training run with ``seed`` uses.

    >>> import torch
    >>> from lrkit.tasks import get_task
    >>> from lrkit.torch.finder import task_batches
    >>> task = get_task("digits")
    >>> batches = task_batches(task, seed=0)
    >>> len(batches), tuple(batches[0][0].shape), task.batch_size
    (23, (64, 64), 64)
    >>> all(torch.equal(a[0], b[0]) for a, b in zip(batches, task_batches(task, seed=0)))  # same seed, same order
    True
    """
    x, y = task.data()[:2]
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    size = task.batch_size
    return [(x[order[i : i + size]], y[order[i : i + size]]) for i in range(0, x.shape[0], size)]


def find_for_task(
    task: Any,
    *,
    seed: int = 0,
    start: float = 1e-7,
    progress: bool = False,
    **options: Any,
) -> FinderResult:
    """The range test on a built-in task (``lrkit.tasks.get_task(name)`` or its name): the seed's
    initial model, the task's AdamW (built at ``start``, the sweep's first LR), its loss and its mini-batches
    (seeded order); ``options`` go to :func:`range_test`.

    >>> from lrkit.torch.finder import find_for_task
    >>> result = find_for_task("digits", iterations=30)  # 30 updates of the digits task's model
    >>> result.lrs.size <= 30, result.stopped.split(":")[0], result.suggestion is not None
    (True, 'diverged', True)
    """
    if isinstance(task, str):
        from lrkit.tasks import get_task

        task = get_task(task)
    threads = torch.get_num_threads()
    torch.set_num_threads(getattr(task, "threads", threads))
    try:
        model = task.model(seed)
        optimizer = task.optimizer(model, start)
        batches = task_batches(task, seed)
        return range_test(model, optimizer, task.loss_fn, batches, start=start, progress=progress, **options)
    finally:
        torch.set_num_threads(threads)
