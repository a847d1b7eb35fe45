"""Griffe extension (mkdocs.yml): Sphinx cross-reference roles in docstrings become links.

lrkit's docstrings name other objects the Sphinx way (``:class:`Scheduler```, ``:meth:`step```,
``:func:`lrkit.wsd```, ``:mod:`lrkit.torch```, ``:data:`~lrkit.core.backend.MATH```), which Markdown
would print raw. Each role is resolved where it is written, the way Sphinx does: a full ``lrkit...``
path as is, else the name inside the object's class, its module, each enclosing package, then ``lrkit``
itself; ``~`` shows only the last part. The result is an autorefs cross-reference to that object:
a link where the site renders it, its name as code where it does not (an internal module, a private
method, a builtin such as ``ValueError``). The docstrings stay as they are.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const|type):`(?P<tilde>[~!]?)(?P<target>[^`]+)`")


def _exists(obj: griffe.Object, path: str) -> bool:
    try:
        obj.modules_collection.get_member(path)
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return True


def _scopes(obj: griffe.Object) -> list[str]:
    """The paths a relative name is looked up in, innermost first."""
    out = []
    node: Any = obj
    while node is not None:
        if node.is_class or node.is_module:
            out.append(node.path)
        node = node.parent
    return [*out, "lrkit"]


def resolve(obj: griffe.Object, target: str) -> str | None:
    """The path of the object ``target`` names from ``obj``'s docstring, or None (a builtin, unknown)."""
    target = target.lstrip(".")
    if target.startswith("lrkit"):
        return target if _exists(obj, target) else None
    for scope in _scopes(obj):
        path = f"{scope}.{target}"
        if _exists(obj, path):
            return path
    return None


def link_roles(text: str, obj: griffe.Object) -> str:
    def replace(match: re.Match) -> str:
        target = match.group("target").strip()
        shown = target.rsplit(".", 1)[-1] if match.group("tilde") == "~" else target
        code = f"<code>{html.escape(shown)}</code>"
        path = resolve(obj, target)
        if path is None:
            return code
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Once the whole package is loaded (so every name can be looked up): every docstring in it."""
        self._walk(pkg, set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = link_roles(obj.docstring.value, obj)
        for member in obj.members.values():
            if member.is_alias:  # a re-export can shadow its submodule (lrkit.curves.choose): walk what it names
                try:
                    target = member.final_target
                except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                    continue  # a name from outside the loaded package
                self._walk(target, seen)  # type: ignore[arg-type]
            else:
                self._walk(member, seen)  # type: ignore[arg-type]
