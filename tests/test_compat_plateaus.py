"""The peers' plateaus under their own names: optax's and Keras' decisions, compared with the real peers.

lrkit's own plateau follows torch (a reduction when the bad-call count *exceeds* ``patience``);
``lrkit.compat.optax.reduce_on_plateau`` (count *equals* ``patience``) and
``lrkit.compat.keras.ReduceLROnPlateau`` (``patience`` bad epochs, the epoch ending a cooldown
counts) must reduce at exactly the calls the real ones do, on the same metric sequences.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import lrkit as lk
from lrkit.compat import keras as ck
from lrkit.compat import optax as co

os.environ.setdefault("KERAS_BACKEND", "jax")


def controller_scales(schedule, seq):
    """The multiplier after each metric value, fed to a Controller at step 0."""
    c = lk.Controller(schedule)
    out = []
    for x in seq:
        c.observe(x, 0)
        out.append(c.resolve()(0))
    return out


def sequences(rng, n_cases, exact=False):
    """Positive metric sequences with plateaus, slow drifts and NaN/inf gaps (``exact``: multiples of 1/8)."""
    for case in range(n_cases):
        n = int(rng.integers(5, 40))
        kind = case % 3
        if kind == 0:  # steps down, then flat stretches
            x = np.repeat(rng.uniform(0.5, 5.0, n // 4 + 1), 4)[:n]
        elif kind == 1:
            x = np.maximum(3.0 + np.cumsum(rng.choice([-0.5, -0.125, 0.0, 0.0, 0.25], n)), 0.125)
        else:
            x = rng.uniform(1.0, 2.0, n)
        if exact:
            x = np.round(np.abs(x) * 8) / 8 + 0.125
        seq = [float(v) for v in x]
        if not exact and rng.random() < 0.3:
            for i in rng.choice(n, size=2, replace=False):
                seq[i] = math.nan if rng.random() < 0.7 else math.inf
        yield seq


# -- optax ---------------------------------------------------------------------------------------------------------
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")


N = 40  # sequences are padded to this length: one compile per (factor, rtol, atol)
_RUNS: dict = {}


def optax_scales(seq, factor, rtol, atol, patience, cooldown, min_scale):
    """The scale of the real optax.contrib.reduce_on_plateau after each value (float64, under jit).

    optax takes ``patience``, ``cooldown`` and ``min_scale`` as arrays, so they are traced: one compiled
    scan serves every case with the same ``factor``/``rtol``/``atol``."""
    jnp = jax.numpy
    with jax.enable_x64(True):
        key = (factor, rtol, atol)
        if key not in _RUNS:

            def run(values, patience, cooldown, min_scale):
                tx = optax.contrib.reduce_on_plateau(
                    factor=factor, rtol=rtol, atol=atol, patience=patience, cooldown=cooldown, min_scale=min_scale
                )
                params = jnp.zeros((), jnp.float64)

                def body(state, value):
                    state = tx.update(params, state, value=value)[1]
                    return state, state.scale

                return jax.lax.scan(body, tx.init(params), values)[1]

            _RUNS[key] = jax.jit(run)
        values = jnp.asarray(seq + [1.0] * (N - len(seq)), jnp.float64)
        scales = _RUNS[key](values, jnp.int32(patience), jnp.int32(cooldown), jnp.float64(min_scale))
        return [float(x) for x in scales[: len(seq)]]


def test_optax_plateau_reduces_when_the_count_equals_patience_as_optax_does():
    rng = np.random.default_rng(25)
    reductions = 0
    for case, seq in enumerate(sequences(rng, 60)):
        kw = dict(
            factor=float(rng.choice([0.1, 0.5, 0.8])),
            patience=int(rng.integers(0, 5)),
            cooldown=int(rng.integers(0, 4)),
            min_scale=float(rng.choice([0.0, 0.05, 0.3])),
        )
        kw.update(dict(rtol=1e-2, atol=0.0) if case % 2 else dict(rtol=0.0, atol=0.1))
        expected = optax_scales(seq[:N], **kw)
        assert controller_scales(co.reduce_on_plateau(**kw), seq[:N]) == expected, f"{kw}, {seq}"
        reductions += sum(b < a for a, b in zip([1.0, *expected], expected))
    assert reductions > 50  # not vacuous


def test_optax_plateau_differs_from_lrkits_own_by_one_call():
    """The same counters, one rule apart: lrkit's default (torch's) needs one more bad call."""
    seq = [1.0] * 6
    assert controller_scales(co.reduce_on_plateau(patience=2, factor=0.5), seq) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    native = lk.constant(1.0) * lk.plateau(patience=2, factor=0.5)
    assert controller_scales(native, seq) == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_optax_plateau_refuses_what_lrkit_keeps_different_in_one_line():
    with pytest.raises(ValueError, match=r"takes one threshold, got rtol=0.0001 and atol=0.1; give rtol"):
        co.reduce_on_plateau(atol=0.1)
    with pytest.raises(ValueError, match="accumulation_size must be 1, got 4; feed the mean of every 4 values"):
        co.reduce_on_plateau(accumulation_size=4)
    with pytest.raises(ValueError, match=r"^reduce_on_plateau: factor must be in \(0, 1\), got 1.5"):
        co.reduce_on_plateau(factor=1.5)


# -- Keras ---------------------------------------------------------------------------------------------------------
keras = pytest.importorskip("keras")


def keras_lrs(seq, lr=1.0, **kw):
    """The learning rate the real keras.callbacks.ReduceLROnPlateau leaves after each epoch's value."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **kw)
    callback.set_model(model)
    callback.on_train_begin()
    out = []
    for epoch, x in enumerate(seq):
        callback.on_epoch_end(epoch, {"val_loss": x})
        out.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    return out


def test_keras_plateau_reduces_after_patience_epochs_counting_the_one_ending_a_cooldown():
    rng = np.random.default_rng(26)
    reductions = 0
    for case, seq in enumerate(sequences(rng, 40, exact=True)):
        kw = dict(
            mode=["min", "max"][case % 2],
            factor=float(rng.choice([0.5, 0.25])),  # powers of two: Keras' float32 learning rate is exact
            patience=int(rng.integers(0, 5)),
            cooldown=int(rng.integers(0, 4)),
            min_delta=float(rng.choice([0.0, 0.125, 0.5])),
            min_lr=float(rng.choice([0.0, 0.0625, 0.25])),
        )
        expected = keras_lrs(seq, **kw)
        assert controller_scales(ck.ReduceLROnPlateau(1.0, **kw), seq) == expected, f"{kw}, {seq}"
        reductions += sum(b < a for a, b in zip([1.0, *expected], expected))
    assert reductions > 40


def test_keras_plateau_cooldown_case_is_one_epoch_earlier_than_torchs():
    """Keras' own test_cooldown: patience 1, cooldown 2, 4 flat epochs: two reductions (torch: one)."""
    seq = [1.0, 1.0, 1.0, 1.0]
    assert keras_lrs(seq, lr=0.1, factor=0.1, patience=1, min_delta=100, cooldown=2)[-1] == pytest.approx(0.001)
    got = controller_scales(ck.ReduceLROnPlateau(0.1, factor=0.1, patience=1, min_delta=100, cooldown=2), seq)
    assert got[-1] == pytest.approx(0.001)
    torch_rule = lk.constant(0.1) * lk.plateau(factor=0.1, patience=0, threshold=100, threshold_mode="abs", cooldown=2)
    assert controller_scales(torch_rule, seq)[-1] == pytest.approx(0.01)  # the cooldown's last epoch does not count


def test_keras_plateau_mode_auto_reads_losses_only():
    assert " mode=" not in repr(ck.ReduceLROnPlateau(0.1, monitor="loss"))  # "min", the default
    assert "mode='max'" in repr(ck.ReduceLROnPlateau(0.1, monitor="val_accuracy", mode="max"))
    with pytest.raises(ValueError, match="mode='auto' cannot tell whether 'val_accuracy' should fall or rise"):
        ck.ReduceLROnPlateau(0.1, monitor="val_accuracy")
    with pytest.raises(ValueError, match=r"min_lr must be <= learning_rate, got 0.5 > 0.1"):
        ck.ReduceLROnPlateau(0.1, min_lr=0.5)
