"""lrkit: learning-rate schedules as pure, composable, vectorised values.

>>> import lrkit as lk
>>> sched = lk.warmup(500) >> lk.cosine(10_000, floor=0.01)
>>> sched(0), sched(500), sched(10_500)     # the first update runs at 1/501 of the peak, never at 0
(0.001996007984031936, 1.0, 0.01)
>>> lk.from_config(repr(sched)) == sched
True
"""

from lrkit.clock import BatchRamp
from lrkit.compose import Clamp as clamp
from lrkit.compose import Noise as noise
from lrkit.compose import Repeat as repeat
from lrkit.compose import Scale as scale
from lrkit.compose import Shift as shift
from lrkit.compose import Stretch as stretch
from lrkit.compose import Take as take
from lrkit.compose import join, product
from lrkit.config import from_config, known_names, load, parse
from lrkit.errors import ConfigError
from lrkit.horizon import cooldown, rewarm
from lrkit.reactive import Controller, FakeClock, WallClock
from lrkit.reactive import Plateau as plateau
from lrkit.recipes import flat_cosine, one_cycle, one_cycle_momentum, warmup_cosine, warmup_flat_warmdown, wsd
from lrkit.schedule import Schedule
from lrkit.shapes import SGDR as sgdr
from lrkit.shapes import Anneal as anneal
from lrkit.shapes import Constant as constant
from lrkit.shapes import Cosine as cosine
from lrkit.shapes import Cyclic as cyclic
from lrkit.shapes import Exponential as exponential
from lrkit.shapes import InverseSqrt as inverse_sqrt
from lrkit.shapes import InverseTime as inverse_time
from lrkit.shapes import Linear as linear
from lrkit.shapes import MultiStep as multistep
from lrkit.shapes import PiecewiseConstant as piecewise_constant
from lrkit.shapes import PiecewiseLinear as piecewise_linear
from lrkit.shapes import Polynomial as polynomial
from lrkit.shapes import StepDecay as step_decay
from lrkit.shapes import TanhDecay as tanh_decay
from lrkit.shapes import UntunedWarmup as untuned_warmup
from lrkit.shapes import Warmup as warmup

__version__ = "0.1.0"

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
    # long runs (lrkit.horizon)
    "cooldown",
    "rewarm",
    "BatchRamp",
]
