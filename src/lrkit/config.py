"""Schedules from configs: plain dicts (JSON/YAML) and the text form.

The text form is a small expression language, parsed here by a recursive-descent
parser (nothing is ever evaluated as Python)::

    expr  := term (">>" term)*            join in sequence
    term  := unary ("*" unary)*           scale by a number / multiply schedules
    unary := "-" unary | atom
    atom  := NUMBER | STRING | NAME | NAME "(" [arg ("," arg)*] [","] ")"
           | "[" [expr ("," expr)*] [","] "]" | "(" expr ")"
    arg   := NAME "=" expr | expr

``NUMBER`` accepts ``10_000``, ``1e-3``, ``.5``; ``NAME`` alone may be ``True``,
``False`` or ``None`` (also ``true``/``false``/``null``). Every call names an entry of
the registry (:func:`known_names`). Errors raise :class:`lrkit.ConfigError` with the
position and, for unknown names, the names that are known.

>>> from_config("warmup(500) >> cosine(10_000, floor=0.01)")
warmup(500) >> cosine(10000, floor=0.01)
"""

from __future__ import annotations

import difflib
import inspect
import json
import numbers
import re
from pathlib import Path
from typing import Any

from lrkit.errors import ConfigError
from lrkit.registry import lookup, names
from lrkit.schedule import Schedule

__all__ = ["from_config", "known_names", "load", "parse", "signature_text"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<op>>>|[*()\[\],=-])
    """,
    re.VERBOSE,
)
_CONSTANTS = {"True": True, "true": True, "False": False, "false": False, "None": None, "null": None}


def known_names() -> list[str]:
    """Every schedule name the configs accept, sorted (peer-compat names included)."""
    return names()


def signature_text(name: str) -> str:
    """``name(param, param=default, ...)`` for a registered name."""
    parameters = inspect.signature(_constructor(name)).parameters.values()
    shown = [p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters]
    return f"{name}({', '.join(shown)})"


def _constructor(name: str) -> Any:
    constructor = lookup(name)
    if constructor is None:
        raise ConfigError(_unknown(name))
    return constructor


def _unknown(name: str) -> str:
    names = known_names()
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown schedule {name!r}; {hint}known names: {', '.join(names)}"


def build(
    name: str, args: list[Any], kwargs: dict[str, Any], *, text: str | None = None, position: int | None = None
) -> Schedule:
    """Call the registered constructor ``name`` with checked arguments."""
    constructor = lookup(name)
    if constructor is None:
        raise ConfigError(_unknown(name), text=text, position=position)
    try:
        inspect.signature(constructor).bind(*args, **kwargs)
    except TypeError as err:
        raise ConfigError(f"{name}: {err}; expected {signature_text(name)}", text=text, position=position) from None
    try:
        return constructor(*args, **kwargs)
    except ValueError as err:
        raise ConfigError(str(err), text=text, position=position) from None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ConfigError(f"unexpected character {text[position]!r}", text=text, position=position)
            kind = match.lastgroup or ""
            if kind != "space":
                self.tokens.append((kind, match.group(), position))
            position = match.end()
        self.tokens.append(("end", "", len(text)))
        self.index = 0

    def error(self, message: str, position: int | None = None) -> ConfigError:
        return ConfigError(message, text=self.text, position=self.peek()[2] if position is None else position)

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.index]
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
            found = "the end of the text" if kind == "end" else repr(value)
            raise self.error(f"expected {op!r} {context}, found {found}")

    def parse(self) -> Any:
        value = self.expr()
        kind, token, _ = self.peek()
        if kind != "end":
            raise self.error(f"unexpected {token!r} after a complete expression (join with '>>', scale with '*')")
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
                    raise self.error(f"'>>' joins schedules, got {piece!r}", where)
        if len(pieces) == 1:
            return value
        return build("join", [pieces], {}, text=self.text, position=position)

    def term(self) -> Any:
        position = self.peek()[2]
        value = self.unary()
        while self.accept("*"):
            operand_position = self.peek()[2]
            other = self.unary()
            value = self.multiply(value, other, position, operand_position)
        return value

    def multiply(self, left: Any, right: Any, position: int, operand_position: int) -> Any:
        def is_number(x: Any) -> bool:
            return isinstance(x, numbers.Real) and not isinstance(x, bool)

        if is_number(left) and is_number(right):
            return left * right
        if isinstance(left, Schedule) and is_number(right):
            return build("scale", [left, right], {}, text=self.text, position=position)
        if is_number(left) and isinstance(right, Schedule):
            return build("scale", [right, left], {}, text=self.text, position=position)
        if isinstance(left, Schedule) and isinstance(right, Schedule):
            return build("product", [[left, right]], {}, text=self.text, position=position)
        left_ok = is_number(left) or isinstance(left, Schedule)
        bad, where = (right, operand_position) if left_ok else (left, position)
        raise self.error(f"'*' multiplies numbers and schedules, got {bad!r}", where)

    def unary(self) -> Any:
        if self.accept("-"):
            position = self.peek()[2]
            value = self.unary()
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise self.error(f"'-' applies to numbers, got {value!r}", position)
            return -value
        return self.atom()

    def atom(self) -> Any:
        kind, token, position = self.take()
        if kind == "number":
            try:
                return int(token) if re.fullmatch(r"[\d_]+", token) else float(token)
            except ValueError:
                raise self.error(f"malformed number {token!r}", position) from None
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
            value = self.expr()
            self.expect(")", "to close '('")
            return value
        if kind == "op" and token == "[":
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.expr())
                if not self.accept(","):
                    self.expect("]", "to close the list")
                    break
            return items
        found = "the end of the text" if kind == "end" else repr(token)
        raise self.error(f"expected a number, a name or '(', found {found}", position)

    def call(self, name: str, position: int) -> Schedule:
        if lookup(name) is None:
            raise self.error(_unknown(name), position)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        while not self.accept(")"):
            kind, token, where = self.peek()
            following = self.tokens[self.index + 1]
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
        return build(name, args, kwargs, text=self.text, position=position)


def parse(text: str) -> Schedule:
    """Parse the text form into a schedule (see the module docstring for the grammar)."""
    value = _Parser(text).parse()
    if not isinstance(value, Schedule):
        raise ConfigError(f"the text must describe a schedule, got {value!r}", text=text, position=0)
    return value


def _from_dict(config: Any, where: str) -> Any:
    if isinstance(config, dict):
        if "type" not in config:
            raise ConfigError(f"{where}: a schedule config needs a 'type' key, got keys {sorted(config)}")
        name = config["type"]
        if not isinstance(name, str) or lookup(name) is None:
            raise ConfigError(f"{where}: {_unknown(str(name))}")
        kwargs = {k: _from_dict(val, f"{where}.{k}") for k, val in config.items() if k != "type"}
        try:
            return build(name, [], kwargs)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err.reason}") from None
    if isinstance(config, list):
        return [_from_dict(item, f"{where}[{i}]") for i, item in enumerate(config)]
    return config


def from_config(config: str | dict[str, Any] | Schedule) -> Schedule:
    """A schedule from its text form, its dict form, or itself.

    ``from_config(s.to_config()) == s`` and ``from_config(repr(s)) == s`` for every schedule.

    >>> from_config({"type": "cosine", "steps": 100, "floor": 0.1})
    cosine(100, floor=0.1)
    """
    if isinstance(config, Schedule):
        return config
    if isinstance(config, str):
        return parse(config)
    if isinstance(config, dict):
        schedule = _from_dict(config, "config")
        return schedule
    raise ConfigError(f"a config must be text or a dict, got {type(config).__name__}")


def load(path: str | Path) -> Schedule:
    """A schedule from a file: ``.json``, ``.yaml``/``.yml`` (needs PyYAML) or text."""
    path = Path(path)
    content = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return from_config(json.loads(content))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON: {err}") from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError("reading YAML needs PyYAML: pip install 'lrkit[yaml]'") from None
        data = yaml.safe_load(content)
        return from_config(data)
    return from_config(content.strip())
