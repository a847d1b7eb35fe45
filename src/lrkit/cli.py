"""The ``lrkit`` command. Each subcommand lives in its own function; ``main`` dispatches.

Exit status: 0 on success, 2 on a bad schedule or bad arguments (one line on stderr,
no traceback), 1 when an optional dependency is missing (the message names the extra).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lrkit.config import from_config, load
from lrkit.errors import ConfigError
from lrkit.schedule import Schedule

__all__ = ["main", "read_spec"]


class UsageError(Exception):
    """A bad argument: reported on one line, exit status 2."""


class MissingExtra(Exception):
    """An optional dependency is missing: reported on one line, exit status 1."""


def read_spec(spec: str) -> Schedule:
    """A schedule from text, or from a ``.json``/``.yaml``/``.yml``/``.txt`` file path."""
    if Path(spec).suffix.lower() in (".json", ".yaml", ".yml", ".txt") and Path(spec).is_file():
        return load(spec)
    return from_config(spec)


def _one_line(err: ConfigError) -> str:
    """A ConfigError on one line: the reason, and where in the text it was found."""
    if err.position is not None and err.text is not None:
        return f"{err.reason} (at position {err.position} of {err.text!r})"
    return err.reason


def cmd_show(args: argparse.Namespace) -> int:
    """Print a step/value table and a terminal plot of one schedule."""
    from lrkit.terminal import chart, horizon, table

    schedule = read_spec(args.spec)
    steps = horizon(schedule, args.steps)
    length = "infinite" if schedule.length is None else f"{schedule.length:g} steps"
    print(f"{schedule!r}  ({length})")
    print(table(schedule, steps, rows=args.rows))
    print()
    print(chart(schedule, steps, width=args.width))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lrkit", description="Preview, plot and compare learning-rate schedules.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = sub.add_parser("show", help="print a table and a terminal plot of a schedule")
    show.add_argument("spec", help="text form, e.g. 'warmup(500) >> cosine(10000)', or a .json/.yaml file")
    show.add_argument("--steps", type=float, default=None, help="horizon (default: the schedule's length)")
    show.add_argument("--rows", type=int, default=11, help="rows in the table (default 11)")
    show.add_argument("--width", type=int, default=64, help="plot width in characters (default 64)")
    show.set_defaults(run=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as err:
        print(f"lrkit: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except (UsageError, ValueError) as err:
        print(f"lrkit: error: {err}", file=sys.stderr)
        return 2
    except MissingExtra as err:
        print(f"lrkit: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
