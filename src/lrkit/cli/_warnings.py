"""Warnings on the command line: one ``lrkit: warning: ...`` line on stderr (shared by the CLIs).

Python's default display names the source file and line that warned and prints that line of code,
which is noise to a user of the command; a warning keeps its text and loses the rest.

>>> import io, warnings
>>> err = io.StringIO()
>>> with one_line_warnings(err):
...     warnings.warn("run file 'a.csv': 1 non-finite 'loss' value(s) left out")
>>> err.getvalue()
"lrkit: warning: run file 'a.csv': 1 non-finite 'loss' value(s) left out\\n"
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["one_line_warnings"]


@contextlib.contextmanager
def one_line_warnings(stream: TextIO | None = None) -> Iterator[None]:
    """Within the block, every warning shown is one line ``lrkit: warning: <message>`` on ``stream`` (stderr), each
    message once (a check that several steps of one command make, as every evaluation of one schedule, says it once).

    >>> import io
    >>> err = io.StringIO()
    >>> with one_line_warnings(err):
    ...     warnings.warn("schedule: it ends after 10 updates")
    ...     warnings.warn("schedule: it ends after 10 updates")  # another line: Python would show it again
    >>> err.getvalue().count("ends after")
    1
    """
    said: set[str] = set()

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        text = " ".join(str(message).split())
        if text not in said:
            said.add(text)
            print(f"lrkit: warning: {text}", file=stream or sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
