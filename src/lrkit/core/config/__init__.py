"""Schedules from configs: the text form, dicts (JSON/YAML/OmegaConf, ``type`` or Hydra's ``_target_``) and files.

One job per module, this package the face:

* ``_text``: the text form's grammar and its recursive-descent parser (:func:`parse`);
* ``_dicts``: dict configs, Hydra's ``_target_``/``_args_`` and OmegaConf (:func:`from_config`);
* ``_files``: JSON, YAML and text files, a schedule under a key of a larger file (:func:`load`);
* ``_build``: what they share: calling a registered constructor with checked arguments, the limits
  (:data:`MAX_DEPTH`) and the names known (:func:`known_names`).

Nothing is ever evaluated as Python; every problem is a :class:`lrkit.ConfigError` naming it.

>>> from_config("warmup(500) >> cosine(10_000, floor=0.01)")
warmup(500) >> cosine(10000, floor=0.01)
>>> from_config({"_target_": "lrkit.cosine", "steps": 100, "floor": 0.1})
cosine(100, floor=0.1)
"""

from lrkit.core.config._build import MAX_DEPTH, MAX_VALUES, build, known_names, signature_text
from lrkit.core.config._dicts import MOVED_MODULES, from_config
from lrkit.core.config._files import load
from lrkit.core.config._text import parse

__all__ = [
    "MAX_DEPTH",
    "MAX_VALUES",
    "MOVED_MODULES",
    "build",
    "from_config",
    "known_names",
    "load",
    "parse",
    "signature_text",
]
