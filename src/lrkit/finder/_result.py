"""What a range test found: the points, the smoothed curve, the suggestions, why it stopped; JSON and a plot."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit.finder._curve import curve_array
from lrkit.finder._smooth import auto_beta, smooth
from lrkit.finder._suggest import suggest


@dataclass
class FinderResult:
    """What a range test found.

    ``lrs[i]``/``losses[i]`` are the LR and raw loss of real update ``i`` (one point per optimizer
    update), ``smoothed`` the bias-corrected average; ``suggestion`` the default suggestion or
    ``None`` with ``reason``; ``suggestions`` each method's answer; ``stopped`` why the sweep ended.

    >>> import numpy as np
    >>> lrs = np.logspace(-5, 1, 120)
    >>> x = np.log10(lrs)
    >>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -1.5, 4 * (x + 1.5) ** 2, 0.0)
    >>> from lrkit.finder import FinderResult
    >>> result = FinderResult.from_curve(lrs, losses)  # a range test's points (here a made-up curve)
    >>> result.stopped, round(result.suggestion, 5), sorted(result.suggestions)
    ('completed', 0.00209, ['minimum', 'steepest', 'valley'])
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    reason: str
    suggestions: dict[str, float | None]
    stopped: str = "completed"
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_curve(
        cls,
        lrs: Any,
        losses: Any,
        *,
        beta: float | None = None,
        stopped: str = "completed",
        settings: Mapping[str, Any] | None = None,
        **suggest_options: Any,
    ) -> FinderResult:
        """Build a result (smoothing and suggestions included) from raw points."""
        lr = curve_array("from_curve", "lrs", lrs)
        loss = curve_array("from_curve", "losses", losses)
        if beta is None:
            beta = auto_beta(lr) if lr.size > 1 else 0.0
        s = suggest(lr, loss, beta=beta, **suggest_options)
        return cls(lr, loss, smooth(loss, beta), s.value, s.reason, dict(s.methods), stopped, dict(settings or {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf losses written as ``None``)."""

        def clean(a: np.ndarray) -> list[float | None]:
            return [float(x) if math.isfinite(x) else None for x in a.tolist()]

        return {
            "lrs": clean(self.lrs),
            "losses": clean(self.losses),
            "smoothed": clean(self.smoothed),
            "suggestion": self.suggestion,
            "reason": self.reason,
            "suggestions": dict(self.suggestions),
            "stopped": self.stopped,
            "settings": dict(self.settings),
        }

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinderResult:
        """The inverse of :meth:`to_dict`."""

        needed = ("lrs", "losses", "smoothed", "suggestion", "reason", "suggestions")
        missing = [key for key in needed if key not in data]
        if missing:
            raise ValueError(
                f"FinderResult.from_dict: no {missing[0]!r} key (keys given: {', '.join(map(str, data)) or 'none'}); "
                "pass what FinderResult.to_dict() wrote"
            )

        def arr(key: str) -> np.ndarray:
            return np.array([np.nan if x is None else x for x in data[key]], dtype=np.float64)

        return cls(
            arr("lrs"),
            arr("losses"),
            arr("smoothed"),
            data["suggestion"],
            data["reason"],
            dict(data["suggestions"]),
            data.get("stopped", "completed"),
            dict(data.get("settings", {})),
        )

    def plot(self, path: Any = None, *, ax: Any = None, title: str | None = None) -> Any:
        """Loss vs LR (log axis), raw and smoothed, the suggestion marked; saved to ``path`` if given
        (through :func:`lrkit.plot.write_figure`: the file appears complete or not at all).

        Returns the matplotlib ``Axes``. matplotlib is imported here, never by ``import lrkit``.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("FinderResult.plot needs matplotlib: pip install 'lrkit[plot]'") from None
        fig = None
        if ax is None:
            fig = Figure(figsize=(6.4, 4.0), layout="tight")
            ax = fig.subplots()
        keep = np.isfinite(self.losses)
        ax.plot(self.lrs[keep], self.losses[keep], color="0.75", lw=0.8, label="loss")
        keep = np.isfinite(self.smoothed)
        ax.plot(self.lrs[keep], self.smoothed[keep], color="C0", lw=1.6, label="smoothed")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        finite = self.smoothed[keep]
        if finite.size:
            top = float(finite[0]) + 0.5 * (float(finite[0]) - float(finite.min()))
            low = float(np.nanmin(self.losses[np.isfinite(self.losses)]))
            ax.set_ylim(low - 0.05 * abs(top - low), top)
        styles = {"steepest": ("C2", ":"), "valley": ("C1", "--"), "minimum": ("C4", "-.")}
        for name, value in self.suggestions.items():
            if value is not None:
                color, style = styles.get(name, ("0.5", ":"))
                ax.axvline(value, color=color, ls=style, lw=1.0, label=f"{name} {value:.2g}")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="C3", lw=2.0, label=f"suggestion {self.suggestion:.2g}")
        ax.set_title(
            title
            or (
                f"LR range test: suggestion {self.suggestion:.3g}"
                if self.suggestion
                else f"LR range test: no suggestion ({self.reason[:60]})"
            ),
            fontsize=9,
        )
        ax.legend(fontsize=8)
        if path is not None:
            from lrkit.plot import write_figure  # deferred: lrkit.plot sits above the finder

            write_figure(fig or ax.figure, path, dpi=110)  # complete or not at all
        return ax
