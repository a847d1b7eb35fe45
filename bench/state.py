"""Scheduler step cost after the state/parts rework (issue 24), against torch's peers and against main at 21a4fa1.

Each round runs one worker process per lrkit source tree (this checkout, and main checked out at BASE in a
temporary git worktree), alternating; inside a worker, lrkit and its torch peer are timed interleaved
(A B A B ...) in CPU time (``time.process_time``). Reported: the median over rounds of lrkit's CPU time per
call divided by the peer's measured in the same worker, for both trees.

  step, 1 / 10 groups      optimizer step post-hook + ``Scheduler.step()`` (cosine) vs ``CosineAnnealingLR.step()``
  metric, improving         ``step(metric)`` with ``constant(1.0) * plateau(patience=10, factor=0.999)``, the
                            metric improving every call, vs ``ReduceLROnPlateau(patience=10, factor=0.999)``
  metric, reduces every 10  the same with a flat metric and ``patience=9``: a reduction every 10 calls
  1,000 schedules           1,000 groups, ``cosine(1000 + i)`` each, vs ``LambdaLR`` with 1,000 lambdas: the
                            median, p99 and worst single step over 3,000 updates (per-call CPU time)

    python bench/state.py              # ~3 minutes on 2 shared cores: 5 rounds
    python bench/state.py --rounds 3   # the figures in BENCHMARKS.md
    python bench/state.py --quick      # one short round (a smoke test)

Writes ``bench/results/state.md`` (``state.quick.md`` with ``--quick``; under ``--out`` of bench/run_all.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASE = "21a4fa1"


# -- the worker: runs in a process whose sys.path starts with one lrkit source tree ----------------------------
def worker(quick: bool) -> dict[str, Any]:
    import warnings

    import torch
    from torch.optim import lr_scheduler as tl

    import lrkit as lk
    from lrkit.torch import Scheduler

    warnings.filterwarnings("ignore")
    repeats, number = (5, 200) if quick else (41, 400)

    def sgd(groups: int) -> torch.optim.SGD:
        params = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 1e-3 * (i + 1)} for i in range(groups)]
        return torch.optim.SGD(params, lr=1e-3)

    def ours(opt: torch.optim.SGD, schedule: Any, metric: Callable[[], float] | None = None) -> Callable[[], None]:
        sched = Scheduler(opt, schedule)
        hook = list(opt._optimizer_step_post_hooks.values())[-1]  # what opt.step() runs after an update
        if metric is None:

            def update() -> None:
                hook(opt, (), {})
                sched.step()

        else:

            def update() -> None:
                hook(opt, (), {})
                sched.step(metric())

        return update

    class Metric:
        def __init__(self, improving: bool) -> None:
            self.value, self.improving = 1e9, improving

        def __call__(self) -> float:
            if self.improving:
                self.value *= 0.999
            return self.value

    def pair(a: Callable[[], None], b: Callable[[], None]) -> float:
        """Median over repeats of CPU(a) / CPU(b), interleaved."""
        ratios = []
        a()
        b()
        for _ in range(repeats):
            times = []
            for fn in (a, b):
                start = time.process_time()
                for _ in range(number):
                    fn()
                times.append(time.process_time() - start)
            ratios.append(times[0] / times[1])
        return statistics.median(ratios)

    n = 10_000_000
    out: dict[str, Any] = {}
    for groups in (1, 10):
        out[f"step, {groups} group{'s' if groups > 1 else ''}"] = pair(
            ours(sgd(groups), lk.cosine(n)), tl.CosineAnnealingLR(sgd(groups), n).step
        )
    for label, improving, patience in (("metric, improving", True, 10), ("metric, reduces every 10", False, 9)):
        m1, m2 = Metric(improving), Metric(improving)
        peer = tl.ReduceLROnPlateau(sgd(1), patience=patience, factor=0.999)
        out[label] = pair(
            ours(sgd(1), lk.constant(1.0) * lk.plateau(patience=patience, factor=0.999), m1),
            lambda peer=peer, m2=m2: peer.step(m2()),
        )
    # 1,000 distinct schedules: per-call CPU time of every step
    many = 1000
    updates = 600 if quick else 3000
    lam = [lambda t, length=1000 + i: 0.5 * (1 + math.cos(math.pi * min(t, length) / length)) for i in range(many)]
    peer_opt = sgd(many)
    peer = tl.LambdaLR(peer_opt, lam)
    step = ours(sgd(many), [lk.cosine(1000 + i) for i in range(many)])
    times: dict[str, list[float]] = {"lrkit": [], "peer": []}
    for _ in range(updates):
        for name, fn in (("lrkit", step), ("peer", peer.step)):
            start = time.process_time_ns()
            fn()
            times[name].append((time.process_time_ns() - start) / 1e3)
    stats = {}
    for name, values in times.items():
        values = sorted(values[10:])
        stats[name] = {
            "median": statistics.median(values),
            "p99": values[int(0.99 * (len(values) - 1))],
            "max": values[-1],
        }
    out["1,000 schedules"] = {k: stats["lrkit"][k] / stats["peer"][k] for k in ("median", "p99", "max")}
    out["1,000 schedules us"] = stats
    return out


# -- the driver ------------------------------------------------------------------------------------------------
def run_worker(src: Path, quick: bool) -> dict[str, Any]:
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); sys.path.insert(1, {str(ROOT / 'bench')!r}); "
        f"import json, state; print(json.dumps(state.worker({quick})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round: proves the script runs")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), BASE], check=True, capture_output=True
        )
        try:
            results: dict[str, list[dict[str, Any]]] = {"main": [], "this": []}
            for r in range(rounds):
                for name, src in (("main", base / "src"), ("this", ROOT / "src")):
                    results[name].append(run_worker(src, args.quick))
                print(f"round {r + 1}/{rounds} done", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)

    def med(name: str, key: str, sub: str | None = None) -> float:
        return statistics.median(r[key] if sub is None else r[key][sub] for r in results[name])

    def verdict(this: float, target: str, main: float) -> str:
        if target == "no slower than main":  # a 10% margin: the run-to-run spread of these ratios on 2 shared cores
            met, how = this <= 1.1 * main, f"{target} (within 10%)"
        else:
            met, how = this <= float(target.split()[-1]), target
        return f"{how}: **{'met' if met else 'not met'}**"

    lines = [
        "| case | peer | main 21a4fa1 / peer | this / peer | target |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    targets = {
        "step, 1 group": ("CosineAnnealingLR.step", "no slower than main"),
        "step, 10 groups": ("CosineAnnealingLR.step", "no slower than main"),
        "metric, improving": ("ReduceLROnPlateau.step", "<= 1.5"),
        "metric, reduces every 10": ("ReduceLROnPlateau.step", "<= 1.5"),
    }
    for key, (peer, target) in targets.items():
        main_ratio, this_ratio = med("main", key), med("this", key)
        lines.append(
            f"| {key} | {peer} | {main_ratio:.2f} | {this_ratio:.2f} | {verdict(this_ratio, target, main_ratio)} |"
        )
    for sub in ("median", "p99", "max"):
        main_ratio, this_ratio = med("main", "1,000 schedules", sub), med("this", "1,000 schedules", sub)
        label = {"median": "median", "p99": "p99", "max": "worst"}[sub]
        lines.append(
            f"| 1,000 schedules, {label} step | LambdaLR, 1,000 lambdas | {main_ratio:.2f} | {this_ratio:.2f} | "
            f"{verdict(this_ratio, '<= 2', main_ratio) if sub != 'median' else '-'} |"
        )

    def us(name: str, who: str, k: str) -> float:
        return statistics.median(r["1,000 schedules us"][who][k] for r in results[name])

    lines += [
        "",
        "1,000 schedules, CPU us per step (median / p99 / worst): "
        + "; ".join(
            f"{label} {' / '.join(f'{us(name, who, k):.0f}' for k in ('median', 'p99', 'max'))}"
            for label, name, who in (("main", "main", "lrkit"), ("this", "this", "lrkit"), ("LambdaLR", "this", "peer"))
        )
        + ".",
    ]
    table = "\n".join(lines)
    print(table)
    import harness

    repeats = "5 repeats x 200 calls" if args.quick else "41 repeats x 400 calls"
    text = (
        harness.header(f"Scheduler state and step cost (issue 24): this branch vs main at {BASE}", "torch")
        + f"- rounds: {rounds}; load average at the end: {os.getloadavg()[0]:.1f}\n"
        + "- protocol: each round runs one worker process per source tree (this checkout; main checked out at "
        f"{BASE} in a\n  temporary git worktree), alternating; inside a worker lrkit and its torch peer are timed "
        f"interleaved in CPU time\n  (`time.process_time`), {repeats}. Cells: median over rounds of lrkit's CPU "
        "time / the peer's in the\n  same worker. The 1,000-schedule rows time every one of "
        f"{600 if args.quick else 3000:,} steps (`process_time_ns`) and compare the median,\n  p99 and worst single "
        "step. `step(metric)` cases include the optimizer's step post-hook (lrkit's update counter).\n\n"
        + table
        + "\n"
    )
    harness.write("state", text, args.quick)


if __name__ == "__main__":
    main()
