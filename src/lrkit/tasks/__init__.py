"""Built-in training tasks: small, seeded, offline, for demos, the finder, benchmarks and tests.

>>> from lrkit.tasks import TASKS
>>> TASKS
('mnist1d', 'digits', 'charlm', 'friedman')

``get_task(name)`` gives a :class:`Task`; ``task.train(schedule, peak_lr, seed)`` trains a
fresh model with an lrkit schedule (a multiplier of ``peak_lr``) and returns a
:class:`RunResult`. torch, scikit-learn and mnist1d are imported only when a task is used
(``pip install 'lrkit[tasks]'``).
"""

from __future__ import annotations

from lrkit.tasks.base import EpochInfo, RunResult, Task
from lrkit.tasks.charlm import CharLM
from lrkit.tasks.digits import Digits
from lrkit.tasks.friedman import Friedman
from lrkit.tasks.mnist1d import MNIST1D

__all__ = ["TASKS", "CharLM", "Digits", "EpochInfo", "Friedman", "MNIST1D", "RunResult", "Task", "get_task"]

_CLASSES: dict[str, type[Task]] = {"mnist1d": MNIST1D, "digits": Digits, "charlm": CharLM, "friedman": Friedman}
_INSTANCES: dict[str, Task] = {}

#: Names of the built-in tasks.
TASKS: tuple[str, ...] = tuple(_CLASSES)


def get_task(name: str) -> Task:
    """The built-in task called ``name`` (one shared instance per process, so its data cache is shared)."""
    if name not in _CLASSES:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _CLASSES[name]()
    return _INSTANCES[name]
