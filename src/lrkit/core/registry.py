"""The names the text and dict configs know, listed explicitly (nothing registers itself).

:data:`REGISTRY` maps every name to its constructor: the families, the combinators, the
recipes and ``plateau``. The peers' quirk families (``hf_cosine``, ``keras_staircase``, ...)
live in :mod:`lrkit.compat`, which the core never imports: they are listed here by module,
and a module is imported only when a config names one of its families, so a config written
with them parses in a fresh process. :func:`register` adds a constructor of your own.

>>> REGISTRY["cosine"] is cosine, "hf_cosine" in names()
(True, True)
>>> lookup("hf_cosine").__module__
'lrkit.compat.transformers'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lrkit.core import combinators as compose
from lrkit.core import families as shapes
from lrkit.core import plateau, recipes

__all__ = ["PEER_FAMILIES", "REGISTRY", "lookup", "names", "register"]

#: Every core name mapped to its constructor (a :class:`lrkit.Schedule` subclass).
REGISTRY: dict[str, Callable[..., Any]] = {
    cls.name: cls
    for cls in (
        shapes.Constant, shapes.Anneal, shapes.Linear, shapes.Cosine, shapes.Polynomial, shapes.Warmup,
        shapes.UntunedWarmup, shapes.StepDecay, shapes.MultiStep, shapes.Exponential, shapes.InverseTime,
        shapes.InverseSqrt, shapes.TanhDecay, shapes.PiecewiseConstant, shapes.PiecewiseLinear, shapes.SGDR,
        shapes.Cyclic,
        compose.Join, compose.Scale, compose.Product, compose.Clamp, compose.Repeat, compose.Shift,
        compose.Stretch, compose.Take, compose.Noise,
        recipes.OneCycle, recipes.OneCycleMomentum, recipes.WSD, recipes.FlatCosine, recipes.WarmupFlatWarmdown,
        recipes.WarmupCosine,
        plateau.Plateau,
    )
}

#: The peers' quirk families: name -> (module, class), imported on first use (listed by compat module).
PEER_FAMILIES: dict[str, tuple[str, str]] = {
    name: (f"lrkit.compat.{module}", cls)
    for module, classes in (
        ("keras", {"keras_staircase": "KerasStaircase", "keras_cyclic_polynomial": "KerasCyclicPolynomial",
                   "keras_cosine_restarts": "KerasCosineRestarts"}),
        ("optax", {"optax_cosine": "OptaxCosine", "optax_staircase": "OptaxStaircase", "optax_growth": "OptaxGrowth"}),
        ("fastai", {"fastai_poly": "FastaiPoly"}),
        ("timm", {"timm_cycles": "TimmCycles", "timm_step": "TimmStep", "timm_noise": "TimmNoise"}),
        ("transformers", {"hf_cosine": "HFCosine", "hf_hard_restarts": "HFHardRestarts",
                          "hf_sqrt_warmup": "HFSqrtWarmup"}),
    )
    for name, cls in classes.items()
}


def names() -> list[str]:
    """Every name the configs accept, sorted (peer quirk families included)."""
    return sorted({*REGISTRY, *PEER_FAMILIES})


def lookup(name: str) -> Callable[..., Any] | None:
    """The constructor for ``name`` (importing its peer module if needed), or ``None``."""
    constructor = REGISTRY.get(name)
    if constructor is None and name in PEER_FAMILIES:
        module, attr = PEER_FAMILIES[name]
        constructor = REGISTRY[name] = getattr(importlib.import_module(module), attr)
    return constructor


def register(constructor: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """Make a constructor of your own known to the configs, under ``name`` (default: its ``name`` or ``__name__``)."""
    key = name or str(getattr(constructor, "name", "") or constructor.__name__)
    known = lookup(key)
    if known is not None and known is not constructor:
        raise ValueError(f"a schedule named {key!r} is already registered")
    REGISTRY[key] = constructor
    return constructor
