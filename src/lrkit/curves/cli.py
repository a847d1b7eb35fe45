"""``lrkit curve`` sub-commands: fit a law to run files, predict, rank, score and optimise schedules.

Wire into the main parser with ``add_commands(subparsers)``; each sub-command sets ``run`` to a
function of the parsed arguments returning the exit status. :func:`main_curve` runs one
argument list on its own parser (errors: one line on stderr naming the parameter, exit 2).

``RUN`` is ``PATH`` (a log whose learning rate is logged at every update, as
:mod:`lrkit.torch.record` writes) or ``PATH@SPEC`` with the run's schedule in lrkit's text form,
multiplied by ``--lr``; ``PATH`` is any log :func:`lrkit.curves.read_run` reads (lrkit CSV / JSON
lines, Lightning ``metrics.csv``, HF ``trainer_state.json``, TensorBoard events, W&B-style history
JSON; ``--format``, ``--metric``, ``--final``, ``--branch CHILD=PARENT``). ``fit -o`` writes the law
with the ``--lr`` its specs were read at; ``predict``, ``rank`` and ``score`` use that scale when
``--lr`` is left out, and refuse a schedule whose peak is more than 10x outside the fitted runs'.

    lrkit curve fit cos.csv@'warmup(2160) >> cosine(21840, floor=0.1)' const.csv@'warmup(2160) >> constant()' \\
        --lr 3e-4 -o law.json
    lrkit curve rank law.json 'warmup_cosine(24000, 2160, floor=0.1)' 'wsd(24000, 2160, 4000)' \\
        --budget 24000
    lrkit curve score law.json wsd.csv@'...' --json
    lrkit curve optimize law.json --budget 24000 --peak 3e-4 --warmup 2160
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "main_curve"]


class CurveUsageError(ValueError):
    """A bad argument: one line on stderr, exit status 2."""


def _schedule(spec: str, lr: float, where: str) -> Any:
    import lrkit as lk
    from lrkit.core.errors import ConfigError

    try:
        return lk.from_config(spec) * lr
    except ConfigError as err:
        raise CurveUsageError(f"{where}: {err.reason}") from None
    except ValueError as err:
        raise CurveUsageError(f"{where}: {err}") from None


def _runs(args: argparse.Namespace, lr: float, where: str = "RUN") -> list[Any]:
    """The runs of ``args.runs`` (``PATH`` or ``PATH@SPEC``), read with ``--format``, ``--metric``, ``--final``;
    a ``--branch CHILD=PARENT`` run is read as a branch of its parent's run."""
    from lrkit.curves.readers import read_run, run_name

    items = list(args.runs)
    paths = [_split(item)[0] for item in items]
    parents: dict[str, str] = {}
    for pair in getattr(args, "branch", None) or ():
        child, sep, parent = pair.partition("=")
        if not sep or child not in paths or parent not in paths or child == parent:
            raise CurveUsageError(
                f"--branch: expected CHILD=PARENT, the PATH parts of two RUN arguments, got {pair!r} "
                f"(the runs: {', '.join(paths)})"
            )
        if child in parents:
            raise CurveUsageError(f"--branch: {child!r} is given two parents")
        parents[child] = parent
    done: dict[str, Any] = {}
    named = {path: run_name(path) for path in paths}  # runs named alike (two version_0 folders) by their paths
    label = {path: path if list(named.values()).count(named[path]) > 1 else named[path] for path in paths}

    def read(path: str, chain: tuple[str, ...] = ()) -> Any:
        if path in done:
            return done[path]
        if path in chain:
            circle = " -> ".join((*chain, path))
            raise CurveUsageError(f"--branch: the runs {circle} branch from each other in a circle")
        item = items[paths.index(path)]
        _, spec = _split(item)
        schedule = _schedule(spec, lr, f"{where} {item!r}") if spec is not None else None
        parent = read(parents[path], (*chain, path)) if path in parents else None
        try:
            done[path] = read_run(
                path,
                schedule,
                format=args.format,
                metric=args.metric,
                final=args.final,
                lr_key=getattr(args, "lr_key", None),
                parent=parent,
                name=label[path],
            )
        except ValueError as err:
            raise CurveUsageError(f"{where}: {err}") from None
        return done[path]

    if len(set(paths)) != len(paths):
        twice = next(p for p in paths if paths.count(p) > 1)
        raise CurveUsageError(f"{where}: {twice!r} is given twice")
    return [read(path) for path in paths]


def _split(item: str) -> tuple[str, str | None]:
    """``PATH@SPEC`` as ``(PATH, SPEC)``, ``PATH`` as ``(PATH, None)``: split at the first ``@`` whose left part
    is an existing file or folder (a path may hold ``@``, e.g. ``runs/lr@3e-4.csv``), else at the first ``@``."""
    if "@" not in item or Path(item).exists():
        return item, None
    cuts = [i for i, c in enumerate(item) if c == "@"]
    at = next((i for i in cuts if Path(item[:i]).exists()), cuts[0])
    return item[:at], item[at + 1 :]


def _law(path: str) -> Any:
    """The law file at ``path`` (:class:`lrkit.curves.lawfile.LawFile`), or one line naming what is wrong."""
    from lrkit.curves.lawfile import load_law
    from lrkit.curves.laws import MomentumLaw

    try:
        saved = load_law(path)
    except ValueError as err:
        raise CurveUsageError(f"LAW: {err}") from None
    if saved.peaks is None:  # a Law saved without peaks=: nothing to check a schedule's scale against
        warnings.warn(
            f"LAW: {path!r} records no fitted peaks (saved from a Law without peaks=): a schedule's scale cannot be "
            f"checked; its specs are read times {saved.lr_scale:g} (--lr overrides)",
            stacklevel=2,
        )
    if isinstance(saved.law, MomentumLaw):
        _need_scipy("the momentum law")
    return saved


def _need_scipy(purpose: str) -> None:
    from lrkit.core._extras import require

    require("scipy", "curves", purpose=purpose)


def _scale(args: argparse.Namespace, saved: Any) -> float:
    """``--lr`` if given, else the scale the law's specs were fitted at (recorded in the law file)."""
    return float(saved.lr_scale if args.lr is None else args.lr)


def _positive(name: str, kind: type = float) -> Any:
    """An argparse type: a whole number >= 1 (``kind=int``) or a finite number > 0 (``kind=float``)."""
    whole = kind is int

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {'a whole number' if whole else 'a number'}, got "
                                             f"{text!r}") from None
        if not (value >= 1 if whole else 0 < value < float("inf")):
            raise argparse.ArgumentTypeError(f"{name} must be {'>= 1' if whole else 'a finite number > 0'}, got "
                                             f"{text!r}")
        return value

    return parse


def _plot_path(path: str | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg"):
        raise CurveUsageError(f"--plot: the file name must end in .png or .svg, got {path!r}")
    if not out.parent.is_dir():
        raise CurveUsageError(f"--plot: folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise CurveUsageError(f"--plot: {path!r} is a folder; give a file name ending in .png or .svg")
    return out


def _out_path(path: str | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if not out.parent.is_dir():
        raise CurveUsageError(f"-o: folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise CurveUsageError(f"-o: {path!r} is a folder; give a file name such as law.json")
    return out


def _check(saved: Any, schedule: Any, updates: int, where: str, absolute: bool = False) -> None:
    try:
        saved.check(schedule, updates, where, absolute)
    except ValueError as err:
        raise CurveUsageError(str(err)) from None


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` with running out of memory as one line (exit 2), not an internal error: a request larger than
    the machine (a long run's updates, a prediction's points, the optimiser's knots) is the user's to shrink."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except MemoryError as err:
            raise CurveUsageError(
                f"not enough memory for this request ({err or 'MemoryError'}); ask for fewer updates, points or knots"
            ) from None

    return run


def _json(value: Any, **options: Any) -> str:
    """``value`` as strict JSON: a non-finite number (an R^2 of a flat run, ...) is ``null``, not a bare ``NaN``
    that JSON parsers refuse."""

    def finite(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    return json.dumps(finite(value), allow_nan=False, **options)


# -- commands ------------------------------------------------------------------------------------------------
def cmd_fit(args: argparse.Namespace) -> int:
    """Fit a law to run files; print the parameters and quality; write the law as JSON (``-o``)."""
    from lrkit.curves.core import fit
    from lrkit.curves.lawfile import save_law

    _need_scipy("fitting a law")
    plot = _plot_path(args.plot)
    out = _out_path(args.out)
    if plot is not None and out is not None and plot.resolve() == out.resolve():
        raise CurveUsageError(f"-o and --plot both name {str(out)!r}: the plot would replace the law; name two files")
    for item in args.runs:  # the law written over a log it was fitted on would lose that log
        path = Path(_split(item)[0])
        if out is not None and path.exists() and out.exists() and out.resolve() == path.resolve():
            raise CurveUsageError(f"-o: {str(out)!r} is one of the runs read (RUN {item!r}); write the law elsewhere")
    lr = 1.0 if args.lr is None else args.lr
    specs = any(_split(item)[1] is not None for item in args.runs)
    if args.lr is not None and not specs:  # the logs' own rates are absolute: --lr would scale nothing
        warnings.warn(f"--lr {args.lr:g} is unused: every RUN's learning rates come from its log (no @SPEC), and the "
                      "law is fitted in those absolute rates", stacklevel=2)
        lr = 1.0
    runs = _runs(args, lr)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = fit(runs, args.law, method=args.method, weights=args.weights)
    print(_json(result.to_dict(), indent=2) if args.json else result.report())
    if out is not None:
        save_law(out, result, lr_scale=lr)
        if not args.json:
            said = (f"its specs were read times --lr {lr:g}; predictions from it use that scale" if specs
                    else "fitted in the logs' absolute learning rates; predictions from it read specs as absolute")
            print(f"\nwrote {out} ({said})")
    if plot is not None:
        from lrkit.curves.plot import plot as draw

        draw(result.law, fitted=list(result.runs), path=plot)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Print the predicted loss of a schedule at ``--points`` steps up to ``--budget``."""
    import numpy as np

    saved = _law(args.law)
    law = saved.law
    schedule = _schedule(args.schedule, _scale(args, saved), "SCHEDULE")
    _check(saved, schedule, args.budget, "SCHEDULE")
    points = min(args.points, args.budget)  # more points than updates: every update once
    steps = np.unique(np.linspace(args.budget / points, args.budget, points).round().astype(np.int64))
    from lrkit.curves.laws import CurvePredictionWarning, learning_rates, peak_index

    lrs = learning_rates(schedule, args.budget)  # once: the prediction and the warmup's end read the same rates
    moved = int(np.argmax(lrs > 0)) + 1 if np.any(lrs > 0) else args.budget + 1  # the first update that moves
    if np.any(steps < moved):  # a warmup from 0: no loss is predicted before the first update with a rate
        if moved > args.budget:
            raise CurveUsageError("SCHEDULE: its rate is 0 at every update up to --budget; no loss to predict")
        steps = np.unique(np.concatenate(([moved], steps[steps >= moved])))
    losses = law.predict(lrs, steps)
    warm = peak_index(lrs)
    inside = int(np.sum(steps <= warm))
    if inside and warm > 0:
        warnings.warn(
            CurvePredictionWarning(
                f"SCHEDULE: {inside} of the {steps.size} steps lie inside its warmup (to update {warm}), where a law "
                "is not fitted (a fit leaves those points out): read their losses as extrapolation"
            ),
            stacklevel=2,
        )
    if args.json:
        print(_json({"steps": steps.tolist(), "loss": losses.tolist()}))
    else:
        print("step,loss")
        for s, v in zip(steps, losses):
            print(f"{int(s)},{v:.6f}")
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    """Rank schedules by predicted final loss at ``--budget``."""
    from lrkit.curves.core import rank

    saved = _law(args.law)
    law = saved.law
    twice = next((spec for i, spec in enumerate(args.schedules) if spec in args.schedules[:i]), None)
    if twice is not None:
        raise CurveUsageError(f"SCHEDULE: {twice!r} is given twice; give each schedule once")
    candidates = {spec: _schedule(spec, _scale(args, saved), f"SCHEDULE {spec!r}") for spec in args.schedules}
    for spec, schedule in candidates.items():
        _check(saved, schedule, args.budget, f"SCHEDULE {spec!r}")
    ranking = rank(law, candidates, args.budget)
    print(_json(ranking.to_dict(), indent=2) if args.json else ranking.table())
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Compare a law's prediction with run files: mean and worst relative error, R^2."""
    from lrkit.curves.core import score

    saved = _law(args.law)
    law = saved.law
    plot = _plot_path(args.plot)
    runs = _runs(args, _scale(args, saved))
    for run in runs:
        _check(saved, run.lrs, run.lrs.size, f"RUN {run.name!r}")
    # the points a fit uses: those after each run's warmup (the law is not fitted, nor meant, inside a warmup)
    kept = [run.after_warmup() for run in runs]
    left = sum(int(a.steps.size - b.steps.size) for a, b in zip(runs, kept))
    empty = next((run.name for run in kept if run.steps.size == 0), None)
    if empty is not None:
        raise CurveUsageError(f"RUN {empty!r}: no logged point after its warmup (the points a law is fitted on)")
    result = score(law, kept)
    print(_json(result.to_dict(), indent=2) if args.json else result.table())
    if left and not args.json:
        print(f"\n(scored after each run's warmup, as a fit is: {left} point(s) inside a warmup left out)")
    if plot is not None:
        from lrkit.curves.plot import plot as draw

        draw(law, predicted=runs, path=plot)
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    """Optimise a schedule for a budget, peak and warmup; print it (text config) and its predicted loss."""
    import numpy as np

    from lrkit.curves.optimize import optimize

    _need_scipy("optimising a schedule")
    saved = _law(args.law)
    law = saved.law
    _check(saved, np.full(1, args.peak), 1, "--peak")
    if not 0 <= args.warmup < args.budget - 1:
        raise CurveUsageError(
            f"--warmup must be >= 0 and < --budget - 1, got {args.warmup} for a budget of {args.budget}"
        )
    if not 0 < args.floor < 1:
        raise CurveUsageError(f"--floor must be in (0, 1), got {args.floor!r}")
    best = optimize(law, args.budget, args.peak, args.warmup, knots=args.knots, floor=args.floor)
    if args.json:
        print(_json({"schedule": repr(best.schedule), "peak": best.peak, "predicted_loss": best.predicted_loss}))
    else:
        print(f"# predicted loss at {args.budget:,}: {best.predicted_loss:.4f} (multiply by the peak {args.peak:g})")
        print(repr(best.schedule))
    return 0


def cmd_choose(args: argparse.Namespace) -> int:
    """Rank a candidate family (and any --spec) at each --length with intervals; recommend one; --plot them."""
    from lrkit.curves.choose import Candidate, choose, family

    saved = _law(args.law)
    law, uncertainty = saved.law, saved.uncertainty
    plot = _plot_path(args.plot)
    if not 0 < args.level < 1:
        raise CurveUsageError(f"--level must be in (0, 1), got {args.level!r}")
    if not 0 <= args.floor < 1:
        raise CurveUsageError(f"--floor must be in [0, 1), got {args.floor!r}")
    for f in args.fractions:
        if not 0 < f <= 1:
            raise CurveUsageError(f"--fractions: each cooldown fraction must be in (0, 1], got {f!r}")
    if not 0 <= args.warmup_start <= 1:
        raise CurveUsageError(f"--warmup-start must be in [0, 1] (a multiplier of the peak), got {args.warmup_start!r}")
    for length in args.length:
        if args.warmup >= length:
            raise CurveUsageError(f"--warmup must be < every --length, got {args.warmup} for a length of {length}")
    extra = {}
    with warnings.catch_warnings(record=True) as checked:  # said with choose's own, once (choose warns again)
        warnings.simplefilter("always")
        for peak in args.peak:  # a peak far from the fitted runs' is refused, as predict and rank refuse it
            _check(saved, _schedule(f"constant({peak!r})", 1.0, "--peak"), 1, f"--peak {peak:g}")
        for item in args.spec:
            name, sep, spec = item.partition("=")
            if not sep or not name or not spec:
                raise CurveUsageError(f"--spec: expected NAME=SPEC (absolute learning rates), got {item!r}")
            if name in extra:
                raise CurveUsageError(f"--spec: the name {name!r} is given twice; give each candidate its own name")
            schedule = _schedule(spec, 1.0, f"--spec {name!r}")
            _check(saved, schedule, max(args.length), f"--spec {name!r}", absolute=True)
            extra[name] = spec

    def candidates(length: int) -> dict[str, Candidate]:
        try:
            out = family(
                length, peaks=args.peak, warmup=args.warmup, warmup_start=args.warmup_start,
                fractions=args.fractions, shapes=args.shapes, floor=args.floor, cosine_floors=args.cosine_floors,
                extra=extra,
            )
        except ValueError as err:  # family's parameters are the command's options
            name, sep, rest = str(err).partition(": ")
            flag = {"extra": "--spec", "peaks": "--peak"}.get(name, f"--{name.replace('_', '-')}")
            raise CurveUsageError(f"{flag}: {rest}" if sep else str(err)) from None
        if args.optimized:
            from lrkit.curves.optimize import optimize

            for peak in args.peak:
                best = optimize(law, length, peak, args.warmup, floor=max(args.floor, 0.01))
                out[f"optimized@{peak:g}"] = Candidate(f"optimized@{peak:g}", repr(best.absolute), float(peak))
        return out

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            choices = choose(law, candidates, args.length, uncertainty=uncertainty, level=args.level,
                             peaks=saved.peaks)
        except ValueError as err:  # choose's lengths are the command's --length
            name, sep, rest = str(err).partition(": ")
            raise CurveUsageError(f"--length: {rest}" if sep and name == "lengths" else str(err)) from None
    said = sorted({str(w.message) for w in (*checked, *caught)})
    if args.json:
        print(_json({"choices": [c.to_dict() for c in choices], "warnings": said}, indent=2))
    else:
        if uncertainty is None:
            print("note: the law file carries no uncertainty (refit with this lrkit): intervals are points\n")
        print("\n\n".join(c.report() for c in choices))
        for message in said:
            print(f"\nwarning: {message}")
    if plot is not None:
        from lrkit.curves.plot import plot_choice

        plot_choice(law, choices, uncertainty, path=plot)
    return 0


def add_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``curve`` (with fit, predict, rank, score, optimize, choose) to an argparse sub-parsers object."""
    from lrkit.curves.readers import FORMATS

    curve = subparsers.add_parser("curve", help="fit loss-curve laws to runs; predict, rank, score, optimise schedules")
    sub = curve.add_subparsers(dest="curve_command", required=True, metavar="ACTION")
    run_help = (
        "PATH (a log whose learning rate is logged at every update) or PATH@SPEC (the run's schedule, times --lr); "
        "PATH: lrkit CSV/JSONL, Lightning metrics.csv, HF trainer_state.json, TensorBoard events, W&B history JSON"
    )
    fit_lr_help = "multiply every schedule given by this peak learning rate (default 1: the specs are absolute)"
    lr_help = "multiply every schedule given by this (default: the --lr the law was fitted with, in its file)"

    def reading(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=FORMATS, default=None, help="the logs' format (default: detected)")
        p.add_argument("--metric", default=None, help="the loss series (default: val_loss, eval_loss, loss, ...)")
        p.add_argument("--final", default=None, help="a series holding a run's final loss (e.g. final_val_loss)")
        p.add_argument("--lr-key", default=None,
                       help="the learning-rate series, where a log holds several (default: lr, learning_rate, lr-*)")
        p.add_argument(
            "--branch",
            action="append",
            default=[],
            metavar="CHILD=PARENT",
            help="CHILD was continued from PARENT's checkpoint (PATH parts of two RUNs): shared points count once",
        )

    p = sub.add_parser("fit", help="fit a law to run files")
    p.add_argument("runs", nargs="+", metavar="RUN", help=run_help)
    p.add_argument(
        "--law", choices=("auto", "multi_power", "momentum", "convex_bound", "convex_drop"), default="auto",
        help="auto (default): multi_power or convex_drop, whichever predicts each run left out of the fit better"
    )
    p.add_argument(
        "--method",
        choices=("staged", "refit", "joint"),
        default="staged",
        help="staged (default): the paper's two steps for multi_power (with --law auto also its refit); refit: "
        "the second step also refits alpha and B; joint: every parameter at once",
    )
    p.add_argument(
        "--weights",
        choices=("runs", "points"),
        default="runs",
        help="runs (default): every run weighs the same in total; points: every logged point the same",
    )
    p.add_argument("--lr", type=_positive("--lr"), default=None, help=fit_lr_help)
    reading(p)
    p.add_argument("-o", "--out", default=None, help="write the fitted law (JSON) here")
    p.add_argument("--plot", default=None, help="plot the fit to this .png/.svg")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_guarded(cmd_fit))

    p = sub.add_parser("predict", help="predict a schedule's loss curve")
    p.add_argument("law", metavar="LAW", help="a law JSON file (from `curve fit -o`)")
    p.add_argument("schedule", metavar="SPEC", help="schedule, text form (times --lr)")
    p.add_argument("--budget", type=_positive("--budget", int), required=True, help="updates to predict up to")
    p.add_argument("--points", type=_positive("--points", int), default=21, help="steps printed (default 21)")
    p.add_argument("--lr", type=_positive("--lr"), default=None, help=lr_help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_guarded(cmd_predict))

    p = sub.add_parser("rank", help="rank schedules by predicted final loss at a budget")
    p.add_argument("law", metavar="LAW", help="a law JSON file")
    p.add_argument("schedules", nargs="+", metavar="SPEC", help="candidate schedules (times --lr)")
    p.add_argument("--budget", type=_positive("--budget", int), required=True, help="updates")
    p.add_argument("--lr", type=_positive("--lr"), default=None, help=lr_help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_guarded(cmd_rank))

    p = sub.add_parser("score", help="score a law's prediction against run files")
    p.add_argument("law", metavar="LAW", help="a law JSON file")
    p.add_argument("runs", nargs="+", metavar="RUN", help=run_help)
    p.add_argument("--lr", type=_positive("--lr"), default=None, help=lr_help)
    reading(p)
    p.add_argument("--plot", default=None, help="plot predicted and actual curves to this .png/.svg")
    p.add_argument("--json", action="store_true", help="print JSON (mean_error, worst_error as fractions)")
    p.set_defaults(run=_guarded(cmd_score))

    p = sub.add_parser("optimize", help="optimise a schedule for a budget, peak and warmup")
    p.add_argument("law", metavar="LAW", help="a law JSON file")
    p.add_argument("--budget", type=_positive("--budget", int), required=True, help="updates")
    p.add_argument("--peak", type=_positive("--peak"), required=True, help="peak learning rate")
    p.add_argument("--warmup", type=int, default=0, help="linear warmup updates (default 0)")
    p.add_argument("--knots", type=_positive("--knots", int), default=48, help="knots after warmup (default 48)")
    p.add_argument("--floor", type=float, default=0.01, help="lowest multiplier of the peak (default 0.01)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_guarded(cmd_optimize))

    p = sub.add_parser(
        "choose", help="rank WSD / cosine candidates (x peak) at one or more lengths, with intervals; recommend one"
    )
    p.add_argument("law", metavar="LAW", help="a law JSON file (from `curve fit -o`)")
    p.add_argument("--length", type=_positive("--length", int), nargs="+", required=True, help="run lengths (updates)")
    p.add_argument("--peak", type=_positive("--peak"), nargs="+", required=True, help="peak learning rates")
    p.add_argument("--warmup", type=int, default=0, help="linear warmup updates (default 0)")
    p.add_argument("--warmup-start", type=float, default=0.0, help="warmup's first multiplier (default 0)")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.2, 0.4, 0.6, 0.8, 0.9],
                   help="WSD cooldown fractions (default 0.1 0.2 0.4 0.6 0.8 0.9)")
    p.add_argument("--shapes", nargs="+", choices=("linear", "1-sqrt", "cos"), default=["linear", "1-sqrt"],
                   help="WSD cooldown shapes (default linear 1-sqrt)")
    p.add_argument("--floor", type=float, default=0.0, help="WSD cooldown's last multiplier (default 0)")
    p.add_argument("--cosine-floors", type=float, nargs="*", default=[0.0, 0.1],
                   help="cosine floors, multipliers of the peak (default 0 0.1; none: no cosine)")
    p.add_argument("--spec", action="append", default=[], metavar="NAME=SPEC",
                   help="another candidate, absolute learning rates (repeatable)")
    p.add_argument("--optimized", action="store_true", help="add lrkit's optimised schedule at each peak")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--plot", default=None, help="plot the candidates' predicted curves to this .png/.svg")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_guarded(cmd_choose))
    return curve


def run_args(args: argparse.Namespace) -> int:
    """Run parsed arguments; a bad argument prints one line and returns 2."""
    from lrkit.cli._warnings import one_line_warnings
    from lrkit.core._extras import MissingExtra

    try:
        with one_line_warnings():
            return int(args.run(args))
    except (ValueError, MissingExtra) as err:  # CurveUsageError included
        print(f"lrkit: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


def main_curve(argv: Sequence[str]) -> int:
    """Parse and run ``lrkit curve ...`` arguments on a parser of its own (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="lrkit")
    add_commands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return run_args(args)
