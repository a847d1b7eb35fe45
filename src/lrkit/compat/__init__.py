"""Peer-named constructors: PyTorch, timm, Hugging Face transformers, Keras and optax.

Each submodule takes a peer's class or function names and parameter names (with the
optimizer replaced by its learning rate where the peer reads it from there) and
returns an ordinary lrkit schedule whose value at step ``t`` is the peer's learning
rate after ``t`` scheduler steps (or at step ``t`` for stateless peers). None of them
imports a framework; the parity tests run the real peers. ``docs/migration.md`` maps
each peer name to the native lrkit expression.

Importing this package registers the few compat-only schedule families (peer quirks
such as Hugging Face's cosine that climbs back up past the end), so their text and
dict configs round-trip.

>>> from lrkit.compat import torch as ct
>>> ct.CosineAnnealingWarmRestarts(0.1, T_0=10, T_mult=2)
sgdr(10, mult=2) * 0.1
"""

from lrkit.compat import keras, optax, timm, torch, transformers

__all__ = ["keras", "optax", "timm", "torch", "transformers"]
