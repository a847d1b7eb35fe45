"""bench/overhead.py runs at its smallest size (it proves the script runs, not what it measures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_overhead_quick_runs_and_writes_every_row(tmp_path: Path) -> None:
    command = [sys.executable, "bench/run_all.py", "--quick", "--only", "overhead", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / "results" / "overhead.quick.md").read_text()  # never the checkout's bench/results
    for peer in (
        "StepLR",
        "CosineAnnealingLR",
        "OneCycleLR",
        "CyclicLR",
        "SequentialLR",
        "ReduceLROnPlateau",
        "timm CosineLRScheduler",
        "HF get_cosine_schedule_with_warmup",
    ):
        assert f"| {peer}" in text, peer
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 2 * 10 and {r.split("|")[2].strip() for r in rows} == {"1", "10"}
