"""Core figures of issues 11 and 23 ("Must show"), each a ratio against a peer measured in the same run.

Rows (all in one process unless said, torch on one thread):

1. scalar ``sched(t)`` for every family and recipe (and ``warmup(500) >> cosine(10000)``) vs the
   fastest peer's own scalar evaluation of it (torch's closed forms, transformers' lr lambdas, optax's
   schedule called eagerly on a Python int), and vs a tight hand-written ``math`` closure (constants
   hoisted, no ``min()``; checked to agree at every timed step). CPU time, interleaved.
2. ``lrkit.torch.Scheduler.step()`` vs torch's equivalent scheduler (StepLR, MultiStepLR, ...,
   LambdaLR with the hand-written closure where torch has none), and with ``clock=WallClock()``
   vs ``CosineAnnealingLR``; 1 and 10 param groups. Two ways, both reported:
   *loop*: ``opt.step(); sched.step()`` with only ``sched.step()`` timed; *direct*: lrkit's update
   hook (what ``opt.step()`` runs after an update, called directly) + ``Scheduler.step()`` vs
   the torch scheduler's ``step()`` alone.
3. the preview ``sched(np.arange(1_000_000))`` of every family vs the faster of its two natural
   hand-written numpy forms (one ``np.where`` over the whole array; per-segment slices). CPU time.
4. one scalar evaluation (and one numpy evaluation of 1,000 steps) vs the number of pieces of a
   join and factors of a product (1, 10, 100, 1,000): times and the growth.
5. tracemalloc bytes (peak and retained after building the scheduler and 100 steps) of a
   Scheduler with 1,000 groups and 1,000 distinct schedules vs torch ``LambdaLR`` (1,000
   lambdas) and ``CosineAnnealingLR``; and ``sgdr(10, mult=1.00001)`` over 10,000 updates.
6. ``import lrkit.torch`` on top of ``import torch``: fresh interpreters, interleaved.
7. ``Scheduler.step()`` and a jitted optax step of this tree against a checkout of main (``--main PATH``,
   default ``/tmp/core-main21``: ``git worktree add --detach /tmp/core-main21 21a4fa1``): fresh
   interpreters, alternating.

Timing protocol: candidates interleaved (A B A B ...), each sample a batch of calls, the median of
the samples (>= 5; the range is printed), gc off while a sample runs. Nothing is asserted about
speed: the "target" column only reads the ratio against the issue's target.

    python bench/core.py --main /tmp/core-main21   # about twelve minutes on 2 busy cores; bench/results/core.md
    python bench/core.py --quick    # smallest sizes (+ the import row); core.quick.md
    python bench/core.py --only preview --out /tmp/core.md
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lrkit as lk
from harness import RESULTS, header
from lrkit.core._io import atomic_write
from lrkit.torch import Scheduler

ROOT = Path(__file__).resolve().parent.parent
pi = math.pi
cos = math.cos


# -- timing ------------------------------------------------------------------------------------
def samples(cases: dict[str, Callable[[], object]], repeats: int, number: int) -> dict[str, list[float]]:
    """Seconds per run of each case, ``repeats`` samples each, interleaved; each sample runs it ``number`` times."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm up
        fn()
    enabled = gc.isenabled()
    try:
        for _ in range(repeats):
            for name, fn in cases.items():
                gc.disable()
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                elapsed = time.perf_counter() - start
                if enabled:
                    gc.enable()
                out[name].append(elapsed / number)
    finally:
        if enabled:
            gc.enable()
    return out


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """How many runs of ``fn`` take about ``seconds`` (at least 1)."""
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, round(seconds / max(once, 1e-9)))


@dataclass
class T:
    """A median with its range (seconds)."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, xs: list[float]) -> T:
        return cls(statistics.median(xs), min(xs), max(xs))

    def us(self, digits: int = 2) -> str:
        return f"{self.median * 1e6:.{digits}f} ({self.low * 1e6:.{digits}f}-{self.high * 1e6:.{digits}f})"


def verdict(ratio: float, target: float, unit: str = "x") -> str:
    return f"<= {target:g}{unit}: {'met' if ratio <= target else 'NOT met'}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# -- the families: (name, schedule, closure, torch scheduler) for a run of n steps ---------------------
@dataclass
class Family:
    name: str
    schedule: lk.Schedule
    closure: Callable[[float], float]
    torch_name: str
    torch: Callable[[SGD], Any]  # builds torch's equivalent scheduler on an optimizer
    hyper: dict[str, lk.Schedule] | None = None


def families(n: int) -> list[Family]:
    """Every family and recipe at length ``n`` (n = 10_000 for the scalar rows), each with a tight closure:
    the formula as a person would write it for speed (constants hoisted, a conditional instead of ``min()``)."""
    w = n // 20  # warmup
    every = n // 5
    m1, m2, m3 = 3 * n // 10, 6 * n // 10, 9 * n // 10
    period = n // 10
    up = n // 5
    rise = 0.3 * n
    out: list[Family] = []

    def add(name: str, schedule: lk.Schedule, closure: Callable, torch_name: str = "LambdaLR", build: Any = None,
            hyper: dict[str, lk.Schedule] | None = None) -> None:
        if build is None:
            def build(opt: SGD, f: Callable = closure) -> Any:
                return tl.LambdaLR(opt, f)
        out.append(Family(name, schedule, closure, torch_name, build, hyper))

    def constant(t):
        return 0.5

    add("constant", lk.constant(0.5), constant)

    inv_n, half_pi_n = 1.0 / n, pi / n

    def anneal(t):
        if t >= n:
            return 1.0
        return 0.55 - 0.45 * cos(t * half_pi_n)

    add("anneal", lk.anneal(n, 0.1, 1.0, "cos"), anneal)

    def linear(t):
        return 1.0 - t * inv_n if t < n else 0.0

    add("linear", lk.linear(n), linear, "LinearLR",
        lambda opt: tl.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=n))

    def cosine(t):
        return 0.505 + 0.495 * cos(t * half_pi_n) if t < n else 0.01

    add("cosine", lk.cosine(n, floor=0.01), cosine, "CosineAnnealingLR",
        lambda opt: tl.CosineAnnealingLR(opt, T_max=n, eta_min=0.01))

    def polynomial(t):
        if t >= n:
            return 0.0
        r = 1.0 - t * inv_n
        return r * r

    add("polynomial", lk.polynomial(n, power=2.0), polynomial, "PolynomialLR",
        lambda opt: tl.PolynomialLR(opt, total_iters=n, power=2.0))

    inv_w1 = 1.0 / (w + 1.0)

    def warmup(t):  # lrkit's default starts one step in: peak (t + 1) / (w + 1)
        return (t + 1.0) * inv_w1 if t < w else 1.0

    add("warmup", lk.warmup(w), warmup, "LinearLR",
        lambda opt: tl.LinearLR(opt, start_factor=1.0 / (w + 1), end_factor=1.0, total_iters=w))

    def untuned_warmup(t):
        return t * 0.0005 if t < 2000 else 1.0

    add("untuned_warmup", lk.untuned_warmup(0.999), untuned_warmup)

    def step_decay(t):
        return 0.5 ** (t // every)

    add("step_decay", lk.step_decay(every, decay=0.5), step_decay, "StepLR", lambda opt: tl.StepLR(opt, every, 0.5))

    def multistep(t):
        if t < m1:
            return 1.0
        if t < m2:
            return 0.1
        if t < m3:
            return 0.010000000000000002
        return 0.0010000000000000002

    add("multistep", lk.multistep([m1, m2, m3], decay=0.1), multistep, "MultiStepLR",
        lambda opt: tl.MultiStepLR(opt, [m1, m2, m3], 0.1))

    def exponential(t):
        return 0.9995**t

    add("exponential", lk.exponential(0.9995), exponential, "ExponentialLR",
        lambda opt: tl.ExponentialLR(opt, 0.9995))

    def inverse_time(t):
        return 1.0 / (1.0 + 0.001 * t)

    add("inverse_time", lk.inverse_time(0.001), inverse_time)

    inv_w = 1.0 / w
    sqrt = math.sqrt

    def inverse_sqrt(t):
        return 1.0 / sqrt(1.0 + t * inv_w)

    add("inverse_sqrt", lk.inverse_sqrt(w), inverse_sqrt)

    tanh = math.tanh
    ten_n = 10.0 / n

    def tanh_decay(t):
        if t >= n:
            t = n
        return 0.5 - 0.5 * tanh(-7.0 + t * ten_n)

    add("tanh_decay", lk.tanh_decay(n), tanh_decay)

    def piecewise_constant(t):
        if t < m1:
            return 1.0
        if t < m2:
            return 0.5
        return 0.1

    add("piecewise_constant", lk.piecewise_constant([m1, m2], [1.0, 0.5, 0.1]), piecewise_constant)

    inv_m1, inv_rest = 1.0 / m1, 1.0 / (n - m1)

    def piecewise_linear(t):
        if t < m1:
            return t * inv_m1
        if t < n:
            return 1.0 - (t - m1) * inv_rest
        return 0.0

    add("piecewise_linear", lk.piecewise_linear([0, m1, n], [0.0, 1.0, 0.0]), piecewise_linear)

    log2, floor_ = math.log2, math.floor
    inv_period = 1.0 / period

    def sgdr(t):
        i = floor_(log2(t * inv_period + 1.0))
        length = period * 2**i
        return 0.5 + 0.5 * cos(pi * (t - (length - period)) / length)

    add("sgdr", lk.sgdr(period, mult=2), sgdr, "CosineAnnealingWarmRestarts",
        lambda opt: tl.CosineAnnealingWarmRestarts(opt, T_0=period, T_mult=2))

    two_up, inv_up = 2 * up, 1.0 / up

    def cyclic(t):
        u = t % two_up
        return 0.1 + 0.9 * (u * inv_up if u <= up else (two_up - u) * inv_up)

    add("cyclic", lk.cyclic(up, floor=0.1), cyclic, "CyclicLR",
        lambda opt: tl.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=up, cycle_momentum=False))

    pi_rise, pi_fall = pi / rise, pi / (n - rise)

    def one_cycle(t):
        if t < rise:
            return 0.52 - 0.48 * cos(t * pi_rise)
        if t < n:
            return 0.500002 + 0.499998 * cos((t - rise) * pi_fall)
        return 4e-06

    add("one_cycle", lk.one_cycle(n), one_cycle, "OneCycleLR",
        lambda opt: tl.OneCycleLR(opt, max_lr=1.0, total_steps=n, cycle_momentum=False))

    def one_cycle_momentum(t):
        if t < rise:
            return 0.9 + 0.05 * cos(t * pi_rise)
        if t < n:
            return 0.9 - 0.05 * cos((t - rise) * pi_fall)
        return 0.95

    # the Scheduler row drives lr and momentum together, as OneCycleLR(cycle_momentum=True) does
    add("one_cycle_momentum", lk.one_cycle_momentum(n), one_cycle_momentum, "OneCycleLR (+momentum)",
        lambda opt: tl.OneCycleLR(opt, max_lr=1.0, total_steps=n, cycle_momentum=True),
        hyper={"momentum": lk.one_cycle_momentum(n)})

    decay = 0.2 * n
    stable_end, inv_decay = n - decay, 1.0 / decay

    def wsd(t):
        if t < w:
            return (t + 1.0) * inv_w1
        if t < stable_end:
            return 1.0
        if t < n:
            return 1.0 - (t - stable_end) * inv_decay
        return 0.0

    add("wsd", lk.wsd(n, warmup=w), wsd)

    hold = 0.72 * n
    pi_tail = pi / (n - hold)

    def flat_cosine(t):
        if t < hold:
            return 1.0
        return 0.5 + 0.5 * cos((t - hold) * pi_tail) if t < n else 0.0

    add("flat_cosine", lk.flat_cosine(n), flat_cosine)

    up_f, down_f = 0.22 * n, 0.28 * n
    inv_up1, down_start, inv_down = 1.0 / (up_f + 1.0), n - down_f, 1.0 / down_f

    def warmup_flat_warmdown(t):
        if t < up_f:
            return (t + 1.0) * inv_up1
        if t < down_start:
            return 1.0
        return 1.0 - (t - down_start) * inv_down if t < n else 0.0

    add("warmup_flat_warmdown", lk.warmup_flat_warmdown(n), warmup_flat_warmdown)

    pi_after = pi / (n - w)

    def warmup_cosine(t):
        if t < w:
            return (t + 1.0) * inv_w1
        return 0.5 + 0.5 * cos((t - w) * pi_after) if t < n else 0.0

    add("warmup_cosine", lk.warmup_cosine(n, warmup=w), warmup_cosine)

    end = n + w

    def joined(t):
        if t < w:
            return (t + 1.0) * inv_w1
        return 0.5 + 0.5 * cos((t - w) * half_pi_n) if t < end else 0.0

    add(f"warmup({w}) >> cosine({n})", lk.warmup(w) >> lk.cosine(n), joined)
    return out


def peers(name: str, n: int) -> dict[str, Callable[[int], Any]]:
    """The peers' own scalar evaluations of the family ``name`` at length ``n`` (the families() parameters):
    torch's closed forms (``last_epoch`` set, then ``_get_closed_form_lr()``, or ``get_lr()`` where that is
    computed from ``last_epoch`` alone: CyclicLR, OneCycleLR), transformers' lr lambdas, optax's schedules
    called eagerly on a Python int. timm is not importable on this machine (its top-level import needs
    torchvision), so it is not measured."""
    import functools

    import optax
    import transformers.optimization as hf

    w, every = n // 20, n // 5
    m1, m2, m3 = 3 * n // 10, 6 * n // 10, 9 * n // 10
    up = n // 5

    def torch_closed(make: Callable[[SGD], Any], closed: bool = True) -> Callable[[int], Any]:
        opt = SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = make(opt)
        sched._get_lr_called_within_step = True  # get_lr() without its "call get_last_lr()" warning

        def closed_form(t: int) -> Any:
            sched.last_epoch = t
            return sched._get_closed_form_lr()[0]

        def get_lr(t: int) -> Any:  # OneCycleLR raises past its total steps: held at the end, as lrkit holds
            sched.last_epoch = t if t < n else n
            return sched.get_lr()[0]

        return closed_form if closed else get_lr

    table: dict[str, dict[str, Callable[[int], Any]]] = {
        "constant": {
            "torch ConstantLR": torch_closed(lambda o: tl.ConstantLR(o, factor=0.5, total_iters=10**9)),
            "transformers": functools.partial(hf._get_constant_lambda),
            "optax": optax.constant_schedule(0.5),
        },
        "linear": {
            "torch LinearLR": torch_closed(lambda o: tl.LinearLR(o, 1.0, 0.0, n)),
            "transformers": functools.partial(
                hf._get_linear_schedule_with_warmup_lr_lambda, num_warmup_steps=0, num_training_steps=n),
            "optax": optax.linear_schedule(1.0, 0.0, n),
        },
        "cosine": {
            "torch CosineAnnealingLR": torch_closed(lambda o: tl.CosineAnnealingLR(o, T_max=n, eta_min=0.01)),
            "transformers": functools.partial(
                hf._get_cosine_with_min_lr_schedule_with_warmup_lr_rate_lambda, num_warmup_steps=0,
                num_training_steps=n, num_cycles=0.5, min_lr_rate=0.01),
            "optax": optax.cosine_decay_schedule(1.0, n, alpha=0.01),
        },
        "polynomial": {
            "torch PolynomialLR": torch_closed(lambda o: tl.PolynomialLR(o, total_iters=n, power=2.0)),
            "transformers": functools.partial(
                hf._get_polynomial_decay_schedule_with_warmup_lr_lambda, num_warmup_steps=0, num_training_steps=n,
                lr_end=0.0, power=2.0, lr_init=1.0),
            "optax": optax.polynomial_schedule(1.0, 0.0, 2.0, n),
        },
        "warmup": {
            "torch LinearLR": torch_closed(lambda o: tl.LinearLR(o, 1.0 / (w + 1), 1.0, w)),
            "transformers": functools.partial(hf._get_constant_schedule_with_warmup_lr_lambda, num_warmup_steps=w),
            "optax": optax.linear_schedule(1.0 / (w + 1), 1.0, w),
        },
        "step_decay": {
            "torch StepLR": torch_closed(lambda o: tl.StepLR(o, every, 0.5)),
            "optax": optax.exponential_decay(1.0, every, 0.5, staircase=True),
        },
        "multistep": {
            "torch MultiStepLR": torch_closed(lambda o: tl.MultiStepLR(o, [m1, m2, m3], 0.1)),
            "optax": optax.piecewise_constant_schedule(1.0, {m1: 0.1, m2: 0.1, m3: 0.1}),
        },
        "exponential": {
            "torch ExponentialLR": torch_closed(lambda o: tl.ExponentialLR(o, 0.9995)),
            "optax": optax.exponential_decay(1.0, 1, 0.9995),
        },
        "inverse_sqrt": {
            "transformers": functools.partial(hf._get_inverse_sqrt_schedule_lr_lambda, num_warmup_steps=0, timescale=w),
        },
        "piecewise_constant": {"optax": optax.piecewise_constant_schedule(1.0, {m1: 0.5, m2: 0.2})},
        "piecewise_linear": {
            "optax": optax.join_schedules(
                [optax.linear_schedule(0.0, 1.0, m1), optax.linear_schedule(1.0, 0.0, n - m1)], [m1]),
        },
        "cyclic": {
            "torch CyclicLR": torch_closed(
                lambda o: tl.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=up, cycle_momentum=False), False),
        },
        "one_cycle": {
            "torch OneCycleLR": torch_closed(
                lambda o: tl.OneCycleLR(o, max_lr=1.0, total_steps=n + 1, cycle_momentum=False), False),
            "optax": optax.cosine_onecycle_schedule(n, 1.0),
        },
        "one_cycle_momentum": {
            "torch OneCycleLR (+momentum)": torch_closed(
                lambda o: tl.OneCycleLR(o, max_lr=1.0, total_steps=n + 1, cycle_momentum=True), False),
        },
        "wsd": {
            "transformers": functools.partial(
                hf._get_wsd_scheduler_lambda, num_warmup_steps=w, num_stable_steps=n - w - n // 5,
                num_decay_steps=n // 5, warmup_type="linear", decay_type="linear", min_lr_ratio=0.0, num_cycles=0.5),
        },
        "warmup_cosine": {
            "transformers": functools.partial(
                hf._get_cosine_schedule_with_warmup_lr_lambda, num_warmup_steps=w, num_training_steps=n,
                num_cycles=0.5),
            "optax": optax.warmup_cosine_decay_schedule(0.0, 1.0, w, n),
        },
        f"warmup({w}) >> cosine({n})": {
            "transformers": functools.partial(
                hf._get_cosine_schedule_with_warmup_lr_lambda, num_warmup_steps=w, num_training_steps=n + w,
                num_cycles=0.5),
            "optax": optax.warmup_cosine_decay_schedule(0.0, 1.0, w, n + w),
        },
    }
    return table.get(name, {})


def check(f: Family, steps: list[int]) -> None:
    """The closure is the same formula: it agrees with lrkit at every timed step."""
    for t in steps:
        a, b = f.schedule(t), f.closure(t)
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            raise AssertionError(f"{f.name}: the closure gives {b!r} at step {t}, lrkit {a!r}")


# -- 1. scalar sched(t) vs the fastest peer's own scalar evaluation ---------------------------------------------
def cpu_samples(cases: dict[str, Callable[[], object]], repeats: int, number: int) -> dict[str, list[float]]:
    """CPU seconds per run of each case (``time.process_time``), interleaved as :func:`samples` does."""
    out: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    enabled = gc.isenabled()
    try:
        for _ in range(repeats):
            for name, fn in cases.items():
                gc.disable()
                start = time.process_time()
                for _ in range(number):
                    fn()
                out[name].append((time.process_time() - start) / number)
                if enabled:
                    gc.enable()
    finally:
        if enabled:
            gc.enable()
    return out


def scalar_rows(quick: bool) -> str:
    n = 10_000
    steps = [int(x) for x in np.linspace(0, 1.2 * n, 64)]
    repeats, number = (5, 20) if quick else (11, 60)
    floor, floor_function = dispatch_floor(steps, repeats, number)
    rows = []
    worst_peer = 0.0
    worst_above = 0.0  # over the rows whose fastest peer is not below the floor
    below: list[str] = []
    worst_closure = 0.0
    gain: list[float] = []  # interpreted / lrkit: what lrkit.core.compiled earns per family
    for f in families(n):
        check(f, steps)
        sched, closure = f.schedule, f.closure
        sched(0)  # the first call builds the scalar path (lrkit.core.compiled); it is not what is measured

        def batch(fn: Any) -> Callable[[], None]:
            def run() -> None:
                for t in steps:
                    fn(t)
            return run

        interpreted = pickle.loads(pickle.dumps(sched))  # the same value, its scalar path the closed form through MATH
        object.__setattr__(interpreted, "_scalar", interpreted._math)  # (as if lrkit.core.compiled were removed)
        cases = {"lrkit": batch(sched), "closure": batch(closure), "interpreted": batch(interpreted)}
        named = peers(f.name, n)
        cases.update({name: batch(fn) for name, fn in named.items()})
        slow = any(name == "optax" for name in named)
        got = cpu_samples(cases, repeats, max(number // 10, 2) if slow else number)
        med = {k: T.of([x / len(steps) for x in v]) for k, v in got.items()}
        lrkit_t = med["lrkit"].median
        closure_ratio = lrkit_t / med["closure"].median
        worst_closure = max(worst_closure, closure_ratio)
        if named:
            fastest = min(named, key=lambda k: med[k].median)
            ratio = lrkit_t / med[fastest].median
            worst_peer = max(worst_peer, ratio)
            target = verdict(ratio, 1.0)
            if med[fastest].median < floor:  # no instance call can reach it: said, with the floor, not hidden
                below.append(f.name)
                target += f" (the peer is below the floor; lrkit / floor {lrkit_t / floor:.2f}x)"
            else:
                worst_above = max(worst_above, ratio)
            peer_cells = [fastest, med[fastest].us(3), f"{ratio:.2f}x", target,
                          ", ".join(f"{k} {med[k].median * 1e6:.2f}" for k in named if k != fastest) or "-"]
        else:
            peer_cells = ["(no peer has it)", "-", "-", "-", "-"]
        gain.append(med["interpreted"].median / lrkit_t)
        rows.append([f.name, med["lrkit"].us(3), med["closure"].us(3), f"{closure_ratio:.2f}x", *peer_cells,
                     f"{med['interpreted'].median * 1e6:.3f}"])
    return (
        "### 1. Scalar `sched(t)` vs the fastest peer's own scalar evaluation\n\n"
        f"Per call, µs of CPU time (median and range of {repeats} interleaved samples of 64 calls at integer steps "
        f"spread over [0, 1.2 n], n = {n:,}). Peers: torch's closed forms (`last_epoch` set, then "
        "`_get_closed_form_lr()`, or `get_lr()` where it is computed from `last_epoch` alone: CyclicLR, "
        "OneCycleLR), transformers' lr lambdas, optax's schedules called eagerly on a Python int (timm is not "
        "importable here: its top-level import needs torchvision). *closure*: the formula written by hand for "
        "speed (constants hoisted, conditionals instead of `min()`), checked to agree with lrkit at every timed "
        "step (rel 1e-9): the floor no library call reaches. "
        f"*The floor*: CPython's cost of calling an instance whose `__call__` only returns a constant, measured "
        f"here the same way: **{floor * 1e6:.3f} µs** (a bare function doing the same: {floor_function * 1e6:.3f} µs); "
        "`sched(t)` is an instance call, so a peer whose bare lambda costs less is out of reach "
        f"({', '.join(below) or 'none'}). "
        f"Worst lrkit / fastest peer: **{worst_peer:.2f}x** (target <= 1x: "
        f"{'met' if worst_peer <= 1 else 'NOT met'}); where the peer is above the floor: **{worst_above:.2f}x** "
        f"({'met' if worst_above <= 1 else 'NOT met'}); worst lrkit / closure: {worst_closure:.2f}x. "
        "*interpreted*: `sched(t)` of the same value with its scalar path the closed form through the `math` "
        "namespace, not compiled (as it would be without `lrkit.core.compiled`; constant has its own `__call__`, "
        "which does not read it): what the compiled path earns, interpreted / lrkit "
        f"{min(gain):.1f}x to {max(gain):.1f}x (median {statistics.median(gain):.1f}x).\n\n"
        + table(
            ["schedule", "lrkit µs", "closure µs", "lrkit / closure", "fastest peer", "peer µs", "lrkit / peer",
             "target", "other peers µs", "interpreted µs"],
            rows,
        )
    )


def dispatch_floor(steps: list[int], repeats: int, number: int) -> tuple[float, float]:
    """Seconds per call (CPU time, as row 1 measures) of an instance whose ``__call__`` returns a constant, and of a
    function doing the same: the floor of ``sched(t)``, and of a peer's bare lambda."""

    class Callable_:
        def __call__(self, t: float) -> float:
            return 0.1

    def function(t: float) -> float:
        return 0.1

    instance = Callable_()

    def instance_batch() -> None:
        for t in steps:
            instance(t)

    def function_batch() -> None:
        for t in steps:
            function(t)

    got = cpu_samples({"instance": instance_batch, "function": function_batch}, repeats, number)
    return T.of(got["instance"]).median / len(steps), T.of(got["function"]).median / len(steps)


# -- 2. Scheduler.step() vs torch -------------------------------------------------------------------------
def optimizer(groups: int, momentum: float = 0.0) -> SGD:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-3 * (i + 1)} for i in range(groups)]
    opt = SGD(params, lr=1e-3, momentum=momentum)
    for p in opt.param_groups:
        p["params"][0].grad = torch.ones(1)
    return opt


def update_hook(opt: SGD) -> Callable[[], None]:
    """The step post-hook the Scheduler registered: what ``opt.step()`` runs after an update."""
    hook = list(opt._optimizer_step_post_hooks.values())[-1]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    return lambda: hook(opt, args, kwargs)


def in_loop(opt_step: Callable[[], Any], sched_step: Callable[[], Any], repeats: int, number: int) -> list[float]:
    """Seconds per ``sched_step()`` in a loop of ``opt_step(); sched_step()``: only the scheduler's call is timed.

    Each sample sums the ``perf_counter`` deltas around ``number`` calls (the timer's own ~0.1 µs is in
    every figure alike); a preemption during ``opt.step()`` cannot land in the figure.
    """
    clock = time.perf_counter
    out = []
    for _ in range(repeats):
        total = 0.0
        gc.disable()
        try:
            for _ in range(number):
                opt_step()
                start = clock()
                sched_step()
                total += clock() - start
        finally:
            gc.enable()
        out.append(total / number)
    return out


def step_pair(make_lrkit: Callable[[SGD], Scheduler], make_torch: Callable[[SGD], Any], groups: int,
              momentum: float, repeats: int, number: int) -> tuple[T, T, T, T, T]:
    """(loop lrkit, loop torch, direct lrkit, direct torch, opt.step alone), seconds per update."""
    o_lk, o_tc = optimizer(groups, momentum), optimizer(groups, momentum)
    s_lk, s_tc = make_lrkit(o_lk), make_torch(o_tc)
    o_tc.step()  # torch warns (every step) if its scheduler steps before the optimizer ever did
    hook = update_hook(o_lk)
    lk_step, tc_step = s_lk.step, s_tc.step

    def direct_lrkit() -> None:
        hook()
        lk_step()

    loop: dict[str, list[float]] = {"lk": [], "tc": []}
    direct: dict[str, list[float]] = {"dlk": [], "dtc": [], "opt": []}
    for _ in range(repeats):  # interleaved: one sample of each, in turn
        loop["lk"] += in_loop(o_lk.step, lk_step, 1, number)
        loop["tc"] += in_loop(o_tc.step, tc_step, 1, number)
        got = samples({"dlk": direct_lrkit, "dtc": tc_step, "opt": o_tc.step}, 1, number)
        for k, v in got.items():
            direct[k] += v
    return T.of(loop["lk"]), T.of(loop["tc"]), T.of(direct["dlk"]), T.of(direct["dtc"]), T.of(direct["opt"])


def step_rows(quick: bool) -> str:
    n = 10_000_000  # never reached: no peer runs past its end
    repeats, number = (5, 64) if quick else (15, 128)
    rows = []
    worst_loop = worst_direct = 0.0
    wall_ratios = []
    group_counts = (1, 10)
    for groups in group_counts:
        cases: list[tuple[str, str, Callable, Callable, float, float]] = []
        cases.append((
            "cosine, clock=WallClock()", "CosineAnnealingLR",
            lambda opt: Scheduler(opt, lk.cosine(n), clock=lk.WallClock()),
            lambda opt: tl.CosineAnnealingLR(opt, T_max=n), 0.0, 1.0,
        ))
        for f in families(n):
            hyper = f.hyper

            def make(opt: SGD, s: lk.Schedule = f.schedule, h: Any = hyper) -> Scheduler:
                return Scheduler(opt, lk.one_cycle(n) if h else s, hyper=h)

            cases.append((f.name, f.torch_name, make, f.torch, 0.9 if hyper else 0.0, 0.3))
        for name, peer, make_lk, make_tc, momentum, target in cases:
            loop_lk, loop_tc, d_lk, d_tc, base = step_pair(make_lk, make_tc, groups, momentum, repeats, number)
            r_loop = loop_lk.median / loop_tc.median
            r_direct = d_lk.median / d_tc.median
            if target == 1.0:
                wall_ratios += [r_loop, r_direct]
            else:
                worst_loop, worst_direct = max(worst_loop, r_loop), max(worst_direct, r_direct)
            rows.append([
                name, peer, str(groups), loop_lk.us(), loop_tc.us(), f"{r_loop:.2f}x", d_lk.us(), d_tc.us(),
                f"{r_direct:.2f}x", f"{base.median * 1e6:.1f}", verdict(max(r_loop, r_direct), target),
            ])
    return (
        "### 2. `lrkit.torch.Scheduler.step()` vs torch's equivalent scheduler\n\n"
        "Per update, µs (median, range). *loop*: a real training loop `opt.step(); sched.step()` (SGD, one "
        "1-element parameter per group) in which only `sched.step()` is timed (`perf_counter` around each call, "
        "summed per sample; `opt.step()` is measured separately, last column), so lrkit's count of the update "
        "(its step post-hook, run inside `opt.step()`) is not in this column. *direct*: lrkit's update hook "
        "called directly + `Scheduler.step()`, vs torch's `scheduler.step()` alone (hook included: the "
        "complete cost lrkit adds to an update). "
        f"{repeats} samples of {number} updates each; `opt.step()` alone is the last µs column. "
        "Torch peers without a closed form of the family are `LambdaLR` with the row-1 closure. "
        "The `one_cycle_momentum` row schedules lr and momentum (`hyper={'momentum': ...}`) vs `OneCycleLR` "
        "cycling both.\n\n"
        f"Worst ratio over the families (target <= 0.3x): loop **{worst_loop:.2f}x**, direct "
        f"**{worst_direct:.2f}x**. Wall clock (target <= 1x): "
        f"{', '.join(f'{r:.2f}x' for r in wall_ratios)} (loop, direct; 1 then 10 groups).\n\n"
        + table(
            ["lrkit schedule", "torch peer", "groups", "loop lrkit µs", "loop torch µs", "loop ratio",
             "direct lrkit µs", "direct torch µs", "direct ratio", "opt.step µs", "target"],
            rows,
        )
    )


# -- 3. preview of every family vs hand-written numpy -------------------------------------------------------
def numpy_forms(n: int) -> dict[str, dict[str, Callable[[np.ndarray], np.ndarray]]]:
    """The natural hand-written numpy forms of every family of :func:`families` at length ``n``: one expression
    (``np.where`` between the pieces) over the whole array, and, for the piecewise ones, per-segment slices of
    the sorted steps. Each takes the int64 steps and converts them itself, as ``sched(steps)`` does."""
    w, every = n // 20, n // 5
    m1, m2, m3 = 3 * n // 10, 6 * n // 10, 9 * n // 10
    period, up, rise = n // 10, n // 5, 0.3 * n
    decay, hold, up_f, down_f = 0.2 * n, 0.72 * n, 0.22 * n, 0.28 * n
    f = np.float64

    def sliced(edges: list[float], pieces: list[Callable[[np.ndarray], np.ndarray]]) -> Callable:
        def run(steps: np.ndarray) -> np.ndarray:
            t = steps.astype(f)
            out = np.empty_like(t)
            cuts = [0, *np.searchsorted(t, edges).tolist(), t.size]
            for piece, lo, hi in zip(pieces, cuts[:-1], cuts[1:]):
                if hi > lo:
                    out[lo:hi] = piece(t[lo:hi])
            return out
        return run

    def one(expression: Callable[[np.ndarray], np.ndarray]) -> dict[str, Callable]:
        return {"where": lambda steps: expression(steps.astype(f))}

    def warm(t: np.ndarray) -> np.ndarray:
        return (t + 1.0) / (w + 1.0)

    forms: dict[str, dict[str, Callable]] = {
        "constant": {"where": lambda steps: np.full(steps.shape, 0.5)},
        "anneal": one(lambda t: 0.55 - 0.45 * np.cos(np.minimum(t, n) * (pi / n))),
        "linear": one(lambda t: 1.0 - np.minimum(t, n) / n),
        "cosine": one(lambda t: 0.505 + 0.495 * np.cos(np.minimum(t, n) * (pi / n))),
        "polynomial": one(lambda t: (1.0 - np.minimum(t, n) / n) ** 2),
        "warmup": one(lambda t: (np.minimum(t, w) + 1.0) / (w + 1.0)),
        "untuned_warmup": one(lambda t: np.minimum(t * 0.0005, 1.0)),
        "step_decay": one(lambda t: 0.5 ** np.floor(t / every)),
        "multistep": {
            "where": lambda steps: np.where(
                steps < m1, 1.0, np.where(steps < m2, 0.1, np.where(steps < m3, 0.01, 0.001))),
            "sliced": sliced([m1, m2, m3], [lambda t: 1.0, lambda t: 0.1, lambda t: 0.01, lambda t: 0.001]),
        },
        "exponential": one(lambda t: 0.9995**t),
        "inverse_time": one(lambda t: 1.0 / (1.0 + 0.001 * t)),
        "inverse_sqrt": one(lambda t: 1.0 / np.sqrt(1.0 + t / w)),
        "tanh_decay": one(lambda t: 0.5 - 0.5 * np.tanh(-7.0 + np.minimum(t, n) * (10.0 / n))),
        "piecewise_constant": {
            "where": lambda steps: np.where(steps < m1, 1.0, np.where(steps < m2, 0.5, 0.1)),
            "sliced": sliced([m1, m2], [lambda t: 1.0, lambda t: 0.5, lambda t: 0.1]),
        },
        "piecewise_linear": {
            "where": lambda steps: np.interp(steps, [0, m1, n], [0.0, 1.0, 0.0]),
            "sliced": sliced([m1, n], [lambda t: t / m1, lambda t: 1.0 - (t - m1) / (n - m1), lambda t: 0.0]),
        },
        "sgdr": one(lambda t: (lambda i: 0.5 + 0.5 * np.cos(pi * (t - period * (2**i - 1)) / (period * 2**i)))(
            np.floor(np.log2(t / period + 1.0)))),
        "cyclic": one(lambda t: (lambda u: 0.1 + 0.9 * np.where(u <= up, u / up, (2 * up - u) / up))(t % (2 * up))),
        "one_cycle": {
            "where": lambda steps: (lambda t: np.where(
                t < rise, 0.52 - 0.48 * np.cos(t * (pi / rise)),
                0.500002 + 0.499998 * np.cos((t - rise) * (pi / (n - rise)))))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([rise, n], [lambda t: 0.52 - 0.48 * np.cos(t * (pi / rise)),
                                         lambda t: 0.500002 + 0.499998 * np.cos((t - rise) * (pi / (n - rise))),
                                         lambda t: 4e-06]),
        },
        "one_cycle_momentum": {
            "where": lambda steps: (lambda t: np.where(
                t < rise, 0.9 + 0.05 * np.cos(t * (pi / rise)),
                0.9 - 0.05 * np.cos((t - rise) * (pi / (n - rise)))))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([rise, n], [lambda t: 0.9 + 0.05 * np.cos(t * (pi / rise)),
                                         lambda t: 0.9 - 0.05 * np.cos((t - rise) * (pi / (n - rise))),
                                         lambda t: 0.95]),
        },
        "wsd": {
            "where": lambda steps: (lambda t: np.where(t < w, warm(t), np.where(
                t < n - decay, 1.0, 1.0 - (t - (n - decay)) / decay)))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([w, n - decay, n], [warm, lambda t: 1.0, lambda t: 1.0 - (t - (n - decay)) / decay,
                                                 lambda t: 0.0]),
        },
        "flat_cosine": {
            "where": lambda steps: (lambda t: np.where(t < hold, 1.0, 0.5 + 0.5 * np.cos(
                (t - hold) * (pi / (n - hold)))))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([hold, n], [lambda t: 1.0, lambda t: 0.5 + 0.5 * np.cos((t - hold) * (pi / (n - hold))),
                                         lambda t: 0.0]),
        },
        "warmup_flat_warmdown": {
            "where": lambda steps: (lambda t: np.where(t < up_f, (t + 1.0) / (up_f + 1.0), np.where(
                t < n - down_f, 1.0, 1.0 - (t - (n - down_f)) / down_f)))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([up_f, n - down_f, n], [lambda t: (t + 1.0) / (up_f + 1.0), lambda t: 1.0,
                                                     lambda t: 1.0 - (t - (n - down_f)) / down_f, lambda t: 0.0]),
        },
        "warmup_cosine": {
            "where": lambda steps: (lambda t: np.where(t < w, warm(t), 0.5 + 0.5 * np.cos(
                (t - w) * (pi / (n - w)))))(np.minimum(steps.astype(f), n)),
            "sliced": sliced([w, n], [warm, lambda t: 0.5 + 0.5 * np.cos((t - w) * (pi / (n - w))), lambda t: 0.0]),
        },
        f"warmup({w}) >> cosine({n})": {
            "where": lambda steps: (lambda t: np.where(t < w, warm(t), 0.5 + 0.5 * np.cos(
                (t - w) * (pi / n))))(np.minimum(steps.astype(f), n + w)),
            "sliced": sliced([w, n + w], [warm, lambda t: 0.5 + 0.5 * np.cos((t - w) * (pi / n)), lambda t: 0.0]),
        },
    }
    return forms


def preview_rows(quick: bool) -> str:
    size = 100_000 if quick else 1_000_000
    n = int(size / 1.2)  # the steps run 20% past the end, as a plot's do
    steps = np.arange(size)
    repeats = 5 if quick else 9
    forms = numpy_forms(n)
    rows = []
    worst = 0.0
    check_ms = 0.0
    for family in families(n):
        sched = family.schedule
        hand = forms[family.name]
        for form in hand.values():
            np.testing.assert_allclose(sched(steps), form(steps), rtol=1e-9, atol=1e-12)
        cases: dict[str, Callable[[], object]] = {"lrkit": lambda s=sched: s(steps)}
        cases.update({k: (lambda fn=fn: fn(steps)) for k, fn in hand.items()})
        # the one check lrkit makes of any array of steps (none below 0), which no hand-written form makes
        cases["check"] = lambda: steps.min() >= 0
        got = cpu_samples(cases, repeats, 1)
        med = {k: T.of(v) for k, v in got.items()}
        best = min(hand, key=lambda k: med[k].median)
        ratio = med["lrkit"].median / med[best].median
        checked = med["lrkit"].median / (med[best].median + med["check"].median)
        worst = max(worst, ratio)
        rows.append([
            family.name, f"{med['lrkit'].median * 1e3:.2f}",
            *[f"{med[k].median * 1e3:.2f}" if k in med else "-" for k in ("where", "sliced")],
            f"{ratio:.2f}x", f"{checked:.2f}x", verdict(ratio, 1.5),
        ])
        check_ms = med["check"].median * 1e3
    return (
        "### 3. Preview: `sched(np.arange(n))` of every family vs hand-written numpy\n\n"
        f"n = {size:,} int64 steps (the families of row 1 at length {n:,}: the steps run 20% past the end); ms of "
        f"CPU time, median of {repeats} interleaved samples. Two natural hand-written numpy forms, each checked to "
        "agree with lrkit (rel 1e-9): *where*, one expression over the whole array (`np.where` between pieces, "
        "`np.interp` for piecewise_linear), and *sliced*, per-segment slices of the sorted steps (piecewise "
        "families); lrkit against the faster of the two. "
        f"Worst ratio: **{worst:.2f}x** (target <= 1.5x: {'met' if worst <= 1.5 else 'NOT met'}). "
        f"*checked*: lrkit against the faster form plus the one check lrkit makes of every array of steps "
        f"(`steps.min() >= 0`: a step below 0 raises, for every family; {check_ms:.2f} ms here), which no "
        "hand-written form makes: for `constant`, whose hand-written form `np.full` reads no step, that check is "
        "most of the cost.\n\n"
        + table(["schedule", "lrkit ms", "where ms", "sliced ms", "lrkit / faster", "lrkit / (faster + check)",
                 "target"], rows)
    )


# -- 4. evaluation cost vs number of pieces ---------------------------------------------------------------
def pieces_rows(quick: bool) -> str:
    sizes = (1, 10, 100, 1000)
    repeats = 5
    rows = []
    notes = []
    for kind in ("join", "product"):
        times: list[float] = []
        arrays: list[float] = []
        for size in sizes:
            if kind == "join":
                parts = [lk.cosine(10 + i % 7) for i in range(size)]
                sched = parts[0] if size == 1 else lk.join(*parts)
            else:
                parts = [lk.cosine(1000 + i) for i in range(size)]
                sched = parts[0] if size == 1 else lk.product(*parts)
            length = float(sched.length or 1000)
            steps = [float(x) for x in np.linspace(0, length, 32)]
            grid = np.linspace(0, length, 1000)

            def scalar_batch(s: Any = sched, st: list[float] = steps) -> None:
                for t in st:
                    s(t)

            def array_call(s: Any = sched, g: np.ndarray = grid) -> None:
                s(g)

            budget = 0.5e-3 if quick else 4e-3
            got = samples({"scalar": scalar_batch}, repeats, calibrate(scalar_batch, budget))
            got.update(samples({"numpy": array_call}, repeats, calibrate(array_call, budget)))
            scalar = T.of([x / len(steps) for x in got["scalar"]])
            array = T.of(got["numpy"])
            arrays.append(array.median)
            times.append(scalar.median)
            rows.append([kind, f"{size:,}", scalar.us(2), f"{scalar.median / times[0]:.1f}",
                         f"{scalar.median / size * 1e6:.3f}", array.us(1)])
        slope = math.log(times[-1] / times[-2]) / math.log(sizes[-1] / sizes[-2])
        grow = math.log(arrays[-1] / arrays[-2]) / math.log(sizes[-1] / sizes[-2])
        notes.append(f"{kind}: scalar x{times[-1] / times[-2]:.1f} from 100 to 1,000 pieces (log-log slope "
                     f"{slope:.2f}: {'linear or better' if slope <= 1.15 else 'WORSE than linear'}), numpy "
                     f"x{arrays[-1] / arrays[-2]:.1f} (slope {grow:.2f}: "
                     f"{'linear or better' if grow <= 1.15 else 'WORSE than linear'})")
    return (
        "### 4. One evaluation vs number of pieces\n\n"
        "Joins of n cosines (`lk.join(*[lk.cosine(10 + i % 7) ...])`, n = 1: the bare cosine) and products of n "
        "factors (`lk.product(*[lk.cosine(1000 + i) ...])`); scalar: µs per `sched(t)` at 32 steps spread over "
        "the length; numpy: µs per `sched(array of 1,000 steps)`. Growth: "
        + "; ".join(notes) + ".\n\n"
        + table(["combinator", "n", "scalar µs", "scalar / n=1", "scalar µs per piece", "numpy 1,000 steps µs"], rows)
    )


# -- 5. memory -----------------------------------------------------------------------------------------------
def traced(build: Callable[[], Any], step: Callable[[Any], None], updates: int) -> tuple[int, int, float]:
    """(peak, retained) bytes allocated by ``build()`` and ``updates`` steps, and the build seconds."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        obj = build()
        built = time.perf_counter() - start
        for _ in range(updates):
            step(obj)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del obj
    return peak - before, current - before, built


def memory_rows(quick: bool) -> str:
    groups = 1000
    rows = []
    many = [lk.cosine(1000 + i) for i in range(groups)]

    def lam(i: int) -> Callable[[int], float]:
        n = 1000 + i
        return lambda t: 0.5 * (1 + cos(pi * min(t, n) / n))

    lambdas = [lam(i) for i in range(groups)]

    def lrkit_case(opt: SGD, schedule: Any) -> tuple[Callable[[], Any], Callable[[Any], None]]:
        box: dict[str, Any] = {}

        def build() -> Scheduler:
            s = Scheduler(opt, schedule)
            box["hook"] = update_hook(opt)
            return s

        def step(s: Scheduler) -> None:
            box["hook"]()
            s.step()

        return build, step

    cases: list[tuple[str, int, int, Callable[[SGD], tuple[Callable, Callable]]]] = [
        ("lrkit Scheduler, 1,000 distinct `cosine(1000 + i)`", groups, 100, lambda o: lrkit_case(o, many)),
        ("torch LambdaLR, 1,000 distinct lambdas", groups, 100,
         lambda o: (lambda: tl.LambdaLR(o, lambdas), lambda s: s.step())),
        ("torch CosineAnnealingLR", groups, 100,
         lambda o: (lambda: tl.CosineAnnealingLR(o, T_max=1000), lambda s: s.step())),
        ("lrkit Scheduler, one `cosine(1000)`", groups, 100, lambda o: lrkit_case(o, lk.cosine(1000))),
    ]
    sgdr_updates = 1000 if quick else 10_000
    mult = 1.00001

    def sgdr_lambda(t: int) -> float:
        i = math.floor(math.log(t * (mult - 1) / 10 + 1) / math.log(mult))
        start = 10 * (mult**i - 1) / (mult - 1)
        return 0.5 * (1 + cos(pi * (t - start) / (10 * mult**i)))

    cases += [
        (f"lrkit Scheduler, `sgdr(10, mult={mult})`", 1, sgdr_updates, lambda o: lrkit_case(o, lk.sgdr(10, mult=mult))),
        ("torch LambdaLR, the same sgdr as a lambda", 1, sgdr_updates,
         lambda o: (lambda: tl.LambdaLR(o, sgdr_lambda), lambda s: s.step())),
        ("torch CosineAnnealingWarmRestarts(10, T_mult=1)", 1, sgdr_updates,
         lambda o: (lambda: tl.CosineAnnealingWarmRestarts(o, T_0=10), lambda s: s.step())),
    ]
    measured: dict[str, tuple[int, int, float]] = {}
    for name, g, updates, make in cases:
        opt = optimizer(g)
        opt.step()
        build, step = make(opt)
        measured[name] = traced(build, step, updates)
        del opt, build, step
    ref = {0: "torch LambdaLR, 1,000 distinct lambdas", 4: "torch LambdaLR, the same sgdr as a lambda"}
    for i, (name, g, updates, _) in enumerate(cases):
        peak, kept, built = measured[name]
        base = ref.get(i)
        if base is not None:
            bp, bk, _ = measured[base]
            cmp = f"{peak / bp:.2f}x / {kept / bk:.2f}x vs LambdaLR ({verdict(max(peak / bp, kept / bk), 2)})"
            c2 = "torch CosineAnnealingLR" if i == 0 else "torch CosineAnnealingWarmRestarts(10, T_mult=1)"
            cp, ck, _ = measured[c2]
            cmp += f"; {peak / cp:.2f}x / {kept / ck:.2f}x vs {c2.removeprefix('torch ')}"
        else:
            cmp = ""
        rows.append([name, f"{g:,}", f"{updates:,}", f"{peak / 1e3:,.1f}", f"{kept / 1e3:,.1f}",
                     f"{built * 1e3:.1f}", cmp])
    return (
        "### 5. Memory of a Scheduler\n\n"
        "tracemalloc bytes allocated by building the scheduler on a ready optimizer (its schedules / lambdas "
        "built beforehand, as the user's input) and running the updates (lrkit: its update hook + `step()`; "
        "torch: `step()`): peak, and retained after the updates (the scheduler alive, after `gc.collect()`). "
        "Build ms is the construction time under tracemalloc (slower than without). Ratio column: "
        "peak / retained.\n\n"
        + table(["case", "groups", "updates", "peak kB", "retained kB", "build ms", "ratio (peak / retained)"], rows)
    )


# -- 6. import time -------------------------------------------------------------------------------------------
def lrkit_importtime() -> float:
    """Seconds that ``-X importtime`` charges to lrkit's own top-level imports after ``import torch``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import torch, lrkit.torch"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    total = 0
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and m.group(3) == " " and m.group(4).split(".")[0] == "lrkit":
            total += int(m.group(2))
    return total / 1e6


def import_rows(quick: bool) -> str:
    repeats = 1 if quick else 5
    codes = {"torch": "import torch", "torch + lrkit.torch": "import torch, lrkit.torch"}
    walls: dict[str, list[float]] = {k: [] for k in codes}
    cpus: dict[str, list[float]] = {k: [] for k in codes}
    for _ in range(repeats):
        for name, code in codes.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

    def cells(xs: dict[str, list[float]]) -> list[str]:
        d = T.of([b - a for a, b in zip(xs["torch"], xs["torch + lrkit.torch"])])
        a, b = T.of(xs["torch"]), T.of(xs["torch + lrkit.torch"])
        return [f"{a.median:.2f} ({a.low:.2f}-{a.high:.2f})", f"{b.median:.2f} ({b.low:.2f}-{b.high:.2f})",
                f"{d.median:.3f} ({d.low:.3f}-{d.high:.3f}) ({verdict(d.median, 0.1, ' s')})"]

    wall, cpu = cells(walls), cells(cpus)
    own = lrkit_importtime()
    return (
        "### 6. `import lrkit.torch` on top of `import torch`\n\n"
        f"Fresh `{Path(sys.executable).name} -c ...` processes, interleaved, median and range of {repeats}; "
        "differences paired per repeat. Wall seconds, and CPU seconds (user + sys of the child: steadier than "
        "wall on a shared machine). `-X importtime`: the cumulative time of lrkit's top-level imports "
        "(everything they pull in that torch had not) in one `import torch, lrkit.torch`.\n\n"
        + table(
            ["import", "wall s", "CPU s"],
            [["`import torch`", wall[0], cpu[0]],
             ["`import torch, lrkit.torch`", wall[1], cpu[1]],
             ["difference (lrkit.torch)", wall[2], cpu[2]],
             ["`-X importtime`, lrkit top-level cumulative", f"{own:.3f} ({verdict(own, 0.1, ' s')})", ""]],
        )
    )


# -- 7. the same run against main: Scheduler.step() and a jitted optax step ------------------------------------
PROBE_CASES = ("cosine", "warmup >> cosine", "multistep", "one_cycle + momentum")


def probe(updates: int) -> dict[str, float]:
    """CPU µs per update of the lrkit installed on ``PYTHONPATH`` (this tree or main's): ``Scheduler.step()`` with
    its update hook (what lrkit adds to an update), and one jitted optax SGD step with an lrkit schedule."""
    import jax
    import jax.numpy as jnp
    import optax

    import lrkit.optax

    n = 10_000_000
    build = {
        "cosine": lambda: (lk.cosine(n), None),
        "warmup >> cosine": lambda: (lk.warmup(500) >> lk.cosine(n), None),
        "multistep": lambda: (lk.multistep([n // 3, n // 2], 0.1), None),
        "one_cycle + momentum": lambda: (lk.one_cycle(n), {"momentum": lk.one_cycle_momentum(n)}),
    }
    out: dict[str, float] = {}
    for name in PROBE_CASES:
        schedule, hyper = build[name]()
        opt = optimizer(1, 0.9 if hyper else 0.0)
        sched = Scheduler(opt, schedule, hyper=hyper)
        hook, step = update_hook(opt), sched.step
        for _ in range(200):
            hook()
            step()
        gc.disable()
        start = time.process_time()
        for _ in range(updates):
            hook()
            step()
        out[f"Scheduler.step(): {name}"] = (time.process_time() - start) / updates * 1e6
        gc.enable()
    tx = optax.sgd(lrkit.optax.schedule(lk.warmup(500) >> lk.cosine(n), base_lr=0.1))
    params = {"w": jnp.ones((16, 16)), "b": jnp.zeros(16)}
    state = tx.init(params)

    @jax.jit
    def update(params: Any, state: Any) -> Any:
        updates_, state = tx.update(params, state, params)
        return optax.apply_updates(params, updates_), state

    for _ in range(50):
        params, state = update(params, state)
    jax.block_until_ready(params)
    start = time.process_time()
    for _ in range(updates // 10):
        params, state = update(params, state)
    jax.block_until_ready(params)
    out["jitted optax SGD step, warmup >> cosine"] = (time.process_time() - start) / (updates // 10) * 1e6
    return out


def sign_test(this: list[float], main: list[float]) -> tuple[int, float]:
    """Rounds in which this tree was slower than main (rounds alternate, so round ``i`` pairs the two), and the
    one-sided sign test's p-value of that many or more if neither tree were slower (binomial, 1/2 each):
    a median ratio above 1 counts as slower only when ``p < 0.05`` (7 rounds: slower in all 7)."""
    n = len(this)
    slower = sum(a > b for a, b in zip(this, main))
    return slower, sum(math.comb(n, k) for k in range(slower, n + 1)) / 2**n


def main_rows(quick: bool, main_tree: Path | None = None) -> str:
    """Rounds of :func:`probe` in fresh interpreters, alternating this tree and main's (``--main PATH``)."""
    import json

    main_tree = main_tree or Path(os.environ.get("LRKIT_MAIN_TREE", "/tmp/core-main21"))
    if not (main_tree / "src" / "lrkit").is_dir():
        return f"### 7. Against main\n\n(skipped: no checkout of main at {main_tree}; give --main PATH)\n"
    rounds, updates = (2, 2_000) if quick else (7, 20_000)
    trees = {"this": ROOT, "main": main_tree}
    got: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
    for _ in range(rounds):
        for who, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=str(tree / "src"), JAX_PLATFORMS="cpu")
            text = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--probe", str(updates)],
                env=env, capture_output=True, text=True, check=True,
            ).stdout
            for key, value in json.loads(text.strip().splitlines()[-1]).items():
                got[who].setdefault(key, []).append(value)
    rows = []
    worst = 0.0
    for key in got["this"]:
        a, b = statistics.median(got["this"][key]), statistics.median(got["main"][key])
        worst = max(worst, a / b)
        slower, p = sign_test(got["this"][key], got["main"][key])
        if a / b <= 1.0:
            mark = "<= 1x: met"
        elif p >= 0.05:
            mark = f"<= 1x: met within noise (slower in {slower} of {rounds} rounds, sign test p = {p:.2f})"
        else:
            mark = f"<= 1x: NOT met (slower in {slower} of {rounds} rounds, sign test p = {p:.3f})"
        rows.append([key, f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}x", mark])
    commit = subprocess.run(["git", "-C", str(main_tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return (
        "### 7. `Scheduler.step()` and a jitted optax step against main, in the same run\n\n"
        f"CPU µs per update, median of {rounds} fresh interpreters per tree, alternating (this tree, then main at "
        f"{commit or main_tree}); each times {updates:,} `Scheduler.step()` calls with the update hook (SGD, one "
        f"group; momentum cycled in the last row) and {updates // 10:,} calls of a jitted `optax.sgd` update on a "
        f"16x16 + 16 parameter tree with `lrkit.optax.schedule(warmup(500) >> cosine(10M))`. Worst this / main: "
        f"**{worst:.2f}x** (target <= 1x; a median above 1x is slower only where a sign test over the paired "
        f"rounds says so at 5%: this tree slower in every one of {rounds} rounds).\n\n"
        + table(["case", "this µs", "main µs", "this / main", "target"], rows)
    )


# -- main ------------------------------------------------------------------------------------------------------
def git_line() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines() if line.strip()]
    extra = f" + uncommitted changes in {', '.join(dirty)}" if dirty else " (src/ clean)"
    return f"- git: {commit}{extra}\n"


SECTIONS: dict[str, Callable[[bool], str]] = {
    "scalar": scalar_rows,
    "step": step_rows,
    "preview": preview_rows,
    "pieces": pieces_rows,
    "memory": memory_rows,
    "import": import_rows,
    "main": main_rows,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smallest sizes, a few seconds (a smoke test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default bench/results/core.md; core.quick.md with --quick)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--main", type=Path, default=None,
                        help="a checkout of main to compare Scheduler.step() and the optax step with (row 7)")
    parser.add_argument("--probe", type=int, default=None, help=argparse.SUPPRESS)  # row 7's child processes
    args = parser.parse_args(argv)
    if args.probe is not None:
        import json

        torch.set_num_threads(1)
        warnings.simplefilter("ignore")
        print(json.dumps(probe(args.probe)))
        return 0
    if args.main is not None:
        os.environ["LRKIT_MAIN_TREE"] = str(args.main)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # torch's and lrkit's one-off warnings (steps past an end, ...) are not measured
    began = time.perf_counter()
    parts = [
        header("lrkit core (issues 11 and 23): ratios against peers in one run", "torch")
        + git_line()
        + f"- torch threads: {torch.get_num_threads()}; nproc: {os.cpu_count()}; "
        + f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
    ]
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        text = section(args.quick)
        parts.append(text + f"\n_{name}: {time.perf_counter() - start:.1f} s_\n")
        print(parts[-1], flush=True)
    parts.append(f"\nTotal: {time.perf_counter() - began:.0f} s.\n")
    out = args.out or RESULTS / ("core.quick.md" if args.quick else "core.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # complete or not at all (an interrupted run leaves the previous file)
        f.write("\n".join(parts))
    print(parts[0] + parts[-1] + f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
