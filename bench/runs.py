"""Train one benchmark configuration: deterministic, cached as JSON, run in a pool of 2 workers.

Shared by the training-quality benchmark (bench/training.py) and the finder benchmark
(bench/finder.py), so that a grid is trained once. A *job* is a frozen dataclass:

* :class:`Run` -- one training run of a built-in task at one peak LR and seed, with
  ``kind`` = ``"lrkit"`` (AdamW, the lrkit schedule ``schedule`` (text config) driven by
  ``lrkit.torch.Scheduler``), ``"schedulefree"`` (``schedulefree.AdamWScheduleFree`` at a
  constant LR, its own warmup of 5% of the updates) or ``"torch_onecycle"`` (AdamW driven by
  ``torch.optim.lr_scheduler.OneCycleLR(max_lr=peak_lr, total_steps=updates)``, torch's defaults).
* :class:`Auto` -- lrkit ``auto``: one range test on the seed's model and batches, then one
  training run with the schedule and peak it returns.
* :class:`PeerFinder` -- torch-lr-finder's range test (its defaults: 100 iterations from 1e-7
  to 10, exponential), its steepest-gradient suggestion fed to torch's OneCycleLR.
* :class:`Find` -- lrkit's range test alone (``lrkit.torch.finder.find_for_task``).

``execute(jobs)`` returns one JSON-safe dict per job, in order. A job's result is cached under
``bench/results/cache/`` (``$LRKIT_BENCH_CACHE`` overrides) keyed by the job's fields and a
fingerprint of the code it runs (the lrkit modules involved, this file, the torch /
schedulefree / torch-lr-finder versions), so a result is reused only for the same code.
Missing results are computed in a process pool (``spawn``; ``workers=2`` by default, the
machine's core count) with ``torch.set_num_threads(1)`` in each worker. Every job is
deterministic: the seed fixes the model's initial weights and the batch order.

>>> half_decades(1e-3, 1e-2)
[0.001, 0.003, 0.01]
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from lrkit.core._io import atomic_write

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

#: seeds of every reported configuration, and the subset used to choose a grid's best point
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
GRID_SEEDS: tuple[int, ...] = (0, 1)
#: the half-decade peak-LR grid of every schedule, and schedule-free AdamW's (extended upward: it peaks higher)
GRID_LRS: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
SF_GRID_LRS: tuple[float, ...] = (*GRID_LRS, 1.0)
#: test-set evaluation every N updates (finer than once per epoch, for "updates to target")
EVAL_EVERY: dict[str, int] = {"mnist1d": 20, "digits": 10}
#: updates of each finder run (lrkit auto and torch-lr-finder alike)
FINDER_ITERATIONS = 100
#: the schedules of the protocol, by name (built at the task's budget by :func:`schedule_for`)
SCHEDULES: tuple[str, ...] = ("constant", "step", "warmup_cosine", "one_cycle", "wsd", "flat_cosine")
LABELS: dict[str, str] = {
    "constant": "constant",
    "step": "StepLR recipe (x0.5 every 3 epochs)",
    "warmup_cosine": "warmup + cosine",
    "one_cycle": "one-cycle",
    "wsd": "warmup-stable-decay",
    "flat_cosine": "flat-then-cosine",
    "schedulefree": "schedule-free AdamW",
    "auto": "lrkit auto (1 finder run)",
    "torch_lr_finder": "torch-lr-finder -> OneCycleLR",
}


def half_decades(low: float, high: float) -> list[float]:
    """The half-decade points 1, 3, 10, 30, ... x 10^k from ``low`` to ``high`` (both included)."""
    out = []
    k = math.floor(math.log10(low)) - 1
    while True:
        for mantissa in (1.0, 3.0):
            value = float(f"{mantissa}e{k}")
            if value > high * (1 + 1e-9):
                return out
            if value >= low * (1 - 1e-9):
                out.append(value)
        k += 1


def step_up(lr: float) -> float:
    """The next half-decade point above ``lr``."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return float(f"3e{int(exponent)}") if mantissa == "1" else float(f"1e{int(exponent) + 1}")


def step_down(lr: float) -> float:
    """The next half-decade point below ``lr``."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return float(f"1e{int(exponent)}") if mantissa == "3" else float(f"3e{int(exponent) - 1}")


def schedule_for(name: str, task: Any) -> Any:
    """The protocol's schedule ``name`` at ``task``'s budget B (steps per epoch S), as an lrkit Schedule.

    constant; step = StepLR's classic recipe, x0.5 every 3 epochs; warmup_cosine with a 5%
    warmup; one_cycle (torch OneCycleLR's defaults); wsd with 5% warmup and a 20% decay;
    flat_cosine (lrkit's defaults).
    """
    import lrkit as lk

    budget, per_epoch = task.budget, task.steps_per_epoch
    if name == "constant":
        return lk.constant()
    if name == "step":
        return lk.step_decay(3 * per_epoch, factor=0.5)
    if name == "warmup_cosine":
        return lk.warmup_cosine(budget, warmup=budget // 20)
    if name == "one_cycle":
        return lk.one_cycle(budget)
    if name == "wsd":
        return lk.wsd(budget, warmup=budget // 20, decay=budget // 5)
    if name == "flat_cosine":
        return lk.flat_cosine(budget)
    raise ValueError(f"schedule_for: unknown schedule {name!r}; known: {', '.join(SCHEDULES)}")


# -- jobs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One training run. ``schedule`` is lrkit text config (ignored by the two non-lrkit kinds)."""

    task: str
    schedule: str
    peak_lr: float
    seed: int
    kind: str = "lrkit"  # "lrkit" | "schedulefree" | "torch_onecycle"


@dataclass(frozen=True)
class Auto:
    """lrkit ``auto`` (one-cycle recipe, default factor), then one training run."""

    task: str
    seed: int
    iterations: int = FINDER_ITERATIONS


@dataclass(frozen=True)
class PeerFinder:
    """torch-lr-finder's suggestion, then torch's OneCycleLR at that max_lr."""

    task: str
    seed: int
    iterations: int = FINDER_ITERATIONS


@dataclass(frozen=True)
class Find:
    """lrkit's range test alone on the task (``find_for_task``)."""

    task: str
    seed: int
    iterations: int = FINDER_ITERATIONS


Job = Run | Auto | PeerFinder | Find
_KINDS: dict[str, type] = {"run": Run, "auto": Auto, "peer_finder": PeerFinder, "find": Find}


def _job_dict(job: Job) -> dict[str, Any]:
    name = {Run: "run", Auto: "auto", PeerFinder: "peer_finder", Find: "find"}[type(job)]
    return {"job": name, **dataclasses.asdict(job)}


def lrkit_run(task_name: str, schedule_name: str, peak_lr: float, seed: int) -> Run:
    """The :class:`Run` of the protocol schedule ``schedule_name`` on a task."""
    from lrkit.tasks import get_task

    return Run(task_name, repr(schedule_for(schedule_name, get_task(task_name))), float(peak_lr), seed)


# -- the cache -----------------------------------------------------------------------------------
def cache_dir() -> Path:
    return Path(os.environ.get("LRKIT_BENCH_CACHE") or BENCH / "results" / "cache")


_FINGERPRINT: str | None = None


def code_fingerprint(salt: bytes, *, finder: bool, packages: Sequence[str]) -> str:
    """A hash of the code a job runs: every module of the lrkit packages it uses (core, reactive, tasks,
    torch; the finder's core and driver only if ``finder``), this file, and the ``packages``' versions.

    Whole packages, by path, so a module added or moved (the layout by layers) changes the hash; a
    fingerprint that named files of an old layout would silently stop covering the code.
    """
    import lrkit

    root = Path(lrkit.__file__).resolve().parent
    files = [root / "__init__.py"] + [
        p for folder in ("core", "reactive", "tasks", "torch") for p in (root / folder).rglob("*.py")
    ]
    if finder:
        files += list((root / "finder").rglob("*.py"))
    else:
        files.remove(root / "torch" / "finder.py")
    digest = hashlib.sha256(salt)
    for path in sorted(files):
        digest.update(str(path.relative_to(root).as_posix()).encode() + b"\0" + path.read_bytes())
    digest.update(b"runs.py\0" + Path(__file__).resolve().read_bytes())
    for package in packages:
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            pass
    return digest.hexdigest()[:16]


def fingerprint() -> str:
    """The fingerprint of every job (:func:`code_fingerprint`, the finder included)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        packages = ("torch", "numpy", "schedulefree", "torch-lr-finder", "mnist1d", "scikit-learn")
        _FINGERPRINT = code_fingerprint(b"", finder=True, packages=packages)
    return _FINGERPRINT


def _cache_path(job: Job) -> Path:
    fields = _job_dict(job)
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode() + fingerprint().encode()).hexdigest()[:20]
    return cache_dir() / job.task / f"{fields['job']}-{key}.json"


def _load(job: Job) -> dict[str, Any] | None:
    path = _cache_path(job)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _store(job: Job, result: dict[str, Any]) -> None:
    path = _cache_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:  # workers may store at once: each writes its own temporary, then renames
        f.write(json.dumps(result))


# -- the work (runs in the workers) --------------------------------------------------------------
def _train(task: Any, schedule: Any, peak_lr: float, seed: int, **kwargs: Any) -> dict[str, Any]:
    result = task.train(schedule, peak_lr, seed, eval_every=EVAL_EVERY.get(task.name), **kwargs)
    out = result.to_dict()
    out["diverged"] = result.diverged
    return out


def _run(job: Run) -> dict[str, Any]:
    from lrkit.tasks import get_task

    task = get_task(job.task)
    if job.kind == "lrkit":
        return _train(task, job.schedule, job.peak_lr, job.seed)
    if job.kind == "schedulefree":
        import schedulefree

        def factory(model: Any, lr: float) -> Any:
            return schedulefree.AdamWScheduleFree(
                model.parameters(), lr=lr, weight_decay=task.weight_decay, warmup_steps=task.budget // 20
            )

        return _train(task, "constant()", job.peak_lr, job.seed, optimizer_factory=factory)
    if job.kind == "torch_onecycle":
        return _torch_onecycle(task, job.peak_lr, job.seed)
    raise ValueError(f"Run: unknown kind {job.kind!r}; use 'lrkit', 'schedulefree' or 'torch_onecycle'")


def _torch_onecycle(task: Any, max_lr: float, seed: int) -> dict[str, Any]:
    """AdamW + torch's OneCycleLR (its defaults: 30% rise from max_lr/25, cosine, betas[0] cycled 0.95..0.85).

    The task loop drives a constant lrkit schedule at OneCycleLR's initial LR; after every update
    (``on_update``) torch's OneCycleLR steps and writes the next LR and beta1 (the task runs
    with ``schedule=None``: no lrkit Scheduler), so every update uses torch's values. Checked against a
    separately stepped OneCycleLR below.
    """
    import torch

    box: dict[str, Any] = {}
    total = task.budget

    def factory(model: Any, lr: float) -> Any:
        optimizer = task.optimizer(model, lr)
        box["sched"] = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total)
        return optimizer

    def on_update(update: int, lr: float, loss: float) -> None:
        if update < total:
            box["sched"].step()

    initial = max_lr / 25.0  # OneCycleLR's default div_factor
    out = _train(task, None, initial, seed, optimizer_factory=factory, on_update=on_update)
    reference = _onecycle_lrs(max_lr, total)
    if max(abs(a - b) / b for a, b in zip(out["lrs"], reference)) > 1e-9:
        raise AssertionError("torch_onecycle: the LRs used differ from torch's OneCycleLR")
    out["peak_lr"] = max_lr
    out["schedule"] = f"torch.optim.lr_scheduler.OneCycleLR(max_lr={max_lr!r}, total_steps={total})"
    return out


def _onecycle_lrs(max_lr: float, total: int) -> list[float]:
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=max_lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total)
    lrs = []
    for i in range(total):
        lrs.append(float(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        if i + 1 < total:
            sched.step()
    return lrs


def _finder_dict(result: Any) -> dict[str, Any]:
    return {
        "suggestion": result.suggestion,
        "reason": result.reason,
        "suggestions": dict(result.suggestions),
        "lrs": [float(x) for x in result.lrs],
        "losses": [float(x) for x in result.losses],
    }


def _auto(job: Auto) -> dict[str, Any]:
    from lrkit.tasks import get_task
    from lrkit.torch.finder import NoSuggestion, auto, task_batches

    task = get_task(job.task)
    model = task.model(job.seed)
    optimizer = task.optimizer(model, 1e-7)
    start = time.perf_counter()
    try:
        chosen = auto(
            model,
            optimizer,
            task.loss_fn,
            task_batches(task, job.seed),
            updates=task.budget,
            iterations=job.iterations,
            progress=False,
        )
    except NoSuggestion as error:
        return {"finder": _finder_dict(error.result), "finder_seconds": time.perf_counter() - start, "run": None}
    finder_seconds = time.perf_counter() - start
    run = _train(task, chosen.schedule, chosen.peak_lr, job.seed)
    return {
        "finder": _finder_dict(chosen.result),
        "finder_seconds": finder_seconds,
        "config": chosen.config,
        "peak_lr": chosen.peak_lr,
        "run": run,
    }


def _peer_finder(job: PeerFinder) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torch_lr_finder import LRFinder

    from lrkit.tasks import get_task

    task = get_task(job.task)
    x, y = task.data()[:2]
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=task.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(job.seed),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(task.threads)
    model = task.model(job.seed)
    optimizer = task.optimizer(model, 1e-7)
    finder = LRFinder(model, optimizer, task.loss_fn, device="cpu")
    start = time.perf_counter()
    suggestion, reason = None, ""
    fig, ax = plt.subplots()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            finder.range_test(loader, end_lr=10, num_iter=job.iterations)
            _, suggestion = finder.plot(ax=ax, suggest_lr=True)
    except (RuntimeError, ValueError) as error:  # too few points before its divergence stop
        reason = str(error)
    finally:
        plt.close(fig)
        torch.set_num_threads(threads)
    finder_seconds = time.perf_counter() - start
    found = {
        "suggestion": None if suggestion is None else float(suggestion),
        "reason": reason,
        "lrs": [float(v) for v in finder.history["lr"]],
        "losses": [float(v) for v in finder.history["loss"]],
    }
    if suggestion is None:
        return {"finder": found, "finder_seconds": finder_seconds, "run": None}
    run = _torch_onecycle(task, float(suggestion), job.seed)
    return {"finder": found, "finder_seconds": finder_seconds, "peak_lr": float(suggestion), "run": run}


def _find(job: Find) -> dict[str, Any]:
    from lrkit.torch.finder import find_for_task

    start = time.perf_counter()
    result = find_for_task(job.task, seed=job.seed, iterations=job.iterations)
    return {**_finder_dict(result), "seconds": time.perf_counter() - start}


def _execute_one(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    job = _KINDS[fields.pop("job")](**fields)
    start = time.perf_counter()
    handler: Callable[[Any], dict[str, Any]] = {Run: _run, Auto: _auto, PeerFinder: _peer_finder, Find: _find}[
        type(job)
    ]
    out = handler(job)
    out["job"] = _job_dict(job)
    out["wall_seconds"] = time.perf_counter() - start
    return out


def _init_worker() -> None:
    import warnings

    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")


# -- the pool ------------------------------------------------------------------------------------
@dataclass
class Stats:
    """How many results came from the cache and how many were computed, and the compute time."""

    cached: int = 0
    computed: int = 0
    seconds: float = 0.0


STATS = Stats()


_POOL: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """One pool of ``workers`` spawned processes for the whole process (started once: a start costs seconds)."""
    if workers not in _POOL:
        import atexit
        import multiprocessing

        for old in _POOL.values():
            old.shutdown()
        _POOL.clear()
        context = multiprocessing.get_context("spawn")
        _POOL[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker)
        atexit.register(shutdown)
    return _POOL[workers]


def shutdown() -> None:
    """Stop the worker processes (also done at exit)."""
    for pool in _POOL.values():
        pool.shutdown()
    _POOL.clear()


def execute(jobs: Sequence[Job], *, workers: int = 2, verbose: bool = True) -> list[dict[str, Any]]:
    """The result of every job (cached or computed in a pool of ``workers`` processes), in order."""
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    todo: dict[Job, list[int]] = {}
    for i, job in enumerate(jobs):
        found = _load(job)
        if found is not None:
            results[i] = found
            STATS.cached += 1
        else:
            todo.setdefault(job, []).append(i)
    if todo:
        start = time.perf_counter()
        done = 0
        if workers <= 1:  # in this process, one thread, as in a worker
            import warnings

            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for job in todo:
                        done += 1
                        _finish(job, _execute_one(_job_dict(job)), todo[job], results, done, len(todo), verbose)
            finally:
                torch.set_num_threads(threads)
        else:
            if str(BENCH) not in sys.path:  # spawned workers import this module by name, from the parent's sys.path
                sys.path.insert(0, str(BENCH))
            pool = _pool(workers)
            futures = {pool.submit(_execute_one, _job_dict(job)): job for job in todo}
            for future in as_completed(futures):
                job = futures[future]
                done += 1
                _finish(job, future.result(), todo[job], results, done, len(todo), verbose)
        STATS.computed += len(todo)
        STATS.seconds += time.perf_counter() - start
    return [r for r in results if r is not None] if None not in results else _missing(jobs, results)


def _missing(jobs: Sequence[Job], results: list[Any]) -> list[dict[str, Any]]:  # pragma: no cover - a bug guard
    raise RuntimeError(f"execute: no result for {[j for j, r in zip(jobs, results) if r is None]}")


def _finish(
    job: Job, result: dict[str, Any], where: list[int], results: list[Any], done: int, total: int, verbose: bool
) -> None:
    _store(job, result)
    for i in where:
        results[i] = result
    if verbose:
        run = result if isinstance(job, Run) else result.get("run")
        what = f"final {run['final_accuracy']:.3f}" if run else "no run"
        print(f"  [{done}/{total}] {_describe(job)}: {what} ({result['wall_seconds']:.1f} s)", file=sys.stderr)


def _describe(job: Job) -> str:
    if isinstance(job, Run):
        text = job.schedule if len(job.schedule) < 40 else job.schedule[:37] + "..."
        return f"{job.task} {job.kind} {text} lr={job.peak_lr:g} seed={job.seed}"
    return f"{job.task} {type(job).__name__} seed={job.seed}"


# -- grids ---------------------------------------------------------------------------------------
@dataclass
class Grid:
    """A peak-LR grid of one entry on one task: ``scores[lr]`` = mean final accuracy over the grid seeds."""

    task: str
    entry: str
    runs: dict[float, list[dict[str, Any]]]
    best_lr: float

    @property
    def lrs(self) -> list[float]:
        return sorted(self.runs)

    def score(self, lr: float) -> float:
        return _score(self.runs[lr])

    @property
    def cost(self) -> int:
        """Training runs spent choosing the LR."""
        return sum(len(r) for r in self.runs.values())


def _score(runs: list[dict[str, Any]]) -> float:
    """Mean final accuracy (a diverged run counts as its final accuracy, usually chance)."""
    values = [r["final_accuracy"] for r in runs]
    return sum(values) / len(values)


def entry_run(task: str, entry: str, lr: float, seed: int) -> Run:
    """The :class:`Run` of a grid entry: a protocol schedule name or ``"schedulefree"``."""
    if entry == "schedulefree":
        return Run(task, "constant()", float(lr), seed, kind="schedulefree")
    return lrkit_run(task, entry, lr, seed)


def grid(
    task: str,
    entries: Sequence[str],
    lrs: Sequence[float] | Mapping[str, Sequence[float]] = (),
    *,
    seeds: Sequence[int] = GRID_SEEDS,
    extend: int = 3,
    workers: int = 2,
    verbose: bool = True,
) -> dict[str, Grid]:
    """Each entry over the LR grid ``lrs`` (``seeds`` each; default :data:`GRID_LRS`, or :data:`SF_GRID_LRS`
    for schedule-free; a mapping gives each entry its own), extended by a half-decade at an edge while
    the best point sits on it (at most ``extend`` times per side); the best point maximises mean final
    accuracy (ties: the smaller LR). All entries advance together so the pool stays busy."""

    def initial(entry: str) -> Sequence[float]:
        if isinstance(lrs, Mapping):
            return lrs[entry]
        return lrs or (SF_GRID_LRS if entry == "schedulefree" else GRID_LRS)

    points = {entry: sorted(float(x) for x in initial(entry)) for entry in entries}
    runs: dict[str, dict[float, list[dict[str, Any]]]] = {entry: {} for entry in entries}
    budget = {entry: {"up": extend, "down": extend} for entry in entries}
    while True:
        jobs = [
            (entry, lr, entry_run(task, entry, lr, seed))
            for entry in entries
            for lr in points[entry]
            if lr not in runs[entry]
            for seed in seeds
        ]
        if not jobs:
            break
        results = execute([job for _, _, job in jobs], workers=workers, verbose=verbose)
        for (entry, lr, _), result in zip(jobs, results):
            runs[entry].setdefault(lr, []).append(result)
        for entry in entries:
            grid_lrs = points[entry]
            best = _best(runs[entry])
            if best == grid_lrs[-1] and budget[entry]["up"] > 0:
                budget[entry]["up"] -= 1
                grid_lrs.append(step_up(best))
            elif best == grid_lrs[0] and budget[entry]["down"] > 0:
                budget[entry]["down"] -= 1
                grid_lrs.insert(0, step_down(best))
    return {entry: Grid(task, entry, runs[entry], _best(runs[entry])) for entry in entries}


def _best(runs: dict[float, list[dict[str, Any]]]) -> float:
    return max(sorted(runs), key=lambda lr: (round(_score(runs[lr]), 12), -lr))
