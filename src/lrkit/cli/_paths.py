"""Checks of the paths a command writes, made before any work is done (shared by the CLIs)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lrkit.core.errors import shown

__all__ = ["IMAGE_SUFFIXES", "image_path", "writing"]

#: The image files a command can write (matplotlib picks the format from the suffix).
IMAGE_SUFFIXES = (".png", ".svg")
#: The characters the temporary file written beside the image adds to its name (:func:`lrkit.core._io.atomic_write`:
#: ``.NAME.XXXXXXXX.tmp``).
_TEMPORARY = len("..XXXXXXXX.tmp")


def _is(path: Path, test: str) -> bool:
    try:
        return bool(getattr(path, test)())
    except (OSError, ValueError):  # a name too long for the file system, an embedded NUL
        return False


def image_path(path: str, option: str, error: type[Exception] = ValueError) -> Path:
    """``path`` checked as the image that ``option`` names: a ``.png``/``.svg`` name in an existing folder, where
    a file can be created (a temporary file is, and removed).

    Raises ``error`` (the calling CLI's usage error: exit status 2, one line) naming ``option``, the path given
    and what is wrong with it.

    >>> image_path("plot.svg", "-o/--out")
    PosixPath('plot.svg')
    >>> image_path("plot.pdf", "--plot")
    Traceback (most recent call last):
    ...
    ValueError: --plot: the file name must end in .png or .svg, got 'plot.pdf'
    """
    out = Path(path)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise error(f"{option}: the file name must end in .png or .svg, got {shown(path, 200)}")
    folder = out.parent
    if not _is(folder, "is_dir"):
        if _is(folder, "exists"):
            raise error(f"{option}: {shown(str(folder), 200)} is a file, not a folder (pick another path)")
        raise error(f"{option}: folder {shown(str(folder), 200)} does not exist (create it or pick another path)")
    if _is(out, "is_dir"):
        raise error(f"{option}: {shown(path, 200)} is a folder; give the image's file name, e.g. {out.name}/plot.png")
    try:  # as the image will be written: a temporary file beside it, renamed onto it
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise error(f"{option}: cannot write {shown(path, 200)}: {_cause(err, out)}") from None
    os.close(fd)
    os.unlink(probe)
    return out


@contextlib.contextmanager
def writing(out: Path, option: str, error: type[Exception] = ValueError) -> Iterator[None]:
    """Write the image ``out`` inside the block: an ``OSError`` (a full disk, a folder removed meanwhile) becomes
    ``error`` naming ``option`` and ``out``, not the temporary file beside it."""
    try:
        yield
    except OSError as err:
        raise error(f"{option}: cannot write {shown(str(out), 200)}: {_cause(err, out)}") from None


def _cause(err: OSError, out: Path) -> str:
    if err.errno == errno.ENAMETOOLONG:
        try:
            most = os.pathconf(out.parent, "PC_NAME_MAX") - _TEMPORARY
        except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no such setting
            return f"the file name is too long for the file system ({len(out.name)} characters)"
        return f"the file name is too long ({len(out.name)} characters; at most {most} in this folder)"
    if err.errno == errno.ENOENT:  # the folder exists, yet takes no new file (/proc)
        return f"no file can be created in folder {shown(str(out.parent), 200)} ({err.strerror})"
    return err.strerror or str(err)
