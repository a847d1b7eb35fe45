"""A torch.compile'd optimizer step with a tensor lr never recompiles while lrkit drives the lr."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

import lrkit as lk
from lrkit.torch import Scheduler

UPDATES = 1_000
FAMILIES = {
    "constant": lk.constant(1.0),
    "step": lk.step_decay(100, 0.5),
    "multistep": lk.multistep([300, 600], 0.1),
    "exponential": lk.exponential(0.999),
    "cosine": lk.cosine(UPDATES, floor=0.01),
    "warmup_cosine": lk.warmup(100) >> lk.cosine(UPDATES - 100),
    "one_cycle": lk.one_cycle(UPDATES),
    "cyclic": lk.cyclic(100),
    "sgdr": lk.sgdr(100, mult=2),
    "wsd": lk.wsd(UPDATES, warmup=50, decay=200),
    "inverse_sqrt": lk.inverse_sqrt(50),
    "noise": lk.noise(lk.cosine(UPDATES), std=0.1, seed=1),
}


@pytest.mark.filterwarnings("ignore:Scheduler. progress", "ignore::DeprecationWarning")
def test_no_recompilation_across_every_family() -> None:
    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    lr = torch.tensor(0.01)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model(torch.randn(16, 8)).square().mean().backward()

    @torch.compile
    def compiled_step() -> None:
        opt.step()

    compiled_step()  # the first (and only) compile
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1
    seen = []
    with torch._dynamo.config.patch(error_on_recompile=True):
        for schedule in FAMILIES.values():
            lr.fill_(0.01)
            sched = Scheduler(opt, schedule)
            for t in range(UPDATES):
                compiled_step()
                sched.step()
                if t == UPDATES // 2:
                    seen.append(lr.item())
            assert opt.param_groups[0]["lr"] is lr and lr.dtype == torch.float32
            assert sched.updates == UPDATES
    assert counters["stats"]["unique_graphs"] == graphs
    assert "recompiles" not in counters or sum(counters["recompiles"].values()) == 0
    assert len(set(seen)) > 1  # the lr really moved


@pytest.mark.filterwarnings("ignore:Scheduler. progress", "ignore::DeprecationWarning")
def test_scheduler_step_inside_the_compiled_function_does_not_recompile() -> None:
    """torch's compiled-optimizer pattern: opt.step() and sched.step() in one compiled function."""
    torch._dynamo.reset()
    counters.clear()
    model = torch.nn.Linear(4, 2)
    lr = torch.tensor(0.01)
    betas = (torch.tensor(0.9), torch.tensor(0.999))  # tensors too: a float beta1 would be a guard
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    model(torch.randn(8, 4)).square().mean().backward()
    sched = Scheduler(opt, lk.warmup(20) >> lk.cosine(180), hyper={"beta1": lk.one_cycle_momentum(200)})

    @torch.compile
    def compiled_step() -> None:
        opt.step()
        sched.step()

    compiled_step()
    graphs = counters["stats"]["unique_graphs"]
    seen = []
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(199):
            compiled_step()
            seen.append(lr.item())
    assert counters["stats"]["unique_graphs"] == graphs
    assert sched.updates == 200 and opt.param_groups[0]["lr"] is lr
    assert opt.param_groups[0]["betas"][0] is betas[0] and betas[0].item() == pytest.approx(0.95)
    assert seen[-1] == pytest.approx(0.0) and max(seen) == pytest.approx(0.01)
