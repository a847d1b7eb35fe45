"""The PyTorch adapter: :class:`Scheduler` drives a torch optimizer from lrkit schedules.

``lrkit.torch.distributed`` (metric/clock agreement across ranks) and ``lrkit.torch.finder``
(the learning-rate range test) are submodules imported on their own.
"""

from lrkit.core._extras import require

require("torch", "torch", purpose="lrkit.torch")  # without it: one line naming pip install 'lrkit[torch]'

from lrkit.torch.scheduler import Scheduler  # noqa: E402

__all__ = ["Scheduler"]
