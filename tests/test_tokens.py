"""Progress in tokens or samples: Scheduler(advance="tokens"), exact resume, agreement across gloo ranks,
and a batch-size ramp (lrkit.BatchRamp) that a data loader follows."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import lrkit as lk
from _ranks import run_ranks
from lrkit.torch import Scheduler
from lrkit.torch.distributed import agree_count

ROOT = Path(__file__).resolve().parents[1]
BASE = 3e-4
SEQ = 128  # tokens per sample
# a schedule written in tokens: 2M tokens of warmup-stable-decay
LR = lk.wsd(2_000_000, warmup=100_000, decay=400_000)


def build(schedule=LR, **kwargs):
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=BASE)
    return opt, Scheduler(opt, schedule, advance="tokens", **kwargs)


def feed(opt, sched, counts):
    """(tokens so far, lr in force) before each update, then one update of each count."""
    out = []
    for n in counts:
        out.append((sched.updates, opt.param_groups[0]["lr"]))
        opt.step()
        sched.step(tokens=n)
    out.append((sched.updates, opt.param_groups[0]["lr"]))
    return out


def test_lr_is_the_schedule_at_the_token_count() -> None:
    opt, sched = build()
    seen = feed(opt, sched, [4096, 0, 1, 70_000, 123_457])
    for tokens, lr in seen:
        assert lr == BASE * LR(float(tokens))
    assert sched.updates == 4096 + 1 + 70_000 + 123_457
    assert sched.value_at(5000) == [BASE * LR(5000.0)]


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_the_same_token_budget_with_different_batch_ramps_gives_the_same_lr_at_the_same_token_count() -> None:
    total = 2_100_000
    flat = [16 * SEQ] * (total // (16 * SEQ) + 1)
    ramp = lk.BatchRamp(lk.piecewise_constant([24 * 8192, 98 * 8192], [4, 16, 64]), tokens_per_sample=SEQ)
    ramped = [n * SEQ for n in ramp.sizes(total // SEQ + 64)]
    assert len(set(ramped)) >= 3  # the batch size really changes
    a = dict(feed(*build(), flat))
    b = dict(feed(*build(), ramped))
    common = sorted(set(a) & set(b))
    assert len(common) > 90 and common[-1] > LR.length  # through the cooldown and past the end
    for tokens in common:
        assert a[tokens] == b[tokens]
    # a step-based schedule would have given different lrs at the same token count
    assert len(a) != len(b)


def test_samples_mode_counts_samples() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = Scheduler(opt, lk.linear(100), advance="samples")
    opt.step()
    sched.step(samples=25)
    assert opt.param_groups[0]["lr"] == 0.75
    with pytest.raises(ValueError, match="pass samples=n"):
        sched.step(tokens=3)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_exact_resume_through_torch_save(tmp_path: Path) -> None:
    counts = [int(x) for x in np.random.default_rng(0).integers(1000, 9000, size=400)]
    ref = feed(*build(), counts)
    opt, sched = build()
    feed(opt, sched, counts[:150])
    state = sched.state_dict()
    assert state["updates"] == sum(counts[:150]) and state["advance"] == "tokens"
    torch.save(state, tmp_path / "s.pt")
    loaded = torch.load(tmp_path / "s.pt", weights_only=True)
    assert json.loads(json.dumps(loaded)) == loaded
    opt2, sched2 = build()
    sched2.load_state_dict(loaded)
    assert feed(opt2, sched2, counts[150:]) == ref[150:]
    # a token-mode state is not an update-mode one
    opt3 = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=BASE)
    with pytest.raises(ValueError, match="advance"):
        Scheduler(opt3, LR).load_state_dict(loaded)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_fresh_process_resume_of_a_token_count(tmp_path: Path) -> None:
    counts = [3000 + 7 * i for i in range(300)]
    ref = feed(*build(), counts)
    opt, sched = build()
    feed(opt, sched, counts[:120])
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    script = textwrap.dedent(f"""
        import json, torch, lrkit as lk
        from lrkit.torch import Scheduler
        opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr={BASE!r})
        sched = Scheduler(opt, lk.from_config({repr(LR)!r}), advance="tokens")
        sched.load_state_dict(torch.load({str(tmp_path / "s.pt")!r}, weights_only=True))
        out = []
        for n in {counts[120:]!r}:
            out.append([sched.updates, opt.param_groups[0]["lr"]])
            opt.step()
            sched.step(tokens=n)
        out.append([sched.updates, opt.param_groups[0]["lr"]])
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [tuple(x) for x in json.loads(done.stdout)] == ref[120:]


def test_horizon_change_in_tokens() -> None:
    opt, sched = build(lk.cosine(1_000_000))
    feed(opt, sched, [10_000] * 30)
    opt2, sched2 = build(lk.cosine(4_000_000))
    sched2.load_state_dict(sched.state_dict(), horizon="same_fraction")
    seen = feed(opt2, sched2, [10_000] * 5)
    for tokens, lr in seen:
        assert lr == pytest.approx(BASE * lk.cosine(4_000_000)(1_200_000 + (tokens - 300_000)), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tokens": -1}, ">= 0"),
        ({"tokens": 2.5}, "whole number"),
        ({"tokens": True}, "whole number"),
        ({"tokens": torch.tensor(2.5)}, "whole number"),
        ({"tokens": "12"}, "whole number"),
        ({}, r"pass the tokens.*count\(tokens=n\).*lrkit\.torch\.lightning / lrkit\.torch\.hf"),
        ({"samples": 4}, "pass tokens=n"),
    ],
)
def test_bad_counts_are_clear_errors(kwargs, message) -> None:
    _, sched = build()
    with pytest.raises(ValueError, match=message):
        sched.step(**kwargs)
    assert sched.updates == 0


def test_count_then_step_is_step_with_the_count() -> None:
    """count(tokens=n) per micro-batch, then a framework's step() with no count, is step(tokens=sum)."""
    opt_a, a = build()
    opt_b, b = build()
    for k, micro in enumerate([[4096, 4096], [0, 70_000], [1], [123_457, 5, 6, 7]]):
        for n in micro:
            a.count(tokens=n)
        opt_a.step()
        a.step()  # what Lightning / HF Trainer call
        opt_b.step()
        b.step(tokens=sum(micro)) if k % 2 else (b.count(tokens=sum(micro) - micro[0]), b.step(tokens=micro[0]))
        assert a.updates == b.updates
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"] == BASE * LR(float(a.updates))
    assert a.updates == 4096 * 2 + 70_000 + 1 + 123_457 + 18
    with pytest.raises(ValueError, match=r"count\(tokens=n\)"):
        a.step()  # consumed: nothing counted for this update


def test_count_errors_leave_nothing_pending() -> None:
    _, sched = build()
    with pytest.raises(ValueError, match=r"Scheduler.count\(tokens=...\) must be >= 0"):
        sched.count(tokens=-3)
    with pytest.raises(ValueError, match="pass tokens=n"):
        sched.count(samples=3)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=r"Scheduler.count\(tokens=...\): this Scheduler counts updates"):
        Scheduler(opt, lk.cosine(10)).count(tokens=10)
    sched.count(tokens=7)
    sched.step()
    assert sched.updates == 7


def test_counts_given_as_tensors_and_numpy() -> None:
    _, sched = build()
    sched.step(tokens=torch.tensor(100))
    sched.step(tokens=np.int64(50))
    sched.step(tokens=25.0)
    assert sched.updates == 175


def test_mode_errors() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="advance='tokens'"):
        Scheduler(opt, lk.cosine(10)).step(tokens=10)
    with pytest.raises(ValueError, match="two measures of progress"):
        Scheduler(opt, lk.cosine(10), advance="tokens", clock=lk.WallClock())
    with pytest.raises(ValueError, match="across"):
        Scheduler(opt, lk.cosine(10), advance="tokens", across="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="advance must be"):
        Scheduler(opt, lk.cosine(10), advance="steps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="updates_per_epoch"):
        Scheduler(opt, lk.cosine(10), advance="tokens", updates_per_epoch=10)


def test_past_the_end_warns_once_in_tokens() -> None:
    opt, sched = build(lk.cosine(100))
    with pytest.warns(UserWarning, match="past the end"):
        sched.step(tokens=150)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step(tokens=10)
    assert opt.param_groups[0]["lr"] == 0.0


def test_agree_count_without_a_process_group() -> None:
    assert agree_count(12) == 12
    with pytest.raises(ValueError, match="how"):
        agree_count(1, "mean")
    with pytest.raises(ValueError, match="int"):
        agree_count(1.5)  # type: ignore[arg-type]


# -- BatchRamp ---------------------------------------------------------------------------------
def test_batch_ramp_follows_its_schedule_and_resumes() -> None:
    ramp = lk.BatchRamp(lk.linear(1000, start=8, end=64), multiple=8)
    sizes = list(ramp.sizes(3000))
    assert sizes[0] == 8 and max(sizes) == 64 and all(s % 8 == 0 for s in sizes)
    consumed = 0
    for s in sizes[:-1]:
        assert s == ramp.size(consumed)
        consumed += s
    batches = list(ramp.batches(range(3000)))
    assert [len(b) for b in batches] == sizes
    assert [i for b in batches for i in b] == list(range(3000))
    # resume after 10 batches: the rest is the same
    done = sum(sizes[:10])
    assert list(ramp.batches(range(3000), consumed=done)) == batches[10:]


def test_batch_ramp_in_tokens_split_over_ranks() -> None:
    ramp = lk.BatchRamp(lk.piecewise_constant([10 * SEQ], [3, 5]), tokens_per_sample=SEQ)
    per_rank = [list(ramp.batches(range(40), rank=r, world=2)) for r in range(2)]
    whole = list(ramp.batches(range(40)))
    for k, batch in enumerate(whole):
        assert sorted(per_rank[0][k] + per_rank[1][k]) == batch
    assert [len(b) for b in per_rank[0]][:2] == [2, 2] and [len(b) for b in per_rank[1]][:2] == [1, 1]
    with pytest.raises(ValueError, match="whole number of samples"):
        list(ramp.batches(range(40), consumed=SEQ + 1))
    with pytest.raises(ValueError, match="rank"):
        list(ramp.batches(range(40), rank=2, world=2))


def test_batch_ramp_bad_input() -> None:
    with pytest.raises(ValueError, match="schedule"):
        lk.BatchRamp(16)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple"):
        lk.BatchRamp(lk.constant(16.0), multiple=0)
    with pytest.raises(ValueError, match="> 0"):
        lk.BatchRamp(lk.constant(0.0)).size(0)
    with pytest.raises(ValueError, match="consumed"):
        lk.BatchRamp(lk.constant(4.0)).size(-1)
    assert lk.BatchRamp(lk.constant(3.0), multiple=8).size(0) == 8
    assert "BatchRamp(constant(value=3.0)" in repr(lk.BatchRamp(lk.constant(3.0)))


def test_batch_ramp_with_a_dataloader() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(100))
    ramp = lk.BatchRamp(lk.piecewise_constant([20], [4, 16]))
    loader = torch.utils.data.DataLoader(data, batch_sampler=list(ramp.batches(range(len(data)))))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = Scheduler(opt, lk.linear(100), advance="samples")
    for (x,) in loader:
        opt.step()
        sched.step(samples=len(x))
    assert sched.updates == 100 and opt.param_groups[0]["lr"] == 0.0


# -- torch.distributed: gloo, 2 and 4 ranks with different per-rank batch sizes ------------------
WORKER = textwrap.dedent(
    """
    import json, sys, warnings
    import torch, torch.distributed as dist
    import lrkit as lk
    from lrkit.torch import Scheduler
    rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
    warnings.simplefilter("ignore")
    schedule = lk.from_config(sys.argv[5])
    res = {}
    # each rank consumes its own share of a growing global batch: sizes differ per rank and per update
    ramp = lk.BatchRamp(lk.piecewise_constant([4000, 12000], [7, 19, 45]), tokens_per_sample=64)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = Scheduler(opt, schedule, advance="tokens")
    res["lr"], res["tokens"], res["local"] = [], [], []
    for batch in ramp.batches(range(2000), rank=rank, world=world):
        opt.step()
        sched.step(tokens=len(batch) * 64)
        res["lr"].append(opt.param_groups[0]["lr"])
        res["tokens"].append(sched.updates)
        res["local"].append(len(batch))
    # rank0 agreement: every rank passes the global count (here rank 0's view is the truth)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = Scheduler(opt, schedule, advance="tokens", across="rank0")
    res["rank0"] = []
    for k in range(20):
        opt.step()
        sched.step(tokens=1000 * (k + 1) + (rank * 7 if rank else 0))
        res["rank0"].append([sched.updates, opt.param_groups[0]["lr"]])
    res["state"] = sched.state_dict()["updates"]
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(res, f)
    dist.barrier()  # every rank's collectives are done and its result is written
    # leave without gloo's teardown: on a loaded machine its threads can race the exit and
    # std::terminate a rank whose work is complete (seen once in CI: 4 ranks on 2 cores)
    import os
    os._exit(0)
    """
)
SCHEDULE = lk.warmup(5000) >> lk.cosine(100_000, floor=0.1)


@pytest.mark.parametrize("world", [2, 4])
def test_every_rank_holds_the_same_lr_with_different_per_rank_batch_sizes(tmp_path: Path, world: int) -> None:
    res = run_ranks(WORKER, world, tmp_path, str(tmp_path / "init"), str(tmp_path), repr(SCHEDULE))
    locals_ = [r["local"] for r in res]
    assert any(len(set(sizes)) > 1 for sizes in zip(*locals_))  # the ranks' batch sizes differ
    for r in res[1:]:
        assert r["lr"] == res[0]["lr"] and r["tokens"] == res[0]["tokens"] and r["rank0"] == res[0]["rank0"]
    # the agreed count is the global one: the sum of the ranks' counts, and the lr is the schedule there
    totals = np.cumsum([sum(sizes) * 64 for sizes in zip(*locals_)]).tolist()
    assert res[0]["tokens"] == totals and totals[-1] == 2000 * 64
    assert res[0]["lr"] == [0.5 * SCHEDULE(float(t)) for t in totals]
    assert [u for u, _ in res[0]["rank0"]] == np.cumsum([1000 * (k + 1) for k in range(20)]).tolist()


@pytest.mark.parametrize("name", ["tokens", "samples"])
def test_a_count_passed_to_an_update_scheduler_raises_in_the_middle_of_a_run_too(name) -> None:
    # the armed fast path of step() (after a few regular updates) used to ignore tokens=/samples= silently
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = Scheduler(opt, lk.cosine(1000))
    for _ in range(10):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match=f"advance='{name}'"):
        sched.step(**{name: 100})
