"""lrkit.torch.Scheduler under the real Hugging Face ``transformers.Trainer``, with lrkit.torch.hf.SchedulerCallback.

Every test records the learning rate each real optimizer update used (an optimizer step pre-hook)
and compares runs learning rate by learning rate. An interrupted run is the uninterrupted run's own
checkpoint (``save_steps``), resumed by a fresh Trainer with ``train(resume_from_checkpoint=...)``
(the Trainer skips the batches already trained, so resuming mid-epoch is exact): its learning rates
must equal the uninterrupted run's from that update on — for a schedule in tokens, a horizon
change and a branched cooldown (the Scheduler's ``resume=`` rule) and a plateau fed the evaluation
loss — at gradient accumulation 1 and 4.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit import horizon
from lrkit.torch import Scheduler

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
from _frameworks import BATCH, rows, tokens_per_update  # noqa: E402
from lrkit.torch.hf import PlateauCallback, SchedulerCallback  # noqa: E402


def token_counts(acc: int, updates: int) -> list[int]:
    """The tokens each optimizer update consumes (micro-batches summed), for ``updates`` updates."""
    per_update = tokens_per_update(acc)
    return (per_update * updates)[:updates]


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def forward(self, x, attention_mask=None, labels=None):  # type: ignore[no-untyped-def]
        out = self.layer(x)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


def train(
    out: Path,
    make: Callable[[torch.optim.Optimizer], Scheduler],
    *,
    acc: int,
    updates: int,
    callback: Callable[[Scheduler], Any] | None = None,
    resume: str | None = None,
    save_steps: int | None = None,
    eval_steps: int | None = None,
    **arguments: Any,
) -> list[float]:
    """Train ``Tiny`` for ``updates`` optimizer updates (from ``out/resume`` if given); the learning rates used."""
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    used: list[float] = []
    opt.register_step_pre_hook(lambda o, a, k: used.append(o.param_groups[0]["lr"]))
    sched = make(opt)
    args = transformers.TrainingArguments(
        output_dir=str(out),
        max_steps=updates,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=4,
        gradient_accumulation_steps=acc,
        train_sampling_strategy="sequential",
        report_to="none",
        save_strategy="no" if save_steps is None else "steps",
        save_steps=save_steps or 500,
        eval_strategy="no" if eval_steps is None else "steps",
        eval_steps=eval_steps,
        disable_tqdm=True,
        use_cpu=True,
        remove_unused_columns=False,
        seed=0,
        **arguments,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=rows(),
        eval_dataset=rows(8, seed=1, noisy=True) if eval_steps else None,
        optimizers=(opt, sched),
        callbacks=[] if callback is None else [callback(sched)],
    )
    trainer.train(resume_from_checkpoint=None if resume is None else str(out / resume))
    return used


@pytest.mark.parametrize("acc", [1, 4])
def test_tokens_resume_equals_the_uninterrupted_run(tmp_path: Path, acc: int) -> None:
    schedule = lk.warmup(40) >> lk.cosine(260)  # in tokens

    def make(opt: torch.optim.Optimizer) -> Scheduler:
        return Scheduler(opt, schedule, advance="tokens")

    def feed(sched: Scheduler) -> SchedulerCallback:
        return SchedulerCallback(sched, count="attention_mask")

    whole = train(tmp_path, make, acc=acc, updates=9, callback=feed, save_steps=3, eval_steps=2)
    seen = np.cumsum([0, *token_counts(acc, 9)])[:-1]  # training tokens only: evaluation batches do not count
    assert np.allclose(whole, [0.05 * schedule(float(t)) for t in seen], rtol=1e-12, atol=0)  # at the tokens fed
    resumed = train(tmp_path, make, acc=acc, updates=9, callback=feed, resume="checkpoint-3", eval_steps=2)
    assert resumed == whole[3:]


@pytest.mark.parametrize("acc", [1, 4])
def test_samples_are_the_batch_size_by_default(tmp_path: Path, acc: int) -> None:
    schedule = lk.linear(64, 1.0, 0.0)  # in samples
    used = train(tmp_path, lambda o: Scheduler(o, schedule, advance="samples"), acc=acc, updates=4,
                 callback=lambda s: SchedulerCallback(count=None))  # the Trainer's lr_scheduler, found by itself
    assert used == [0.05 * schedule(float(BATCH * acc * u)) for u in range(4)]


@pytest.mark.parametrize("acc", [1, 4])
def test_horizon_change_on_resume_from_checkpoint_applies_the_resume_rule(tmp_path: Path, acc: int) -> None:
    short, longer = lk.wsd(12, warmup=2, decay=4), lk.wsd(24, warmup=2, decay=6)
    first = train(tmp_path, lambda o: Scheduler(o, short), acc=acc, updates=12, save_steps=4)
    resumed = train(tmp_path, lambda o: Scheduler(o, longer, resume="wsd"), acc=acc, updates=24,
                    resume="checkpoint-4")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    reference, sched = [], Scheduler(opt, short)  # the uninterrupted run: load_state_dict(state, horizon="wsd")
    for u in range(24):
        if u == 4:
            state = sched.state_dict()
            sched = Scheduler(opt, longer)
            sched.load_state_dict(state, horizon="wsd")
        reference.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert first[:4] + resumed == reference
    assert np.allclose(reference, [0.05 * horizon.resumed(short, longer, at=4, rule="wsd")(u) for u in range(24)],
                       rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="resume=RULE"):  # without the rule: the clear refusal, not a silent restart
        train(tmp_path, lambda o: Scheduler(o, longer), acc=acc, updates=24, resume="checkpoint-4")


@pytest.mark.parametrize("acc", [1, 4])
def test_branched_cooldown_in_tokens_on_resume_from_checkpoint(tmp_path: Path, acc: int) -> None:
    run = lk.wsd(1000, warmup=20, decay=200)  # in tokens; the stable phase outlasts the test
    at = sum(token_counts(acc, 3))  # the checkpoint's token count: branch right there
    branch = horizon.cooldown(run, at=at, decay=60)

    def feed(sched: Scheduler) -> SchedulerCallback:
        return SchedulerCallback(sched, count="attention_mask")

    main = train(tmp_path, lambda o: Scheduler(o, run, advance="tokens"), acc=acc, updates=6, callback=feed,
                 save_steps=3)
    resumed = train(tmp_path, lambda o: Scheduler(o, branch, advance="tokens", resume="branch"), acc=acc, updates=8,
                    callback=feed, resume="checkpoint-3")
    whole = train(tmp_path / "whole", lambda o: Scheduler(o, branch, advance="tokens"), acc=acc, updates=8,
                  callback=feed)  # uninterrupted: the branch from the start (the run up to the branch point)
    assert main[:3] + resumed == whole
    assert main[3:6] != whole[3:6]  # the branch left the run's schedule
    assert resumed[-1] < 0.05 * run(float(at))


@pytest.mark.parametrize("acc", [1, 4])
def test_plateau_fed_by_the_callback_resumes_like_the_uninterrupted_run(tmp_path: Path, acc: int) -> None:
    schedule = lk.warmup(2) >> (lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5))

    def feed(sched: Scheduler) -> SchedulerCallback:
        return SchedulerCallback(sched, monitor="loss")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = train(tmp_path, lambda o: Scheduler(o, schedule), acc=acc, updates=12, callback=feed, save_steps=4,
                      eval_steps=2)
    assert not [w for w in caught if "Scheduler" in str(w.message) or "plateau" in str(w.message).lower()]
    assert min(whole) < 0.05 * 0.5 * (1 + 1e-9)  # the plateau reduced (the evaluation loss on noise never halves)
    resumed = train(tmp_path, lambda o: Scheduler(o, schedule), acc=acc, updates=12, callback=feed, eval_steps=2,
                    resume="checkpoint-4")
    assert resumed == whole[4:]


def test_plateau_callback_is_the_callback_with_a_monitor(tmp_path: Path) -> None:
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5)
    a = train(tmp_path, lambda o: Scheduler(o, schedule), acc=1, updates=8, callback=PlateauCallback, eval_steps=2)
    b = train(tmp_path, lambda o: Scheduler(o, schedule), acc=1, updates=8, eval_steps=2,
              callback=lambda s: SchedulerCallback(monitor="eval_loss"))
    assert a == b and min(a) < 0.05


def test_unfed_plateau_is_reported_in_a_run_shorter_than_100_updates(tmp_path: Path) -> None:
    schedule = lk.warmup(2) >> (lk.constant(1.0, 1000) * lk.plateau(patience=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = train(tmp_path, lambda o: Scheduler(o, schedule), acc=1, updates=80, eval_steps=20)
    assert len(used) == 80
    unfed = [str(w.message) for w in caught if "plateau" in str(w.message) and "no metric" in str(w.message)]
    assert len(unfed) == 1
    assert "lrkit.torch.hf.PlateauCallback(sched)" in unfed[0]


def test_the_callback_refuses_what_it_cannot_feed(tmp_path: Path) -> None:
    plain = lk.cosine(100)
    with pytest.raises(ValueError, match="count='attention_mask'"):  # tokens without a count
        train(tmp_path, lambda o: Scheduler(o, plain, advance="tokens"), acc=1, updates=2,
              callback=lambda s: SchedulerCallback(s))
    with pytest.raises(ValueError, match="advance='update'"):
        train(tmp_path, lambda o: Scheduler(o, plain), acc=1, updates=2,
              callback=lambda s: SchedulerCallback(s, count="attention_mask"))
    with pytest.raises(ValueError, match=r"no plateau\(\.\.\.\)"):
        train(tmp_path, lambda o: Scheduler(o, plain), acc=1, updates=2,
              callback=lambda s: SchedulerCallback(s, monitor="loss"))
    with pytest.raises(ValueError, match="not the Trainer's lr_scheduler"):
        other = Scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), plain)
        train(tmp_path, lambda o: Scheduler(o, plain), acc=1, updates=2, callback=lambda s: SchedulerCallback(other))
    with pytest.raises(ValueError, match="must be an integer or bool tensor"):
        train(tmp_path, lambda o: Scheduler(o, plain, advance="tokens"), acc=1, updates=2,
              callback=lambda s: SchedulerCallback(s, count="x"))
    with pytest.raises(ValueError, match="count must be"):
        SchedulerCallback(count=3)  # type: ignore[arg-type]


def test_without_the_callback_a_token_schedule_says_how_to_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lrkit\.torch\.hf"):
        train(tmp_path, lambda o: Scheduler(o, lk.cosine(100), advance="tokens"), acc=1, updates=2)


def test_evaluate_outside_train_feeds_nothing(tmp_path: Path) -> None:
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5)
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = Scheduler(opt, schedule)
    args = transformers.TrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=BATCH,
                                          report_to="none", save_strategy="no", disable_tqdm=True, use_cpu=True,
                                          remove_unused_columns=False)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=rows(), optimizers=(opt, sched),
                                   eval_dataset=rows(8, seed=1, noisy=True), callbacks=[PlateauCallback(sched)])
    trainer.train()
    before = sched.state_dict()
    for _ in range(3):
        trainer.evaluate()
    assert sched.state_dict() == before  # a plateau counts the evaluations of training only


def test_a_scheduler_built_on_another_optimizer_is_refused(tmp_path: Path) -> None:
    # the Trainer would step a Scheduler that drives no parameter of the model: its lr silently 0.05 throughout
    def stray(opt: torch.optim.Optimizer) -> Scheduler:
        return Scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05), lk.cosine(8))

    with pytest.raises(ValueError, match=r"SchedulerCallback: the Scheduler drives another optimizer than the Trainer"):
        train(tmp_path, stray, acc=1, updates=4, callback=SchedulerCallback)


def test_scheduler_arguments_the_lrkit_scheduler_overrides_are_reported_once(tmp_path: Path) -> None:
    schedule = lk.cosine(8)
    callback = SchedulerCallback()  # one callback object, two trainings: one warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            used = train(tmp_path, lambda o: Scheduler(o, schedule), acc=1, updates=8, callback=lambda s: callback,
                         warmup_steps=4, lr_scheduler_type="constant_with_warmup")
    assert used == [0.05 * schedule(u) for u in range(8)]  # the lrkit schedule governs: no warmup
    ignored = [str(w.message) for w in caught if "TrainingArguments" in str(w.message)]
    assert len(ignored) == 1
    assert "warmup_steps=4" in ignored[0] and "lr_scheduler_type='constant_with_warmup'" in ignored[0]
    assert "lrkit Scheduler" in ignored[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(tmp_path, lambda o: Scheduler(o, schedule), acc=1, updates=2, callback=SchedulerCallback,
              lr_scheduler_kwargs={})  # the defaults: nothing to report
    assert not [w for w in caught if "TrainingArguments" in str(w.message)]
