"""Plots of schedules and training runs (matplotlib, imported only when a plot is made).

Figures are built with ``matplotlib.figure.Figure`` and saved through the Agg (PNG) or SVG
canvas directly: no pyplot, no change to the user's global backend or state. A figure's
pixel size is ``figsize * dpi`` exactly (no tight bounding box), so a plot of the default
size is 800 x 450 pixels.

>>> import lrkit as lk
>>> schedules = [lk.warmup(100) >> lk.cosine(900), lk.one_cycle(1000)]
>>> fig = schedule_figure(schedules, labels=["warmup >> cosine", "one-cycle"])
>>> [line.get_label() for line in fig.axes[0].get_lines()][:3]
['warmup >> cosine', 'one-cycle', 'phase start']
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.core._extras import require
from lrkit.core._io import atomic_write
from lrkit.core.schedule import Schedule
from lrkit.finder import smooth
from lrkit.plot.terminal import horizon

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from lrkit.tasks import RunResult

__all__ = ["FORMATS", "ema", "horizon", "save", "schedule_figure", "training_figure", "write_figure"]

FORMATS = (".png", ".svg")
"""File suffixes :func:`save` writes."""
#: Points a schedule is sampled at (steps are evaluated exactly, so edges stay sharp).
SAMPLES = 2001


def _figure(size: tuple[float, float], dpi: float) -> Figure:
    require("matplotlib", "plot", purpose="plotting")  # MissingExtra (an ImportError) naming lrkit[plot]
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=dpi, layout="constrained")


def _short(text: str, width: int = 64) -> str:
    return textwrap.shorten(text, width, placeholder=" ...") if len(text) > width else text


def schedule_figure(
    schedules: Sequence[Schedule],
    *,
    labels: Sequence[str] | None = None,
    steps: float | None = None,
    log: bool = False,
    marks: bool = True,
    title: str | None = None,
    size: tuple[float, float] = (8.0, 4.5),
    dpi: float = 100,
    legend: bool = True,
) -> Figure:
    """One axes with every schedule over ``[0, steps]`` (see :func:`horizon`), overlaid.

    Each line is labelled with its text form (or ``labels``); ``log`` makes the value axis
    logarithmic (zeros are not drawn there); ``marks`` draws a dotted vertical line in the
    schedule's colour where a phase starts (warmup end, a restart, the start of a decay),
    from :meth:`Schedule.phase_starts`.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import lrkit as lk
    >>> from lrkit.plot import save, schedule_figure
    >>> figure = schedule_figure([lk.warmup_cosine(1000, warmup=100), lk.wsd(1000, warmup=100, decay=200)])
    >>> len(figure.axes[0].lines) > 2  # two schedules and their phase starts
    True
    >>> save(figure, Path(tempfile.mkdtemp()) / "schedules.png").is_file()
    True
    """
    if not schedules:
        raise ValueError("schedule_figure needs at least one schedule")
    if labels is not None and len(labels) != len(schedules):
        raise ValueError(f"labels: got {len(labels)} labels for {len(schedules)} schedules")
    span = horizon(schedules, steps)
    xs = np.linspace(0.0, span, SAMPLES)
    fig = _figure(size, dpi)
    ax = fig.subplots()
    marked = False
    for i, schedule in enumerate(schedules):
        color = f"C{i % 10}"
        label = _short(labels[i] if labels is not None else repr(schedule))
        ax.plot(xs, schedule(xs), color=color, lw=1.8, label=label)
    for i, schedule in enumerate(schedules if marks else []):
        color = f"C{i % 10}"
        for start in schedule.phase_starts(span):
            ax.axvline(start, color=color, ls=":", lw=1.0, alpha=0.8, label=None if marked else "phase start")
            marked = True
    if log:
        ax.set_yscale("log")
    ax.set_xlim(0.0, span)
    ax.set_xlabel("step")
    ax.set_ylabel("value (x base learning rate)")
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=8, loc="best")
    return fig


def ema(values: Sequence[float] | np.ndarray, beta: float = 0.9) -> np.ndarray:
    """The loss curve of a training plot: :func:`lrkit.finder.smooth` (the bias-corrected average
    ``a_k / (1 - beta^k)``, ``a_k = beta a_{k-1} + (1 - beta) x_k``), with a non-finite value showing the
    average so far instead of a gap (it is skipped, the average carries on).

    >>> ema([1.0, 3.0, float("nan")], beta=0.5).tolist()
    [1.0, 2.3333333333333335, 2.3333333333333335]
    """
    out = smooth(values, beta)
    last = np.maximum.accumulate(np.where(np.isfinite(out), np.arange(out.size), -1))  # the last finite point
    return np.where(last >= 0, out[last.clip(0)], np.nan)


def training_figure(
    results: Sequence[RunResult],
    *,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    size: tuple[float, float] = (8.0, 7.5),
    dpi: float = 100,
) -> Figure:
    """Three panels over updates: the learning rate used, the training loss (raw, faint, and a
    bias-corrected EMA), and the test accuracy at each evaluation with the target dashed.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from lrkit.plot import save, training_figure
    >>> from lrkit.tasks import RunResult
    >>> run = RunResult("digits", "cosine(4)", peak_lr=0.1, seed=0, updates=4, lrs=[0.1, 0.085, 0.05, 0.015],
    ...                 losses=[2.3, 1.9, 1.2, 0.9], eval_updates=[2, 4], accuracies=[0.6, 0.8], target=0.75)
    >>> figure = training_figure([run])
    >>> len(figure.axes)  # learning rate, training loss, test accuracy
    3
    >>> save(figure, Path(tempfile.mkdtemp()) / "run.svg").is_file()
    True
    """
    if not results:
        raise ValueError("training_figure needs at least one run")
    fig = _figure(size, dpi)
    lr_ax, loss_ax, acc_ax = fig.subplots(3, 1, sharex=True)
    for i, result in enumerate(results):
        color = f"C{i % 10}"
        label = _short(labels[i] if labels is not None else result.schedule, 56)
        updates = np.arange(1, len(result.lrs) + 1)
        lr_ax.plot(updates, result.lrs, color=color, lw=1.6, label=label)
        losses = np.asarray(result.losses, dtype=float)
        loss_ax.plot(updates, losses, color=color, lw=0.6, alpha=0.25)
        loss_ax.plot(updates, ema(losses), color=color, lw=1.6)
        acc_ax.plot(result.eval_updates, result.accuracies, color=color, lw=1.6, marker="o", ms=3)
    target = results[0].target
    if np.isfinite(target):
        acc_ax.axhline(target, color="0.3", ls="--", lw=1.0, label=f"target {target:g}")
        acc_ax.legend(fontsize=8, loc="lower right")
    lr_ax.set_ylabel("learning rate")
    lr_ax.legend(fontsize=8, loc="best")
    loss_ax.set_ylabel("train loss")
    finite = [x for r in results for x in r.losses if np.isfinite(x)]
    if finite and min(finite) > 0:
        loss_ax.set_yscale("log")
    acc_ax.set_ylabel("test accuracy")
    acc_ax.set_xlabel("update")
    for ax in (lr_ax, loss_ax, acc_ax):
        ax.grid(True, alpha=0.3)
    fig.suptitle(title or f"lrkit: {results[0].task}", fontsize=11)
    return fig


def write_figure(figure: Figure, path: str | Path, **options: Any) -> Path:
    """``figure.savefig`` through :func:`lrkit.core._io.atomic_write`: the file appears complete or not at all.

    An interrupted write (Ctrl-C, a full disk) leaves the previous file, or none, never a truncated one.
    The format is the suffix's (``options`` may name it); ``options`` go to ``savefig``.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import lrkit as lk
    >>> from lrkit.plot import schedule_figure, write_figure
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = write_figure(schedule_figure([lk.cosine(100)]), folder / "cosine.svg")
    >>> path.name, sorted(p.name for p in folder.iterdir())  # no temporary file left beside it
    ('cosine.svg', ['cosine.svg'])
    """
    path = Path(path)
    fmt = options.pop("format", None) or path.suffix[1:].lower()
    if not fmt:
        from matplotlib import rcParams

        fmt = str(rcParams["savefig.format"])
        path = path.with_name(f"{path.name}.{fmt}")  # as savefig names a file given without a suffix
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format=fmt, **options)
    return path


def save(figure: Figure, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``figure`` to ``path`` as PNG or SVG (by suffix) through its own canvas; returns the path.

    ``metadata``: PNG text chunks (the gallery stamps each image with a fingerprint of what it plots).
    Written by :func:`write_figure`: complete or not at all.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import lrkit as lk
    >>> from lrkit.plot import save, schedule_figure
    >>> folder = Path(tempfile.mkdtemp())
    >>> figure = schedule_figure([lk.cosine(100)])
    >>> path = save(figure, folder / "cosine.png", metadata={"Source": "lrkit"})
    >>> path.name, path.read_bytes()[:4]
    ('cosine.png', b'\\x89PNG')
    >>> try:
    ...     save(figure, folder / "cosine.pdf")
    ... except ValueError as error:
    ...     print(str(error).split(": ", 1)[1])
    the file name must end in .png or .svg, got '.pdf'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        found = suffix or "no suffix"
        raise ValueError(f"cannot write {str(path)!r}: the file name must end in .png or .svg, got {found!r}")
    if suffix == ".png":
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
    else:
        from matplotlib.backends.backend_svg import FigureCanvasSVG

        FigureCanvasSVG(figure)
    extra: dict[str, Any] = {"metadata": metadata} if metadata and suffix == ".png" else {}
    return write_figure(figure, path, format=suffix[1:], **extra)
