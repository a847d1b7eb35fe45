"""`lrkit bench` finds the checkout's bench/ and passes its options through."""

from __future__ import annotations

import subprocess
import sys


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_bench_runs_one_benchmark_into_a_chosen_directory(tmp_path):
    out = run("bench", "--quick", "--only", "preview", "--out", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "BENCHMARKS.md").read_text()
    assert "Preview" in page and "lrkit / numpy" in page
    assert (tmp_path / "results" / "preview.quick.md").is_file()


def test_bench_rejects_an_unknown_benchmark_name(tmp_path):
    out = run("bench", "--only", "nope", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown benchmark 'nope'" in out.stderr


def test_other_commands_still_reject_unknown_options():
    out = run("show", "cosine(10)", "--bogus")
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr
