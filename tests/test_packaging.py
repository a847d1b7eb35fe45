"""The install path the README gives works: a wheel built with ``python -m build``, installed into a
clean virtual environment (no system site-packages, numpy its only dependency), runs the README's
first example, ships its data files and ``py.typed``, and has a working ``lrkit`` command.

Only the package registry pip is configured with is reached (for numpy, and for ``build``'s
isolated setuptools); the sources are copied to a temporary folder first, so the checkout gets
no ``build/`` or ``*.egg-info`` folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "src")


def _readme_first_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert match, "README.md has no python example"
    return match.group(1)


def _clean_env() -> dict[str, str]:
    """The environment without what would let the venv see this checkout or the dev venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _shipped_data() -> set[str]:
    """Every file of src/lrkit that is not Python source: what the wheel must hold besides the modules."""
    package = ROOT / "src" / "lrkit"
    return {
        "lrkit/" + p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="the 'build' package is in the dev extra: pip install -e '.[dev]'")
    work = tmp_path_factory.mktemp("wheel")
    copy = work / "lrkit"
    copy.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, copy / name)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(copy)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (found,) = (work / "dist").glob("lrkit-*.whl")
    return found


def test_the_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lrkit/py.typed" in names
    assert any(n.startswith("lrkit/curves/data/") and n.endswith(".csv") for n in names)
    missing = sorted(_shipped_data() - names)
    assert not missing, f"files of src/lrkit missing from the wheel (pyproject's package-data): {missing}"
    package = ROOT / "src" / "lrkit"
    modules = {"lrkit/" + p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    assert not sorted(modules - names), sorted(modules - names)


def test_a_clean_venv_with_numpy_only_installs_the_wheel_and_runs_the_readme(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = _clean_env()
    pip = [sys.executable, "-m", "pip", "--python", str(python)]  # this pip, acting on the clean venv
    done = subprocess.run([*pip, "install", "-q", str(wheel)], capture_output=True, text=True, timeout=600, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    listed = subprocess.run([*pip, "list", "--format=json"], capture_output=True, text=True, check=True, env=env,
                            cwd=tmp_path)
    installed = {p["name"].lower() for p in json.loads(listed.stdout)} - {"pip", "setuptools", "wheel"}
    assert installed == {"lrkit", "numpy"}, installed

    script = (
        "import lrkit, pathlib, sys\n"
        "assert pathlib.Path(lrkit.__file__).is_relative_to(pathlib.Path(sys.prefix)), lrkit.__file__\n"
        + _readme_first_example()
        + "\nassert lk.from_config('warmup(500) >> cosine(10000, floor=0.01)') == sched\n"
        "from lrkit import curves\n"  # the shipped data files are found from the installed package
        "runs = curves.paper_runs()\n"
        "assert set(curves.FIT_RUNS) <= set(runs), sorted(runs)\n"
        "print('ok', sched(500))\n"
    )
    ran = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
    assert ran.stdout.strip().endswith("ok 1.0"), ran.stdout

    command = env_dir / "bin" / "lrkit"
    shown = subprocess.run([str(command), "show", "warmup(5) >> cosine(10)"], capture_output=True, text=True,
                           timeout=120, env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "warmup(5) >> cosine(10)" in shown.stdout
