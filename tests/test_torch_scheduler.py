"""lrkit.torch.Scheduler: semantics, per-group control, hyperparameters, the update clock, reading."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR

import lrkit as lk
from lrkit.torch import Scheduler
from lrkit.torch.scheduler import BLOCK

FAMILIES = {
    "step": lk.step_decay(300, 0.5),
    "cosine": lk.cosine(2500, floor=0.01),
    "one_cycle": lk.one_cycle(2500),
    "cyclic": lk.cyclic(200, base=0.1),
    "warmup_cosine": lk.warmup(100) >> lk.cosine(2400),
    "sgdr": lk.sgdr(500, mult=2),
    "wsd": lk.wsd(2500, warmup=125, decay=500),
    "noisy": lk.noise(lk.cosine(2500), std=0.1, seed=3),
    "inverse_sqrt": lk.inverse_sqrt(100),
}


def params(n: int = 1) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(2)) for _ in range(n)]


def train(opt: torch.optim.Optimizer, sched: Scheduler, updates: int, key: str = "lr") -> list[list[float]]:
    """Run updates (opt.step then sched.step); return each group's value used by each update."""
    used = []
    for _ in range(updates):
        used.append([float(g[key]) if key != "beta1" else g["betas"][0] for g in opt.param_groups])
        for g in opt.param_groups:
            for p in g["params"]:
                p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    return used


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_values_are_bitwise_the_schedule(family: str) -> None:
    s = FAMILIES[family]
    n = 2 * BLOCK + 300  # crosses block boundaries
    opt = torch.optim.SGD(params(), lr=0.3)
    used = np.array(train(opt, Scheduler(opt, s), n))[:, 0]
    assert np.array_equal(used, 0.3 * s(np.arange(n)))
    for t in (0, 1, BLOCK - 1, BLOCK, 2 * BLOCK + 17, n - 1):
        assert used[t] == 0.3 * s(t)


def test_is_an_lr_scheduler_and_leaves_the_optimizer_alone() -> None:
    opt = torch.optim.AdamW(params(2), lr=1e-3)
    step_function = opt.step
    keys = [set(g) for g in opt.param_groups]
    sched = Scheduler(opt, lk.cosine(10))
    assert isinstance(sched, LRScheduler)
    assert [set(g) for g in opt.param_groups] == keys  # no initial_lr or other hidden keys
    assert not hasattr(opt.step, "_wrapped_by_lr_sched") and opt.step == step_function
    train(opt, sched, 3)
    assert [set(g) for g in opt.param_groups] == keys


def test_relative_per_group_scale_and_frozen_group() -> None:
    s = lk.warmup(5) >> lk.cosine(25)
    opt = torch.optim.SGD(
        [{"params": params(), "lr": 0.1}, {"params": params(), "lr": 0.0}, {"params": params()}], lr=0.5
    )
    sched = Scheduler(opt, s, lr_scale=[1.0, 1.0, 0.25])
    used = np.array(train(opt, sched, 30))
    t = np.arange(30)
    assert np.array_equal(used[:, 0], 0.1 * s(t))
    assert np.all(used[:, 1] == 0.0)  # a group whose lr is 0 stays 0
    assert np.array_equal(used[:, 2], (0.5 * 0.25) * s(t))
    assert sched.base_lrs == [0.1, 0.0, 0.5]


def test_absolute_learning_rate_and_schedule_per_group() -> None:
    a, b = lk.cosine(12) * 3e-4, lk.linear(12, 1e-3, 0.0)
    opt = torch.optim.SGD([{"params": params()}, {"params": params()}], lr=1.0)
    used = np.array(train(opt, Scheduler(opt, [a, b], relative=()), 12))
    t = np.arange(12)
    assert np.array_equal(used[:, 0], a(t)) and np.array_equal(used[:, 1], b(t))


def test_one_cycle_momentum_matches_torch_for_sgd_and_adamw() -> None:
    n, peak = 100, 0.1
    for make, key in (
        (lambda p: torch.optim.SGD(p, lr=peak, momentum=0.9), "momentum"),
        (lambda p: torch.optim.AdamW(p, lr=peak), "beta1"),
    ):
        ours = make(params())
        sched = Scheduler(ours, lk.one_cycle(n), hyper={key: lk.one_cycle_momentum(n)})
        theirs = make(params())
        # torch's phases end at pct_start * total_steps - 1 and total_steps - 1: n + 1 total steps align them
        peer = OneCycleLR(theirs, max_lr=peak, total_steps=n + 1, pct_start=(0.3 * n + 1) / (n + 1))
        lr_ours, lr_theirs, m_ours, m_theirs = [], [], [], []
        for _ in range(n):
            g, h = ours.param_groups[0], theirs.param_groups[0]
            lr_ours.append(g["lr"])
            lr_theirs.append(h["lr"])
            m_ours.append(g["momentum"] if key == "momentum" else g["betas"][0])
            m_theirs.append(h["momentum"] if key == "momentum" else h["betas"][0])
            for opt in (ours, theirs):
                opt.param_groups[0]["params"][0].grad = torch.ones(2)
                opt.step()
            sched.step()
            peer.step()
        np.testing.assert_allclose(lr_ours, lr_theirs, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(m_ours, m_theirs, rtol=1e-9)
        assert isinstance(ours.param_groups[0].get("betas", (0.0, 0.0)), tuple)


def test_weight_decay_relative_keeps_no_decay_group_and_beta2() -> None:
    decay = lk.cosine(10)
    opt = torch.optim.AdamW(
        [{"params": params(), "weight_decay": 0.1}, {"params": params(), "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.98),
    )
    sched = Scheduler(
        opt,
        lk.constant(1.0),
        hyper={"weight_decay": decay, "beta2": lk.constant(0.99)},
        relative=("lr", "weight_decay"),
    )
    used = np.array(train(opt, sched, 10, key="weight_decay"))
    assert np.array_equal(used[:, 0], 0.1 * decay(np.arange(10)))
    assert np.all(used[:, 1] == 0.0)
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)


def test_any_numeric_group_key() -> None:
    opt = torch.optim.Adam(params(), lr=1e-3, eps=1e-8)
    s = lk.linear(10, 1e-8, 1e-6)
    sched = Scheduler(opt, lk.constant(1.0), hyper={"eps": s})
    train(opt, sched, 4)
    assert opt.param_groups[0]["eps"] == s(4)
    assert sched.value_at(7, "eps") == [s(7)]


def test_gradient_accumulation_advances_once_per_update() -> None:
    s, k = lk.cosine(20), 4
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    used = []
    for micro in range(40):
        used.append(opt.param_groups[0]["lr"])
        opt.param_groups[0]["params"][0].grad = torch.ones(2)
        if (micro + 1) % k == 0:
            opt.step()
        sched.step()  # called every micro-batch: only real updates count
    assert used == [s(m // k) for m in range(40)]
    assert sched.updates == 10


def test_grad_scaler_skipped_update_does_not_advance_and_no_warning() -> None:
    s = lk.warmup(3) >> lk.cosine(10)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = Scheduler(opt, s)
        used, skipped = [], []
        for i in range(8):
            used.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss = model(torch.ones(1, 2)).sum() * (float("inf") if i in (0, 4) else 1.0)
            scale = scaler.get_scale()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            skipped.append(scaler.get_scale() < scale)
            sched.step()
    assert skipped == [True, False, False, False, True, False, False, False]  # the scaler really skipped
    assert used == [s(0), s(0), s(1), s(2), s(3), s(3), s(4), s(5)]


def test_advance_per_call_for_per_epoch_stepping() -> None:
    epochs = lk.step_decay(2, 0.1)  # a schedule in epochs
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, epochs, advance="call")
    seen = []
    for _epoch in range(5):
        for _batch in range(3):
            seen.append(opt.param_groups[0]["lr"])
            opt.param_groups[0]["params"][0].grad = torch.ones(2)
            opt.step()
        sched.step()
    assert seen == [epochs(np.arange(5))[e] for e in range(5) for _ in range(3)]  # the numpy path, bitwise


def test_fractional_epochs() -> None:
    epochs = lk.cosine(3)  # three epochs of 8 updates
    opt = torch.optim.SGD(params(), lr=1.0)
    used = np.array(train(opt, Scheduler(opt, epochs, updates_per_epoch=8), 24))[:, 0]
    assert np.array_equal(used, epochs(np.arange(24) / 8))


def test_past_the_end_holds_final_value_and_warns_once() -> None:
    s = lk.linear(5, 1.0, 0.1)
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = train(opt, sched, 12)
    assert [u[0] for u in used] == [s(min(t, 5)) for t in range(12)]
    past = [w for w in caught if "past the end" in str(w.message)]
    assert len(past) == 1 and "linear(5" in str(past[0].message)


def test_get_last_lr_and_value_at_are_side_effect_free() -> None:
    s = lk.warmup(10) >> lk.cosine(3000)
    opt = torch.optim.SGD([{"params": params()}, {"params": params(), "lr": 0.2}], lr=0.1)
    sched = Scheduler(opt, s)
    train(opt, sched, 7)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups] == sched.value_at(7)
    before = [g["lr"] for g in opt.param_groups]
    assert sched.value_at(2500) == [0.1 * s(2500), 0.2 * s(2500)]  # another block, not cached
    assert sched.value_at(3) == [0.1 * s(3), 0.2 * s(3)]
    assert [g["lr"] for g in opt.param_groups] == before and sched.updates == 7
    train(opt, sched, 1)
    assert sched.get_last_lr() == sched.value_at(8)


def test_tensor_lr_is_written_in_place() -> None:
    lr = torch.tensor(0.01, dtype=torch.float64)
    opt = torch.optim.Adam(params(), lr=lr)
    sched = Scheduler(opt, lk.cosine(10))
    train(opt, sched, 4)
    assert opt.param_groups[0]["lr"] is lr and lr.dtype == torch.float64
    assert lr.item() == 0.01 * lk.cosine(10)(4)
    last = sched.get_last_lr()[0]
    assert torch.equal(last, lr) and last is not lr


def test_add_param_group_after_construction() -> None:
    s = lk.cosine(10)
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    train(opt, sched, 2)
    opt.add_param_group({"params": params(), "lr": 0.5})
    used = train(opt, sched, 2)
    assert used[1] == [s(3), 0.5 * s(3)]  # the new group's lr at adoption is its base
    per_group = Scheduler(opt, [s, s])  # the same optimizer: the first one's bases, said at the first step
    opt.add_param_group({"params": params()})
    with pytest.raises(ValueError, match="add_param_group"):  # refused before any warning
        per_group.step()
        opt.step()
        per_group.step()


@pytest.mark.parametrize("before", [3, 100])
def test_a_group_added_mid_run_is_scheduled_from_its_first_update(before: int) -> None:
    # progressive unfreezing: a group added once step() has taken its fast path (after 3 calls) must
    # follow the schedule from the next update on, not run at its base lr until the block of values ends
    s = lk.warmup(400)
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    train(opt, sched, before)
    opt.add_param_group({"params": params(), "lr": 0.5})
    used = train(opt, sched, 300)
    assert [u[1] for u in used[1:]] == [0.5 * s(before + k) for k in range(1, 300)]
    per_group = Scheduler(opt, [s, s])  # the same optimizer: the first one's bases, said at the first step
    with pytest.warns(UserWarning, match="driven by another"):
        train(opt, per_group, before)
    opt.add_param_group({"params": params()})
    with pytest.raises(ValueError, match="add_param_group"):
        train(opt, per_group, 1)


def test_optimizer_load_state_dict_replacing_groups_is_followed() -> None:
    s = lk.cosine(10)
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    train(opt, sched, 3)
    opt.load_state_dict(opt.state_dict())  # new group dicts
    train(opt, sched, 2)
    assert opt.param_groups[0]["lr"] == s(5)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda o: Scheduler(o, lk.cosine(5), hyper={"momentum": lk.constant(0.9)}), "use 'beta1'"),
        (lambda o: Scheduler(o, 0.1), r"must be an lrkit Schedule, its text config .* got float 0.1"),
        (lambda o: Scheduler(o, lk.cosine(5), hyper={"beta1": [3]}), r"\['beta1'\]\[0\] must be an lrkit Schedule or"),
        (lambda o: Scheduler(o, "cosine(5"), "schedule is not a valid schedule config"),
        (lambda o: Scheduler(o, lk.cosine(5), resume="keepstep"), "resume must be a horizon rule.*'keep_step'"),
        (lambda o: Scheduler(o, [lk.cosine(5)] * 3), "one per group"),
        (lambda o: Scheduler(o, lk.cosine(5), lr_scale=[1.0, 2.0]), "lr_scale has 2 entries"),
        (lambda o: Scheduler(o, lk.cosine(5), lr_scale=[-1.0]), "lr_scale must hold finite numbers >= 0"),
        (lambda o: Scheduler(o, lk.cosine(5), relative=("weight_decay",)), "not scheduled"),
        (lambda o: Scheduler(o, lk.cosine(5), advance="epoch"), "advance must be"),
        (lambda o: Scheduler(o, lk.cosine(5), updates_per_epoch=0), "updates_per_epoch must be"),
        (lambda o: Scheduler(o, lk.cosine(5), hyper={"beta1": lk.constant(0.5)}).step(metric=1.0), "no plateau"),
    ],
)
def test_clear_errors(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError), match=message):
        build(torch.optim.Adam(params(), lr=1e-3))


def test_a_text_config_is_a_schedule() -> None:
    """What a Hydra partial passes: Scheduler(opt, "warmup(100) >> cosine(900)"), per group and in hyper too."""
    text = "warmup(100) >> cosine(900)"
    opt_a = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    a = Scheduler(opt_a, text, hyper={"momentum": ["constant(0.8)"]})
    opt_b = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    b = Scheduler(opt_b, lk.from_config(text), hyper={"momentum": [lk.constant(0.8)]})
    assert a.schedules == b.schedules
    assert a.schedules["lr"] == lk.warmup(100) >> lk.cosine(900)
    train(opt_a, a, 150)
    train(opt_b, b, 150)
    for ga, gb in zip(opt_a.param_groups, opt_b.param_groups):
        assert (ga["lr"], ga["momentum"]) == (gb["lr"], gb["momentum"])
    assert opt_a.param_groups[0]["lr"] == 0.1 * lk.cosine(900)(50)
    assert a.state_dict() == b.state_dict()


def test_all_zero_lr_warns_at_first_step() -> None:
    opt = torch.optim.SGD(params(), lr=0.0)
    sched = Scheduler(opt, lk.cosine(5), relative=())
    opt.step()
    with pytest.warns(UserWarning, match="every param group had lr=0"):
        sched.step()


def test_no_update_for_many_calls_warns_once() -> None:
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, lk.cosine(5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(250):
            sched.step()
    assert len([w for w in caught if "no optimizer update" in str(w.message)]) == 1


def test_user_defined_optimizer_updates_are_counted() -> None:
    class Plain(torch.optim.Optimizer):
        def __init__(self, params: list[torch.nn.Parameter]) -> None:
            super().__init__(params, {"lr": 0.1})

        @torch.no_grad()
        def step(self, closure=None):  # type: ignore[no-untyped-def, override]
            for g in self.param_groups:
                for p in g["params"]:
                    p.sub_(g["lr"] * p.grad)

    s = lk.cosine(10)
    opt = Plain(params())
    used = train(opt, Scheduler(opt, s), 5)
    assert [u[0] for u in used] == [0.1 * s(t) for t in range(5)]


def test_bare_plateau_matches_reduce_lr_on_plateau_without_end_warning() -> None:
    from lrkit.reactive.controller import Plateau

    ours = torch.optim.SGD(params(), lr=1.0)
    theirs = torch.optim.SGD(params(), lr=1.0)
    peer = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, patience=1, factor=0.5)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = Scheduler(ours, Plateau(patience=1, factor=0.5))  # a plateau alone has length 0
        for metric in [3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0]:
            ours.step()
            sched.step(metric)
            peer.step(metric)
            seen.append((ours.param_groups[0]["lr"], theirs.param_groups[0]["lr"]))
    assert all(a == b for a, b in seen) and seen[-1][0] == 0.25


def test_deepcopy_and_pickle_count_their_own_updates() -> None:
    import copy
    import pickle

    s = lk.cosine(10)
    opt = torch.optim.SGD(params(), lr=1.0)
    sched = Scheduler(opt, s)
    train(opt, sched, 2)
    for clone in (copy.deepcopy(sched), pickle.loads(pickle.dumps(sched))):
        assert clone.optimizer is not opt and clone.updates == 2
        train(clone.optimizer, clone, 3)
        assert clone.updates == 5 and clone.get_last_lr() == [s(5)]
    assert sched.updates == 2 and opt.param_groups[0]["lr"] == s(2)  # the original did not move
