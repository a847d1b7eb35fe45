"""Launch a worker script on ``world`` real gloo processes (one subprocess per rank) and collect their results.

Each worker gets ``rank world *args`` on its command line and writes ``rank{r}.json`` into ``folder``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_ranks(worker: str, world: int, folder: Path, *args: str) -> list[Any]:
    """Run ``worker`` (Python source) on ``world`` processes; each rank's JSON result, rank 0 first."""
    script = folder / "worker.py"
    script.write_text(worker)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    env["OMP_NUM_THREADS"] = "1"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), str(world), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(world)
    ]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=120)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rank, (p, output) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank} failed:\n{output}"
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(world)]
