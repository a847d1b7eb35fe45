"""The benchmark suite runs end to end at its smallest size (``bench/run_all.py --quick``).

This proves the scripts run and write what BENCHMARKS.md links to; it asserts nothing about the
figures (performance is measured in bench/, never asserted in tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _bench import load_bench

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def _load_run_all():
    return load_bench("run_all")


def test_quick_suite_writes_every_result_and_benchmarks_md(tmp_path: Path) -> None:
    env = dict(os.environ, LRKIT_BENCH_CACHE=str(tmp_path / "cache"), MPLBACKEND="Agg")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    run_all = _load_run_all()
    page = tmp_path / "BENCHMARKS.md"
    text = page.read_text()
    assert text.startswith("# lrkit benchmarks")
    assert "--quick" in text and "Quick run" in text
    for name in run_all.BENCHMARKS:
        result = tmp_path / "results" / f"{name}.quick.md"
        assert result.is_file(), f"{name} wrote no results"
        assert f'<a id="{name}"></a>' in text
        assert "- command: `python bench/" in result.read_text()
    # every plot BENCHMARKS.md links exists and is a PNG; the training plots are among them
    links = re.findall(r"\]\(([^)]+\.png)\)", text)
    assert any("training_curves" in link for link in links) and any("training_grid" in link for link in links)
    for link in links:
        assert (page.parent / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", link
    # the training table has every entry, with a number in each accuracy cell
    training = (tmp_path / "results" / "training.quick.md").read_text()
    for label in ("constant", "one-cycle", "schedule-free AdamW", "lrkit auto", "torch-lr-finder -> OneCycleLR"):
        row = next(line for line in training.splitlines() if line.startswith(f"| {label}"))
        assert re.search(r"\| 0\.\d{3} \+- 0\.\d{3} \|", row), row
    # the quick run never touches the checkout's real figures
    assert not (tmp_path / "results" / "training.md").exists()


def test_only_rejects_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    run_all = _load_run_all()
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--only", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "training" in err


def test_runs_are_deterministic_cached_and_the_torch_peer_uses_torch_lrs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LRKIT_BENCH_CACHE", str(tmp_path))
    runs = load_bench("runs")
    job = runs.lrkit_run("digits", "one_cycle", 3e-3, 0)
    peer = runs.Run("digits", "constant()", 3e-3, 0, kind="torch_onecycle")
    first = runs.execute([job, peer], workers=1, verbose=False)
    cached_before = runs.STATS.cached
    again = runs.execute([job, peer], workers=1, verbose=False)
    assert runs.STATS.cached == cached_before + 2
    assert again == first
    # computing it again (no cache) gives the very same run
    for path in tmp_path.rglob("*.json"):
        path.unlink()
    fresh = runs.execute([job], workers=1, verbose=False)
    assert fresh[0]["accuracies"] == first[0]["accuracies"] and fresh[0]["losses"] == first[0]["losses"]
    # ... and so does a pool of spawned workers
    for path in tmp_path.rglob("*.json"):
        path.unlink()
    try:
        pooled = runs.execute([job, peer], workers=2, verbose=False)
    finally:
        runs.shutdown()
    for a, b in zip(pooled, first):
        assert a["accuracies"] == b["accuracies"] and a["losses"] == b["losses"] and a["lrs"] == b["lrs"]
    # torch's OneCycleLR ran the peer: its first LR is max_lr / 25 and it peaks at max_lr at 30%
    lrs = first[1]["lrs"]
    assert lrs[0] == pytest.approx(3e-3 / 25, rel=1e-12)
    assert max(lrs) == pytest.approx(3e-3, rel=1e-6)
    assert abs(lrs.index(max(lrs)) - 0.3 * len(lrs)) <= 2


def _load_runs():
    return load_bench("runs")


def test_the_cache_fingerprint_covers_every_module_of_the_layers(tmp_path: Path, monkeypatch) -> None:
    """A cached run is reused only for the same code: editing any core module (here families.py, which the
    old fingerprint named by its pre-layout path shapes.py and so never read) changes the fingerprint; the
    finder's modules change only the finder jobs' fingerprint, never the training runs'."""
    import shutil

    import lrkit

    runs = _load_runs()
    copy = tmp_path / "lrkit"
    shutil.copytree(Path(lrkit.__file__).resolve().parent, copy)
    monkeypatch.setattr(lrkit, "__file__", str(copy / "__init__.py"))

    def both() -> tuple[str, str]:
        return (
            runs.code_fingerprint(b"t", finder=False, packages=()),
            runs.code_fingerprint(b"t", finder=True, packages=()),
        )

    training, finder = both()
    with (copy / "core" / "families.py").open("a") as f:
        f.write("\n# edited\n")
    after_core = both()
    assert after_core[0] != training and after_core[1] != finder
    with (copy / "finder" / "_suggest.py").open("a") as f:
        f.write("\n# edited\n")
    after_finder = both()
    assert after_finder[0] == after_core[0] and after_finder[1] != after_core[1]
