"""Exact resume of lrkit.torch.Scheduler: small JSON-safe state, weights_only loading, fresh-process parity."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import lrkit as lk
from lrkit.torch import Scheduler

# warmup -> SGDR restarts of 100, 200, 400 updates -> ends at 710; noise makes every value distinct
SCHEDULE = "noise(warmup(10) >> sgdr(100, mult=2, cycles=3), std=0.05, seed=7)"
TOTAL = 1100
SAVE_AT = {"start": 0, "mid_warmup": 5, "restart_boundary": 110, "past_end": 760, "block_boundary": 1024}
# one-cycle momentum rides along on an AdamW's beta1; group 1 has its own lr scale and lr
SETUP = """
import torch, lrkit
from lrkit.torch import Scheduler

def build():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW([{"params": [model.weight], "lr": 0.01}, {"params": [model.bias], "lr": 0.003}])
    sched = Scheduler(opt, lrkit.from_config(SCHEDULE), lr_scale=[1.0, 0.5],
                      hyper={"beta1": lrkit.one_cycle_momentum(700)})
    return model, opt, sched

def run(model, opt, sched, updates):
    out = []
    for _ in range(updates):
        g = opt.param_groups
        out.append([repr(g[0]["lr"]), repr(g[1]["lr"]), repr(g[0]["betas"][0])])
        loss = model(torch.ones(4, 3)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return out
"""


def namespace() -> dict:
    ns: dict = {"SCHEDULE": SCHEDULE}
    exec(SETUP, ns)  # the same code runs in the fresh process
    return ns


def test_state_is_small_json_safe_and_weights_only_loadable(tmp_path: Path) -> None:
    ns = namespace()
    model, opt, sched = ns["build"]()
    ns["run"](model, opt, sched, 37)
    state = sched.state_dict()
    text = json.dumps(state, allow_nan=False)
    assert len(text) < 2000
    assert json.loads(text) == state
    torch.save(state, tmp_path / "s.pt")
    assert torch.load(tmp_path / "s.pt", weights_only=True) == state
    assert state["updates"] == 37
    assert all("initial_lr" not in g for g in opt.param_groups)


@pytest.mark.filterwarnings("ignore:Scheduler. progress")
def test_fresh_process_resume_is_bitwise(tmp_path: Path) -> None:
    ns = namespace()
    model, opt, sched = ns["build"]()
    reference = []
    saved = {}
    for t in range(TOTAL):
        for name, at in SAVE_AT.items():
            if at == t:
                path = tmp_path / f"{name}.pt"
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path)
                saved[name] = str(path)
        reference += ns["run"](model, opt, sched, 1)
    script = SETUP + textwrap.dedent(f"""
        import json, sys
        out = {{}}
        for name, path in json.loads(sys.argv[1]).items():
            ckpt = torch.load(path, weights_only=True)
            model, opt, sched = build()
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["opt"])
            sched.load_state_dict(ckpt["sched"])
            out[name] = run(model, opt, sched, {TOTAL} - ckpt["sched"]["updates"])
        print(json.dumps(out))
    """)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", f"SCHEDULE = {SCHEDULE!r}\n" + script, json.dumps(saved)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    resumed = json.loads(done.stdout.strip().splitlines()[-1])
    for name, at in SAVE_AT.items():
        assert resumed[name] == reference[at:], name


def test_loading_before_or_after_optimizer_state_gives_the_same_values() -> None:
    ns = namespace()
    model, opt, sched = ns["build"]()
    ns["run"](model, opt, sched, 50)
    state, opt_state = sched.state_dict(), opt.state_dict()
    for order in ("sched_first", "opt_first"):
        _, opt2, sched2 = ns["build"]()
        if order == "opt_first":
            opt2.load_state_dict(opt_state)
            sched2.load_state_dict(state)
        else:
            sched2.load_state_dict(state)
            opt2.load_state_dict(opt_state)
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert sched2.updates == 50


def test_state_for_another_schedule_is_refused() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    state = Scheduler(opt, lk.cosine(100)).state_dict()
    refused = r"state\['schedules'\] must be this Scheduler's schedules \['cosine\(200\)'\], found \['cosine\(100\)'\]"
    with pytest.raises(ValueError, match=refused):
        Scheduler(opt, lk.cosine(200)).load_state_dict(state)
    with pytest.raises(ValueError, match="advance"):
        Scheduler(opt, lk.cosine(100), advance="call").load_state_dict(state)
    torch_state = torch.optim.lr_scheduler.StepLR(opt, 3).state_dict()
    with pytest.raises(ValueError, match="not an lrkit Scheduler state"):
        Scheduler(opt, lk.cosine(100)).load_state_dict(torch_state)


def test_past_end_warning_is_not_repeated_after_resume() -> None:
    import warnings

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = Scheduler(opt, lk.cosine(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            opt.step()
            sched.step()
        fresh = Scheduler(opt, lk.cosine(3))
        fresh.load_state_dict(sched.state_dict())
        opt.step()
        fresh.step()
    assert len([w for w in caught if "past the end" in str(w.message)]) == 1


def test_plateau_state_resumes_exactly() -> None:
    from lrkit.reactive.controller import Plateau

    schedule = lk.warmup(3) >> (lk.cosine(200) * Plateau(patience=2, factor=0.5))
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7] * 3

    def build() -> tuple[torch.optim.Optimizer, Scheduler]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, Scheduler(opt, schedule)

    def run(opt: torch.optim.Optimizer, sched: Scheduler, values: list[float]) -> list[str]:
        out = []
        for m in values:
            out.append(repr(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step(m)
        return out

    opt, sched = build()
    reference = run(opt, sched, metrics)
    assert len(set(reference[20:])) > 5 and float(reference[-1]) < 0.1 * schedule(len(metrics) - 1)  # it reduced
    opt, sched = build()
    head = run(opt, sched, metrics[:17])
    state = json.loads(json.dumps(sched.state_dict()))
    opt2, sched2 = build()
    sched2.load_state_dict(state)
    assert head + run(opt2, sched2, metrics[17:]) == reference


def _sgd() -> torch.optim.SGD:
    weight = torch.nn.Parameter(torch.zeros(1))
    weight.grad = torch.ones(1)
    return torch.optim.SGD([weight], lr=1.0)


@pytest.mark.parametrize("horizon", [None, "same_fraction"])
def test_loading_into_a_scheduler_that_already_stepped_gives_the_fresh_values(horizon: str | None) -> None:
    # a Scheduler that has run (its fast path armed on a block of values) and then loads a checkpoint
    # must continue exactly as a fresh one that loads it: same learning rate at every later update
    opt, saved = _sgd(), None
    sched = Scheduler(opt, lk.cosine(1000))
    for _ in range(100):
        opt.step()
        sched.step()
    saved = sched.state_dict()
    target = lk.cosine(1000) if horizon is None else lk.cosine(4000)
    runs = []
    for warm in (50, 0):
        opt = _sgd()
        sched = Scheduler(opt, target)
        for _ in range(warm):
            opt.step()
            sched.step()
        sched.load_state_dict(saved, horizon=horizon)
        lrs = []
        for _ in range(300):  # across a block boundary too
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        runs.append(lrs)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("rule", ["same_fraction", "keep_step"])
def test_resume_rule_given_at_construction_applies_to_a_plain_load(rule: str) -> None:
    """Scheduler(..., resume=RULE): load_state_dict(state) with no horizon= (as Lightning's ckpt_path= and HF's
    resume_from_checkpoint= call it) continues exactly as load_state_dict(state, horizon=RULE)."""
    old, new = lk.cosine(100), lk.cosine(300)

    def build(schedule, **kwargs):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, Scheduler(opt, schedule, **kwargs)

    opt, sched = build(old)
    for _ in range(40):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt_a, a = build(new, resume=rule)
    a.load_state_dict(state)
    opt_b, b = build(new)
    b.load_state_dict(state, horizon=rule)
    with pytest.raises(ValueError, match=r"resume=RULE"):
        build(new)[1].load_state_dict(state)  # no rule anywhere: refused, naming both ways
    opt_c, c = build(new, resume="wsd")  # an explicit horizon= wins over the constructor's rule
    c.load_state_dict(state, horizon=rule)
    for _ in range(150):
        assert opt_a.param_groups[0]["lr"] == opt_b.param_groups[0]["lr"] == opt_c.param_groups[0]["lr"]
        for o, s in ((opt_a, a), (opt_b, b), (opt_c, c)):
            o.step()
            s.step()
    assert a.state_dict() == b.state_dict()
    # the same schedules: the rule is not needed and changes nothing
    opt_d, d = build(old, resume="same_fraction")
    d.load_state_dict(state)
    assert opt_d.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
