"""Exceptions raised by lrkit."""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "brief", "shown"]

#: Characters of a long line shown around the position in a message.
_WINDOW = 60


def _excerpt(text: str, position: int) -> tuple[str, int, int, int]:
    """The line holding ``position`` (cut to a window around it), the caret's column in that
    excerpt, and the 1-based line and column of the position."""
    position = max(0, min(position, len(text)))
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : len(text) if end < 0 else end]
    column = position - start
    shown, caret = line, column
    if len(line) > _WINDOW:
        left = max(0, min(column - _WINDOW // 2, len(line) - _WINDOW))
        shown = line[left : left + _WINDOW]
        caret = column - left
        if left > 0:
            shown, caret = "..." + shown, caret + 3
        if left + _WINDOW < len(line):
            shown += "..."
    shown = "".join(c if c.isprintable() else " " for c in shown)  # tabs etc. would move the caret
    return shown, caret, text.count("\n", 0, start) + 1, column + 1


def brief(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut in the middle when long: how a message echoes a value it refuses, so a hostile value
    (a text of a million characters, a list of 100,000 numbers) gives a short line. A long list or tuple is not
    printed whole to be cut: its first items are, and its length.

    >>> brief("x" * 1_000_000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxx'"
    >>> brief([5] * 100_000)
    '[5, 5, 5, 5, 5, 5, 5, 5, 5, 5,... 5, 5] (100000 items)'
    >>> brief([1.5, 2.5])
    '[1.5, 2.5]'
    """
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{_cut(repr(value[:limit]), limit)} ({len(value)} items)"
    return _cut(repr(value), limit)


def shown(text: str, limit: int = 40) -> str:
    """``repr(text)`` of ``text`` cut in the middle when long (a name, a path).

    >>> shown("cosine"), shown("a" * 100)
    ("'cosine'", "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...aaaaaa'")
    """
    return repr(_cut(text, limit))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 10]}...{text[-6:]}"


class ConfigError(ValueError):
    """A schedule config (text or dict) could not be read.

    ``position`` is the 0-based character offset of the problem in text configs
    (``None`` for dict configs); ``text`` is the text that was being parsed.
    The message repeats the offending line with a caret under the position (a long
    line is cut to a window around it; a text of several lines names the line and column).

    >>> err = ConfigError("unknown schedule 'cosin'", text="warmup(5) >> cosin(9)", position=13)
    >>> print(err)
    unknown schedule 'cosin' (at position 13)
      warmup(5) >> cosin(9)
                   ^
    >>> err.one_line()
    "unknown schedule 'cosin' (at position 13 of 'warmup(5) >> cosin(9)')"
    """

    def __init__(self, message: str, *, text: str | None = None, position: int | None = None):
        self.reason = message
        self.text = text
        self.position = position
        if text is not None and position is not None:
            shown, caret, line, column = _excerpt(text, position)
            where = f"at position {position}" + (f", line {line}, column {column}" if "\n" in text else "")
            message = f"{message} ({where})\n  {shown}\n  {' ' * caret}^"
        super().__init__(message)

    def one_line(self) -> str:
        """The reason and where it was found, on one line (what the ``lrkit`` command prints)."""
        if self.text is None or self.position is None:
            return " ".join(self.reason.split("\n"))
        if "\n" not in self.text and len(self.text) <= _WINDOW:
            return f"{self.reason} (at position {self.position} of {self.text!r})"
        shown, _, line, column = _excerpt(self.text, self.position)
        where = f"line {line}, column {column}" if "\n" in self.text else f"position {self.position}"
        return f"{self.reason} (at {where}: {shown.strip()!r})"
