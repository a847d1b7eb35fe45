"""Optional dependencies: import them, or say which ``pip install 'lrkit[...]'`` brings them.

:func:`require` imports one module; :func:`require_all` checks several at once (without importing
them) so that a user missing two extras is told about both in one message.

>>> require("json", "yaml").__name__
'json'
>>> import sys
>>> sys.modules["lrkit_no_such_module"] = None  # what "not installed" looks like to the import system
>>> require("lrkit_no_such_module", "plot", purpose="plotting")
Traceback (most recent call last):
...
lrkit.core._extras.MissingExtra: plotting needs lrkit_no_such_module: pip install 'lrkit[plot]'
>>> require_all([("json", "yaml"), ("lrkit_no_such_module", "plot"), ("lrkit_no_such_module", "tasks")])
Traceback (most recent call last):
...
lrkit.core._extras.MissingExtra: this needs lrkit_no_such_module: pip install 'lrkit[plot,tasks]'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from types import ModuleType

__all__ = ["PACKAGES", "MissingExtra", "require", "require_all"]

#: The pip package of a module whose import name differs from it (named in messages).
PACKAGES = {"yaml": "PyYAML", "sklearn": "scikit-learn", "PIL": "Pillow"}


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the ``lrkit[...]`` extra(s) that bring it.

    ``modules`` are the missing import names, ``extras`` the extras to install.
    """

    def __init__(self, modules: Iterable[str], extras: Iterable[str], purpose: str = "this"):
        self.modules = list(dict.fromkeys(modules))
        self.extras = list(dict.fromkeys(extras))
        shown = [PACKAGES.get(m, m) for m in self.modules]
        needs = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        super().__init__(f"{purpose} needs {needs}: pip install 'lrkit[{','.join(self.extras)}]'")
        self.name = self.modules[0] if self.modules else None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or sys.modules[module] is broken
        return False


def require(module: str, extra: str, *, purpose: str = "this") -> ModuleType:
    """Import ``module`` and return it, or raise :class:`MissingExtra` naming ``lrkit[extra]``.

    Only a missing module becomes :class:`MissingExtra`; an installed module that fails to import
    raises its own error (a broken installation is not fixed by installing the extra).
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        if err.name is not None and err.name.split(".")[0] != top:
            raise  # the module is there; something it imports is not
        raise MissingExtra([module], [extra], purpose) from None


def require_all(needs: Iterable[tuple[str, str]], *, purpose: str = "this") -> None:
    """Check ``(module, extra)`` pairs without importing them; raise one :class:`MissingExtra` naming
    every missing module and every extra to install."""
    missing = [(module, extra) for module, extra in needs if not _installed(module)]
    if missing:
        raise MissingExtra([m for m, _ in missing], [e for _, e in missing], purpose)
