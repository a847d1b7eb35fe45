"""The torch adapter never gives a silently wrong learning rate: each case a user met, and what lrkit does now."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit.reactive.clock import FakeClock, WallClock
from lrkit.torch import Scheduler


def params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(2))]


def update(opt: torch.optim.Optimizer) -> None:
    for g in opt.param_groups:
        for p in g["params"]:
            p.grad = torch.ones_like(p)
    opt.step()


def epochs_loop(sched_factory, epochs: int = 4, batches: int = 4) -> tuple[list[float], list[warnings.WarningMessage]]:
    """The seed article's loop: batches per epoch, the scheduler stepped once per epoch."""
    opt = torch.optim.SGD(params(), lr=0.1)
    sched = sched_factory(opt)
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(epochs):
            seen.append(opt.param_groups[0]["lr"])
            for _ in range(batches):
                update(opt)
            sched.step()
    return seen, [w for w in caught if "Scheduler" in str(w.message)]


def test_stepping_once_per_epoch_warns_once_and_names_the_fix() -> None:
    seen, caught = epochs_loop(lambda opt: Scheduler(opt, lk.step_decay(3, factor=0.5)), epochs=6)
    assert seen[:4] == [0.1, 0.05, 0.025, 0.00625]  # what the user got: counted in updates (4 per epoch)
    assert len(caught) == 1 and "advance='call'" in str(caught[0].message) and "every 4" in str(caught[0].message)
    torch_seen, _ = epochs_loop(lambda opt: torch.optim.lr_scheduler.StepLR(opt, 3, 0.5), epochs=6)
    fixed, none = epochs_loop(lambda opt: Scheduler(opt, lk.step_decay(3, factor=0.5), advance="call"), epochs=6)
    assert not none and fixed == torch_seen == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05]


def test_per_update_stepping_and_accumulation_do_not_warn() -> None:
    opt = torch.optim.SGD(params(), lr=0.1)
    sched = Scheduler(opt, lk.cosine(100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(40):
            if i % 2:  # gradient accumulation: step() after every micro-batch, an update every second one
                update(opt)
            sched.step()


def test_sequential_lr_refuses_with_the_lrkit_way() -> None:
    opt = torch.optim.SGD(params(), lr=0.1)
    sched = Scheduler(opt, lk.cosine(10))
    warm = torch.optim.lr_scheduler.LinearLR(opt, 0.5, total_iters=3)
    with pytest.raises(TypeError, match=r"SequentialLR.*>>"):
        torch.optim.lr_scheduler.SequentialLR(opt, [warm, sched], milestones=[3])


def test_chained_scheduler_does_not_silently_drop_the_other_scheduler() -> None:
    opt = torch.optim.SGD(params(), lr=0.1)
    chained = torch.optim.lr_scheduler.ChainedScheduler(
        [torch.optim.lr_scheduler.ExponentialLR(opt, 0.5), Scheduler(opt, lk.cosine(10))]
    )
    update(opt)
    with pytest.raises(RuntimeError, match=r"changed outside lrkit.*ChainedScheduler.*a \* b"):
        chained.step()


def test_step_with_an_epoch_number_says_there_is_no_epoch_argument() -> None:
    opt = torch.optim.SGD(params(), lr=0.1)
    sched = Scheduler(opt, lk.cosine(10))
    update(opt)
    with pytest.raises(ValueError, match=r"no epoch argument.*advance='call'"):
        sched.step(1)


def test_get_lr_warns_like_torch() -> None:
    opt = torch.optim.SGD(params(), lr=0.1)
    ours, theirs = Scheduler(opt, lk.cosine(10)), torch.optim.lr_scheduler.CosineAnnealingLR(
        torch.optim.SGD(params(), lr=0.1), 10
    )
    for sched in (ours, theirs):
        with pytest.warns(UserWarning, match="get_last_lr"):
            sched.get_lr()


@pytest.mark.parametrize("advance", ["update", "tokens"])
def test_a_plateau_never_fed_warns_once_early(advance: str) -> None:
    """Said at the 50th step with the plateau active (on main: after 1,000 updates, which a short Lightning or HF
    run never reaches); not during a warmup before the plateau's piece; once."""
    opt = torch.optim.SGD(params(), lr=0.1)
    sched = Scheduler(opt, lk.warmup(30) >> (lk.constant(1.0, 5000) * lk.plateau(patience=2)), advance=advance)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(200):
            update(opt)
            sched.step(tokens=1) if advance == "tokens" else sched.step()
            unfed = [w for w in caught if "no metric has reached it" in str(w.message)]
            assert len(unfed) == (0 if i < 78 else 1), i  # active from progress 30 (step i = 29): the 50th at i = 78
    assert "sched.step(metric=val_loss)" in str(unfed[0].message) and "PlateauCallback" in str(unfed[0].message)
    fed = Scheduler(torch.optim.SGD(params(), lr=0.1), lk.constant(1.0, 5000) * lk.plateau(patience=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(1200):
            update(fed.optimizer)
            fed.step(metric=1.0) if i % 100 == 40 else fed.step()


def test_hf_trainer_feeds_the_plateau_through_the_callback(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from lrkit.torch.hf import PlateauCallback

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            out = self.layer(x)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g)
    train = [{"x": x[i], "labels": x[i].sum(0, keepdim=True)} for i in range(16)]
    noise = [{"x": x[i], "labels": torch.randn(1, generator=g) * 100} for i in range(8)]  # never improves much
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = Scheduler(opt, lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5))
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=12, per_device_train_batch_size=4, eval_strategy="steps",
        eval_steps=2, report_to="none", save_strategy="no", disable_tqdm=True, use_cpu=True,
        remove_unused_columns=False,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=noise, optimizers=(opt, sched),
        callbacks=[PlateauCallback(sched)],
    )
    trainer.train()
    evaluations = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert len(evaluations) == 6
    assert opt.param_groups[0]["lr"] < 1e-3  # the plateau reduced: the metric reached it
    assert np.isclose(opt.param_groups[0]["lr"] / 1e-3, 0.5 ** round(np.log2(1e-3 / opt.param_groups[0]["lr"])))


def test_the_first_update_of_a_warmup_is_not_run_at_lr_zero() -> None:
    from lrkit.compat import transformers as hf

    opt = torch.optim.SGD(params(), lr=0.1)
    Scheduler(opt, lk.warmup(9) >> lk.cosine(90))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)  # peak / (9 + 1), the lr of update 0
    assert lk.warmup(9)(9) == 1.0 and lk.warmup(9, start=0.0)(0) == 0.0  # the classical ramp, on request
    assert hf.get_linear_schedule_with_warmup(10, 100)(0) == 0.0  # peers keep their own start


@pytest.mark.parametrize("progress", ["updates", "clock"])
def test_a_schedule_that_overflows_to_inf_is_refused_not_written(progress) -> None:
    # constant(1e300) * 1e10 is inf in float64: torch's SGD takes an inf lr without a word
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    huge = lk.constant(1e300) * 1e10
    with pytest.raises(ValueError, match=r"overflows to inf at step 0.*float range"):  # refused by the schedule
        if progress == "updates":
            Scheduler(opt, huge)
        else:
            Scheduler(opt, huge, clock=WallClock(clock=FakeClock()))
    assert opt.param_groups[0]["lr"] == 0.1


def test_a_schedule_that_overflows_later_is_refused_at_that_update() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = Scheduler(opt, lk.constant(1.0, 2000) >> lk.constant(1e300) * 1e10)
    with pytest.raises(ValueError, match="overflows to inf at step 2000"):
        for _ in range(2100):
            opt.step()
            sched.step()
    assert np.isfinite(opt.param_groups[0]["lr"])
