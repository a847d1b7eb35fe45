"""lrkit.torch.Scheduler inside real training loops: Lightning, HF transformers Trainer, the PyTorch-docs loop.

Each test records the learning rate every real optimizer update used (an optimizer step pre-hook)
and compares it with the schedule.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit.torch import Scheduler


def record_used(opt: torch.optim.Optimizer) -> list[float]:
    used: list[float] = []
    opt.register_step_pre_hook(lambda o, args, kwargs: used.append(o.param_groups[0]["lr"]))
    return used


def data(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return x, x.sum(dim=1, keepdim=True)


def test_lightning_fit_interval_step_with_accumulation(tmp_path: Path) -> None:
    lightning = pytest.importorskip("lightning")
    schedule = lk.warmup(3) >> lk.cosine(10)
    holder: dict[str, list[float]] = {}

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            holder["used"] = record_used(opt)
            sched = Scheduler(opt, schedule, hyper={"momentum": lk.linear(13, 0.9, 0.8)})
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    x, y = data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    trainer = lightning.Trainer(
        max_steps=8,
        accumulate_grad_batches=2,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Tiny(), loader)
    assert not [w for w in caught if "Scheduler" in str(w.message) or "lr_scheduler" in str(w.message)]
    assert trainer.global_step == 8
    assert holder["used"] == [0.05 * schedule(t) for t in range(8)]  # one schedule step per real update
    opt = trainer.optimizers[0]
    assert opt.param_groups[0]["momentum"] == lk.linear(13, 0.9, 0.8)(8)
    assert trainer.lr_scheduler_configs[0].scheduler.get_last_lr() == [0.05 * schedule(8)]


def test_lightning_checkpoint_resume_continues_the_schedule(tmp_path: Path) -> None:
    lightning = pytest.importorskip("lightning")
    schedule = lk.warmup(4) >> lk.cosine(8)
    used: list[float] = []

    class Tiny(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            opt = torch.optim.SGD(self.parameters(), lr=0.05)
            opt.register_step_pre_hook(lambda o, a, k: used.append(o.param_groups[0]["lr"]))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": Scheduler(opt, schedule), "interval": "step"}}

    x, y = data(12)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    first = lightning.Trainer(max_steps=6, **options)
    first.fit(Tiny(), loader)
    first.save_checkpoint(tmp_path / "half.ckpt")
    second = lightning.Trainer(max_steps=12, **options)
    second.fit(Tiny(), loader, ckpt_path=tmp_path / "half.ckpt")
    assert used == [0.05 * schedule(t) for t in range(12)]


def test_hf_trainer_with_optimizers_tuple(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    schedule = lk.warmup(2) >> lk.linear(6, 1.0, 0.1)

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            out = self.layer(x)
            return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}

    x, y = data(40)
    dataset = [{"x": x[i], "labels": y[i]} for i in range(len(x))]
    model = Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    used = record_used(opt)
    sched = Scheduler(opt, schedule)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=6,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        remove_unused_columns=False,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=dataset, optimizers=(opt, sched))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    assert not [w for w in caught if "Scheduler" in str(w.message) or "lr_scheduler" in str(w.message)]
    assert used == [1e-2 * schedule(t) for t in range(6)]
    logged = [entry["learning_rate"] for entry in trainer.state.log_history if "learning_rate" in entry]
    assert logged and all(any(np.isclose(v, 1e-2 * schedule(t)) for t in range(7)) for v in logged)
    assert not any(f.name.startswith("checkpoint") for f in tmp_path.iterdir())


def test_plain_loop_from_the_pytorch_docs_per_epoch_matches_exponential_lr() -> None:
    # the loop of https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate, stepping per epoch
    x, y = data(12)
    runs = {}
    for name in ("lrkit", "torch"):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        used = record_used(optimizer)
        if name == "lrkit":
            scheduler = Scheduler(optimizer, lk.exponential(0.9), advance="call")
        else:
            scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
        for _epoch in range(5):
            for i in range(0, len(x), 4):
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x[i : i + 4]), y[i : i + 4])
                loss.backward()
                optimizer.step()
            scheduler.step()
        runs[name] = used
    assert len(runs["lrkit"]) == 15
    assert runs["lrkit"] == [0.01 * 0.9 ** (u // 3) for u in range(15)]
    np.testing.assert_allclose(runs["lrkit"], runs["torch"], rtol=1e-12)


def test_plain_loop_per_update_with_fractional_epochs() -> None:
    x, y = data(12)
    schedule = lk.cosine(5)  # five epochs, three updates each
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    used = record_used(optimizer)
    scheduler = Scheduler(optimizer, schedule, updates_per_epoch=3)
    for _epoch in range(5):
        for i in range(0, len(x), 4):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x[i : i + 4]), y[i : i + 4]).backward()
            optimizer.step()
            scheduler.step()
    assert used == [0.01 * schedule(u / 3) for u in range(15)]
