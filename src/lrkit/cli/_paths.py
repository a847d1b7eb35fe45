"""Checks of the paths a command writes, made before any work is done (shared by the CLIs)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "image_path"]

#: The image files a command can write (matplotlib picks the format from the suffix).
IMAGE_SUFFIXES = (".png", ".svg")


def image_path(path: str, option: str, error: type[Exception] = ValueError) -> Path:
    """``path`` checked as the image that ``option`` names: a ``.png``/``.svg`` name in an existing folder.

    Raises ``error`` (the calling CLI's usage error: exit status 2, one line) naming ``option``.

    >>> image_path("plot.svg", "-o/--out")
    PosixPath('plot.svg')
    >>> image_path("plot.pdf", "--plot")
    Traceback (most recent call last):
    ...
    ValueError: --plot: the file name must end in .png or .svg, got 'plot.pdf'
    """
    out = Path(path)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise error(f"{option}: the file name must end in .png or .svg, got {path!r}")
    if not out.parent.is_dir():
        raise error(f"{option}: folder {str(out.parent)!r} does not exist (create it or pick another path)")
    return out
