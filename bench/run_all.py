"""Run every lrkit benchmark and assemble BENCHMARKS.md (what ``lrkit bench`` runs).

    python bench/run_all.py                  # the full suite (about 8 minutes on 2 cores): BENCHMARKS.md
    python bench/run_all.py --quick          # every benchmark at its smallest size (under a minute)
    python bench/run_all.py --only training  # one benchmark (repeatable); BENCHMARKS.md is re-assembled
    python bench/run_all.py --out DIR        # results under DIR/results, DIR/BENCHMARKS.md

Each benchmark is a script ``bench/<name>.py`` with a ``main`` that parses ``--quick`` and writes
``<results>/<name>.md`` (``<name>.quick.md`` with ``--quick``) through bench/harness.py, plus any
PNG plots beside it. They run in this process, in the order of :data:`BENCHMARKS` (training before
finder: the finder benchmark reuses the training grid's cached runs). Then BENCHMARKS.md is
assembled from the results files present: a header (command, date, machine, versions), the
targets at a glance, and each benchmark's section with its plots linked. Without ``--out``,
full runs write the repository's BENCHMARKS.md and bench/results/; ``--quick`` runs write
bench/results/BENCHMARKS.quick.md and ``*.quick.*`` files, so they never replace real figures.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import os
import re
import shlex
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from lrkit.core._io import atomic_write

#: every benchmark, in the order they run (name = bench/<name>.py and results/<name>.md)
BENCHMARKS: tuple[str, ...] = (
    "core", "preview", "overhead", "state", "compile", "optax_step", "keras_fit", "training", "finder", "auto",
    "finder_length", "curves",
)
TITLES = {
    "core": "Core v2: evaluation, the torch adapter, memory, import",
    "auto": "auto on tasks it was not tuned on (leave-one-task-out)",
    "finder_length": "Range-test length: 100 vs 300 updates",
    "curves": "Loss-curve prediction (lrkit.curves)",
    "preview": "Preview cost",
    "overhead": "Per-update overhead",
    "compile": "Recompiles under torch.compile",
    "optax_step": "optax step",
    "keras_fit": "Keras fit",
    "training": "Training quality",
    "finder": "LR finder",
    "state": "Scheduler state and step cost (issue 24)",
}


def locate_bench(start: Path | None = None) -> Path | None:
    """The ``bench/`` directory of an lrkit checkout: this file's own directory, else one found from
    ``start`` (default: the current directory) upwards, else beside lrkit's source (``src/lrkit``)."""
    here = Path(__file__).resolve().parent
    if (here / "harness.py").is_file():
        return here
    origin = (start or Path.cwd()).resolve()
    candidates = [origin, *origin.parents]
    try:
        import lrkit

        candidates.append(Path(lrkit.__file__).resolve().parents[2])
    except ImportError:  # pragma: no cover
        pass
    for root in candidates:
        if (root / "bench" / "harness.py").is_file() and (root / "bench" / "run_all.py").is_file():
            return root / "bench"
    return None


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def _call(module: object, script: Path, args: list[str]) -> None:
    """Call ``module.main`` with ``args`` (as its argument if it takes one, else through sys.argv)."""
    main = getattr(module, "main", None)
    if main is None:
        raise RuntimeError(f"{script.name} has no main(argv) entry point")
    with _argv([os.path.relpath(script), *args]):
        if inspect.signature(main).parameters:
            main(args)
        else:
            main()


def _link_images(text: str, results: Path, page: Path) -> str:
    """Rewrite ``](plot.png)`` links (relative to the results directory) to be relative to ``page``."""
    prefix = Path(os.path.relpath(results, page.parent)).as_posix()
    return re.sub(r"\]\(([^/():]+\.png)\)", lambda m: f"]({prefix}/{m.group(1)})", text)


def assemble(
    results: Path, page: Path, quick: bool, timings: dict[str, float], failed: list[str], argv: list[str]
) -> str:
    """BENCHMARKS.md from the results files present under ``results``."""
    import harness

    suffix = ".quick" if quick else ""
    sections: list[tuple[str, str]] = []
    for name in BENCHMARKS:
        path = results / f"{name}{suffix}.md"
        if path.is_file():
            sections.append((name, path.read_text()))
    command = " ".join(shlex.quote(a) for a in ["python", "bench/run_all.py", *argv])
    text = harness.header("lrkit benchmarks", "torch").replace("## lrkit benchmarks", "# lrkit benchmarks", 1)
    text = re.sub(
        r"^- command: .*$",
        lambda _: (
            f"- command: `{command}` (= `{' '.join(['lrkit', 'bench', *argv])}`); each section "
            "names the command of its own script"
        ),
        text,
        count=1,
        flags=re.M,
    )
    text += _revision(page)
    text += (
        "\nGenerated by bench/run_all.py from bench/results/*.md; do not edit by hand. Protocol: timings are "
        "medians of repeated, interleaved runs, quoted as ratios against a peer measured in the same run; "
        "training figures come from grids and seeds fixed in the code, every run deterministic per seed.\n"
    )
    if quick:
        text += "\n**Quick run (`--quick`): every benchmark at its smallest size. It proves the scripts run; "
        text += "its figures mean nothing.**\n"
    if timings:
        text += "\nWall time this invocation: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        text += f"; total {sum(timings.values()):.0f} s.\n"
    if failed:
        text += f"\n**Failed this invocation: {', '.join(failed)}** (see the console output).\n"
    glance = [
        f"- {TITLES.get(name, name)}: {line.strip().lstrip('- ').strip()}"
        for name, body in sections
        for line in body.splitlines()
        if "**met**" in line or "**not met**" in line
    ]
    if glance:
        text += "\n## Targets at a glance\n\n" + "\n".join(glance) + "\n"
    missing = [name for name in BENCHMARKS if name not in dict(sections)]
    if missing:
        text += f"\nNo results yet for: {', '.join(missing)}.\n"
    text += "\n## Contents\n\n" + "\n".join(f"- [{TITLES.get(n, n)}](#{n})" for n, _ in sections) + "\n"
    for name, body in sections:
        text += f'\n<a id="{name}"></a>\n\n' + _link_images(body.strip(), results, page) + "\n"
    page.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(page) as f:
        f.write(text)
    return text


def _revision(page: Path) -> str:
    """``- code: git commit <sha>`` of the checkout the benchmarks ran from (and whether it had local changes)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "bench"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    changed = [line[3:] for line in dirty.splitlines() if not line[3:].startswith("bench/results/")]
    note = f" with local changes to {', '.join(changed)}" if changed else ""
    return f"- code: git commit {sha}{note}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named by ``argv`` (default: all) and write BENCHMARKS.md; 0 if all succeeded."""
    parser = argparse.ArgumentParser(prog="lrkit bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark at its smallest size (< 1 minute)")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--out", metavar="DIR", help="write DIR/BENCHMARKS.md and DIR/results/ instead of the checkout")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        unknown = [n for n in args.only if n not in BENCHMARKS]
        if unknown:
            parser.error(f"--only: unknown benchmark {', '.join(map(repr, unknown))}; known: {', '.join(BENCHMARKS)}")
        names = [n for n in BENCHMARKS if n in args.only]

    bench = locate_bench()
    if bench is None:
        print(
            "lrkit bench: the benchmarks live in the lrkit repository's bench/ directory, which was not found "
            f"from {Path.cwd()} or beside the installed lrkit; run it inside a checkout "
            "(git clone the repository, pip install -e '.[tasks]', then `lrkit bench`)",
            file=sys.stderr,
        )
        return 2
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    import harness

    if args.out:
        out = Path(args.out).resolve()
        harness.RESULTS = out / "results"
        page = out / "BENCHMARKS.md"
    else:
        page = harness.RESULTS / "BENCHMARKS.quick.md" if args.quick else bench.parent / "BENCHMARKS.md"
    results = harness.RESULTS
    results.mkdir(parents=True, exist_ok=True)

    timings: dict[str, float] = {}
    failed: list[str] = []
    for name in names:
        script = bench / f"{name}.py"
        print(f"== {name} ==", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            if not script.is_file():
                raise FileNotFoundError(f"{script} does not exist")
            module = importlib.import_module(name)
            _call(module, script, ["--quick"] if args.quick else [])
        except Exception:  # one failing benchmark must not stop the others
            traceback.print_exc()
            failed.append(name)
        timings[name] = time.perf_counter() - start
        print(f"== {name}: {timings[name]:.1f} s ==", file=sys.stderr, flush=True)
    assemble(results, page, args.quick, timings, failed, argv)
    print(f"written to {page}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
