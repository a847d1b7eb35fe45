"""Hypothesis strategies: a valid random instance of every family, combinator and recipe."""

from __future__ import annotations

from hypothesis import strategies as st

import lrkit as lk

lengths = st.one_of(st.integers(1, 5000), st.floats(0.5, 5000, allow_nan=False))
unit = st.floats(0.0, 1.0, allow_nan=False)
factors = st.floats(0.01, 1.0, allow_nan=False)
values = st.floats(-10.0, 10.0, allow_nan=False)


@st.composite
def ordered_pair(draw, low=0.0, high=1.0):
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    return min(a, b), max(a, b)


@st.composite
def increasing_list(draw, min_size=1, max_size=5, low=1, high=10_000):
    items = draw(st.lists(st.integers(low, high), min_size=min_size, max_size=max_size, unique=True))
    return sorted(items)


@st.composite
def cosines(draw):
    floor, peak = draw(ordered_pair())
    return lk.cosine(draw(lengths), floor=floor, peak=peak, k=draw(st.sampled_from([1.0, 0.5, 2.0])))


@st.composite
def warmups(draw):
    shape = draw(st.sampled_from(["linear", "cos", "exp"]))
    start = draw(st.floats(0.001 if shape == "exp" else 0.0, 1.0))
    return lk.warmup(draw(lengths), start=start, shape=shape)


@st.composite
def anneals(draw):
    shape = draw(st.sampled_from(["linear", "cos", "exp", "poly", "1-sqrt"]))
    low = 0.001 if shape == "exp" else 0.0
    start, end = draw(st.floats(low, 2.0)), draw(st.floats(low, 2.0))
    return lk.anneal(draw(lengths), start, end, shape, power=draw(st.floats(0.5, 3.0)))


@st.composite
def piecewise_constants(draw):
    bounds = draw(increasing_list())
    vals = draw(st.lists(unit, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    return lk.piecewise_constant(bounds, vals)


@st.composite
def piecewise_linears(draw):
    knots = [0, *draw(increasing_list())]
    vals = draw(st.lists(unit, min_size=len(knots), max_size=len(knots)))
    return lk.piecewise_linear(knots, vals)


@st.composite
def sgdrs(draw):
    return lk.sgdr(
        draw(st.integers(1, 500)),
        mult=draw(st.sampled_from([1, 2, 3, 1.5])),
        decay=draw(factors),
        floor=draw(st.floats(0.0, 0.5)),
        cycles=draw(st.one_of(st.none(), st.integers(1, 6))),
    )


@st.composite
def cyclics(draw):
    base, peak = draw(ordered_pair())
    if draw(st.booleans()):
        base, peak = peak, base
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    return lk.cyclic(
        draw(lengths), down=draw(st.one_of(st.none(), lengths)), floor=base, peak=peak, mode=mode,
        decay=draw(st.floats(0.99, 1.0)),
    )


@st.composite
def one_cycles(draw):
    three = draw(st.booleans())
    return lk.one_cycle(
        draw(st.integers(10, 10_000)),
        pct_start=draw(st.floats(0.05, 0.45)),
        div=draw(st.floats(1.0, 100.0)),
        final_div=draw(st.floats(1.0, 1e4)),
        three_phase=three,
        shape=draw(st.sampled_from(["cos", "linear"])),
    )


@st.composite
def wsds(draw):
    steps = draw(st.integers(100, 10_000))
    warm = draw(st.integers(0, steps // 3))
    decay = draw(st.integers(1, steps - warm))
    return lk.wsd(steps, warmup=warm, decay=decay, floor=draw(st.floats(0, 0.5)),
                  shape=draw(st.sampled_from(["linear", "cos", "1-sqrt"])))


FAMILIES = {
    "constant": st.builds(lk.constant, unit, st.one_of(st.none(), lengths)),
    "anneal": anneals(),
    "linear": st.builds(lk.linear, lengths, unit, unit),
    "cosine": cosines(),
    "polynomial": st.builds(
        lambda n, power, end, start: lk.polynomial(n, start=start, end=end, power=power),
        lengths, st.floats(0.2, 4.0), st.floats(0, 0.5), st.floats(0.5, 2.0),
    ),
    "warmup": warmups(),
    "untuned_warmup": st.builds(lk.untuned_warmup, st.floats(0.9, 0.9999), st.sampled_from(["linear", "exp"])),
    "step_decay": st.builds(lk.step_decay, lengths, factors),
    "multistep": st.builds(lk.multistep, increasing_list(), factors),
    "exponential": st.builds(lk.exponential, factors, lengths, st.booleans()),
    "inverse_time": st.builds(lk.inverse_time, st.floats(0, 10), lengths, st.booleans()),
    "inverse_sqrt": st.builds(lk.inverse_sqrt, lengths),
    "tanh_decay": st.builds(lk.tanh_decay, lengths, st.floats(0, 0.5)),
    "piecewise_constant": piecewise_constants(),
    "piecewise_linear": piecewise_linears(),
    "sgdr": sgdrs(),
    "cyclic": cyclics(),
    "one_cycle": one_cycles(),
    "one_cycle_momentum": st.builds(lk.one_cycle_momentum, st.integers(10, 5000)),
    "wsd": wsds(),
    "flat_cosine": st.builds(lk.flat_cosine, lengths, st.floats(0.05, 0.95)),
    "warmup_flat_warmdown": st.builds(lk.warmup_flat_warmdown, lengths, st.floats(0.0, 0.4), st.floats(0.1, 0.5)),
    "warmup_cosine": st.integers(2, 5000).flatmap(
        lambda n: st.builds(lk.warmup_cosine, st.just(n), st.integers(1, n - 1))
    ),
}

base = st.one_of(*FAMILIES.values())
finite_base = base.filter(lambda s: s.length is not None)


def combinators(children):
    return st.one_of(
        st.lists(finite_base, min_size=1, max_size=3).flatmap(
            lambda pieces: children.map(lambda last: lk.join(*pieces, last))
        ),
        st.builds(lk.scale, children, st.floats(0.0, 10.0)),
        st.builds(lk.product, children, children),
        st.builds(lambda s, lo: lk.clamp(s, low=lo), children, st.floats(0, 0.5)),
        st.builds(lk.repeat, finite_base, st.one_of(st.none(), st.integers(1, 4))),
        finite_base.flatmap(lambda s: st.builds(lk.shift, st.just(s), st.floats(-100, 0.99 * s.length))),
        st.builds(lk.stretch, children, st.floats(0.1, 10.0)),
        st.builds(lk.take, children, lengths),
        st.builds(lk.noise, children, st.floats(0, 0.5), st.floats(0, 0.9), st.integers(0, 2**31)),
    )


schedules = st.recursive(base, combinators, max_leaves=4)
