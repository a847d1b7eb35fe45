"""Dict configs: plain data from JSON, YAML, OmegaConf/Hydra or Python, with ``type`` or Hydra's ``_target_``.

A dict names its constructor with ``type`` (what :meth:`lrkit.Schedule.to_config` writes) or with
Hydra's ``_target_`` (``lrkit.NAME`` or the class's full path; nothing is imported to resolve it);
its other keys are that constructor's keyword arguments, ``_args_`` its positional ones. An OmegaConf
``DictConfig``/``ListConfig`` is read with its interpolations resolved.

>>> from_config({"_target_": "lrkit.cosine", "steps": 100, "floor": 0.1})
cosine(100, floor=0.1)
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from lrkit.core.config._build import LIMIT, MAX_DEPTH, MAX_VALUES, build, known_names, too_large, unknown
from lrkit.core.config._text import parse
from lrkit.core.errors import ConfigError, brief, shown
from lrkit.core.registry import lookup, names
from lrkit.core.schedule import Schedule

__all__ = ["MOVED_MODULES", "from_config", "from_data"]

_HYDRA_IGNORED = ("_recursive_", "_convert_")

#: Module paths of releases before the layered layout, read as their new homes in a ``_target_``.
MOVED_MODULES = {
    "lrkit.shapes": "lrkit.core.families",
    "lrkit.compose": "lrkit.core.combinators",
    "lrkit.recipes": "lrkit.core.recipes",
    "lrkit.plateau": "lrkit.core.plateau",
    "lrkit.reactive": "lrkit.reactive.controller",
}


def _target_name(target: Any, where: str) -> str:
    """The registry name of a Hydra ``_target_`` (``lrkit.cosine``, ``lrkit.core.families.Cosine``); nothing imported.

    >>> _target_name("lrkit.shapes.Cosine", "config")   # the path before the layered layout
    'cosine'
    """
    if isinstance(target, str) and target.startswith("lrkit."):
        module, _, last = target.rpartition(".")
        module = MOVED_MODULES.get(module, module)
        known = lookup(last)
        if known is not None and module in ("lrkit", known.__module__):
            return last
        for name in names():
            constructor = lookup(name)
            if constructor.__module__ == module and getattr(constructor, "__qualname__", None) == last:
                return name
    raise ConfigError(
        f"{where}: _target_ {shown(str(target))} is not an lrkit schedule; "
        f"use 'lrkit.NAME' with NAME one of: {', '.join(known_names())}"
    )


def _omegaconf_container(config: Any, where: str) -> Any:
    """An OmegaConf DictConfig/ListConfig as plain dicts and lists (interpolations resolved)."""
    from omegaconf import OmegaConf  # only reached for an omegaconf object, so omegaconf is installed

    try:
        return OmegaConf.to_container(config, resolve=True)
    except Exception as err:  # omegaconf's interpolation and validation errors have no common base we can name
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{where}: could not resolve the OmegaConf config: {first}") from None


def _is_omegaconf(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "omegaconf"


class _DictReader:
    """Turns plain data (from JSON, YAML, OmegaConf or Python) into schedules, checking every value."""

    def __init__(self) -> None:
        self.done: dict[int, tuple[Any, int]] = {}  # id(container) -> (value, values it expands to)
        self.active: set[int] = set()
        self.keep: list[Any] = []  # keeps the ids in ``done`` alive

    def read(self, value: Any, where: str, depth: int = 0, schedules: int = 0) -> tuple[Any, int]:
        """``(value, size)``: the value with every schedule dict built, and how many values it expands to."""
        if _is_omegaconf(value):
            value = _omegaconf_container(value, where)
        if value is None or isinstance(value, (bool, str, Schedule)):
            return value, 1
        if isinstance(value, numbers.Real) and not isinstance(value, complex):
            if isinstance(value, int):
                big = too_large(value)
                if big:
                    raise ConfigError(f"{where}: the integer {big} is too large: {LIMIT}")
            return value, 1
        if not isinstance(value, (Mapping, list, tuple)):
            raise ConfigError(
                f"{where}: a value of type {type(value).__name__} is not supported "
                "(numbers, strings, booleans, null, lists and schedule dicts are)"
            )
        key = id(value)
        if key in self.active:
            raise ConfigError(f"{where}: the config refers to itself (a YAML alias inside its own anchor?)")
        if key in self.done:
            return self.done[key]
        if depth >= 2 * MAX_DEPTH or (schedules >= MAX_DEPTH and isinstance(value, Mapping)):  # as constructors count
            raise ConfigError(f"{where}: the config is nested more than {MAX_DEPTH} levels deep")
        self.active.add(key)
        try:
            result: tuple[Any, int]
            if isinstance(value, Mapping):
                result = self.schedule(value, where, depth, schedules)
            else:
                items, size = [], 1
                for i, item in enumerate(value):
                    built, count = self.read(item, f"{where}[{i}]", depth + 1, schedules)
                    items.append(built)
                    size += count
                    self.check_size(size, where)
                result = (items, size)
        finally:
            self.active.discard(key)
        self.done[key] = result
        self.keep.append(value)
        return result

    @staticmethod
    def check_size(size: int, where: str) -> None:
        if size > MAX_VALUES:
            raise ConfigError(
                f"{where}: the config expands to more than {MAX_VALUES} values (YAML aliases repeating a list?)"
            )

    def schedule(self, config: Mapping[Any, Any], where: str, depth: int, schedules: int) -> tuple[Schedule, int]:
        for k in config:
            if not isinstance(k, str):
                raise ConfigError(f"{where}: keys must be strings, got {brief(k)}")
        if "type" in config and "_target_" in config:
            raise ConfigError(f"{where}: give 'type' or '_target_', not both")
        if "type" in config:
            name = config["type"]
            if not isinstance(name, str) or lookup(name) is None:
                raise ConfigError(f"{where}: {unknown(str(name))}")
        elif "_target_" in config:
            name = _target_name(config["_target_"], where)
        else:
            raise ConfigError(
                f"{where}: a schedule config needs a 'type' key (or Hydra's '_target_'), got keys {sorted(config)}"
            )
        if config.get("_partial_"):
            raise ConfigError(f"{where}: _partial_ is not supported: a config describes a whole schedule")
        size = 1
        args: list[Any] = []
        if "_args_" in config:
            given = config["_args_"]
            if not isinstance(given, (list, tuple)) and not _is_omegaconf(given):
                raise ConfigError(f"{where}._args_: Hydra's positional arguments are a list, got {brief(given)}")
            built, count = self.read(given, f"{where}._args_", depth + 1, schedules + 1)
            args, size = list(built), size + count
        kwargs = {}
        for k, v in config.items():
            if k in ("type", "_target_", "_args_", "_partial_", *_HYDRA_IGNORED):
                continue
            kwargs[k], count = self.read(v, f"{where}.{k}", depth + 1, schedules + 1)
            size += count
            self.check_size(size, where)
        try:
            return build(name, args, kwargs), size
        except ConfigError as err:
            raise ConfigError(f"{where}: {err.reason}") from None


def from_data(config: Any, where: str) -> Schedule:
    if isinstance(config, Schedule):
        return config
    if isinstance(config, str):
        return parse(config)
    if _is_omegaconf(config):
        config = _omegaconf_container(config, where)
    if isinstance(config, Mapping):
        known_names()
        try:
            schedule, _ = _DictReader().read(config, where)
        except RecursionError:  # a fallback: the reader's limits keep it well inside Python's
            raise ConfigError(f"{where}: the config is nested too deeply") from None
        assert isinstance(schedule, Schedule)
        return schedule
    if isinstance(config, (list, tuple)):
        raise ConfigError(
            f"{where}: a schedule config is a dict (or a text), got a list; "
            "for schedules one after another use {'type': 'join', 'pieces': [...]}"
        )
    raise ConfigError(f"{where}: a config must be text or a dict, got {type(config).__name__}")


def from_config(config: str | Mapping[str, Any] | Schedule | Any) -> Schedule:
    """A schedule from its text form, its dict form (also an OmegaConf ``DictConfig``), or itself.

    ``from_config(s.to_config()) == s`` and ``from_config(repr(s)) == s`` for every schedule.
    A dict names its constructor with ``type`` or with Hydra's ``_target_`` (``"lrkit.cosine"``;
    ``_args_`` are positional arguments); the other keys are the constructor's keyword arguments.

    >>> from_config({"type": "cosine", "steps": 100, "floor": 0.1})
    cosine(100, floor=0.1)
    >>> hydra = {"_target_": "lrkit.join", "pieces": [{"_target_": "lrkit.warmup", "steps": 10},
    ...                                               {"_target_": "lrkit.cosine", "steps": 90}]}
    >>> from_config(hydra)
    warmup(10) >> cosine(90)
    """
    return from_data(config, "config")

