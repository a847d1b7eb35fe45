"""Griffe extension (mkdocs.yml): render the library's bare doctests as code.

lrkit's docstrings are plain text with doctest examples (``>>> s(0)`` followed by the output),
which pytest runs. Markdown would read an output such as ``[1.0, 0.5]`` as a reference link;
this wraps each run of doctest lines (the ``>>>``/``...`` lines and their output, up to a blank
line) in a ```` ```pycon ```` fence, at the same indentation. The docstrings stay as they are.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not stripped.startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)


class RuntimeNames(griffe.Extension):
    """Make two runtime bindings visible to griffe's static analysis (names in ``__all__``):

    * ``one_cycle = OneCycle`` (lrkit.core.recipes): a name bound to a class or function of the same
      module is an alias of it (so ``lrkit.one_cycle`` shows ``OneCycle``'s signature and docstring);
    * ``from lrkit.reactive.controller import Plateau as plateau`` in a package that also has a submodule
      ``plateau``: at runtime the import wins (it runs after the submodule is loaded).
    """

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._fix(pkg)

    def _fix(self, module: griffe.Module) -> None:
        for name, member in list(module.members.items()):
            if member.is_alias:
                continue
            if member.is_module:
                if name in module.imports:
                    module.set_member(name, griffe.Alias(name, module.imports[name], parent=module))
                else:
                    self._fix(member)  # type: ignore[arg-type]
            elif member.is_attribute and member.docstring is None and isinstance(member.value, griffe.ExprName):
                target = module.members.get(str(member.value))
                if target is not None and (target.is_class or target.is_function):
                    module.set_member(name, griffe.Alias(name, target, parent=module))
