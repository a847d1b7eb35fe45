"""A jitted optax AdamW step of a small MLP: lrkit's schedule vs optax's own schedule of the same shape.

Both sides: the same MLP (32-64-64-1, batch 64, float32), ``optax.adamw`` with a linear warmup then
cosine decay (lrkit ``warmup(100) >> cosine(900)`` through ``lrkit.optax.schedule`` vs
``optax.warmup_cosine_decay_schedule``), one ``jax.jit``-ed update per call, chained, with
``block_until_ready`` at the end of each sample. Timed interleaved (bench/harness.py); the ratio
is of medians from the same run. Rows: plain ``optax.adamw`` and ``optax.inject_hyperparams``.

    python bench/optax_step.py            # 31 repeats x 200 steps per sample
    python bench/optax_step.py --quick    # 3 repeats x 20 steps (a smoke test)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Timing, header, interleaved, write

TARGET = 1.1


def _case(opt: Any, seed: int = 0) -> Any:
    import jax
    import jax.numpy as jnp
    import optax

    keys = jax.random.split(jax.random.PRNGKey(seed), 4)
    params = {
        "w1": jax.random.normal(keys[0], (32, 64)) * 0.1, "b1": jnp.zeros(64),
        "w2": jax.random.normal(keys[1], (64, 64)) * 0.1, "b2": jnp.zeros(64),
        "w3": jax.random.normal(keys[2], (64, 1)) * 0.1, "b3": jnp.zeros(1),
    }
    x = jax.random.normal(keys[3], (64, 32))
    y = jnp.sum(x[:, :4], axis=1, keepdims=True)

    def loss(p: Any) -> Any:
        h = jax.nn.relu(x @ p["w1"] + p["b1"])
        h = jax.nn.relu(h @ p["w2"] + p["b2"])
        return jnp.mean((h @ p["w3"] + p["b3"] - y) ** 2)

    @jax.jit
    def step(p: Any, s: Any) -> Any:
        grads = jax.grad(loss)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s

    state = [params, opt.init(params)]

    def run(n: int) -> None:
        p, s = state
        for _ in range(n):
            p, s = step(p, s)
        jax.block_until_ready(p)
        state[:] = [p, s]

    return run


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats x 20 steps (CI)")
    args = parser.parse_args(argv)
    import optax

    import lrkit as lk
    from lrkit.optax import schedule

    repeats, number = (3, 20) if args.quick else (31, 200)
    ours = schedule(lk.warmup(100) >> lk.cosine(900), base_lr=1e-3)
    native = optax.warmup_cosine_decay_schedule(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
    rows = []
    for label, make in (
        ("optax.adamw", lambda lr: optax.adamw(learning_rate=lr)),
        ("optax.inject_hyperparams(optax.adamw)", lambda lr: optax.inject_hyperparams(optax.adamw)(learning_rate=lr)),
    ):
        a, b = _case(make(ours)), _case(make(native))
        per_sample = interleaved({"lrkit": lambda a=a: a(number), "optax": lambda b=b: b(number)}, repeats=repeats)
        times = {k: Timing(t.median / number, t.low / number, t.high / number) for k, t in per_sample.items()}
        ratio = times["lrkit"].median / times["optax"].median
        rows.append((label, times["lrkit"], times["optax"], ratio))
        print(f"  {label}: lrkit/optax {ratio:.3f}", file=sys.stderr)

    text = header("jitted optax AdamW step of a small MLP: lrkit schedule vs native optax schedule", "jax", "optax")
    text += (
        f"\n- sizes: MLP 32-64-64-1, batch 64, float32; {repeats} interleaved repeats x {number} jitted steps "
        "per sample; us per step: median (min-max over repeats)\n"
        "- lrkit: `lrkit.optax.schedule(warmup(100) >> cosine(900), 1e-3)` (pure jax.numpy, no callback); "
        "optax: `warmup_cosine_decay_schedule(0, 1e-3, 100, 1000)`\n\n"
        "| optimizer | lrkit us | optax us | lrkit/optax |\n| --- | ---: | ---: | ---: |\n"
    )
    for label, ours_t, theirs_t, ratio in rows:
        text += f"| `{label}` | {ours_t.us()} | {theirs_t.us()} | {ratio:.3f} |\n"
    worst = max(r[3] for r in rows)
    met = "**met**" if worst <= TARGET else "**not met**"
    text += f"\n- target lrkit/optax <= {TARGET}x: {met} (worst {worst:.3f}x)\n"
    path = write("optax_step", text, args.quick)
    print(text)
    print(f"written to {path}", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
