"""Peer-named constructors: PyTorch, timm, Hugging Face transformers, Keras, optax and fastai.

Each submodule takes a peer's class or function names and parameter names (with the
optimizer replaced by its learning rate where the peer reads it from there) and
returns an ordinary lrkit schedule whose value at step ``t`` is the peer's learning
rate after ``t`` scheduler steps (or at step ``t`` for stateless peers). None of them
imports a framework; the parity tests run the real peers. ``docs/migration.md`` maps
each peer name to the native lrkit expression.

A few peer quirks need their own schedule family (Hugging Face's cosine that climbs
back up past the end, timm's cycle arithmetic, ...). Importing the submodule registers
them, so their text and dict configs round-trip; :func:`register_all` imports every
submodule (for reading configs written elsewhere). The package itself imports none of
its submodules, so ``import lrkit.compat`` stays cheap.

>>> from lrkit.compat import torch as ct
>>> ct.CosineAnnealingWarmRestarts(0.1, T_0=10, T_mult=2)
sgdr(10, mult=2) * 0.1
"""

from __future__ import annotations

import importlib

__all__ = ["PEERS", "register_all"]

PEERS = ("torch", "timm", "transformers", "keras", "optax", "fastai")
"""The compat submodules, one per peer: ``lrkit.compat.<peer>``.

>>> from lrkit.compat import PEERS
>>> PEERS
('torch', 'timm', 'transformers', 'keras', 'optax', 'fastai')
"""


def register_all() -> None:
    """Import every compat submodule so that their schedule names are known to the configs.

    >>> import lrkit
    >>> register_all()
    >>> "timm_cycles" in lrkit.known_names()
    True
    """
    for peer in PEERS:
        importlib.import_module(f"lrkit.compat.{peer}")
