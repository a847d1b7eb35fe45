"""Constructors reject bad parameters with a message that repeats the value and says the fix;
combinators do what their formulas say."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import lrkit as lk


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lk.cosine(-3), "cosine: steps must be > 0, got -3"),
        (lambda: lk.cosine(0), "cosine: steps must be > 0, got 0"),
        (lambda: lk.cosine(float("nan")), "cosine: steps must be a finite number (not NaN or inf), got nan"),
        (lambda: lk.cosine(10, floor=float("inf")), "floor must be a finite number"),
        (lambda: lk.cosine(10, floor=2.0), "floor must be <= peak, got floor=2.0 > peak=1.0"),
        (lambda: lk.cosine("10"), "steps must be a finite number, got '10'"),
        (lambda: lk.cosine(True), "steps must be a finite number, got True"),
        (lambda: lk.warmup(10, start=2.0), "start must be <= peak"),
        (lambda: lk.warmup(10, start=0.0, shape="exp"), "shape='exp' needs start > 0"),
        (lambda: lk.warmup(10, shape="square"), "shape must be one of 'linear', 'cos', 'exp', got 'square'"),
        (lambda: lk.step_decay(10, decay=1.5), "decay must be in (0, 1], got 1.5"),
        (lambda: lk.step_decay(10, factor=0), "decay must be in (0, 1], got 0"),  # the old name, checked as decay
        (lambda: lk.exponential(-0.5), "decay must be in (0, 1]"),
        (lambda: lk.cosine(10**400), "steps must be a finite number of at most 1.8e+308, got an integer of 401 digits"),
        (lambda: lk.multistep([30, 10]), "milestones must be strictly increasing, got [30, 10]"),
        (lambda: lk.multistep([10, 10]), "strictly increasing"),
        (lambda: lk.multistep([]), "milestones must not be empty"),
        (lambda: lk.multistep([0, 10]), "milestones must be > 0"),
        (lambda: lk.piecewise_constant([10], [1.0]), "one more entry than boundaries"),
        (lambda: lk.piecewise_linear([1, 10], [1.0, 0.0]), "knots must start at 0"),
        (lambda: lk.sgdr(10, mult=0.5), "mult must be >= 1, got 0.5"),
        (lambda: lk.sgdr(10, cycles=0), "cycles must be an integer >= 1, got 0"),
        (lambda: lk.untuned_warmup(1.0), "beta2 must be in (0, 1), got 1.0"),
        (lambda: lk.warmup_cosine(100, warmup=200), "warmup must be < steps, got warmup=200 >= steps=100"),
        (lambda: lk.wsd(100, warmup=60, decay=50), "warmup + decay must be <= steps"),
        (lambda: lk.one_cycle(100, pct_start=1.2), "pct_start must be in (0, 1.0), got 1.2"),
        (lambda: lk.one_cycle(100, pct_start=0.6, three_phase=True), "pct_start must be in (0, 0.5)"),
        (lambda: lk.flat_cosine(100, flat=1.0), "flat must be in (0, 1), got 1.0"),
        (lambda: lk.step_decay(10) >> lk.cosine(10), "piece 0 step_decay(10) is infinite"),
        (lambda: lk.repeat(lk.inverse_sqrt()), "only a finite schedule can repeat"),
        (lambda: lk.repeat(lk.plateau()), "must have a length > 0 to repeat"),
        (lambda: lk.shift(lk.linear(10), 10), "by must be < the schedule's length 10, got 10"),
        (lambda: lk.clamp(lk.linear(10)), "give low, high or both"),
        (lambda: lk.clamp(lk.linear(10), low=0.5, high=0.1), "low must be <= high"),
        (lambda: lk.cosine(10) * -1.0, "by must be >= 0, got -1.0"),
        # a value below 0 is a negative learning rate (SGD would climb the loss): refused as `* -1` is
        (lambda: lk.constant(-1.0), "constant: value must be >= 0, got -1.0"),
        (lambda: lk.cosine(10, floor=-1), "cosine: floor must be >= 0, got -1"),
        (lambda: lk.linear(10, 1.0, -1.0), "linear: end must be >= 0, got -1.0"),
        (lambda: lk.anneal(10, start=-1.0, end=1.0), "anneal: start must be >= 0"),
        (lambda: lk.polynomial(10, end=-0.5), "polynomial: end must be >= 0"),
        (lambda: lk.piecewise_constant([10], [1.0, -0.5]), "values[1] must be >= 0"),
        (lambda: lk.piecewise_linear([0, 10], [1.0, -0.5]), "values[1] must be >= 0"),
        (lambda: lk.sgdr(10, floor=-0.1), "sgdr: floor must be >= 0"),
        (lambda: lk.clamp(lk.linear(10), low=-2.0, high=-1.0), "clamp: low must be >= 0"),
        (lambda: lk.wsd(100, decay=10, floor=-0.1), "floor must be >= 0"),
        (lambda: lk.noise(lk.constant(), clip=1.0), "clip must be in [0, 1), got 1.0"),
        (lambda: lk.cyclic(5, amplitude=0.5), "amplitude must be a schedule"),
    ],
)
def test_bad_parameters_raise_clear_errors(build, message):
    with pytest.raises(ValueError) as info:
        build()
    assert message in str(info.value)


def test_a_signature_misuse_is_a_type_error_as_python_s_own():
    with pytest.raises(TypeError, match="got decay and its old name factor"):
        lk.step_decay(10, decay=0.5, factor=0.5)
    with pytest.raises(TypeError, match="takes at most 4 positional arguments"):
        lk.polynomial(10, 2.0, 0.0, 1.0, 5.0)
    with pytest.raises(TypeError, match="multiple values for argument 'power'"):
        lk.polynomial(10, 2.0, power=3.0)


def test_join_gives_each_piece_its_local_step():
    s = lk.linear(10) >> lk.linear(5, start=2.0, end=1.0) >> lk.constant(0.5)
    assert s.offsets == (0, 10, 15)
    assert s(5) == 0.5 and s(10) == 2.0 and s(12.5) == 1.5 and s(15) == 0.5 and s(1e9) == 0.5
    assert s.length is None
    assert (lk.linear(1) >> lk.linear(2)) >> lk.linear(3) == lk.linear(1) >> (lk.linear(2) >> lk.linear(3))
    assert s.phase_starts(100) == [10.0, 15.0]


def test_scale_product_clamp():
    s = lk.linear(10)
    np.testing.assert_array_equal((s * 0.5)(np.arange(12)), 0.5 * s(np.arange(12)))
    p = lk.linear(10) * lk.constant(0.5, 20)
    assert p.length == 20 and p(5) == 0.25 and p(15) == 0.0
    assert (lk.linear(10) * lk.inverse_sqrt()).length is None
    c = lk.clamp(lk.linear(10), low=0.2, high=0.8)
    assert c(0) == 0.8 and c(5) == 0.5 and c(10) == 0.2


def test_repeat_shift_stretch_take():
    r = lk.repeat(lk.linear(4), times=3)
    assert [r(t) for t in (0, 3, 4, 8, 11, 12, 100)] == [1.0, 0.25, 1.0, 1.0, 0.25, 0.0, 0.0]
    forever = lk.repeat(lk.linear(4))
    assert forever.length is None and forever(400) == 1.0
    sh = lk.shift(lk.linear(10), 4)
    assert sh.length == 6 and sh(0) == 0.6 and sh(6) == 0.0
    delayed = lk.shift(lk.linear(10), -5)
    assert delayed.length == 15 and delayed(3) == 1.0 and delayed(10) == 0.5
    st = lk.stretch(lk.warmup(0.1) >> lk.cosine(0.9), 1000)
    assert st.length == 1000 and st(100) == 1.0 and st(1000) == 0.0
    assert st.phase_starts(2000) == [pytest.approx(100.0)]
    tk = lk.take(lk.step_decay(2, decay=0.5), 5)
    assert tk.length == 5 and tk(4) == 0.25 and tk(100) == tk(5)


def test_noise_is_a_function_of_seed_and_step():
    s = lk.noise(lk.constant(1.0), std=0.5, clip=0.3, seed=7)
    t = np.arange(10_000)
    values = s(t)
    np.testing.assert_array_equal(values, s(t[::-1])[::-1])  # order does not matter
    assert all(s(int(i)) == values[i] for i in (0, 17, 9999))  # nor batching
    assert values.min() >= 0.7 and values.max() <= 1.3
    assert not np.array_equal(values, lk.noise(lk.constant(1.0), std=0.5, clip=0.3, seed=8)(t))
    unclipped = lk.noise(lk.constant(1.0), std=0.01, clip=0.9, seed=1)(t) - 1.0
    assert abs(unclipped.mean()) < 0.01 * 4 / math.sqrt(t.size) * 10
    assert abs(unclipped.std() - 0.01) < 0.001  # a standard normal scaled by std
    window = lk.noise(lk.constant(1.0), std=0.5, seed=1, start=10, end=20)
    assert window(5) == 1.0 and window(25) == 1.0 and window(np.arange(10, 20)).std() > 0


def test_import_lrkit_needs_no_framework():
    code = (
        "import sys\n"
        "for name in ('torch', 'jax', 'keras', 'matplotlib', 'optax', 'tensorflow'):\n"
        "    sys.modules[name] = None  # any import of these now fails\n"
        "import lrkit, lrkit.core.config, lrkit.plot.terminal\n"
        "s = lrkit.from_config('warmup(5) >> cosine(10)')\n"
        "print(s(5))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1.0"


def test_core_edges_from_the_hardening_issue() -> None:
    import time

    start = time.perf_counter()
    s = lk.sgdr(10, cycles=10**12)  # the length is a closed form, not a sum over 10^12 cycles
    assert time.perf_counter() - start < 0.1 and s.length == 10 * 10**12
    assert lk.sgdr(10, mult=2, cycles=3).length == 70
    with pytest.raises(ValueError, match="longer than a float can hold"):
        lk.sgdr(10, mult=2, cycles=10**6)
    with pytest.raises(ValueError, match=r"step must be a finite number >= 0, got an integer of 401 digits"):
        lk.cosine(10)(10**400)
    with pytest.raises(ValueError, match="needs at least 2 pieces"):
        lk.join(lk.cosine(10))
    with pytest.raises(lk.ConfigError, match="join"):
        lk.from_config("join(cosine(10))")
    assert lk.join(pieces=[lk.warmup(2), lk.cosine(8)]) == lk.warmup(2) >> lk.cosine(8)
    config = {"type": "product", "factors": [{"type": "cosine", "steps": 5}, {"type": "constant"}]}
    assert lk.from_config(config)(0) == 1.0


# -- renamed parameters: old configs, old pickles and old checkpoints keep loading -------------------------------
# One vocabulary (docs/schedules.md, "One vocabulary"): ``decay`` multiplies per period (was step_decay's,
# multistep's and exponential's ``factor``, cyclic's ``gamma``), ``by`` is the amount of a transform (was scale's
# and stretch's ``factor``), ``floor`` the low value (was cyclic's ``base``); polynomial takes Linear's order.

OLD_AND_NEW = [
    ("step_decay(3, factor=0.5)", lk.step_decay(3, decay=0.5)),
    ("multistep([10, 20], factor=0.3)", lk.multistep([10, 20], decay=0.3)),
    ("exponential(factor=0.9, every=5)", lk.exponential(0.9, every=5)),
    ("cyclic(4, base=0.2, gamma=0.99, mode='exp_range')", lk.cyclic(4, floor=0.2, decay=0.99, mode="exp_range")),
    ("stretch(cosine(1), factor=100)", lk.stretch(lk.cosine(1), 100)),
    ("scale(cosine(10), factor=0.5)", lk.cosine(10) * 0.5),
    ("polynomial(10, 2.0, 0.1)", lk.polynomial(10, power=2.0, end=0.1)),  # 0.1's positions: power, end, start
    ("polynomial(10, 2.0, 0.1, 0.9)", lk.polynomial(10, start=0.9, end=0.1, power=2.0)),
]


@pytest.mark.parametrize(("old", "new"), OLD_AND_NEW, ids=[old for old, _ in OLD_AND_NEW])
def test_old_text_configs_load_as_the_new_names(old, new):
    assert lk.from_config(old) == new
    assert lk.from_config(repr(new)) == new and "factor" not in repr(new) and "base=" not in repr(new)


def test_old_dict_configs_load_as_the_new_names():
    old = {"type": "join", "pieces": [
        {"type": "take", "schedule": {"type": "step_decay", "every": 3, "factor": 0.5}, "steps": 6},
        {"type": "product", "factors": [
            {"type": "stretch", "schedule": {"type": "polynomial", "steps": 1, "power": 2.0, "end": 0.1}, "factor": 10},
            {"type": "cyclic", "up": 4, "base": 0.2, "mode": "exp_range", "gamma": 0.99},
        ]},
    ]}
    new = lk.take(lk.step_decay(3, decay=0.5), 6) >> lk.stretch(lk.polynomial(1, power=2.0, end=0.1), 10) * lk.cyclic(
        4, floor=0.2, mode="exp_range", decay=0.99
    )
    assert lk.from_config(old) == new
    assert lk.from_config({"_target_": "lrkit.step_decay", "every": 3, "factor": 0.5}) == lk.step_decay(3, decay=0.5)
    assert lk.from_config({"type": "scale", "schedule": {"type": "cosine", "steps": 5}, "factor": 2.0}) == (
        lk.cosine(5) * 2.0
    )
    written = new.to_config()
    assert lk.from_config(written) == new and "'factor'" not in str(written) and "'gamma'" not in str(written)
    with pytest.raises(lk.ConfigError, match="got decay and its old name factor"):
        lk.from_config({"type": "step_decay", "every": 3, "factor": 0.5, "decay": 0.5})


class _OldPickle:
    """What a pickle written before the dataclass values holds: ``_rebuild(cls, {old names})``."""

    def __init__(self, cls, params):
        self.cls, self.params = cls, params

    def __reduce__(self):
        from lrkit.core.schedule import _rebuild

        return (_rebuild, (self.cls, self.params))


def test_old_pickles_load_as_the_new_names():
    import pickle

    for cls, params, new in [
        (lk.step_decay, {"every": 3, "factor": 0.5}, lk.step_decay(3, decay=0.5)),
        (lk.stretch, {"schedule": lk.cosine(1), "factor": 100}, lk.stretch(lk.cosine(1), 100)),
        (lk.cyclic, {"up": 4, "base": 0.2, "gamma": 0.99, "mode": "exp_range"},
         lk.cyclic(4, floor=0.2, decay=0.99, mode="exp_range")),
    ]:
        assert pickle.loads(pickle.dumps(_OldPickle(cls, params))) == new
        assert pickle.loads(pickle.dumps(new)) == new


#: A real Scheduler.state_dict() saved by lrkit before the renames (main at 21a4fa1), after 7 updates.
OLD_STATE = json.loads(
    '{"format": "lrkit.torch.Scheduler", "version": 1, "schedules": [{"type": "join", "pieces": [{"type": "take", '
    '"schedule": {"type": "step_decay", "every": 3, "factor": 0.5}, "steps": 6}, {"type": "product", "factors": '
    '[{"type": "stretch", "schedule": {"type": "polynomial", "steps": 1, "power": 2.0, "end": 0.1}, "factor": 10}, '
    '{"type": "cyclic", "up": 4, "base": 0.2, "mode": "exp_range", "gamma": 0.99}]}]}], "assign": {"lr": 0}, '
    '"relative": ["lr"], "lr_scale": null, "advance": "update", "updates_per_epoch": null, "updates": 7, '
    '"base": {"lr": [0.1]}, "warned_end": false, "controllers": [null], "clock": null}'
)


def test_a_scheduler_checkpoint_saved_with_the_old_names_loads():
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    schedule = lk.take(lk.step_decay(3, decay=0.5), 6) >> lk.stretch(lk.polynomial(1, power=2.0, end=0.1), 10) * (
        lk.cyclic(4, floor=0.2, mode="exp_range", decay=0.99)
    )
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = Scheduler(opt, schedule)
    sched.load_state_dict(OLD_STATE)  # no horizon rule needed: the same schedules, under their old names
    assert opt.param_groups[0]["lr"] == 0.03299420000000001  # the old run's learning rate after 7 updates
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * schedule(8), rel=1e-12)
    assert sched.state_dict()["schedules"] == [schedule.to_config()]  # saved again under the new names
    # another schedule still needs a horizon rule
    with pytest.raises(ValueError, match="must be this Scheduler's schedules"):
        Scheduler(torch.optim.SGD([param], lr=0.1), lk.step_decay(3, decay=0.25)).load_state_dict(OLD_STATE)


def test_the_core_imports_in_layers_without_a_circle():
    """backend <- routing, compiled <- schedule <- families, combinators <- recipes: every module-level import of
    lrkit.core (TYPE_CHECKING ones included) points down; only the operators (``>>``, ``*``) defer an import up."""
    import ast
    from pathlib import Path

    import lrkit.core

    core = Path(lrkit.core.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in core.glob("*.py"):
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:  # module level; an `if TYPE_CHECKING:` block included
            for sub in ast.walk(node) if isinstance(node, ast.If) else [node]:
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("lrkit.core"):
                    deps |= {f"lrkit.core.{a.name}" for a in sub.names} if sub.module == "lrkit.core" else {sub.module}
        graph[f"lrkit.core.{path.stem}"] = deps

    def below(module: str, seen: set[str]) -> set[str]:
        for dep in graph.get(module, ()):
            if dep not in seen:
                seen.add(dep)
                below(dep, seen)
        return seen

    assert [m for m in graph if m in below(m, set())] == []
    assert graph["lrkit.core.routing"] <= {"lrkit.core.backend"}
    assert graph["lrkit.core.compiled"] <= {"lrkit.core.backend"}


@pytest.mark.parametrize("step", ["3", b"3", True, np.bool_(True), 1j, np.array(["3"])])
def test_a_step_that_is_not_a_number_is_refused_in_one_line(step):
    # '3' gave a 0-d array, True the value at step 1: a step is a number of updates, not text or a flag
    with pytest.raises(ValueError, match="step must be a number of updates"):
        lk.cosine(10)(step)


def test_a_decimal_step_is_a_number():
    from decimal import Decimal

    assert lk.cosine(10)(Decimal("2.5")) == lk.cosine(10)(2.5) and isinstance(lk.cosine(10)(Decimal("2.5")), float)
