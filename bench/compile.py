"""Recompiles under ``torch.compile``: lrkit's Scheduler vs torch's schedulers, tensor learning rates.

For each schedule family and each side, from a clean dynamo state (``torch._dynamo.reset()``):
an Adam optimizer over two 64x64 parameters with fixed gradients and ``lr=torch.tensor(...)``
(and, for the momentum rows, ``betas`` as tensors), the scheduler built, then
``torch.compile``d ``opt.step()`` called N times (1,000 updates; the scheduler's ``step()``
runs eagerly after each, as in a training loop). The compiling backend is wrapped in a counter
(``torch._dynamo.testing.CompileCounterWithBackend``): every graph compiled is counted, and the
guard failure that triggered each recompile is recorded. Reported: graphs compiled at the first
update, and recompiles in updates 2..N. dynamo stops recompiling a frame after
``torch._dynamo.config.recompile_limit`` (8) and then runs it uncompiled, so a count at the limit
means "compilation abandoned".

    python bench/compile.py            # every family, 1,000 updates, the inductor backend (a few minutes)
    python bench/compile.py --quick    # one family, 20 updates, the eager backend (a smoke test)
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import header, write

BASE_LR = 1e-2


@dataclass
class Family:
    name: str
    lrkit: Callable[[Any, int], Any]  # (optimizer, updates) -> lrkit Scheduler
    torch: Callable[[Any, int], Any]  # (optimizer, updates) -> torch scheduler
    momentum: bool = False  # betas as tensors, and the schedulers cycle beta1
    plateau: bool = False  # step(metric)


def _families() -> list[Family]:
    from torch.optim import lr_scheduler as tls

    import lrkit as lk
    from lrkit.reactive.controller import Plateau
    from lrkit.torch import Scheduler

    def sequential(opt: Any, n: int) -> Any:
        warm = n // 10
        return tls.SequentialLR(
            opt,
            [tls.LinearLR(opt, start_factor=1e-3, total_iters=warm), tls.CosineAnnealingLR(opt, T_max=n - warm)],
            milestones=[warm],
        )

    def hf_lambda(opt: Any, n: int) -> Any:
        import math

        warm = n // 10

        def factor(t: int) -> float:  # transformers' get_cosine_schedule_with_warmup rule
            if t < warm:
                return t / max(1, warm)
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * (t - warm) / max(1, n - warm))))

        return tls.LambdaLR(opt, factor)

    return [
        Family(
            "step decay (x0.5 every N/10)",
            lambda o, n: Scheduler(o, lk.step_decay(n // 10, factor=0.5)),
            lambda o, n: tls.StepLR(o, step_size=n // 10, gamma=0.5),
        ),
        Family("cosine", lambda o, n: Scheduler(o, lk.cosine(n)), lambda o, n: tls.CosineAnnealingLR(o, T_max=n)),
        Family(
            "warmup -> cosine (SequentialLR)",
            lambda o, n: Scheduler(o, lk.warmup(n // 10) >> lk.cosine(n - n // 10)),
            sequential,
        ),
        Family(
            "warmup -> cosine (HF-style LambdaLR)",
            lambda o, n: Scheduler(o, lk.warmup(n // 10) >> lk.cosine(n - n // 10)),
            hf_lambda,
        ),
        Family(
            "one-cycle, LR only",
            lambda o, n: Scheduler(o, lk.one_cycle(n)),
            lambda o, n: tls.OneCycleLR(o, max_lr=BASE_LR, total_steps=n, cycle_momentum=False),
        ),
        Family(
            "one-cycle + beta1 cycled (torch's default)",
            lambda o, n: Scheduler(o, lk.one_cycle(n), hyper={"beta1": lk.one_cycle_momentum(n)}),
            lambda o, n: tls.OneCycleLR(o, max_lr=BASE_LR, total_steps=n),
            momentum=True,
        ),
        Family(
            "cyclic (triangular, N/10 up)",
            lambda o, n: Scheduler(o, lk.cyclic(n // 10, base=0.1, peak=1.0)),
            lambda o, n: tls.CyclicLR(
                o, base_lr=BASE_LR / 10, max_lr=BASE_LR, step_size_up=n // 10, cycle_momentum=False
            ),
        ),
        Family(
            "plateau (patience 5, metric flat)",
            lambda o, n: Scheduler(o, lk.constant() * Plateau(patience=5)),
            lambda o, n: tls.ReduceLROnPlateau(o, patience=5),
            plateau=True,
        ),
    ]


class _Reasons(logging.Handler):
    """Collects dynamo's recompile messages (the ``recompiles`` log artifact)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _reason(messages: list[str]) -> str:
    for message in messages:
        for line in message.splitlines():
            line = line.strip()
            if line.startswith("- ") or ("guard" in line.lower() and "==" in line):
                return line.lstrip("- ").split("#")[0].strip()
    return ""


def measure(family: Family, side: str, updates: int, backend: str, inside: bool = False) -> tuple[int, int, str, float]:
    """(graphs compiled at the first update, recompiles after it, first recompile reason, final lr)."""
    import torch
    import torch._dynamo
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    generator = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(64, 64, generator=generator)) for _ in range(2)]
    for p in params:
        p.grad = torch.randn(64, 64, generator=generator) * 1e-2
    betas: Any = (torch.tensor(0.9), torch.tensor(0.999)) if family.momentum else (0.9, 0.999)
    opt = torch.optim.Adam(params, lr=torch.tensor(BASE_LR), betas=betas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = (family.lrkit if side == "lrkit" else family.torch)(opt, updates)
    counter = CompileCounterWithBackend(backend)

    @torch.compile(backend=counter)
    def step() -> None:
        opt.step()
        if inside:
            sched.step()

    handler = _Reasons()
    logger = logging.getLogger("torch._dynamo.guards.__recompiles")
    torch._logging.set_logs(recompiles=True)
    logger.addHandler(handler)
    previous = logger.propagate
    logger.propagate = False  # keep the console quiet; we report the reason ourselves
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = 0
            for i in range(updates):
                step()
                if family.plateau:
                    sched.step(1.0)
                elif not inside:
                    sched.step()
                if i == 0:
                    first = counter.frame_count
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous
        torch._logging.set_logs()
    lr = opt.param_groups[0]["lr"]
    return first, counter.frame_count - first, _reason(handler.messages), float(lr)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one family, 20 updates, eager backend (CI)")
    args = parser.parse_args(argv)
    import torch
    import torch._dynamo

    families = _families()
    if args.quick:
        families = [f for f in families if f.momentum]
    updates = 20 if args.quick else 1000
    backend = "eager" if args.quick else "inductor"
    limit = getattr(torch._dynamo.config, "recompile_limit", None) or torch._dynamo.config.cache_size_limit

    def table(chosen: list[Family], inside: bool) -> tuple[str, int]:
        text = (
            "| family | lrkit: graphs at update 1 | lrkit: recompiles after | torch: graphs at update 1 "
            "| torch: recompiles after | first recompile reason |\n| --- | --- | --- | --- | --- | --- |\n"
        )
        total = 0
        for family in chosen:
            cells, reasons = [], []
            for side in ("lrkit", "torch"):
                first, again, reason, _ = measure(family, side, updates, backend, inside=inside)
                cells += [str(first), str(again)]
                if again:
                    total += again if side == "lrkit" else 0
                    reasons.append(f"{side}: `{reason[:110]}`")
                where = "inside" if inside else "outside"
                print(
                    f"  {family.name} / {side} ({where}): {first} graph(s) at update 1, {again} recompiles",
                    file=sys.stderr,
                )
            text += f"| {family.name} | " + " | ".join(cells) + f" | {'; '.join(reasons)} |\n"
        return text, total

    outside, total = table(families, inside=False)
    inside_families = [f for f in families if not f.plateau and f.name.startswith(("cosine", "one-cycle"))]
    inside, inside_total = table(inside_families, inside=True)

    text = header(f"Recompiles under torch.compile: {updates:,} updates per family, tensor LR", "torch")
    text += (
        f"\n- backend: `{backend}` (wrapped in a compile counter); Adam over 2 x (64, 64) parameters, "
        f"`lr=torch.tensor({BASE_LR})`\n"
        f"- a fresh `torch._dynamo.reset()` for every cell; recompile limit {limit} (a count at the limit means dynamo "
        "gave up and ran the step uncompiled)\n"
        "- momentum rows: `betas=(torch.tensor(0.9), torch.tensor(0.999))`; lrkit schedules beta1 with "
        "`hyper={'beta1': one_cycle_momentum(N)}`, torch's OneCycleLR cycles it by default\n"
        "\n**Compiled `opt.step()`, the scheduler's `step()` eager after it** (the usual training loop):\n\n"
        + outside
        + "\n**Both inside the compiled function** (`opt.step(); sched.step()`, as in torch's compiled-optimizer "
        "tutorial):\n\n" + inside
    )
    text += (
        f"\nTarget (core issue): zero recompiles after the first compile for lrkit, scheduler stepped outside the "
        f"compiled step -> **{'met' if total == 0 else 'not met'}** ({total} lrkit recompiles in all; with the "
        f"scheduler inside the compiled function: {inside_total}).\n"
    )
    path = write("compile", text, args.quick)
    print(text)
    print(f"written to {path}")
    return text


if __name__ == "__main__":
    main()
