"""lrkit: learning-rate schedules as pure, composable, vectorised values.

>>> import lrkit as lk
>>> sched = lk.warmup(500) >> lk.cosine(10_000, floor=0.01)
>>> sched(0), sched(500), sched(10_500)     # the first update runs at 1/501 of the peak, never at 0
(0.001996007984031936, 1.0, 0.01)
>>> lk.from_config(repr(sched)) == sched
True
"""

import sys as _sys

from lrkit.core.combinators import Clamp as clamp
from lrkit.core.combinators import Noise as noise
from lrkit.core.combinators import Repeat as repeat
from lrkit.core.combinators import Scale as scale
from lrkit.core.combinators import Shift as shift
from lrkit.core.combinators import Stretch as stretch
from lrkit.core.combinators import Take as take
from lrkit.core.combinators import join, product
from lrkit.core.config import from_config, known_names, load, parse
from lrkit.core.errors import ConfigError
from lrkit.core.families import SGDR as sgdr
from lrkit.core.families import Anneal as anneal
from lrkit.core.families import Constant as constant
from lrkit.core.families import Cosine as cosine
from lrkit.core.families import Cyclic as cyclic
from lrkit.core.families import Exponential as exponential
from lrkit.core.families import InverseSqrt as inverse_sqrt
from lrkit.core.families import InverseTime as inverse_time
from lrkit.core.families import Linear as linear
from lrkit.core.families import MultiStep as multistep
from lrkit.core.families import PiecewiseConstant as piecewise_constant
from lrkit.core.families import PiecewiseLinear as piecewise_linear
from lrkit.core.families import Polynomial as polynomial
from lrkit.core.families import StepDecay as step_decay
from lrkit.core.families import TanhDecay as tanh_decay
from lrkit.core.families import UntunedWarmup as untuned_warmup
from lrkit.core.families import Warmup as warmup
from lrkit.core.recipes import flat_cosine, one_cycle, one_cycle_momentum, warmup_cosine, warmup_flat_warmdown, wsd
from lrkit.core.schedule import Schedule
from lrkit.reactive import horizon
from lrkit.reactive.batches import BatchRamp
from lrkit.reactive.controller import Controller, FakeClock, WallClock
from lrkit.reactive.controller import Plateau as plateau
from lrkit.reactive.horizon import cooldown, rewarm

__version__ = "0.1.0"

# `lrkit.horizon` is the public name of the horizon rules (lrkit.reactive.horizon): `import lrkit.horizon` works too.
_sys.modules.setdefault("lrkit.horizon", horizon)

__all__ = [
    "Schedule",
    "ConfigError",
    "from_config",
    "parse",
    "load",
    "known_names",
    # reactive
    "plateau",
    "Controller",
    "WallClock",
    "FakeClock",
    # families
    "constant",
    "anneal",
    "linear",
    "cosine",
    "polynomial",
    "warmup",
    "untuned_warmup",
    "step_decay",
    "multistep",
    "exponential",
    "inverse_time",
    "inverse_sqrt",
    "tanh_decay",
    "piecewise_constant",
    "piecewise_linear",
    "sgdr",
    "cyclic",
    # combinators
    "join",
    "scale",
    "product",
    "clamp",
    "repeat",
    "shift",
    "stretch",
    "take",
    "noise",
    # recipes
    "one_cycle",
    "one_cycle_momentum",
    "wsd",
    "flat_cosine",
    "warmup_flat_warmdown",
    "warmup_cosine",
    # long runs (lrkit.reactive.horizon)
    "cooldown",
    "rewarm",
    "BatchRamp",
]
