"""Files: ``.json``, ``.yaml``/``.yml`` (PyYAML) or the text form, optionally a schedule under a key.

A key given twice in one object or mapping is refused (both readers would keep the last one silently); YAML reads
numbers as YAML 1.2 and JSON do, where PyYAML's YAML 1.1 differs: ``1e3`` and ``.5e3`` are numbers (1.1: text),
``010`` is 10 (1.1: octal 8; ``0o10`` is 8), and ``1:30`` and ``0b101`` are text (1.1: 90 and 5), refused where a number
is due. ``.toml`` is refused by name.

>>> import json, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.json"
>>> _ = path.write_text(json.dumps({"type": "cosine", "steps": 10}))
>>> load(path)
cosine(10)
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrkit.core._extras import require
from lrkit.core.config._build import MAX_DEPTH
from lrkit.core.config._dicts import from_data
from lrkit.core.config._text import parse
from lrkit.core.errors import ConfigError
from lrkit.core.schedule import Schedule

__all__ = ["load"]


def _in_path(path: Path, err: ConfigError) -> ConfigError:
    return ConfigError(f"{path}: {err.reason}", text=err.text, position=err.position)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a key given twice is refused (``json`` keeps the last one, silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} is given twice in one object")
        out[key] = value
    return out


#: YAML 1.2's numbers (its core schema; ``_`` between digits still read, as YAML 1.1 and the text form do): an integer
#: is decimal (``010`` is 10, not YAML 1.1's octal 8), ``0o17`` or ``0x1F``; a float has a dot or an exponent (``1e3``
#: and ``.5e3``, which YAML 1.1 reads as text). YAML 1.1's base-60 (``1:30``) and binary (``0b101``) are text.
_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*|[0-9][0-9_]*(?=[eE]))(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def _yaml_int(loader: Any, node: Any) -> int:
    """An integer as YAML 1.2 reads it: decimal unless ``0o`` or ``0x`` (PyYAML reads ``010`` as octal)."""
    text = str(loader.construct_scalar(node)).replace("_", "")
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    base = {"0o": 8, "0x": 16}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


@functools.cache
def _yaml_loader(yaml: Any) -> Any:
    """PyYAML's safe loader (libyaml's when there is one: far faster) that reads numbers as YAML 1.2 and JSON do
    (see :data:`_INT`, :data:`_FLOAT`), and refuses a key given twice in one mapping (PyYAML keeps the last one,
    silently)."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[str] = set()
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":  # merge keys override by design
                    if key.value in seen:
                        line = key.start_mark.line + 1
                        raise ValueError(f"key {key.value!r} is given twice in one mapping (line {line})")
                    seen.add(key.value)
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {  # YAML 1.1's number resolvers out, YAML 1.2's in (the others kept, in order)
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    Loader.add_constructor("tag:yaml.org,2002:int", _yaml_int)
    return Loader


def _read_data(path: Path, content: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            return json.loads(content, object_pairs_hook=_unique_keys)
        except RecursionError:
            raise ConfigError(f"{path}: the JSON is nested too deeply to read") from None
        except ValueError as err:  # JSONDecodeError, and an integer of more than 4300 digits
            raise ConfigError(f"{path}: not valid JSON: {_one_line(err)}") from None
    yaml = require("yaml", "yaml", purpose="reading YAML")
    loader = _yaml_loader(yaml)
    try:
        depth = 0  # the events first (no recursion): a deeply nested file fails here, at once
        for event in yaml.parse(content, Loader=loader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > 2 * MAX_DEPTH:
                    raise ConfigError(f"{path}: the YAML is nested more than {2 * MAX_DEPTH} levels deep")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        return yaml.load(content, Loader=loader)
    except RecursionError:
        raise ConfigError(f"{path}: the YAML is nested too deeply to read") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as err:
        if "maximum nesting depth" in str(err):  # libyaml's own limit, met while scanning ahead
            raise ConfigError(f"{path}: the YAML is nested more than {2 * MAX_DEPTH} levels deep") from None
        raise ConfigError(f"{path}: not valid YAML: {_one_line(err)}") from None


def _at_key(data: Any, key: str, path: Path) -> Any:
    here, seen = data, list[str]()
    for part in key.split("."):
        under = f"under {'.'.join(seen)!r}" if seen else "at the top level"
        if isinstance(here, Mapping):
            if part not in here:
                keys = ", ".join(str(k) for k in here)
                raise ConfigError(f"{path}: key {key!r}: no {part!r} {under} (its keys: {keys})")
            here = here[part]
        elif isinstance(here, list):
            if not (part.isascii() and part.isdigit() and int(part) < len(here)):  # not '²', '٠': ASCII digits
                count = f"{len(here)} item" + ("" if len(here) == 1 else "s")
                name = repr(".".join(seen)) if seen else "the top level"
                raise ConfigError(f"{path}: key {key!r}: {name} has {count}, so {part!r} is not one of its indices")
            here = here[int(part)]
        else:
            raise ConfigError(f"{path}: key {key!r}: the value {under} is {type(here).__name__}, not a mapping")
        seen.append(part)
    return here


def load(path: str | Path, key: str | None = None) -> Schedule:
    """A schedule from a file: ``.json``, ``.yaml``/``.yml`` (needs PyYAML) or the text form.

    ``key="a.b"`` reads the schedule under ``a`` then ``b`` of a larger JSON or YAML file
    (a number picks a list item, ``"schedules.0"``). Every problem with the file's content is a
    :class:`ConfigError` naming the file; a file that cannot be read raises ``OSError``
    (``FileNotFoundError``, ...) as ``open`` does.

    >>> import json, pathlib, tempfile
    >>> run = {"optimizer": {"lr": 3e-4, "schedule": {"type": "cosine", "steps": 1000}}}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = path.write_text(json.dumps(run))
    >>> load(path, key="optimizer.schedule")
    cosine(1000)
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            raise ConfigError(
                "TOML is not read; lrkit reads .json, .yaml/.yml and the text form (a .txt or any other name): "
                "write the schedule's dict as JSON or YAML"
            )
        if suffix not in (".json", ".yaml", ".yml"):
            if key is not None:
                raise ConfigError(f"key= reads JSON or YAML files; {path.name} is read as the text form")
            if not content.strip():
                raise ConfigError("the file is empty")
            return parse(content)
        data = _read_data(path, content, suffix)
        if data is None:
            raise ConfigError(f"{path}: the file is empty")
        if key is not None:
            data = _at_key(data, key, path)
        return from_data(data, key or "config")
    except ConfigError as err:
        raise err if err.reason.startswith(f"{path}: ") else _in_path(path, err) from None

