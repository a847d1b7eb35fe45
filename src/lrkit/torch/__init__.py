"""The PyTorch adapter: :class:`Scheduler` drives a torch optimizer from lrkit schedules.

``lrkit.torch.distributed`` (metric/clock agreement across ranks) and ``lrkit.torch.finder``
(the learning-rate range test) are submodules imported on their own.
"""

from lrkit.torch.scheduler import Scheduler

__all__ = ["Scheduler"]
