"""Draw the plots of docs/long-runs.md (docs/img/long-runs-*.png).

    python docs/long_runs.py           # every plot (the cooldown demo trains 4 short runs: ~30 s)
    python docs/long_runs.py --quick   # the schedule plots only

One plot per horizon rule (``lrkit.reactive.horizon.RULES``): the saved run's schedule, the checkpoint,
and what a Scheduler loaded with ``horizon=rule`` writes from there (``lrkit.reactive.horizon.resumed``,
the same values as the Scheduler's, see tests/test_horizon.py). Then the demo: one WSD run on the
built-in ``friedman`` task with three cooldowns branched from it (``lrkit.cooldown``), each
trained with the same seed, so every branch repeats the main run exactly up to its branch point.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import lrkit as lk
from lrkit import horizon

IMG = Path(__file__).resolve().parent / "img"
SIZE = (6.4, 3.0)

OLD = lk.warmup(50) >> lk.cosine(950, floor=0.05)
NEW = lk.warmup(50) >> lk.cosine(1950, floor=0.05)
WSD_OLD = lk.wsd(1000, warmup=50, decay=200)
AT = 600
#: rule -> (saved schedule, new schedule, checkpoint step, title)
RULE_PLOTS = {
    "keep_step": (OLD, NEW, AT, "keep_step: continue on the new schedule from the same step"),
    "same_fraction": (OLD, NEW, AT, "same_fraction: the same fraction of the new schedule"),
    "wsd": (WSD_OLD, horizon.extend(WSD_OLD, 2000), AT, "wsd: keep the stable phase, cooldown at the new end"),
    "branch": (
        WSD_OLD, lk.cooldown(WSD_OLD, at=700, decay=150, shape="1-sqrt"), AT,
        "branch: onto a cooldown branched at 700 (1-sqrt)",
    ),
}

DEMO_RUN = lk.wsd(1500, warmup=50, decay=300)
DEMO_BRANCHES = (300, 600, 900)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def rule_plot(rule: str) -> Path:
    plt = _plt()
    old, new, at, title = RULE_PLOTS[rule]
    run = horizon.resumed(old, new, at=at, rule=rule)
    fig, ax = plt.subplots(figsize=SIZE, dpi=100)
    t_old = np.arange(0, float(old.length) + 1)
    t_new = np.arange(0, float(new.length) + 1)
    t_run = np.arange(0, float(run.length) + 1)
    ax.plot(t_old, old(t_old), "--", color="0.55", lw=1.2, label=f"saved: {old!r}"[:70])
    ax.plot(t_new, new(t_new), ":", color="tab:blue", lw=1.2, label="new schedule from step 0")
    ax.plot(t_run[t_run >= at], run(t_run[t_run >= at]), color="tab:red", lw=2.0, label="after the resume")
    ax.plot(t_run[t_run <= at], run(t_run[t_run <= at]), color="black", lw=2.0, label="before the checkpoint")
    ax.axvline(at, color="0.3", lw=0.8)
    ax.annotate(f"checkpoint s={at}", (at, 1.02), xytext=(6, 0), textcoords="offset points", fontsize=8)
    q = horizon.resume(old, new, at, rule)
    ax.set_title(f"{title}\nq = {q:g}: lr(t) = new(q + t - s)", fontsize=9)
    ax.set_xlabel("optimizer updates")
    ax.set_ylabel("multiplier")
    ax.set_ylim(-0.02, 1.08)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)
    fig.tight_layout()
    path = IMG / f"long-runs-{rule}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def cooldown_demo() -> Path:
    from lrkit.tasks import get_task

    plt = _plt()
    task = get_task("friedman")
    runs = {"main run (wsd)": DEMO_RUN}
    for at in DEMO_BRANCHES:
        runs[f"cooldown at {at}"] = lk.cooldown(DEMO_RUN, at=at, decay=at // 5, shape="1-sqrt")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.2), dpi=100, sharex=True)
    for (label, schedule), color in zip(runs.items(), ("black", "tab:blue", "tab:orange", "tab:green")):
        result = task.train(schedule, seed=0, updates=int(schedule.length), eval_every=25)
        t = np.arange(len(result.lrs))
        top.plot(t, result.lrs, color=color, lw=1.5, label=label)
        loss = np.convolve(result.losses, np.ones(25) / 25, mode="valid")
        bottom.plot(t[24:], loss, color=color, lw=1.2, label=f"{label}: test {result.final_accuracy:.4f}")
    top.set_ylabel("learning rate")
    top.set_title(f"One WSD run, three cooldowns branched from it (friedman, AdamW, peak {task.default_lr:g})",
                  fontsize=9)
    top.legend(fontsize=7)
    bottom.set_yscale("log")
    bottom.set_ylabel("train loss (25-update mean)")
    bottom.set_xlabel("optimizer updates")
    bottom.legend(fontsize=7, title="final test score (R^2)", title_fontsize=7)
    fig.tight_layout()
    path = IMG / "long-runs-cooldowns.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    IMG.mkdir(exist_ok=True)
    written = [rule_plot(rule) for rule in horizon.RULES]
    if "--quick" not in argv:
        written.append(cooldown_demo())
    for path in written:
        print(path.relative_to(IMG.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
