"""lrkit.torch.Scheduler under the real PyTorch Lightning Trainer, with lrkit.torch.lightning.SchedulerCallback.

Every test records the learning rate each real optimizer update used (an optimizer step pre-hook)
and compares runs learning rate by learning rate. An interrupted run is the uninterrupted run's
own ``ModelCheckpoint`` (saved at an epoch's end, where Lightning resumes exactly), resumed in a
fresh Trainer with ``fit(ckpt_path=...)``: its learning rates must equal the uninterrupted run's
from that update on — for a schedule in tokens, a horizon change and a branched cooldown (the
Scheduler's ``resume=`` rule) and a plateau fed the validation loss — at gradient accumulation 1 and 4.
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

lightning = pytest.importorskip("lightning")
from _frameworks import BATCH, rows, tokens_per_update  # noqa: E402
from lrkit.torch.lightning import SchedulerCallback  # noqa: E402


def loader(data: list[dict[str, torch.Tensor]]) -> Any:
    return torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=False)


def token_counts(acc: int, epochs: int) -> list[int]:
    """The tokens each optimizer update consumes (micro-batches summed), over ``epochs`` epochs."""
    per_update = tokens_per_update(acc)
    return per_update * epochs


class Tiny(lightning.LightningModule):
    def __init__(self, make: Callable[[torch.optim.Optimizer], Scheduler], used: list[float], lr: float = 0.05):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.make, self.used, self.lr = make, used, lr

    def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        return torch.nn.functional.mse_loss(self.layer(batch["x"]), batch["labels"])

    def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(batch["x"]), batch["labels"]))

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        opt = torch.optim.SGD(self.parameters(), lr=self.lr)
        opt.register_step_pre_hook(lambda o, a, k: self.used.append(o.param_groups[0]["lr"]))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.make(opt), "interval": "step"}}


def fit(
    tmp: Path,
    make: Callable[[torch.optim.Optimizer], Scheduler],
    *,
    acc: int,
    epochs: int,
    callback: SchedulerCallback | None = None,
    ckpt_path: Path | None = None,
    validate: bool = False,
    checkpoints: bool = False,
    module: type[Tiny] = Tiny,
) -> list[float]:
    """Fit ``Tiny`` for ``epochs`` epochs (from ``ckpt_path`` if given); the learning rates its updates used."""
    used: list[float] = []
    callbacks: list[Any] = [] if callback is None else [callback]
    if checkpoints:
        save = lightning.pytorch.callbacks.ModelCheckpoint(dirpath=tmp, filename="{epoch}", save_top_k=-1)
        callbacks.append(save)  # every epoch's end
    trainer = lightning.Trainer(
        max_epochs=epochs,
        accumulate_grad_batches=acc,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=checkpoints,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp,
        callbacks=callbacks,
    )
    torch.manual_seed(0)
    valid = loader(rows(8, seed=1, noisy=True)) if validate else None
    trainer.fit(module(make, used), loader(rows()), valid, ckpt_path=ckpt_path)
    return used


@pytest.mark.parametrize("acc", [1, 4])
def test_tokens_resume_equals_the_uninterrupted_run(tmp_path: Path, acc: int) -> None:
    schedule = lk.warmup(40) >> lk.cosine(260)  # in tokens: the run consumes 3 x 62 = 186
    callback = SchedulerCallback(count="attention_mask")
    whole = fit(tmp_path, lambda o: Scheduler(o, schedule, advance="tokens"), acc=acc, epochs=3, callback=callback,
                checkpoints=True)
    seen = np.cumsum([0, *token_counts(acc, 3)])[:-1]
    assert np.allclose(whole, [0.05 * schedule(float(t)) for t in seen], rtol=1e-12, atol=0)  # at the tokens fed
    per_epoch = 8 // acc
    resumed = fit(tmp_path, lambda o: Scheduler(o, schedule, advance="tokens"), acc=acc, epochs=3,
                  callback=SchedulerCallback(count="attention_mask"), ckpt_path=tmp_path / "epoch=0.ckpt")
    assert resumed == whole[per_epoch:]


@pytest.mark.parametrize("acc", [1, 4])
def test_samples_are_the_batch_size_by_default(tmp_path: Path, acc: int) -> None:
    schedule = lk.linear(64, 1.0, 0.0)  # in samples: the run consumes 2 x 16
    whole = fit(tmp_path, lambda o: Scheduler(o, schedule, advance="samples"), acc=acc, epochs=2,
                callback=SchedulerCallback())
    assert whole == [0.05 * schedule(float(BATCH * acc * u)) for u in range(16 // acc)]
    told = fit(tmp_path, lambda o: Scheduler(o, schedule, advance="samples"), acc=acc, epochs=2,
               callback=SchedulerCallback(count=lambda batch: len(batch["labels"])))  # a function of the batch
    assert told == whole


@pytest.mark.parametrize("acc", [1, 4])
def test_horizon_change_on_ckpt_path_applies_the_schedulers_resume_rule(tmp_path: Path, acc: int) -> None:
    per_epoch = 8 // acc
    short = lk.wsd(6 * per_epoch, warmup=per_epoch // 2 or 1, decay=2 * per_epoch)
    longer = lk.wsd(12 * per_epoch, warmup=per_epoch // 2 or 1, decay=3 * per_epoch)
    first = fit(tmp_path, lambda o: Scheduler(o, short), acc=acc, epochs=2, checkpoints=True)
    resumed = fit(tmp_path, lambda o: Scheduler(o, longer, resume="wsd"), acc=acc, epochs=4,
                  ckpt_path=tmp_path / "epoch=0.ckpt")
    # the uninterrupted run: a plain loop moving the state by hand, load_state_dict(state, horizon="wsd")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
    reference, sched = [], Scheduler(opt, short)
    for u in range(4 * per_epoch):
        if u == per_epoch:
            state = sched.state_dict()
            sched = Scheduler(opt, longer)
            sched.load_state_dict(state, horizon="wsd")
        reference.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert first[:per_epoch] + resumed == reference
    assert np.allclose(reference, [0.05 * horizon.resumed(short, longer, at=per_epoch, rule="wsd")(u)
                                   for u in range(4 * per_epoch)], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="resume=RULE"):  # without the rule: the clear refusal, not a silent restart
        fit(tmp_path, lambda o: Scheduler(o, longer), acc=acc, epochs=4, ckpt_path=tmp_path / "epoch=0.ckpt")


@pytest.mark.parametrize("acc", [1, 4])
def test_branched_cooldown_in_tokens_on_ckpt_path(tmp_path: Path, acc: int) -> None:
    run = lk.wsd(1000, warmup=20, decay=200)  # in tokens; the stable phase outlasts the test
    tokens = token_counts(acc, 3)
    per_epoch = 8 // acc
    at = sum(tokens[:per_epoch])  # the checkpoint's token count: branch right there
    branch = horizon.cooldown(run, at=at, decay=60)
    count = SchedulerCallback(count="attention_mask")
    main = fit(tmp_path, lambda o: Scheduler(o, run, advance="tokens"), acc=acc, epochs=1, callback=count,
               checkpoints=True)
    resumed = fit(tmp_path, lambda o: Scheduler(o, branch, advance="tokens", resume="branch"), acc=acc, epochs=3,
                  callback=SchedulerCallback(count="attention_mask"), ckpt_path=tmp_path / "epoch=0.ckpt")
    # uninterrupted: the branch schedule from the start (it equals the run up to the branch point)
    whole = fit(tmp_path / "whole", lambda o: Scheduler(o, branch, advance="tokens"), acc=acc, epochs=3,
                callback=SchedulerCallback(count="attention_mask"))
    assert main + resumed == whole
    assert resumed[-1] < 0.05 * run(float(at))  # the cooldown ran


@pytest.mark.parametrize("acc", [1, 4])
def test_plateau_fed_by_the_callback_resumes_like_the_uninterrupted_run(tmp_path: Path, acc: int) -> None:
    schedule = lk.warmup(2) >> (lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5))

    def make(opt: torch.optim.Optimizer) -> Scheduler:
        return Scheduler(opt, schedule)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        whole = fit(tmp_path, make, acc=acc, epochs=4, callback=SchedulerCallback(monitor="val_loss"), validate=True,
                    checkpoints=True)
    assert not [w for w in caught if "Scheduler" in str(w.message) or "plateau" in str(w.message).lower()]
    assert min(whole) < 0.05 * 0.5 * (1 + 1e-9)  # the plateau reduced (val_loss on noise never halves)
    per_epoch = 8 // acc
    resumed = fit(tmp_path, make, acc=acc, epochs=4, callback=SchedulerCallback(monitor="val_loss"), validate=True,
                  ckpt_path=tmp_path / "epoch=1.ckpt")
    assert resumed == whole[2 * per_epoch :]


def test_the_old_plateau_advice_is_refused_with_the_recipe(tmp_path: Path) -> None:
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5)

    # what the old advice said ('interval': 'epoch', 'reduce_on_plateau': True) is refused with the recipe
    class OldAdvice(Tiny):
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            opt = torch.optim.SGD(self.parameters(), lr=self.lr)
            sched = Scheduler(opt, schedule)
            config = {"scheduler": sched, "interval": "epoch", "monitor": "val_loss", "reduce_on_plateau": True}
            return {"optimizer": opt, "lr_scheduler": config}

    trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                                callbacks=[SchedulerCallback(monitor="val_loss")], default_root_dir=tmp_path)
    with pytest.raises(ValueError, match=r"'interval': 'step'.*SchedulerCallback\(monitor=") as raised:
        trainer.fit(OldAdvice(lambda o: Scheduler(o, schedule), []), loader(rows()), loader(rows(8, seed=1)))
    assert "reduce_on_plateau" in str(raised.value)

    class PerEpoch(Tiny):  # Lightning's default interval: a schedule in updates would move once per epoch
        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            opt = torch.optim.SGD(self.parameters(), lr=self.lr)
            return [opt], [Scheduler(opt, lk.cosine(100))]

    trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False,
                                callbacks=[SchedulerCallback()], default_root_dir=tmp_path)
    with pytest.raises(ValueError, match=r"'interval': 'epoch'.*return \{'scheduler': sched, 'interval': 'step'\}"):
        trainer.fit(PerEpoch(lambda o: Scheduler(o, schedule), []), loader(rows()))


def test_unfed_plateau_is_reported_in_a_run_shorter_than_100_updates(tmp_path: Path) -> None:
    schedule = lk.warmup(2) >> (lk.constant(1.0, 1000) * lk.plateau(patience=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = fit(tmp_path, lambda o: Scheduler(o, schedule), acc=1, epochs=9, validate=True)
    assert len(used) == 72
    unfed = [str(w.message) for w in caught if "plateau" in str(w.message) and "no metric" in str(w.message)]
    assert len(unfed) == 1
    # the report gives the tested recipe, not Lightning's reduce_on_plateau (which SchedulerCallback refuses)
    assert "SchedulerCallback(monitor=" in unfed[0] and "'interval': 'step'" in unfed[0]
    assert "'interval': 'epoch'" not in unfed[0]
    assert unfed[0].count("reduce_on_plateau") == unfed[0].count("not 'reduce_on_plateau'")  # never advised


def test_the_callback_refuses_what_it_cannot_feed(tmp_path: Path) -> None:
    plain = lk.cosine(100)
    with pytest.raises(ValueError, match="count='attention_mask'"):  # tokens without a count
        fit(tmp_path, lambda o: Scheduler(o, plain, advance="tokens"), acc=1, epochs=1, callback=SchedulerCallback())
    with pytest.raises(ValueError, match="advance='update'"):  # a count for a Scheduler counting updates
        fit(tmp_path, lambda o: Scheduler(o, plain), acc=1, epochs=1, callback=SchedulerCallback(count="x"))
    with pytest.raises(ValueError, match=r"no plateau\(\.\.\.\)"):  # a metric with nothing to feed
        fit(tmp_path, lambda o: Scheduler(o, plain), acc=1, epochs=1, callback=SchedulerCallback(monitor="val_loss"))
    with pytest.raises(ValueError, match="has none"):  # a key the batch does not hold
        fit(tmp_path, lambda o: Scheduler(o, plain, advance="tokens"), acc=1, epochs=1,
            callback=SchedulerCallback(count="input_ids"))
    with pytest.raises(ValueError, match="count must be"):
        SchedulerCallback(count=3)  # type: ignore[arg-type]


def test_without_the_callback_a_token_schedule_says_how_to_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lrkit\.torch\.lightning"):
        fit(tmp_path, lambda o: Scheduler(o, lk.cosine(100), advance="tokens"), acc=1, epochs=1)


def test_validate_outside_fit_feeds_nothing(tmp_path: Path) -> None:
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.5)
    trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                                callbacks=[SchedulerCallback(monitor="val_loss")], default_root_dir=tmp_path)
    model = Tiny(lambda o: Scheduler(o, schedule), [])
    noisy = loader(rows(8, seed=1, noisy=True))
    trainer.fit(model, loader(rows()), noisy)
    sched = trainer.lr_scheduler_configs[0].scheduler
    before = sched.state_dict()
    for _ in range(3):
        trainer.validate(model, noisy, verbose=False)
    assert sched.state_dict() == before  # a plateau counts the validations of training only


def test_the_sanity_check_feeds_nothing(tmp_path: Path) -> None:
    # patience 0, threshold 0.99: a second metric reduces unless the loss fell by 99%; one validation run in fit
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.99)
    trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=2,
                                callbacks=[SchedulerCallback(monitor="val_loss")], default_root_dir=tmp_path)
    used: list[float] = []
    trainer.fit(Tiny(lambda o: Scheduler(o, schedule), used), loader(rows()), loader(rows(8, seed=1, noisy=True)))
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.05  # one metric seen: the sanity check's was not fed


class LogsInEpochZeroOnly(Tiny):
    def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        if self.current_epoch == 0:
            super().validation_step(batch, batch_idx)


class LogsAtEpochEnd(Tiny):  # the metric logged in on_validation_epoch_end, a float: a fresh value every run
    def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        pass

    def on_validation_epoch_end(self) -> None:
        self.log("val_loss", 10.0)


def test_a_validation_run_that_does_not_log_the_monitor_is_refused_not_fed_the_stale_value(tmp_path: Path) -> None:
    # patience 0, threshold 0.99: every metric after the first reduces the lr, so a stale value fed would show
    schedule = lk.constant(1.0, 1000) * lk.plateau(patience=0, factor=0.5, threshold=0.99)
    used: list[float] = []
    with pytest.raises(ValueError, match=r"monitor='val_loss' was not logged in this validation run \(logged: \[\]\)"):
        trainer = lightning.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                                    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                                    callbacks=[SchedulerCallback(monitor="val_loss")], default_root_dir=tmp_path)
        trainer.fit(LogsInEpochZeroOnly(lambda o: Scheduler(o, schedule), used), loader(rows()),
                    loader(rows(8, seed=1, noisy=True)))
    assert set(used) == {0.05}  # epoch 0's metric alone was fed: nothing reduced
    at_end = fit(tmp_path, lambda o: Scheduler(o, schedule), acc=1, epochs=3, validate=True,
                 callback=SchedulerCallback(monitor="val_loss"), module=LogsAtEpochEnd)
    assert at_end[-1] == 0.05 * 0.5  # the same value logged anew at epochs 0 and 1: fed twice, reduced once


@pytest.mark.parametrize("acc", [1, 2])
def test_a_batch_the_module_skips_is_not_counted(tmp_path: Path, acc: int) -> None:
    class SkipsFromBatchTwo(Tiny):  # Lightning's documented skip: the rest of the epoch is not trained
        def on_train_batch_start(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            return -1 if batch_idx == 2 else None

    schedule = lk.linear(1000)  # in tokens
    used = fit(tmp_path, lambda o: Scheduler(o, schedule, advance="tokens"), acc=acc, epochs=2,
               callback=SchedulerCallback(count="attention_mask"), module=SkipsFromBatchTwo)
    trained = tokens_per_update(acc)[: 2 // acc] * 2  # micro-batches 0 and 1 of each epoch
    assert used == [0.05 * schedule(float(t)) for t in np.cumsum([0, *trained])[:-1]]


class TwoClocks(lightning.LightningModule):
    """Manual optimization, two optimizers: ``a`` scheduled in updates, ``b`` in tokens."""

    def __init__(self, used: dict[str, list[float]], b_advance: str = "tokens") -> None:
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 1), torch.nn.Linear(4, 1)
        self.automatic_optimization = False
        self.used, self.b_advance = used, b_advance

    def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        for opt, sched, net in zip(self.optimizers(), self.lr_schedulers(), (self.a, self.b)):
            opt.zero_grad()
            self.manual_backward(torch.nn.functional.mse_loss(net(batch["x"]), batch["labels"]))
            opt.step()
            sched.step()

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        opts = {name: torch.optim.SGD(getattr(self, name).parameters(), lr=0.1) for name in ("a", "b")}
        for name, opt in opts.items():
            opt.register_step_pre_hook(lambda o, a, k, name=name: self.used[name].append(o.param_groups[0]["lr"]))
        a = Scheduler(opts["a"], lk.cosine(8))
        b = Scheduler(opts["b"], lk.linear(400), advance=self.b_advance)
        return list(opts.values()), [{"scheduler": a, "interval": "step"}, {"scheduler": b, "interval": "step"}]


def test_count_feeds_only_the_schedulers_counting_tokens(tmp_path: Path) -> None:
    def run(callback: SchedulerCallback, b_advance: str = "tokens") -> dict[str, list[float]]:
        used: dict[str, list[float]] = {"a": [], "b": []}
        trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                                    enable_progress_bar=False, enable_model_summary=False,
                                    callbacks=[callback], default_root_dir=tmp_path)
        trainer.fit(TwoClocks(used, b_advance), loader(rows()))
        return used

    used = run(SchedulerCallback(count="attention_mask"))
    assert used["a"] == [0.1 * lk.cosine(8)(u) for u in range(8)]
    tokens = np.cumsum([0, *tokens_per_update(1)])[:-1]
    assert np.allclose(used["b"], [0.1 * lk.linear(400)(float(t)) for t in tokens], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=r"Scheduler 1 of configure_optimizers counts tokens \(advance='tokens'\)"):
        run(SchedulerCallback())  # the token Scheduler, named
    with pytest.raises(ValueError, match=r"count= was given but Scheduler 0 of configure_optimizers counts updates"):
        run(SchedulerCallback(count="attention_mask"), b_advance="update")  # a count no Scheduler takes
