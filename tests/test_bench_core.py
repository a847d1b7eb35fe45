"""bench/core.py runs at its smallest size and prints every row of issue 11's table it measures.

It proves the script runs and reports each figure; nothing about the timings is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("torch")

FAMILIES = (
    "constant", "anneal", "linear", "cosine", "polynomial", "warmup", "untuned_warmup", "step_decay", "multistep",
    "exponential", "inverse_time", "inverse_sqrt", "tanh_decay", "piecewise_constant", "piecewise_linear", "sgdr",
    "cyclic", "one_cycle", "one_cycle_momentum", "wsd", "flat_cosine", "warmup_flat_warmdown", "warmup_cosine",
)
PEERS = (
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR", "CosineAnnealingWarmRestarts",
    "CyclicLR", "PolynomialLR", "LinearLR", "LambdaLR",
)


def _section(text: str, title: str) -> list[list[str]]:
    """The table rows (cells) of the section whose heading starts with ``title``."""
    body = text.split(f"### {title}", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]  # without the header row


def test_core_quick_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "core.md"
    done = subprocess.run(
        [sys.executable, "bench/core.py", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = out.read_text()
    for line in ("- command: `python bench/core.py --quick", "- date: ", "- machine: ", "- versions: ", "- git: "):
        assert line in text, line

    scalar = {row[0] for row in _section(text, "1. ")}
    assert scalar == {*FAMILIES, "warmup(500) >> cosine(10000)"}

    steps = _section(text, "2. ")
    for groups in ("1", "10"):
        names = {row[0] for row in steps if row[2] == groups}
        assert {f for f in FAMILIES if f not in names} == set(), groups
        assert "cosine, clock=WallClock()" in names
    assert {p for p in PEERS if not any(row[1].startswith(p) for row in steps)} == set()
    assert all(row[5].endswith("x") and row[8].endswith("x") for row in steps)

    preview = _section(text, "3. ")  # one row per family: lrkit against the faster hand-written numpy form
    assert {row[0] for row in preview} >= set(FAMILIES)
    assert all(row[4].endswith("x") for row in preview)

    pieces = _section(text, "4. ")
    assert [(r[0], r[1]) for r in pieces] == [(k, n) for k in ("join", "product") for n in ("1", "10", "100", "1,000")]
    assert "linear" in text.split("### 4. ", 1)[1].split("|", 1)[0]  # the growth is stated

    memory = " ".join(row[0] for row in _section(text, "5. "))
    for case in ("1,000 distinct", "LambdaLR", "CosineAnnealingLR", "sgdr(10, mult=1.00001)"):
        assert case in memory, case

    imports = [row[0] for row in _section(text, "6. ")]
    assert imports[:3] == ["`import torch`", "`import torch, lrkit.torch`", "difference (lrkit.torch)"]
