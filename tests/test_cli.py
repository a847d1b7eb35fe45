"""The lrkit command, driven in subprocesses: exit status, printed figures, written images."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
import matplotlib.image
import numpy as np

import lrkit as lk
from lrkit.core.registry import lookup

SOURCE = str(Path(lk.__file__).resolve().parents[1])  # the lrkit these tests imported: the subprocesses run it too


def lrkit(*args: str, cwd: Path, code: str | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m lrkit ARGS`` (or ``code`` calling main) in ``cwd``, with this checkout's lrkit."""
    command = [sys.executable, "-m", "lrkit", *args] if code is None else [sys.executable, "-c", code, *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def main_in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``lrkit ARGS`` run by calling ``main`` here: (exit status, stdout, stderr); argparse's exits included."""
    from lrkit.cli import main

    try:
        status = main(list(args))
    except SystemExit as exit:
        status = int(exit.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def png_shape(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    image = matplotlib.image.imread(path)
    assert image[..., :3].std() > 0.05, "blank image"
    return image.shape[:2]


def assert_one_line_error(result: subprocess.CompletedProcess, status: int) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: "), result.stderr
    return lines[0]


# -- show and plot -------------------------------------------------------------------------------
def test_plot_writes_a_png_of_the_expected_size(tmp_path):
    result = lrkit("plot", "warmup(100) >> cosine(900)", "one_cycle(1000)", "-o", "out.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wrote out.png: 2 schedule(s) over 1000 steps, 800x450 px"
    assert png_shape(tmp_path / "out.png") == (450, 800)


def test_plot_options_svg_log_steps_and_size(tmp_path):
    result = lrkit(
        "plot",
        "exponential(0.99)",
        "--log",
        "--steps",
        "300",
        "--width",
        "4",
        "--height",
        "3",
        "--dpi",
        "50",
        "--title",
        "decay",
        "-o",
        "small.png",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "over 300 steps, 200x150 px" in result.stdout
    assert png_shape(tmp_path / "small.png") == (150, 200)
    result = lrkit("plot", "sgdr(100, mult=2)", "--no-marks", "-o", "s.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "<svg" in (tmp_path / "s.svg").read_text()


def test_plot_reads_a_json_config_file(tmp_path):
    (tmp_path / "s.json").write_text('{"type": "cosine", "steps": 50}')
    result = lrkit("plot", "s.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert png_shape(tmp_path / "lrkit-plot.png") == (450, 800)


@pytest.mark.parametrize("command", [["show"], ["plot"], ["compare", "constant(1)"], ["demo", "--schedule"]])
def test_a_bad_spec_is_one_line_with_position_and_known_names_exit_2(tmp_path, command):
    result = lrkit(*command, "warmup(10) >> cosin(90)", cwd=tmp_path)
    line = assert_one_line_error(result, 2)
    assert "unknown schedule 'cosin'; did you mean 'cosine'?" in line
    assert "at position 14" in line
    core_modules = ("lrkit.core.families", "lrkit.core.combinators", "lrkit.core.recipes")
    core = [n for n in lk.known_names() if lookup(n).__module__ in core_modules]
    assert len(core) > 20
    for name in core:
        assert name in line
    assert result.stdout == ""  # nothing was trained or written first
    assert list(tmp_path.iterdir()) == []


def test_a_bad_parameter_is_one_line_exit_2(tmp_path):
    line = assert_one_line_error(lrkit("plot", "cosine(-3)", cwd=tmp_path), 2)
    assert "cosine: steps" in line and "-3" in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "cosine(10)", "-o", "x.jpg"], "must end in .png or .svg, got 'x.jpg'"),
        (["plot", "cosine(10)", "-o", "nowhere/x.png"], "folder 'nowhere' does not exist"),
        (["find", "--start", "1", "--end", "0.5"], "--end must be greater than --start"),
        (["compare", "constant(1) @ -1"], "the learning rate after '@' must be > 0"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, message):
    assert message in assert_one_line_error(lrkit(*args, cwd=tmp_path), 2)


def test_argparse_errors_exit_2(tmp_path):
    result = lrkit("demo", "--epochs", "1", "--updates", "5", cwd=tmp_path)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
    result = lrkit("demo", "--lr", "-1", cwd=tmp_path)
    assert result.returncode == 2 and "--lr must be a number > 0, got '-1'" in result.stderr


BLOCK = (
    "import sys; [sys.modules.__setitem__(m, None) for m in {modules!r}]; "
    "from lrkit.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize(
    "modules, args, message",
    [
        (["matplotlib"], ["plot", "cosine(10)"], "matplotlib: pip install 'lrkit[plot]'"),
        (["torch"], ["demo", "--task", "digits"], "torch: pip install 'lrkit[tasks]'"),
        (["mnist1d"], ["demo", "--task", "mnist1d"], "mnist1d: pip install 'lrkit[tasks]'"),
        (["torch"], ["find"], "torch: pip install 'lrkit[tasks]'"),
        (["matplotlib"], ["compare", "constant(1)", "--task", "digits"], "matplotlib: pip install 'lrkit[plot]'"),
        (["sklearn"], ["compare", "constant(1)", "--task", "digits"], "scikit-learn: pip install 'lrkit[tasks]'"),
        # every missing extra at once, in one line
        (
            ["matplotlib", "torch", "sklearn"],
            ["demo", "--task", "digits"],
            "matplotlib, torch and scikit-learn: pip install 'lrkit[plot,tasks]'",
        ),
        (["matplotlib", "torch"], ["find"], "matplotlib and torch: pip install 'lrkit[plot,tasks]'"),
        (["yaml", "matplotlib"], ["plot", "s.yaml"], "PyYAML and matplotlib: pip install 'lrkit[yaml,plot]'"),
        (["yaml"], ["show", "s.yaml"], "PyYAML: pip install 'lrkit[yaml]'"),
    ],
)
def test_missing_optional_dependencies_are_named_at_once_exit_2(tmp_path, modules, args, message):
    (tmp_path / "s.yaml").write_text("type: cosine\nsteps: 10\n")
    result = lrkit(*args, cwd=tmp_path, code=BLOCK.format(modules=modules))
    line = assert_one_line_error(result, 2)
    assert line == f"lrkit: error: this command needs {message}"
    assert result.stdout == ""


# -- hostile input: one line, exit 2, for every mistake (issue 12) ----------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "cosine("], "expected ')' to close cosine(, found the end of the text (at position 7 of 'cosine(')"),
        (["show", "(" * 400 + "1" + ")" * 400], "nested more than 64 levels deep (at position 64: "),
        (["show", "cosine(" + "1" * 400 + ")"], "the integer 1111111111...1111 (400 digits) is too large"),
        (["show", "path/that/does/not/exist.yaml"], "path/that/does/not/exist.yaml: file not found"),
        (["show", "path/that/does/not/exist"], "path/that/does/not/exist: no such file, and not a schedule:"),
        (["show", "."], ".: is a directory, not a schedule file"),
        (["show", "cosine(10)", "--rows", "0"], "--rows must be a whole number from 2 to 10000, got '0'"),
        (["show", "cosine(10)", "--rows", "many"], "--rows must be a whole number from 2 to 10000, got 'many'"),
        (["show", "cosine(10)", "--width", "0"], "--width must be a whole number from 2 to 10000, got '0'"),
        (["show", "cosine(10)", "--width", "10" * 10], "--width must be a whole number from 2 to 10000"),
        (["show", "cosine(10)", "--steps", "-5"], "--steps must be a number > 0, got '-5'"),
        (["show", "cosine(10)", "--steps", "nan"], "--steps must be a number > 0, got 'nan'"),
        (["compare", "cosine(100) @ abc"], "the learning rate after '@' must be a number, got 'abc'"),
        (["compare", "cosine(100) @"], "the learning rate after '@' must be a number, got ''"),
        (["show", "cosine(100) @ 3e-4"], "'SPEC @ LR' is for lrkit compare"),
        (["show", "cosine(10)", "--nope"], "unrecognized arguments: --nope"),
        (["shw", "cosine(10)"], "invalid choice: 'shw'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_every_mistake_is_one_line_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    status, out, err = main_in_process(*args, capsys=capsys)
    assert status == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: "), err
    assert message in lines[0]
    assert out == ""


def test_an_unclosed_call_in_a_subprocess_is_one_line_exit_2(tmp_path):
    line = assert_one_line_error(lrkit("show", "cosine(", cwd=tmp_path), 2)
    assert "expected ')' to close cosine(" in line


def test_a_spec_file_with_comments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.txt").write_text("# warmup, then cosine\nwarmup(10)  # a tenth\n>> cosine(90)\n")
    status, out, err = main_in_process("show", "s.txt", "--rows", "2", capsys=capsys)
    assert status == 0, err
    assert out.splitlines()[0] == "warmup(10) >> cosine(90)  (100 steps)"
    (tmp_path / "bad.txt").write_text("# warmup, then cosine\nwarmup(10)\n>> cosin(90)\n")
    status, out, err = main_in_process("show", "bad.txt", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "bad.txt: unknown schedule 'cosin'" in err and "(at line 3, column 4: '>> cosin(90)')" in err


def test_show_reads_a_schedule_nested_in_a_larger_file_with_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"optim": {"schedule": {"_target_": "lrkit.cosine", "steps": 50}}}))
    status, out, err = main_in_process("show", "run.json", "--key", "optim.schedule", "--rows", "2", capsys=capsys)
    assert status == 0, err
    assert out.splitlines()[0] == "cosine(50)  (50 steps)"
    status, out, err = main_in_process("show", "run.json", "--key", "optim.sched", capsys=capsys)
    assert status == 2 and "no 'sched' under 'optim'" in err


# -- demo ------------------------------------------------------------------------------------------
def _epoch_rows(stdout: str) -> list[tuple[int, float, float, float]]:
    rows = re.findall(r"^\s*(\d+)/\d+\s+(\S+)\s+(\S+)\s+(\S+)$", stdout, re.MULTILINE)
    return [(int(e), float(lr), float(loss), float(acc)) for e, lr, loss, acc in rows]


def test_demo_prints_the_lr_actually_used_per_epoch_and_writes_the_plot(tmp_path):
    # digits: 23 batches per epoch, default peak 1e-2, default schedule warmup(5) >> cosine(41) for 46 updates
    result = lrkit("demo", "--task", "digits", "--epochs", "2", "-o", "run.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "schedule  warmup(5) >> cosine(41)" in out and "peak lr   0.01" in out
    rows = _epoch_rows(out)
    assert [r[0] for r in rows] == [1, 2]
    # the last update of epoch 1 is update 22 (0-based): 17 steps into the 41-step cosine
    assert rows[0][1] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 17 / 41)), rel=1e-3)
    assert rows[1][1] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 40 / 41)), rel=1e-3)
    assert rows[1][2] < rows[0][2] and 0.5 < rows[1][3] <= 1.0
    final = re.search(r"final test accuracy (\S+) \(best (\S+) at update (\d+)\)", out)
    assert final and float(final[1]) == rows[-1][3] and float(final[2]) >= float(final[1])
    assert re.search(r"target 0\.98: (reached at update \d+ of 46|not reached in 46 updates)", out)
    assert "wrote run.png (PNG)" in out
    assert png_shape(tmp_path / "run.png") == (750, 800)


def test_demo_with_a_per_epoch_step_decay_matches_the_classic_steplr(tmp_path):
    # the classic loop: StepLR(step_size=1, gamma=0.5) stepped once per epoch, lr printed per epoch
    torch = pytest.importorskip("torch")
    result = lrkit(
        "demo",
        "--task",
        "digits",
        "--epochs",
        "3",
        "--unit",
        "epoch",
        "--lr",
        "0.02",
        "--schedule",
        "step_decay(1, factor=0.5)",
        "--no-progress",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.02)
    steplr = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    expected = []
    for _ in range(3):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        steplr.step()
    assert [r[1] for r in _epoch_rows(result.stdout)] == pytest.approx(expected, rel=1e-9)
    assert "(steps are epochs)" in result.stdout


# -- find and compare ------------------------------------------------------------------------------
def test_find_prints_the_suggestion_and_writes_the_plot(tmp_path):
    """What `lrkit find` prints is the library's range test on the task (the same seed, the same sweep)."""
    pytest.importorskip("torch")
    from lrkit.torch.finder import find_for_task, peak_from

    expected = find_for_task("digits", seed=0, iterations=60)
    assert expected.suggestion is not None  # this sweep has a suggestion and a peak: the lines below must appear
    peak = peak_from(expected)[0]
    result = lrkit("find", "--task", "digits", "--iterations", "60", "-o", "f.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("range test on digits: 60 updates, lr from 1e-07 to 10, seed 0")
    assert f"swept {len(expected.lrs)} updates ({expected.stopped})" in out
    for method, value in expected.suggestions.items():
        assert f"  {method:<10} {'-' if value is None else f'{value:.3g}'}" in out.splitlines()
    assert f"\nsuggestion: {expected.suggestion:.3g} (the steepest fall of the loss)\n" in out
    shown = re.search(r"^peak lr for one-cycle \(auto's rule, valley: .*\): (\S+)$", out, re.MULTILINE)
    assert shown and shown[1] == f"{peak:.3g}"
    assert f"\ntry: lrkit demo --task digits --lr {peak:.2g}\n" in out
    assert "wrote f.png (PNG)" in out
    png_shape(tmp_path / "f.png")


def test_compare_trains_each_schedule_with_the_same_seed(tmp_path):
    result = lrkit(
        "compare",
        "constant(1)",
        "constant(1) @ 0.01",
        "cosine(20) @ 3e-3",
        "--task",
        "digits",
        "--updates",
        "30",
        "--lr",
        "0.01",
        "-o",
        "c.png",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = re.findall(r"^(\S.*?)\s{2,}(\S+)\s+([01]\.\d{4})\s+([01]\.\d{4})\s+(not reached|\d+)\s+\d+\.\d$", out, re.M)
    assert [(r[0], r[1]) for r in rows] == [("constant(1)", "0.01"), ("constant(1)", "0.01"), ("cosine(20)", "0.003")]
    assert rows[0][2:] == rows[1][2:]  # same schedule, same lr, same seed: the same run
    for _, _, final, best, _ in rows:
        assert float(best) >= float(final)
    assert "updates to 0.98" in out
    assert "note: the schedule ends at update 20 of 30; its final value 0 is held after that" in out
    assert "Warning" not in result.stderr  # the Scheduler's past-the-end warning is replaced by the note
    assert "wrote c.png (PNG)" in out
    assert png_shape(tmp_path / "c.png") == (750, 800)


# -- the terminal helpers the subcommands use -------------------------------------------------------
class _Terminal:
    """A text stream that says it is a terminal."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_bar_on_a_terminal(monkeypatch, capsys, with_tqdm):
    from lrkit.plot.terminal import Progress

    if not with_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = _Terminal()
    bar = Progress(200, stream=stream, desc="training")
    for _ in range(200):
        bar.update(loss="0.5")
    bar.write("epoch line")
    bar.close()
    assert capsys.readouterr().out == "epoch line\n"
    assert "200/200" in stream.text and "training" in stream.text
    assert stream.text.endswith("\r")  # the bar is cleared when done


def test_no_progress_bar_off_a_terminal_or_when_disabled(capsys):
    import io

    from lrkit.plot.terminal import Progress

    pipe, terminal = io.StringIO(), _Terminal()
    for bar in (Progress(10, stream=pipe), Progress(10, stream=terminal, enabled=False)):
        bar.update(5)
        bar.write("line")
        bar.close()
    assert pipe.getvalue() == "" and terminal.text == ""
    assert capsys.readouterr().out == "line\nline\n"


def test_the_help_examples_use_valid_specs(tmp_path):
    from lrkit.cli import EXAMPLES, read_spec

    specs = [s.split(" @ ")[0] for s in re.findall(r"'([^']+)'", EXAMPLES)]
    assert len(specs) >= 6
    for spec in specs:
        read_spec(spec)
    result = lrkit("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"lrkit {lk.__version__}"


def test_show_prints_the_table_and_a_terminal_plot(tmp_path):
    result = lrkit("show", "cosine(100, floor=0.2)", "--rows", "3", "--width", "40", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cosine(100, floor=0.2)  (100 steps)"
    rows = [line.split() for line in lines[2:5]]
    assert rows == [["0", "1"], ["50", "0.6"], ["100", "0.2"]]  # 0.2 + 0.8 * (1 + cos(pi t/100)) / 2
    assert sum(line.count("*") for line in lines[6:]) == 40  # one mark per column


def test_show_reads_yaml_and_json_files(tmp_path):
    yaml = pytest.importorskip("yaml")
    schedule = lk.warmup(10) >> lk.cosine(90, floor=0.1)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(schedule.to_config()))
    (tmp_path / "s.json").write_text(json.dumps(schedule.to_config()))
    for name in ("s.yaml", "s.json"):
        result = lrkit("show", name, "--rows", "3", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == f"{schedule!r}  (100 steps)"


def test_show_with_values_that_overflow_or_a_huge_horizon(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, out, err = main_in_process("show", "cosine(10) * 1e308 * 10", "--rows", "2", capsys=capsys)
    assert status == 2 and "overflows to inf" in err and len(err.strip().splitlines()) == 1, err  # never inf, exit 0
    status, out, err = main_in_process("show", "cosine(10)", "--steps", "1e300", "--rows", "2", capsys=capsys)
    assert status == 0, err
    assert max(len(line) for line in out.splitlines()) < 100 and "1e+300" in out


# -- curve (lrkit.curves) ------------------------------------------------------------------------
def test_curve_commands_are_wired_into_lrkit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run.csv"
    steps = np.arange(0, 2000, 20)
    lrs = 3e-4 * lk.wsd(2000, warmup=100, decay=400)(steps)
    cum = np.cumsum(3e-4 * lk.wsd(2000, warmup=100, decay=400)(np.arange(2000)))[steps]
    losses = 3.0 + 0.5 * (cum + 1e-3) ** -0.5
    run.write_text("step,lr,loss\n" + "".join(f"{s},{lr},{loss}\n" for s, lr, loss in zip(steps, lrs, losses)))
    status, out, err = main_in_process(
        "curve", "fit", f"{run}@wsd(2000, warmup=100, decay=400)", "--lr", "3e-4", "--law", "momentum",
        "-o", "law.json", capsys=capsys,
    )
    assert status == 0, err
    assert (tmp_path / "law.json").is_file()
    status, out, err = main_in_process("curve", "rank", "law.json", "cosine(2000)", "constant(1)", "--lr", "3e-4",
                                       "--budget", "2000", capsys=capsys)
    assert status == 0 and "cosine(2000)" in out, err
    status, out, err = main_in_process("curve", "rank", "missing.json", "cosine(10)", "--budget", "10", capsys=capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_every_builtin_task_is_a_choice():
    from lrkit.cli import TASK_NAMES
    from lrkit.tasks import TASKS

    assert TASK_NAMES == TASKS


@pytest.mark.parametrize(
    ("module", "statement", "extra"),
    [
        ("torch", "from lrkit.torch import Scheduler", "torch"),
        ("jax", "import lrkit.optax", "jax"),
        ("keras", "import lrkit.keras", "keras"),
    ],
)
def test_adapters_without_their_extra_name_the_pip_command(tmp_path, module, statement, extra):
    code = f"import sys; sys.modules[{module!r}] = None\ntry:\n    {statement}\nexcept ImportError as e:\n    print(e)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": SOURCE})
    assert f"pip install 'lrkit[{extra}]'" in result.stdout, (result.stdout, result.stderr)


# -- files appear complete or not at all (issue 24, item 5) ----------------------------------------------
def _interrupt_svg_writing(monkeypatch):
    """Make matplotlib's SVG writer stop with Ctrl-C after it has written most of the file."""
    from matplotlib.backends import backend_svg

    def finalize(renderer):
        renderer.writer.flush()  # everything drawn so far reaches the file object
        raise KeyboardInterrupt

    monkeypatch.setattr(backend_svg.RendererSVG, "finalize", finalize)


@pytest.mark.parametrize("before", [None, "previous"])
def test_an_interrupted_plot_leaves_the_previous_file_or_none(tmp_path, monkeypatch, capsys, before):
    out = tmp_path / "x.svg"
    if before is not None:
        assert main_in_process("plot", "cosine(100)", "-o", str(out), capsys=capsys)[0] == 0
        before = out.read_bytes()
        assert before.rstrip().endswith(b"</svg>")
    _interrupt_svg_writing(monkeypatch)
    status, _, err = main_in_process("plot", "warmup(10) >> cosine(90)", "-o", str(out), capsys=capsys)
    assert (status, err) == (130, "lrkit: interrupted\n")
    if before is None:
        assert not out.exists()
    else:
        assert out.read_bytes() == before  # not a truncated SVG that looks complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if before is None else ["x.svg"])  # no temporary left


def test_an_interrupted_finder_plot_leaves_no_file(tmp_path, monkeypatch):
    from lrkit.finder import FinderResult

    lrs = np.logspace(-5, 0, 60)
    result = FinderResult.from_curve(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.5))
    _interrupt_svg_writing(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        result.plot(tmp_path / "f.svg")
    assert list(tmp_path.iterdir()) == []


def test_a_real_sigint_while_the_svg_is_written_leaves_the_previous_file(tmp_path):
    """A real SIGINT, delivered by the OS to `lrkit plot` while matplotlib writes the SVG (the signal is sent
    from inside the writer, so it always lands mid-write): exit 130, and x.svg is the previous, complete file."""
    out = tmp_path / "x.svg"
    assert lrkit("plot", "cosine(100)", "-o", "x.svg", cwd=tmp_path).returncode == 0
    before = out.read_bytes()
    code = (
        "import os, signal, sys, time\n"
        "from matplotlib.backends import backend_svg\n"
        "def finalize(renderer):\n"
        "    renderer.writer.flush()\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)  # the handler raises KeyboardInterrupt here\n"
        "backend_svg.RendererSVG.finalize = finalize\n"
        "from lrkit.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = lrkit("plot", "warmup(10) >> cosine(90)", "-o", "x.svg", cwd=tmp_path, code=code)
    assert (result.returncode, result.stderr) == (130, "lrkit: interrupted\n")
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.svg"]
