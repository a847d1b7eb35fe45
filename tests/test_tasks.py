"""lrkit.tasks: data, models, determinism and the training loop, on real torch/mnist1d/sklearn."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrkit as lk  # noqa: E402
from lrkit.tasks import TASKS, EpochInfo, RunResult, get_task  # noqa: E402


def test_names_and_lookup():
    assert TASKS == ("mnist1d", "digits", "charlm", "friedman")
    assert get_task("digits") is get_task("digits")
    with pytest.raises(ValueError, match=r"unknown task 'mnist'.*mnist1d, digits, charlm, friedman"):
        get_task("mnist")


def test_task_settings_are_class_keywords_and_a_misspelt_one_fails():
    from lrkit.tasks import Digits, Task

    assert (Digits.name, Digits.batch_size, Digits.budget, Digits.target) == ("digits", 64, 460, 0.98)
    assert get_task("friedman").label_dtype == "float32" and Digits.label_dtype == "int64"
    with pytest.raises(TypeError, match=r"Typo: unknown task settings \['budgte'\]; a task sets name, "):

        class Typo(Task, name="typo", budgte=10):  # a misspelt class attribute would pass silently
            pass


def test_mnist1d_data_is_the_packages_offline_dataset():
    from mnist1d.data import get_dataset_args, make_dataset

    x_train, y_train, x_test, y_test = get_task("mnist1d").data()
    expected = make_dataset(get_dataset_args())
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    np.testing.assert_allclose(x_train.numpy(), expected["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y_test.numpy(), expected["y_test"])
    assert set(y_train.tolist()) == set(range(10))


def test_digits_data_is_a_fixed_80_20_split_of_load_digits():
    from sklearn.datasets import load_digits

    x_train, y_train, x_test, y_test = get_task("digits").data()
    x, y = load_digits(return_X_y=True)
    assert len(x_train) + len(x_test) == len(x) and len(x_train) == round(0.8 * len(x))
    assert float(x_train.max()) == 1.0 and float(x_train.min()) == 0.0
    # every image appears exactly once across the split
    rows = {tuple(r) for r in np.round(np.concatenate([x_train.numpy(), x_test.numpy()]) * 16).astype(int)}
    assert rows == {tuple(r) for r in x.astype(int)}
    assert np.bincount(np.concatenate([y_train.numpy(), y_test.numpy()])).tolist() == np.bincount(y).tolist()


def test_charlm_text_is_scikit_learns_bundled_descriptions():
    from importlib.resources import files

    from lrkit.tasks.charlm import CONTEXT, VOCAB, encode, load_text

    folder = files("sklearn.datasets") / "descr"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".rst"))
    text = load_text()
    assert "digits.rst" in names and text == "".join((folder / n).read_text(encoding="utf-8") for n in names)
    assert len(text) > 30_000 and "Iris" in text  # English prose, not code
    x_train, y_train, x_test, y_test = get_task("charlm").data()
    ids = encode(text)
    cut = round(0.9 * ids.size)
    assert x_train.shape == (cut - CONTEXT, CONTEXT) and y_test.shape == x_test.shape
    np.testing.assert_array_equal(x_train[:, 1:].numpy(), y_train[:, :-1].numpy())  # targets shifted by one
    np.testing.assert_array_equal(x_train[0].numpy(), ids[:CONTEXT])
    np.testing.assert_array_equal(x_test[0].numpy(), ids[cut : cut + CONTEXT])
    assert int(x_train.max()) < VOCAB and y_train.dtype == torch.int64


def test_friedman_data_is_make_friedman1_standardised():
    from sklearn.datasets import make_friedman1

    x_train, y_train, x_test, _ = get_task("friedman").data()
    x, y = make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=0)
    assert x_train.shape == (4000, 10) and y_train.dtype == torch.float32
    np.testing.assert_allclose(x_test.numpy(), x[4000:], rtol=1e-6)
    np.testing.assert_allclose(y_train.numpy(), (y[:4000] - y[:4000].mean()) / y[:4000].std(), rtol=1e-5, atol=1e-5)
    assert abs(float(y_train.mean())) < 1e-4


@pytest.mark.parametrize("name", ["charlm", "friedman"])
def test_new_tasks_are_deterministic_and_learn(name):
    task = get_task(name)
    a = task.train(lk.one_cycle(60), 1e-2, seed=2, updates=60)
    b = task.train(lk.one_cycle(60), 1e-2, seed=2, updates=60)
    c = task.train(lk.one_cycle(60), 1e-2, seed=3, updates=60)
    assert a.losses == b.losses and a.accuracies == b.accuracies
    assert a.losses != c.losses
    assert np.mean(a.losses[-10:]) < 0.8 * np.mean(a.losses[:5])  # it learns
    untrained = task.accuracy(task.model(2), *task.data()[2:])
    assert a.final_accuracy > untrained


def test_data_generation_leaves_global_rngs_alone():
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    get_task("mnist1d").data(seed=7)  # a fresh draw, so mnist1d really seeds the globals
    get_task("friedman").data(seed=7)
    get_task("charlm").data(seed=7)
    assert (random.random(), np.random.rand()) == expected


def test_another_seed_gives_another_draw():
    task = get_task("digits")
    assert not torch.equal(task.data()[0], task.data(seed=1)[0])
    assert task.data(seed=1)[0] is task.data(seed=1)[0]  # cached


@pytest.mark.parametrize("name", TASKS)
def test_model_is_seeded_and_leaves_the_global_rng_alone(name):
    task = get_task(name)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = task.model(0), task.model(0), task.model(1)
    assert torch.equal(torch.rand(1), before)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    x = task.data()[0][:5]
    assert a(x).shape == {"charlm": (5, 32, 96), "friedman": (5,)}.get(name, (5, 10))


def test_optimizer_is_adamw_with_the_tasks_weight_decay():
    task = get_task("mnist1d")
    opt = task.optimizer(task.model(0), 0.05)
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[0]["weight_decay"] == task.weight_decay == 1e-2


def test_train_records_the_learning_rates_of_the_schedule():
    task = get_task("digits")
    schedule = lk.warmup(10) >> lk.cosine(50, floor=0.1)
    result = task.train(schedule, 0.02, seed=0, updates=60)
    assert isinstance(result, RunResult)
    assert len(result.lrs) == len(result.losses) == result.updates == 60
    np.testing.assert_allclose(result.lrs, 0.02 * schedule(np.arange(60)), rtol=1e-12, atol=0)
    assert result.lrs[0] == pytest.approx(0.02 / 11) and result.lrs[10] == pytest.approx(0.02)
    assert result.schedule == repr(schedule)


def test_train_is_deterministic_per_seed():
    task = get_task("digits")
    a = task.train("one_cycle(69)", 0.01, seed=3, updates=69)
    b = task.train(lk.one_cycle(69), 0.01, seed=3, updates=69)
    c = task.train("one_cycle(69)", 0.01, seed=4, updates=69)
    assert a.losses == b.losses and a.accuracies == b.accuracies and a.lrs == b.lrs
    assert a.losses != c.losses


def test_evaluations_epochs_and_callbacks():
    task = get_task("digits")  # 23 batches per epoch
    epochs: list[EpochInfo] = []
    seen: list[tuple[int, float, float]] = []
    result = task.train("constant(1)", 0.01, updates=50, on_epoch=epochs.append, on_update=lambda *a: seen.append(a))
    assert result.eval_updates == [23, 46, 50]
    assert [e.epoch for e in epochs] == [1, 2, 3] and [e.update for e in epochs] == [23, 46, 50]
    assert [e.test_accuracy for e in epochs] == result.accuracies
    assert epochs[0].train_loss == pytest.approx(np.mean(result.losses[:23]))
    assert [s[0] for s in seen] == list(range(1, 51)) and [s[2] for s in seen] == result.losses
    fine = task.train("constant(1)", 0.01, updates=50, eval_every=10)
    assert fine.eval_updates == [10, 20, 30, 40, 50]
    assert fine.losses == result.losses  # evaluation does not disturb training


def test_derived_figures():
    result = RunResult(
        "t", "constant(1)", 0.1, 0, 30, eval_updates=[10, 20, 30], accuracies=[0.5, 0.9, 0.8], target=0.85
    )
    assert (result.final_accuracy, result.best_accuracy, result.updates_to_target) == (0.8, 0.9, 20)
    result.target = 0.95
    assert result.updates_to_target is None
    assert result.to_dict()["updates_to_target"] is None and not result.diverged


def test_optimizer_factory_replaces_adamw():
    task = get_task("digits")
    result = task.train(
        "step_decay(20, factor=0.5)",
        0.1,
        updates=60,
        optimizer_factory=lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr),
    )
    assert result.lrs[0] == 0.1 and result.lrs[20] == 0.05 and result.lrs[59] == 0.025
    assert result.final_accuracy > 0.5


@pytest.mark.bench
def test_schedule_free_optimizer_gets_train_and_eval_calls():
    schedulefree = pytest.importorskip("schedulefree")
    task = get_task("digits")
    result = task.train(
        "constant(1)",
        0.01,
        optimizer_factory=lambda m, lr: schedulefree.AdamWScheduleFree(m.parameters(), lr=lr, warmup_steps=20),
    )
    # schedule-free evaluates at its averaged weights (eval()); without the calls it would score far lower
    assert result.final_accuracy >= task.target


def test_bad_arguments():
    task = get_task("digits")
    with pytest.raises(ValueError, match=r"peak_lr must be a finite number > 0, got -0\.1"):
        task.train("constant(1)", -0.1)
    with pytest.raises(ValueError, match="updates must be >= 1, got 0"):
        task.train("constant(1)", 0.1, updates=0)
    with pytest.raises(lk.ConfigError, match="unknown schedule 'cosin'"):
        task.train("cosin(10)", 0.1)


@pytest.mark.bench
@pytest.mark.parametrize(
    "name, spec",
    [("digits", "warmup(46) >> cosine(414)"), ("mnist1d", "warmup(120) >> cosine(1080)")],
)
def test_a_tuned_run_reaches_the_target_within_the_budget(name, spec):
    task = get_task(name)
    result = task.train(spec, task.default_lr, seed=0)
    assert result.updates == task.budget
    assert result.final_accuracy >= task.target, result.accuracies
    assert result.updates_to_target is not None and result.updates_to_target <= task.budget


@pytest.mark.bench
def test_a_poor_learning_rate_misses_the_target():
    task = get_task("mnist1d")
    result = task.train("constant(1)", 1e-3, seed=0, updates=400)
    assert result.best_accuracy < task.target


def test_importing_the_tasks_needs_no_torch_and_using_them_names_the_extra():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import lrkit.tasks as t\n"
        "task = t.get_task('digits'); print(task.budget, task.target)\n"
        "try:\n    task.data()\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["460 0.98", "the built-in tasks need PyTorch: pip install 'lrkit[tasks]'"]
