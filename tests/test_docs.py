"""The documentation's examples are true.

* Every ```python block of README.md and docs/*.md runs, in order, in one namespace per file
  (blocks with ``>>>`` lines run as doctests). Blocks that need the reader's own objects
  (``model``, ``loader``) get the small prelude of their file below; blocks that cannot run are
  listed in ``NO_RUN`` (and marked ``<!-- no-run -->`` where the page is ours), so the skipped set
  is explicit.
* docs/migration.md: every table row is executed: its native expression (the first code span
  of the lrkit column, evaluated with the row's parameters bound) is driven the way the page
  says (through ``lrkit.torch.Scheduler``, relative to the optimizer's lr, for torch, timm and
  transformers; as absolute values, as the optax and Keras adapters with ``base_lr=1.0`` use
  them) and compared with the real peer for 60 steps. Rows without a fixed formula are listed.
* The built site (docs/mkdocs.yml, built once into a temporary folder) has a reference entry for
  every name in ``__all__`` of the public modules, with a description and an example.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import lrkit as lk
from _peers import rel_diff, timm_scheduler, torch_lrs

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NO_RUN_MARK = "<!-- no-run -->"

#: (page, block number from 1) -> why it does not run. Keep it small.
NO_RUN: dict[tuple[str, int], str] = {}

_TORCH_TOY = """
import torch
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
loss_fn = torch.nn.functional.mse_loss
loader = [(torch.randn(4, 4), torch.randn(4, 1)) for _ in range(3)]
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
"""

#: what a page's partial examples assume the reader has (run before its first block)
PRELUDE = {
    "README.md": _TORCH_TOY,
    "docs/torch.md": _TORCH_TOY
    + """
path = "ckpt.pt"
def make_optimizer(model):
    return torch.optim.AdamW(model.parameters(), lr=3e-4)
same_schedule = lk.warmup(500) >> lk.cosine(9_500)
""",
    "docs/finder.md": """
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
x = torch.randn(256, 8)
labels = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, labels), batch_size=16, shuffle=True)
val_batches = [(x[:64], labels[:64])]
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = torch.nn.functional.cross_entropy
""",
}


def blocks(page: str) -> list[tuple[int, int, str, bool]]:
    """(number from 1, line, source, marked no-run) of each ```python block of a page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    out = []
    for number, match in enumerate(FENCE.finditer(text), 1):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        out.append((number, text[: match.start()].count("\n") + 2, match.group(1), before == NO_RUN_MARK))
    return out


def test_the_skipped_blocks_are_the_listed_ones():
    marked = {(page, n) for page in PAGES for n, _, _, mark in blocks(page) if mark}
    assert marked <= set(NO_RUN), "a block marked <!-- no-run --> must be listed in NO_RUN with its reason"
    for page, n in NO_RUN:
        assert page in PAGES and n <= len(blocks(page)), (page, n)
    assert len(NO_RUN) <= 3


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_runs(page, tmp_path, monkeypatch):
    found = blocks(page)
    if not found:
        pytest.skip(f"{page} has no python blocks")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__", "lk": lk}
    if page in PRELUDE:
        exec(compile(PRELUDE[page], f"{page}:prelude", "exec"), namespace)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for number, line, source, _ in found:
        if (page, number) in NO_RUN:
            continue
        where = f"{page}:{line} (block {number})"
        if re.search(r"^\s*>>>", source, re.M):
            test = doctest.DocTestParser().get_doctest(source, namespace, where, page, line)
            result = runner.run(test, clear_globs=False)
            assert result.failed == 0, f"doctest failed in {where}"
        else:
            try:
                exec(compile(source, where, "exec"), namespace)
            except Exception as err:  # name the block, keep the traceback
                raise AssertionError(f"{where} raised {type(err).__name__}: {err}") from err


# --------------------------------------------------------------------------------------------
# docs/migration.md: every row, driven the way the page says, against the real peer

STEPS = 60
SECTIONS = {"torch": "## PyTorch", "timm": "## timm", "hf": "## Hugging Face", "keras": "## Keras", "optax": "## optax"}


def migration_rows() -> dict[str, list[tuple[str, str]]]:
    """Section -> [(peer cell, lrkit cell)] of docs/migration.md's tables."""
    text = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    out: dict[str, list[tuple[str, str]]] = {}
    for key, heading in SECTIONS.items():
        start = text.index(heading)
        section = text[start : text.index("\n## ", start + 1)]
        rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # not the header; "|---|" is out
        out[key] = [tuple(cell.strip() for cell in row.strip("|").split(" | ", 1)) for row in rows]
    return out


def native(cell: str, bindings: dict):
    """The first code span of an lrkit cell, evaluated with lrkit's names and the row's parameters."""
    match = re.search(r"`([^`]+)`", cell)
    assert match, cell
    names = {name: getattr(lk, name) for name in lk.__all__}
    return eval(match.group(1), {"__builtins__": {"int": int, "sorted": sorted}, **names, **bindings})


def _scheduler(schedule, **kwargs):
    from lrkit.torch import Scheduler

    return lambda opt: Scheduler(opt, schedule, **kwargs)


def _torch(name, **kw):
    import torch

    return lambda opt: getattr(torch.optim.lr_scheduler, name)(opt, **kw)


def _timm_lrs(module, cls, lr, **kw):
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = getattr(timm_scheduler(module), cls)(opt, **kw)
    out = []
    for t in range(STEPS):
        sched.step(t)
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out)


def _hf(name, **kw):
    from transformers import get_scheduler

    return lambda opt: get_scheduler(name, opt, **kw)


LR = 0.1
ABSOLUTE = {"eta_min", "lr_min", "warmup_lr_init"}  # the peers' other learning rates (not multipliers)
# torch: (row's peer name, peer kwargs); the expression's names are the kwargs plus lr
TORCH = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 30], "gamma": 0.5}),
    ("ConstantLR", {"factor": 0.25, "total_iters": 8}),
    ("LinearLR", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 20}),
    ("ExponentialLR", {"gamma": 0.95}),
    ("PolynomialLR", {"total_iters": 30, "power": 2.0}),
    ("CosineAnnealingLR", {"T_max": STEPS - 1, "eta_min": 1e-3}),
    ("CosineAnnealingWarmRestarts", {"T_0": 10, "T_mult": 2, "eta_min": 1e-3}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10, "step_size_down": 15, "mode": "exp_range",
                  "gamma": 0.99}),
    ("… its momentum", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10, "step_size_down": 15,
                        "mode": "triangular2", "gamma": 1.0, "base_momentum": 0.8, "max_momentum": 0.9}),
    ("CyclicLR(..., scale_fn", None),  # an arbitrary function: no fixed formula
    ("OneCycleLR", {"max_lr": LR, "total_steps": STEPS, "pct_start": 0.3, "div_factor": 25, "final_div_factor": 1e4,
                    "three_phase": False}),
    ("… its momentum", {"max_lr": LR, "total_steps": STEPS, "pct_start": 0.3, "three_phase": False,
                        "base_momentum": 0.85, "max_momentum": 0.95}),
    ("SequentialLR", "sequential"),
    ("LambdaLR", None),  # an arbitrary function
    ("ReduceLROnPlateau", None),  # reactive: docs/reactive.md and tests/test_reactive_torch.py
]


def _check_torch(peer, ours, *, key="lr", momentum=None, tol=1e-9):
    theirs = torch_lrs(peer, STEPS, lr=LR, key=key, momentum=momentum)
    mine = torch_lrs(ours, STEPS, lr=LR, key=key, momentum=momentum)
    assert rel_diff(mine, theirs) <= tol, (mine[:12], theirs[:12])


@pytest.mark.parametrize("index", range(len(TORCH)))
def test_migration_torch_row(index):
    import torch

    from lrkit.compat import torch as ct

    rows = migration_rows()["torch"]
    assert len(rows) == len(TORCH), "a row was added to the torch table: add it to TORCH here"
    (peer_cell, cell), (name, kw) = rows[index], TORCH[index]
    assert peer_cell.lstrip("`").startswith(name), (peer_cell, name)
    if kw is None:
        pytest.skip(f"{name}: no fixed formula")
    if kw == "sequential":  # the pieces are the page's own StepLR/ExponentialLR/LinearLR rows
        pieces = dict(s0=lk.linear(5, start=0.2, end=1.0), s1=lk.exponential(0.9), s2=lk.step_decay(7, factor=0.5))
        schedule = native(cell, {**pieces, "m0": 5, "m1": 20})

        def peer(opt):
            return torch.optim.lr_scheduler.SequentialLR(
                opt,
                [torch.optim.lr_scheduler.LinearLR(opt, 0.2, 1.0, 5), torch.optim.lr_scheduler.ExponentialLR(opt, 0.9),
                 torch.optim.lr_scheduler.StepLR(opt, 7, 0.5)],
                milestones=[5, 20],
            )

        _check_torch(peer, _scheduler(schedule))
        return
    momentum_row = name.startswith("…")
    cls = rows[index - 1][0].strip("`").split("(")[0] if momentum_row else name
    if not momentum_row and rows[index + 1][0].startswith("…"):
        kw = {**kw, "cycle_momentum": False} if cls == "CyclicLR" else kw
    if cls == "OneCycleLR" and not momentum_row:
        kw = {**kw, "cycle_momentum": False}
    schedule = native(cell, {**kw, "lr": LR})
    if momentum_row:  # momentum is an absolute hyperparameter: hyper={"momentum": ...}
        peer_kw = dict(kw)
        ours = _scheduler(lk.constant(1.0), hyper={"momentum": schedule})
        compat = getattr(ct, "CyclicMomentum" if cls == "CyclicLR" else "OneCycleMomentum")
        compat_kw = {k: v for k, v in kw.items() if k in compat.__code__.co_varnames}
        if cls == "OneCycleLR":  # torch's phases end a step earlier (the row says so): compat is exact
            _check_torch(_torch(cls, **peer_kw), _scheduler(lk.constant(1.0), hyper={"momentum": compat(**compat_kw)}),
                         key="momentum", momentum=0.9)
            theirs = torch_lrs(_torch(cls, **peer_kw), STEPS, lr=LR, key="momentum", momentum=0.9)
            mine = torch_lrs(ours, STEPS, lr=LR, key="momentum", momentum=0.9)
            assert np.abs(mine - theirs).max() <= 0.1 * (0.95 - 0.85)
            return
        _check_torch(_torch(cls, **peer_kw), ours, key="momentum", momentum=0.9)
        _check_torch(_torch(cls, **peer_kw), _scheduler(lk.constant(1.0), hyper={"momentum": compat(**compat_kw)}),
                     key="momentum", momentum=0.9)
        return
    peer = _torch(cls, **kw)
    compat_kw = {k: v for k, v in kw.items() if k != "cycle_momentum"}
    if cls == "OneCycleLR":
        compat_kw.pop("max_lr")
        # compat, as the page says: lr=1.0 (a multiplier of the optimizer's lr = max_lr) or relative=()
        _check_torch(peer, _scheduler(ct.OneCycleLR(1.0, **compat_kw)))
        _check_torch(peer, _scheduler(ct.OneCycleLR(LR, **compat_kw), relative=()))
        # native: the same curve, with torch's phases one step earlier (documented in the row)
        theirs, mine = torch_lrs(peer, STEPS, lr=LR), torch_lrs(_scheduler(schedule), STEPS, lr=LR)
        assert np.abs(mine - theirs).max() <= 0.1 * LR
        return
    _check_torch(peer, _scheduler(schedule))
    compat = getattr(ct, cls)
    if cls == "CyclicLR":  # torch's CyclicLR ignores the optimizer's lr: the compat values are absolute
        _check_torch(peer, _scheduler(compat(**compat_kw), relative=()))
        return
    # lr=1.0: a multiplier, the peer's other learning rates as fractions of lr (as the page says)
    _check_torch(peer, _scheduler(compat(1.0, **{k: v / LR if k in ABSOLUTE else v for k, v in compat_kw.items()})))
    _check_torch(peer, _scheduler(compat(LR, **compat_kw), relative=()))  # the real lr, absolute


TIMM = [
    ("CosineLRScheduler", "cosine_lr", {"t_initial": 20, "lr_min": 1e-3, "cycle_mul": 2.0, "cycle_decay": 0.5,
                                        "cycle_limit": 3, "warmup_t": 5, "warmup_lr_init": 1e-3,
                                        "warmup_prefix": True}),
    ("PolyLRScheduler", "poly_lr", {"t_initial": 30, "power": 2.0, "lr_min": 1e-3}),
    ("TanhLRScheduler", "tanh_lr", {"t_initial": STEPS, "lr_min": 1e-3, "lb": -7.0, "ub": 3.0}),  # one cycle
    ("StepLRScheduler", "step_lr", {"decay_t": 7, "decay_rate": 0.5, "warmup_t": 3, "warmup_lr_init": 1e-3}),
    ("MultiStepLRScheduler", "multistep_lr", {"decay_t": [10, 25], "decay_rate": 0.5}),
]


@pytest.mark.parametrize("index", range(len(TIMM)))
def test_migration_timm_row(index):
    from lrkit.compat import timm as ctimm

    rows = migration_rows()["timm"]
    assert len(rows) == len(TIMM), "a row was added to the timm table: add it to TIMM here"
    (peer_cell, cell), (name, module, kw) = rows[index], TIMM[index]
    assert peer_cell.strip("`").startswith(name), (peer_cell, name)
    bindings = {**kw, "lr": LR}
    theirs = _timm_lrs(module, name, LR, **kw)
    if name == "MultiStepLRScheduler":  # the row says: timm decays one step earlier
        bindings["decay_t"] = [m - 1 for m in kw["decay_t"]]
    mine = torch_lrs(_scheduler(native(cell, bindings)), STEPS, lr=LR)
    assert rel_diff(mine, theirs) <= 1e-9, (mine[:12], theirs[:12])
    compat = getattr(ctimm, name)
    fractions = {k: v / LR if k in ABSOLUTE else v for k, v in kw.items()}
    assert rel_diff(torch_lrs(_scheduler(compat(1.0, **fractions)), STEPS, lr=LR), theirs) <= 1e-9
    assert rel_diff(torch_lrs(_scheduler(compat(LR, **kw), relative=()), STEPS, lr=LR), theirs) <= 1e-9


W, T = 5, 65
HF = [
    ('"constant"', "constant", {}, {}),
    ('"constant_with_warmup"', "constant_with_warmup", {"num_warmup_steps": W}, {}),
    ('"linear"', "linear", {"num_warmup_steps": W, "num_training_steps": T}, {}),
    ('"cosine"', "cosine", {"num_warmup_steps": W, "num_training_steps": T}, {}),
    ('"cosine_with_restarts"', "cosine_with_restarts", {"num_warmup_steps": W, "num_training_steps": T,
                                                        "scheduler_specific_kwargs": {"num_cycles": 3}}, {"n": 3}),
    ('"polynomial"', "polynomial", {"num_warmup_steps": W, "num_training_steps": T,
                                    "scheduler_specific_kwargs": {"lr_end": 1e-3, "power": 2.0}},
     {"lr_end": 1e-3, "power": 2.0}),
    ('"inverse_sqrt"', "inverse_sqrt", {"num_warmup_steps": W, "scheduler_specific_kwargs": {"timescale": 10}},
     {"timescale": 10}),
    ('"cosine_with_min_lr"', "cosine_with_min_lr", {"num_warmup_steps": W, "num_training_steps": T,
                                                    "scheduler_specific_kwargs": {"min_lr_rate": 0.1}},
     {"min_lr_rate": 0.1}),
    ('"cosine_warmup_with_min_lr"', None, None, None),  # "as above, shifted": tests/test_compat_transformers.py
    ('"warmup_stable_decay"', "warmup_stable_decay",
     {"num_warmup_steps": W, "scheduler_specific_kwargs": {"num_stable_steps": 20, "num_decay_steps": 30,
                                                            "min_lr_ratio": 0.1, "warmup_type": "linear",
                                                            "decay_type": "linear"}},
     {"S": 20, "D": 30, "m": 0.1, "shape": "linear"}),
    ('"reduce_lr_on_plateau"', None, None, None),  # reactive
]


@pytest.mark.parametrize("index", range(len(HF)))
def test_migration_transformers_row(index):
    pytest.importorskip("transformers")
    rows = migration_rows()["hf"]
    assert len(rows) == len(HF), "a row was added to the transformers table: add it to HF here"
    (peer_cell, cell), (label, name, kw, extra) = rows[index], HF[index]
    assert peer_cell.startswith(f"`{label}`"), (peer_cell, label)
    if name is None:
        pytest.skip(f"{label}: no fixed formula in the row")
    schedule = native(cell, {"W": W, "T": T, "lr": LR, **extra})
    _check_torch(_hf(name, **kw), _scheduler(schedule))


def _keras_values(name, **kw):
    pytest.importorskip("keras")
    import keras

    peer = getattr(keras.optimizers.schedules, name)(**kw)
    return np.asarray([float(peer(t)) for t in range(STEPS)])


KERAS = [
    ("ExponentialDecay", {"initial_learning_rate": LR, "decay_steps": 10, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 30], "values": [0.1, 0.05, 0.01]}),
    ("PolynomialDecay", {"initial_learning_rate": LR, "decay_steps": 40, "end_learning_rate": 1e-3, "power": 2.0}),
    ("InverseTimeDecay", {"initial_learning_rate": LR, "decay_steps": 10, "decay_rate": 0.5, "staircase": False}),
    ("CosineDecay", {"initial_learning_rate": LR, "decay_steps": 50, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 40, "alpha": 0.1, "warmup_target": LR,
                     "warmup_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": LR, "first_decay_steps": 10, "t_mul": 2.0, "m_mul": 0.5,
                             "alpha": 0.0}),
]
_KERAS_NAMES = {"initial_learning_rate": "init", "end_learning_rate": "end_learning_rate"}


@pytest.mark.parametrize("index", range(len(KERAS)))
def test_migration_keras_row(index):
    rows = migration_rows()["keras"]
    assert len(rows) == len(KERAS), "a row was added to the Keras table: add it to KERAS here"
    (peer_cell, cell), (name, kw) = rows[index], KERAS[index]
    assert peer_cell.strip("`").startswith(name), (peer_cell, name)
    theirs = _keras_values(name, **kw)
    schedule = native(cell, {_KERAS_NAMES.get(k, k): v for k, v in kw.items()})
    # absolute values, as lrkit.keras.LearningRateSchedule(schedule) (base_lr=1.0) uses them
    from lrkit.keras import LearningRateSchedule

    mine = np.asarray([float(LearningRateSchedule(schedule)(t)) for t in range(0, STEPS, 7)])
    peak = float(np.max(np.abs(theirs)))
    assert np.abs(schedule(np.arange(STEPS)) - theirs).max() <= 1e-6 * peak
    assert np.abs(mine - theirs[::7]).max() <= 1e-6 * peak


def _optax_values(name, *args, **kw):
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    peer = getattr(optax, name)(*args, **kw)
    return np.asarray([float(peer(jnp.asarray(t))) for t in range(STEPS)])


def _optax_join():
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    peer = optax.join_schedules(
        [optax.constant_schedule(0.1), optax.linear_schedule(0.1, 0.01, 20), optax.constant_schedule(0.01)], [10, 30]
    )
    return np.asarray(peer(jnp.arange(STEPS)), dtype=np.float64)


OPTAX = [
    ("constant_schedule", {"value": LR}, None),
    ("linear_schedule", {"init_value": LR, "end_value": 0.01, "transition_steps": 30, "transition_begin": 10}, None),
    ("polynomial_schedule", {"init_value": LR, "end_value": 0.01, "power": 2.0, "transition_steps": 30,
                             "transition_begin": 10}, None),
    ("cosine_decay_schedule", {"init_value": LR, "decay_steps": 40, "alpha": 0.1}, None),
    ("warmup_cosine_decay_schedule", {"init_value": 0.0, "peak_value": LR, "warmup_steps": 10, "decay_steps": 50,
                                      "end_value": 1e-3}, None),
    ("exponential_decay", {"init_value": LR, "transition_steps": 10, "decay_rate": 0.5, "transition_begin": 5,
                           "staircase": False, "end_value": 0.01}, None),
    ("warmup_exponential_decay_schedule", None, None),  # the row refers to the one above
    ("piecewise_constant_schedule", None, None),  # described in words
    ("piecewise_interpolate_schedule", None, None),  # a pattern (`...`)
    ("join_schedules", "join", {"s0": lk.constant(0.1), "s1": lk.linear(20, start=0.1, end=0.01),
                                "s2": lk.constant(0.01), "b0": 10, "b1": 30}),
    ("sgdr_schedule", None, None),  # described in words
    ("cosine_onecycle_schedule", {"transition_steps": 50, "peak_value": LR, "pct_start": 0.3, "div_factor": 25.0,
                                  "final_div_factor": 1e4}, None),
    ("linear_onecycle_schedule", {"transition_steps": 50, "peak_value": LR, "pct_start": 0.3, "pct_final": 0.85,
                                  "div_factor": 25.0, "final_div_factor": 1e4},
     {"T": 50, "peak": LR, "div": 25.0, "final_div": 1e4}),
]


@pytest.mark.parametrize("index", range(len(OPTAX)))
def test_migration_optax_row(index):
    rows = migration_rows()["optax"]
    assert len(rows) == len(OPTAX), "a row was added to the optax table: add it to OPTAX here"
    (peer_cell, cell), (name, kw, extra) = rows[index], OPTAX[index]
    assert peer_cell.strip("`").startswith(name), (peer_cell, name)
    if kw is None:
        pytest.skip(f"{name}: the row is not a single expression")
    if kw == "join":
        theirs, schedule = _optax_join(), native(cell, extra)
    else:
        theirs = _optax_values(name, **kw)
        schedule = native(cell, {**kw, **(extra or {})})
    # absolute values, as lrkit.optax.schedule(schedule) (base_lr=1.0) uses them
    peak = float(np.max(np.abs(theirs)))
    assert np.abs(schedule(np.arange(STEPS)) - theirs).max() <= 1e-6 * peak, name


def test_the_page_no_longer_multiplies_relative_schedules_by_lr():
    rows = migration_rows()
    for section in ("torch", "timm"):
        for _, cell in rows[section]:
            code = re.search(r"`([^`]+)`", cell)
            assert code is None or not re.search(r"\*\s*(lr|max_lr)\b", code.group(1)), cell


# --------------------------------------------------------------------------------------------
# the built site: a rendered reference entry for every public name

def _hooks():
    """docs/_hooks.py (the build's hooks), imported from its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lrkit_docs_hooks", ROOT / "docs" / "_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav() -> list:
    import yaml

    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]


#: the reference pages, from their one list (mkdocs.yml's nav), and the modules they render
API_PAGES = _hooks().api_pages(_nav())
MODULES = sorted(_hooks().documented_modules(API_PAGES))


def public_names() -> list[str]:
    out = []
    for name in MODULES:
        module = importlib.import_module(name)
        out += [f"{name}.{member}" for member in module.__all__]
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([mkdocs, "build", "--strict", "--quiet", "--site-dir", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


class _Entries(HTMLParser):
    """Per ``id`` of a heading: the text and whether a code block follows, up to the next heading."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, dict] = {}
        self.current: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3", "h4") and attrs.get("id", "").startswith("lrkit"):
            self.current = attrs["id"]
            self.entries[self.current] = {"text": "", "code": False}
        elif self.current and tag == "div" and (attrs.get("class") or "").split() == ["highlight"]:
            self.entries[self.current]["code"] = True  # an example (the signature's block is "doc-signature")

    def handle_data(self, data):
        if self.current:
            self.entries[self.current]["text"] += data


def test_every_public_name_has_a_rendered_entry_with_an_example(site):
    entries: dict[str, dict] = {}
    for page in sorted(site.glob("api/*.html")):
        parser = _Entries()
        parser.feed(page.read_text(encoding="utf-8"))
        entries.update(parser.entries)
    missing, undescribed, bare = [], [], []
    for name in public_names():
        entry = entries.get(name)
        if entry is None:
            missing.append(name)
            continue
        text = entry["text"].replace(name.rsplit(".", 1)[-1], "").strip()
        module = name.rsplit(".", 1)[0]
        # a module with one public name (lrkit.optax, lrkit.keras): its example may be the module's
        single = importlib.import_module(module)
        if not callable(getattr(single, name.rsplit(".", 1)[-1], None)):
            continue  # a constant: its entry shows its value

        in_module = any(mark in (single.__doc__ or "") for mark in (">>>", "::\n"))
        example = entry["code"] or (len(single.__all__) == 1 and in_module)
        if len(text) < 20:
            undescribed.append(name)
        elif not example:
            bare.append(name)
    # a constant without a docstring has no entry: griffe reads the string literal right after the assignment
    # (``X = ...`` then ``"""..."""``), not a Sphinx ``#:`` comment above it
    assert not missing, f"no reference entry: {missing}"
    assert not undescribed, f"reference entries without a description: {undescribed}"
    assert not bare, f"reference entries without an example: {sorted(bare)}"


def test_the_site_opens_from_disk(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="getting-started.html"' in index and 'href="api/lrkit.html"' in index
    assert (site / "img" / "gallery-cosine.png").is_file() and "img/gallery-cosine.png" in (
        site / "schedules.html"
    ).read_text(encoding="utf-8")
    assert (site / "bench" / "results" / "training_curves.png").is_file()


def test_screenshots(site, tmp_path):
    if _screenshots().browser() is None:
        pytest.skip("no headless browser: chromium is not installed (scripts/setup installs it where apt is there)")
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "screenshots.py"), "--site", str(site), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.glob("screenshot-*.png")) == [
        "screenshot-api.png", "screenshot-home.png", "screenshot-search.png"]


# --------------------------------------------------------------------------------------------
# the reference covers every public module; roles render as links; search works from disk


def test_every_public_module_has_a_reference_page():
    hooks = _hooks()
    assert hooks.undocumented(API_PAGES) == []
    for name in ("lrkit", "lrkit.curves", "lrkit.horizon", "lrkit.reactive", "lrkit.torch", "lrkit.torch.layerwise",
                 "lrkit.torch.record", "lrkit.torch.hf", "lrkit.torch.finder", "lrkit.finder", "lrkit.optax",
                 "lrkit.keras", "lrkit.compat.torch", "lrkit.compat.optax", "lrkit.plot"):
        assert name in MODULES, name


def test_a_module_without_a_page_fails_the_build_naming_it():
    from mkdocs.exceptions import PluginError

    hooks = _hooks()
    # a new module that no page covers
    assert hooks.undocumented(API_PAGES, [*hooks.public_modules(), "lrkit.torch.newframework"]) == [
        "lrkit.torch.newframework"
    ]
    # a listed module's line taken out of the nav: the build stops, naming it and the line to add
    nav = _nav()
    for section in nav:
        if isinstance(section, dict) and hooks.API_SECTION in section:
            section[hooks.API_SECTION] = [e for e in section[hooks.API_SECTION] if e != {
                "lrkit.torch.hf": "api/lrkit.torch.hf.md"}]
    with pytest.raises(PluginError) as info:
        hooks.on_config({"nav": nav})
    assert "lrkit.torch.hf" in str(info.value) and "- lrkit.torch.hf: api/lrkit.torch.hf.md" in str(info.value)


RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj):(?:`|<code>)")


def test_no_rendered_page_shows_a_raw_sphinx_role(site):
    raw = {}
    for page in sorted(site.rglob("*.html")):
        found = RAW_ROLE.findall(page.read_text(encoding="utf-8"))
        if found:
            raw[str(page.relative_to(site))] = len(found)
    assert not raw, f"raw Sphinx roles (:class:`X`) on rendered pages: {raw}"
    # the roles became links to the objects' entries: from another page, and inside one
    link = r'<a class="autorefs autorefs-internal"[^>]*href="{}"'
    hf_page = (site / "api" / "lrkit.torch.hf.html").read_text(encoding="utf-8")  # :class:`Scheduler` there
    assert re.search(link.format(r"torch\.html#lrkit\.torch\.Scheduler"), hf_page)
    horizon = (site / "api" / "lrkit.horizon.html").read_text(encoding="utf-8")
    assert re.search(link.format(r"lrkit\.html#lrkit\.rewarm"), horizon)  # :func:`rewarm` in lrkit.horizon


def test_the_scheduler_reference_shows_its_checkpoint_methods(site):
    page = (site / "api" / "torch.html").read_text(encoding="utf-8")
    for entry in ("lrkit.torch.Scheduler.state_dict", "lrkit.torch.Scheduler.load_state_dict"):
        assert f'id="{entry}"' in page, entry
    assert "horizon" in page[page.index('id="lrkit.torch.Scheduler.load_state_dict"'):]


def _screenshots():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lrkit_docs_screenshots", ROOT / "docs" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_site_searches_offline_opened_from_disk(site):
    shots = _screenshots()
    if shots.browser() is None:
        pytest.skip("no headless browser: chromium is not installed (scripts/setup installs it where apt is there)")
    assert (site / "search" / "search_index.js").is_file()  # the offline plugin's inlined index
    assert (site / "assets" / "iframe-worker" / "shim.js").is_file()
    assert "unpkg.com" not in (site / "index.html").read_text(encoding="utf-8")  # nothing loaded from outside
    found = shots.search_results(site, "cosine")
    assert found, "the search box listed nothing for 'cosine' (opened from disk in headless Chromium)"
    assert any("cosine" in title.lower() or "lrkit" in title.lower() for title in found), found


def test_the_curves_figure_is_drawn_by_lrkit(tmp_path):
    pytest.importorskip("matplotlib")
    import importlib.util

    spec = importlib.util.spec_from_file_location("lrkit_docs_curves_figure", ROOT / "docs" / "curves_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = module.figure(tmp_path / "curves.png")
    assert path.stat().st_size > 20_000
    assert (ROOT / "docs" / "img" / "curves-fit-predict.png").is_file()  # the committed one, for docs/curves.md
