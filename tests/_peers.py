"""Test helpers: run the real peer schedulers and load timm's scheduler modules by path.

timm's package ``__init__`` imports torchvision, which is not installed (and must not be:
it would replace the CPU torch). ``timm_scheduler(name)`` loads ``timm/scheduler/<name>.py``
and the sibling module it imports (``scheduler.py``) by file path, without running
``timm/__init__``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import numpy as np


def rel_diff(ours, theirs, tiny: float = 1e-290) -> float:
    """Largest relative difference ``|a - b| / max(|a|, |b|, tiny)``.

    ``tiny`` keeps values that have underflowed to the subnormal range (a peer that
    multiplies step by step underflows at a different step than a power does) from
    counting as a relative error of 1; pass a larger ``tiny`` for float32 peers.
    """
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = np.maximum(np.maximum(np.abs(theirs), np.abs(ours)), tiny)
    rel = np.abs(ours - theirs) / scale
    return float(rel.max()) if rel.size else 0.0


def torch_lrs(make, steps: int, lr: float = 1.0, key: str = "lr", momentum: float | None = None):
    """The ``group[key]`` a torch scheduler leaves after 0..steps-1 calls of ``step()``."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    kwargs = {} if momentum is None else {"momentum": momentum}
    opt = torch.optim.SGD([param], lr=lr, **kwargs)
    sched = make(opt)
    out = [opt.param_groups[0][key]]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0][key])
    return np.asarray([float(x) for x in out])


_TIMM: dict[str, types.ModuleType] = {}


def timm_scheduler(name: str) -> types.ModuleType:
    """``timm/scheduler/<name>.py`` as a module, loaded by path (no ``timm/__init__``)."""
    if name in _TIMM:
        return _TIMM[name]
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        import pytest

        pytest.skip("timm is not installed")
    root = os.path.join(next(iter(spec.submodule_search_locations)), "scheduler")
    package = "_lrkit_timm_scheduler"
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [root]  # type: ignore[attr-defined]
        sys.modules[package] = pkg
    if name != "scheduler":
        # multistep_lr.py imports its base class by absolute name; point that name at our copy
        sys.modules.setdefault("timm.scheduler.scheduler", timm_scheduler("scheduler"))
    full = f"{package}.{name}"
    if full not in sys.modules:
        module_spec = importlib.util.spec_from_file_location(full, os.path.join(root, f"{name}.py"))
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[full] = module
        module_spec.loader.exec_module(module)
    _TIMM[name] = sys.modules[full]
    return sys.modules[full]
