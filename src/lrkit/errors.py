"""Exceptions raised by lrkit."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A schedule config (text or dict) could not be read.

    ``position`` is the 0-based character offset of the problem in text configs
    (``None`` for dict configs); ``text`` is the text that was being parsed.
    The message repeats the offending text with a caret under the position.
    """

    def __init__(self, message: str, *, text: str | None = None, position: int | None = None):
        self.reason = message
        self.text = text
        self.position = position
        if text is not None and position is not None:
            message = f"{message} (at position {position})\n  {text}\n  {' ' * position}^"
        super().__init__(message)
