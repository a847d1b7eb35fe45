"""Overhead of one scheduler update: lrkit.torch.Scheduler vs torch, timm, HF and a minimal loop.

For each family and for 1 and 10 param groups, these are timed in one process, interleaved
(A B A B ...), median of repeats with the range:

  lrkit     the optimizer's step post-hook (how lrkit counts a real update) + ``Scheduler.step()``
  torch     the equivalent torch scheduler's ``step()`` (StepLR, CosineAnnealingLR, OneCycleLR,
            CyclicLR, SequentialLR(LinearLR -> CosineAnnealingLR), ReduceLROnPlateau)
  timm      CosineLRScheduler.step_update (warmup -> cosine), loaded without timm/__init__
  HF        transformers' get_cosine_schedule_with_warmup (a LambdaLR) ``step()``
  floor     a minimal closed-form Python loop that computes the value and writes ``group["lr"]``

Plateau and wall-clock rows (issue 4) are compared with torch's ReduceLROnPlateau fed a metric
every update. Ratios are lrkit / peer from medians measured in the same run. Writes
bench/results/overhead.md (``--quick``: overhead.quick.md, smallest size, a smoke test).

    python bench/overhead.py            # about half a minute
    python bench/overhead.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lrkit as lk
from harness import Timing, header, interleaved, write
from lrkit.reactive.controller import Plateau, WallClock
from lrkit.torch import Scheduler

N = 10_000_000  # schedule length: never reached, so no peer runs past its end
WARM = 1_000
STEP = 2_000
HALF_CYCLE = 2_000


def optimizer(groups: int, momentum: float = 0.0) -> SGD:
    params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-3 * (i + 1)} for i in range(groups)]
    return SGD(params, lr=1e-3, momentum=momentum)


def lrkit_case(opt: SGD, schedule: lk.Schedule, metric: Callable[[], float] | None = None, **kw: Any) -> Callable:
    sched = Scheduler(opt, schedule, **kw)
    hook = list(opt._optimizer_step_post_hooks.values())[-1]  # what opt.step() runs after an update
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}  # opt.step() passes its own (args, kwargs) to every hook it already runs
    if metric is None:

        def update() -> None:
            hook(opt, args, kwargs)
            sched.step()

    else:

        def update() -> None:
            hook(opt, args, kwargs)
            sched.step(metric())

    return update


def torch_case(sched: Any, metric: Callable[[], float] | None = None) -> Callable:
    return sched.step if metric is None else (lambda: sched.step(metric()))


def floor_case(opt: SGD, value: Callable[[int], float], momentum: Callable[[int], float] | None = None) -> Callable:
    groups = opt.param_groups
    bases = [g["lr"] for g in groups]
    pairs = list(zip(groups, bases, strict=True))
    t = [0]

    if momentum is None:

        def update() -> None:
            t[0] += 1
            v = value(t[0])
            for g, base in pairs:
                g["lr"] = base * v

    else:

        def update() -> None:
            t[0] += 1
            v, m = value(t[0]), momentum(t[0])
            for g, base in pairs:
                g["lr"] = base * v
                g["momentum"] = m

    return update


def load_timm() -> Any:
    """timm's CosineLRScheduler, loaded from its files without running timm/__init__ (needs torchvision)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "scheduler"
    package = types.ModuleType("_timm_scheduler")
    package.__path__ = [str(folder)]
    sys.modules["_timm_scheduler"] = package
    for name in ("scheduler", "cosine_lr"):
        sub = importlib.util.spec_from_file_location(f"_timm_scheduler.{name}", folder / f"{name}.py")
        assert sub is not None and sub.loader is not None
        module = importlib.util.module_from_spec(sub)
        sys.modules[sub.name] = module
        sub.loader.exec_module(module)
    return sys.modules["_timm_scheduler.cosine_lr"].CosineLRScheduler


def timm_case(opt: SGD, cls: Any) -> Callable:
    sched = cls(opt, t_initial=N, warmup_t=WARM, warmup_lr_init=0.0, t_in_epochs=False)
    t = [0]

    def update() -> None:
        t[0] += 1
        sched.step_update(t[0])

    return update


def hf_case(opt: SGD) -> Callable:
    from transformers import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(opt, WARM, N).step


# -- minimal closed forms (the floor) -------------------------------------------------------------
def _cos(t: float, n: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * min(t, n) / n))


def _one_cycle(t: int) -> float:
    rise = 0.3 * N
    if t < rise:
        return 0.04 + (1.0 - 0.04) * (1.0 - _cos(t, rise))
    return 4e-6 + (1.0 - 4e-6) * _cos(t - rise, N - rise)


def _one_cycle_momentum(t: int) -> float:
    rise = 0.3 * N
    if t < rise:
        return 0.85 + 0.1 * _cos(t, rise)
    return 0.95 - 0.1 * _cos(t - rise, N - rise)


def _cyclic(t: int) -> float:
    x = abs(t / HALF_CYCLE - 2.0 * (t // (2 * HALF_CYCLE)) - 1.0)
    return 0.1 + 0.9 * max(0.0, 1.0 - x)


def _warmup_cosine(t: int) -> float:
    return t / WARM if t < WARM else _cos(t - WARM, N - WARM)


class Metric:
    """A metric stream: improving every update (no reduction) or flat (a reduction every patience+1)."""

    def __init__(self, improving: bool):
        self.value = 1e9
        self.improving = improving

    def __call__(self) -> float:
        if self.improving:
            self.value *= 0.999
        return self.value


def families(groups: int, timm_cls: Any) -> list[tuple[str, str, dict[str, Callable]]]:
    """(family, torch peer name, cases) for one group count; every case is built on its own optimizer."""
    out = []
    o = optimizer
    out.append(
        (
            "step",
            "StepLR",
            {
                "lrkit": lrkit_case(o(groups), lk.step_decay(STEP, 0.5)),
                "torch": torch_case(tl.StepLR(o(groups), STEP, 0.5)),
                "floor": floor_case(o(groups), lambda t: 0.5 ** (t // STEP)),
            },
        )
    )
    out.append(
        (
            "cosine",
            "CosineAnnealingLR",
            {
                "lrkit": lrkit_case(o(groups), lk.cosine(N)),
                "torch": torch_case(tl.CosineAnnealingLR(o(groups), N)),
                "floor": floor_case(o(groups), lambda t: _cos(t, N)),
            },
        )
    )
    out.append(
        (
            "one-cycle (lr + momentum)",
            "OneCycleLR",
            {
                "lrkit": lrkit_case(o(groups, 0.9), lk.one_cycle(N), hyper={"momentum": lk.one_cycle_momentum(N)}),
                "torch": torch_case(tl.OneCycleLR(o(groups, 0.9), max_lr=1e-3, total_steps=N)),
                "floor": floor_case(o(groups, 0.9), _one_cycle, _one_cycle_momentum),
            },
        )
    )
    out.append(
        (
            "cyclic (triangular)",
            "CyclicLR",
            {
                "lrkit": lrkit_case(o(groups), lk.cyclic(HALF_CYCLE, base=0.1)),
                "torch": torch_case(tl.CyclicLR(o(groups), 1e-4, 1e-3, HALF_CYCLE, cycle_momentum=False)),
                "floor": floor_case(o(groups), _cyclic),
            },
        )
    )
    seq = o(groups)
    sequential = tl.SequentialLR(
        seq, [tl.LinearLR(seq, 1e-8, 1.0, WARM), tl.CosineAnnealingLR(seq, N - WARM)], milestones=[WARM]
    )
    cases = {
        "lrkit": lrkit_case(o(groups), lk.warmup(WARM) >> lk.cosine(N - WARM)),
        "torch": torch_case(sequential),
        "HF": hf_case(o(groups)),
        "floor": floor_case(o(groups), _warmup_cosine),
    }
    if timm_cls is not None:
        cases["timm"] = timm_case(o(groups), timm_cls)
    out.append(("warmup -> cosine", "SequentialLR(LinearLR, CosineAnnealingLR)", cases))
    for label, improving in (("plateau, improving metric", True), ("plateau, flat metric (reduces every 11)", False)):
        out.append(
            (
                label,
                "ReduceLROnPlateau",
                {
                    "lrkit": lrkit_case(
                        o(groups), lk.constant(1.0) * Plateau(patience=10, factor=0.999), Metric(improving)
                    ),
                    "torch": torch_case(tl.ReduceLROnPlateau(o(groups), patience=10, factor=0.999), Metric(improving)),
                },
            )
        )
    start = time.monotonic()
    out.append(
        (
            "wall-clock cosine (budget)",
            "ReduceLROnPlateau",
            {
                "lrkit": lrkit_case(o(groups), lk.cosine(N), clock=WallClock(budget=1e6)),
                "torch": torch_case(tl.ReduceLROnPlateau(o(groups), patience=10), Metric(True)),
                "floor": floor_case(o(groups), lambda t: _cos((time.monotonic() - start) / 1e6 * N, N)),
            },
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest size: proves the script runs")
    args = parser.parse_args()
    repeats, number = (3, 50) if args.quick else (201, 200)
    warnings.filterwarnings("ignore")  # torch's "step() before optimizer.step()" etc.
    timm_cls = load_timm()

    rows: list[tuple[str, int, str, Timing, Timing, Timing | None]] = []
    for groups in (1, 10):
        for family, peer_name, cases in families(groups, timm_cls):
            timing = interleaved(cases, repeats=repeats, number=number)
            for peer in ("torch", "timm", "HF"):
                if peer in timing:
                    name = (
                        peer_name
                        if peer == "torch"
                        else {
                            "timm": "timm CosineLRScheduler.step_update",
                            "HF": "HF get_cosine_schedule_with_warmup (LambdaLR)",
                        }[peer]
                    )
                    rows.append((family, groups, name, timing["lrkit"], timing[peer], timing.get("floor")))
            print(f"{family:42s} groups={groups:2d} lrkit {timing['lrkit'].us()} us", flush=True)

    lines = [
        header("Scheduler update overhead (lrkit.torch.Scheduler)", "torch", "timm", "transformers"),
        f"- sizes: {repeats} interleaved repeats x {number} updates per sample; schedules {N:,} updates long",
        "- lrkit's cost includes the optimizer step post-hook it uses to count real updates.",
        "- us per update: median (min-max over repeats); ratios from medians of the same run.",
        "",
        "| family | groups | peer | lrkit us | peer us | lrkit/peer | floor us | lrkit/floor |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for family, groups, name, ours, theirs, floor in rows:
        floor_us = floor.us() if floor else "-"
        floor_ratio = f"{ours.median / floor.median:.2f}" if floor else "-"
        lines.append(
            f"| {family} | {groups} | {name} | {ours.us()} | {theirs.us()} | {ours.median / theirs.median:.2f} "
            f"| {floor_us} | {floor_ratio} |"
        )
    path = write("overhead", "\n".join(lines) + "\n", args.quick)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
