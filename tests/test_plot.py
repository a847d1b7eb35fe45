"""lrkit.plot: schedule and training figures, saved as real PNG/SVG files (matplotlib, Agg/SVG canvas)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.image

import lrkit as lk
from lrkit.plot import ema, horizon, save, schedule_figure, training_figure
from lrkit.tasks.base import RunResult


def _lines(fig):
    return [line for line in fig.axes[0].get_lines()]


def test_each_schedule_is_drawn_with_its_values_and_label():
    fig = schedule_figure([lk.cosine(100), lk.linear(50, end=0.2)])
    cosine, linear = _lines(fig)[:2]
    x, y = cosine.get_data()
    assert x[0] == 0 and x[-1] == 100
    np.testing.assert_allclose(y, 0.5 * (1 + np.cos(np.pi * x / 100)), atol=1e-12)
    x, y = linear.get_data()
    np.testing.assert_allclose(y, np.where(x < 50, 1 - 0.8 * x / 50, 0.2), atol=1e-12)
    assert cosine.get_label() == "cosine(100)" and linear.get_label() == "linear(50, end=0.2)"
    assert fig.axes[0].get_legend() is not None


def test_phase_starts_are_marked():
    fig = schedule_figure([lk.sgdr(100, mult=2)], steps=1000)
    marks = [line.get_xdata()[0] for line in _lines(fig)[1:]]
    assert marks == [100, 300, 700]  # restarts after 100, 100 + 200, 100 + 200 + 400 steps
    plain = schedule_figure([lk.sgdr(100, mult=2)], steps=1000, marks=False)
    assert len(_lines(plain)) == 1


def test_log_scale_title_and_labels():
    fig = schedule_figure([lk.exponential(0.99)], log=True, labels=["decay"], title="hello")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "hello" and _lines(fig)[0].get_label() == "decay"
    with pytest.raises(ValueError, match="got 2 labels for 1 schedules"):
        schedule_figure([lk.cosine(10)], labels=["a", "b"])
    with pytest.raises(ValueError, match="at least one schedule"):
        schedule_figure([])


def test_horizon():
    assert horizon([lk.cosine(300), lk.warmup(500)]) == 500.0
    assert horizon([lk.constant(1.0)]) == 1000.0
    assert horizon([lk.cosine(300)], 40) == 40.0
    with pytest.raises(ValueError, match="steps must be a finite number > 0, got -1"):
        horizon([lk.cosine(300)], -1)


@pytest.mark.parametrize("size, dpi, pixels", [((8.0, 4.5), 100, (450, 800)), ((3.0, 2.0), 50, (100, 150))])
def test_png_has_the_requested_pixel_size(tmp_path, size, dpi, pixels):
    path = save(schedule_figure([lk.one_cycle(1000)], size=size, dpi=dpi), tmp_path / "s.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == pixels
    assert image[..., :3].std() > 0.05  # something was drawn


def test_svg_and_bad_suffix(tmp_path):
    path = save(schedule_figure([lk.cosine(10)]), tmp_path / "s.svg")
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    with pytest.raises(ValueError, match=r"must end in \.png or \.svg, got '\.jpg'"):
        save(schedule_figure([lk.cosine(10)]), tmp_path / "s.jpg")


def test_ema_is_bias_corrected_and_skips_non_finite_values():
    values = [2.0, 4.0, math.nan, 8.0]
    out = ema(values, beta=0.9)
    # by hand: m = 0.2, 0.58, (skip), 1.322; weights 0.1, 0.19, 0.19, 0.271
    np.testing.assert_allclose(out, [2.0, 0.58 / 0.19, 0.58 / 0.19, 1.322 / 0.271])


def test_training_figure_has_lr_loss_and_accuracy_panels(tmp_path):
    run = RunResult(
        "digits",
        "cosine(4)",
        0.1,
        0,
        4,
        lrs=[0.1, 0.085, 0.05, 0.015],
        losses=[2.0, 1.0, 0.5, 0.4],
        eval_updates=[2, 4],
        accuracies=[0.5, 0.9],
        target=0.8,
    )
    fig = training_figure([run, run], labels=["a", "b"])
    lr_ax, loss_ax, acc_ax = fig.axes
    np.testing.assert_array_equal(lr_ax.get_lines()[0].get_ydata(), run.lrs)
    np.testing.assert_array_equal(lr_ax.get_lines()[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(acc_ax.get_lines()[0].get_xdata(), [2, 4])
    assert loss_ax.get_yscale() == "log" and len(loss_ax.get_lines()) == 4  # raw and smoothed, per run
    assert any(line.get_label() == "target 0.8" for line in acc_ax.get_lines())
    assert [t.get_text() for t in lr_ax.get_legend().get_texts()] == ["a", "b"]
    image = matplotlib.image.imread(save(fig, tmp_path / "t.png"))
    assert image.shape[:2] == (750, 800)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_plotting_uses_no_pyplot_and_import_lrkit_no_matplotlib():
    code = (
        "import sys, lrkit; assert 'matplotlib' not in sys.modules\n"
        "import lrkit.plot as p; assert 'matplotlib' not in sys.modules\n"
        "import tempfile, os\n"
        "p.save(p.schedule_figure([lrkit.cosine(10)]), os.path.join(tempfile.mkdtemp(), 'x.png'))\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_missing_matplotlib_names_the_extra():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import lrkit, lrkit.plot as p\n"
        "try:\n    p.schedule_figure([lrkit.cosine(10)])\n"
        "except ImportError as e:\n    print(e)\n"
    )
    result = _run(code)
    assert result.stdout.strip() == "plotting needs matplotlib: pip install 'lrkit[plot]'"
