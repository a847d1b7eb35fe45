"""LR finder evidence: lrkit's suggestion and ``auto`` against a one-cycle peak-LR grid and torch-lr-finder.

For each built-in task and seed (5 seeds):

* the one-cycle grid: the same one-cycle schedule (torch OneCycleLR's defaults, at the task's
  budget) trained to the end at every half-decade peak LR; the best point is chosen on the grid
  seeds (bench/runs.py, ties -> the smaller LR) and every grid point is also run on all 5 seeds;
* lrkit's range test (``find_for_task``) at 100 and 300 iterations: the suggestion and each
  method (steepest, valley, minimum/10), in decades from the grid best;
* torch-lr-finder's range test on the same initial model (its defaults: 1e-7 to 10, exponential;
  steepest-gradient suggestion) at 100 and 300 iterations, fed to torch's OneCycleLR;
* ``auto`` (finder of 100 and of 300 iterations, then one training run; its default valley rule)
  and the old rule's factor ablation (one-cycle at 1, 1.5, 2, 3 x the 100-iteration steepest-slope
  suggestion). The leave-one-task-out evidence for ``auto`` on all four built-in tasks is
  bench/auto.py.

    python bench/finder.py            # full: about 5 minutes on 2 cores (cached runs are reused)
    python bench/finder.py --quick    # digits only, 2 grid points, 1 seed: seconds

Writes bench/results/finder.md (``finder.quick.md`` with ``--quick``) and finder.png.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import runs
from harness import header
from lrkit.plot import write_figure


@dataclass(frozen=True)
class Size:
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    grid_seeds: tuple[int, ...]
    grid_lrs: tuple[float, ...]
    iterations: tuple[int, ...]
    factors: tuple[float, ...]
    extend: int


FULL = Size(("mnist1d", "digits"), runs.SEEDS, runs.GRID_SEEDS, runs.GRID_LRS, (100, 300), (1.0, 1.5, 2.0, 2.5, 3.0), 3)
QUICK = Size(("digits",), (0,), (0,), (1e-2, 3e-2), (100,), (2.0,), 0)
#: a suggestion "hits" when it is within this many decades of the grid best
HALF_DECADE = 0.5


@dataclass
class TaskResult:
    name: str
    target: float
    best_lr: float
    grid: dict[float, list[float]]  # lr -> final accuracies on every seed
    finds: dict[int, list[dict[str, Any]]]  # iterations -> per-seed lrkit finder results
    peers: dict[int, list[dict[str, Any]]]  # iterations -> per-seed torch-lr-finder (+ OneCycleLR run)
    autos: dict[int, list[dict[str, Any]]]  # iterations -> per-seed auto (+ run)
    ablation: dict[float, list[float | None]] = field(default_factory=dict)  # factor -> final accuracies

    @property
    def best(self) -> list[float]:
        return self.grid[self.best_lr]


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(values: list[float]) -> str:
    mean, std = _mean_std(values)
    return "n/a" if math.isnan(mean) else f"{mean:.3f} +- {std:.3f}"


def _decades(lr: float | None, best: float) -> float | None:
    return None if lr is None else math.log10(lr / best)


def _cell(lr: float | None, best: float) -> str:
    d = _decades(lr, best)
    if lr is None or d is None:
        return "declined"
    mark = "" if abs(d) <= HALF_DECADE else " **miss**"
    return f"{lr:.3g} ({d:+.2f}){mark}"


def evaluate(name: str, size: Size, workers: int) -> TaskResult:
    from lrkit.tasks import get_task

    task = get_task(name)
    print(f"{name}: one-cycle grid", file=sys.stderr)
    chosen = runs.grid(name, ["one_cycle"], size.grid_lrs, seeds=size.grid_seeds, extend=size.extend, workers=workers)
    g = chosen["one_cycle"]
    lrs = g.lrs
    jobs: list[Any] = [runs.entry_run(name, "one_cycle", lr, seed) for lr in lrs for seed in size.seeds]
    finds = [runs.Find(name, seed, it) for it in size.iterations for seed in size.seeds]
    peers = [runs.PeerFinder(name, seed, it) for it in size.iterations for seed in size.seeds]
    autos = [runs.Auto(name, seed, it) for it in size.iterations for seed in size.seeds]
    print(f"{name}: grid on {len(size.seeds)} seeds, finders, auto, torch-lr-finder", file=sys.stderr)
    out = runs.execute([*jobs, *finds, *peers, *autos], workers=workers)
    grid_out, rest = out[: len(jobs)], out[len(jobs) :]
    grid: dict[float, list[float]] = {}
    for job, result in zip(jobs, grid_out):
        grid.setdefault(job.peak_lr, []).append(result["final_accuracy"])
    n = len(size.seeds)

    def split(results: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        return {it: results[k * n : (k + 1) * n] for k, it in enumerate(size.iterations)}

    k = len(finds)
    result = TaskResult(
        name, task.target, g.best_lr, grid, split(rest[:k]), split(rest[k : 2 * k]), split(rest[2 * k : 3 * k])
    )
    base = result.finds[size.iterations[0]]
    ablation_jobs = [
        (factor, i, runs.entry_run(name, "one_cycle", f["suggestion"] * factor, seed))
        for factor in size.factors
        for i, (seed, f) in enumerate(zip(size.seeds, base))
        if f["suggestion"] is not None
    ]
    print(f"{name}: auto factor ablation", file=sys.stderr)
    ablated = runs.execute([job for _, _, job in ablation_jobs], workers=workers)
    for factor in size.factors:
        result.ablation[factor] = [None] * n
    for (factor, i, _), r in zip(ablation_jobs, ablated):
        result.ablation[factor][i] = r["final_accuracy"]
    return result


def _run_acc(entry: dict[str, Any]) -> float | None:
    run = entry.get("run")
    return None if run is None else run["final_accuracy"]


def _diverged(entry: dict[str, Any]) -> bool:
    run = entry.get("run")
    return run is not None and (run.get("diverged") or run["final_accuracy"] < 0.5)


def report(results: list[TaskResult], size: Size) -> tuple[str, list[str]]:
    lines: list[str] = []
    verdicts: list[str] = []
    for r in results:
        best_mean, best_std = _mean_std(r.best)
        lines.append(f"\n### {r.name}\n")
        lines.append(
            f"One-cycle final test accuracy vs peak LR ({len(size.seeds)} seeds; best chosen on seeds "
            f"{list(size.grid_seeds)}: **{r.best_lr:g}**, {_fmt(r.best)} on all seeds)\n"
        )
        lines.append("| peak LR | " + " | ".join(f"{lr:g}" for lr in sorted(r.grid)) + " |")
        lines.append("| --- |" + " --- |" * len(r.grid))
        lines.append("| final acc | " + " | ".join(_fmt(r.grid[lr]) for lr in sorted(r.grid)) + " |")

        lines.append(
            "\nSuggestions per seed: LR (decades from the grid best); **miss** = more than half a decade away\n"
        )
        heads = []
        for it in size.iterations:
            heads += [f"lrkit {it}", f"torch-lr-finder {it}"]
        lines.append("| seed | " + " | ".join(heads) + " |")
        lines.append("| --- |" + " --- |" * len(heads))
        for i, seed in enumerate(size.seeds):
            cells = []
            for it in size.iterations:
                cells += [
                    _cell(r.finds[it][i]["suggestion"], r.best_lr),
                    _cell(r.peers[it][i]["finder"]["suggestion"], r.best_lr),
                ]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        lines.append(
            "\nSpread of the suggestions (decades, max/min): across seeds at each iteration count, and "
            "across iteration counts for each seed (the largest)\n"
        )
        lines.append("| finder | " + " | ".join(f"seeds @ {it}" for it in size.iterations) + " | 100 vs 300 |")
        lines.append("| --- |" + " --- |" * (len(size.iterations) + 1))
        for label, getter in (
            ("lrkit", lambda e: e["suggestion"]),
            ("torch-lr-finder", lambda e: e["finder"]["suggestion"]),
        ):
            source = r.finds if label == "lrkit" else r.peers
            cells = []
            for it in size.iterations:
                values = [getter(e) for e in source[it] if getter(e)]
                cells.append(f"{math.log10(max(values) / min(values)):.2f}" if len(values) > 1 else "n/a")
            if len(size.iterations) > 1:
                a, b = size.iterations[0], size.iterations[-1]
                pairs = [(getter(x), getter(y)) for x, y in zip(source[a], source[b]) if getter(x) and getter(y)]
                cells.append(f"{max(abs(math.log10(x / y)) for x, y in pairs):.2f}" if pairs else "n/a")
            else:
                cells.append("n/a")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

        lines.append(
            "\nEach lrkit method: runs within half a decade of the grid best (of "
            f"{len(size.seeds) * len(size.iterations)} finder runs)\n"
        )
        lines.append("| method | hits | values |")
        lines.append("| --- | --- | --- |")
        for method in ("suggestion", "steepest", "valley", "minimum"):
            values = []
            for it in size.iterations:
                for e in r.finds[it]:
                    values.append(e["suggestion"] if method == "suggestion" else e["suggestions"][method])
            hits = sum(1 for x in values if x and abs(math.log10(x / r.best_lr)) <= HALF_DECADE)
            shown = ", ".join("-" if x is None else f"{x:.3g}" for x in values)
            lines.append(f"| {method} | {hits}/{len(values)} | {shown} |")

        lines.append("\nTraining to the end (final test accuracy; diverged = a NaN loss or final accuracy < 0.5)\n")
        lines.append("| entry | final acc | min over seeds | diverged | peak LRs | tuning cost |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        lines.append(
            f"| one-cycle at the grid best {r.best_lr:g} | {_fmt(r.best)} | {min(r.best):.3f} | "
            f"{sum(a < 0.5 for a in r.best)} | {r.best_lr:g} | {len(size.grid_seeds)} x {len(r.grid)} grid runs |"
        )
        for label, source in (("lrkit auto", r.autos), ("torch-lr-finder -> OneCycleLR", r.peers)):
            for it in size.iterations:
                accs = [a for a in (_run_acc(e) for e in source[it]) if a is not None]
                declined = sum(1 for e in source[it] if e.get("run") is None)
                peaks = ", ".join("-" if e.get("peak_lr") is None else f"{e['peak_lr']:.3g}" for e in source[it])
                note = f" ({declined} declined)" if declined else ""
                lines.append(
                    f"| {label} ({it}-update finder){note} | {_fmt(accs)} | "
                    f"{min(accs) if accs else math.nan:.3f} | {sum(_diverged(e) for e in source[it])} | "
                    f"{peaks} | 1 finder run ({it} updates) |"
                )

        if r.ablation:
            lines.append(
                f"\n`auto` factor ablation: one-cycle at factor x the {size.iterations[0]}-update "
                "suggestion (the default factor is lrkit.torch.finder.AUTO_FACTOR)\n"
            )
            lines.append("| factor | final acc | min over seeds |")
            lines.append("| --- | --- | --- |")
            for factor, accs in r.ablation.items():
                got = [a for a in accs if a is not None]
                lines.append(f"| {factor:g} | {_fmt(got)} | {min(got) if got else math.nan:.3f} |")

        # verdicts
        all_hits = all(
            e["suggestion"] is not None and abs(math.log10(e["suggestion"] / r.best_lr)) <= HALF_DECADE
            for it in size.iterations
            for e in r.finds[it]
        )
        verdicts.append(
            f"- {r.name}: lrkit suggestion within half a decade of the grid best ({r.best_lr:g}) on every "
            f"seed at {', '.join(map(str, size.iterations))} iterations: **{'met' if all_hits else 'not met'}**"
        )
        for it in size.iterations:
            accs = [_run_acc(e) for e in r.autos[it]]
            ok_std = all(a is not None for a in accs) and statistics.mean(accs) >= best_mean - best_std  # type: ignore[arg-type]
            never = not any(_diverged(e) for e in r.autos[it]) and all(a is not None for a in accs)
            text = (
                f"- {r.name}: auto ({it}-update finder) {_fmt([a for a in accs if a is not None])} vs grid best "
                f"{best_mean:.3f} +- {best_std:.3f}: within one std **{'met' if ok_std else 'not met'}**; "
                f"no seed diverged **{'met' if never else 'not met'}**"
            )
            if r.name == "mnist1d":
                floor = all(a is not None and a >= 0.94 for a in accs)
                text += (
                    f"; every seed >= 0.94 **{'met' if floor else 'not met'}** (min {min(a or 0 for a in accs):.3f})"
                )
            verdicts.append(text)
    verdicts.append(_factor_verdict(results))
    return "\n".join(lines) + "\n", verdicts


def _factor_verdict(results: list[TaskResult]) -> str:
    """The ablation's minimax factor: the one whose worst task is closest to its grid best (in std units)."""
    from lrkit.torch.finder import AUTO_FACTOR

    factors = sorted(set.intersection(*(set(r.ablation) for r in results))) if results else []
    worst: dict[float, float] = {}
    for factor in factors:
        scores = []
        for r in results:
            got = [a for a in r.ablation[factor] if a is not None]
            best_mean, best_std = _mean_std(r.best)
            scores.append((_mean_std(got)[0] - best_mean) / max(best_std, 1e-9) if got else -math.inf)
        worst[factor] = min(scores)
    if not worst:
        return "- auto factor: no ablation"
    pick = max(worst, key=lambda f: worst[f])
    shown = ", ".join(f"{f:g}: {z:+.1f}" for f, z in worst.items())
    return (
        f"- auto factor: worst-task (mean - grid best) / grid-best std per factor: {shown}; best {pick:g}, "
        f"AUTO_FACTOR = {AUTO_FACTOR:g} ({'agrees' if pick == AUTO_FACTOR else 'differs'})"
    )


def plot(results: list[TaskResult], size: Size, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * len(results), 4.0), layout="tight")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, r in zip(axes, results):
        lrs = sorted(r.grid)
        means = [_mean_std(r.grid[lr])[0] for lr in lrs]
        stds = [_mean_std(r.grid[lr])[1] for lr in lrs]
        ax.errorbar(lrs, means, yerr=stds, color="k", marker="o", ms=4, capsize=3, label="one-cycle grid")
        ax.axvspan(
            r.best_lr / 10**HALF_DECADE, r.best_lr * 10**HALF_DECADE, color="0.9", label="grid best +- 1/2 decade"
        )
        low = min(min(m for m in means if m > 0.5) - 0.05, 0.9)
        markers = {size.iterations[0]: "v", size.iterations[-1]: "^"}
        for it in size.iterations:
            xs = [e["suggestion"] for e in r.finds[it] if e["suggestion"]]
            ax.scatter(xs, [low + 0.01] * len(xs), marker=markers[it], color="C3", label=f"lrkit suggestion ({it})")
            ps = [e["finder"]["suggestion"] for e in r.peers[it] if e["finder"]["suggestion"]]
            ax.scatter(ps, [low + 0.03] * len(ps), marker=markers[it], color="C0", label=f"torch-lr-finder ({it})")
        first = size.iterations[0]
        ax_points = [(e["peak_lr"], _run_acc(e)) for e in r.autos[first] if e.get("run")]
        if ax_points:
            ax.scatter(
                *zip(*ax_points), marker="*", s=80, color="C2", zorder=5, label=f"auto ({first}): peak, final acc"
            )
        ax.set_xscale("log")
        ax.set_ylim(low, 1.0)
        ax.set_xlabel("peak LR")
        ax.set_ylabel("final test accuracy")
        ax.set_title(f"{r.name}: one-cycle final accuracy vs peak LR", fontsize=9)
        ax.legend(fontsize=6, loc="lower left")
    write_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits only, 2 grid points, 1 seed (CI smoke test)")
    parser.add_argument("--workers", type=int, help="processes training in parallel (default 2; 1 with --quick)")
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 1 if args.quick else 2  # a pool's start-up costs more than the quick runs
    size = QUICK if args.quick else FULL
    results = [evaluate(name, size, args.workers) for name in size.tasks]
    suffix = ".quick" if args.quick else ""
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    png = harness.RESULTS / f"finder{suffix}.png"
    plot(results, size, png)
    from lrkit.torch.finder import AUTO_FACTOR, VALLEY_FACTOR, VALLEY_FALL, VALLEY_RISE

    body, verdicts = report(results, size)
    text = header(
        "LR finder: suggestion and auto vs the one-cycle grid and torch-lr-finder",
        "torch",
        "torch-lr-finder",
        "mnist1d",
        "scikit-learn",
        "matplotlib",
    )
    text += (
        f"- seeds {list(size.seeds)}; grid {[f'{x:g}' for x in size.grid_lrs]} (extended at an edge), best chosen on "
        f"seeds {list(size.grid_seeds)} (ties: smaller LR), every grid point also run on all seeds\n"
        "- lrkit: `lrkit.torch.finder.find_for_task(task, seed=s, iterations=N)` (1e-7 to 10, exponential, the "
        "seed's initial model and mini-batch order); default suggestion = steepest (confirmed by minimum/10)\n"
        "- torch-lr-finder: `LRFinder(...).range_test(loader, end_lr=10, num_iter=N)` from 1e-7 on the same "
        "initial model, `plot(suggest_lr=True)` (steepest gradient), fed to `torch.optim.lr_scheduler.OneCycleLR`\n"
        f"- `auto`: `lrkit.torch.finder.auto(..., updates=budget, iterations=N)` with its default rule: one-cycle at "
        f"peak = {VALLEY_FACTOR:g} x the valley centre (fall {VALLEY_FALL:g}, rise {VALLEY_RISE:g}; "
        "leave-one-task-out evidence in bench/results/auto.md), then one training run; the factor ablation "
        f"below is of the old rule, factor x the steepest-slope suggestion (AUTO_FACTOR = {AUTO_FACTOR:g})\n"
        "- accuracy: mean +- sample std over seeds\n"
        f"\n![final accuracy vs peak LR with the suggestions marked]({png.name})\n"
        "\n**Targets**\n\n" + "\n".join(verdicts) + "\n" + body
    )
    path = harness.write("finder", text, args.quick)
    print(f"wrote {path}", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
