"""Loss-curve prediction (lrkit.curves): every figure of docs/curves.md and BENCHMARKS.md.

Published curves (Luo et al. 2025; 25M shipped in lrkit, 100M read from ../shared/data/loss-curves):
the paper's protocol (fit on cosine_24000, constant_24000, wsdcon_9; predict the other six), both
laws side by side, fit time; the published parameters evaluated on the same data; a schedule
optimised for 24,000 updates (peak 3e-4, warmup 2,160) vs cosine, constant, WSD and WSD-linear.
Writes bench/results/curves.md and curves.png.

``--task NAME`` instead records runs of a built-in lrkit task (lrkit.tasks: mnist1d, digits, charlm)
under three schedules, fits both laws, predicts three others, and writes
bench/results/curves_task_NAME.md; ``--block K`` (odd) makes each point the mean of K consecutive
mini-batch losses.

    python bench/curves.py                      # the published curves (~30 s on 2 cores)
    python bench/curves.py --data PATH          # another copy of the data (folder with 25M/ and 100M/)
    python bench/curves.py --task mnist1d       # our own task (~2 min)
    python bench/curves.py --task charlm --block 9   # the character LM, 9-update means (~1.5 min)
    python bench/curves.py --splits             # every run vs every point weighed the same, other splits (~4 min)
    python bench/curves.py --variants           # fit variants vs "mean error and finals ranked", both sizes (~1 min)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import lrkit as lk  # noqa: E402
from lrkit import curves  # noqa: E402
from lrkit.curves.data import data_dir  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import harness  # noqa: E402  (run_all points harness.RESULTS at --out)

PUBLISHED = {  # the authors' src/config.py, [L0, A, alpha, B, C, beta, gamma]
    "25M": (3.0405, 0.5247, 0.5079, 363.79, 2.0656, 0.5828, 0.6414),
    "100M": (2.6514, 0.6012, 0.4530, 437.95, 2.1325, 0.5979, 0.6552),
}
PAPER_FIGURE = {"25M": 0.00110, "100M": 0.00142}
OTHER = {"25M": "100M", "100M": "25M"}
#: the default fit's mean of the run means before issue 26 (bench/results/curves.md of 2026-12-02)
BEFORE = {"25M": 0.00100, "100M": 0.00135}


def _coverage(result: curves.Fit, runs: list[curves.Run], level: float = 0.95) -> tuple[int, float]:
    """How many of ``runs``' last logged losses the fit's ``level`` interval covers, and the mean half-width (%)."""
    from lrkit.curves.intervals import interval

    hits, widths = 0, []
    for run in runs:
        mean, low, high = interval(result.law, result.uncertainty, run.lrs, [int(run.steps[-1])], level)
        hits += bool(low[0] <= run.losses[-1] <= high[0])  # type: ignore[index]
        widths.append((high[0] - mean[0]) / mean[0])
    return hits, float(np.mean(widths))


def _fmt(x: float) -> str:
    return f"{100 * x:.3f}%"


def _objective(law: curves.Law, runs: list[curves.Run], delta: float = 1e-3) -> float:
    """The fit's objective (``curves.fit``'s defaults) at ``law``: the Huber loss (``delta``) of
    ``log(pred) - log(loss)`` summed over every logged point after the warmup of ``runs``; evaluated
    with the exact law (the fit groups decreases of a few updates, < 1e-5 relative)."""
    total = 0.0
    for run in runs:
        run = run.after_warmup()
        r = np.abs(np.log(law.predict(run.lrs, run.steps)) - np.log(run.losses))
        total += float(np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)).sum())
    return total


def _ranked(s: curves.Score, apart: float = 0.0) -> bool:
    """Whether every pair of predicted finals measured more than ``apart`` (relative) apart is in the measured
    order (0: the whole order)."""
    by_truth = sorted(s.runs, key=lambda r: r.final_loss)
    return not any(
        a.predicted_final > b.predicted_final and (b.final_loss - a.final_loss) / a.final_loss > apart
        for i, a in enumerate(by_truth)
        for b in by_truth[i + 1 :]
    )


def _swaps(out: list[str], label: str, s: curves.Score) -> None:
    """Append the pairs of runs whose predicted finals are in the wrong order."""
    by_truth = sorted(s.runs, key=lambda r: r.final_loss)
    for i, a in enumerate(by_truth):
        for b in by_truth[i + 1 :]:
            if a.predicted_final > b.predicted_final:
                gap = 100 * (b.final_loss - a.final_loss) / a.final_loss
                out.append(f"{label}: {a.name} ({a.final_loss:.4f}) and {b.name} ({b.final_loss:.4f}), "
                           f"measured {gap:.2f}% apart")


def paper(data: Path, sizes: tuple[str, ...] = ("25M", "100M")) -> str:
    out = [harness.header("Loss-curve prediction on the published curves (Luo et al. 2025)", "numpy", "scipy")]
    out.append("Fits from scratch, deterministic; numpy + scipy, one thread.")
    out.append("")
    fits: dict[tuple[str, str], curves.Fit] = {}
    two_steps: dict[str, curves.Fit] = {}  # the multi-power law by the paper's two steps (the default before)
    auto_method = "staged"
    rows = [
        "| size | law | fit time | paper's objective on the fitted runs (x 1e-6) | mean error, all points "
        "| mean of the run means | worst point | min R^2 | finals ranked right | pairs > 0.2% apart ranked right "
        "| 95% intervals cover the finals (mean half-width) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: | :---: | ---: |",
    ]
    per_run = []
    targets: list[str] = []
    swaps: list[str] = []
    sets = {}
    for size in sizes:
        folder = data / size
        if not folder.is_dir():
            if size == "25M":
                folder = data_dir() / "25M"  # the shipped copy
            else:
                rows.append(f"| {size} | (data not found at {folder}) | | | | | | | |")
                continue
        runs = curves.paper_runs(folder)
        sets[size] = runs
        pub = curves.score(curves.MultiPowerLaw(*PUBLISHED[size]), [runs[n] for n in curves.PREDICT_RUNS])
        fitted_runs = [runs[n] for n in curves.FIT_RUNS]
        other = PUBLISHED[OTHER[size]]
        held_out_prior = {"C": (other[4], 1.0), "beta": (other[5], 1.0), "gamma": (other[6], 1.0)}
        variants = (
            ("auto", "staged", "runs", "law",
             "auto: MultiPowerLaw (two steps or refit) or ConvexDropLaw by leave-one-run-out error (the default)"),
            (curves.MultiPowerLaw, "staged", "runs", "law", "MultiPowerLaw (the paper's two steps, the law's prior)"),
            (curves.MultiPowerLaw, "refit", "runs", "law",
             "MultiPowerLaw, refit: the second step also frees alpha and B"),
            (curves.MultiPowerLaw, "staged", "runs", held_out_prior,
             f"MultiPowerLaw, the prior centred on {OTHER[size]}'s published values only"),
            (curves.MultiPowerLaw, "staged", "runs", None, "MultiPowerLaw, no prior (the default before)"),
            (curves.MultiPowerLaw, "staged", "points", "law", "MultiPowerLaw, every point weighed the same"),
            (curves.MultiPowerLaw, "joint", "runs", "law", "MultiPowerLaw, joint optimum"),
            (curves.MomentumLaw, "staged", "runs", "law", "MomentumLaw"),
            (curves.ConvexBoundLaw, "staged", "runs", "law", "ConvexBoundLaw (Schaipp et al. 2025)"),
            (curves.ConvexDropLaw, "staged", "runs", "law", "ConvexDropLaw (area power law + convex-bound drop)"),
        )
        _swaps(swaps, f"{size} published parameters", pub)
        for law, method, weights, prior, label in variants:
            default = law == "auto" or (method in ("staged", "refit") and weights == "runs" and isinstance(prior, str))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", curves.CurveFitWarning)
                result = curves.fit([runs[n] for n in curves.FIT_RUNS], law, method=method, weights=weights,
                                    prior=prior, jackknife=default)
            if law == "auto":
                auto_method = result.method
            elif default and (law is not curves.MultiPowerLaw or method == auto_method):
                fits[size, law.name] = result  # the multi-power law as the default fits it
            if law is curves.MultiPowerLaw and method == "staged" and default:
                two_steps[size] = result
            predicted_runs = [runs[n] for n in curves.PREDICT_RUNS]
            s = curves.score(result.law, predicted_runs)
            ranked = _ranked(s)
            cover = ""
            if default:
                hits, half = _coverage(result, predicted_runs)
                cover = f"{hits} of {len(predicted_runs)} ({_fmt(half)})"
            if label.endswith("(the default)"):
                picked = ", ".join(f"{n} {_fmt(e)}" for n, e in result.selection)
                how = " (refit)" if result.method == "refit" else ""
                label = f"{label}: picked {type(result.law).__name__}{how} (held-out errors {picked})"
                before = BEFORE[size]
                targets.append(
                    f"- paper protocol, {size}: mean of the run means <= {_fmt(before)}: "
                    f"{'**met**' if round(s.run_mean_error, 5) <= before else '**not met**'} "
                    f"({_fmt(s.run_mean_error)}); pairs > 0.2% apart ranked right: "
                    f"{'**met**' if _ranked(s, 0.002) else '**not met**'}"
                )
            rows.append(
                f"| {size} | {label} | {result.seconds:.1f} s | {1e6 * _objective(result.law, fitted_runs):.1f} | "
                f"{_fmt(s.mean_error)} | "
                f"{_fmt(s.run_mean_error)} | {_fmt(s.worst_error)} | {s.min_r2:.4f} | {'yes' if ranked else 'no'} | "
                f"{'yes' if _ranked(s, 0.002) else 'no'} | {cover} |"
            )
            if default:
                per_run.append(f"### {size}, {label} ({result.law})\n\n{s.table()}\n")
            _swaps(swaps, f"{size} {label}", s)
        rows.append(
            f"| {size} | published parameters | | "
            f"{1e6 * _objective(curves.MultiPowerLaw(*PUBLISHED[size]), fitted_runs):.1f} | "
            f"{_fmt(pub.mean_error)} | {_fmt(pub.run_mean_error)} | "
            f"{_fmt(pub.worst_error)} | {pub.min_r2:.4f} | {'yes' if _ranked(pub) else 'no'} | "
            f"{'yes' if _ranked(pub, 0.002) else 'no'} | |"
        )
        rows.append(f"| {size} | the data README's figure | | | | {_fmt(PAPER_FIGURE[size])} | | | | | |")
    out += rows
    if targets:
        out += ["", "Targets (issue 26): the default fit no worse than before it (0.100% / 0.135%, mean of the run",
                "means) and every pair of finals measured more than 0.2% apart ranked right.", "", *targets]
    out += ["", "Finals ranked wrong (pairs of predicted runs in the wrong order):", ""]
    out += [f"- {line}" for line in swaps] or ["- none"]
    out += [
        "",
        "The default fit (`law=\"auto\"`) first chooses among the multi-power law by the paper's two steps, the",
        "multi-power law's refit (`method=\"refit\"`: the second step also frees `alpha` and `B`) and the convex",
        "drop, by each one's leave-one-run-out error on the three fitted runs (bench/curves_grid.py --select): it",
        "picks the refit on both sizes (held out 0.106% / 0.101% against the two steps' 0.116% / 0.136%), so its",
        "figures are the refit's row. Before this round's last change it chose between the two steps and the",
        "convex drop: 0.100% / 0.135%, with 100M's constant_72000 / wsd_20000_24000 (0.34% apart) swapped. The",
        "refit ranks every pair more than 0.2% apart right on both sizes; 25M's mean error is 0.104% (0.004",
        "points above the two steps'). On the 35 other choices of three fitted runs (`--splits`,",
        "[curves_splits.md](curves_splits.md)) the refit beats the two steps on 25M (0.119% against 0.122%, every",
        "pair > 0.2% apart right in 32 splits against 30) and ranks better on 100M (31 against 24) at 0.134%",
        "against 0.129%; auto's own figures there are worse than either (0.151% / 0.172%): on 20 of the 35",
        "splits the convex drop has the lower held-out error and then predicts the 72,000-update cosine",
        "0.4-0.8% off. The held-out error cannot see a run longer than every fitted one.",
        "",
        "The default fit (issue 26) adds two things to the paper's procedure: a prior on `C, beta, gamma`",
        "(centred on the mean of the two sizes' published values, sd 1 on each log; `prior=\"law\"`) and the",
        "leave-one-run-out fits whose spread enters every interval (`jackknife=True`; its fit time includes",
        "them). On these curves the prior leaves the two steps' figures where they were without it (0.100% /",
        "0.135%) and keeps `C, beta, gamma` off their bounds; centred on the other size's published values",
        "only (a prior that has not seen the size), 25M gets 0.113% and 100M 0.135%: the second step's",
        "optimum is flat, and where it lands moves by 0.01 points with the centre. The default's 95% intervals",
        "cover the measured final of 6 of 6 predicted runs on 25M and 4 of 6 on 100M (the two WSD decays,",
        "whose drop the law predicts too large).",
        "",
        "Relative error `|pred - loss| / loss`: averaged over every logged point of the six predicted runs",
        "(the long runs weigh more), and as the mean of the six runs' own means (each run weighs the same; the",
        "data README's 0.110% / 0.142% for the published parameters are this figure, and lrkit reproduces them).",
        "",
        "The fit (`curves.fit`, defaults `method=\"staged\"`, `weights=\"runs\"`) minimises a Huber loss (delta",
        "1e-3) of `log(pred) - log(loss)` over the three fitted runs, as the paper does, in the paper's two steps",
        "(Luo et al.'s code: `initialize_params`, then a refinement from `C = 1, beta = gamma = 0.5`): `L0, A,",
        "alpha, B` with every decrease realised at once (`G = 1`), then `C, beta, gamma` with those held; scipy's",
        "`least_squares` runs each step to convergence. One change from the paper: every fitted run weighs the",
        "same in total (wsdcon_9 logs 95 / 109 points against 170 for the others), as the figure of merit does",
        "(the mean of the runs' means); the row \"every point weighed the same\" is the paper's objective. That",
        "choice was made after the variants below, on these same predicted runs, so it is checked on other",
        "splits of the same curves: `python bench/curves.py --splits` fits every other choice of three runs of",
        "unequal lengths among the seven short ones and predicts the other six ([curves_splits.md](curves_splits.md)).",
        "Every other constant is the paper's; none was tuned on these curves. The joint optimum of all seven",
        "parameters (`method=\"joint\"`) fits the three runs more closely but moves `B` against `beta` (and the",
        "warmup's rises, a second power law `S^-beta` in this form) and extrapolates cosine_72000 worse. Among",
        "the variants measured earlier on 25M, every point weighed the same (stage-2 sets with `L0`/`A`/`alpha`/`B`",
        "free, Huber delta 3e-3 or 1e-2, absolute residuals, the first points or the first 2k-6k updates left",
        "out, log-time weights, `beta` held at 0.1-1.0, the joint fit from the paper's start) none beat the",
        "paper's own two steps by more than 0.004 points on 25M (best 0.111%); skipping early points always",
        "hurt; on 100M, four of those variants measured afterwards gave 0.122% to 0.149%.",
        "",
        "The objective column is the paper's objective (every point weighed the same) on the three fitted runs:",
        "the published parameters are not its optimum (the paper's refinement is 200 AdamW steps from the",
        "realised-drop fit), and on 25M the closer a fit comes to that optimum, the worse it extrapolates.",
        "",
        "Ranking the six finals and the mean error pull apart: `python bench/curves.py --variants`",
        "([curves_variants.md](curves_variants.md)) fits 42 variants (Huber delta 3e-4 / 1e-3 / 3e-3, runs or",
        "points weighed the same, then 0-50 evaluations of the joint fit started from the staged one, an early-",
        "stopped refinement as the paper's own). On 25M one variant ranks the finals right at a mean error at or",
        "below the published parameters' (delta 3e-4, no refinement); on 100M thirteen do, all refined by 5-30",
        "evaluations, and each of those gives 25M a mean error of 0.120-0.136%; none does on both sizes. The",
        "published parameters themselves swap wsdcon_3 / wsdcon_18 on both sizes.",
        "",
    ]
    out += _where(fits, two_steps, sets)
    out += per_run
    # optimisation
    if ("25M", "multi_power") in fits:
        out.append("## A schedule optimised for 24,000 updates (peak 3e-4, warmup 2,160)\n")
        out.append("Predicted final loss at 24,000 by each fitted law; `optimize(law, 24000, 3e-4, 2160, floor=F)`.\n")
        out.append(
            "| size | law | cosine | constant | WSD | WSD-linear | optimised, floor 0.1 | optimised, floor 0.01 "
            "| time |"
        )
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        given = {n: curves.paper_schedule(n)[0] for n in
                 ("cosine_24000", "constant_24000", "wsd_20000_24000", "wsdld_20000_24000")}
        best_schedules = {}
        for (size, name), result in fits.items():
            law = result.law
            start = time.perf_counter()
            a = curves.optimize(law, 24000, 3e-4, 2160, floor=0.1)
            b = curves.optimize(law, 24000, 3e-4, 2160, floor=0.01)
            seconds = time.perf_counter() - start
            best_schedules[size, name] = (a, b)
            finals = [law.final(s, 24000) for s in given.values()]
            beats = a.predicted_loss < min(finals)
            out.append(
                f"| {size} | {type(law).__name__} | " + " | ".join(f"{x:.4f}" for x in finals)
                + f" | **{a.predicted_loss:.4f}**{'' if beats else ' (not better)'} | {b.predicted_loss:.4f} | "
                f"{seconds:.1f} s |"
            )
        a, _ = best_schedules["25M", "multi_power"]
        out += ["", "The 25M multi-power schedule (floor 0.1), as lrkit config text:", ""]
        out += ["```", repr(a.schedule), "```", ""]
        if len(sizes) > 1:  # a quick run never replaces the figure
            _figure(fits, sets, best_schedules)
            out.append("![curves](curves.png)\n")
    return "\n".join(out)


def _at(law: curves.Law, run: curves.Run, step: int) -> float:
    """The relative error (%) of ``law`` at the logged point of ``run`` nearest ``step``."""
    i = int(np.argmin(np.abs(run.steps - step)))
    pred = float(law.predict(run.lrs, run.steps[i : i + 1])[0])
    return 100 * (pred - float(run.losses[i])) / float(run.losses[i])  # type: ignore[index]


def _where(fits: dict[tuple[str, str], curves.Fit], two_steps: dict[str, curves.Fit],
           sets: dict[str, dict[str, curves.Run]]) -> list[str]:
    """Which term misses the pair constant_72000 / wsd_20000_24000: the signed error (%) of the default fit
    (and of the published parameters) at the WSD cooldown's start and end and along the constant run."""
    out = ["## Which term misses: the WSD cooldown's drop or the constant run's long horizon", "",
           "Signed error `(pred - loss) / loss` of the default multi-power fit and of the published parameters at",
           "the logged point nearest each update (`python bench/curves.py`). The cooldown's drop error is the end",
           "minus the start, in points of % (negative: the law's drop over 20,000-24,000 larger than measured).", "",
           "| size | law | wsd at 20k | wsd at 24k | drop error | wsdld at 20k | wsdld at 24k | drop error "
           "| constant_72000 at 24k | at 48k | at 72k | cosine_24000 (fitted) at 24k |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size, runs in sets.items():
        if (size, "multi_power") not in fits:
            continue
        laws = [("default fit (refit)" if fits[size, "multi_power"].method == "refit" else "default fit",
                 fits[size, "multi_power"].law)]
        if size in two_steps and two_steps[size] is not fits[size, "multi_power"]:
            laws.append(("the paper's two steps", two_steps[size].law))
        for label, law in (*laws, ("published", curves.MultiPowerLaw(*PUBLISHED[size]))):
            w = [_at(law, runs["wsd_20000_24000"], t) for t in (20000, 24000)]
            ld = [_at(law, runs["wsdld_20000_24000"], t) for t in (20000, 24000)]
            c = [_at(law, runs["constant_72000"], t) for t in (24000, 48000, 72000)]
            cos = _at(law, runs["cosine_24000"], 24000)
            out.append(f"| {size} | {label} | {w[0]:+.3f}% | {w[1]:+.3f}% | {w[1] - w[0]:+.3f} | {ld[0]:+.3f}% | "
                       f"{ld[1]:+.3f}% | {ld[1] - ld[0]:+.3f} | {c[0]:+.3f}% | {c[1]:+.3f}% | {c[2]:+.3f}% | "
                       f"{cos:+.3f}% |")
    out += ["", *WHERE, ""]
    return out


WHERE = [
    "On 100M the WSD cooldown's drop decides the pair: the paper's two steps are right where the cooldown",
    "starts and predict a drop 0.68 points too large by its end, the constant run's 3x extrapolation only",
    "0.26% too low, so the pair is swapped. The refit (the default's choice) predicts the drop 0.53 points",
    "too large and the constant run 0.25% low: the pair in the measured order. The drop is too large for",
    "every fit and for the published parameters (0.2-0.7 points on both sizes), while the fitted",
    "cosine_24000 ends 0.2-0.4% below the law (its drop too small): the multi-power drop cannot give a",
    "24,000-update cosine more and a 4,000-update cooldown to the same floor less, and none of the three",
    "fitted runs decays that fast (wsdcon_9 is one step to 9e-5). Measured and not adopted (each worse",
    "elsewhere): the prior's width (sd 0.1 / 0.3 / 3 on each log; the leave-one-run-out error of the",
    "fitted runs prefers 0.1 on 25M, 1-3 on 100M; 100M's pair stays wrong at every width, the WSD final",
    "0.63-0.74% too low); the second step also freeing `B` (25M 0.111%, 100M unchanged); a",
    "third step refitting `B, C, beta, gamma` or `L0, A, alpha, B` (100M unchanged or worse); weighing each",
    "point by its update (late points more, `w ~ t` or `t^2`: 25M 0.117% / 0.174%, 100M's pair still",
    "wrong).",
]


def _figure(fits, sets, best) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return
    fig = Figure(figsize=(14, 8), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3)
    for row, size in enumerate(("25M", "100M")):
        if size not in sets:
            continue
        runs = sets[size]
        for col, name in enumerate(("multi_power", "momentum")):
            law = fits[size, name].law
            curves.plot(
                law, [runs[n] for n in curves.FIT_RUNS], [runs[n] for n in curves.PREDICT_RUNS], ax=axes[row, col],
                title=f"{size}: {type(law).__name__}",
            )
            axes[row, col].set_ylim(3.1 if size == "25M" else 2.75, 3.8 if size == "25M" else 3.5)
        ax = axes[row, 2]
        t = np.arange(24000)
        for label, sched in (
            ("cosine", curves.paper_schedule("cosine_24000")[0]),
            ("WSD", curves.paper_schedule("wsd_20000_24000")[0]),
            ("WSD-linear", curves.paper_schedule("wsdld_20000_24000")[0]),
        ):
            ax.plot(t, sched(t), label=label)
        a, b = best[size, "multi_power"]
        ax.plot(t, a.absolute(t), label="optimised (floor 0.1)", lw=2)
        ax.plot(t, b.absolute(t), label="optimised (floor 0.01)", lw=2, ls="--")
        ax.set_title(f"{size}: schedules for 24,000 updates (multi-power)")
        ax.set_xlabel("update")
        ax.set_ylabel("learning rate")
        ax.legend(fontsize="small")
    fig.savefig(harness.RESULTS / "curves.png")


def task(name: str, seed: int, block: int = 1) -> str:
    import torch

    from lrkit.tasks import get_task

    torch.set_num_threads(1)
    t = get_task(name)
    n, peak = t.budget, t.default_lr
    w = max(1, n // 10)
    fit_schedules = {
        "cosine": lk.warmup(w) >> lk.cosine(n - w, floor=0.1),
        "constant": lk.warmup(w) >> lk.constant(1.0),
        "drop": lk.warmup(w) >> lk.constant(1.0, n // 2 - w) >> lk.constant(0.3),
    }
    predict_schedules = {
        "wsd": lk.wsd(n, warmup=w, decay=n // 5, floor=0.1),
        "linear": lk.warmup(w) >> lk.linear(n - w, 1.0, 0.1),
        "drop-to-0.1": lk.warmup(w) >> lk.constant(1.0, n // 2 - w) >> lk.constant(0.1),
    }

    def record(sched: lk.Schedule) -> tuple[curves.Run, float]:
        result = t.train(sched, peak, seed)
        lrs = np.asarray(result.lrs)
        losses = np.asarray(result.losses)  # losses[i]: the batch loss after i updates
        if block == 1:
            steps = np.arange(w + 1, lrs.size)  # after the warmup, as the fit
            return curves.Run.of(lrs, steps, losses[w + 1 :], name=""), result.final_accuracy
        # the mean of `block` consecutive mini-batch losses (block odd), at the middle update
        first = w + 1
        count = (lrs.size - first) // block
        means = losses[first : first + count * block].reshape(count, block).mean(axis=1)
        steps = first + block // 2 + block * np.arange(count)
        return curves.Run.of(lrs, steps, means, name=""), result.final_accuracy

    start = time.perf_counter()
    fitted, predicted, acc = [], [], {}
    for label, sched in fit_schedules.items():
        run, acc[label] = record(sched)
        fitted.append(curves.Run(run.lrs, run.steps, run.losses, label, repr(sched)))
    for label, sched in predict_schedules.items():
        run, acc[label] = record(sched)
        predicted.append(curves.Run(run.lrs, run.steps, run.losses, label, repr(sched)))
    train_seconds = time.perf_counter() - start
    out = [f"# Loss-curve prediction on the built-in task {name!r}", ""]
    flag = f" --block {block}" if block != 1 else ""
    out.append(f"Command: `python bench/curves.py --task {name}{flag}` (seed {seed}; {n} updates, peak {peak:g}, "
               f"warmup {w}; six training runs took {train_seconds:.0f} s).")
    if block == 1:
        out.append("Every update's mini-batch loss is a point (no smoothing).")
    else:
        out.append(f"Each point is the mean of {block} consecutive mini-batch losses, at the middle update (a")
        out.append("single mini-batch's loss is too noisy to judge a law by; the published curves are logged every")
        out.append("128 updates). The mean of a block is the law's value at its middle up to the curve's")
        out.append("curvature over the block (negligible here against the noise).")
    out.append("Fit on cosine, constant, drop-to-0.3; predict the other three.\n")
    # noise: the second difference L[j-1] - 2 L[j] + L[j+1] of independent normal noise of relative sd sigma has
    # sd sqrt(6) sigma, so its median |.| / L[j] is 0.6745 sqrt(6) sigma (a smooth trend's second difference is
    # far smaller, unlike its first); a law exact up to that noise has a mean relative error of sigma sqrt(2 / pi)
    bend = np.concatenate([np.abs(np.diff(r.losses, 2)) / r.losses[1:-1] for r in fitted + predicted])  # type: ignore[arg-type]
    sigma = float(np.median(bend)) / (0.6745 * np.sqrt(6.0))
    floor = sigma * np.sqrt(2.0 / np.pi)
    out.append(f"Noise floor: from the median second difference of neighbouring points, they scatter by about "
               f"{_fmt(sigma)} (relative sd);")
    out.append(f"a law exact up to that noise would show a mean error of about {_fmt(floor)}.\n")
    laws = ((curves.MultiPowerLaw, "staged"), (curves.MultiPowerLaw, "joint"), (curves.MomentumLaw, "staged"))
    summary = ["## Summary", "", "| law | mean error, predicted runs | vs the noise floor | worst final (last 5%) "
               "| finals ranked right | parameters at a bound |", "| --- | ---: | ---: | ---: | :---: | --- |"]
    details = []
    for law, method in laws:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurveFitWarning)
            result = curves.fit(fitted, law, method=method)
        s = curves.score(result.law, predicted)
        truth = [r.name for r in sorted(s.runs, key=lambda r: r.final_loss)]
        ranked = [r.name for r in sorted(s.runs, key=lambda r: r.predicted_final)] == truth
        # final loss compared on the mean of the points in the last 5% of the updates (single mini-batches are noisy)
        finals = []
        for run, pred in zip(predicted, s.predictions):
            assert run.losses is not None
            tail = run.steps > n - n // 20
            finals.append((run.name, float(run.losses[tail].mean()), float(pred[tail].mean())))
        label = law.__name__ + (", joint optimum" if law is curves.MultiPowerLaw and method == "joint" else "")
        low, high = law.bounds()
        at_bound = [n for n, x, lo, hi in zip(law.param_names(), result.law.vector(), low, high)
                    if abs(x - lo) <= 1e-6 * max(1.0, abs(lo)) or (np.isfinite(hi) and abs(hi - x) <= 1e-6 * abs(hi))]
        worst_final = max(abs(p - m) / m for _, m, p in finals)
        summary.append(f"| {label} | {_fmt(s.mean_error)} | {s.mean_error / floor:.1f}x | {_fmt(worst_final)} | "
                       f"{'yes' if ranked else 'no'} | {', '.join(at_bound) or 'none'} |")
        details.append(f"## {label}: fitted in {result.seconds:.1f} s ({result.law})\n")
        details.append("Fit quality (R^2 on the fitted runs): "
                       + ", ".join(f"{r.name} {r.r2:.3f}" for r in result.quality.runs) + "\n")
        details.append(s.table() + "\n")
        details.append("| run | measured loss, last 5% | predicted | test accuracy |")
        details.append("| --- | ---: | ---: | ---: |")
        for run_name, measured, pred in finals:
            details.append(f"| {run_name} | {measured:.4f} | {pred:.4f} | {acc[run_name]:.3f} |")
        what = "single last batch" if block == 1 else f"last block of {block}"
        details.append(f"\nFinal losses ({what}) ranked right: {'yes' if ranked else 'no'}.\n")
    out += summary
    out += ["", "A law that holds would predict the three other runs to about the noise floor (1.0x) and rank their",
            "finals right; the measured multiples and the finals above say where it does not. A parameter at a",
            "bound (L0 = 0: no floor in sight; beta = 5) means the fit leaves the law's intended regime.", ""]
    out += details
    out.append("Noise bounds R^2 below 1 even for a perfect law; compare the mean errors with the noise floor above")
    out.append("and with the fit's own R^2 to see how much is prediction error.")
    return "\n".join(out)


def splits(data: Path, sizes: tuple[str, ...] = ("25M", "100M")) -> str:
    """Every run weighed the same vs every point, on every other split: three fitted runs of unequal lengths
    among the seven 16k/24k-update runs, the other six predicted (mean of their run means)."""
    import itertools

    out = [harness.header("Loss-curve fits: every run weighed the same vs every point, on other splits", "numpy",
                          "scipy")]
    out.append("Fitted: each choice of three of the seven short runs (16,000 / 24,000 updates) whose logged point "
               "counts differ (the weights only matter then); predicted: the other six, long runs included. "
               "Mean of the six runs' mean relative errors, the multi-power law, `method=\"staged\"`.\n")
    out.append("| size | splits | runs better | runs worse | mean over splits, points | mean over splits, runs "
               "| worst split, points | worst split, runs | the paper's split, points / runs |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    found: dict[str, dict[str, Any]] = {}
    for size in sizes:
        folder = data / size if (data / size).is_dir() else (data_dir() / "25M" if size == "25M" else None)
        if folder is None:
            out.append(f"| {size} | (data not found at {data / size}) | | | | | | | |")
            continue
        runs = curves.paper_runs(folder)
        short = sorted(n for n in runs if "72000" not in n)
        scores: dict[tuple[str, ...], dict[str, float]] = {}
        for triple in itertools.combinations(short, 3):
            fitted = [runs[n] for n in triple]
            if len({r.after_warmup().steps.size for r in fitted}) == 1:
                continue
            rest = [runs[n] for n in sorted(runs) if n not in triple]
            for weights in ("points", "runs"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", curves.CurveFitWarning)
                    law = curves.fit(fitted, "multi_power", weights=weights).law
                scores.setdefault(triple, {})[weights] = curves.score(law, rest).run_mean_error
        p = np.array([v["points"] for v in scores.values()])
        r = np.array([v["runs"] for v in scores.values()])
        paper_split = scores[tuple(sorted(curves.FIT_RUNS))]
        out.append(
            f"| {size} | {len(scores)} | {int((r < p - 1e-7).sum())} | {int((r > p + 1e-7).sum())} | "
            f"{_fmt(float(p.mean()))} | {_fmt(float(r.mean()))} | {_fmt(float(p.max()))} | {_fmt(float(r.max()))} | "
            f"{_fmt(paper_split['points'])} / {_fmt(paper_split['runs'])} |"
        )
        found[size] = _split_choices(runs, short)
    out += ["", "### The default's choice on every split: the paper's two steps, the refit, or auto between them", "",
            "Every choice of three of the seven short runs (35), the other six predicted. Per fit: the multi-power law "
            "by the paper's two steps (`method=\"staged\"`), by the refit (`method=\"refit\"`: the second step also "
            "frees `alpha` and `B`), the convex drop, and the default (`law=\"auto\"`: those three, the one with the "
            "lowest leave-one-run-out error on the three fitted runs; *auto before*: the same choice without the "
            "refit, as before this round's last change). Mean of the six runs' mean errors over the "
            "splits, the worst split, and the splits whose predicted finals measured more than 0.2% apart are all in "
            "the measured order.", "",
            "| size | splits | fit | mean over splits | worst split | splits with every pair > 0.2% apart ranked right "
            "| the paper's split | auto picked |", "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for size, rows in found.items():
        n = len(rows["staged"])
        for key, label in (("staged", "the paper's two steps"), ("refit", "refit"), ("convex_drop", "convex drop"),
                           ("before", "auto before: two steps or convex drop"), ("auto", "auto (the default)")):
            errors = np.array([e for e, _ in rows[key]])
            ranked = sum(ok for _, ok in rows[key])
            picked = ", ".join(f"{name} {count}" for name, count in sorted(rows["picked"].items()))
            out.append(f"| {size} | {n} | {label} | {_fmt(float(errors.mean()))} | {_fmt(float(errors.max()))} | "
                       f"{ranked} | {_fmt(rows['paper'][key])} | {picked if key == 'auto' else ''} |")
    return "\n".join(out)


def _split_choices(runs: dict[str, curves.Run], short: list[str]) -> dict[str, Any]:
    """For every choice of three of ``short``: each fit's (mean of the others' run means, every pair > 0.2% apart
    ranked right), the paper's split's errors, and how often auto picked each candidate."""
    import itertools

    rows: dict[str, Any] = {"staged": [], "refit": [], "convex_drop": [], "before": [], "auto": [], "picked": {},
                            "paper": {}}
    for triple in itertools.combinations(short, 3):
        fitted = [runs[n] for n in triple]
        rest = [runs[n] for n in sorted(runs) if n not in triple]
        selection: dict[str, float] = {}
        for key, law, method in (("staged", "multi_power", "staged"), ("refit", "multi_power", "refit"),
                                 ("convex_drop", "convex_drop", "staged"), ("auto", "auto", "staged")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", curves.CurveFitWarning)
                result = curves.fit(fitted, law, method=method, jackknife=False)
            s = curves.score(result.law, rest)
            rows[key].append((s.run_mean_error, _ranked(s, 0.002)))
            if key == "auto":
                name = f"{result.law.name}{' (refit)' if result.method == 'refit' else ''}"
                rows["picked"][name] = rows["picked"].get(name, 0) + 1
                selection = dict(result.selection)
            if tuple(sorted(triple)) == tuple(sorted(curves.FIT_RUNS)):
                rows["paper"][key] = s.run_mean_error
        # auto before the refit was a candidate: the two steps or the convex drop, by the same held-out errors
        before = "staged" if selection["multi_power"] <= selection["convex_drop"] else "convex_drop"
        rows["before"].append(rows[before][-1])
        if tuple(sorted(triple)) == tuple(sorted(curves.FIT_RUNS)):
            rows["paper"]["before"] = rows["paper"][before]
    return rows


#: the fit variants ``--variants`` measures: Huber delta x run weights x joint-refinement evaluations
VARIANT_DELTAS = (3e-4, 1e-3, 3e-3)
VARIANT_REFINEMENTS = (0, 3, 5, 10, 20, 30, 50)


def variants(data: Path, sizes: tuple[str, ...] = ("25M", "100M")) -> str:
    """Can one fitting procedure give both the mean error of the published parameters and the six finals in
    the right order, on both sizes? Every Huber delta x run weights x refinement: the staged fit, then
    ``n`` evaluations of the joint fit started from it (``n = 0``: the staged fit itself; the paper's own
    refinement is likewise stopped early, 200 AdamW steps; ``n = 50`` reaches the joint optimum)."""
    import itertools

    out = [harness.header("Loss-curve fits: which variants reach the mean error and rank the six finals", "numpy",
                          "scipy")]
    out.append("The paper's protocol on each size; the staged fit (`curves.fit`, `delta`, `weights`), then `n` "
               "evaluations of the joint fit from it (`curves.fit(runs, staged.law, method=\"joint\", "
               "max_evaluations=n)`; 0 = the staged fit, 50 = the joint optimum). Per size: the mean of the six "
               "predicted runs' mean errors (target: the published parameters' figure) and whether the six "
               "predicted finals are in the measured order. `both` = both targets on that size.\n")
    found = [s for s in sizes if (data / s).is_dir() or s == "25M"]
    head = "| delta | weights | n |" + "".join(f" {s} mean | {s} ranked |" for s in found) + " every size |"
    out.append(head)
    out.append("| ---: | --- | ---: |" + " ---: | :---: |" * len(found) + " :---: |")
    sets = {s: curves.paper_runs(data / s if (data / s).is_dir() else data_dir() / "25M") for s in found}
    meets = {s: 0 for s in found}
    every = 0
    total = 0
    for delta, weights in itertools.product(VARIANT_DELTAS, ("runs", "points")):
        staged = {}
        for s in found:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", curves.CurveFitWarning)
                staged[s] = curves.fit([sets[s][n] for n in curves.FIT_RUNS], "multi_power", delta=delta,
                                       weights=weights)
        for n in VARIANT_REFINEMENTS:
            cells, ok_all = [], True
            for s in found:
                fitted = [sets[s][k] for k in curves.FIT_RUNS]
                law = staged[s].law
                if n:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", curves.CurveFitWarning)
                        law = curves.fit(fitted, law, method="joint", max_evaluations=n, delta=delta,
                                         weights=weights).law
                sc = curves.score(law, [sets[s][k] for k in curves.PREDICT_RUNS])
                ranked = _ranked(sc)
                ok = ranked and sc.run_mean_error <= PAPER_FIGURE[s]
                meets[s] += ok
                ok_all &= ok
                mark = "**" if sc.run_mean_error <= PAPER_FIGURE[s] else ""
                verdict = ("yes (both)" if ok else "yes") if ranked else "no"
                cells.append(f" {mark}{_fmt(sc.run_mean_error)}{mark} | {verdict} |")
            total += 1
            every += ok_all
            out.append(f"| {delta:g} | {weights} | {n} |" + "".join(cells) + f" {'yes' if ok_all else 'no'} |")
    out.append("")
    out.append(f"Of {total} variants: " + ", ".join(f"{meets[s]} reach both targets on {s}" for s in found)
               + f"; {every} on every size. Bold: a mean error at or below the published parameters' "
               + " / ".join(f"{_fmt(PAPER_FIGURE[s])} ({s})" for s in found) + ".")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = next((p for p in (ROOT / ".." / "shared", ROOT / ".." / ".." / "shared") if p.is_dir()), ROOT / "..")
    parser.add_argument("--data", type=Path, default=shared / "data" / "loss-curves")
    parser.add_argument("--task", default=None, help="record runs of this built-in task instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block", type=int, default=1,
                        help="with --task: each point the mean of this many (odd) consecutive mini-batch losses")
    parser.add_argument("--quick", action="store_true", help="the 25M curves only, to curves.quick.md")
    parser.add_argument("--splits", action="store_true",
                        help="every run vs every point weighed the same, on every other split (~4 min)")
    parser.add_argument("--variants", action="store_true",
                        help="fit variants against both targets (mean error, finals ranked), both sizes (~1 min)")
    args = parser.parse_args(argv)
    results = harness.RESULTS
    results.mkdir(parents=True, exist_ok=True)
    if args.task:
        if args.block < 1 or args.block % 2 == 0:
            parser.error("--block must be an odd number >= 1 (the mean sits at the block's middle update)")
        text = task(args.task, args.seed, args.block)
        path = results / f"curves_task_{args.task}.md"
    elif args.splits:
        text = splits(args.data)
        path = results / "curves_splits.md"
    elif args.variants:
        text = variants(args.data)
        path = results / "curves_variants.md"
    else:
        text = paper(args.data, ("25M",) if args.quick else ("25M", "100M"))
        path = results / ("curves.quick.md" if args.quick else "curves.md")
        if not args.quick:  # BENCHMARKS.md's "curves" section: the grid and long logs too, from their own scripts
            for extra in ("curves_grid.md", "curves_select.md", "curves_scale.md"):
                if (results / extra).is_file():
                    body = (results / extra).read_text().strip()
                    text += "\n\n" + body.replace("\n## ", "\n### ").replace("## ", "### ", 1)
    with harness.atomic_write(path) as f:  # complete or not at all
        f.write(text + "\n")
    print(text)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
