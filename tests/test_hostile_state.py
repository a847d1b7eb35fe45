"""A hostile sweep of lrkit's stateful objects (round 5): each defect it found, as a test that failed on main (6db073d).

The sweep (construction with odd arguments, ``step`` with odd metrics, ``state_dict``/``load_state_dict`` with
garbled states, pickling and deepcopy, clocks with odd time sources) is listed with its outcome in the branch's
report; the cases that already behaved are covered by test_state_*.py, test_torch_hardening.py and test_clock.py.
Here: the ones that did not.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import lrkit as lk
from lrkit.reactive import Controller
from lrkit.reactive._schema import Reader
from lrkit.reactive.controller import FakeClock, WallClock
from lrkit.torch import Scheduler

SCHEDULE = lk.warmup(5) >> lk.cosine(100)


def _opt(groups: int = 1, lr: float = 0.1) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)]} for _ in range(groups)], lr=lr)


def _run(sched: Scheduler, n: int, **step: object) -> list[float]:
    for _ in range(n):
        sched.optimizer.step()
        sched.step(**step)  # type: ignore[arg-type]
    return [g["lr"] for g in sched.optimizer.param_groups]


# -- pickling and deepcopy once the fast path is armed, or a token/clock schedule evaluated by its scalar form ----
@pytest.mark.parametrize(
    "make, step",
    [
        (lambda: Scheduler(_opt(), SCHEDULE), {}),
        (lambda: Scheduler(_opt(2), [SCHEDULE, lk.linear(50)]), {}),
        (lambda: Scheduler(_opt(), lk.linear(1000), advance="tokens"), {"tokens": 7}),
        (lambda: Scheduler(_opt(), SCHEDULE, clock=WallClock(budget=100.0, clock=FakeClock())), {}),
        (lambda: Scheduler(_opt(), lk.constant(1.0, 100) * lk.plateau(patience=1, factor=0.5)), {"metric": 1.0}),
        (lambda: Scheduler(_opt(), lk.warmup(2) >> (lk.constant(1.0, 100) * lk.plateau(patience=1))), {"metric": 1.0}),
    ],
    ids=["armed fast path", "two schedules", "tokens", "clock", "plateau", "plateau in a piece"],
)
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "torch.save"])
def test_a_running_scheduler_pickles_and_deepcopies(make, step, how: str) -> None:
    sched = make()
    _run(sched, 8, **step)  # past EPOCH_CALLS: the fast path is armed on a block of values
    if how == "pickle":
        twin = pickle.loads(pickle.dumps(sched))
    elif how == "deepcopy":
        twin = copy.deepcopy(sched)
    else:
        import io

        buffer = io.BytesIO()
        torch.save(sched, buffer)
        buffer.seek(0)
        twin = torch.load(buffer, weights_only=False)
    assert twin.updates == sched.updates and twin.state_dict() == sched.state_dict()
    # the learning rates the copy goes on to write: the original's, update by update (a clock's copy reads its own
    # copied time source: both advanced alike)
    for _ in range(20):
        for run in (sched, twin):
            if run._clock is not None:
                run._clock.clock.advance(1.5)
        assert _run(twin, 1, **step) == _run(sched, 1, **step)
    assert twin.optimizer is not sched.optimizer


# -- state_dict hands out copies: editing the returned dict changes nothing in the Scheduler ----------------------
def test_editing_a_returned_state_leaves_the_scheduler_alone() -> None:
    sched = Scheduler(_opt(2), SCHEDULE, lr_scale=[1.0, 0.5])
    state = sched.state_dict()
    state["lr_scale"][1] = 9.0
    assert sched.state_dict()["lr_scale"] == [1.0, 0.5]
    sched.optimizer.load_state_dict(sched.optimizer.state_dict())  # rebuilds the write plan from lr_scale
    _run(sched, 3)
    assert [g["lr"] for g in sched.optimizer.param_groups] == sched.value_at(3)
    assert sched.value_at(3)[1] == pytest.approx(0.5 * sched.value_at(3)[0])


# -- construction: a string or a number where a collection is expected, a time source where a WallClock is --------
@pytest.mark.parametrize(
    "kwargs, names",
    [
        ({"relative": "lr"}, r"relative must be a list of scheduled keys.*got .lr. \(a str"),
        ({"relative": None}, r"relative must be a list of scheduled keys"),
        ({"lr_scale": 0.5}, r"lr_scale must be a list of multipliers, one per param group.*got 0.5"),
        ({"lr_scale": "0.5"}, r"lr_scale must be a list of multipliers, one per param group.*got '0.5'"),
        ({"lr_scale": {"a": 1.0}}, r"lr_scale must be a list of multipliers"),
        ({"hyper": [("momentum", lk.cosine(10))]}, r"hyper must be a dict of key -> schedule"),
        ({"clock": FakeClock()}, r"clock must be a lrkit.reactive.WallClock.*WallClock\(clock=FakeClock\(\)\)"),
        ({"clock": __import__("time").monotonic}, r"clock must be a lrkit.reactive.WallClock"),
        ({"clock": 5.0}, r"clock must be a lrkit.reactive.WallClock"),
    ],
)
def test_construction_refuses_the_wrong_kind_of_argument(kwargs: dict, names: str) -> None:
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=names):
        Scheduler(opt, SCHEDULE, **kwargs)


# -- metrics: one conversion, refusing what is not a number ---------------------------------------------------------
@pytest.mark.parametrize("metric", ["1.0", "nan", b"1"], ids=["str", "str nan", "bytes"])
def test_step_refuses_a_metric_that_is_not_a_number(metric: object) -> None:
    sched = Scheduler(_opt(), lk.constant(1.0, 100) * lk.plateau(patience=0, factor=0.5))
    _run(sched, 1, metric=1.0)
    before = sched.state_dict()
    for _ in range(5):  # the general path, then the armed fast path
        with pytest.raises(ValueError, match=r"metric must be a number.*got"):
            sched.optimizer.step()
            sched.step(metric)
        sched.step(2.0 if _ % 2 else 1.0)
    assert before["controllers"] != sched.state_dict()["controllers"]  # the numbers were fed, the others not


@pytest.mark.parametrize("metric", ["1.0", "nan"])
def test_controller_refuses_a_metric_that_is_not_a_number(metric: object) -> None:
    c = Controller(lk.constant(1.0) * lk.plateau(patience=0, factor=0.5))
    with pytest.raises(ValueError, match=r"metric must be a number"):
        c.observe(metric)  # type: ignore[arg-type]
    assert c.states[0].calls == 0


def test_a_metric_tensor_that_requires_grad_is_read_without_a_warning() -> None:
    sched = Scheduler(_opt(), lk.constant(1.0, 100) * lk.plateau(patience=0, factor=0.5))
    loss = (torch.ones(1, requires_grad=True) * 2.0).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(sched, 1, metric=loss)
        _run(sched, 1, metric=loss * 2)
    assert sched.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


# -- clocks: a time source that does not return seconds, a FakeClock given odd times -------------------------------
@pytest.mark.parametrize(
    "source", [lambda: "3", lambda: None, FakeClock, lambda: True], ids=["str", "None", "class", "bool"]
)
def test_wall_clock_refuses_a_source_that_does_not_return_seconds(source) -> None:
    clock = WallClock(clock=source)
    with pytest.raises(ValueError, match=r"WallClock: the clock returned .*; it must return finite seconds"):
        clock.elapsed()


@pytest.mark.parametrize("budget", [np.int64(100), np.float32(100.0)])
def test_wall_clock_takes_a_numpy_budget(budget: object) -> None:
    fake = FakeClock()
    clock = WallClock(budget=budget, clock=fake)  # type: ignore[arg-type]
    clock.start()
    fake.advance(25)
    assert clock.budget == 100.0 and type(clock.budget) is float and clock.progress(lk.cosine(1000)) == 250.0


@pytest.mark.parametrize("start", [float("nan"), float("inf"), "5", None])
def test_fake_clock_refuses_a_start_that_is_not_seconds(start: object) -> None:
    with pytest.raises(ValueError, match=r"FakeClock: start must be a finite number of seconds"):
        FakeClock(start)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", ["3", None, float("inf")])
def test_fake_clock_advance_refuses_what_is_not_seconds(seconds: object) -> None:
    fake = FakeClock(1.0)
    with pytest.raises(ValueError, match=r"FakeClock.advance: seconds must be a finite number >= 0"):
        fake.advance(seconds)  # type: ignore[arg-type]
    assert fake() == 1.0


# -- a state whose keys are not strings: one ValueError, not a KeyError ---------------------------------------------
def test_a_state_with_a_key_that_is_not_a_string_is_refused_by_name() -> None:
    sched = Scheduler(_opt(), SCHEDULE)
    state = {**sched.state_dict(), 1: 2}
    with pytest.raises(ValueError, match=r"state\['1'\] must be absent"):
        sched.load_state_dict(state)
    with pytest.raises(ValueError, match=r"state\['1'\] must be absent"):
        Reader("x", {1: 2}, "y").only({"a"})


# -- numpy counts where an integer is expected; a model that is not a Module ----------------------------------------
def test_batch_ramp_takes_numpy_counts() -> None:
    from lrkit.reactive.batches import BatchRamp

    ramp = BatchRamp(lk.piecewise_constant([64], [16, 32]), tokens_per_sample=np.int64(2), multiple=np.int64(4))
    plain = BatchRamp(lk.piecewise_constant([64], [16, 32]), tokens_per_sample=2, multiple=4)
    assert ramp.size(np.int64(70)) == plain.size(70) == 32
    assert ramp.size(np.float32(10.0)) == plain.size(10.0) == 16
    got = list(ramp.batches(range(100), consumed=np.int64(20), rank=np.int64(1), world=np.int64(2)))
    assert got == list(plain.batches(range(100), consumed=20, rank=1, world=2))


def test_layerwise_refuses_what_is_not_a_module_and_takes_numpy_numbers() -> None:
    from lrkit.torch import layerwise

    with pytest.raises(ValueError, match=r"param_groups: model must be a torch.nn.Module, got list"):
        layerwise.param_groups([torch.zeros(2)], 0.1)  # type: ignore[arg-type]
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    mine = layerwise.param_groups(model, np.float32(0.5), decay=np.float32(0.5), weight_decay=np.float32(0.25))
    plain = layerwise.param_groups(model, 0.5, decay=0.5, weight_decay=0.25)
    assert [(g["lr"], g["weight_decay"]) for g in mine] == [(g["lr"], g["weight_decay"]) for g in plain]
    assert all(type(g["lr"]) is float for g in mine)


# -- the Recorder reads its state through the one schema reader; it says why it cannot be copied -------------------
def test_recorder_state_is_read_by_the_schema_reader(tmp_path) -> None:
    from lrkit.torch.record import Recorder

    rec = Recorder(_opt(), tmp_path / "run.csv", exists="overwrite")
    for state, key in [
        ({"version": 1.0, "updates": 3, "rows": 3}, "version"),  # a float version was taken as 1
        ({"version": 1, "updates": 3, 7: 3}, "7"),  # a key that is not a str: named, not a KeyError
        ({"version": 1, "updates": 3}, "rows"),
    ]:
        with pytest.raises(ValueError, match=rf"Recorder.load_state_dict: state\['{key}'\] must be"):
            rec.load_state_dict(state)
    assert (rec.updates, rec.rows) == (0, 0)
    with pytest.raises(TypeError, match=r"Recorder: a Recorder writes a file .* checkpoint its state_dict\(\)"):
        copy.deepcopy(rec)
    rec.close()


# -- a wall clock under torch.distributed with agree="max": the checkpoint holds the agreed seconds -----------------
_AGREED_WORKER = """
import json, sys, torch, torch.distributed as dist, lrkit as lk
from lrkit.reactive.controller import FakeClock, WallClock
from lrkit.torch import Scheduler

rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
dist.init_process_group("gloo", init_method="file://" + init, rank=rank, world_size=world)
rate = 1.0 + 0.5 * rank  # rank 1's clock runs 1.5x: it is the slowest rank, whose seconds agree="max" follows


def make(fake):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return Scheduler(opt, lk.linear(100), clock=WallClock(budget=100.0, clock=fake, agree="max")), opt


fake = FakeClock()
sched, opt = make(fake)
full = []
for k in range(40):
    fake.advance(rate)
    opt.step()
    sched.step()
    full.append(opt.param_groups[0]["lr"])
    if k == 19:
        state = sched.state_dict()  # every rank's; a framework saves rank 0's
box = [state]
dist.broadcast_object_list(box, src=0)
fake = FakeClock()
resumed, opt = make(fake)
resumed.load_state_dict(box[0])
again = []
for k in range(20, 40):
    fake.advance(rate)
    opt.step()
    resumed.step()
    again.append(opt.param_groups[0]["lr"])
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump({"full": full[20:], "resumed": again, "saved": state["clock"]["elapsed"]}, f)
"""


def test_a_checkpoint_of_a_clock_agreed_across_ranks_resumes_at_the_agreed_seconds(tmp_path) -> None:
    import torch.distributed as dist

    from _ranks import run_ranks

    if not dist.is_available():
        pytest.skip("torch.distributed is not available in this build")
    ranks = run_ranks(_AGREED_WORKER, 2, tmp_path, str(tmp_path / "init"), str(tmp_path))
    assert [r["saved"] for r in ranks] == [30.0, 30.0]  # the slowest rank's 20 x 1.5 s, not rank 0's own 20 s
    for r in ranks:
        assert r["resumed"] == r["full"]  # was 0.0785 where the uninterrupted run had 0.0685: 10 s given back


# -- load_state_dict(horizon=...) is checked even when the schedules match (a typo waited for the day they differ)
@pytest.mark.parametrize("horizon", ["keepstep", 5, ["keep_step"]])
@pytest.mark.parametrize("other", [False, True], ids=["same schedules", "other schedules"])
def test_load_state_dict_refuses_an_unknown_horizon_rule(horizon: object, other: bool) -> None:
    saved = Scheduler(_opt(), lk.cosine(100))
    _run(saved, 3)
    sched = Scheduler(_opt(), lk.cosine(200) if other else lk.cosine(100))
    before = sched.state_dict()
    with pytest.raises(ValueError, match=r"load_state_dict: horizon must be a horizon rule, one of 'keep_step'"):
        sched.load_state_dict(saved.state_dict(), horizon=horizon)
    assert sched.state_dict() == before


# -- a plateau's own state loads back, whatever its peer rule (optax/Keras counters may pass patience) ---------------
@pytest.mark.parametrize("rule", ["torch", "optax", "keras"])
@pytest.mark.parametrize("patience", [0, 1, 3])
@pytest.mark.parametrize("min_scale", [0.0, 0.5])
def test_every_state_a_plateau_reaches_loads_back(rule: str, patience: int, min_scale: float) -> None:
    # optax's rule with patience=0 reduces only on improving calls, and Keras' stops reducing at its floor: either
    # way the bad-call count grows past patience, and the Controller refused the state it had saved itself
    schedule = lk.constant(1.0) * lk.plateau(patience=patience, factor=0.5, min_scale=min_scale, cooldown=1, rule=rule)
    c = Controller(schedule)
    for i, m in enumerate([1.0, 0.5, *[0.6 + 0.01 * k for k in range(20)], float("nan"), 0.1, 0.1]):
        c.observe(m, i)
        twin = Controller(schedule)
        twin.load_state_dict(c.state_dict())
        assert twin.state_dict() == c.state_dict()


def test_a_scheduler_with_a_keras_rule_plateau_at_its_floor_resumes() -> None:
    schedule = lk.constant(1.0, 100) * lk.plateau(patience=1, factor=0.5, min_scale=0.25, rule="keras")
    sched = Scheduler(_opt(), schedule)
    for k in range(12):
        _run(sched, 1, metric=1.0 + k)  # worse every time: down to the floor, then counting on
    resumed = Scheduler(_opt(), schedule)
    resumed.load_state_dict(sched.state_dict())
    assert resumed.state_dict() == sched.state_dict()
    assert _run(resumed, 5, metric=0.5) == _run(sched, 5, metric=0.5)


def test_extending_a_wsd_run_to_a_bad_length_names_extend():
    from lrkit import horizon

    with pytest.raises(ValueError, match=r"^extend: steps must be > 0, got -5"):
        horizon.extend(lk.wsd(1000, warmup=100), -5)
    with pytest.raises(ValueError, match=r"^extend: .*warmup \+ decay must be <= steps"):
        horizon.extend(lk.wsd(1000, warmup=100), 50)
    assert horizon.extend(lk.wsd(1000, warmup=100), 5000) == lk.wsd(5000, warmup=100, decay=200.0)


# -- round 3, stop 8's sweep: each defect as a test that failed before its fix -----------------------------------------
def _token_sched(schedule: lk.Schedule) -> Scheduler:
    return Scheduler(_opt(), schedule, advance="tokens")


def test_a_refused_metric_with_a_count_leaves_the_count_as_it_was() -> None:
    # step(metric=nan, tokens=50) with nan="raise": the documented ValueError, but the 50 tokens had been added and
    # the Scheduler's own state_dict() (updates 100, counter 150) no longer loaded
    schedule = lk.linear(10_000) * lk.plateau(nan="raise")
    sched = _token_sched(schedule)
    _run(sched, 1, tokens=100)
    before = sched.state_dict()
    sched.optimizer.step()
    with pytest.raises(ValueError, match="diverged"):
        sched.step(metric=float("nan"), tokens=50)
    assert sched.state_dict() == before
    twin = _token_sched(schedule)
    twin.load_state_dict(sched.state_dict())
    assert _run(twin, 3, tokens=10, metric=1.0) == _run(sched, 3, tokens=10, metric=1.0)


def test_a_metric_without_a_plateau_refused_with_a_count_leaves_the_count() -> None:
    sched = _token_sched(lk.linear(10_000))
    _run(sched, 1, tokens=100)
    before = sched.state_dict()
    with pytest.raises(ValueError, match="plateau"):
        sched.step(metric=0.5, tokens=50)
    assert sched.state_dict() == before


def test_a_metric_alone_feeds_a_token_schedules_plateau_without_advancing() -> None:
    # the documented sched.step(metric=val_loss) after an evaluation raised "pass the tokens" with advance="tokens"
    schedule = lk.cosine(100_000) * lk.plateau(patience=0, factor=0.5)
    sched = _token_sched(schedule)
    _run(sched, 3, tokens=512)
    sched.step(metric=1.0)
    assert sched.updates == 3 * 512
    sched.step(metric=2.0)  # worse, patience 0: halved, at the same progress
    assert sched.updates == 3 * 512
    assert sched.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 * lk.cosine(100_000)(3 * 512))
    sched.count(tokens=7)
    sched.step(metric=2.0)  # a count pending: the update it belongs to is made (step(tokens=7, metric=2.0))
    assert sched.updates == 3 * 512 + 7


def test_the_framework_feed_gives_a_token_schedules_plateau_its_metric() -> None:
    from lrkit.torch._feeding import Feed, counter

    sched = _token_sched(lk.cosine(100_000) * lk.plateau(patience=0, factor=0.5))
    feed = Feed("SchedulerCallback", sched, counter("SchedulerCallback", "attention_mask"), "val_loss")
    for _ in range(3):
        feed.batch({"attention_mask": torch.ones(4, 128, dtype=torch.long)})
        sched.optimizer.step()
        sched.step()
    feed.metric(0.7)
    feed.metric(0.9)
    assert sched.updates == 3 * 512
    assert sched.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * lk.cosine(100_000)(3 * 512))


@pytest.mark.parametrize("fused", [False, True])
def test_updates_a_grad_scaler_skips_inside_a_fused_optimizer_do_not_count(fused: bool) -> None:
    # AdamW(fused=True) supports AMP scaling: GradScaler calls its step() with found_inf set and the kernel skips
    # the update, but the step post-hook ran and the schedule advanced (docs/torch.md: a skipped update does not)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)
    sched = Scheduler(opt, lk.warmup(10) >> lk.cosine(90))
    scaler = torch.amp.GradScaler("cpu")
    for overflow in (True, True, False, True, False):
        loss = model(torch.randn(8, 4)).sum() * (float("inf") if overflow else 1.0)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        sched.step()
    assert sched.updates == 2
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3 * (lk.warmup(10) >> lk.cosine(90))(2))


def test_a_second_scheduler_on_a_driven_optimizer_keeps_the_base_and_warns() -> None:
    # a re-run notebook cell: the new Scheduler took the first one's warmup value (0.1 / 11) as its base, every
    # rate 11x too small, no word (torch's second LambdaLR takes initial_lr: 0.1)
    schedule = lk.warmup(10) >> lk.cosine(90)
    opt = _opt(groups=2)
    first = Scheduler(opt, schedule)
    sched = Scheduler(opt, schedule)
    assert sched.base_lrs == [0.1, 0.1]
    with pytest.warns(UserWarning, match=r"driven by another lrkit Scheduler.*base values \(lr 0.1") as caught:
        _run(sched, 10)
    assert len(caught) == 1 and caught[0].filename == __file__  # once, pointing at the step() call
    assert opt.param_groups[1]["lr"] == pytest.approx(0.1)
    with pytest.raises(RuntimeError, match="changed outside lrkit"):
        opt.step()
        first.step()  # two Schedulers on one optimizer: the old one's step is refused


def test_a_second_scheduler_that_loads_a_checkpoint_first_says_nothing() -> None:
    # rebuilding the Scheduler mid-run and loading its state (a horizon change in one process): the state's bases
    # govern, so nothing is said
    opt = _opt()
    first = Scheduler(opt, lk.cosine(100))
    _run(first, 4)
    sched = Scheduler(opt, lk.cosine(200))
    sched.load_state_dict(first.state_dict(), horizon="same_fraction")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(sched, 3)


def test_a_new_scheduler_after_a_chosen_base_takes_that_base_without_a_word() -> None:
    # the documented way to change the base mid-run: write the new lr, build a new Scheduler
    opt = _opt()
    first = Scheduler(opt, lk.cosine(100))
    _run(first, 5)
    for group in opt.param_groups:
        group["lr"] = 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched = Scheduler(opt, lk.cosine(100))
    assert sched.base_lrs == [0.02]
    del first


def test_a_load_refused_while_applying_leaves_the_scheduler_as_it_was() -> None:
    schedule = lk.constant(1.0, 2000) >> lk.constant(1e300) * 1e10
    sched = Scheduler(_opt(), schedule)
    _run(sched, 10)
    state = sched.state_dict()
    state["updates"] = 2500  # where the schedule is not finite
    before = sched.state_dict()
    with pytest.raises(ValueError):
        sched.load_state_dict(state)
    assert sched.state_dict() == before
    assert _run(sched, 1) == [0.1]


@pytest.mark.parametrize("controllers", [5, "x", None])
def test_tampered_controllers_with_a_horizon_are_refused_by_name(controllers: object) -> None:
    saved = Scheduler(_opt(), lk.cosine(1000))
    state = saved.state_dict()
    state["controllers"] = controllers
    other = Scheduler(_opt(), lk.cosine(3000))
    before = other.state_dict()
    with pytest.raises(ValueError, match=r"state\['controllers'\]"):
        other.load_state_dict(state, horizon="keep_step")
    assert other.state_dict() == before


@pytest.mark.parametrize(
    "tokens",
    [
        100,
        100.0,
        np.int64(100),
        np.uint16(100),
        np.float64(100.0),
        np.float32(100.0),
        torch.tensor(100),
        torch.tensor(100.0),
        torch.tensor([100]),
        torch.tensor(100, dtype=torch.int32),
    ],
)
def test_a_whole_token_count_is_taken_whatever_its_type(tokens: object) -> None:
    # 100.0 and np.float64(100.0) were taken while np.float32(100.0) and tensor(100.) were refused: one rule now
    sched = _token_sched(lk.linear(10**6))
    sched.step(tokens=tokens)
    assert sched.updates == 100


@pytest.mark.parametrize(
    "tokens",
    [
        2.5,
        np.float32(2.5),
        torch.tensor(2.5),
        float("nan"),
        float("inf"),
        np.float64("inf"),
        True,
        np.bool_(True),
        torch.tensor(True),
        torch.tensor([1, 2]),
        -3,
        torch.tensor(-3.0),
        "100",
        1 + 0j,
    ],
)
def test_a_count_that_is_no_whole_number_is_refused_by_name(tokens: object) -> None:
    sched = _token_sched(lk.linear(10**6))
    with pytest.raises(ValueError, match=r"tokens=\.\.\.\)? ?.*(whole|>= 0)"):
        sched.step(tokens=tokens)
    assert sched.updates == 0


def test_a_group_added_under_per_group_schedules_is_refused_before_anything_moves() -> None:
    opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]} for _ in range(2)], lr=0.1, momentum=0.9)
    sched = Scheduler(opt, lk.cosine(100), hyper={"momentum": [lk.constant(0.9), lk.constant(0.8)]})
    _run(sched, 1)
    before = sched.state_dict()
    opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    opt.step()
    with pytest.raises(ValueError, match="one schedule per group"):
        sched.step()
    assert {k: len(v) for k, v in sched.state_dict()["base"].items()} == {"lr": 2, "momentum": 2}
    assert sched.state_dict()["base"] == before["base"]


def test_keys_that_shared_a_schedule_when_saved_are_named_on_a_horizon_change() -> None:
    # lr and weight decay saved with equal schedules (one shared row), resumed with only the lr's made longer: the
    # refusal said "build the Scheduler with assign as saved", and assign is no Scheduler argument
    def build(lr: lk.Schedule, wd: lk.Schedule) -> Scheduler:
        opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3, weight_decay=0.01)
        return Scheduler(opt, lr, hyper={"weight_decay": wd}, relative=("lr", "weight_decay"))

    saved = build(lk.cosine(1000), lk.cosine(1000))
    _run(saved, 30)
    longer = build(lk.cosine(2000), lk.cosine(1000))
    with pytest.raises(ValueError, match=r"state\['assign'\].*shared one schedule.*equal schedules where they were"):
        longer.load_state_dict(saved.state_dict(), horizon="same_fraction")
    same_sharing = build(lk.cosine(2000), lk.cosine(2000))
    same_sharing.load_state_dict(saved.state_dict(), horizon="same_fraction")
    assert same_sharing.updates == 30


def test_a_metric_fed_in_the_middle_of_accumulation_leaves_the_pending_count_to_its_update() -> None:
    # validation between two micro-batches of one update (val_check_interval off an update boundary): the callback's
    # metric consumed the tokens counted so far as an update of their own
    from lrkit.torch._feeding import Feed, counter

    schedule = lk.cosine(100_000) * lk.plateau(patience=5)
    sched = _token_sched(schedule)
    feed = Feed("SchedulerCallback", sched, counter("SchedulerCallback", "attention_mask"), "val_loss")
    batch = {"attention_mask": torch.ones(2, 64, dtype=torch.long)}
    feed.batch(batch)
    feed.metric(0.7)  # mid-accumulation
    assert sched.updates == 0
    feed.batch(batch)
    sched.optimizer.step()
    sched.step()
    assert sched.updates == 256
