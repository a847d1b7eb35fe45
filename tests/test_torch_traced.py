"""A schedule evaluated on a torch step tensor: natively, on the tensor's device, inside torch.compile."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import lrkit as lk
from strategies import schedules


@settings(max_examples=150, deadline=None)
@given(schedules.filter(lambda s: all(node.traceable for node in s.walk())))
def test_tensor_values_agree_with_numpy_within_4_ulp(s: lk.Schedule) -> None:
    horizon = s.length if s.length is not None else 5000.0
    t = np.concatenate([np.linspace(0, 1.5 * horizon, 301), np.arange(40.0)])
    expected = s(t)
    got = s(torch.tensor(t, dtype=torch.float64))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and got.shape == (t.size,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=4 * np.spacing(largest_part(s)))


def largest_part(s: lk.Schedule) -> float:
    """The largest value the schedule or any part of it takes: the contract's scale (a shift or a take may cut
    the peak off, but the rounding of the part's arithmetic, e.g. 1 - 0.988 in a ramp, stays at its scale)."""
    values = [1e-300]
    for node in s.walk():
        span = node.length if node.length else 5000.0
        values.append(float(np.max(np.abs(node(np.linspace(0, span, 301))))))
    return max(values)


def test_integer_steps_become_the_default_float_and_negative_steps_clip() -> None:
    s = lk.warmup(10) >> lk.cosine(90)
    got = s(torch.arange(0, 12))
    assert got.dtype == torch.get_default_dtype()
    assert got[5].item() == pytest.approx(s(5)) and got[10].item() == 1.0
    assert s(torch.tensor(-3.0)).item() == s(torch.tensor(0.0)).item()  # traced: no raise; clips, as optax


def test_untraceable_families_say_so() -> None:
    with pytest.raises(TypeError, match=r"noise.*cannot be evaluated by torch"):
        lk.noise(lk.cosine(10), std=0.1)(torch.tensor(3.0))


def test_a_fully_compiled_step_computes_its_own_lr_without_recompiling() -> None:
    sched = lk.warmup(100) >> lk.cosine(900, floor=0.1)
    model = torch.nn.Linear(4, 1)
    params = list(model.parameters())
    step = torch.zeros((), dtype=torch.float32)
    x, y = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)), torch.zeros(16, 1)

    @torch.compile(fullgraph=True, dynamic=False)
    def update(step: torch.Tensor, grads: list[torch.Tensor]) -> torch.Tensor:
        lr = 0.1 * sched(step)  # evaluated on the step tensor, inside the graph
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
            step.add_(1.0)
        return lr

    torch._dynamo.reset()
    from torch._dynamo.utils import counters

    counters.clear()
    used = []
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(1000):
            loss = ((model(x) - y) ** 2).mean()
            grads = list(torch.autograd.grad(loss, params))
            used.append(update(step, grads).item())
    assert counters["stats"]["unique_graphs"] == 1
    assert not counters["graph_break"]
    np.testing.assert_allclose(used, 0.1 * sched(np.arange(1000)), rtol=1e-6, atol=1e-7)
