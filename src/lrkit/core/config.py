"""Schedules from configs: plain dicts (JSON/YAML/OmegaConf, ``type`` or Hydra's ``_target_``) and the text form.

The text form is a small expression language, parsed here by a recursive-descent
parser (nothing is ever evaluated as Python)::

    expr  := term (">>" term)*            join in sequence
    term  := unary ("*" unary)*           scale by a number / multiply schedules
    unary := "-" unary | atom
    atom  := NUMBER | STRING | NAME | NAME "(" [arg ("," arg)*] [","] ")"
           | "[" [expr ("," expr)*] [","] "]" | "(" expr ")"
    arg   := NAME "=" expr | expr

``NUMBER`` accepts ``10_000``, ``1e-3``, ``.5`` (ASCII digits, at most about ``1.8e308``);
``NAME`` alone may be ``True``, ``False`` or ``None`` (also ``true``/``false``/``null``);
``#`` starts a comment that runs to the end of the line. Every call names an entry of
the registry (:func:`known_names`). Nesting is limited to :data:`MAX_DEPTH` levels.
Every problem raises :class:`lrkit.ConfigError` with the position and, for unknown names,
the names that are known; nothing else escapes.

>>> from_config("warmup(500) >> cosine(10_000, floor=0.01)")
warmup(500) >> cosine(10000, floor=0.01)
>>> try:
...     from_config("cosine(" + "1" * 400 + ")")
... except ConfigError as err:
...     print(err.reason)
the integer 1111111111...1111 (400 digits) is too large: numbers must be at most 1.8e+308

A dict config names the constructor with ``type`` (what :meth:`Schedule.to_config` writes) or
with Hydra's ``_target_``; its other keys are that constructor's keyword arguments:

>>> from_config({"_target_": "lrkit.cosine", "steps": 100, "floor": 0.1})
cosine(100, floor=0.1)
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import numbers
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrkit.core._extras import require
from lrkit.core.errors import ConfigError
from lrkit.core.registry import lookup, names  # the one place the registry comes from
from lrkit.core.schedule import Schedule, renamed

__all__ = ["MAX_DEPTH", "from_config", "known_names", "load", "parse", "signature_text"]

#: How deeply schedules (and brackets) may nest in a config; deeper input is a ConfigError.
MAX_DEPTH = 64
#: How many values a dict config may expand to (YAML aliases can repeat a list exponentially).
MAX_VALUES = 100_000
_MAX_NUMBER = sys.float_info.max

_TOKEN = re.compile(
    r"""
    (?P<space>(?:\s|\#[^\n]*)+)
  | (?P<number>(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9][0-9_]*)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<op>>>|[*()\[\],=-])
  | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_KINDS = {index: name for name, index in _TOKEN.groupindex.items()}
_CONSTANTS = {"True": True, "true": True, "False": False, "false": False, "None": None, "null": None}
_HYDRA_IGNORED = ("_recursive_", "_convert_")


def known_names() -> list[str]:
    """Every schedule name the configs accept, sorted (peer-compat names included).

    >>> names = known_names()
    >>> "cosine" in names, "one_cycle" in names, "hf_cosine" in names
    (True, True, True)
    """
    return names()


def signature_text(name: str) -> str:
    """``name(param, param=default, ...)`` for a registered name."""
    parameters = inspect.signature(_constructor(name)).parameters.values()
    shown = [p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters]
    return f"{name}({', '.join(shown)})"


def _shown(text: str, limit: int = 40) -> str:
    """``repr(text)``, cut in the middle when long."""
    return repr(text) if len(text) <= limit else repr(f"{text[: limit - 10]}...{text[-6:]}")


def _brief(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut in the middle when long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 10]}...{text[-6:]}"


def _number_text(digits: str) -> str:
    return digits if len(digits) <= 20 else f"{digits[:10]}...{digits[-4:]} ({len(digits)} digits)"


def _too_large(value: int) -> str | None:
    """The integer ``value`` as shown in a message when it is refused, else None: a config number must fit a float."""
    if -_MAX_NUMBER <= value <= _MAX_NUMBER:
        return None
    sign = "-" if value < 0 else ""
    if value.bit_length() > 13_000:  # str() of it is slow, or refused beyond 4300 digits
        return f"{sign}(an integer of about {int(value.bit_length() * 0.30103)} digits)"
    return sign + _number_text(str(abs(value)))


_LIMIT = f"numbers must be at most {_MAX_NUMBER:.2g}"


@functools.cache
def _signature(constructor: Any) -> inspect.Signature:
    return inspect.signature(constructor)


def _constructor(name: str) -> Any:
    constructor = lookup(name)
    if constructor is None:
        raise ConfigError(_unknown(name))
    return constructor


def _unknown(name: str) -> str:
    names = known_names()
    close = difflib.get_close_matches(name[:100], names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown schedule {_shown(name)}; {hint}known names: {', '.join(names)}"


def build(
    name: str, args: list[Any], kwargs: dict[str, Any], *, text: str | None = None, position: int | None = None
) -> Schedule:
    """Call the registered constructor ``name`` with checked arguments.

    Whatever the constructor refuses (a ``ValueError``, ``TypeError`` or an overflow) becomes a
    :class:`ConfigError` at ``position``.
    """
    constructor = lookup(name)
    if constructor is None:
        raise ConfigError(_unknown(name), text=text, position=position)
    try:
        args, kwargs = renamed(constructor, args, kwargs)  # old parameter names and positions (aliases)
        _signature(constructor).bind(*args, **kwargs)
    except TypeError as err:
        raise ConfigError(f"{name}: {err}; expected {signature_text(name)}", text=text, position=position) from None
    try:
        return constructor(*args, **kwargs)
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to build", text=text, position=position) from None
    except ConfigError as err:
        raise ConfigError(err.reason, text=text, position=position) from None
    except ValueError as err:
        raise ConfigError(str(err), text=text, position=position) from None
    except (TypeError, ArithmeticError) as err:  # OverflowError is an ArithmeticError
        raise ConfigError(f"{name}: {err}", text=text, position=position) from None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        # tokens are read as the parser needs them, so hostile input (400 '(') fails at once, however long
        self.scanner = _TOKEN.finditer(text)
        self.tokens: list[tuple[str, str, int]] = []
        self.index = 0
        self.level = 0  # brackets and calls open now
        self.depths: dict[int, int] = {}  # id(schedule) -> how deeply it nests
        self.built: list[Schedule] = []  # keeps the ids in ``depths`` alive

    def _scan(self, count: int) -> None:
        """Read tokens until ``count`` are there (or the text ends)."""
        while len(self.tokens) < count:
            if self.tokens and self.tokens[-1][0] == "end":
                return
            match = next(self.scanner, None)
            if match is None:
                self.tokens.append(("end", "", len(self.text)))
                return
            kind = _KINDS[match.lastindex or 0]
            if kind == "bad":
                start = match.start()
                raise ConfigError(self._bad_character(start), text=self.text, position=start)
            if kind != "space":
                self.tokens.append((kind, match.group(), match.start()))

    def _bad_character(self, position: int) -> str:
        char = self.text[position]
        if char == "@":
            return (
                "unexpected character '@': 'SPEC @ LR' is for lrkit compare (a peak learning rate per run); "
                "scale a schedule with '*'"
            )
        if char in "'\"":
            return f"unclosed string: {char} ... {char} (a string cannot hold a backslash)"
        return f"unexpected character {char!r}"

    def error(self, message: str, position: int | None = None) -> ConfigError:
        return ConfigError(message, text=self.text, position=self.peek()[2] if position is None else position)

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        self._scan(self.index + ahead + 1)
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token[0] != "end":
            self.index += 1
        return token

    def accept(self, op: str) -> bool:
        kind, value, _ = self.peek()
        if kind == "op" and value == op:
            self.index += 1
            return True
        return False

    def expect(self, op: str, context: str) -> None:
        if not self.accept(op):
            kind, value, _ = self.peek()
            found = "the end of the text" if kind == "end" else _shown(value)
            raise self.error(f"expected {op!r} {context}, found {found}")

    def enter(self, position: int) -> None:
        self.level += 1
        if self.level > MAX_DEPTH:
            raise self.error(f"the text is nested more than {MAX_DEPTH} levels deep", position)

    def depth(self, value: Any) -> int:
        if isinstance(value, list):
            return max((self.depth(item) for item in value), default=0)
        return self.depths.get(id(value), 1) if isinstance(value, Schedule) else 0

    def build(self, name: str, args: list[Any], kwargs: dict[str, Any], position: int) -> Schedule:
        depth = 1 + max((self.depth(value) for value in (*args, *kwargs.values())), default=0)
        if depth > MAX_DEPTH:
            raise self.error(f"the schedule is nested more than {MAX_DEPTH} levels deep", position)
        schedule = build(name, args, kwargs, text=self.text, position=position)
        self.depths[id(schedule)] = depth
        self.built.append(schedule)
        return schedule

    def parse(self) -> Any:
        value = self.expr()
        kind, token, _ = self.peek()
        if kind != "end":
            raise self.error(f"unexpected {_shown(token)} after a complete expression (join with '>>', scale with '*')")
        return value

    def expr(self) -> Any:
        position = self.peek()[2]
        value = self.term()
        pieces = [value]
        while self.accept(">>"):
            operand_position = self.peek()[2]
            pieces.append(self.term())
            for piece, where in ((pieces[0], position), (pieces[-1], operand_position)):
                if not isinstance(piece, Schedule):
                    raise self.error(f"'>>' joins schedules, got {_brief(piece)}", where)
        if len(pieces) == 1:
            return value
        return self.build("join", [pieces], {}, position)

    def term(self) -> Any:
        position = self.peek()[2]
        value = self.unary()
        factors: list[Schedule] = []  # a * b * c: one product of three factors, built once
        while self.accept("*"):
            operand_position = self.peek()[2]
            other = self.unary()
            if isinstance(value, Schedule) and isinstance(other, Schedule):
                factors = factors or [value]
                factors.append(other)
                continue
            if factors:
                value, factors = self.build("product", [factors], {}, position), []
            value = self.multiply(value, other, position, operand_position)
        if factors:
            value = self.build("product", [factors], {}, position)
        return value

    def multiply(self, left: Any, right: Any, position: int, operand_position: int) -> Any:
        def is_number(x: Any) -> bool:
            return isinstance(x, numbers.Real) and not isinstance(x, bool)

        if is_number(left) and is_number(right):
            product = left * right
            shown = _too_large(product) if isinstance(product, int) else None
            if shown:
                raise self.error(f"'*' gives the integer {shown}, too large: {_LIMIT}", operand_position)
            return product
        if isinstance(left, Schedule) and is_number(right):
            return self.build("scale", [left, right], {}, position)
        if is_number(left) and isinstance(right, Schedule):
            return self.build("scale", [right, left], {}, position)
        if isinstance(left, Schedule) and isinstance(right, Schedule):
            return self.build("product", [[left, right]], {}, position)
        left_ok = is_number(left) or isinstance(left, Schedule)
        bad, where = (right, operand_position) if left_ok else (left, position)
        raise self.error(f"'*' multiplies numbers and schedules, got {_brief(bad)}", where)

    def unary(self) -> Any:
        signs = 0
        while self.accept("-"):  # a loop, not recursion; but '-' * 10_000 is as hostile as 10_000 '('
            signs += 1
            if signs > MAX_DEPTH:
                raise self.error(f"the text is nested more than {MAX_DEPTH} levels deep ('-' after '-')")
        position = self.peek()[2]
        value = self.atom()
        if signs:
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise self.error(f"'-' applies to numbers, got {_brief(value)}", position)
            if signs % 2:
                value = -value
        return value

    def atom(self) -> Any:
        kind, token, position = self.take()
        if kind == "number":
            return self.number(token, position)
        if kind == "string":
            return token[1:-1]
        if kind == "name":
            if self.accept("("):
                return self.call(token, position)
            if token in _CONSTANTS:
                return _CONSTANTS[token]
            if lookup(token) is not None:
                raise self.error(f"{token!r} needs arguments: {signature_text(token)}", position)
            raise self.error(_unknown(token), position)
        if kind == "op" and token == "(":
            self.enter(position)
            value = self.expr()
            self.expect(")", "to close '('")
            self.level -= 1
            return value
        if kind == "op" and token == "[":
            self.enter(position)
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.expr())
                if not self.accept(","):
                    self.expect("]", "to close the list")
                    break
            self.level -= 1
            return items
        found = "the end of the text" if kind == "end" else _shown(token)
        raise self.error(f"expected a number, a name or '(', found {found}", position)

    def number(self, token: str, position: int) -> int | float:
        limit = _LIMIT
        if re.fullmatch(r"[0-9_]+", token):
            digits = token.replace("_", "").lstrip("0")
            if len(digits) > 309:  # beyond any float (and int() of thousands of digits is refused)
                raise self.error(f"the integer {_number_text(digits)} is too large: {limit}", position)
            try:
                value: int | float = int(token)
            except ValueError:
                raise self.error(f"malformed number {_shown(token)}", position) from None
            shown = _too_large(int(value))
            if shown:
                raise self.error(f"the integer {shown} is too large: {_LIMIT}", position)
            return value
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"malformed number {_shown(token)}", position) from None
        if value == float("inf"):
            raise self.error(f"the number {_shown(token)[1:-1]} is too large: {limit}", position)
        return value

    def call(self, name: str, position: int) -> Schedule:
        if lookup(name) is None:
            raise self.error(_unknown(name), position)
        self.enter(position)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        while not self.accept(")"):
            kind, token, where = self.peek()
            if kind == "end":
                raise self.error(f"expected ')' to close {name}(, found the end of the text")
            following = self.peek(1)
            if kind == "name" and following[0] == "op" and following[1] == "=":
                self.index += 2
                if token in kwargs:
                    raise self.error(f"{name}: {token} is given twice", where)
                kwargs[token] = self.expr()
            else:
                if kwargs:
                    raise self.error(f"{name}: a positional argument cannot follow keyword arguments", where)
                args.append(self.expr())
            if not self.accept(","):
                self.expect(")", f"to close {name}(")
                break
        self.level -= 1
        return self.build(name, args, kwargs, position)


def parse(text: str) -> Schedule:
    """Parse the text form into a schedule (see the module docstring for the grammar).

    >>> parse("# comments run to the end of the line\\nwarmup(5) >> cosine(95)  # then decay")
    warmup(5) >> cosine(95)
    """
    known_names()  # make sure every family is registered
    try:
        value = _Parser(text).parse()
    except RecursionError:  # a fallback: the nesting limits keep the parser well inside Python's
        raise ConfigError("the text is nested too deeply", text=text, position=0) from None
    if not isinstance(value, Schedule):
        raise ConfigError(f"the text must describe a schedule, got {_brief(value)}", text=text, position=0)
    return value


# -- dict configs ------------------------------------------------------------------------------------
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
        f"{where}: _target_ {_shown(str(target))} is not an lrkit schedule; "
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
                shown = _too_large(value)
                if shown:
                    raise ConfigError(f"{where}: the integer {shown} is too large: {_LIMIT}")
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
        if depth >= 2 * MAX_DEPTH or schedules >= MAX_DEPTH:
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
                raise ConfigError(f"{where}: keys must be strings, got {_brief(k)}")
        if "type" in config and "_target_" in config:
            raise ConfigError(f"{where}: give 'type' or '_target_', not both")
        if "type" in config:
            name = config["type"]
            if not isinstance(name, str) or lookup(name) is None:
                raise ConfigError(f"{where}: {_unknown(str(name))}")
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
                raise ConfigError(f"{where}._args_: Hydra's positional arguments are a list, got {_brief(given)}")
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


def _from_data(config: Any, where: str) -> Schedule:
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
    return _from_data(config, "config")


# -- files -------------------------------------------------------------------------------------------
def _in_path(path: Path, err: ConfigError) -> ConfigError:
    return ConfigError(f"{path}: {err.reason}", text=err.text, position=err.position)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _read_data(path: Path, content: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            return json.loads(content)
        except RecursionError:
            raise ConfigError(f"{path}: the JSON is nested too deeply to read") from None
        except ValueError as err:  # JSONDecodeError, and an integer of more than 4300 digits
            raise ConfigError(f"{path}: not valid JSON: {_one_line(err)}") from None
    yaml = require("yaml", "yaml", purpose="reading YAML")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's scanner when there is one: far faster
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
            if not (part.isdigit() and int(part) < len(here)):
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
        return _from_data(data, key or "config")
    except ConfigError as err:
        raise err if err.reason.startswith(f"{path}: ") else _in_path(path, err) from None
