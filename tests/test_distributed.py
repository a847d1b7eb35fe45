"""Every rank holds the same learning rate at every update: real torch.distributed (gloo, CPU),
2 and 4 processes, different per-rank metrics and skewed per-rank clocks, plain and inside DDP.

Each process runs WORKER (written to a temporary file, started with the test's Python) and
writes what it saw; the test compares the ranks with each other and with a single-process
reference fed the mean metric / rank 0's clock."""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import lrkit as lk
from _ranks import run_ranks
from lrkit.reactive.controller import Controller, FakeClock, Plateau, WallClock
from lrkit.torch import Scheduler
from lrkit.torch.distributed import agree_elapsed, is_distributed, reduce_metric

plateau = Plateau
ROOT = Path(__file__).resolve().parents[1]
STEPS = 60


def metrics_of(rank: int, steps: int = STEPS) -> list[float]:
    """Rank ``rank``'s metric series: a shared decay plus rank-specific noise (and a NaN on rank 1)."""
    rng = np.random.default_rng(100 + rank)
    k = np.arange(steps)
    series = [float(v) for v in 1 + np.exp(-k / 12) + 0.04 * rng.standard_normal(steps) + 0.01 * rank]
    if rank == 1:
        series[30] = math.nan
    return series


def skew(rank: int) -> tuple[float, float]:
    """(clock origin, seconds per update) of rank ``rank``: every rank's clock differs."""
    return 1000.0 * rank + 17.0, 1.0 + 0.25 * rank


WORKER = textwrap.dedent(
    """
    import json, sys, warnings
    import torch, torch.distributed as dist
    import lrkit as lk
    from lrkit.reactive.controller import Controller, FakeClock, Plateau as plateau, WallClock
    from lrkit.torch import Scheduler
    from lrkit.torch.distributed import agree_elapsed, reduce_metric
    sys.path.insert(0, sys.argv[5])
    from test_distributed import metrics_of, skew, STEPS, PLATEAU, HYBRID, PLATEAU_CLOCK

    rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore", "Scheduler: progress .* is past the end", UserWarning)
    res = {}
    metrics = metrics_of(rank)

    def optimizer(lr=0.1, params=None):
        return torch.optim.SGD(params or [torch.nn.Parameter(torch.zeros(1))], lr=lr)

    def update(opt):
        for g in opt.param_groups:
            for p in g["params"]:
                p.grad = torch.ones_like(p)
        opt.step()

    # 1. plateau: each rank reports its own metric; the Scheduler reduces them (mean)
    opt = optimizer()
    sched = Scheduler(opt, PLATEAU)
    local = Controller(PLATEAU)  # what this rank would decide alone
    res["plateau"], res["local"] = [], []
    for k, m in enumerate(metrics, start=1):
        update(opt)
        sched.step(metric=m)
        local.observe(m, k)
        res["plateau"].append(opt.param_groups[0]["lr"])
        res["local"].append(local.scales[0])

    # 2. wall clock, every rank's clock skewed: step decay by seconds; hybrid budget; plateau on the clock
    for name, schedule, kwargs in (
        ("clock", lk.step_decay(20, factor=0.5), {}),
        ("clock_max", lk.step_decay(20, factor=0.5), {"agree": "max"}),
        ("hybrid", HYBRID, {"budget": 50.0, "mode": "hybrid"}),
        ("plateau_clock", PLATEAU_CLOCK, {}),
    ):
        origin, rate = skew(rank)
        fake = FakeClock(origin)
        opt = optimizer()
        sched = Scheduler(opt, schedule, clock=WallClock(clock=fake, **kwargs))
        res[name], res[name + "_elapsed"] = [], []
        for k, m in enumerate(metrics, start=1):
            fake.advance(rate)
            update(opt)
            sched.step(metric=m) if name == "plateau_clock" else sched.step()
            res[name].append(opt.param_groups[0]["lr"])
            res[name + "_elapsed"].append(fake.now - origin)

    # 3. the primitives
    x = (rank + 1) * 0.1
    res["reduce"] = {op: reduce_metric(x, op) for op in ("mean", "sum", "min", "max")}
    res["reduce_tensor"] = reduce_metric(torch.tensor(x))
    res["reduce_nan"] = reduce_metric(float("nan") if rank == world - 1 else 1.0)
    res["reduce_agreed"] = reduce_metric(0.1)  # identical everywhere: returned exactly
    res["agree"] = {how: agree_elapsed(1.5 * rank + 2.0, how) for how in ("rank0", "max")}

    # 4. inside DDP: each rank trains on its own data; the plateau sees the mean loss
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = optimizer(0.05, list(model.parameters()))
    sched = Scheduler(opt, lk.constant(1.0) * plateau(patience=1, factor=0.5))
    g = torch.Generator().manual_seed(1000 + rank)
    data, target = torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g) * (1 + rank)
    res["ddp"] = []
    for k in range(40):
        i = (k * 8) % 64
        loss = torch.nn.functional.mse_loss(model(data[i:i + 8]), target[i:i + 8])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step(metric=loss.item())
        res["ddp"].append(opt.param_groups[0]["lr"])
    res["ddp_params"] = [p.detach().flatten().tolist() for p in model.parameters()]

    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(res, f)
    dist.barrier()  # every rank's collectives are done and its result is written
    # leave without gloo's teardown: on a loaded machine its threads can race the exit and
    # std::terminate a rank whose work is complete (seen once in CI: 4 ranks on 2 cores)
    import os
    os._exit(0)
    """
)

PLATEAU = lk.warmup(3) >> (lk.constant(1.0, 200) * plateau(patience=2, cooldown=1, factor=0.5))
HYBRID = lk.wsd(100, warmup=10, decay=20)
PLATEAU_CLOCK = lk.constant(1.0, 10) >> (lk.constant(1.0, 1000) * plateau(patience=1, factor=0.5))


@pytest.fixture(scope="module", params=[2, 4], ids=lambda w: f"world{w}")
def ranks(request, tmp_path_factory):
    """Run WORKER on ``world`` gloo processes; each rank's results (a list of dicts)."""
    world = request.param
    tmp = tmp_path_factory.mktemp(f"world{world}")
    return run_ranks(WORKER, world, tmp, str(tmp / "init"), str(tmp), str(ROOT / "tests"))


def same_on_every_rank(ranks, key):
    first = ranks[0][key]
    for r, res in enumerate(ranks[1:], start=1):
        assert res[key] == first, f"rank {r} differs from rank 0 in {key!r}"
    return first


def reference_lrs(schedule, metrics=None, clock=None, seconds_per_update=None):
    """A single process fed the already-agreed inputs."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    fake = FakeClock()
    sched = Scheduler(opt, schedule, clock=None if clock is None else WallClock(clock=fake, **clock))
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Scheduler: progress .* is past the end", UserWarning)
        for k in range(STEPS):
            if clock is not None:
                fake.advance(seconds_per_update)
            for p in opt.param_groups[0]["params"]:
                p.grad = torch.ones_like(p)
            opt.step()
            sched.step(metric=None if metrics is None else metrics[k])
            out.append(opt.param_groups[0]["lr"])
    return out


def mean_metrics(world):
    per_rank = [metrics_of(r) for r in range(world)]
    out = []
    for values in zip(*per_rank):
        out.append(math.nan if any(math.isnan(v) for v in values) else math.fsum(values) / world)
    return out


def test_plateau_decisions_use_the_mean_metric_and_agree_on_every_rank(ranks):
    world = len(ranks)
    lrs = same_on_every_rank(ranks, "plateau")
    assert lrs == reference_lrs(PLATEAU, mean_metrics(world))
    assert len(set(lrs)) >= 3  # it reduced
    locals_ = {tuple(res["local"]) for res in ranks}
    assert len(locals_) > 1  # alone, the ranks would have diverged


def test_wall_clock_follows_rank_0_on_every_rank_despite_skewed_clocks(ranks):
    elapsed = {tuple(res["clock_elapsed"]) for res in ranks}
    assert len(elapsed) == len(ranks)  # every rank's own clock says something else
    lrs = same_on_every_rank(ranks, "clock")
    _, rate = skew(0)
    assert lrs == [0.1 * 0.5 ** math.floor(k * rate / 20) for k in range(1, STEPS + 1)]


def test_wall_clock_agree_max_follows_the_slowest_rank(ranks):
    lrs = same_on_every_rank(ranks, "clock_max")
    _, slowest = skew(len(ranks) - 1)  # the rank whose clock runs furthest ahead
    assert lrs == [0.1 * 0.5 ** math.floor(k * slowest / 20) for k in range(1, STEPS + 1)]
    assert lrs != same_on_every_rank(ranks, "clock")


def test_hybrid_budget_and_plateau_on_the_clock_agree_on_every_rank(ranks):
    _, rate = skew(0)
    hybrid = same_on_every_rank(ranks, "hybrid")
    assert hybrid == reference_lrs(HYBRID, clock={"budget": 50.0, "mode": "hybrid"}, seconds_per_update=rate)
    assert hybrid[-1] == 0.0  # rank 0's budget (50 s at 1 s/update) ended within the 60 updates
    on_clock = same_on_every_rank(ranks, "plateau_clock")
    assert on_clock == reference_lrs(PLATEAU_CLOCK, mean_metrics(len(ranks)), clock={}, seconds_per_update=rate)
    assert len(set(on_clock)) >= 3


def test_reduce_metric_and_agree_elapsed(ranks):
    world = len(ranks)
    values = [(r + 1) * 0.1 for r in range(world)]
    reduce = same_on_every_rank(ranks, "reduce")
    assert reduce == {"mean": math.fsum(values) / world, "sum": math.fsum(values), "min": 0.1, "max": values[-1]}
    as_float32 = [float(torch.tensor(v)) for v in values]  # a float32 tensor metric keeps its float32 value
    assert same_on_every_rank(ranks, "reduce_tensor") == math.fsum(as_float32) / world
    assert all(math.isnan(res["reduce_nan"]) for res in ranks)
    assert same_on_every_rank(ranks, "reduce_agreed") == 0.1
    assert same_on_every_rank(ranks, "agree") == {"rank0": 2.0, "max": 1.5 * (world - 1) + 2.0}


def test_inside_ddp_every_rank_holds_the_same_lr_and_weights(ranks):
    lrs = same_on_every_rank(ranks, "ddp")
    assert lrs[-1] < lrs[0]  # the plateau reduced on the mean loss
    same_on_every_rank(ranks, "ddp_params")


def test_without_a_process_group_the_primitives_are_the_identity():
    assert not is_distributed()
    assert reduce_metric(0.3) == 0.3 and reduce_metric(torch.tensor(2.5), "max") == 2.5
    assert math.isnan(reduce_metric(float("nan")))
    assert agree_elapsed(12.0, "max") == 12.0
    with pytest.raises(ValueError, match="op must be one of 'mean', 'sum', 'min', 'max', got 'median'"):
        reduce_metric(1.0, "median")
    with pytest.raises(ValueError, match="how must be one of 'rank0', 'max', got 'min'"):
        agree_elapsed(1.0, "min")
    with pytest.raises(ValueError, match="value must be a number"):
        reduce_metric("loss")  # type: ignore[arg-type]
    c = Controller(PLATEAU)
    assert c.reactive
