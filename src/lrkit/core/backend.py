"""Array namespaces: the one set of operations every closed form is written against.

Each family writes its closed form once, as ``_eval(t, xp)``, using Python operators
(``+ - * / **`` and comparisons) and the few functions of a namespace ``xp`` below. The
namespace is chosen from the step's type:

===========================  =================  ===========================================
step                         namespace          notes
===========================  =================  ===========================================
``int``/``float``            :data:`MATH`       ``math`` on Python floats; compiled (:mod:`lrkit.core.compiled`)
``numpy`` array, list        :data:`NUMPY`      float64, vectorised, sorted-slice joins
``torch.Tensor``             ``torch``          any device, inside ``torch.compile``
``jax.Array`` (traced too)   ``jax``            ``jit``/``vmap``/``grad``/``scan``/``export``
Keras tensor                 ``keras``          ``keras.ops``, every backend
===========================  =================  ===========================================

Why a shim of our own rather than the array API alone: the array-API namespaces
(``array_api_compat``) cover numpy, torch and jax but neither Python floats nor
``keras.ops``, and every closed form also needs three piecewise operations the standard
lacks: :meth:`Namespace.select` (which piece of a join runs), :meth:`Namespace.lookup`
(the value after the milestones passed) and :meth:`Namespace.interp`. Written once here for traced
backends (a ``where`` chain, a ``where`` chain of table values, a sum of clipped ramps), with fast paths
for ``math`` (``bisect``) and numpy (``searchsorted``, contiguous slices), they are about a
hundred lines: smaller than the per-adapter workarounds they replace.

Three more operations let a backend take a shorter road to the same values: :meth:`Namespace.held`
(a finite schedule past its end: numpy fills the tail with the final value, the compiled scalar path
returns it from one branch), :meth:`Namespace.power` (``base ** k`` for a count ``k``: numpy raises
each distinct exponent once) and :meth:`Namespace.blend` (a ramp's mix of its two ends: numpy writes
into the arrays the closed form has just made). Each is the same arithmetic in the same order, so
the same bits; none knows a family.

Eager namespaces (``math``, numpy) validate steps and raise on a negative, NaN or infinite
step. Traced namespaces cannot raise on values: they clip the step at 0 (as optax does).

>>> import math
>>> MATH.cos(0.0), NUMPY.cos(np.zeros(2)).tolist()
(1.0, [1.0, 1.0])
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["MATH", "NUMPY", "SORTED", "Namespace", "for_step", "jax_namespace", "keras_namespace", "torch_namespace"]


#: The elementwise functions every namespace takes from its library under these names (``math.cos``,
#: ``np.cos``, ``torch.cos``, ...).
FUNCTIONS = ("cos", "sqrt", "tanh", "exp", "expm1", "log")


def _bind(target: Any, library: Any, extra: tuple[str, ...] = ()) -> None:
    """Bind ``library``'s :data:`FUNCTIONS` (and ``extra``) on ``target``: a namespace class (as static methods)
    or a namespace instance (of a library imported on first use)."""
    for name in (*FUNCTIONS, *extra):
        function = getattr(library, name)
        setattr(target, name, staticmethod(function) if isinstance(target, type) else function)


def _functions_of(library: Any, *extra: str) -> Callable[[type], type]:
    """A class decorator: :func:`_bind` ``library``'s functions on the namespace class."""

    def decorate(cls: type) -> type:
        _bind(cls, library, extra)
        return cls

    return decorate


class Namespace:
    """The operations closed forms use; traced backends inherit the generic piecewise operations.

    Subclasses bind ``cos``, ``sqrt``, ``tanh``, ``exp``, ``expm1``, ``log``, ``floor``,
    ``where``, ``minimum``, ``maximum`` (``minimum(x, c)``/``maximum(x, c)`` with a Python
    number ``c``).
    """

    name = "abstract"
    #: Traced namespaces cannot raise on values (no validation; the step is clipped at 0).
    traced = True
    #: Whether the steps it is given are sorted (a preview): see :data:`SORTED`.
    sorted = False
    pi = math.pi
    cos: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    tanh: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    expm1: Callable[[Any], Any]
    log: Callable[[Any], Any]
    floor: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]

    def clip(self, x: Any, low: float, high: float) -> Any:
        """``min(max(x, low), high)``."""
        return self.minimum(self.maximum(x, low), high)

    def blend(self, h: Any, start: float, end: float) -> Any:
        """``(end - end h) + start h`` (``start h`` alone when ``end`` is 0): from ``end`` at ``h = 0`` to ``start``
        at ``h = 1``. ``h`` is a value the closed form has just computed (numpy writes into it). A product by 1.0
        is ``x`` bit for bit: it is skipped (a pass over an array less)."""
        start_h = h if start == 1.0 else start * h
        if not end:
            return start_h
        return (end - (h if end == 1.0 else h * end)) + start_h

    def until(self, t: Any, end: float) -> Any:
        """Steps ``t`` held at ``end`` past it: ``minimum(t, end)`` (a schedule's length)."""
        return self.minimum(t, end)

    def from_zero(self, t: Any) -> Any:
        """Steps ``t`` held at 0 before it: ``maximum(t, 0.0)``."""
        return self.maximum(t, 0.0)

    def held(self, t: Any, end: float, closed_form: Callable[[Any, Namespace], Any]) -> Any:
        """``closed_form(until(t, end))``: a finite schedule past its end (:data:`SORTED` fills the tail instead)."""
        return closed_form(self.until(t, end), self)

    def full(self, t: Any, value: float) -> Any:
        """``value`` with ``t``'s shape (and dtype/device)."""
        return t * 0.0 + value

    def quotient(self, t: Any, d: float) -> Any:
        """``floor(t / d)``, exact at multiples of ``d``.

        XLA's division is not correctly rounded (``9270 / 103`` can give
        ``89.99999999999999``), so the jax and Keras namespaces correct the floor by one
        multiply-and-compare each way (exact unless the product itself rounds, as ``30 * 1.1`` does:
        there the corrected floor can differ from numpy's by one). math, numpy and torch divide as
        IEEE does, and floor the quotient directly.
        """
        k = self.floor(t / d)
        k = self.where((k + 1.0) * d <= t, k + 1.0, k)
        return self.where(k * d > t, k - 1.0, k)

    def power(self, base: float, k: Any) -> Any:
        """``base ** k`` for an integer-valued exponent ``k`` (a cycle or restart count)."""
        return base**k

    def asfloat(self, t: Any) -> Any:  # pragma: no cover - bound per backend
        """``t`` as a floating-point array of this library (integers become its default float)."""
        raise NotImplementedError

    def lookup(self, t: Any, edges: Sequence[float], values: Sequence[float]) -> Any:
        """``values[k]`` where ``k`` edges (sorted) are ``<= t``; exact (no arithmetic on values)."""
        out = self.full(t, values[0])
        for edge, value in zip(edges, values[1:]):
            out = self.where(t >= edge, value, out)
        return out

    def interp(self, t: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
        """Linear interpolation through ``(xs[i], ys[i])``; ``ys[0]`` before, ``ys[-1]`` after."""
        out = self.full(t, ys[0])
        for x0, x1, y0, y1 in zip(xs[:-1], xs[1:], ys[:-1], ys[1:]):
            if x1 > x0 and y1 != y0:
                out = out + (y1 - y0) * self.clip((t - x0) / (x1 - x0), 0.0, 1.0)
        return out

    def select(self, t: Any, starts: Sequence[float], routes: Sequence[Any]) -> Any:
        """``routes[i].value(t, xp)`` where ``starts[i] <= t < starts[i+1]`` (``starts[0] == 0``).

        Traced: every route is evaluated and a ``where`` chain keeps the one in charge.
        """
        out = routes[0].value(t, self)
        for start, route in zip(starts[1:], routes[1:]):
            out = self.where(t >= start, route.value(t, self), out)
        return out

    def __repr__(self) -> str:
        return f"<lrkit namespace {self.name}>"


@_functions_of(math)
class _Math(Namespace):
    """Python floats through ``math``: a scalar call costs a few attribute lookups."""

    name = "math"
    traced = False

    @staticmethod
    def floor(x: float) -> float:
        return float(math.floor(x))

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def quotient(t: float, d: float) -> float:  # IEEE division is correctly rounded: floor is exact
        return float(math.floor(t / d))

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:  # a conditional costs a third of builtins.min's argument parsing
        return a if a < b else b

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return a if a > b else b

    @staticmethod
    def until(t: Any, end: float) -> Any:
        return t if t < end else end

    @staticmethod
    def from_zero(t: Any) -> Any:
        return t if t > 0.0 else 0.0

    @staticmethod
    def full(t: Any, value: float) -> float:
        return value

    @staticmethod
    def lookup(t: float, edges: Sequence[float], values: Sequence[float]) -> float:
        return values[bisect.bisect_right(edges, t)]

    @staticmethod
    def interp(t: float, xs: Sequence[float], ys: Sequence[float]) -> float:
        i = bisect.bisect_right(xs, t)
        if i == 0:
            return ys[0]
        if i == len(xs):
            return ys[-1]
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (y1 - y0) * (t - x0) / (x1 - x0)

    def select(self, t: float, starts: Sequence[float], routes: Sequence[Any]) -> Any:
        return routes[bisect.bisect_right(starts, t) - 1].value(t, self)


@_functions_of(np, "floor", "where", "minimum", "maximum")
class _Numpy(Namespace):
    """float64 numpy arrays (1-D; the caller reshapes)."""

    name = "numpy"
    traced = False

    @staticmethod
    def clip(x: Any, low: float, high: float) -> Any:
        """One pass instead of two (the same values), written into ``x`` when it is an array: the closed forms
        clip only what they have just computed, never a step."""
        return np.clip(x, low, high, out=x) if type(x) is np.ndarray else np.clip(x, low, high)

    @staticmethod
    def full(t: Any, value: float) -> Any:
        return np.full(np.shape(t), value)

    def blend(self, h: Any, start: float, end: float) -> Any:
        """The same operations, in the same order, into arrays of the closed form's own: ``start h`` is written over
        ``h`` once ``end h`` is taken (one new array where there were two)."""
        if type(h) is not np.ndarray or h.base is not None:
            return Namespace.blend(self, h, start, end)
        if not end:
            return h if start == 1.0 else np.multiply(h, start, out=h)
        if end == 1.0:
            value = end - h
        else:
            value = np.multiply(h, end)
            np.subtract(end, value, out=value)
        if start != 1.0:
            np.multiply(h, start, out=h)
        return np.add(value, h, out=value)

    @staticmethod
    def quotient(t: Any, d: float) -> Any:  # IEEE division is correctly rounded: floor is exact
        return np.floor(t / d)

    @staticmethod
    def power(base: float, k: Any) -> Any:
        """``base ** k``, each distinct exponent raised once: a count takes few values over many steps, and a power
        costs twenty light passes. The same ``np.power`` on the same exponents (a table of them), so the same bits;
        an exponent array that is short, spread or not integer-valued is raised element by element."""
        if type(k) is not np.ndarray or k.size < _POWER_TABLE:
            return base**k
        low, high = k.min(), k.max()
        if not high - low < _POWER_TABLE:  # NaN fails too
            return base**k
        offset = k - low
        index = offset.astype(np.intp)
        if not (index == offset).all():
            return base**k
        return (base ** np.arange(low, high + 1.0))[index]

    @staticmethod
    def lookup(t: np.ndarray, edges: Sequence[float], values: Sequence[float]) -> np.ndarray:
        index = np.searchsorted(np.asarray(edges, dtype=np.float64), t, side="right")
        return np.asarray(values, dtype=np.float64)[index]

    @staticmethod
    def interp(t: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
        return np.interp(t, np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))

    def select(self, t: np.ndarray, starts: Sequence[float], routes: Sequence[Any]) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        if t.ndim == 0 or t.size == 1:
            flat = t.reshape(-1)
            i = bisect.bisect_right(starts, float(flat[0])) - 1
            return np.asarray(routes[i].value(flat, self), dtype=np.float64).reshape(t.shape)
        if t[0] <= t[-1] and np.all(t[1:] >= t[:-1]):  # sorted (a preview): contiguous slices, no masks
            return SORTED.select(t, starts, routes)
        out = np.empty(t.shape)
        index = np.searchsorted(np.asarray(starts, dtype=np.float64), t, side="right") - 1
        for i, route in enumerate(routes):
            mask = index == i
            if mask.any():
                out[mask] = route.value(t[mask], self)
        return out


class _Imported(Namespace):
    """A traced namespace over a library imported when the namespace is built (not at ``import lrkit``; an
    ``import`` statement, which ``torch.compile`` traces through)."""

    #: What it binds beyond :data:`FUNCTIONS` (the rest it defines itself).
    extra: tuple[str, ...] = ("floor", "where", "minimum", "maximum")

    def __init__(self) -> None:
        self.lib: Any = self._library()
        _bind(self, self.lib, self.extra)

    @staticmethod
    def _library() -> Any:  # pragma: no cover - per backend
        raise NotImplementedError


class _Torch(_Imported):
    name = "torch"
    extra = ("floor",)

    @staticmethod
    def _library() -> Any:
        import torch

        return torch

    def quotient(self, t: Any, d: float) -> Any:  # torch divides as IEEE does (CPU and CUDA): floor is exact
        return self.lib.floor(t / d)

    def asfloat(self, t: Any) -> Any:
        torch = self.lib
        t = torch.as_tensor(t)
        if t.is_floating_point():
            return t
        if t.dtype == torch.bool or t.is_complex():
            not_steps(t)
        return t.to(torch.get_default_dtype())

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.lib.where(cond, a, b)

    def minimum(self, x: Any, c: Any) -> Any:
        if isinstance(c, (int, float)):
            return self.lib.clamp(x, max=c)
        return self.lib.minimum(x, c)

    def maximum(self, x: Any, c: Any) -> Any:
        if isinstance(c, (int, float)):
            return self.lib.clamp(x, min=c)
        return self.lib.maximum(x, c)


class _Jax(_Imported):
    name = "jax"

    @staticmethod
    def _library() -> Any:
        import jax.numpy

        return jax.numpy

    def asfloat(self, t: Any) -> Any:
        jnp = self.lib
        t = jnp.asarray(t)
        if jnp.issubdtype(t.dtype, jnp.floating):
            return t
        if not jnp.issubdtype(t.dtype, jnp.integer):  # flags and complex numbers are no steps
            not_steps(t)
        return t.astype(jnp.result_type(float))

    def interp(self, t: Any, xs: Sequence[float], ys: Sequence[float]) -> Any:
        jnp = self.lib
        return jnp.interp(t, jnp.asarray(xs, t.dtype), jnp.asarray(ys, t.dtype))


class _Keras(_Imported):
    name = "keras"

    @staticmethod
    def _library() -> Any:
        from keras import ops

        return ops

    def asfloat(self, t: Any) -> Any:
        import keras

        t = self.lib.convert_to_tensor(t)
        dtype = keras.backend.standardize_dtype(t.dtype)
        if dtype.startswith(("float", "bfloat")):
            return t
        if not dtype.startswith(("int", "uint")):  # flags and complex numbers are no steps
            not_steps(t)
        return self.lib.cast(t, keras.config.floatx())


_POWER_TABLE = 1024  # numpy's power: an array at least this long whose exponents span fewer values, as a table


class _SortedNumpy(_Numpy):
    """float64 numpy arrays of *sorted* steps (a preview, ``sched(np.arange(n))``): a step's bound is read at the
    array's end (O(1)) instead of taken elementwise, and a piecewise value fills contiguous slices. The same
    values as :data:`NUMPY`; only steps are assumed sorted, never values."""

    name = "numpy (sorted steps)"
    sorted = True

    @staticmethod
    def full(t: Any, value: float) -> float:
        """The number itself: it broadcasts wherever an array goes (a slice of the preview, a product), and no
        array of it is written until the preview's own output."""
        return value

    @staticmethod
    def until(t: np.ndarray, end: float) -> np.ndarray:
        return t if not t.size or t[-1] <= end else np.minimum(t, end)

    @staticmethod
    def from_zero(t: np.ndarray) -> np.ndarray:
        return t if not t.size or t[0] >= 0.0 else np.maximum(t, 0.0)

    @staticmethod
    def held(t: np.ndarray, end: float, closed_form: Callable[[np.ndarray, Namespace], Any]) -> np.ndarray:
        """``closed_form(minimum(t, end))`` for sorted ``t``: where ``t`` passes ``end``, the closed form on the
        steps up to ``end`` and on ``end`` itself (the final value), which fills the rest."""
        if not t.size or t[-1] <= end:
            return closed_form(t, SORTED)  # type: ignore[no-any-return]
        k = int(np.searchsorted(t, end, side="right"))
        if k and t[k - 1] == end:  # end is a step (integer steps, integer length): the head is a view
            head, k = t[:k], k - 1
        else:  # end evaluated with the head, in one array: its value as in a longer one
            head = np.append(t[:k], end)
        values = np.asarray(closed_form(head, SORTED), dtype=np.float64)
        if values.ndim and 2 * values.size >= t.size:  # most of it: the head's values grown in place (a realloc
            try:  # moves pages, it copies nothing)
                values.resize(t.shape, refcheck=True)
                values[k + 1 :] = values[k]
                return values
            except ValueError:  # not an array of its own (a view, or held elsewhere)
                pass
        out = np.empty(t.shape)  # a short head: a new array (a small one grown would fault in page by page)
        out[: k + 1] = values
        out[k + 1 :] = values[k] if values.ndim else values
        return out

    @staticmethod
    def lookup(t: np.ndarray, edges: Sequence[float], values: Sequence[float]) -> np.ndarray:
        out = np.empty(t.shape)
        cuts = [0, *np.searchsorted(t, np.asarray(edges, dtype=np.float64), side="left").tolist(), t.size]
        for value, lo, hi in zip(values, cuts[:-1], cuts[1:]):
            out[lo:hi] = value
        return out

    def select(self, t: np.ndarray, starts: Sequence[float], routes: Sequence[Any]) -> np.ndarray:
        out = np.empty(t.shape)
        stops = [*np.searchsorted(t, np.asarray(starts[1:], dtype=np.float64), side="left").tolist(), t.size]
        begin = 0
        for route, stop in zip(routes, stops):
            if stop > begin:
                out[begin:stop] = route.value(t[begin:stop], self)
            begin = stop
        return out


#: Python floats.
MATH: Namespace = _Math()
#: float64 numpy arrays.
NUMPY: Namespace = _Numpy()
#: float64 numpy arrays of sorted steps (what ``sched(array)`` uses when the steps are sorted).
SORTED: Namespace = _SortedNumpy()


def torch_namespace() -> Namespace:
    """The torch namespace (imports torch).

    A new, stateless object per call: built inside a ``torch.compile``/``jax.jit`` trace, it
    mutates nothing global, so nothing is guarded on and nothing recompiles.
    """
    return _Torch()


def jax_namespace() -> Namespace:
    """The ``jax.numpy`` namespace (imports jax; stateless, like :func:`torch_namespace`)."""
    return _Jax()


def keras_namespace() -> Namespace:
    """The ``keras.ops`` namespace (imports keras; stateless, like :func:`torch_namespace`)."""
    return _Keras()


def not_steps(t: Any) -> None:
    """Refuse a tensor of flags or complex numbers as steps (its dtype says so, even while tracing)."""
    raise ValueError(
        f"step must be a number of updates (an int, a float, or an array or tensor of them), got a tensor of "
        f"dtype {t.dtype}; a flag is no step: convert it, e.g. t.float() or t.astype(float), if it counts updates"
    )


def for_step(step: Any) -> Namespace | None:
    """The traced namespace for a framework tensor, or ``None`` for numbers and numpy arrays."""
    module = type(step).__module__
    if module.startswith("torch"):
        return torch_namespace()
    if module.startswith(("jax", "jaxlib")):
        return jax_namespace()
    if module.startswith(("keras", "tensorflow")):
        return keras_namespace()
    return None
