"""Terminal output: a schedule's step/value table and character plot, text tables, a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from lrkit.core.schedule import Schedule

__all__ = ["Progress", "chart", "format_table", "horizon", "table"]


def horizon(schedules: Schedule | Sequence[Schedule], steps: float | None = None) -> float:
    """The span to show (a table, a chart, a figure): ``steps`` if given, else the longest finite length of
    ``schedules`` (one schedule or several), 1,000 if all are infinite.

    >>> import lrkit as lk
    >>> horizon([lk.cosine(300), lk.constant(1.0)]), horizon(lk.inverse_sqrt(10)), horizon(lk.cosine(9), 4)
    (300.0, 1000.0, 4.0)
    """
    if steps is not None:
        if not (steps > 0 and np.isfinite(steps)):
            raise ValueError(f"steps must be a finite number > 0, got {steps!r}")
        return float(steps)
    group = [schedules] if isinstance(schedules, Schedule) else schedules
    lengths = [s.length for s in group if s.length is not None and s.length > 0]
    return float(max(lengths)) if lengths else 1000.0


def _step(x: float) -> str:
    """A step as a table or axis label: whole numbers in full up to 1e15, else 3 significant digits."""
    return f"{x:.0f}" if abs(x) < 1e15 else f"{x:.3g}"


def table(schedule: Schedule, steps: float, rows: int = 11) -> str:
    """``rows`` evenly spaced steps from 0 to ``steps`` with their values.

    >>> print(table(linear(10), 10, rows=3))
       step  value
          0  1
          5  0.5
         10  0
    """
    points = np.unique(np.round(np.linspace(0.0, steps, rows)))
    values = schedule(points)
    width = max(len(_step(p)) for p in points)
    width = max(width, 5)
    lines = [f"  {'step':>{width}}  value"]
    lines += [f"  {_step(p):>{width}}  {val:.6g}" for p, val in zip(points, values)]
    return "\n".join(lines)


def chart(schedule: Schedule, steps: float, width: int = 64, height: int = 14) -> str:
    """A character plot of the schedule over ``[0, steps]``, with the value axis labelled.

    Each column shows the value at its step (the column's left edge); ``*`` marks it. A value
    that is not finite (an overflow to ``inf``) leaves its column empty, and a last line says so.

    >>> print(chart(linear(10), 10, width=8, height=3))
      1 |**
    0.5 |  ****
      0 |      **
        +--------
         0     10
    """
    if width < 2 or height < 2:
        raise ValueError(f"chart: width and height must be >= 2, got width={width}, height={height}")
    xs = np.linspace(0.0, steps, width)
    ys = np.asarray(schedule(xs), dtype=float)
    finite = np.isfinite(ys)
    shown = ys[finite] if finite.any() else np.zeros(1)
    low, high = float(np.min(shown)), float(np.max(shown))
    span = high - low if high - low > 0 and np.isfinite(high - low) else 1.0
    grid = [[" "] * width for _ in range(height)]
    for column in np.flatnonzero(finite):
        row = int(np.clip(np.round((ys[column] - low) / span * (height - 1)), 0, height - 1))
        grid[height - 1 - row][column] = "*"
    labels = [f"{high:.3g}", f"{(high + low) / 2:.3g}", f"{low:.3g}"]
    pad = max(len(label) for label in labels)
    out = []
    for i, line in enumerate(grid):
        label = labels[0] if i == 0 else labels[2] if i == height - 1 else labels[1] if i == height // 2 else ""
        out.append(f"{label:>{pad}} |{''.join(line)}")
    out.append(f"{'':>{pad}} +{'-' * width}")
    left, right = "0", _step(steps)
    out.append(f"{'':>{pad}}  {left}{right:>{width - len(left)}}")
    if not finite.all():
        out.append(f"{'':>{pad}}  not finite (inf or nan) in {int((~finite).sum())} of {width} columns, left empty")
    return "\n".join(out)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: columns as wide as their widest cell, the first left-aligned, the rest right.

    >>> print(format_table(["schedule", "acc"], [["cosine(10)", "0.95"], ["constant(1)", "0.9"]]))
    schedule      acc
    -----------  ----
    cosine(10)   0.95
    constant(1)   0.9
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])


class Progress:
    """The one progress bar of lrkit's tools (the CLI's training runs, the LR range test): on ``stream``
    (stderr by default), shown only on a terminal or in a notebook.

    Uses tqdm when it is installed (``tqdm.auto``: a widget in a notebook), else a plain ``\\r`` bar of its
    own. ``write`` prints a line above the bar (or just prints it when no bar is shown), so per-epoch
    lines and the bar mix.

    >>> import io
    >>> from lrkit.plot.terminal import Progress
    >>> bar = Progress(3, stream=io.StringIO(), desc="train")  # not a terminal: no bar is drawn
    >>> for _ in range(3):
    ...     bar.update(loss=0.5)
    >>> bar.write("epoch 1: loss 0.5")
    epoch 1: loss 0.5
    >>> bar.done, bar.shown
    (3, False)
    >>> bar.close()
    """

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None, desc: str = "") -> None:
        self.total = total
        self.out = sys.stdout
        self.stream = sys.stderr if stream is None else stream
        terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.shown = enabled and (terminal or (stream is None and "ipykernel" in sys.modules))
        self.done = 0
        self.desc = desc
        self._tqdm: Any = None
        if self.shown:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self._tqdm = tqdm(total=total, file=self.stream, desc=desc, unit="upd", leave=False, dynamic_ncols=True)

    def update(self, n: int = 1, **postfix: object) -> None:
        self.done += n
        if not self.shown:
            return
        if self._tqdm is not None:
            if postfix:
                self._tqdm.set_postfix(postfix, refresh=False)
            self._tqdm.update(n)
        elif self.done == self.total or self.done % max(1, self.total // 100) == 0:
            self._draw()

    def _draw(self) -> None:
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
        self.stream.flush()

    def _clear(self) -> None:
        self.stream.write("\r" + " " * (len(self.desc) + 50) + "\r")
        self.stream.flush()

    def write(self, text: str) -> None:
        """Print ``text`` (a line) to stdout without breaking the bar."""
        if self._tqdm is not None:
            self._tqdm.clear()
            print(text, file=self.out, flush=True)
            self._tqdm.refresh()
        elif self.shown:
            self._clear()
            print(text, file=self.out, flush=True)
            self._draw()
        else:
            print(text, file=self.out, flush=True)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.shown:
            self._clear()
