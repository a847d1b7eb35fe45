"""bench/auto.py at its smallest size: it runs end to end (grid, range tests, auto runs, the auto() check)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_bench_auto_quick_runs(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    env = dict(os.environ, LRKIT_BENCH_CACHE=str(tmp_path / "cache"), MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only", "auto", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "results" / "auto.quick.md").read_text()  # never the checkout's bench/results
    for fragment in ("**Targets**", "Leave-one-task-out summary", "beta1 cycling", "### digits", "valley centre 100"):
        assert fragment in text, fragment
