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
>>> [(g["layer"], g["layer_scale"]) for g in groups]
[(0, 0.125), (1, 0.25), (2, 0.5), (3, 1.0)]
>>> opt = torch.optim.AdamW(groups)
>>> sched = Scheduler(opt, lk.cosine(100))
>>> [g["lr"] for g in opt.param_groups], sched.value_at(50)
([0.000125, 0.00025, 0.0005, 0.001], [6.25e-05, 0.000125, 0.00025, 0.0005])
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Collection
from typing import Any

import torch

__all__ = ["depths", "find_blocks", "param_groups"]

_EMBED = re.compile(r"(^|\.)([^.]*embed[^.]*|cls_token|dist_token|reg_token|mask_token|wte|wpe)(\.|$)", re.I)
_HEAD = re.compile(r"(^|\.)(head|heads|classifier|lm_head|pooler|fc_norm|score)(\.|$)", re.I)


def find_blocks(model: torch.nn.Module) -> str | None:
    """The dotted name of the model's stack of blocks.

    A stack is a ``ModuleList``/``Sequential`` whose children are named ``0, 1, ...``, are all of one
    class and hold trainable parameters. A stack inside another one is part of a block (a block's MLP
    written as ``Sequential(Linear, GELU, Linear)``, Swin's ``layers.N.blocks``), so only the outermost
    stacks compete; of those, the one holding the most parameters wins (the shallowest on a tie). The
    model itself counts only if nothing else does.

    >>> import torch
    >>> layer = torch.nn.TransformerEncoderLayer(8, 2, 16)
    >>> find_blocks(torch.nn.TransformerEncoder(layer, 3, enable_nested_tensor=False))
    'layers'
    """
    stacks: list[tuple[str, int]] = []
    for name, module in model.named_modules():
        if not isinstance(module, (torch.nn.ModuleList, torch.nn.Sequential)):
            continue
        children = list(module.named_children())
        if not children or not all(n.isdigit() for n, _ in children):
            continue
        if len({type(child) for _, child in children}) != 1:
            continue  # Linear, GELU, Linear: the layers of one block, not a stack of blocks
        size = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if size:
            stacks.append((name, size))
    named = [(n, size) for n, size in stacks if n]
    outer = [(n, size) for n, size in named if not any(n.startswith(f"{m}.") for m, _ in named if m != n)]
    if outer:
        return max(outer, key=lambda item: (item[1], -item[0].count(".")))[0]
    return "" if stacks else None


def depths(
    model: torch.nn.Module,
    blocks: str | None = None,
    depth_of: Callable[[str], int | None] | None = None,
) -> tuple[dict[str, int], int]:
    """``({parameter name: depth}, L)`` for every trainable parameter (see the module docstring).

    ``blocks``: the dotted name of the block stack (default :func:`find_blocks`). ``depth_of``:
    a function of a parameter's name returning its depth (an integer ``>= 0``), or ``None`` to use
    the rules. The depths it gives may go past the detected stack: ``L`` is the largest depth it gives
    (or the stack's length, if larger), and the rules place the head at ``L + 1``. Swin's four stages of
    2/2/6/2 blocks decay per block with ``depth_of`` numbering the 12 blocks ``1 .. 12``:

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    >>> table, L = depths(model, depth_of=lambda name: {"0": 0, "1": 5}.get(name.split(".")[0]))
    >>> L, table["1.weight"], table["2.weight"]
    (5, 5, 3)
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
        names, count = [], 0
    trainable = [name for name, param in model.named_parameters() if param.requires_grad]
    given: dict[str, int] = {}
    if depth_of is not None:
        for name in trainable:
            depth = depth_of(name)
            if depth is None:
                continue
            if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
                raise ValueError(f"layerwise: depth_of({name!r}) gave {depth!r}; depths are integers >= 0")
            given[name] = depth
    count = max(count, max(given.values(), default=0))
    prefix = f"{stack}." if stack else ""
    out: dict[str, int] = {}
    seen_blocks = False
    for name in trainable:
        if name in given:
            out[name] = given[name]
        elif stack is not None and name.startswith(prefix):
            out[name] = names.index(name[len(prefix):].split(".", 1)[0]) + 1
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

    Each group holds the parameters of one depth ``d``, with ``layer = d`` and ``layer_scale =
    decay ** (L + 1 - d)``. With ``lr`` the group's learning rate is decayed (``lr = lr * layer_scale``),
    which every scheduler then multiplies: lrkit's, torch's and timm's. Without ``lr`` the group
    carries ``lr_scale = layer_scale`` instead, timm's convention (timm's schedulers multiply it in, as
    :class:`lrkit.torch.Scheduler` does with ``lr_scale=[g["lr_scale"] for g in groups]``); a group
    never has both, so no scheduler applies the decay twice. With ``weight_decay``
    each depth is split in two: ``weight_decay`` for matrices, ``0.0`` for 1-d parameters (biases,
    norms) and the names in ``no_weight_decay`` (default: the model's ``no_weight_decay()``, as
    timm models define it; a name matches a parameter equal to it or ending in ``.name``).
    Frozen parameters (``requires_grad=False``) are left out. ``decay=1`` gives plain groups.

    >>> import torch
    >>> from lrkit.torch.layerwise import param_groups
    >>> model = torch.nn.Sequential()
    >>> model.add_module("embed", torch.nn.Embedding(10, 4))
    >>> model.add_module("blocks", torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)))
    >>> model.add_module("head", torch.nn.Linear(4, 3))
    >>> groups = param_groups(model, decay=0.5, weight_decay=0.05)  # no lr: timm's lr_scale
    >>> [(g["layer"], g["lr_scale"], g["weight_decay"]) for g in groups]  # matrices decay, biases do not
    [(0, 0.125, 0.05), (1, 0.25, 0.05), (1, 0.25, 0.0), (2, 0.5, 0.05), (2, 0.5, 0.0), (3, 1.0, 0.05), (3, 1.0, 0.0)]
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"param_groups: model must be a torch.nn.Module, got {type(model).__name__} {model!r}")
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0 < float(decay) <= 1:
        raise ValueError(f"param_groups: decay must be in (0, 1], got {decay!r}; e.g. 0.75 (BEiT) or 0.8 (ELECTRA)")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 <= float(lr) < math.inf):
        raise ValueError(f"param_groups: lr must be a finite number >= 0, got {lr!r}")
    if weight_decay is not None and (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, numbers.Real)
        or not 0 <= float(weight_decay) < math.inf
    ):
        raise ValueError(f"param_groups: weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if blocks is not None and not isinstance(blocks, str):
        raise ValueError(f"param_groups: blocks must be the dotted name of the block stack, got {blocks!r}")
    if isinstance(no_weight_decay, (str, bytes)):
        raise ValueError(
            f"param_groups: no_weight_decay must be a collection of names, got the string {no_weight_decay!r}; "
            f"write [{no_weight_decay!r}]"
        )
    if no_weight_decay is None:
        hook = getattr(model, "no_weight_decay", None)
        no_weight_decay = set(hook()) if callable(hook) else set()
    skip = set(no_weight_decay)
    if not all(isinstance(name, str) for name in skip):
        raise ValueError(f"param_groups: no_weight_decay must hold parameter names, got {sorted(skip, key=str)}")
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
            group: dict[str, Any] = {"params": [], "layer": depth, "layer_scale": scale}
            if lr is not None:
                group["lr"] = float(lr) * scale
            else:
                group["lr_scale"] = scale
            if weight_decay is not None:
                group["weight_decay"] = float(weight_decay) if decayed else 0.0
            groups[key] = group
        groups[key]["params"].append(param)
    if not groups:
        raise ValueError("param_groups: the model has no trainable parameters")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], not k[1]))]
