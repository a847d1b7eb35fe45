"""Preview cost: the whole curve of warmup(10k) >> cosine over 1,000,000 updates.

Compares, in one process, interleaved:
  lrkit            sched(np.arange(N))
  numpy by hand    the closed form written out with numpy (the floor)
  torch stepping   SequentialLR(LinearLR, CosineAnnealingLR), step() N times reading get_last_lr()
and reports the scalar call cost of the same composed schedule. Writes bench/results/preview.md.

    python bench/preview.py            # the full size (about a minute)
    python bench/preview.py --quick    # the smallest size, a smoke test
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lrkit as lk
from harness import header, interleaved, write

WARMUP = 10_000


def by_hand(n: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    decay = n - WARMUP
    local = np.minimum(np.maximum(t - WARMUP, 0.0), decay)
    return np.where(t < WARMUP, t / WARMUP, 0.5 * (1.0 + np.cos(np.pi * local / decay)))


def torch_stepping(n: int) -> np.ndarray:
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    first = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1e-12, end_factor=1.0, total_iters=WARMUP)
    second = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n - WARMUP)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [first, second], milestones=[WARMUP])
    out = np.empty(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "step() before optimizer.step()": no training here
        for i in range(n):
            out[i] = sched.get_last_lr()[0]
            sched.step()
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest size, for CI")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else 1_000_000
    repeats = 2 if args.quick else 5
    sched = lk.warmup(WARMUP, start=0.0) >> lk.cosine(n - WARMUP)
    steps = np.arange(n)

    # the three agree (torch's LinearLR cannot start at exactly 0 and its cosine is recursive)
    np.testing.assert_allclose(sched(steps), by_hand(n), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sched(steps)[1:], torch_stepping(n)[1:], rtol=1e-6, atol=1e-9)

    fast = interleaved({"lrkit": lambda: sched(steps), "numpy by hand": lambda: by_hand(n)}, repeats=repeats * 4)
    slow = interleaved({"lrkit": lambda: sched(steps), "torch stepping": lambda: torch_stepping(n)}, repeats=repeats)
    scalar = interleaved(
        {"lrkit scalar": lambda: sched(12_345), "numpy by hand, 1 element": lambda: by_hand_scalar(12_345, n)},
        repeats=repeats * 4,
        number=2000,
    )
    text = header(f"Preview: warmup({WARMUP}) >> cosine, {n:,} updates", "torch")
    text += (
        "\n| candidate | ms for the whole curve (median, range) | ratio |\n| --- | --- | --- |\n"
        f"| lrkit `sched(np.arange(N))` | {fast['lrkit'].ms()} | 1 |\n"
        f"| hand-written numpy closed form | {fast['numpy by hand'].ms()} | lrkit / numpy = "
        f"{fast['lrkit'].median / fast['numpy by hand'].median:.2f}x |\n"
        f"| torch SequentialLR stepping + get_last_lr() | {slow['torch stepping'].ms()} | torch / lrkit = "
        f"{slow['torch stepping'].median / slow['lrkit'].median:,.0f}x |\n"
        "\nScalar call of the same composed schedule (one step, Python float out):\n\n"
        "| candidate | us per call (median, range) |\n| --- | --- |\n"
        f"| lrkit `sched(12_345)` | {scalar['lrkit scalar'].us()} |\n"
        f"| hand-written numpy, one element | {scalar['numpy by hand, 1 element'].us()} |\n"
        "\nTargets (core issue): lrkit within 1.5x of hand-written numpy; at least 200x faster than stepping torch.\n"
    )
    path = write("preview", text, args.quick)
    print(text)
    print(f"written to {path}")
    return text


def by_hand_scalar(step: int, n: int) -> float:
    t = np.array([float(step)])
    local = np.minimum(np.maximum(t - WARMUP, 0.0), n - WARMUP)
    return float(np.where(t < WARMUP, t / WARMUP, 0.5 * (1.0 + np.cos(np.pi * local / (n - WARMUP))))[0])


if __name__ == "__main__":
    main()
