"""The ``lrkit`` command. Each subcommand lives in its own function; ``main`` dispatches.

Subcommands: ``show`` (table and terminal plot), ``plot`` (PNG/SVG), ``demo`` (train a built-in
task with a schedule), ``find`` (learning-rate range test on a task), ``compare`` (train several
schedules with the same seed, a table and an overlaid plot).

Exit status: 0 on success; 2 on any mistake of the user's: a bad schedule or file, a bad argument,
missing optional dependencies (every one the command needs is named at once, with the
``pip install 'lrkit[...]'`` that brings them). The error is one line on stderr, never a traceback.
An error that is lrkit's own (a bug) is one line too, exit status 1; ``LRKIT_TRACEBACK=1`` shows
its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lrkit.cli._paths import image_path, writing
from lrkit.cli._warnings import one_line_warnings
from lrkit.core._extras import MissingExtra, require_all
from lrkit.core.config import from_config, load
from lrkit.core.errors import ConfigError
from lrkit.core.schedule import Schedule

__all__ = ["main", "read_spec"]

TASK_NAMES = ("mnist1d", "digits", "charlm", "friedman")  # lrkit.tasks.TASKS, repeated: `--help` needs no torch
#: File suffixes a SPEC may name; a SPEC ending in one of them must be an existing file.
SPEC_FILES = (".json", ".yaml", ".yml", ".txt")
#: The largest side of a plot, in pixels (matplotlib allocates the whole image: 10^6 dpi ran out of memory).
MAX_PIXELS = 16_384


class UsageError(Exception):
    """A bad argument: reported on one line, exit status 2."""


def _path_test(path: Path, test: str) -> bool:
    try:
        return bool(getattr(path, test)())
    except (OSError, ValueError):  # a name too long for the file system, an embedded NUL
        return False


def read_spec(spec: str, key: str | None = None) -> Schedule:
    """A schedule from its text form, or from a file (``.json``, ``.yaml``/``.yml``, or the text form).

    A SPEC is a file when a file of that name exists; a SPEC ending in ``.json``, ``.yaml``,
    ``.yml`` or ``.txt`` must be one. ``key`` picks a schedule nested in a JSON/YAML file
    (:func:`lrkit.load`). The reactive names (``plateau``) are registered first.
    """
    try:
        importlib.import_module("lrkit.reactive")
    except ImportError:  # pragma: no cover - lrkit.reactive is numpy-only; kept defensive
        pass
    if not spec.strip():  # Path('') is '.', an existing directory
        raise UsageError("SPEC is empty; give a schedule such as 'cosine(1000)' or a .json/.yaml file")
    path = Path(spec)
    if _path_test(path, "is_file"):
        return load(path, key=key)
    if _path_test(path, "is_dir"):
        raise UsageError(f"{spec}: is a directory, not a schedule file")
    if path.suffix.lower() in SPEC_FILES and "(" not in spec:
        raise UsageError(f"{spec}: file not found")
    if key is not None:
        raise UsageError(f"--key {key!r} picks a schedule in a JSON or YAML file; there is no file {spec!r}")
    try:
        return from_config(spec)
    except ConfigError as err:
        if any(sep in spec for sep in ("/", os.sep)) and "(" not in spec:
            raise UsageError(f"{spec}: no such file, and not a schedule: {err.one_line()}") from None
        raise


def _spec_needs(*specs: str | None) -> list[tuple[str, str]]:
    """The optional modules reading ``specs`` needs: PyYAML for a YAML file."""
    yaml = any(s and Path(s).suffix.lower() in (".yaml", ".yml") and _path_test(Path(s), "is_file") for s in specs)
    return [("yaml", "yaml")] if yaml else []


def _training_needs(task: str) -> list[tuple[str, str]]:
    data = "mnist1d" if task == "mnist1d" else "sklearn"  # digits, charlm and friedman read scikit-learn's data
    return [("matplotlib", "plot"), ("torch", "tasks"), (data, "tasks")]


def _require(needs: list[tuple[str, str]]) -> None:
    """Every ``(module, extra)`` the command needs, checked at once before any work."""
    require_all(needs, purpose="this command")


def _output(path: str) -> Path:
    """Check an output image path before any work is done: .png/.svg, existing folder."""
    return image_path(path, "-o/--out", UsageError)


def _writing(out: Path) -> Any:
    """The block that writes the output image: an error names -o/--out and the path given."""
    return writing(out, "-o/--out", UsageError)


def _count(name: str, low: int = 2, high: int = 10_000) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number from {low} to {high}, got {text!r}")
        return value

    return parse


def _positive(kind: type, name: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number > 0, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"{name} must be a number > 0, got {text!r}")
        return value

    return parse


def _image_note(path: Path) -> str:
    from lrkit.plot import FORMATS  # noqa: F401  (matplotlib is loaded by now)

    return f"{path} ({'PNG' if path.suffix.lower() == '.png' else 'SVG'})"


# -- show ------------------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    """Print a step/value table and a terminal plot of one schedule."""
    _require(_spec_needs(args.spec))
    import numpy as np

    from lrkit.plot.terminal import chart, horizon, table

    schedule = read_spec(args.spec, args.key)
    steps = horizon(schedule, args.steps)
    length = "infinite" if schedule.length is None else f"{schedule.length:g} steps"
    print(f"{schedule!r}  ({length})")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow shows as inf, and the chart says so
        print(table(schedule, steps, rows=args.rows))
        print()
        print(chart(schedule, steps, width=args.width))
    return 0


# -- plot ------------------------------------------------------------------------------------------
def cmd_plot(args: argparse.Namespace) -> int:
    """Plot one or more schedules, overlaid, to a PNG or SVG file."""
    _require([*_spec_needs(*args.specs), ("matplotlib", "plot")])
    schedules = [read_spec(spec, args.key) for spec in args.specs]
    out = _output(args.out)
    width, height = round(args.width * args.dpi), round(args.height * args.dpi)
    if max(width, height) > MAX_PIXELS:
        raise UsageError(
            f"--width {args.width:g} x --height {args.height:g} inches at --dpi {args.dpi:g} is {width}x{height} "
            f"pixels; at most {MAX_PIXELS} a side: lower --dpi or the size"
        )
    from lrkit.plot import horizon, save, schedule_figure

    labels = [" ".join(spec.split()) for spec in args.specs]
    fig = schedule_figure(
        schedules,
        labels=labels,
        steps=args.steps,
        log=args.log,
        marks=not args.no_marks,
        title=args.title,
        size=(args.width, args.height),
        dpi=args.dpi,
    )
    with _writing(out):
        save(fig, out)
    span = horizon(schedules, args.steps)
    print(f"wrote {out}: {len(schedules)} schedule(s) over {span:g} steps, {width}x{height} px")
    return 0


# -- training helpers shared by demo and compare -----------------------------------------------------
def _task(name: str) -> Any:
    _require(_training_needs(name))
    from lrkit.tasks import get_task

    return get_task(name)


def _updates(task: Any, args: argparse.Namespace) -> int:
    if args.updates is not None:
        return int(args.updates)
    if args.epochs is not None:
        return int(args.epochs) * task.steps_per_epoch
    return int(task.budget)


def _default_spec(total: float) -> str:
    """``warmup`` for the first tenth of the run, then cosine to zero."""
    warm = max(1, round(total / 10))
    return f"warmup({warm}) >> cosine({_fmt(total - warm)})"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _in_updates(schedule: Schedule, task: Any, unit: str) -> Schedule:
    """The schedule over updates: a schedule written in epochs is stretched by the updates per epoch."""
    if unit == "epoch":
        from lrkit.core.combinators import Stretch

        return Stretch(schedule, task.steps_per_epoch)
    return schedule


def _length_note(schedule: Schedule, total: int) -> str | None:
    if schedule.length is None or math.isclose(schedule.length, total):
        return None
    if schedule.length < total:
        return (
            f"note: the schedule ends at update {schedule.length:g} of {total}; its final value "
            f"{schedule.final:.3g} is held after that"
        )
    return f"note: training stops at update {total}, before the schedule ends (at update {schedule.length:g})"


def _train(task: Any, schedule: Schedule, lr: float, seed: int, total: int, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        # the note printed before training says the same thing once, in the command's words
        warnings.filterwarnings("ignore", message=r"Scheduler: progress .* past the end", category=UserWarning)
        return task.train(schedule, lr, seed, updates=total, **kwargs)


# -- demo ------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """Train a built-in task with a schedule: one line per epoch, a summary and a PNG of the curves."""
    _require([*_spec_needs(args.schedule), *_training_needs(args.task)])
    given = None if args.schedule is None else read_spec(args.schedule, args.key)  # fails before any work
    out = _output(args.out)
    task = _task(args.task)
    from lrkit.plot import save, training_figure
    from lrkit.plot.terminal import Progress

    total = _updates(task, args)
    span = total / task.steps_per_epoch if args.unit == "epoch" else total
    spec = args.schedule if args.schedule is not None else _default_spec(span)
    schedule = _in_updates(given if given is not None else read_spec(spec), task, args.unit)
    lr = task.default_lr if args.lr is None else args.lr
    epochs = math.ceil(total / task.steps_per_epoch)

    print(f"task      {task.name}: {task.description}")
    print(f"schedule  {' '.join(spec.split())}  (steps are {args.unit}s)")
    print(f"peak lr   {lr:g} (AdamW, weight decay {task.weight_decay:g}), seed {args.seed}")
    per = task.steps_per_epoch
    print(f"run       {total} updates = {total / per:g} epochs of {per} batches of {task.batch_size}")
    note = _length_note(schedule, total)
    if note:
        print(note)
    print()
    progress = Progress(total, enabled=not args.no_progress, desc="training")
    progress.write(f"{'epoch':>7}  {'lr':>10}  {'train loss':>10}  {'test acc':>8}")

    def on_epoch(info: Any) -> None:
        progress.write(
            f"{info.epoch:>3}/{epochs:<3}  {info.lr:>10.3e}  {info.train_loss:>10.4f}  {info.test_accuracy:>8.4f}"
        )

    def on_update(update: int, lr_used: float, loss: float) -> None:
        progress.update(1, loss=f"{loss:.3f}", lr=f"{lr_used:.2e}")

    try:
        result = _train(task, schedule, lr, args.seed, total, on_epoch=on_epoch, on_update=on_update)
    finally:
        progress.close()

    best_at = result.eval_updates[result.accuracies.index(result.best_accuracy)]
    reached = result.updates_to_target
    print()
    print(f"final test accuracy {result.final_accuracy:.4f} (best {result.best_accuracy:.4f} at update {best_at})")
    if reached is None:
        print(f"target {task.target:g}: not reached in {total} updates")
    else:
        print(f"target {task.target:g}: reached at update {reached} of {total}")
    if result.diverged:
        print("warning: the training loss became NaN or infinite (the peak lr is too high; try a lower --lr)")
    print(f"time      {result.seconds:.2g} s for {total} updates")
    with _writing(out):
        save(training_figure([result], labels=[" ".join(spec.split())], title=f"lrkit demo: {task.name}"), out)
    print(f"wrote {_image_note(out)}: learning rate, train loss and test accuracy per update")
    return 0


# -- find ------------------------------------------------------------------------------------------
def cmd_find(args: argparse.Namespace) -> int:
    """Run the learning-rate range test on a built-in task; print the suggestion and plot the curve."""
    if args.end <= args.start:
        raise UsageError(f"--end must be greater than --start, got --start {args.start:g} --end {args.end:g}")
    out = _output(args.out)
    task = _task(args.task)
    from lrkit.torch import finder

    sweep = f"{args.iterations} updates, lr from {args.start:g} to {args.end:g}"
    print(f"range test on {task.name}: {sweep}, seed {args.seed}")
    progress = not args.no_progress and sys.stderr.isatty()
    result = finder.find_for_task(
        task, seed=args.seed, iterations=args.iterations, start=args.start, end=args.end, progress=progress
    )
    stopped = getattr(result, "stopped", "completed")
    print(f"swept {len(result.lrs)} updates ({stopped})")
    for method, value in result.suggestions.items():
        print(f"  {method:<10} {'-' if value is None else f'{value:.3g}'}")
    if result.suggestion is None:
        print(f"no suggestion: {result.reason}")
    else:
        print(f"suggestion: {result.suggestion:.3g} (the steepest fall of the loss)")
        try:
            peak, _, _, rule = finder.peak_from(result)  # the peak auto() would use
        except finder.NoSuggestion as why:
            print(f"no peak for auto: {why}")
        else:
            print(f"peak lr for one-cycle (auto's rule, {rule}): {peak:.3g}")
            print(f"try: lrkit demo --task {task.name} --lr {peak:.2g}")
    with _writing(out):
        result.plot(out)
    print(f"wrote {_image_note(out)}: loss against learning rate, suggestion marked")
    return 0


# -- compare ---------------------------------------------------------------------------------------
def _split_lr(text: str, default: float) -> tuple[str, float]:
    """``"SPEC @ LR"`` -> (SPEC, LR), split at the last ``@``; a SPEC without ``@`` gets ``default``.

    >>> _split_lr("cosine(100) @ 3e-4", 0.1), _split_lr("cosine(100)", 0.1)
    (('cosine(100)', 0.0003), ('cosine(100)', 0.1))
    """
    if "@" not in text:
        return text, default
    spec, _, given = text.rpartition("@")
    spec, given = spec.strip(), given.strip()
    if not spec:
        raise UsageError(f"{text!r}: 'SPEC @ LR' needs a schedule before the '@'")
    try:
        lr = float(given)
    except ValueError:
        raise UsageError(f"{text!r}: the learning rate after '@' must be a number, got {given!r}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError(f"{text!r}: the learning rate after '@' must be > 0, got {given!r}")
    return spec, lr


def _ticker(progress: Any) -> Any:
    def tick(*_: Any) -> None:
        progress.update()

    return tick


def cmd_compare(args: argparse.Namespace) -> int:
    """Train each schedule with the same seed; print a table and write an overlaid plot."""
    out = _output(args.out)
    split = [_split_lr(text, math.nan) for text in args.specs]
    _require([*_spec_needs(*(spec for spec, _ in split)), *_training_needs(args.task)])
    entries = []
    for spec, lr in split:  # every SPEC is read before anything is trained
        entries.append((" ".join(spec.split()), read_spec(spec, args.key), lr))
    task = _task(args.task)
    from lrkit.plot import save, training_figure
    from lrkit.plot.terminal import Progress, format_table

    total = _updates(task, args)
    default_lr = task.default_lr if args.lr is None else args.lr
    print(f"task {task.name}: {task.description}; {total} updates, seed {args.seed}, target {task.target:g}")
    results, labels, rows = [], [], []
    for i, (spec, schedule, lr) in enumerate(entries, start=1):
        lr = default_lr if math.isnan(lr) else lr
        schedule = _in_updates(schedule, task, args.unit)
        print(f"[{i}/{len(entries)}] {spec} at peak lr {lr:g}")
        note = _length_note(schedule, total)
        if note:
            print(f"      {note}")
        progress = Progress(total, enabled=not args.no_progress, desc=f"[{i}/{len(entries)}]")
        try:
            result = _train(task, schedule, lr, args.seed, total, on_update=_ticker(progress))
        finally:
            progress.close()
        results.append(result)
        labels.append(f"{spec} @ {lr:g}")
        reached = result.updates_to_target
        rows.append(
            [
                spec,
                f"{lr:g}",
                f"{result.final_accuracy:.4f}",
                f"{result.best_accuracy:.4f}",
                "not reached" if reached is None else str(reached),
                f"{result.seconds:.1f}",
            ]
        )
    print()
    headers = ["schedule", "peak lr", "final acc", "best acc", f"updates to {task.target:g}", "seconds"]
    print(format_table(headers, rows))
    with _writing(out):
        save(training_figure(results, labels=labels, title=f"lrkit compare: {task.name}, seed {args.seed}"), out)
    print()
    print(f"wrote {_image_note(out)}: learning rate, train loss and test accuracy of every run")
    return 0


# -- the parser --------------------------------------------------------------------------------------
EXAMPLES = """examples:
  lrkit show 'warmup(500) >> cosine(9500, floor=0.05)'
  lrkit plot 'one_cycle(10000)' 'wsd(10000, warmup=500)' --log -o schedules.png
  lrkit demo                                   # MNIST-1D, warmup for a tenth, then cosine
  lrkit demo --task digits --unit epoch --schedule 'step_decay(3, decay=0.5)'
  lrkit find --task mnist1d
  lrkit compare 'constant(1) @ 3e-3' 'one_cycle(1200)' 'warmup(120) >> cosine(1080)'

SPEC is the text form of a schedule (docs/schedules.md lists every name) or a .json/.yaml file."""


def _version() -> str:
    import lrkit

    return str(getattr(lrkit, "__version__", "unknown"))


def _out_option(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    parser.add_argument("-o", "--out", default=default, help=f"{what}, .png or .svg (default {default})")


def _training_options(parser: argparse.ArgumentParser, out: str, what: str) -> None:
    """The options ``demo`` and ``compare`` share: the peak LR, the task, the run's length, seed and unit, the
    progress bar, ``--key`` and the output image."""
    parser.add_argument(
        "--lr", type=_positive(float, "--lr"), default=None, help="peak learning rate (default: the task's)"
    )
    parser.add_argument("--task", choices=TASK_NAMES, default="mnist1d", help="built-in task (default mnist1d)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs", type=_positive(int, "--epochs"), help="epochs to train (default: the task's budget)"
    )
    length.add_argument(
        "--updates", type=_positive(int, "--updates"), help="optimizer updates to train (instead of --epochs)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the model's weights and the batch order (default 0)"
    )
    parser.add_argument(
        "--unit",
        choices=("update", "epoch"),
        default="update",
        help="what a schedule step is (default update; 'epoch' runs e.g. step_decay(3, decay=0.5) per epoch)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal)")
    _key_option(parser)
    _out_option(parser, out, what)


def find_bench_runner(start: Path | None = None) -> Path | None:
    """``bench/run_all.py`` of the lrkit checkout: from ``start`` (default: cwd) upwards, else beside lrkit's source."""
    origin = (start or Path.cwd()).resolve()
    source_root = Path(__file__).resolve().parents[3]  # <checkout>/src/lrkit/cli/__init__.py -> <checkout>
    for root in (origin, *origin.parents, source_root):
        runner = root / "bench" / "run_all.py"
        if runner.is_file() and (root / "bench" / "harness.py").is_file():
            return runner
    return None


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmarks (bench/run_all.py of the checkout) and write BENCHMARKS.md."""
    runner = find_bench_runner()
    if runner is None:
        raise UsageError(
            "the benchmarks live in the lrkit repository's bench/ directory, not in the installed package; "
            "run `lrkit bench` inside a checkout (git clone, pip install -e '.[tasks]')"
        )
    import importlib.util

    spec = importlib.util.spec_from_file_location("lrkit_bench_run_all", runner)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.main(list(args.bench_args)))


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (``lrkit: error: ... (see 'lrkit show --help')``), exit 2."""

    def error(self, message: str) -> Any:
        # "argument --rows: --rows must be ..." -> "--rows must be ..."
        option, _, rest = message.removeprefix("argument ").partition(": ")
        if message.startswith("argument ") and rest.startswith(option.split("/")[-1] + " "):
            message = rest
        self.exit(2, f"lrkit: error: {_single(message)} (see '{self.prog} --help')\n")


def _key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", default=None, help="in a JSON/YAML SPEC file, the schedule under this key, e.g. optim.schedule"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lrkit",
        description="Preview, plot and compare learning-rate schedules.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lrkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = sub.add_parser("show", help="print a table and a terminal plot of a schedule")
    show.add_argument("spec", help="text form, e.g. 'warmup(500) >> cosine(10000)', or a .json/.yaml file")
    show.add_argument(
        "--steps", type=_positive(float, "--steps"), default=None, help="horizon (default: the schedule's length)"
    )
    show.add_argument("--rows", type=_count("--rows"), default=11, help="rows in the table (default 11)")
    show.add_argument("--width", type=_count("--width"), default=64, help="plot width in characters (default 64)")
    _key_option(show)
    show.set_defaults(run=cmd_show)

    plot = sub.add_parser("plot", help="plot schedules, overlaid, to a PNG or SVG file")
    plot.add_argument("specs", nargs="+", metavar="SPEC", help="schedules (text form or .json/.yaml files)")
    _out_option(plot, "lrkit-plot.png", "output file")
    plot.add_argument(
        "--steps", type=_positive(float, "--steps"), help="horizon (default: the longest schedule's length)"
    )
    plot.add_argument("--log", action="store_true", help="logarithmic value axis")
    plot.add_argument("--no-marks", action="store_true", help="do not mark phase starts (warmup end, restarts)")
    plot.add_argument("--title", default=None, help="title above the plot")
    plot.add_argument("--width", type=_positive(float, "--width"), default=8.0, help="width in inches (default 8)")
    plot.add_argument("--height", type=_positive(float, "--height"), default=4.5, help="height in inches (default 4.5)")
    plot.add_argument("--dpi", type=_positive(float, "--dpi"), default=100.0, help="pixels per inch (default 100)")
    _key_option(plot)
    plot.set_defaults(run=cmd_plot)

    demo = sub.add_parser("demo", help="train a built-in task with a schedule and plot the run")
    demo.add_argument(
        "--schedule", default=None, metavar="SPEC", help="schedule (default: warmup for a tenth, then cosine)"
    )
    _training_options(demo, "lrkit-demo.png", "plot of the run")
    demo.set_defaults(run=cmd_demo)

    find = sub.add_parser("find", help="learning-rate range test on a built-in task")
    find.add_argument("--task", choices=TASK_NAMES, default="mnist1d", help="built-in task (default mnist1d)")
    find.add_argument(
        "--iterations",
        type=_count("--iterations", 2, 1_000_000),
        default=100,
        help="updates in the sweep (default 100)",
    )
    find.add_argument(
        "--start", type=_positive(float, "--start"), default=1e-7, help="first learning rate (default 1e-7)"
    )
    find.add_argument("--end", type=_positive(float, "--end"), default=10.0, help="last learning rate (default 10)")
    find.add_argument("--seed", type=int, default=0, help="seed of the model and the batch order (default 0)")
    find.add_argument("--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal)")
    _out_option(find, "lrkit-find.png", "plot of the sweep")
    find.set_defaults(run=cmd_find)

    compare = sub.add_parser("compare", help="train several schedules with the same seed and compare them")
    compare.add_argument(
        "specs", nargs="+", metavar="SPEC", help="schedules; 'SPEC @ LR' sets that schedule's peak learning rate"
    )
    _training_options(compare, "lrkit-compare.png", "overlaid plot")
    compare.set_defaults(run=cmd_compare)

    bench = sub.add_parser(
        "bench",
        help="run the benchmarks and write BENCHMARKS.md (in a checkout): [--quick] [--only NAME] [--out DIR]",
        add_help=False,
    )
    bench.set_defaults(run=cmd_bench, bench_args=[])

    from lrkit.curves.cli import add_commands  # numpy-only until a command runs (scipy, matplotlib lazily)

    add_commands(sub)
    return parser


def _single(message: str) -> str:
    return " ".join(str(message).split())


def _fail(message: str, status: int = 2) -> int:
    print(f"lrkit: error: {_single(message)}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lrkit`` command; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = extra  # bench/run_all.py parses its own options (--quick, --only, --out, -h)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        with one_line_warnings():
            return int(args.run(args))
    except ConfigError as err:
        return _fail(err.one_line())
    except (UsageError, MissingExtra, ValueError) as err:
        return _fail(str(err))
    except ImportError as err:
        if "pip install 'lrkit[" not in str(err):
            return _internal(err)
        return _fail(str(err))
    except KeyboardInterrupt:
        print("lrkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lrkit show ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:  # a file that cannot be read or written
        where = f"{err.filename}: " if err.filename else ""
        return _fail(f"{where}{err.strerror or err}")
    except Exception as err:
        return _internal(err)


def _internal(err: BaseException) -> int:
    """A bug in lrkit: one line, exit 1, unless ``LRKIT_TRACEBACK`` asks for the traceback."""
    if os.environ.get("LRKIT_TRACEBACK"):
        raise err
    return _fail(
        f"internal error, please report it: {type(err).__name__}: {err} (LRKIT_TRACEBACK=1 shows the traceback)", 1
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
