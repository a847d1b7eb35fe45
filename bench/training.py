"""Training quality on the built-in tasks: every schedule at its best grid peak vs ``auto`` and the peers.

For each task (MNIST-1D 1-D CNN, digits MLP; AdamW with the task's weight decay, the task's
fixed budget of updates):

* the protocol's schedules (constant, the StepLR recipe x0.5 every 3 epochs, warmup + cosine,
  one-cycle, warmup-stable-decay, flat-then-cosine) and schedule-free AdamW (``schedulefree``)
  over a half-decade peak-LR grid (bench/runs.py: GRID_LRS, schedule-free's extended upward;
  any grid extended at an edge while its best point sits there), the best point chosen by mean
  final test accuracy over GRID_SEEDS, then re-run on all SEEDS;
* ``auto``: lrkit's range test (one finder run of 100 updates on the seed's model) -> one-cycle
  at the suggestion, one training run, per seed; no grid;
* the peer pipeline: torch-lr-finder's suggestion (100 iterations) fed to torch's OneCycleLR.

Reported: final and best test accuracy (mean +- sample std over the seeds), updates to reach the
task's target (median over seeds; test set evaluated every 20 updates on MNIST-1D, 10 on digits),
tuning cost (training runs spent choosing the LR), and two plots per task. Writes
bench/results/training.md, training_curves.png and training_grid.png.

    python bench/training.py            # the full benchmark (about 5 minutes on 2 cores; cached runs are reused)
    python bench/training.py --quick    # digits only, a 1-point grid, 1 seed: a smoke test
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
from harness import header, write
from lrkit.plot import write_figure

TASK_NAMES = ("mnist1d", "digits")
GRID_ENTRIES = (*runs.SCHEDULES, "schedulefree")
LRKIT_ENTRIES = (*runs.SCHEDULES, "auto")


@dataclass
class Size:
    tasks: tuple[str, ...]
    grid: dict[str, tuple[float, ...]]
    grid_seeds: tuple[int, ...]
    seeds: tuple[int, ...]
    extend: int


FULL = Size(
    tasks=TASK_NAMES,
    grid={entry: runs.SF_GRID_LRS if entry == "schedulefree" else runs.GRID_LRS for entry in GRID_ENTRIES},
    grid_seeds=runs.GRID_SEEDS,
    seeds=runs.SEEDS,
    extend=3,
)
QUICK = Size(
    tasks=("digits",),
    grid={entry: (1e-2,) for entry in GRID_ENTRIES},
    grid_seeds=(0,),
    seeds=(0,),
    extend=0,
)


@dataclass
class Entry:
    """One row of a task's table: the runs on every seed and how the LR was chosen."""

    name: str
    runs: list[dict[str, Any] | None]  # None: the finder declined, no run
    peaks: list[float] = field(default_factory=list)
    cost: str = ""
    grid: runs.Grid | None = None
    finders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r is not None]

    def stat(self, key: str) -> tuple[float, float]:
        values = [r[key] for r in self.done]
        if not values:
            return math.nan, math.nan
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    def to_target(self) -> str:
        hits = [r["updates_to_target"] for r in self.runs if r is not None]
        reached = [h for h in hits if h is not None]
        n = len(self.runs)
        if len(reached) * 2 <= n:  # the median (misses count as infinite) is not reached
            return f"not reached ({len(reached)}/{n})"
        ordered = sorted(reached) + [math.inf] * (n - len(reached))
        return f"{statistics.median(ordered):g} ({len(reached)}/{n})"


def _fmt(mean: float, std: float) -> str:
    return "n/a" if math.isnan(mean) else f"{mean:.3f} +- {std:.3f}"


def _lr_text(peaks: list[float]) -> str:
    if not peaks:
        return "n/a"
    if len(set(peaks)) == 1:
        return f"{peaks[0]:.3g}"
    return f"{statistics.median(peaks):.3g} (median; {min(peaks):.3g}-{max(peaks):.3g})"


def evaluate(task_name: str, size: Size, workers: int) -> list[Entry]:
    """Every entry of one task: the grids, the re-runs of their best points, auto and the peer pipeline."""
    from lrkit.tasks import get_task

    task = get_task(task_name)
    print(f"{task_name}: grid of {len(GRID_ENTRIES)} entries", file=sys.stderr)
    grids = runs.grid(task_name, GRID_ENTRIES, size.grid, seeds=size.grid_seeds, extend=size.extend, workers=workers)
    jobs: list[runs.Job] = []
    for entry in GRID_ENTRIES:
        jobs += [runs.entry_run(task_name, entry, grids[entry].best_lr, seed) for seed in size.seeds]
    jobs += [runs.Auto(task_name, seed) for seed in size.seeds]
    jobs += [runs.PeerFinder(task_name, seed) for seed in size.seeds]
    print(f"{task_name}: best points on {len(size.seeds)} seeds, auto, torch-lr-finder", file=sys.stderr)
    results = runs.execute(jobs, workers=workers)
    entries = []
    n = len(size.seeds)
    finder_share = runs.FINDER_ITERATIONS / task.budget
    for i, entry in enumerate(GRID_ENTRIES):
        g = grids[entry]
        entries.append(
            Entry(
                entry,
                list(results[i * n : (i + 1) * n]),
                peaks=[g.best_lr],
                cost=f"{g.cost} ({len(g.lrs)} LRs x {len(size.grid_seeds)} seeds)",
                grid=g,
            )
        )
    offset = len(GRID_ENTRIES) * n
    for k, name in enumerate(("auto", "torch_lr_finder")):
        chunk = results[offset + k * n : offset + (k + 1) * n]
        entries.append(
            Entry(
                name,
                [c["run"] for c in chunk],
                peaks=[c["peak_lr"] for c in chunk if c.get("peak_lr") is not None],
                cost=f"0 + 1 finder run ({runs.FINDER_ITERATIONS} updates = {finder_share:.2f} run)",
                finders=list(chunk),
            )
        )
    return entries


def table(task_name: str, entries: list[Entry]) -> str:
    from lrkit.tasks import get_task

    task = get_task(task_name)
    n = len(entries[0].runs)
    text = (
        f"\n### {task_name}: {task.description}\n\n"
        f"AdamW (weight decay {task.weight_decay:g}) unless named, batch {task.batch_size}, "
        f"{task.budget} updates ({task.epochs:g} epochs of {task.steps_per_epoch}), target accuracy {task.target:g}, "
        f"{n} seeds per row.\n\n"
        "| entry | peak LR | final accuracy | best accuracy | updates to target (median, reached) "
        "| tuning cost (training runs) |\n| --- | --- | --- | --- | --- | --- |\n"
    )
    for e in entries:
        declined = len(e.runs) - len(e.done)
        note = f" ({declined} finder run(s) declined, no training)" if declined else ""
        diverged = sum(1 for r in e.done if r.get("diverged"))
        note += f" ({diverged} diverged)" if diverged else ""
        text += (
            f"| {runs.LABELS[e.name]}{note} | {_lr_text(e.peaks)} | {_fmt(*e.stat('final_accuracy'))} "
            f"| {_fmt(*e.stat('best_accuracy'))} | {e.to_target()} | {e.cost} |\n"
        )
    text += "\nGrid (mean final accuracy over the grid seeds; the chosen point in bold):\n\n"
    lrs = sorted({lr for e in entries if e.grid for lr in e.grid.lrs})
    text += "| entry | " + " | ".join(f"{lr:g}" for lr in lrs) + " |\n| --- |" + " --- |" * len(lrs) + "\n"
    for e in entries:
        if e.grid is None:
            continue
        cells = []
        for lr in lrs:
            if lr not in e.grid.runs:
                cells.append("")
            else:
                value = f"{e.grid.score(lr):.3f}"
                cells.append(f"**{value}**" if lr == e.grid.best_lr else value)
        text += f"| {runs.LABELS[e.name]} | " + " | ".join(cells) + " |\n"
    for e in entries:
        if e.finders:
            sugg = [c["finder"]["suggestion"] for c in e.finders]
            shown = ", ".join("declined" if s is None else f"{s:.3g}" for s in sugg)
            text += f"\n{runs.LABELS[e.name]}: suggestions per seed {shown}."
    return text + "\n"


def targets(results: dict[str, list[Entry]]) -> str:
    """The issue's two quality targets, evaluated from the tables above."""
    lines = ["\n### Targets\n"]
    for task_name, entries in results.items():
        by = {e.name: e for e in entries}
        graded = [e for e in entries if e.name in runs.SCHEDULES]
        best = max(graded, key=lambda e: e.stat("final_accuracy")[0])
        best_mean, best_std = best.stat("final_accuracy")
        auto_mean, _ = by["auto"].stat("final_accuracy")
        ok = auto_mean >= best_mean - best_std and len(by["auto"].done) == len(by["auto"].runs)
        lines.append(
            f"- {task_name}: `auto` within one std of the best grid-tuned schedule ({runs.LABELS[best.name]} "
            f"{_fmt(best_mean, best_std)}): auto {auto_mean:.3f} -> **{'met' if ok else 'not met'}** "
            f"(cost: 1 finder run + 1 training run vs {best.grid.cost if best.grid else '?'} grid runs)"
        )
        lrkit_best = max((e for e in entries if e.name in LRKIT_ENTRIES), key=lambda e: e.stat("final_accuracy")[0])
        lk_mean, _ = lrkit_best.stat("final_accuracy")
        sf_mean, sf_std = by["schedulefree"].stat("final_accuracy")
        verdict = "met" if lk_mean >= sf_mean else "not met"
        lines.append(
            f"- {task_name}: lrkit's best recipe ({runs.LABELS[lrkit_best.name]} {lk_mean:.3f}) at least as accurate "
            f"as grid-tuned schedule-free AdamW ({_fmt(sf_mean, sf_std)}) -> **{verdict}**"
        )
    return "\n".join(lines) + "\n"


# -- plots ---------------------------------------------------------------------------------------
_ORDER = (*GRID_ENTRIES, "auto", "torch_lr_finder")


def plot_curves(results: dict[str, list[Entry]], path: Path) -> None:
    """Test accuracy vs updates (mean over seeds) of every entry at its chosen LR, one panel per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(results), figsize=(6.5 * len(results), 4.6), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (task_name, entries) in zip(axes[0], results.items()):
        target = None
        lows = []
        for e in entries:
            done = e.done
            if not done:
                continue
            x = done[0]["eval_updates"]
            ys = np.array([r["accuracies"] for r in done if r["eval_updates"] == x])
            mean = ys.mean(axis=0)
            style = "--" if e.name in ("auto", "torch_lr_finder", "schedulefree") else "-"
            ax.plot(x, mean, style, color=colors(_ORDER.index(e.name)), label=runs.LABELS[e.name], lw=1.4)
            lows.append(mean[len(mean) // 3 :].min())
            target = done[0]["target"]
        if target is not None:
            ax.axhline(target, color="grey", lw=0.8, ls=":", label=f"target {target:g}")
        floor = max(0.0, min(lows) - 0.02) if lows else 0.0
        ax.set_ylim(max(floor, 0.5 if task_name == "mnist1d" else 0.8), 1.0)
        ax.set_title(f"{task_name}: test accuracy (mean over seeds) at each entry's LR")
        ax.set_xlabel("updates")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    write_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_grid(results: dict[str, list[Entry]], path: Path) -> None:
    """Final accuracy vs peak LR (grid, mean over grid seeds) with the finders' suggestions marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(results), figsize=(6.5 * len(results), 8.4), squeeze=False)
    colors = plt.get_cmap("tab10")
    for column, (task_name, entries) in enumerate(results.items()):
        by = {e.name: e for e in entries}
        best = max(e.grid.score(e.grid.best_lr) for e in entries if e.grid is not None)
        for row, ax in enumerate(axes[:, column]):
            for e in entries:
                if e.grid is not None:
                    lrs = e.grid.lrs
                    ax.plot(
                        lrs,
                        [e.grid.score(lr) for lr in lrs],
                        ("--" if e.name == "schedulefree" else "-") + "o",
                        ms=3,
                        color=colors(_ORDER.index(e.name)),
                        label=runs.LABELS[e.name],
                        lw=1.2,
                    )
            for name, marker, text in (("auto", "v", "lrkit auto peak"), ("torch_lr_finder", "^", "torch-lr-finder")):
                e = by[name]
                for k, (peak, run) in enumerate(zip(e.peaks, e.done)):
                    ax.scatter(
                        [peak],
                        [run["final_accuracy"]],
                        marker=marker,
                        s=40,
                        color=colors(_ORDER.index(name)),
                        edgecolor="black",
                        zorder=5,
                        label=f"{text} (per seed, its final accuracy)" if k == 0 else None,
                    )
            suggestions = [c["finder"]["suggestion"] for c in by["auto"].finders if c["finder"]["suggestion"]]
            for k, value in enumerate(suggestions):
                ax.axvline(
                    value,
                    color=colors(_ORDER.index("auto")),
                    lw=0.8,
                    ls=":",
                    label="lrkit finder suggestion (per seed)" if k == 0 else None,
                )
            ax.set_xscale("log")
            if row == 0:
                ax.set_ylim(0.0, 1.0)
                ax.set_title(f"{task_name}: final accuracy vs peak LR (mean over grid seeds)")
                ax.legend(fontsize=7, loc="lower left")
            else:
                ax.set_ylim(best - (0.08 if task_name == "mnist1d" else 0.03), best + 0.01)
                centre = [e.grid.best_lr for e in entries if e.grid is not None] + by["auto"].peaks
                ax.set_xlim(min(centre) / 10, max(centre) * 10)
                ax.set_title(f"{task_name}: the same, near the top")
            ax.set_xlabel("peak learning rate")
            ax.set_ylabel("final test accuracy")
            ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    write_figure(fig, path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits only, a 1-point grid, 1 seed (CI smoke test)")
    parser.add_argument("--workers", type=int, help="processes training in parallel (default 2; 1 with --quick)")
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 1 if args.quick else 2  # starting a pool costs more than the quick runs
    size = QUICK if args.quick else FULL
    before = runs.Stats(runs.STATS.cached, runs.STATS.computed, runs.STATS.seconds)
    results = {task_name: evaluate(task_name, size, args.workers) for task_name in size.tasks}

    suffix = ".quick" if args.quick else ""
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    curves = harness.RESULTS / f"training_curves{suffix}.png"
    grid_png = harness.RESULTS / f"training_grid{suffix}.png"
    plot_curves(results, curves)
    plot_grid(results, grid_png)

    computed = runs.STATS.computed - before.computed
    cached = runs.STATS.cached - before.cached
    text = header(
        "Training quality: schedules at their best grid peak vs auto and the peers",
        "torch",
        "schedulefree",
        "torch-lr-finder",
        "mnist1d",
        "scikit-learn",
        "matplotlib",
    )
    text += (
        f"- seeds: grid {list(size.grid_seeds)}, reported {list(size.seeds)}; grids and seeds fixed in "
        "bench/runs.py and bench/training.py; each point's runs are deterministic per seed\n"
        f"- jobs this invocation: {computed} computed ({runs.STATS.seconds - before.seconds:.0f} s wall in a pool of "
        f"{args.workers}), {cached} from the cache (same code fingerprint)\n"
        "- schedules are lrkit schedules driven by `lrkit.torch.Scheduler`; schedule-free AdamW is "
        "`schedulefree.AdamWScheduleFree` (warmup 5% of the budget) at a constant LR; the peer pipeline is "
        "torch-lr-finder (`range_test(end_lr=10, num_iter=100)`, steepest-gradient suggestion) -> "
        "`torch.optim.lr_scheduler.OneCycleLR(max_lr=suggestion)` with torch's defaults\n"
        "- `auto`: `lrkit.torch.finder.auto(..., updates=budget)` on the seed's model and batches (one range "
        f"test of {runs.FINDER_ITERATIONS} updates), then one run of the one-cycle schedule at the peak it returns\n"
        "- accuracy: mean +- sample std (n-1) over seeds; a diverged run counts with its final accuracy\n"
    )
    for task_name, entries in results.items():
        text += table(task_name, entries)
    text += targets(results)
    text += f"\n![accuracy vs updates]({curves.name})\n\n![final accuracy vs peak LR]({grid_png.name})\n"
    path = write("training", text, args.quick)
    print(text)
    print(f"written to {path}, {curves.name}, {grid_png.name}")
    return text


if __name__ == "__main__":
    main()
