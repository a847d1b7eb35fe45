"""Render a schedule in the terminal: a step/value table and a character plot."""

from __future__ import annotations

import numpy as np

from lrkit.schedule import Schedule

__all__ = ["chart", "horizon", "table"]


def horizon(schedule: Schedule, steps: float | None = None) -> float:
    """The span to show: ``steps`` if given, else the schedule's length (1,000 if infinite)."""
    if steps is not None:
        return float(steps)
    return float(schedule.length) if schedule.length is not None else 1000.0


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
    width = max(len(f"{p:.0f}") for p in points)
    width = max(width, 5)
    lines = [f"  {'step':>{width}}  value"]
    lines += [f"  {p:>{width}.0f}  {val:.6g}" for p, val in zip(points, values)]
    return "\n".join(lines)


def chart(schedule: Schedule, steps: float, width: int = 64, height: int = 14) -> str:
    """A character plot of the schedule over ``[0, steps]``, with the value axis labelled.

    Each column shows the value at its step (the column's left edge); ``*`` marks it.
    """
    xs = np.linspace(0.0, steps, width)
    ys = schedule(xs)
    low, high = float(np.min(ys)), float(np.max(ys))
    span = high - low if high > low else 1.0
    rows = np.round((ys - low) / span * (height - 1)).astype(int)
    grid = [[" "] * width for _ in range(height)]
    for column, row in enumerate(rows):
        grid[height - 1 - row][column] = "*"
    labels = [f"{high:.3g}", f"{(high + low) / 2:.3g}", f"{low:.3g}"]
    pad = max(len(label) for label in labels)
    out = []
    for i, line in enumerate(grid):
        label = labels[0] if i == 0 else labels[2] if i == height - 1 else labels[1] if i == height // 2 else ""
        out.append(f"{label:>{pad}} |{''.join(line)}")
    out.append(f"{'':>{pad}} +{'-' * width}")
    left, right = "0", f"{steps:.0f}"
    out.append(f"{'':>{pad}}  {left}{right:>{width - len(left)}}")
    return "\n".join(out)
