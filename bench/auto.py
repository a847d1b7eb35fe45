"""``auto`` on tasks it was not tuned on: leave-one-task-out evidence for the suggestion and peak rule.

For every built-in task (mnist1d, digits, charlm, friedman) and seed (5 seeds):

1. the one-cycle grid: ``one_cycle(budget)`` trained to the end at every half-decade peak LR, on all
   5 seeds (extended at an edge while the best point sits there); the best point is the one with
   the highest mean final score over the 5 seeds (ties: the smaller LR);
2. lrkit's range test (``find_for_task``) at 100 and 300 iterations on the seed's initial model and
   mini-batch order: the curve is stored, every candidate feature of it is a pure function of it;
3. leave-one-task-out: every constant of the peak rule (``peak = factor x feature``) is chosen on
   the *other* tasks only, from their grids (the factor maximising the worst other task's
   interpolated mean score, in units of its grid best's std), then ``auto`` with those constants is
   run for real on the held-out task (the finder, then one training run) and compared with its
   grid best; the total updates auto spent are counted (finder + training run);
4. beta1 cycling: lrkit's one-cycle against torch's OneCycleLR (which also cycles Adam's beta1
   0.95 -> 0.85 -> 0.95) at each task's grid-best peak, 5 seeds.

    python bench/auto.py            # everything (about 20-30 minutes on 2 shared cores; runs are cached)
    python bench/auto.py --quick    # digits only, 1 seed, a 2-point grid: a smoke test

Writes bench/results/auto.md (``auto.quick.md`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import runs
from harness import header

TASKS = ("mnist1d", "digits", "charlm", "friedman")
#: the starting half-decade grid of each task (extended at an edge while the best point sits there); sized to
#: the region where one-cycle works, so that 5 seeds per point fit on 2 shared cores
GRID = {
    "mnist1d": (3e-3, 1e-2, 3e-2, 1e-1),
    "digits": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    "friedman": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    "charlm": (3e-3, 1e-2, 3e-2, 1e-1),
}


@dataclass(frozen=True)
class Size:
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    iterations: tuple[int, ...]
    grid: dict[str, tuple[float, ...]]
    extend: int


FULL = Size(TASKS, runs.SEEDS, (100, 300), GRID, 2)
QUICK = Size(("digits",), (0,), (100,), {"digits": (1e-2, 3e-2)}, 0)


@contextlib.contextmanager
def training_fingerprint() -> Iterator[None]:
    """Cache training runs under a fingerprint of the code a training run executes, the finder excluded.

    bench/runs.py keys every cached result by one hash of all the code involved, the finder's
    included; a training run (``Task.train``) never calls the finder, so here its results are keyed
    without lrkit/finder/ and lrkit/torch/finder.py, and editing the suggestion rule does not
    retrain every grid. Finder jobs keep the full fingerprint.
    """
    packages = ("torch", "numpy", "schedulefree", "mnist1d", "scikit-learn")
    fingerprint = runs.code_fingerprint(b"training", finder=False, packages=packages)
    saved = runs._FINGERPRINT
    runs._FINGERPRINT = fingerprint
    try:
        yield
    finally:
        runs._FINGERPRINT = saved


def train(jobs: list[runs.Run], workers: int) -> list[dict[str, Any]]:
    with training_fingerprint():
        return runs.execute(jobs, workers=workers)


def collect(size: Size, workers: int = 1) -> dict[str, Any]:
    """The grids and finder curves of every task (cached by bench/runs.py)."""
    out: dict[str, Any] = {}
    for name in size.tasks:
        print(f"{name}: finders", file=sys.stderr)
        finds = [runs.Find(name, seed, it) for it in size.iterations for seed in size.seeds]
        with training_fingerprint():  # a range test's curve is checked against a fresh one (verify_curves)
            found = runs.execute(finds, workers=workers)
        print(f"{name}: one-cycle grid on {len(size.seeds)} seeds", file=sys.stderr)
        with training_fingerprint():
            g = runs.grid(
                name,
                ["one_cycle"],
                {"one_cycle": size.grid[name]},
                seeds=size.seeds,
                extend=size.extend,
                workers=workers,
            )["one_cycle"]
        out[name] = {"grid": g, "finds": {(f.iterations, f.seed): r for f, r in zip(finds, found)}}
    return out


# -- the rule family and its leave-one-task-out choice ----------------------------------------------------
#: candidate constants of the peak rule: levels of the valley centre and the factor (0.05-decade steps)
FALLS = (0.8, 0.9)
RISES = (0.1, 0.25, 0.5)
FACTORS = tuple(round(10 ** (k / 20), 4) for k in range(-20, 21))


def anchors(curve: dict[str, Any], fall: float, rise: float) -> float | None:
    """The valley centre of a stored range test (None where the rule declines)."""
    from lrkit.finder import suggest, valley_centre

    if suggest(curve["lrs"], curve["losses"]).value is None:
        return None
    return valley_centre(curve["lrs"], curve["losses"], fall=fall, rise=rise)[0]


def replay(curve: dict[str, Any], iterations: int) -> dict[str, Any]:
    """What ``auto``'s range test sees of a stored full one: the stored losses fed again, in order, through
    ``lrkit.finder.range_test`` with ``rebound=True`` (auto's default), so its stop and its suggestion are
    exactly the library's; the updates it spends are ``len(lrs)``."""
    from lrkit.finder import range_test

    losses = iter(curve["losses"])
    result = range_test(lambda lr: next(losses), start=1e-7, end=10.0, iterations=iterations, rebound=True)
    n = len(result.lrs)
    if [float(x) for x in result.lrs] != curve["lrs"][:n] or [float(x) for x in result.losses] != curve["losses"][:n]:
        raise RuntimeError("the replayed range test differs from the stored one")
    return {
        "suggestion": result.suggestion,
        "reason": result.reason,
        "lrs": [float(x) for x in result.lrs],
        "losses": [float(x) for x in result.losses],
        "full": len(curve["lrs"]),
    }


@dataclass
class TaskData:
    name: str
    budget: int
    grid: dict[float, list[float]]  # peak -> final scores on every seed
    finds: dict[tuple[int, int], dict[str, Any]]  # (iterations, seed) -> stored range test

    def mean(self, lr: float) -> float:
        return statistics.fmean(self.grid[lr])

    def std(self, lr: float) -> float:
        return statistics.stdev(self.grid[lr]) if len(self.grid[lr]) > 1 else 0.0

    @property
    def best(self) -> float:
        return max(sorted(self.grid), key=lambda lr: (round(self.mean(lr), 12), -lr))

    def z(self, peak: float) -> float:
        """Interpolated (linear in log LR) grid mean at ``peak``, in grid-best std units from the grid best;
        -inf more than half a decade outside the grid (no evidence there)."""
        lrs = sorted(self.grid)
        x = math.log10(peak)
        xs = [math.log10(lr) for lr in lrs]
        if x < xs[0] - 0.5 or x > xs[-1] + 0.5:
            return -math.inf
        x = min(max(x, xs[0]), xs[-1])
        means = [self.mean(lr) for lr in lrs]
        for (a, ma), (b, mb) in zip(zip(xs, means), zip(xs[1:], means[1:])):
            if a <= x <= b:
                value = ma + (mb - ma) * (x - a) / (b - a)
                break
        else:
            value = means[0]
        return (value - self.mean(self.best)) / max(self.std(self.best), 1e-4)


def choose(tasks: list[TaskData], iterations: tuple[int, ...], seeds: tuple[int, ...]) -> dict[str, Any]:
    """The constants ``(fall, rise, factor)`` that maximise the worst task's interpolated mean score (z units),
    over both finder lengths (seeds where the range test declines are left out; fewer declines first); ties:
    the smaller 100-vs-300 gap, then the factor nearest 1."""
    best: tuple[Any, ...] | None = None
    for fall in FALLS:
        for rise in RISES:
            values = {
                (t.name, it): [anchors(t.finds[(it, s)], fall, rise) for s in seeds] for t in tasks for it in iterations
            }
            declined = sum(x is None for xs in values.values() for x in xs)
            if any(all(x is None for x in xs) for xs in values.values()):
                continue  # no evidence at all on a training task and length
            gap = max(
                (
                    abs(math.log10(a / b))
                    for t in tasks
                    for a, b in zip(values[(t.name, iterations[0])], values[(t.name, iterations[-1])])
                    if a is not None and b is not None
                ),
                default=0.0,
            )
            for factor in FACTORS:
                worst = min(
                    statistics.fmean(t.z(factor * x) for x in values[(t.name, it)] if x is not None)
                    for t in tasks
                    for it in iterations
                )
                key = (-declined, round(worst, 6), -round(gap, 6), -abs(math.log10(factor)))
                if best is None or key > best[0]:
                    best = (key, {"fall": fall, "rise": rise, "factor": factor, "worst_z": worst, "gap": gap})
    if best is None:
        raise RuntimeError("no rule constants suggest on every training task")
    return best[1]


def interpolated_rule(
    tasks: list[TaskData], held: TaskData, iterations: tuple[int, ...], seeds: tuple[int, ...], feature: Any
) -> tuple[float, dict[int, float]]:
    """Leave-one-task-out for a one-factor rule ``peak = factor x feature(curve)`` judged on the grid alone:
    the factor maximising the other tasks' worst interpolated z, and the held-out task's interpolated z."""
    others = [t for t in tasks if t is not held] or [held]

    def z(t: TaskData, it: int, factor: float) -> float:
        xs = [feature(t.finds[(it, s)]) for s in seeds]
        got = [t.z(factor * x) for x in xs if x is not None]
        return statistics.fmean(got) if got else -math.inf

    factor = max(FACTORS, key=lambda f: (min(z(t, it, f) for t in others for it in iterations), -abs(math.log10(f))))
    return factor, {it: z(held, it, factor) for it in iterations}


def verify_curves(data: dict[str, Any], size: Size) -> None:
    """The stored range tests are still what the current code produces: recompute one per task and compare."""
    from lrkit.torch.finder import find_for_task

    for name in size.tasks:
        it, seed = size.iterations[0], size.seeds[0]
        fresh = find_for_task(name, seed=seed, iterations=it)
        stored = data[name]["finds"][(it, seed)]
        if [float(x) for x in fresh.losses] != stored["losses"] or [float(x) for x in fresh.lrs] != stored["lrs"]:
            raise RuntimeError(f"{name}: the cached range test differs from a fresh one; delete the cache")


def check_auto(name: str, seed: int, iterations: int, constants: dict[str, Any], expected: float) -> None:
    """The bench's peak is exactly what lrkit's ``auto`` returns with the same constants (one real call)."""
    from lrkit.tasks import get_task
    from lrkit.torch.finder import auto, task_batches

    task = get_task(name)
    model = task.model(seed)
    optimizer = task.optimizer(model, 1e-7)
    chosen = auto(
        model,
        optimizer,
        task.loss_fn,
        task_batches(task, seed),
        updates=task.budget,
        iterations=iterations,
        factor=constants["factor"],
        fall=constants["fall"],
        rise=constants["rise"],
        progress=False,
    )
    if chosen.peak_lr != expected:
        raise RuntimeError(f"{name}: auto() gave peak {chosen.peak_lr!r}, the bench computed {expected!r}")


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} +- {sd:.3f}"


def analyse(data: dict[str, Any], size: Size, workers: int) -> tuple[list[str], list[str]]:
    from lrkit.tasks import get_task

    tasks: list[TaskData] = []
    for name in size.tasks:
        g = data[name]["grid"]
        grid = {lr: [r["final_accuracy"] for r in g.runs[lr]] for lr in g.lrs}
        seen = {key: replay(curve, key[0]) for key, curve in data[name]["finds"].items()}
        tasks.append(TaskData(name, get_task(name).budget, grid, seen))
    overall = choose(tasks, size.iterations, size.seeds) if len(tasks) > 1 else None
    lines: list[str] = []
    verdicts: list[str] = []
    summary = [
        "| task | LOTO constants (fall, rise, factor) | grid best (one-cycle) | "
        + " | ".join(f"auto, {it}-update finder" for it in size.iterations)
        + " | 100 vs 300 (decades, max) | cost (runs, max) | log10(grid best / valley centre), median |",
        "| --- | --- | --- | " + "--- | " * len(size.iterations) + "--- | --- | --- |",
    ]
    beta_rows: list[str] = []
    compare_rows: list[str] = []
    for held in tasks:
        others = [t for t in tasks if t is not held] or [held]
        c = choose(others, size.iterations, size.seeds)
        best = held.best
        jobs: list[runs.Run] = []
        peaks: dict[int, list[float | None]] = {}
        values: dict[int, list[float | None]] = {}
        costs: dict[int, list[float]] = {}
        full: dict[int, list[float]] = {}
        for it in size.iterations:
            values[it] = [anchors(held.finds[(it, s)], c["fall"], c["rise"]) for s in size.seeds]
            peaks[it] = [None if x is None else c["factor"] * x for x in values[it]]
            costs[it] = [(len(held.finds[(it, s)]["lrs"]) + held.budget) / held.budget for s in size.seeds]
            full[it] = [(held.finds[(it, s)]["full"] + held.budget) / held.budget for s in size.seeds]
            for s, peak in zip(size.seeds, peaks[it]):
                if peak is not None:
                    jobs.append(runs.lrkit_run(held.name, "one_cycle", peak, s))
        print(f"{held.name}: auto runs (leave-one-task-out constants {c})", file=sys.stderr)
        done = iter(train(jobs, workers))
        scores: dict[int, list[float | None]] = {}
        diverged: dict[int, int] = {}
        for it in size.iterations:
            scores[it], diverged[it] = [], 0
            for peak in peaks[it]:
                if peak is None:
                    scores[it].append(None)
                    continue
                r = next(done)
                scores[it].append(r["final_accuracy"])
                diverged[it] += bool(r.get("diverged"))
        first = next(i for i, p in enumerate(peaks[size.iterations[0]]) if p is not None)
        check_auto(held.name, size.seeds[first], size.iterations[0], c, peaks[size.iterations[0]][first])  # type: ignore[arg-type]
        # beta1 cycling: torch's OneCycleLR (LR and beta1) vs lrkit's one-cycle (LR only) at the grid best
        torch_runs = train([runs.Run(held.name, "", best, s, kind="torch_onecycle") for s in size.seeds], workers)
        cycled = [r["final_accuracy"] for r in torch_runs]
        beta_rows.append(
            f"| {held.name} | {best:g} | {_ms(held.grid[best])} | {_ms(cycled)} | "
            f"{(statistics.fmean(cycled) - held.mean(best)) / max(held.std(best), 1e-4):+.1f} |"
        )
        # the same leave-one-task-out choice, judged on the grid by interpolation only, for the old rule
        # (factor x the steepest-slope suggestion) and for the valley rule, so the two compare like for like
        sf, sz = interpolated_rule(tasks, held, size.iterations, size.seeds, lambda f: f["suggestion"])
        vz = {
            it: statistics.fmean(held.z(p) for p in peaks[it] if p is not None) if any(peaks[it]) else -math.inf
            for it in size.iterations
        }
        compare_rows.append(
            f"| {held.name} | {sf:g} | "
            + " | ".join(f"{sz[it]:+.1f}" for it in size.iterations)
            + " | "
            + " | ".join(f"{vz[it]:+.1f}" for it in size.iterations)
            + " |"
        )
        # -- report
        bm, bs = held.mean(best), held.std(best)
        lines.append(f"\n### {held.name}\n")
        lines.append(
            f"Constants chosen on {', '.join(t.name for t in others)}: fall {c['fall']:g}, rise {c['rise']:g}, "
            f"factor {c['factor']:g} (their worst task at {c['worst_z']:+.2f} std of its grid best, interpolated; "
            f"their largest 100-vs-300 gap {c['gap']:.2f} decade)\n"
        )
        lines.append("| peak LR | " + " | ".join(f"{lr:g}" for lr in sorted(held.grid)) + " |")
        lines.append("| --- |" + " --- |" * len(held.grid))
        lines.append(
            "| one-cycle final score (5 seeds) | " + " | ".join(_ms(held.grid[lr]) for lr in sorted(held.grid)) + " |"
        )
        lines.append("")
        heads = []
        for it in size.iterations:
            heads += [f"valley centre {it}", f"peak {it}", f"score {it}", f"steepest {it}"]
        lines.append("| seed | " + " | ".join(heads) + " |")
        lines.append("| --- |" + " --- |" * len(heads))
        for k, seed in enumerate(size.seeds):
            cells = []
            for it in size.iterations:
                x, p, sc = values[it][k], peaks[it][k], scores[it][k]
                st = held.finds[(it, seed)]["suggestion"]
                cells += [
                    "declined" if x is None else f"{x:.3g}",
                    "-" if p is None else f"{p:.3g}",
                    "-" if sc is None else f"{sc:.3f}",
                    "declined" if st is None else f"{st:.3g}",
                ]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        gaps = [
            abs(math.log10(a / b))
            for a, b in zip(values[size.iterations[0]], values[size.iterations[-1]])
            if a is not None and b is not None
        ]
        old = [
            abs(math.log10(a["suggestion"] / b["suggestion"]))
            for a, b in (
                (held.finds[(size.iterations[0], s)], held.finds[(size.iterations[-1], s)]) for s in size.seeds
            )
            if a["suggestion"] and b["suggestion"]
        ]
        gap = max(gaps) if gaps else math.nan
        cells = []
        for it in size.iterations:
            got = [x for x in scores[it] if x is not None]
            ok = len(got) == len(size.seeds) and statistics.fmean(got) >= bm - bs and not diverged[it]
            cells.append(f"{_ms(got)} {'**met**' if ok else '**not met**'}")
            verdicts.append(
                f"- {held.name}, {it}-update finder: auto {_ms(got)} vs grid best {bm:.3f} +- {bs:.3f} "
                f"(peak {best:g}): within one std **{'met' if ok else 'not met'}**; diverged {diverged[it]}, "
                f"declined {len(size.seeds) - len(got)}; cost {max(costs[it]):.3f} runs "
                f"**{'met' if max(costs[it]) <= 1.5 else 'not met'}** (<= 1.5; "
                f"{max(full[it]):.3f} without the rebound stop)"
            )
        verdicts.append(
            f"- {held.name}: valley centres of the 100- vs 300-update finder within 0.2 decade on every seed: "
            f"max {gap:.2f} **{'met' if gap <= 0.2 else 'not met'}** (steepest-slope suggestion: max "
            f"{max(old) if old else math.nan:.2f})"
        )
        ratios = [
            math.log10(best / x)
            for it in size.iterations
            for x in (anchors(held.finds[(it, s)], c["fall"], c["rise"]) for s in size.seeds)
            if x is not None
        ]
        summary.append(
            f"| {held.name} | {c['fall']:g}, {c['rise']:g}, {c['factor']:g} | {best:g}: {bm:.3f} +- {bs:.3f} | "
            + " | ".join(cells)
            + f" | {gap:.2f} | {max(max(v) for v in costs.values()):.3f} | "
            + (f"{statistics.median(ratios):+.2f}" if ratios else "n/a")
            + " |"
        )
    head = ["\n**Leave-one-task-out summary** (score: test accuracy; charlm next-character accuracy; friedman R^2)\n"]
    head += summary
    if overall is not None:
        head.append(
            f"\nConstants chosen on all {len(tasks)} tasks (lrkit's defaults `VALLEY_FALL`, `VALLEY_RISE`, "
            f"`VALLEY_FACTOR`): fall {overall['fall']:g}, rise {overall['rise']:g}, factor {overall['factor']:g} "
            f"(worst task {overall['worst_z']:+.2f} std, interpolated; largest 100-vs-300 gap {overall['gap']:.2f})"
        )
    head += [
        "\n**Old rule vs new, like for like** (leave-one-task-out; the held-out task's grid mean interpolated at "
        "the rule's peaks, in std of its grid best; 0 = the grid best, -1 = one std below)\n",
        "| task | steepest: LOTO factor | "
        + " | ".join(f"steepest z @{it}" for it in size.iterations)
        + " | "
        + " | ".join(f"valley z @{it}" for it in size.iterations)
        + " |",
        "| --- | --- |" + " --- |" * (2 * len(size.iterations)),
        *compare_rows,
    ]
    head += [
        "\n**beta1 cycling**: torch's `OneCycleLR` (cycles AdamW's beta1 0.95 -> 0.85 -> 0.95 against the LR) vs "
        "lrkit's `one_cycle` (the same LR curve, beta1 fixed at 0.9), each task's grid-best peak, 5 seeds\n",
        "| task | peak | lrkit one_cycle | torch OneCycleLR (beta1 cycled) | difference (std of lrkit's) |",
        "| --- | --- | --- | --- | --- |",
        *beta_rows,
    ]
    return head + lines, verdicts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    data = collect(size, args.workers)
    if args.collect_only:
        return
    verify_curves(data, size)
    from lrkit.torch.finder import VALLEY_FACTOR, VALLEY_FALL, VALLEY_RISE

    body, verdicts = analyse(data, size, args.workers)
    text = header("auto on tasks it was not tuned on (leave-one-task-out)", "torch", "mnist1d", "scikit-learn")
    text += (
        f"- tasks {list(size.tasks)}; seeds {list(size.seeds)}; finder lengths {list(size.iterations)} updates "
        "(`find_for_task`: 1e-7 to 10, exponential, the seed's initial model and batch order)\n"
        "- grid: `one_cycle(budget)` at half-decade peaks, every point on every seed; best = highest mean (ties: "
        "smaller LR)\n"
        "- rule: `peak = factor x valley_centre(fall, rise)` (lrkit.finder.valley_centre); for each reported task "
        f"the constants are chosen on the other tasks only, from falls {list(FALLS)}, rises {list(RISES)} and "
        "factors 0.1-10 in 0.05-decade steps, maximising the worst other task's interpolated grid score (std "
        "units of its grid best) over both finder lengths; then the range tests and one training run each are "
        "real, and one seed per task is re-run through `lrkit.torch.finder.auto` to check that the peak is identical\n"
        "- auto's range test stops at the curve's first rebound (`rebound=True`, its default: no rule looks past "
        "it); each stored full range test is replayed through `lrkit.finder.range_test` to get exactly what auto "
        "sees and spends\n"
        "- cost = (range-test updates actually spent + training updates) / training updates\n"
        f"- lrkit's defaults now: VALLEY_FALL {VALLEY_FALL:g}, VALLEY_RISE {VALLEY_RISE:g}, VALLEY_FACTOR "
        f"{VALLEY_FACTOR:g}\n"
        "\n**Targets**\n\n" + "\n".join(verdicts) + "\n" + "\n".join(body) + "\n"
    )
    path = harness.write("auto", text, args.quick)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
