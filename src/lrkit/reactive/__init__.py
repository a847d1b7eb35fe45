"""The reactive and long-run layer: plateau decisions, the wall clock, horizon rules and branches.

Small explicit states driven by an adapter (:mod:`lrkit.torch`); numpy only, built on :mod:`lrkit.core`.

>>> from lrkit.reactive import Controller, WallClock, FakeClock, Plateau
"""

from lrkit.reactive.clock import FakeClock, WallClock
from lrkit.reactive.controller import Controller, Plateau

__all__ = ["Controller", "FakeClock", "Plateau", "WallClock"]
