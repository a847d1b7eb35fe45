"""A Keras ``model.fit`` epoch of a tiny model: lrkit's schedule vs ``keras.optimizers.schedules.CosineDecay``.

Both sides: the same model (8-16-1 Dense, float32), AdamW, 4,096 samples in batches of 32 (128
updates per epoch), ``verbose=0``; the learning rate is ``lrkit.keras.LearningRateSchedule(cosine(N),
1e-3)`` vs ``CosineDecay(1e-3, N)`` (the same curve). Each sample is one ``model.fit(epochs=1)``,
the two models interleaved, after one warm-up epoch each (compilation). Keras backend: the
installed one (``KERAS_BACKEND``, default jax here).

    python bench/keras_fit.py            # 41 repeats, 4,096 samples
    python bench/keras_fit.py --quick    # 2 repeats, 256 samples (a smoke test)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import header, interleaved, write

TARGET = 1.1
DECAY = 10_000


def _model(lr: Any, seed: int = 0) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")
    return model


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, 256 samples (CI)")
    args = parser.parse_args(argv)
    import keras
    import numpy as np

    import lrkit as lk
    from lrkit.keras import LearningRateSchedule

    repeats, samples = (2, 256) if args.quick else (41, 4096)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 8)).astype("float32")
    y = x[:, :1] * 2.0
    ours = _model(LearningRateSchedule(lk.cosine(DECAY), base_lr=1e-3))
    theirs = _model(keras.optimizers.schedules.CosineDecay(1e-3, DECAY))

    def epoch(model: Any) -> Any:
        return lambda: model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)

    times = interleaved({"lrkit": epoch(ours), "keras": epoch(theirs)}, repeats=repeats)
    ratio = times["lrkit"].median / times["keras"].median
    lr_ours = float(keras.ops.convert_to_numpy(ours.optimizer.learning_rate))
    lr_theirs = float(keras.ops.convert_to_numpy(theirs.optimizer.learning_rate))

    text = header("Keras model.fit epoch: lrkit schedule vs keras CosineDecay", "keras", "jax")
    text += (
        f"\n- backend: {keras.backend.backend()}; {samples} samples, batch 32 ({samples // 32} updates per epoch); "
        f"{repeats} interleaved repeats of one epoch after a warm-up epoch; ms per epoch: median (min-max)\n"
        f"- lrkit: `LearningRateSchedule(cosine({DECAY}), 1e-3)` (keras.ops, no callback); keras: "
        f"`CosineDecay(1e-3, {DECAY})`; learning rates after the run: {lr_ours:.9g} vs {lr_theirs:.9g}\n\n"
        "| schedule | ms per epoch | ratio |\n| --- | ---: | ---: |\n"
        f"| lrkit `LearningRateSchedule` | {times['lrkit'].ms()} | {ratio:.3f} |\n"
        f"| keras `CosineDecay` | {times['keras'].ms()} | 1.000 |\n"
    )
    met = "**met**" if ratio <= TARGET else "**not met**"
    text += f"\n- target lrkit/keras <= {TARGET}x: {met} ({ratio:.3f}x)\n"
    path = write("keras_fit", text, args.quick)
    print(text)
    print(f"written to {path}", file=sys.stderr)
    return text


if __name__ == "__main__":
    main()
