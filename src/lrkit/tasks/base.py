"""The :class:`Task` base and the training loop shared by every built-in task.

A task fixes a data set (generated offline, cached in memory per process), a model
factory, a loss, an optimizer (AdamW with the task's weight decay), a batch size, a
budget of optimizer updates and a target test accuracy. :meth:`Task.train` trains a
fresh model with any lrkit schedule, read as a *multiplier* of ``peak_lr``:

    lr(update) = peak_lr * schedule(update)

driven by :class:`lrkit.torch.Scheduler` (one ``step()`` after every ``optimizer.step()``;
the learning rates recorded are read back from the optimizer's first parameter group).
A run is deterministic per seed: the seed fixes the model's initial weights and the
order of the mini-batches (a seeded ``torch.Generator``); no global RNG is touched.

torch is imported when a task is used, never when ``lrkit`` is imported.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrkit.core.schedule import Schedule

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["EpochInfo", "RunResult", "Task", "mlp", "require_torch"]

#: ``optimizer_factory(model, lr) -> torch.optim.Optimizer``
OptimizerFactory = Callable[["nn.Module", float], "torch.optim.Optimizer"]


def require_torch() -> Any:
    """Import torch, or raise ImportError naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise ImportError("the built-in tasks need PyTorch: pip install 'lrkit[tasks]'") from None
    return torch


@dataclass(frozen=True)
class EpochInfo:
    """What ``on_epoch`` receives after each epoch (a partial last epoch included).

    ``lr`` is the learning rate of the epoch's last update, read from the optimizer's
    first parameter group; ``train_loss`` the mean mini-batch loss over the epoch.
    """

    epoch: int
    update: int
    lr: float
    train_loss: float
    test_accuracy: float
    seconds: float


@dataclass
class RunResult:
    """The record of one training run.

    ``lrs[i]`` and ``losses[i]`` are the learning rate used by update ``i`` (read from
    ``optimizer.param_groups[0]["lr"]`` when ``optimizer.step()`` ran) and its mini-batch
    loss. ``eval_updates[j]`` is the number of updates done when ``accuracies[j]`` was
    measured on the test set (the last evaluation is always at the end).
    ``updates_to_target`` is the first ``eval_updates`` entry whose accuracy reached the
    task's target, ``None`` if none did.
    """

    task: str
    schedule: str
    peak_lr: float
    seed: int
    updates: int
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    eval_updates: list[int] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    target: float = math.nan
    seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        """Test accuracy at the end of the run."""
        return self.accuracies[-1]

    @property
    def best_accuracy(self) -> float:
        """Best test accuracy seen at any evaluation."""
        return max(self.accuracies)

    @property
    def updates_to_target(self) -> int | None:
        """Updates done at the first evaluation that reached the target, or ``None``."""
        for update, accuracy in zip(self.eval_updates, self.accuracies):
            if accuracy >= self.target:
                return update
        return None

    @property
    def diverged(self) -> bool:
        """True if some training loss was NaN or infinite."""
        return any(not math.isfinite(loss) for loss in self.losses)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the run, derived figures included."""
        return {
            "task": self.task,
            "schedule": self.schedule,
            "peak_lr": self.peak_lr,
            "seed": self.seed,
            "updates": self.updates,
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "eval_updates": list(self.eval_updates),
            "accuracies": list(self.accuracies),
            "target": self.target,
            "seconds": self.seconds,
            "final_accuracy": self.final_accuracy,
            "best_accuracy": self.best_accuracy,
            "updates_to_target": self.updates_to_target,
        }


def mlp(*sizes: int) -> nn.Sequential:
    """A multilayer perceptron: ``Linear(sizes[0], sizes[1])``, then a ReLU and the next ``Linear`` for each size.

    >>> [type(layer).__name__ for layer in mlp(64, 128, 10)]
    ['Linear', 'ReLU', 'Linear']
    """
    nn = require_torch().nn
    layers: list[Any] = [nn.Linear(sizes[0], sizes[1])]
    for fan_in, fan_out in itertools.pairwise(sizes[1:]):
        layers += [nn.ReLU(), nn.Linear(fan_in, fan_out)]
    return nn.Sequential(*layers)


def evaluate(model: nn.Module, measure: Callable[[], float]) -> float:
    """``measure()`` with ``model`` in eval mode and no grad; the model's train/eval mode is restored after."""
    torch = require_torch()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = measure()
    model.train(was_training)
    return float(value)


class Task:
    """A built-in training task. Subclasses give their settings as class keywords
    (``class Digits(Task, name="digits", budget=460, ...)``: only the settings below, checked at
    import) and implement :meth:`_load` (numpy arrays) and :meth:`_build` (the model)."""

    #: Name used by :func:`lrkit.tasks.get_task` and ``lrkit demo --task``.
    name: str = ""
    #: One line for ``--help`` and reports.
    description: str = ""
    batch_size: int = 100
    #: The budget of optimizer updates of a standard run.
    budget: int = 1000
    #: Test accuracy a well-tuned run reaches within the budget (see each task's docstring).
    target: float = 0.9
    weight_decay: float = 1e-2
    #: A peak learning rate that works well with the default schedule.
    default_lr: float = 1e-2
    #: Threads torch uses while this task trains (small models run best on few threads).
    threads: int = 1
    #: dtype of the targets: ``"int64"`` (class labels) or ``"float32"`` (regression).
    label_dtype: str = "int64"

    def __init_subclass__(cls, **settings: Any) -> None:
        super().__init_subclass__()
        known = [key for key in Task.__annotations__ if not key.startswith("_")]
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown task settings {unknown}; a task sets {', '.join(known)}")
        for key, item in settings.items():
            setattr(cls, key, item)

    def __init__(self) -> None:
        self._cache: dict[int | None, tuple[Any, Any, Any, Any]] = {}

    def __repr__(self) -> str:
        return f"<lrkit task {self.name!r}: {self.description}>"

    # -- data and model ------------------------------------------------------------
    @property
    def train_size(self) -> int:
        return int(self.data()[0].shape[0])

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per pass over the training set (the last one may be smaller)."""
        return math.ceil(self.train_size / self.batch_size)

    @property
    def epochs(self) -> float:
        """Passes over the training set in the budget."""
        return self.budget / self.steps_per_epoch

    def data(self, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_train, y_train, x_test, y_test)`` as torch tensors (float32 inputs, :attr:`label_dtype` targets).

        ``seed=None`` gives the task's canonical data set and split (what :meth:`train`
        uses); an integer gives another draw of it (another split, or another generated
        set). Cached in memory per process, so repeated calls are free.
        """
        torch = require_torch()
        if seed not in self._cache:
            x_train, y_train, x_test, y_test = self._load(seed)
            labels = getattr(torch, self.label_dtype)
            self._cache[seed] = (
                torch.as_tensor(x_train, dtype=torch.float32),
                torch.as_tensor(y_train, dtype=labels),
                torch.as_tensor(x_test, dtype=torch.float32),
                torch.as_tensor(y_test, dtype=labels),
            )
        return self._cache[seed]

    def _load(self, seed: int | None) -> tuple[Any, Any, Any, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build(self) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def model(self, seed: int = 0) -> nn.Module:
        """A freshly initialised model; equal seeds give equal weights. The global RNG is left as it was."""
        torch = require_torch()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._build()

    @property
    def loss_fn(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Mean cross-entropy of logits against integer labels."""
        torch = require_torch()
        return torch.nn.functional.cross_entropy

    def optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """AdamW at ``lr`` with the task's weight decay."""
        torch = require_torch()
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=self.weight_decay)

    def accuracy(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        """Fraction of ``x`` that ``model`` classifies as ``y`` (evaluated in eval mode, no grad)."""
        return evaluate(model, lambda: (model(x).argmax(dim=1) == y).sum().item() / len(y))

    # -- training --------------------------------------------------------------------
    def train(
        self,
        schedule: Schedule | str | None,
        peak_lr: float | None = None,
        seed: int = 0,
        *,
        updates: int | None = None,
        optimizer_factory: OptimizerFactory | None = None,
        eval_every: int | None = None,
        on_epoch: Callable[[EpochInfo], None] | None = None,
        on_update: Callable[[int, float, float], None] | None = None,
    ) -> RunResult:
        """Train a fresh model (``self.model(seed)``) for ``updates`` updates (default: the budget).

        ``schedule`` (a Schedule or its text form) multiplies ``peak_lr`` (default
        :attr:`default_lr`); update ``i`` uses ``peak_lr * schedule(i)``. ``None``: lrkit does
        not drive the learning rate (a peer's scheduler does, from ``optimizer_factory`` and
        ``on_update``; lrkit's Scheduler refuses to share an optimizer's lr with another writer).
        ``optimizer_factory(model, lr)`` replaces AdamW (e.g. schedule-free AdamW: if the
        optimizer has ``train()``/``eval()`` methods they are called around evaluations).
        The test set is evaluated every ``eval_every`` updates (default: once per epoch)
        and at the end. ``on_update(update, lr, loss)`` runs after every update,
        ``on_epoch(EpochInfo)`` after every epoch.
        """
        from lrkit.core.config import from_config

        torch = require_torch()
        from lrkit.torch import Scheduler

        schedule = None if schedule is None else from_config(schedule)
        peak_lr = self.default_lr if peak_lr is None else float(peak_lr)
        if not (peak_lr > 0 and math.isfinite(peak_lr)):
            raise ValueError(f"train: peak_lr must be a finite number > 0, got {peak_lr!r}")
        total = self.budget if updates is None else int(updates)
        if total < 1:
            raise ValueError(f"train: updates must be >= 1, got {updates!r}")
        every = self.steps_per_epoch if eval_every is None else int(eval_every)
        if every < 1:
            raise ValueError(f"train: eval_every must be >= 1, got {eval_every!r}")

        x_train, y_train, x_test, y_test = self.data()
        threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            model = self.model(seed)
            factory = optimizer_factory or self.optimizer
            optimizer = factory(model, peak_lr)
            for group in optimizer.param_groups:
                group["lr"] = peak_lr
            driver = None if schedule is None else Scheduler(optimizer, schedule)
            result = RunResult(
                task=self.name, schedule=repr(schedule), peak_lr=peak_lr, seed=seed, updates=total, target=self.target
            )
            generator = torch.Generator().manual_seed(seed)
            loss_fn = self.loss_fn
            has_modes = callable(getattr(optimizer, "train", None)) and callable(getattr(optimizer, "eval", None))

            def evaluate() -> float:
                if has_modes:
                    optimizer.eval()  # type: ignore[attr-defined]
                accuracy = self.accuracy(model, x_test, y_test)
                if has_modes:
                    optimizer.train()  # type: ignore[attr-defined]
                result.eval_updates.append(update)
                result.accuracies.append(accuracy)
                return accuracy

            start = time.perf_counter()
            model.train()
            if has_modes:
                optimizer.train()  # type: ignore[attr-defined]
            update, epoch = 0, 0
            n = x_train.shape[0]
            while update < total:
                order = torch.randperm(n, generator=generator)
                epoch_losses: list[float] = []
                for begin in range(0, n, self.batch_size):
                    if update >= total:
                        break
                    index = order[begin : begin + self.batch_size]
                    loss = loss_fn(model(x_train[index]), y_train[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    lr = float(optimizer.param_groups[0]["lr"])
                    optimizer.step()
                    if driver is not None:
                        driver.step()
                    value = float(loss.item())
                    update += 1
                    result.lrs.append(lr)
                    result.losses.append(value)
                    epoch_losses.append(value)
                    if on_update is not None:
                        on_update(update, lr, value)
                    if update % every == 0 and update < total:
                        evaluate()
                epoch += 1
                if update >= total:
                    evaluate()
                if on_epoch is not None:
                    accuracy = result.accuracies[-1] if result.eval_updates[-1:] == [update] else evaluate()
                    info = EpochInfo(
                        epoch=epoch,
                        update=update,
                        lr=result.lrs[-1],
                        train_loss=sum(epoch_losses) / len(epoch_losses),
                        test_accuracy=accuracy,
                        seconds=time.perf_counter() - start,
                    )
                    on_epoch(info)
            result.seconds = time.perf_counter() - start
            return result
        finally:
            torch.set_num_threads(threads)
