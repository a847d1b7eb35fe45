"""Files that appear complete or not at all: write to a temporary file beside the target, then rename.

Every file lrkit writes (plots, law files, logs rewritten whole) goes through :func:`atomic_write`, so an
interrupted write (Ctrl-C, a full disk, a crash) leaves the previous file, or none, never a truncated one.
``os.replace`` is atomic on POSIX and Windows when both paths are on one file system, which a sibling
temporary file guarantees.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "law.json"
>>> with atomic_write(target) as f:
...     _ = f.write("{}")
>>> target.read_text()
'{}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; rename it onto ``path`` when the block ends.

    If the block raises (or the process is interrupted), the temporary file is removed and ``path`` is
    left as it was. ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding=`` is given) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it (mkstemp makes it 0600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
