"""The ``math`` namespace, compiled: a schedule's closed form traced once into a Python function.

A scalar call ``sched(t)`` evaluates the closed form through :data:`lrkit.core.backend.MATH`: every
operation is a namespace method call and every combinator a Python call per child, about a
microsecond per call. :func:`compile_math` runs the same ``_eval(t, xp)`` once with a *tracing*
namespace whose values are symbols: each operation appends one line of Python to a program, a
join's :meth:`~lrkit.core.backend.Namespace.select` becomes an ``if``/``elif`` chain (a table of
functions beyond :data:`INLINE_ROUTES` pieces), and the program is compiled to a plain function
of one float. It performs the very operations ``MATH`` performs, in the same order, on the same
constants (a difference of two constants, such as a segment's width, is computed once, when the
program is built: the same subtraction), so its values are **bitwise** those of ``MATH`` (tested
for every family and on random compositions); it only drops the interpretation overhead, as a
hand-written ``math`` closure would.

A finite schedule's end is one branch (:meth:`~lrkit.core.backend.Namespace.held`): before it the closed
form, from it on the final value, computed once by ``MATH`` (what ``min(t, length)`` gives there); an end
already implied by the enclosing branch (a join's piece, a recipe's body) is not compared again.

It stays because it earns its place by the measurement that decides it: ``bench/core.py`` row 1 times
``sched(t)`` against the peers' own scalar evaluations, and beside it the same value with this module's
function replaced by the interpreted ``MATH`` path (the *interpreted* column).

The closed form stays the only formula: nothing here knows any family. A closed form the tracer
cannot follow (Python control flow on the step, a non-traceable family such as ``noise``) is
simply not compiled, and the call keeps the ``MATH`` path.

>>> import lrkit as lk
>>> from lrkit.core.backend import MATH
>>> s = lk.warmup(500) >> lk.cosine(10000)
>>> f = compile_math(s)
>>> f(7000.0) == s._at(7000.0, MATH)
True
>>> print(source(lk.cosine(100, floor=0.1)).splitlines()[0])
def _cosine(t):
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from lrkit.core.backend import MATH, Namespace

__all__ = ["INLINE_ROUTES", "MAX_NODES", "compile_math", "source"]

#: A join of at most this many pieces is an inline ``if``/``elif`` chain; beyond, a bisect into a
#: table of one compiled function per piece (bounded code size, no deep nesting). A lookup or an
#: interpolation over at most this many edges is a chain too (its constants inline), beyond a bisect.
INLINE_ROUTES = 8
#: A schedule of more nodes keeps the ``MATH`` path: its compile would cost more than its calls save in
#: most runs, and its program would be long (a 1,000-factor product of cosines is 10,000 lines).
MAX_NODES = 64


class Untraceable(Exception):
    """The closed form does something with the step the tracer cannot record (e.g. ``if t < x``)."""


def _exactly(value: Any, constant: float) -> bool:
    """Whether ``value`` is the constant itself (a float or an int equal to it; not a symbol, not a bool)."""
    return type(value) in (float, int) and value == constant


class _Symbol:
    """A value of the traced program: the name of a local variable."""

    __slots__ = ("name", "program")

    def __init__(self, program: _Program, name: str):
        self.program = program
        self.name = name

    def _op(self, template: str, *args: Any) -> _Symbol:
        return self.program.emit(template.format(*(self.program.operand(a) for a in args)))

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise Untraceable("a Python condition on the step")

    def __float__(self) -> float:
        raise Untraceable("float() of the step")

    def __index__(self) -> int:
        raise Untraceable("an integer index from the step")

    __int__ = __index__


def _operator(template: str, reflected: bool, neutral: float | None) -> Callable[[_Symbol, Any], _Symbol]:
    """A binary operator of a symbol: one line ``template`` of the two operands (the symbol on the left, or on
    the right when ``reflected``); with an operand exactly ``neutral`` (``x - 0.0``, ``x * 1.0``, ``x / 1.0``:
    ``x`` bit for bit, NaN and -0.0 included) no line at all."""

    def operator(self: _Symbol, other: Any) -> _Symbol:
        if neutral is not None and _exactly(other, neutral):
            return self
        return self._op(template, other, self) if reflected else self._op(template, self, other)

    return operator


def _unary(template: str) -> Callable[[_Symbol], _Symbol]:
    return lambda self: self._op(template, self)


# the operators a closed form applies to the step: name -> (the line's template, the neutral operand, reflected too)
_OPERATORS: dict[str, tuple[str, float | None, bool]] = {
    "add": ("{} + {}", None, True), "sub": ("{} - {}", 0.0, True), "mul": ("{} * {}", 1.0, True),
    "truediv": ("{} / {}", 1.0, True), "pow": ("{} ** {}", None, True),
    "lt": ("{} < {}", None, False), "le": ("{} <= {}", None, False), "gt": ("{} > {}", None, False),
    "ge": ("{} >= {}", None, False), "eq": ("{} == {}", None, False), "ne": ("{} != {}", None, False),
}
for _name, (_template, _neutral, _reflect) in _OPERATORS.items():
    setattr(_Symbol, f"__{_name}__", _operator(_template, False, _neutral))
    if _reflect:  # a reflected operand is never dropped but for ``1.0 * x`` (multiplication commutes)
        setattr(_Symbol, f"__r{_name}__", _operator(_template, True, _neutral if _name == "mul" else None))
for _name, _template in {"neg": "-{}", "pos": "+{}", "abs": "abs({})"}.items():
    setattr(_Symbol, f"__{_name}__", _unary(_template))


class _Program:
    """The lines of one traced function, its constants, and the current indentation."""

    def __init__(self, name: str):
        self.name = name
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.indent = 1
        self.count = 0

    def emit(self, expression: str) -> _Symbol:
        self.count += 1
        name = f"v{self.count}"
        self.line(f"{name} = {expression}")
        return _Symbol(self, name)

    def line(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def operand(self, value: Any) -> str:
        if isinstance(value, _Symbol):
            if value.program is not self:
                raise Untraceable("a symbol of another program")
            return value.name
        if type(value) is float and math.isfinite(value):
            return repr(value)  # repr round-trips a float exactly
        if type(value) is int and abs(value) <= 2**53:
            # exactly the float Python would convert it to in any operation with a float: the
            # values are the same, and the result is a float (as MATH's callers get) on every branch
            return repr(float(value))
        if type(value) is bool:
            return repr(value)
        return self.constant(value)

    def constant(self, value: Any) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def build(self, result: Any, coerce: bool = False) -> Callable[[float], float]:
        returned = self.operand(result)
        self.line(f"return float({returned})" if coerce else f"return {returned}")
        text = f"def {self.name}(t):\n" + "\n".join(_coalesce(_inline(_live(self.lines)))) + "\n"
        scope: dict[str, Any] = {"_floor": math.floor, "_bisect": bisect.bisect_right, **self.constants}
        exec(compile(text, f"<lrkit {self.name}>", "exec"), scope)  # our own generated code, from our own closed forms
        function: Callable[[float], float] = scope[self.name]
        function.__lrkit_source__ = text  # type: ignore[attr-defined]
        return function


_NAME = re.compile(r"\bv\d+\b")


def _live(lines: list[str]) -> list[str]:
    """Drop assignments nobody reads (a piece's clipped step that its closed form ignores, ...).

    Every name is assigned once, except a join's result, assigned once per branch (all kept or all
    dropped); a branch left empty gets a ``pass``.
    """
    used: set[str] = set()
    kept: list[str] = []
    for line in reversed(lines):
        text = line.strip()
        target, sep, expression = text.partition(" = ")
        if sep and _NAME.fullmatch(target):
            if target not in used:
                continue
            used.update(_NAME.findall(expression))
        else:
            used.update(_NAME.findall(text))
        kept.append(line)
    kept.reverse()
    return _with_pass(kept)


_COPY = re.compile(r"(\s*)(v\d+) = (v\d+)")


def _coalesce(lines: list[str]) -> list[str]:
    """Drop the copies ``v2 = v3`` that close a branch, where ``v3`` is the result of the branches just above and
    read nowhere else: those branches assign ``v2`` itself (the same value, one store and load less per call)."""
    if not any(map(_COPY.fullmatch, lines)):  # no copy (no join, no held end): nothing to count
        return lines
    reads: dict[str, int] = {}
    for line in lines:
        target, sep, expression = line.strip().partition(" = ")
        for name in _NAME.findall(expression if sep and _NAME.fullmatch(target) else line):
            reads[name] = reads.get(name, 0) + 1
    renamed: dict[str, str] = {}
    for line in reversed(lines):  # the copies, outermost first: a name copied into a renamed one takes its new name
        copy = _COPY.fullmatch(line)
        if copy and reads.get(copy.group(3)) == 1:
            renamed[copy.group(3)] = renamed.get(copy.group(2), copy.group(2))
    out: list[str] = []
    for line in lines:
        copy = _COPY.fullmatch(line)
        if copy and copy.group(3) in renamed:
            continue
        indent = line[: len(line) - len(line.lstrip())]
        target, sep, expression = line.strip().partition(" = ")
        if sep and target in renamed:
            line = f"{indent}{renamed[target]} = {expression}"
        out.append(line)
    return out


_MAX_NESTING = 40  # parentheses one inlined expression may nest (the parser refuses about 200)


def _inline(lines: list[str]) -> list[str]:
    """Write a value read once into the expression that reads it: ``v2 = v1 / 500.0`` after ``v1 = 500.0 - t``
    becomes ``v2 = (500.0 - t) / 500.0``. The same operations in the same order (Python evaluates the
    parenthesised operand first, as it evaluated the line before), so the same bits; fewer locals to store
    and load. Only names assigned once are moved (a join's result, assigned per branch, stays)."""
    assigned: dict[str, int] = {}
    reads: dict[str, int] = {}
    for line in lines:
        target, sep, expression = line.strip().partition(" = ")
        if sep and _NAME.fullmatch(target):
            assigned[target] = assigned.get(target, 0) + 1
            names = _NAME.findall(expression)
        else:
            names = _NAME.findall(line)
        for name in names:
            reads[name] = reads.get(name, 0) + 1
    pending: dict[str, tuple[str, int]] = {}  # name -> (expression, nesting)
    out: list[str] = []

    def substitute(text: str) -> tuple[str, int]:
        depth = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal depth
            found = pending.pop(match.group(), None)
            if found is None:
                return match.group()
            depth = max(depth, found[1] + 1)
            return f"({found[0]})"

        return _NAME.sub(replace, text), depth

    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        target, sep, expression = line.strip().partition(" = ")
        if sep and _NAME.fullmatch(target):
            expression, depth = substitute(expression)
            if assigned[target] == 1 and reads.get(target, 0) == 1 and depth < _MAX_NESTING:
                pending[target] = (expression, depth)
                continue
            out.append(f"{indent}{target} = {expression}")
        else:
            out.append(indent + substitute(line.strip())[0])
    return _with_pass(out)


def _with_pass(lines: list[str]) -> list[str]:
    """A block left empty (its lines inlined away) gets a ``pass``."""
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if line.endswith(":"):
            depth = len(line) - len(line.lstrip())
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if len(following) - len(following.lstrip()) <= depth:
                out.append(" " * (depth + 4) + "pass")
    return out


class _Tracing(Namespace):
    """:data:`~lrkit.core.backend.MATH`'s operations, recorded as lines of a program instead of run."""

    name = "math (compiled)"
    traced = False  # evaluated like MATH: only the piece in charge runs

    def __init__(self, program: _Program):
        self.program = program
        #: symbol -> a bound it is below in the branch being written (``if t < 500.0:``): a held end at or past
        #: it needs no second comparison
        self.below: dict[str, float] = {}
        self.cos = self._call("_cos", math.cos)
        self.sqrt = self._call("_sqrt", math.sqrt)
        self.tanh = self._call("_tanh", math.tanh)
        self.exp = self._call("_exp", math.exp)
        self.expm1 = self._call("_expm1", math.expm1)
        self.log = self._call("_log", math.log)

    def _call(self, name: str, function: Callable[[float], float]) -> Callable[[Any], Any]:
        program = self.program

        def traced(x: Any) -> Any:
            if not isinstance(x, _Symbol):
                return function(x)
            program.constants[name] = function
            return program.emit(f"{name}({x.name})")

        return traced

    def _emit(self, template: str, *args: Any) -> _Symbol:
        return self.program.emit(template.format(*(self.program.operand(a) for a in args)))

    @staticmethod
    def _plain(*args: Any) -> bool:
        return not any(isinstance(a, _Symbol) for a in args)

    def floor(self, x: Any) -> Any:
        return MATH.floor(x) if self._plain(x) else self._emit("float(_floor({}))", x)

    def quotient(self, t: Any, d: float) -> Any:
        return MATH.quotient(t, d) if self._plain(t, d) else self._emit("_floor({} / {})", t, d)  # an int: the
        # same number as MATH's float in every operation with a float (comparisons are exact)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return MATH.where(cond, a, b) if self._plain(cond) else self._emit("{} if {} else {}", a, cond, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return MATH.minimum(a, b) if self._plain(a, b) else self._emit("{0} if {0} < {1} else {1}", a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return MATH.maximum(a, b) if self._plain(a, b) else self._emit("{0} if {0} > {1} else {1}", a, b)

    def full(self, t: Any, value: float) -> Any:
        return value

    def lookup(self, t: Any, edges: Sequence[float], values: Sequence[float]) -> Any:
        if self._plain(t):
            return MATH.lookup(t, edges, values)
        if len(edges) > INLINE_ROUTES:
            return self._emit("{}[_bisect({}, {})]", _floats(values), edges, t)
        # values[bisect_right(edges, t)] as a chain: the first edge above t names the value
        return self._chain(t, edges, [self.program.operand(value) for value in values])

    def interp(self, t: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
        if self._plain(t):
            return MATH.interp(t, xs, ys)
        # MATH.interp's very operations, inline: the segment i = bisect_right(xs, t), then one linear
        # formula y0 + (y1 - y0) * (t - x0) / (x1 - x0) whose differences of constants are computed
        # here, once (the same subtractions: bitwise the same values)
        program = self.program
        ys = _floats(ys)
        operand, u = program.operand, program.operand(t)
        # segment k (1 <= k < len(xs)) holds xs[k - 1] <= t < xs[k]: its (y0, y1 - y0, x0, x1 - x0)
        segments = [(ys[k - 1], ys[k] - ys[k - 1], xs[k - 1], xs[k] - xs[k - 1]) for k in range(1, len(xs))]
        if len(xs) <= INLINE_ROUTES:  # a chain, each segment's constants inline
            pieces = [
                f"{operand(y0)} + {operand(dy)} * ({u} - {operand(x0)}) / {operand(dx)}" for y0, dy, x0, dx in segments
            ]
            return self._chain(t, xs, [operand(ys[0]), *pieces, operand(ys[-1])])
        # a bisection, and the segment's constants from tables indexed by it (slot 0 unused)
        i = self._emit("_bisect({}, {})", xs, t).name
        y0, dy, x0, dx = (operand((pad, *column)) for pad, column in zip((0.0, 0.0, 0.0, 1.0), zip(*segments)))
        program.count += 1
        out = f"v{program.count}"
        program.line(f"if {i} == 0:")
        program.line(f"    {out} = {operand(ys[0])}")
        program.line(f"elif {i} == {len(xs)}:")
        program.line(f"    {out} = {operand(ys[-1])}")
        program.line("else:")
        program.line(f"    {out} = {y0}[{i}] + {dy}[{i}] * ({u} - {x0}[{i}]) / {dx}[{i}]")
        return _Symbol(program, out)

    def held(self, t: Any, end: float, closed_form: Callable[[Any, Namespace], Any]) -> Any:
        """``closed_form(min(t, end))`` as MATH computes it, as a branch: the closed form of ``t`` before ``end``,
        and from ``end`` on the final value, computed here once (``MATH`` evaluates ``closed_form(end)`` there)."""
        if self._plain(t):
            return MATH.held(t, end, closed_form)
        program = self.program
        u = program.operand(t)
        known = self.below.get(u)
        if known is not None and known <= end:  # inside a branch t < known <= end: min(t, end) is t
            return closed_form(t, self)
        final = float(closed_form(end, MATH))  # a float, as a compiled function returns (an int is the same number)
        program.count += 1
        out = f"v{program.count}"
        program.line(f"if {u} < {program.operand(end)}:")
        program.line(f"    {out} = {program.operand(self._below(t, end, closed_form))}")
        program.line("else:")
        program.line(f"    {out} = {program.operand(final)}")
        return _Symbol(program, out)

    def _chain(self, t: Any, edges: Sequence[float], choices: Sequence[str]) -> _Symbol:
        """``choices[bisect_right(edges, t)]`` as an ``if``/``elif`` chain (``edges`` sorted; an
        edge equal to the one before it opens an empty interval, and is left out)."""
        program = self.program
        u = program.operand(t)
        program.count += 1
        out = f"v{program.count}"
        keyword = "if"
        for k, edge in enumerate(edges):
            if k and edge == edges[k - 1]:
                continue
            program.line(f"{keyword} {u} < {program.operand(edge)}:")
            program.line(f"    {out} = {choices[k]}")
            keyword = "elif"
        program.line("else:")
        program.line(f"    {out} = {choices[-1]}")
        return _Symbol(program, out)

    def select(self, t: Any, starts: Sequence[float], routes: Sequence[Any]) -> Any:
        if self._plain(t):
            return MATH.select(t, starts, routes)
        program = self.program
        if len(routes) > INLINE_ROUTES:
            table = tuple(_compile(route.value, f"_piece{i}") for i, route in enumerate(routes))
            return self._emit("{}[_bisect({}, {}) - 1]({})", table, tuple(starts), t, t)
        program.count += 1
        out = f"v{program.count}"
        u = program.operand(t)
        for i, route in enumerate(routes):
            if i < len(routes) - 1:
                program.line(f"{'elif' if i else 'if'} {u} < {program.operand(starts[i + 1])}:")
            else:
                program.line("else:")
            bound = starts[i + 1] if i < len(routes) - 1 else None
            program.line(f"    {out} = {program.operand(self._below(t, bound, route.value))}")
        return _Symbol(program, out)

    def _below(self, t: Any, bound: float | None, closed_form: Callable[[Any, Namespace], Any]) -> Any:
        """``closed_form(t)`` written inside a branch where ``t < bound`` (``None``: no bound), one level deeper."""
        program, u = self.program, self.program.operand(t)
        before = self.below.get(u)
        if bound is not None:
            self.below[u] = bound
        program.indent += 1
        try:
            return closed_form(t, self)
        finally:
            program.indent -= 1
            if before is None:
                self.below.pop(u, None)
            else:
                self.below[u] = before


def _floats(values: Sequence[Any]) -> tuple[Any, ...]:
    """Values as floats where they are exact ints (the same numbers; every result is then a float)."""
    return tuple(float(v) if type(v) is int and abs(v) <= 2**53 else v for v in values)


def _compile(closed_form: Callable[[Any, Namespace], Any], name: str, coerce: bool = False) -> Callable[[float], float]:
    program = _Program(name)
    tracing = _Tracing(program)
    return program.build(closed_form(_Symbol(program, "t"), tracing), coerce)


def compile_math(schedule: Any) -> Callable[[float], float] | None:
    """``schedule._at(t, MATH)`` as one compiled function of a float ``t >= 0``, bitwise the same;
    ``None`` if it has more than :data:`MAX_NODES` nodes or its closed form cannot be traced (the caller
    keeps the ``MATH`` path)."""
    nodes = schedule.walk()
    if len(nodes) > MAX_NODES or not all(node.traceable for node in nodes):
        return None
    name = "_" + re.sub(r"\W", "_", schedule.name or "schedule")  # an identifier, whatever a subclass calls itself
    try:
        function = _compile(schedule._at, name)
        if type(function(0.0)) is not float:  # values given as ints (piecewise_constant([5], [1, 0.1])): convert
            function = _compile(schedule._at, name, coerce=True)
    except (Untraceable, RecursionError, SyntaxError, MemoryError):
        return None
    return function


def source(schedule: Any) -> str:
    """The Python source :func:`compile_math` generates for ``schedule`` (for inspection)."""
    function = compile_math(schedule)
    if function is None:
        raise ValueError(f"{schedule!r} is not compiled (its closed form is not traceable); it evaluates through MATH")
    return function.__lrkit_source__  # type: ignore[attr-defined,no-any-return]
