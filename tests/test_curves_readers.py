"""lrkit.curves.read_run on logs written by the real libraries: Lightning's CSVLogger, HF Trainer's
trainer_state.json, torch's SummaryWriter (TensorBoard), lrkit's Recorder, and the schedule grid's W&B export.

Each training loop logs, besides its real loss, the number of updates done when the value was measured
(``updates``): read back as a loss series, its values must equal its steps, which pins every format's
step convention to lrkit's (the loss "at step t" was measured after t updates)."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves

torch = pytest.importorskip("torch")

PEAK = 0.05
SCHEDULE = lk.warmup(4, start=0.0) >> lk.cosine(20, floor=0.1)  # multipliers of PEAK
UPDATES = 24
# the checkout's sibling shared/ (a worktree one level deeper finds it one level up)
GRID = next(
    (
        p / "shared" / "data" / "schedule-grid" / "124m"
        for p in Path(__file__).resolve().parents[2:4]
        if (p / "shared" / "data" / "schedule-grid" / "124m").is_dir()
    ),
    Path("shared-data-not-found"),
)


def _data(n=96):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5]])


def _rates(updates=UPDATES):
    return SCHEDULE(np.arange(updates)) * PEAK


# -- Lightning -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lightning_log(tmp_path_factory):
    L = pytest.importorskip("lightning")
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.lin(x), y)
            self.log("train_loss", loss)
            self.log("updates", float(self.global_step))  # updates done before this batch's loss
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.lin(x), y))
            self.log("val_updates", float(self.global_step))

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=PEAK)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda u: float(SCHEDULE(u)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    x, y = _data()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    folder = tmp_path_factory.mktemp("lightning")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    trainer = L.Trainer(
        max_steps=UPDATES,
        logger=CSVLogger(folder, name="run"),
        callbacks=[LearningRateMonitor("step")],
        log_every_n_steps=1,
        val_check_interval=5,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Module(), data, data)
    return Path(trainer.logger.log_dir)


def test_lightning_csvlogger_steps_and_learning_rates(lightning_log):
    assert curves.readers.detect_format(lightning_log) == "lightning"
    train = curves.read_run(lightning_log, metric="updates")  # lr from LearningRateMonitor: every update
    np.testing.assert_array_equal(train.losses, train.steps)
    assert train.steps.tolist() == list(range(1, UPDATES))
    np.testing.assert_allclose(train.lrs, _rates(UPDATES - 1), rtol=1e-12)
    val = curves.read_run(lightning_log / "metrics.csv", metric="val_updates")  # logged one step early
    np.testing.assert_array_equal(val.losses, val.steps)
    assert val.steps.tolist() == [5, 10, 17, 22]  # every 5 batches of each 12-batch epoch
    default = curves.read_run(lightning_log, SCHEDULE * PEAK)  # the spec agrees with the logged rates
    assert default.steps.tolist() == [5, 10, 17, 22] and np.all(default.losses > 0)  # val_loss by default
    with pytest.raises(ValueError, match=r"metrics\.csv.*line \d+.*update \d+.*0.05x the schedule"):
        curves.read_run(lightning_log, SCHEDULE * PEAK * 20)



def test_lightning_two_parameter_groups_name_the_rate(tmp_path):
    # LearningRateMonitor logs one lr-* column per parameter group; the reader took the first in silence, so a
    # run whose loss follows the other group's rate (10x here) was fitted on the wrong rates
    L = pytest.importorskip("lightning")
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.a(x) + self.b(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            groups = [{"params": self.a.parameters(), "lr": PEAK}, {"params": self.b.parameters(), "lr": PEAK / 10}]
            opt = torch.optim.SGD(groups, lr=PEAK)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda u: float(SCHEDULE(u)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    x, y = _data()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    trainer = L.Trainer(max_steps=UPDATES, logger=CSVLogger(tmp_path, name="run"), log_every_n_steps=1,
                        callbacks=[LearningRateMonitor("step")], accelerator="cpu", enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Module(), data)
    folder = Path(trainer.logger.log_dir)
    keys = sorted(k for k in curves.read_log(folder).series if k.startswith("lr-"))
    assert len(keys) == 2, keys
    with pytest.raises(ValueError, match=r"two learning rates that disagree, 'lr-SGD/pg1' .* 'lr-SGD/pg2'.*lr_key="):
        curves.read_run(folder)
    run = curves.read_run(folder, lr_key=keys[1])
    np.testing.assert_allclose(run.lrs, _rates(UPDATES - 1) / 10, rtol=1e-12)

# -- HF Trainer ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 3], ids=["logging_steps=1", "logging_steps=3"])
def hf_state(request, tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    x, y = _data()

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)
            self.updates = 0  # training forwards so far = updates done (no accumulation)

        def forward(self, x, labels=None):
            pred = self.lin(x)
            real = torch.nn.functional.mse_loss(pred, labels)
            done = float(self.updates)
            if self.training:
                self.updates += 1
            return {"loss": real * 0 + done, "logits": pred}  # the loss value reports the updates done

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return 96

        def __getitem__(self, i):
            return {"x": x[i], "labels": y[i]}

    folder = tmp_path_factory.mktemp("hf")
    args = transformers.TrainingArguments(
        output_dir=str(folder),
        max_steps=UPDATES,
        logging_steps=request.param,
        per_device_train_batch_size=8,
        learning_rate=PEAK,
        lr_scheduler_type="linear",
        warmup_steps=4,
        eval_strategy="steps",
        eval_steps=6,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(model=Model(), args=args, train_dataset=Data(), eval_dataset=Data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    path = folder / "trainer_state.json"
    trainer.state.save_to_json(str(path))
    return path, request.param


def test_hf_trainer_state_steps_and_learning_rates(hf_state):
    path, every = hf_state
    hf_linear = (lk.warmup(4, start=0.0) >> lk.linear(UPDATES - 4)) * PEAK  # HF's "linear" with 4 warmup steps
    assert curves.readers.detect_format(path) == "hf"
    evals = curves.read_run(path, hf_linear)  # eval_loss by default, after s updates
    np.testing.assert_array_equal(evals.losses, evals.steps)
    assert evals.steps.tolist() == [6, 12, 18, 24]
    train = curves.read_run(path, hf_linear, metric="loss")  # the mean since the last log, at its middle
    np.testing.assert_array_equal(train.losses, train.steps)
    assert train.steps[-1] == UPDATES - (every + 1) // 2
    if every == 1:  # every update's rate is logged: no schedule needed, and it is HF's linear schedule
        np.testing.assert_allclose(curves.read_run(path, metric="loss").lrs, hf_linear(np.arange(UPDATES - 1)))
    else:
        with pytest.raises(ValueError, match=r"logged for .* of the .* updates.*give its schedule"):
            curves.read_run(path)
    with pytest.raises(ValueError, match=r"log_history\[\d+\].*the schedule given says"):
        curves.read_run(path, (lk.warmup(8, start=0.0) >> lk.linear(UPDATES - 8)) * PEAK)


# -- TensorBoard -----------------------------------------------------------------------------------------------
def test_tensorboard_summary_writer(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    x, y = _data()
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=PEAK)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda u: float(SCHEDULE(u)))
    writer = SummaryWriter(str(tmp_path / "tb"))
    logged = []
    for step in range(UPDATES):
        i = (8 * step) % 96
        loss = torch.nn.functional.mse_loss(model(x[i : i + 8]), y[i : i + 8])
        writer.add_scalar("train/loss", loss.item(), step)  # the usual loop: before the update
        writer.add_scalar("updates", float(step), step)
        writer.add_scalar("lr", opt.param_groups[0]["lr"], step)
        logged.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    writer.close()
    folder = tmp_path / "tb"
    assert curves.readers.detect_format(folder) == "tensorboard"
    run = curves.read_run(folder)  # train/loss; the lr logged at every update (float32 in the file)
    np.testing.assert_allclose(run.losses, logged[1:], rtol=1e-6)
    np.testing.assert_allclose(run.lrs, _rates(UPDATES - 1), rtol=1e-6)
    updates = curves.read_run(folder, SCHEDULE * PEAK, metric="updates")
    np.testing.assert_array_equal(updates.losses, updates.steps)
    event = next(folder.glob("events.out.tfevents*"))
    assert curves.read_run(event, metric="updates").steps.tolist() == list(range(1, UPDATES))
    with pytest.raises(ValueError, match=r"tag 'lr' at step \d+.*the schedule given says"):
        curves.read_run(folder, (lk.warmup(2, start=0.0) >> lk.cosine(22, floor=0.1)) * PEAK)


# -- lrkit's Recorder ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_recorder_file(tmp_path, suffix):
    from lrkit.torch import Scheduler
    from lrkit.torch.record import Recorder

    x, y = _data()
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=PEAK)
    sched = Scheduler(opt, SCHEDULE)
    path = tmp_path / f"run{suffix}"
    with Recorder(opt, path) as rec:
        for step in range(UPDATES):
            i = (8 * step) % 96
            loss = torch.nn.functional.mse_loss(model(x[i : i + 8]), y[i : i + 8])
            opt.zero_grad()
            loss.backward()
            rec.log(loss)
            opt.step()
            sched.step()
    run = curves.read_run(path)
    assert run.steps.tolist() == list(range(1, UPDATES))
    np.testing.assert_allclose(run.lrs, _rates(UPDATES - 1), rtol=1e-12)
    assert curves.read_run(path, SCHEDULE * PEAK).steps.tolist() == run.steps.tolist()
    with pytest.raises(ValueError, match=r"line \d+: the log's learning rate of update \d+ .*3,333x the schedule's"):
        curves.read_run(path, SCHEDULE * (PEAK / 3333))


# -- W&B-style history: the schedule grid's own files --------------------------------------------------------------
def _grid(prefix):
    if not GRID.is_dir():
        pytest.skip(f"the schedule grid is not at {GRID}")
    return next(GRID.glob(prefix))


def _wsd(peak, length, fraction):
    start = round((1 - fraction) * length)
    return (lk.warmup(300, start=0.01) >> lk.constant(1.0, start - 300) >> lk.linear(length - start)) * peak


def test_wandb_grid_branch_and_final():
    stable_path = _grid("stable-124m_*_lr0.001_*")
    branch_path = _grid("ann124-0.2_*_lr0.001_*decay_linear_0.2_iter25000_*")
    assert curves.readers.detect_format(stable_path) == "wandb"
    stable = curves.read_run(stable_path, (lk.warmup(300, start=0.01) >> lk.constant(1.0)) * 1e-3)
    assert stable.steps[0] == 200 and stable.steps[-1] == 49800  # val_loss, every 200 updates
    data = json.loads(branch_path.read_text())
    first = min(min(s["iter"]) for s in data["history"].values() if s["iter"])
    cool = curves.read_run(branch_path, _wsd(1e-3, 25000, 0.2), parent=stable, final="final_val_loss")
    assert cool.at == first and cool.parent is stable
    own = [s for s, v in zip(data["history"]["val"]["iter"], data["history"]["val"]["val_loss"]) if s > first]
    assert cool.steps.tolist() == [s for s in stable.steps.tolist() if s <= first] + own
    assert cool.final == data["history"]["final-val"]["final_val_loss"][0] and cool.final_step == 25000
    with pytest.raises(ValueError, match=r"history\['train'\]\[\d+\].*update \d+"):
        curves.read_run(branch_path, _wsd(1e-3, 25000, 0.4), parent=stable)  # not its cooldown
    with pytest.raises(ValueError, match="give its schedule"):  # train_lr only every 50 updates
        curves.read_run(branch_path, parent=stable)
    # the shared prefix counts once: fitting both = fitting the stable run and the branch's own points
    law = curves.MultiPowerLaw(2.8, 0.9, 0.4, 500.0, 2.0, 0.5, 0.5)
    both = curves.score(law, [stable, cool])
    assert [r.points for r in both.runs] == [stable.steps.size, len(own)]
    alone = curves.score(law, [cool])  # on its own, the branch is its whole curve
    assert alone.runs[0].points == cool.steps.size
    assert alone.runs[0].final_loss == cool.final
    assert alone.runs[0].predicted_final == pytest.approx(law.final(_wsd(1e-3, 25000, 0.2), 25000))


def test_wandb_rows(tmp_path):
    """A W&B history as a list of rows (``run.scan_history()``), with a step key and sparse metrics."""
    rows = [{"_step": i, "trainer/global_step": 10 * i, "loss": 3.0 - 0.01 * i} for i in range(1, 20)]
    rows += [{"_step": 20, "trainer/global_step": 100, "val/loss": 2.5}]
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"config": {}, "history": rows}))
    run = curves.read_run(path, lk.constant(1e-3), metric="loss")
    assert run.steps.tolist() == [10 * i for i in range(1, 20)]
    assert curves.read_run(path, lk.constant(1e-3)).steps.tolist() == [100]  # val/loss by default


def test_wandb_grid_file_with_a_shorter_column():
    """Some of the grid's own files log a column (``val_acc``) shorter than its section's steps: the loss still
    reads; only asking for that column is an error, naming it."""
    path = _grid("ann124-0.6_*_lr0.002_*decay_linear_0.6_iter15000_*")
    val = json.loads(path.read_text())["history"]["val"]
    assert len(val["val_acc"]) < len(val["iter"]) == len(val["val_loss"])
    run = curves.read_run(path, _wsd(2e-3, 15000, 0.6))
    assert run.steps.tolist() == [s for s in sorted(set(val["iter"])) if s >= 1]  # resumed: each step once
    with pytest.raises(ValueError, match=r"history\['val'\]\['val_acc'\] must be a list as long as its 'iter'"):
        curves.read_run(path, _wsd(2e-3, 15000, 0.6), metric="val_acc")


def test_a_resumed_run_keeps_the_value_logged_last(tmp_path):
    """A run resumed from a checkpoint logs its steps after the checkpoint again: each step once, the later value."""
    history = {"val": {"iter": [100, 200, 300, 200, 300, 400], "val_loss": [3.0, 2.9, 2.8, 2.95, 2.85, 2.7]}}
    path = tmp_path / "resumed.json"
    path.write_text(json.dumps({"config": {}, "history": history}))
    run = curves.read_run(path, lk.constant(1e-3))
    assert run.steps.tolist() == [100, 200, 300, 400]
    assert run.losses.tolist() == [3.0, 2.95, 2.85, 2.7]


# -- files written by spreadsheets and other tools ------------------------------------------------------------
ROWS = [("step", "loss", "lr"), (100, 3.9, 3e-4), (200, 3.7, 2e-4), (300, 3.6, 1e-4)]


@pytest.mark.parametrize(
    ("name", "delimiter", "bom"),
    [
        ("excel.csv", ",", True),  # Excel's "CSV UTF-8" starts with a byte-order mark: 'no step column' before
        ("europe.csv", ";", False),  # a spreadsheet where ',' is the decimal mark separates by ';'
        ("tabs.tsv", "\t", False),  # a .tsv was read as comma-separated
        ("tabs.txt", "\t", True),
    ],
)
def test_a_csv_with_a_byte_order_mark_or_another_separator_reads_the_same(tmp_path, name, delimiter, bom):
    path = tmp_path / name
    text = "\n".join(delimiter.join(str(c) for c in row) for row in ROWS) + "\n"
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    log = curves.read_log(path)
    assert log.series["loss"].steps.tolist() == [100, 200, 300]
    assert log.series["loss"].values.tolist() == [3.9, 3.7, 3.6]
    assert log.series["lr"].values.tolist() == [3e-4, 2e-4, 1e-4]


def test_json_logs_with_a_byte_order_mark_read(tmp_path):
    state = {"log_history": [{"step": s, "loss": v, "learning_rate": r} for s, v, r in ROWS[1:]]}
    path = tmp_path / "trainer_state.json"
    path.write_text("\ufeff" + json.dumps(state), encoding="utf-8")
    assert curves.read_log(path).series["loss"].values.tolist() == [3.9, 3.7, 3.6]
    lines = tmp_path / "run.jsonl"
    lines.write_text("\ufeff" + "\n".join(json.dumps(dict(zip(ROWS[0], r))) for r in ROWS[1:]), encoding="utf-8")
    assert curves.read_log(lines).series["loss"].values.tolist() == [3.9, 3.7, 3.6]


# -- the second hostile sweep (round 3, stop 7): each failed on f227e86 -------------------------------------------
def _tensorboard_run(folder, steps, scale, suffix):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder), filename_suffix=suffix)
    for s in steps:
        writer.add_scalar("train/lr", 0.01 * scale, s)
        writer.add_scalar("train/loss", 10.0 / scale - 0.01 * s, s)
    writer.close()


def test_tensorboard_two_runs_in_one_folder_are_refused_and_a_restart_is_read(tmp_path):
    # a second SummaryWriter run from step 0 in the same folder was merged with the first (steps 0-29 of one run,
    # 30-59 of the other), with a warning calling it "a resumed run", and fitted with exit 0
    pytest.importorskip("tensorboard")
    folder = tmp_path / "two"
    _tensorboard_run(folder, range(60), 1.0, ".a")
    _tensorboard_run(folder, range(30), 0.5, ".b")
    with pytest.raises(ValueError, match=r"two runs in one folder: events\.out\.tfevents\S*\.a and "
                                         r"events\.out\.tfevents\S*\.b both start at step 0; read one event file"):
        curves.read_run(folder, metric="train/loss")
    files = sorted(folder.glob("events.out.tfevents*"))
    assert curves.read_run(files[1], metric="train/loss").steps.tolist() == list(range(1, 30))
    restart = tmp_path / "restart"  # resumed from a checkpoint at step 40: the later values kept, a warning
    _tensorboard_run(restart, range(50), 1.0, ".a")
    _tensorboard_run(restart, range(40, 60), 1.0, ".b")
    with pytest.warns(curves.RunFileWarning, match="a resumed run"):
        run = curves.read_run(restart, metric="train/loss")
    assert run.steps.tolist() == list(range(1, 60))


@pytest.fixture(scope="module")
def hf_resumed(tmp_path_factory):
    """A HF Trainer run of 24 updates checkpointed every 8, and a second run resumed from its checkpoint-16 (its
    loss twice the first's: a run that differs after the branch): its trainer_state.json repeats the first run's
    log_history up to update 16."""
    transformers = pytest.importorskip("transformers")
    x, y = _data()

    class Model(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)
            self.scale = scale

        def forward(self, x, labels=None):
            pred = self.lin(x)
            return {"loss": torch.nn.functional.mse_loss(pred, labels) * self.scale, "logits": pred}

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return 96

        def __getitem__(self, i):
            return {"x": x[i], "labels": y[i]}

    folder = tmp_path_factory.mktemp("hf_resumed")

    def train(name, resume=None, scale=1.0):
        args = transformers.TrainingArguments(
            output_dir=str(folder / name), max_steps=UPDATES, logging_steps=1, per_device_train_batch_size=8,
            learning_rate=PEAK, lr_scheduler_type="linear", warmup_steps=4, eval_strategy="steps", eval_steps=4,
            save_strategy="steps", save_steps=8, report_to=[], use_cpu=True, disable_tqdm=True, seed=0,
        )
        torch.manual_seed(0)
        trainer = transformers.Trainer(model=Model(scale), args=args, train_dataset=Data(), eval_dataset=Data())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.train(resume_from_checkpoint=resume)
        trainer.state.save_to_json(str(folder / name / "trainer_state.json"))
        return folder / name

    parent = train("parent")
    child = train("child", str(parent / "checkpoint-16"), scale=2.0)
    return parent, child


def test_hf_run_resumed_from_a_checkpoint_is_a_branch_from_it(hf_resumed):
    # the resumed run's trainer_state.json repeats its parent's history up to the checkpoint: read as a branch, its
    # points up to update 16 were its own too (counted twice in a fit with the parent), at=2 by default, and
    # at=16 was refused
    parent_dir, child_dir = hf_resumed
    hf_linear = (lk.warmup(4, start=0.0) >> lk.linear(UPDATES - 4)) * PEAK
    parent = curves.read_run(parent_dir, hf_linear)
    child = curves.read_run(child_dir, hf_linear, parent=parent)
    assert child.at == 16
    assert child.own().steps.min() > 16
    assert curves.read_run(child_dir, hf_linear, parent=parent, at=16).at == 16
    counted = sum(r.steps.size for r in curves.core.fitted_runs([parent, child]))
    assert counted == parent.steps.size + int((child.steps > 16).sum())
    with pytest.raises(ValueError, match=r"at: .*update 20.*not its parent's"):
        curves.read_run(child_dir, hf_linear, parent=parent, at=20)  # the points after 16 are the child's own


def test_a_run_read_from_a_folder_is_named_after_the_folder(lightning_log, hf_state):
    # a folder was named after its parent folder: every Lightning version_N of one logger read as one name
    assert curves.read_run(lightning_log).name == lightning_log.name
    assert curves.read_run(lightning_log / "metrics.csv").name == lightning_log.name
    path, _ = hf_state
    hf_linear = (lk.warmup(4, start=0.0) >> lk.linear(UPDATES - 4)) * PEAK
    assert curves.read_run(path.parent, hf_linear).name == path.parent.name == curves.read_run(path, hf_linear).name


def test_lightning_validation_with_gradient_accumulation_warns_of_its_step(tmp_path):
    # with accumulate_grad_batches, a validation between an update's micro-batches is logged at the updates done,
    # not one before them, and was placed one update late in silence
    L = pytest.importorskip("lightning")
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def training_step(self, batch, _):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.lin(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.lin(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=PEAK)

    x, y = _data()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    trainer = L.Trainer(max_steps=UPDATES, logger=CSVLogger(tmp_path, name="run"), log_every_n_steps=1,
                        callbacks=[LearningRateMonitor("step")], accumulate_grad_batches=2, val_check_interval=5,
                        accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Module(), data, data)
    folder = Path(trainer.logger.log_dir)
    with pytest.warns(curves.RunFileWarning, match=r"gradient accumulation.*one update late.*val_check_interval"):
        curves.read_run(folder, metric="val_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error", curves.RunFileWarning)
        curves.read_run(folder, metric="train_loss")  # the training series is placed right


def test_lightning_validation_without_accumulation_reads_in_silence(lightning_log):
    with warnings.catch_warnings():
        warnings.simplefilter("error", curves.RunFileWarning)
        curves.read_run(lightning_log, metric="val_loss")


def test_cli_names_two_runs_named_alike_by_their_paths(hf_resumed, tmp_path, capsys):
    # two HF output folders that read as one name: the fit's table showed two rows named alike
    from lrkit.cli import main

    parent_dir, _ = hf_resumed
    twin = tmp_path / "other" / parent_dir.name
    twin.mkdir(parents=True)
    (twin / "trainer_state.json").write_text((parent_dir / "trainer_state.json").read_text())
    spec = f"(warmup(4, start=0.0) >> linear({UPDATES - 4})) * {PEAK}"
    code = main(["curve", "fit", f"{parent_dir}@{spec}", f"{twin}@{spec}", "--law", "convex_drop"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"| {parent_dir} |" in out and f"| {twin} |" in out
