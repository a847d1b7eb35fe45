"""The text form: a small expression language, read by a recursive-descent parser (nothing is evaluated).

The grammar::

    expr  := term (">>" term)*            join in sequence
    term  := unary ("*" unary)*           scale by a number / multiply schedules
    unary := "-" unary | atom
    atom  := NUMBER | STRING | NAME | NAME "(" [arg ("," arg)*] [","] ")"
           | "[" [expr ("," expr)*] [","] "]" | "(" expr ")"
    arg   := NAME "=" expr | expr

``NUMBER`` accepts ``10_000``, ``1e-3``, ``.5`` (ASCII digits, at most about ``1.8e308``);
``NAME`` alone may be ``True``, ``False`` or ``None`` (also ``true``/``false``/``null``);
``#`` starts a comment that runs to the end of the line. Every call names an entry of
the registry (:func:`lrkit.known_names`); ``join`` and ``product`` take their schedules
positionally or as one list (``join(a, b)`` is ``join([a, b])``). Nesting is limited to
``lrkit.core.config.MAX_DEPTH`` levels, and a call stops at its first positional argument
beyond the constructor's signature. Every problem raises :class:`lrkit.ConfigError` with the
position and, for unknown names, the names that are known; nothing else escapes.

>>> parse("warmup(500) >> cosine(10_000, floor=0.01)")
warmup(500) >> cosine(10000, floor=0.01)
>>> parse("join(warmup(5), cosine(95))") == parse("warmup(5) >> cosine(95)")
True
>>> try:
...     parse("cosine(" + "1" * 400 + ")")
... except ConfigError as err:
...     print(err.reason)
the integer 1111111111...1111 (400 digits) is too large: numbers must be at most 1.8e+308
"""

from __future__ import annotations

import numbers
import re
from typing import Any

from lrkit.core.config._build import (
    LIMIT,
    MAX_DEPTH,
    build,
    known_names,
    max_positional,
    number_text,
    signature_text,
    too_large,
    too_many,
    unknown,
)
from lrkit.core.errors import ConfigError, brief, shown
from lrkit.core.registry import lookup
from lrkit.core.schedule import Schedule

__all__ = ["parse"]

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
            found = "the end of the text" if kind == "end" else shown(value)
            raise self.error(f"expected {op!r} {context}, found {found}")

    def enter(self, position: int, *, extra: int = 0) -> None:
        """Open a bracket or a call; at most :data:`MAX_DEPTH` levels (``extra`` more for a list: the list a family
        takes, ``multistep([...])``, is inside the innermost schedule a schedule of the limit's depth holds, as the
        constructors count)."""
        self.level += 1
        if self.level > MAX_DEPTH + extra:
            raise self.error(f"the text is nested more than {MAX_DEPTH + extra} levels deep", position)

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
            raise self.error(f"unexpected {shown(token)} after a complete expression (join with '>>', scale with '*')")
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
                    raise self.error(f"'>>' joins schedules, got {brief(piece)}", where)
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
            big = too_large(product) if isinstance(product, int) else None
            if big:
                raise self.error(f"'*' gives the integer {big}, too large: {LIMIT}", operand_position)
            return product
        if isinstance(left, Schedule) and is_number(right):
            return self.build("scale", [left, right], {}, position)
        if is_number(left) and isinstance(right, Schedule):
            return self.build("scale", [right, left], {}, position)
        if isinstance(left, Schedule) and isinstance(right, Schedule):
            return self.build("product", [[left, right]], {}, position)
        left_ok = is_number(left) or isinstance(left, Schedule)
        bad, where = (right, operand_position) if left_ok else (left, position)
        raise self.error(f"'*' multiplies numbers and schedules, got {brief(bad)}", where)

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
                raise self.error(f"'-' applies to numbers, got {brief(value)}", position)
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
            raise self.error(unknown(token), position)
        if kind == "op" and token == "(":
            self.enter(position)
            value = self.expr()
            self.expect(")", "to close '('")
            self.level -= 1
            return value
        if kind == "op" and token == "[":
            self.enter(position, extra=1)
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.expr())
                if not self.accept(","):
                    self.expect("]", "to close the list")
                    break
            self.level -= 1
            return items
        found = "the end of the text" if kind == "end" else shown(token)
        raise self.error(f"expected a number, a name or '(', found {found}", position)

    def number(self, token: str, position: int) -> int | float:
        limit = LIMIT
        if re.fullmatch(r"[0-9_]+", token):
            digits = token.replace("_", "").lstrip("0")
            if len(digits) > 309:  # beyond any float (and int() of thousands of digits is refused)
                raise self.error(f"the integer {number_text(digits)} is too large: {limit}", position)
            try:
                value: int | float = int(token)
            except ValueError:
                raise self.error(f"malformed number {shown(token)}", position) from None
            big = too_large(int(value))
            if big:
                raise self.error(f"the integer {big} is too large: {LIMIT}", position)
            return value
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"malformed number {shown(token)}", position) from None
        if value == float("inf"):
            raise self.error(f"the number {shown(token)[1:-1]} is too large: {limit}", position)
        return value

    def call(self, name: str, position: int) -> Schedule:
        if lookup(name) is None:
            raise self.error(unknown(name), position)
        self.enter(position)
        most = max_positional(name)  # stop at the first argument too many, before reading it (or the rest)
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
                if most is not None and len(args) == most:
                    raise self.error(too_many(name), where)
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
        raise ConfigError(f"the text must describe a schedule, got {brief(value)}", text=text, position=0)
    return value

