"""Layer-wise learning-rate decay: parameter groups whose learning rates fall geometrically with depth.

Fine-tuning a pre-trained transformer trains the top layers faster than the bottom ones
(ELECTRA, Clark et al. 2020; BEiT, Bao et al. 2022): with ``L`` blocks, a parameter at depth
``d`` gets the multiplier ``decay ** (L + 1 - d)``, where

* ``d = 0`` for the embeddings (anything registered before the blocks, or named like an
  embedding: ``embed``, ``embeddings``, ``patch_embed``, ``pos_embed``, ``cls_token``, ``wte``, ...),
* ``d = i + 1`` for block ``i`` (the longest stack of modules named ``0, 1, 2, ...``:
  ``torch.nn.TransformerEncoder``'s ``layers.N``, Hugging Face's ``encoder.layer.N``,
  timm ViT's ``blocks.N``, GPT-2's ``h.N``; or name it with ``blocks=``),
* ``d = L + 1`` for everything after them (final norm, pooler, head), multiplier 1.

:func:`param_groups` builds one optimizer group per depth (two with ``weight_decay``: biases,
norms and the model's ``no_weight_decay()`` names get 0), each with its ``lr = lr * multiplier``;
one shared schedule then drives them all, since :class:`lrkit.torch.Scheduler` multiplies each
group's base learning rate (``lr_g(t) = lr * decay ** (L + 1 - d) * schedule(t)``):

>>> import torch, lrkit as lk
>>> from lrkit.torch import Scheduler
>>> layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
>>> model = torch.nn.Sequential()
>>> model.add_module("embed", torch.nn.Embedding(10, 8))
>>> model.add_module("encoder", torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False))
>>> model.add_module("head", torch.nn.Linear(8, 3))
>>> groups = param_groups(model, lr=1e-3, decay=0.5)
>>> [(g["layer"], g["lr_scale"]) for g in groups]
[(0, 0.125), (1, 0.25), (2, 0.5), (3, 1.0)]
>>> opt = torch.optim.AdamW(groups)
>>> sched = Scheduler(opt, lk.cosine(100))
>>> [g["lr"] for g in opt.param_groups], sched.value_at(50)
([0.000125, 0.00025, 0.0005, 0.001], [6.25e-05, 0.000125, 0.00025, 0.0005])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from typing import Any

import torch

__all__ = ["depths", "find_blocks", "param_groups"]

_EMBED = re.compile(r"(^|\.)([^.]*embed[^.]*|cls_token|dist_token|reg_token|mask_token|wte|wpe)(\.|$)", re.I)
_HEAD = re.compile(r"(^|\.)(head|heads|classifier|lm_head|pooler|fc_norm|score)(\.|$)", re.I)


def find_blocks(model: torch.nn.Module) -> str | None:
    """The dotted name of the model's stack of blocks: the longest ``ModuleList``/``Sequential`` whose
    children are named ``0, 1, ...`` (the shallowest one on a tie; the model itself only if nothing else is).

    >>> import torch
    >>> layer = torch.nn.TransformerEncoderLayer(8, 2, 16)
    >>> find_blocks(torch.nn.TransformerEncoder(layer, 3, enable_nested_tensor=False))
    'layers'
    """
    best: tuple[int, int, str] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)):
            continue
        children = [n for n, _ in module.named_children()]
        if not children or not all(n.isdigit() for n in children):
            continue
        if not any(p.requires_grad for p in module.parameters()):
            continue
        key = (len(children) if name else 0, -name.count("."), name)  # the root only as a last resort
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        return None
    return best[2]


def depths(
    model: torch.nn.Module,
    blocks: str | None = None,
    depth_of: Callable[[str], int | None] | None = None,
) -> tuple[dict[str, int], int]:
    """``({parameter name: depth}, L)`` for every trainable parameter (see the module docstring).

    ``blocks``: the dotted name of the block stack (default :func:`find_blocks`). ``depth_of``:
    a function of a parameter's name returning its depth in ``0 .. L + 1``, or ``None`` to use the
    rules (for a model the rules do not fit, e.g. Swin's ``layers.N.blocks.M``).
    """
    stack = find_blocks(model) if blocks is None else blocks
    if stack is not None:
        try:
            container = model.get_submodule(stack) if stack else model
        except AttributeError:
            raise ValueError(f"layerwise: the model has no module {stack!r} (blocks=)") from None
        names = [n for n, _ in container.named_children()]
        if not names or not all(n.isdigit() for n in names):
            raise ValueError(f"layerwise: {stack!r} is not a stack of blocks named 0, 1, ... (got {names[:4]})")
        count = len(names)
    else:
        count = 0
    prefix = f"{stack}." if stack else ""
    out: dict[str, int] = {}
    seen_blocks = False
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        given = None if depth_of is None else depth_of(name)
        if given is not None:
            if isinstance(given, bool) or not isinstance(given, int) or not 0 <= given <= count + 1:
                raise ValueError(f"layerwise: depth_of({name!r}) gave {given!r}; depths are integers 0 .. {count + 1}")
            out[name] = given
            continue
        if stack is not None and name.startswith(prefix):
            index = name[len(prefix):].split(".", 1)[0]
            out[name] = names.index(index) + 1
            seen_blocks = True
        elif _EMBED.search(name):
            out[name] = 0
        elif _HEAD.search(name) or seen_blocks or stack is None:
            out[name] = count + 1
        else:
            out[name] = 0  # registered before the blocks: the stem / embeddings
    return out, count


def param_groups(
    model: torch.nn.Module,
    lr: float | None = None,
    decay: float = 0.75,
    *,
    weight_decay: float | None = None,
    no_weight_decay: Collection[str] | None = None,
    blocks: str | None = None,
    depth_of: Callable[[str], int | None] | None = None,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with layer-wise decayed learning rates (BEiT/ELECTRA rules).

    Each group holds the parameters of one depth ``d`` and has ``lr_scale = decay ** (L + 1 - d)``,
    ``layer = d`` and, if ``lr`` is given, ``lr = lr * lr_scale`` (without ``lr``, pass
    ``lr_scale=[g["lr_scale"] for g in groups]`` to the Scheduler instead). With ``weight_decay``
    each depth is split in two: ``weight_decay`` for matrices, ``0.0`` for 1-d parameters (biases,
    norms) and the names in ``no_weight_decay`` (default: the model's ``no_weight_decay()``, as
    timm models define it; a name matches a parameter equal to it or ending in ``.name``).
    Frozen parameters (``requires_grad=False``) are left out. ``decay=1`` gives plain groups.
    """
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay <= 1:
        raise ValueError(f"param_groups: decay must be in (0, 1], got {decay!r}; e.g. 0.75 (BEiT) or 0.8 (ELECTRA)")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 <= lr < math.inf):
        raise ValueError(f"param_groups: lr must be a finite number >= 0, got {lr!r}")
    if weight_decay is not None and (
        isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay < math.inf
    ):
        raise ValueError(f"param_groups: weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if no_weight_decay is None:
        hook = getattr(model, "no_weight_decay", None)
        no_weight_decay = set(hook()) if callable(hook) else set()
    skip = set(no_weight_decay)
    table, count = depths(model, blocks=blocks, depth_of=depth_of)
    params = dict(model.named_parameters())
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, depth in table.items():
        param = params[name]
        decayed = weight_decay is not None and param.ndim > 1 and not any(
            name == s or name.endswith("." + s) for s in skip
        )
        key = (depth, decayed)
        if key not in groups:
            scale = float(decay) ** (count + 1 - depth)
            group: dict[str, Any] = {"params": [], "lr_scale": scale, "layer": depth}
            if lr is not None:
                group["lr"] = lr * scale
            if weight_decay is not None:
                group["weight_decay"] = float(weight_decay) if decayed else 0.0
            groups[key] = group
        groups[key]["params"].append(param)
    if not groups:
        raise ValueError("param_groups: the model has no trainable parameters")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], not k[1]))]
