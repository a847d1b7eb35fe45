"""Plots of fitted, predicted and actual loss curves (matplotlib, imported lazily)."""

from __future__ import annotations

__all__ = ["plot", "plot_choice"]

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from lrkit.curves.choose import Choice
    from lrkit.curves.core import Run
    from lrkit.curves.intervals import Uncertainty
    from lrkit.curves.laws import Law


def plot(
    law: Law,
    fitted: Sequence[Run] = (),
    predicted: Sequence[Run] = (),
    *,
    title: str | None = None,
    path: str | Path | None = None,
    ax: Any = None,
) -> Figure:
    """Fitted runs (actual: dots, law: line) and predicted runs (actual: dots, prediction: dashed).

    Runs without losses are drawn as the prediction alone. Saved to ``path`` (.png/.svg) if given.

    >>> import lrkit as lk
    >>> from lrkit.curves import MultiPowerLaw, Run
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> run = Run.of((lk.warmup(100) >> lk.cosine(900)) * 3e-4, np.arange(200, 1001, 100), name="cosine")
    >>> fig = plot(law, predicted=[run])
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['cosine (predicted)']
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'lrkit[plot]'") from None
    from lrkit.curves.core import as_law

    law = as_law(law)
    fitted, predicted = _runs(fitted, "fitted"), _runs(predicted, "predicted")
    if ax is None:
        fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    colors = [f"C{i % 10}" for i in range(len(fitted) + len(predicted))]
    for i, (run, kind) in enumerate([(r, "fitted") for r in fitted] + [(r, "predicted") for r in predicted]):
        steps = np.arange(max(1, int(run.steps.min())), int(run.steps.max()) + 1, max(1, int(run.steps.max()) // 400))
        curve = law.predict(run.lrs, steps)
        ax.plot(steps, curve, color=colors[i], ls="-" if kind == "fitted" else "--", label=f"{run.name} ({kind})")
        if run.losses is not None:
            ax.scatter(run.steps, run.losses, s=4, color=colors[i], alpha=0.5)
    ax.set_xlabel("update")
    ax.set_ylabel("loss")
    ax.set_title(title or f"{type(law).__name__}: lines fitted, dashed predicted, dots measured")
    if fitted or predicted:
        ax.legend(fontsize="small")
    return _save(fig, path)


def plot_choice(
    law: Law,
    choices: Sequence[Choice],
    uncertainty: Uncertainty | None = None,
    *,
    top: int = 6,
    level: float | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The predicted loss curves of each length's ``top`` candidates (best first), each with its interval band;
    one panel per :class:`lrkit.curves.Choice`. Saved to ``path`` (.png/.svg) if given.

    >>> from lrkit.curves import MultiPowerLaw, choose, family
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.65)
    >>> fig = plot_choice(law, choose(law, family(4000, peaks=[3e-4], warmup=200, shapes=("linear",)), 4000), top=2)
    >>> len(fig.axes), len(fig.axes[0].get_lines())
    (1, 2)
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'lrkit[plot]'") from None
    from lrkit.curves.choose import Choice
    from lrkit.curves.core import Fit, as_law
    from lrkit.curves.intervals import interval
    from lrkit.curves.laws import whole

    if isinstance(law, Fit) and uncertainty is None:
        uncertainty = law.uncertainty
    law = as_law(law)
    top = whole("top", top)
    if isinstance(choices, Choice):
        choices = [choices]
    if not isinstance(choices, Sequence) or not choices or not all(isinstance(c, Choice) for c in choices):
        raise ValueError(f"choices: give a list of Choice values (from curves.choose), got {choices!r:.60}")
    fig = Figure(figsize=(6.5 * len(choices), 4.5), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(choices), squeeze=False)[0]
    for ax, choice in zip(axes, choices):
        budget = choice.budget
        steps = np.unique(np.linspace(max(1, budget // 10), budget, 120).round().astype(np.int64))
        for i, row in enumerate(choice.rows[:top]):
            mean, low, high = interval(law, uncertainty, row.schedule, steps, level or choice.level)
            label = f"{row.name}: {row.predicted:.4f}" + (" (tied)" if row.tied and i else "")
            ax.plot(steps, mean, color=f"C{i % 10}", lw=2.2 if i == 0 else 1.2, label=label)
            ax.fill_between(steps, low, high, color=f"C{i % 10}", alpha=0.12)
        verdict = "best first" if choice.decided else "cannot tell apart"
        ax.set_title(f"{budget:,} updates: predicted loss, {100 * choice.level:g}% bands ({verdict})")
        ax.set_xlabel("update")
        ax.set_ylabel("predicted loss")
        lows = [r.low for r in choice.rows[:top]]
        highs = [r.high for r in choice.rows[:top]]
        # candidates predicted alike without an uncertainty have no span: a band of 0.1% of the loss around them
        span = max(highs) - min(lows) or 1e-3 * max(abs(min(lows)), 1e-12)
        ax.set_ylim(min(lows) - 0.5 * span, max(highs) + 4 * span)
        ax.legend(fontsize="small")
    return _save(fig, path)


def _runs(runs: Any, where: str) -> list[Run]:
    """``runs`` as a list of :class:`Run` values (one Run in place of a list is read as a list of one)."""
    from lrkit.curves.core import Run

    if isinstance(runs, Run):
        return [runs]
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not all(isinstance(r, Run) for r in runs):
        raise ValueError(f"{where}: give a list of Run values (curves.read_run, Run.of), got {runs!r:.60}")
    return list(runs)


def _save(fig: Figure, path: str | Path | None) -> Figure:
    """Save ``fig`` to ``path`` (.png or .svg) if given; return it."""
    if path is not None:
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            raise ValueError(f"path: the file name must end in .png or .svg, got {str(path)!r}")
        if not path.parent.is_dir():
            raise ValueError(f"path: folder {str(path.parent)!r} does not exist")
        fig.savefig(path)
    return fig
