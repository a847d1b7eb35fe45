"""Write docs/schedules.md and its plots (docs/img/gallery-*.png) from the schedule registry.

    python docs/gallery.py            # rewrite docs/schedules.md, docs/img/gallery-*.png, docs/img/readme.png

Every name in the registry (``lrkit.known_names()`` after importing ``lrkit`` and
``lrkit.reactive``) needs an entry in ``EXAMPLES``: the script stops with an error naming the
missing ones, and tests/test_gallery.py fails, so a new family cannot be left out of the gallery.
Combinators (join, scale, product, clamp, ...) are shown like any family, each through a small
composition; the reactive ``plateau`` is drawn as its pure value (1.0) inside a composition,
with a note that its reductions happen during training. Names registered by ``lrkit.compat``
(peer quirks, for reading configs written elsewhere) are not shown: docs/migration.md, which
that package owns, maps them to native expressions.

docs/img/readme.png, the README's picture, is made by the ``lrkit plot`` command itself.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
IMG = DOCS / "img"
PAGE = DOCS / "schedules.md"


@dataclass(frozen=True)
class Example:
    text: str  #: the text form that is plotted
    steps: float | None = None  #: horizon, when the schedule's own length is not a good one
    log: bool = False
    note: str = ""


#: One representative text form per registered name.
EXAMPLES: dict[str, Example] = {
    # shapes
    "constant": Example("constant(0.5)"),
    "linear": Example("linear(1000, end=0.1)"),
    "cosine": Example("cosine(1000, floor=0.1)"),
    "polynomial": Example("polynomial(1000, power=2.0)"),
    "anneal": Example(
        "anneal(1000, 1.0, 0.01, shape='exp')", note="The general ramp; shapes linear, cos, exp, poly, 1-sqrt."
    ),
    "warmup": Example(
        "warmup(200, shape='cos')", steps=400, note="Holds 1.0 after the warmup; put it in front with `>>`."
    ),
    "untuned_warmup": Example("untuned_warmup(0.995)", steps=600),
    "step_decay": Example("step_decay(250, decay=0.5)", steps=1000),
    "multistep": Example("multistep([300, 600, 800], decay=0.5)", steps=1000),
    "exponential": Example("exponential(0.997)", steps=1000, log=True),
    "inverse_time": Example("inverse_time(0.01)", steps=1000),
    "inverse_sqrt": Example(
        "warmup(100) >> inverse_sqrt(100)", steps=1000, note="With a warmup in front: the Transformer (Noam) schedule."
    ),
    "tanh_decay": Example("tanh_decay(1000)"),
    "piecewise_constant": Example("piecewise_constant([250, 500, 750], [1.0, 0.5, 0.25, 0.1])", steps=1000),
    "piecewise_linear": Example("piecewise_linear([0, 100, 600, 1000], [0.0, 1.0, 0.3, 0.0])"),
    "sgdr": Example("sgdr(100, mult=2, decay=0.8)", steps=1500),
    "cyclic": Example("cyclic(100, floor=0.1, mode='triangular2')", steps=1000),
    # recipes
    "one_cycle": Example("one_cycle(1000)"),
    "one_cycle_momentum": Example(
        "one_cycle_momentum(1000)", note="Absolute momentum values (0.95 -> 0.85 -> 0.95), the companion of one_cycle."
    ),
    "wsd": Example("wsd(1000, warmup=100, decay=200)"),
    "flat_cosine": Example("flat_cosine(1000)"),
    "warmup_flat_warmdown": Example("warmup_flat_warmdown(1000)"),
    "warmup_cosine": Example("warmup_cosine(1000, 100, floor=0.05)"),
    # combinators, each through a small composition
    "join": Example(
        "linear(200, start=0.0, end=1.0) >> constant(1.0, 300) >> cosine(500)",
        note="`a >> b` is `join([a, b])`; each piece sees its own local step.",
    ),
    "scale": Example("cosine(1000) * 0.5", note="`s * x` is `scale(s, x)`."),
    "product": Example(
        "cyclic(50, floor=0.2) * linear(1000, end=0.1)",
        steps=1000,
        note="`a * b` of two schedules is `product(a, b)`: here a decaying envelope on a cycle.",
    ),
    "clamp": Example("clamp(cosine(1000), low=0.2)"),
    "repeat": Example("repeat(warmup(50) >> cosine(200), times=4)"),
    "shift": Example("shift(cosine(1000), 300)", note="Starts part-way through the schedule."),
    "stretch": Example(
        "stretch(warmup(0.1) >> cosine(0.9), 1000)", note="A recipe over fractions of a run, stretched to its budget."
    ),
    "take": Example(
        "take(step_decay(200, decay=0.5), 600) >> cosine(400, peak=0.125)",
        note="Bounds an infinite schedule so it can be followed in a join.",
    ),
    "noise": Example("noise(cosine(1000), std=0.1)"),
    # reactive
    "plateau": Example(
        "warmup(100) >> constant(1.0, 600) * plateau(patience=3) >> cosine(300)",
        note="Reactive: as a value it is 1.0 (drawn here); during training `Scheduler.step(metric)` lowers it "
        "when the metric stops improving, like torch's ReduceLROnPlateau.",
    ),
}

GROUPS = {
    "lrkit.core.families": "Shapes",
    "lrkit.core.recipes": "Recipes",
    "lrkit.core.combinators": "Combinators",
    "lrkit.core.plateau": "Reactive",
    "lrkit.reactive": "Reactive",
}


def registered() -> list[str]:
    """The names the gallery must show: every name lrkit itself registers (its own modules,
    ``lrkit.reactive`` included), not the peer-compat shims of ``lrkit.compat`` nor names that
    code outside lrkit registered (a test's own families, say)."""
    import lrkit
    from lrkit.core.registry import REGISTRY, lookup

    try:
        importlib.import_module("lrkit.reactive")
    except ImportError:  # pragma: no cover - before lrkit.reactive exists
        pass
    lrkit.known_names()
    return sorted(name for name in REGISTRY if _is_own(lookup(name).__module__))


def _is_own(module: str) -> bool:
    return module.startswith("lrkit.") and not module.startswith("lrkit.compat")


def _group(name: str) -> str:
    from lrkit.core.registry import lookup

    return GROUPS.get(lookup(name).__module__, "Other")


def _summary(name: str) -> str:
    from lrkit.core.registry import lookup

    doc = inspect.getdoc(lookup(name)) or ""
    return " ".join(doc.split("\n\n")[0].split())


def image_name(name: str) -> str:
    return f"gallery-{name}.png"


#: One vocabulary across sibling families (issue 23): the one table of the words the parameters use.
VOCABULARY = [
    "## One vocabulary",
    "",
    "Sibling families use the same words in the same order: first the time (how long, how often), then the",
    "values (a ramp's `start` then `end`; a decay's `floor` then `peak`), then the curve (`shape`, `power`, `k`).",
    "",
    "| word | means | used by |",
    "|---|---|---|",
    "| `steps` | how long a finite phase lasts: its length | anneal, linear, cosine, polynomial, warmup, tanh_decay, "
    "constant, take, the recipes |",
    "| `every` | the period of a staircase | step_decay, exponential, inverse_time |",
    "| `period`; `up`, `down` | the length of a cycle; of its rise and its fall | sgdr; cyclic |",
    "| `milestones`, `boundaries`, `knots` | the steps where a piecewise value changes | multistep; "
    "piecewise_constant; piecewise_linear |",
    "| `start`, `end` | a ramp's values at `t = 0` and `t = steps`, rising or falling | anneal, linear, polynomial; "
    "warmup's `start` |",
    "| `floor`, `peak` | the lowest and the highest value | cosine, tanh_decay, sgdr, cyclic, wsd, flat_cosine, "
    "warmup_cosine; warmup's and cosine's `peak` |",
    "| `decay` | the multiplier applied once per period: per `every`, per milestone, per cycle, per step | "
    "step_decay, multistep, exponential, sgdr, cyclic (`mode='exp_range'`) |",
    "| `by` | the amount of a transform: steps skipped, time multiplied, values multiplied | shift, stretch, "
    "scale (`s * x`) |",
    "| `times` | how many repetitions | repeat |",
    "| `shape`, `power`, `k` | the curve | anneal, warmup, wsd, one_cycle; anneal, polynomial; cosine |",
    "| `factor` | plateau's reduction only (PyTorch's `ReduceLROnPlateau` word) | plateau |",
    "",
    "Renamed, and still read under the old name (text and dict configs, pickles, `Scheduler` checkpoints, "
    "Python calls): `factor` of step_decay, multistep and exponential is `decay`; `factor` of scale and stretch "
    "is `by`; cyclic's `base` is `floor` and its `gamma` is `decay`. `polynomial` takes linear's order "
    "(`start`, `end`, then `power`) as keywords; positional values after `steps` are read in the old order "
    "(`power`, `end`, `start`), so an old config keeps its meaning.",
    "",
]


def render_markdown(names: list[str]) -> str:
    """The text of docs/schedules.md (deterministic: a test compares it with the committed file)."""
    from lrkit.core.config import signature_text

    lines = [
        "# Schedule gallery",
        "",
        "Every schedule lrkit knows by name, with a plot and a text form you can pass to",
        "`lrkit.from_config`, `lrkit show` or `lrkit plot`. Values are multipliers of the base",
        "learning rate (peak 1.0); the x axis is the step (optimizer updates unless the driver says",
        "otherwise); dotted lines mark phase starts (warmup end, restarts).",
        "",
        "Generated by `python docs/gallery.py` from the registry; do not edit by hand.",
        "",
    ]
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_group(name), []).append(name)
    order = [g for g in ("Shapes", "Recipes", "Combinators", "Reactive") if g in groups] + sorted(
        g for g in groups if g not in ("Shapes", "Recipes", "Combinators", "Reactive")
    )
    lines.append(
        "Contents: [One vocabulary](#one-vocabulary), "
        + ", ".join(f"[{g}](#{g.lower()})" for g in order)
        + ", [Peer-compatible names](#peer-compatible-names)"
    )
    lines.append("")
    lines += VOCABULARY
    for group in order:
        lines += [f"## {group}", ""]
        for name in groups[group]:
            example = EXAMPLES[name]
            lines += [f"### {name}", "", f"`{signature_text(name)}`", "", _summary(name), ""]
            if example.note:
                lines += [example.note, ""]
            lines += [f"![{name}](img/{image_name(name)})", "", "```text", example.text, "```", ""]
    lines += [
        "## Peer-compatible names",
        "",
        "`lrkit.compat` registers a few more names that reproduce a peer's quirks exactly (for configs",
        "written for PyTorch, timm, transformers, Keras or optax); [migration.md](migration.md) lists",
        "them with their native lrkit equivalents.",
        "",
    ]
    return "\n".join(lines)


def missing(names: list[str]) -> list[str]:
    return [name for name in names if name not in EXAMPLES]


def draw(name: str) -> Path:
    from lrkit.core.config import from_config
    from lrkit.plot import save, schedule_figure

    example = EXAMPLES[name]
    fig = schedule_figure(
        [from_config(example.text)],
        steps=example.steps,
        log=example.log,
        title=example.text if len(example.text) <= 60 else name,
        size=(4.8, 2.7),
        dpi=80,
        legend=False,
    )
    fig.axes[0].set_ylabel("value")
    return save(fig, IMG / image_name(name), metadata={"lrkit-fingerprint": fingerprint(name)})


def fingerprint(name: str) -> str:
    """What the plot of ``name`` shows, hashed: its text, span, scale and 2,001 values (12 significant digits).

    A gallery image whose stamp differs from this is stale (tests/test_gallery.py): the schedule's
    values changed and ``python docs/gallery.py`` was not rerun.
    """
    import hashlib

    import numpy as np

    from lrkit import from_config
    from lrkit.plot import horizon

    example = EXAMPLES[name]
    schedule = from_config(example.text)
    span = horizon([schedule], example.steps)
    values = schedule(np.linspace(0.0, span, 2001))
    text = f"{example.text}|{span!r}|{example.log}|" + ",".join(f"{v:.12g}" for v in values)
    return hashlib.sha256(text.encode()).hexdigest()


README_PLOT = [
    "plot",
    "warmup(500) >> cosine(9500, floor=0.05)",
    "one_cycle(10000)",
    "wsd(10000, warmup=500, decay=2000)",
    "--title",
    "lrkit plot: three schedules over 10,000 updates",
    "-o",
]


def main() -> int:
    names = registered()
    absent = missing(names)
    if absent:
        print(f"gallery.py: no example for {', '.join(absent)}; add them to EXAMPLES in {__file__}", file=sys.stderr)
        return 1
    IMG.mkdir(exist_ok=True)
    for name in names:
        draw(name)
    PAGE.write_text(render_markdown(names))
    print(f"wrote {PAGE} and {len(names)} plots in {IMG}")
    from lrkit.cli import main as lrkit_main

    return lrkit_main([*README_PLOT, str(IMG / "readme.png")])


if __name__ == "__main__":
    sys.exit(main())
