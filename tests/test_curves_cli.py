"""`lrkit curve` on files: the law file's learning-rate scale, logs that disagree with their spec, branches,
bad files (one line naming the file, row and column; exit 2) and a missing scipy (a hint naming the extra).

Every test here failed on 21a4fa1 (exit 0 with losses of 40, R^2 1.0000 on a log 3,333x its spec,
"internal error, please report it" without scipy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lrkit as lk
from lrkit import curves
from lrkit.cli import main

TRUE = curves.MultiPowerLaw(L0=3.0, A=0.5, alpha=0.5, B=400.0, C=2.0, beta=0.6, gamma=0.6)
SPECS = {
    "constant": "warmup(200) >> constant(1.0)",
    "cosine": "warmup(200) >> cosine(3800, floor=0.1)",
    "drop": "warmup(200) >> constant(1.0, 1800) >> constant(0.3)",
}
STEPS = np.arange(256, 4001, 64)
SRC = Path(curves.__file__).resolve().parents[2]


def _files(tmp_path, scale=3e-4):
    out = []
    for name, spec in SPECS.items():
        schedule = lk.from_config(spec) * scale
        path = tmp_path / f"{name}.csv"
        curves.write_run(path, STEPS, TRUE.predict(schedule, STEPS))
        out.append(f"{path}@{spec}")
    return out


def _run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture()
def law_file(tmp_path, capsys):
    path = tmp_path / "law.json"
    status, out, _ = _run(
        ["curve", "fit", *_files(tmp_path), "--lr", "3e-4", "--method", "joint", "-o", str(path)], capsys
    )
    assert status == 0 and "--lr 0.0003" in out
    return path


def test_predictions_use_the_scale_the_law_was_fitted_at(law_file, capsys):
    specs = [SPECS["cosine"], SPECS["constant"]]
    status, out, _ = _run(["curve", "rank", str(law_file), *specs, "--budget", "4000", "--json"], capsys)
    assert status == 0
    ranking = json.loads(out)["ranking"]
    truth = {spec: TRUE.final(lk.from_config(spec) * 3e-4, 4000) for spec in specs}
    assert [r["schedule"] for r in ranking] == sorted(truth, key=truth.get)
    for row in ranking:
        assert row["predicted_loss"] == pytest.approx(truth[row["schedule"]], rel=1e-4)
    status, out, _ = _run(["curve", "predict", str(law_file), SPECS["cosine"], "--budget", "4000", "--json"], capsys)
    assert json.loads(out)["loss"][-1] == pytest.approx(truth[SPECS["cosine"]], rel=1e-4)


def test_a_schedule_far_outside_the_fitted_peaks_is_refused(law_file, capsys):
    status, _, err = _run(["curve", "rank", str(law_file), SPECS["cosine"], "--budget", "4000", "--lr", "1"], capsys)
    assert status == 2 and err.count("\n") == 1
    assert "SCHEDULE" in err and "3,333x above the largest peak the law was fitted on" in err and "--lr 0.0003" in err
    status, _, err = _run(["curve", "optimize", str(law_file), "--budget", "4000", "--peak", "1"], capsys)
    assert status == 2 and "--peak" in err


def test_a_log_whose_lr_column_disagrees_with_its_spec_is_refused(tmp_path, capsys):
    schedule = lk.from_config(SPECS["cosine"])
    steps = np.arange(4000)
    path = tmp_path / "run.csv"
    curves.write_run(path, steps, TRUE.predict(schedule * 3e-4, np.maximum(steps, 1)), schedule(steps) * 1.0)
    status, _, err = _run(["curve", "fit", f"{path}@{SPECS['cosine']}", "--lr", "3e-4"], capsys)
    assert status == 2 and err.count("\n") == 1
    assert "run.csv" in err and "line 2" in err and "3,333x the schedule's" in err


@pytest.mark.parametrize(
    "row, needle",
    [
        ("10.5,3.0", "line 3: 'step' is '10.5'"),
        (",3.0", "line 3: 'step' is empty"),
        ("300,abc", "line 3: 'loss' holds"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_row_and_column(tmp_path, capsys, row, needle):
    path = tmp_path / "bad.csv"
    path.write_text(f"step,loss\n256,3.5\n{row}\n400,3.3\n")
    status, _, err = _run(["curve", "fit", f"{path}@{SPECS['cosine']}", *_files(tmp_path)[:2], "--lr", "3e-4"], capsys)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "bad.csv" in err and needle in err


def test_a_bad_law_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "law.json"
    path.write_text(json.dumps(TRUE.to_dict()))  # what 21a4fa1 wrote: no version, no scale
    status, _, err = _run(["curve", "rank", str(path), SPECS["cosine"], "--budget", "10"], capsys)
    assert status == 2 and err.count("\n") == 1 and "law.json" in err and "no 'version'" in err


def test_branches_on_the_command_line(tmp_path, capsys):
    stable_spec = "warmup(100) >> constant(1.0)"
    cool_spec = "warmup(100) >> constant(1.0, 1100) >> linear(800)"
    stable, cool = (lk.from_config(s) * 3e-4 for s in (stable_spec, cool_spec))
    parent_steps, own_steps = np.arange(200, 2001, 100), np.arange(1200, 2001, 50)

    def history(steps, values, final=None):
        out = {"history": {"val": {"iter": steps.tolist(), "val_loss": values.tolist()}}}
        if final is not None:
            out["history"]["final-val"] = {"iter": [2000], "final_val_loss": [final]}
        return json.dumps(out)

    (tmp_path / "stable.json").write_text(history(parent_steps, TRUE.predict(stable, parent_steps), 4.0))
    (tmp_path / "cool.json").write_text(history(own_steps, TRUE.predict(cool, own_steps), 3.9))
    runs = [f"{tmp_path / 'cool.json'}@{cool_spec}", f"{tmp_path / 'stable.json'}@{stable_spec}"]
    branch = f"{tmp_path / 'cool.json'}={tmp_path / 'stable.json'}"
    status, out, _ = _run(
        ["curve", "fit", *runs, "--lr", "3e-4", "--branch", branch, "--method", "joint", "--json"], capsys
    )
    assert status == 0
    assert [r["points"] for r in json.loads(out)["fit"]["runs"]] == [own_steps.size - 1, parent_steps.size]
    law = tmp_path / "law.json"
    assert main(["curve", "fit", *runs, "--lr", "3e-4", "--branch", branch, "--method", "joint", "-o", str(law)]) == 0
    capsys.readouterr()
    status, out, _ = _run(
        ["curve", "score", str(law), *runs, "--final", "final_val_loss", "--branch", branch, "--json"], capsys
    )
    scored = json.loads(out)["runs"]
    assert status == 0 and [r["final_loss"] for r in scored] == [3.9, 4.0]
    status, _, err = _run(["curve", "fit", *runs, "--branch", "nope.json=stable.json"], capsys)
    assert status == 2 and "--branch" in err


def test_without_scipy_fit_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['scipy'] = None\n"  # import scipy fails, as when it is not installed
        "from lrkit.cli import main\n"
        f"sys.exit(main(['curve', 'fit', *{_files(tmp_path)!r}, '--lr', '3e-4']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "lrkit: error: fitting a law needs scipy: pip install 'lrkit[curves]'"


def test_without_scipy_the_python_fit_names_the_extra():
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import lrkit as lk\n"
        "from lrkit import curves\n"
        "steps = [100, 200, 300, 400, 500, 600, 700, 800]\n"
        "run = curves.Run.of(lk.constant(1e-3), steps, [3, 2.9, 2.8, 2.7, 2.6, 2.5, 2.4, 2.3])\n"
        "try:\n"
        "    curves.fit([run])\n"
        "except ModuleNotFoundError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout.strip() == "fitting a law needs scipy: pip install 'lrkit[curves]'", done.stderr


def test_a_file_that_is_not_text_is_one_line_naming_it(tmp_path, capsys):
    path = tmp_path / "run.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\n")
    status, _, err = _run(["curve", "fit", f"{path}@{SPECS['cosine']}", "--lr", "3e-4"], capsys)
    assert status == 2 and err.count("\n") == 1 and "run.csv" in err and "not UTF-8 text" in err, err


def test_warnings_on_the_command_line_are_one_line_without_python_source(tmp_path, capsys):
    # a left-out non-finite loss warns; the CLI says it as one 'lrkit: warning:' line, not Python's
    # "file.py:83: RunFileWarning: ..." followed by the source line that raised it
    path = tmp_path / "gap.csv"
    path.write_text("step,loss\n256,nan\n" + "".join(f"{s},{3.5 - s / 1e4}\n" for s in range(512, 4097, 256)))
    status, _, err = _run(["curve", "fit", f"{path}@{SPECS['cosine']}", *_files(tmp_path)[:2], "--lr", "3e-4"],
                          capsys)
    assert status == 0, err
    lines = [line for line in err.splitlines() if "gap.csv" in line]
    assert len(lines) == 1 and lines[0].startswith("lrkit: warning: run file ") and "left out" in lines[0], err
    assert ".py:" not in err and "read_run(" not in err, err
