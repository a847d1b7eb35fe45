"""MkDocs hooks for the lrkit site (mkdocs.yml ``hooks:``); no plugin beyond MkDocs itself.

The site is built from ``docs/`` plus files that live elsewhere in the repository so that they
read well on GitHub too:

* ``README.md`` is the home page (``index.md``) and ``BENCHMARKS.md`` the benchmarks page;
* files those pages (or a guide) link to outside ``docs/`` (``bench/results/*.md``, their PNGs)
  are added as pages/assets under their repository path, not in the navigation;
* links are rewritten from repository paths (``docs/torch.md``, ``../bench/results/finder.md``)
  to site paths, so the same Markdown is correct on GitHub and on the site;
* a guide added to ``docs/`` without a nav entry (e.g. ``docs/long-runs.md``) is appended to
  "Guides" instead of failing the strict build;
* the API reference: its pages are listed once, in ``mkdocs.yml``'s nav ("API reference",
  ``- MODULE: api/FILE.md``); a listed page that is not in ``docs/api/`` is written here (the module's
  docstring and public names), ``api/index.md``'s table of modules is made from that list, and the
  build fails naming every public module of ``src/lrkit`` without a page (:func:`undocumented`).
"""

from __future__ import annotations

import ast
import posixpath
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, InclusionLevel

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: repository path -> site path, for the pages that live outside docs/
RENAMED = {"README.md": "index.md", "BENCHMARKS.md": "benchmarks.md"}
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_SKIP = ("http://", "https://", "mailto:", "#", "/")


def _site_path(repo_path: str) -> str:
    if repo_path in RENAMED:
        return RENAMED[repo_path]
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    return repo_path


def _repo_path(site_path: str) -> str:
    for repo, site in RENAMED.items():
        if site == site_path:
            return repo
    return site_path if (ROOT / site_path).exists() and not (DOCS / site_path).exists() else "docs/" + site_path


def _targets(repo_md: str) -> list[str]:
    """Repository paths of the relative links and images in a Markdown file."""
    text = (ROOT / repo_md).read_text(encoding="utf-8")
    out = []
    for _, target, _ in _LINK.findall(text):
        if target.startswith(_SKIP):
            continue
        path = target.split("#", 1)[0]
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_md), path))
        if not resolved.startswith("..") and (ROOT / resolved).is_file():
            out.append(resolved)
    return out


# -- the API reference -----------------------------------------------------------------------------------
API_SECTION = "API reference"
#: Modules without a page of their own, and why. Every other module of src/lrkit whose dotted name has no
#: part starting with "_" needs a page, unless a documented module imports from it at its top level (an
#: implementation module: its public names are rendered on that module's page, e.g. lrkit.torch.scheduler).
NOT_REFERENCE = {
    "lrkit.core": "the core layer: its public names are lrkit's (the lrkit page)",
    "lrkit.cli": "the command line: `lrkit --help`, README.md",
    "lrkit.curves.cli": "the `lrkit curve` commands: `lrkit curve --help`, docs/curves.md",
    "lrkit.tasks": "the built-in training tasks of `lrkit demo` and the benchmarks",
}
_DIRECTIVE = re.compile(r"^:::\s+(\S+)", re.M)


def api_pages(nav) -> dict[str, str]:
    """``{module: page}`` of the nav's API reference section (``- lrkit.curves: api/lrkit.curves.md``)."""
    for section in nav:
        if isinstance(section, dict) and API_SECTION in section:
            return {
                name: page
                for item in section[API_SECTION]
                if isinstance(item, dict)
                for name, page in item.items()
                if isinstance(page, str)
            }
    raise PluginError(f"mkdocs.yml: the nav has no {API_SECTION!r} section")


def _module_file(name: str) -> Path | None:
    base = ROOT / "src" / Path(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def public_modules() -> list[str]:
    """Every module of src/lrkit whose dotted name has no part starting with "_"."""
    out = []
    for path in sorted((ROOT / "src" / "lrkit").rglob("*.py")):
        parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            out.append(".".join(parts))
    return out


def _imported_from(name: str) -> set[str]:
    """The lrkit modules the module ``name`` imports from at its top level (not inside functions)."""
    path = _module_file(name)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lrkit") and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from lrkit.reactive import horizon`
    return out


def page_source(name: str) -> str:
    """The Markdown of a generated reference page: the module's docstring and its public names."""
    return f"# `{name}`\n\n::: {name}\n    options:\n      show_root_heading: false\n"


def documented_modules(pages: dict[str, str]) -> set[str]:
    """The modules rendered by the reference pages: each ``::: MODULE`` of a page in docs/, or its nav name."""
    out = set()
    for name, page in pages.items():
        path = DOCS / page
        text = path.read_text(encoding="utf-8") if path.is_file() else page_source(name)
        out.update(_DIRECTIVE.findall(text))
    return out


def undocumented(pages: dict[str, str], modules: list[str] | None = None) -> list[str]:
    """The public modules (``modules``, default :func:`public_modules`) that no reference page covers."""
    documented = documented_modules(pages)
    covered = set(documented)
    for name in documented:
        covered |= _imported_from(name)
    missing = []
    for name in public_modules() if modules is None else modules:
        if name in covered or any(name == n or name.startswith(n + ".") for n in NOT_REFERENCE):
            continue
        missing.append(name)
    return missing


def _first_line(name: str) -> str:
    import importlib
    import sys

    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))  # this checkout's lrkit, whichever one is installed
    try:
        doc = importlib.import_module(name).__doc__ or ""
    except Exception:  # a module that cannot be imported here (keras without a backend): read its source
        path = _module_file(name)
        doc = (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) if path else None) or ""
    first = " ".join(doc.strip().split("\n\n")[0].split()) or "&nbsp;"
    # a role's bare name is the module's own (:class:`Scheduler` in lrkit.torch): linked by _link_roles
    return re.sub(r"(:[a-z]+:`~?)(?!lrkit)(\w)", rf"\g<1>{name}.\g<2>", first)


_API: dict[str, str] = {}


def on_config(config):
    _API.clear()
    _API.update(api_pages(config["nav"]))
    for name, page in _API.items():
        if not page.startswith("api/") or not page.endswith(".md"):
            raise PluginError(f"mkdocs.yml: the reference page of {name} must be api/NAME.md, got {page!r}")
    missing = undocumented(_API)
    if missing:
        lines = "\n".join(f"      - {name}: api/{name}.md" for name in missing)
        raise PluginError(
            f"public modules without an API reference page: {', '.join(missing)}. Add one line each under "
            f"{API_SECTION!r} in mkdocs.yml's nav (the page is generated from the docstrings):\n{lines}\n"
            "(or, for a module that is not API, a line in NOT_REFERENCE in docs/_hooks.py saying why)"
        )
    listed = set()

    def walk(items):
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                walk(value)
            else:
                listed.add(value)

    walk(config["nav"])
    extra = sorted(p.name for p in DOCS.glob("*.md") if p.name not in listed and p.name not in RENAMED.values())
    for section in config["nav"]:
        if isinstance(section, dict) and "Guides" in section:
            for name in extra:
                title = name[: -len(".md")].replace("-", " ").replace("_", " ").capitalize()
                section["Guides"].append({title: name})
    return config


def on_files(files: Files, config) -> Files:
    for name, page in _API.items():
        if files.get_file_from_path(page) is None:
            files.append(File.generated(config, page, content=page_source(name)))
    for repo, site in RENAMED.items():
        files.append(File.generated(config, site, abs_src_path=str(ROOT / repo)))
    seen: set[str] = set()
    todo = list(RENAMED) + [f"docs/{p.name}" for p in DOCS.glob("*.md")]
    while todo:
        for target in _targets(todo.pop()):
            if target.startswith("docs/") or target in RENAMED or target in seen:
                continue
            seen.add(target)
            files.append(
                File.generated(config, target, abs_src_path=str(ROOT / target), inclusion=InclusionLevel.NOT_IN_NAV)
            )
            if target.endswith(".md"):
                todo.append(target)
    return files


def _module_table(site_src: str) -> str:
    rows = ["| module | what it holds |", "|---|---|"]
    for name, page in _API.items():
        link = posixpath.relpath(page, posixpath.dirname(site_src) or ".")
        summary = _first_line(name).replace("|", "\\|")
        rows.append(f"| [`{name}`]({link}) | {summary} |")
    return "\n".join(rows)


_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj):`([~!]?)([^`]+)`")


def _link_roles(markdown: str) -> str:
    """Sphinx roles written in a page (or copied into one from a docstring, as the gallery does) as autorefs:
    a link where the site renders the object (``lrkit.NAME`` for a bare name), else the name as code.
    Docstrings rendered by mkdocstrings get theirs resolved in context (docs/_griffe_roles.py)."""

    def replace(match: re.Match) -> str:
        tilde, target = match.group(1), match.group(2).strip().lstrip(".")
        shown = target.rsplit(".", 1)[-1] if tilde == "~" else target
        identifier = target if target.startswith("lrkit") else f"lrkit.{target}"
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    return _ROLE.sub(replace, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:
    site_src = page.file.src_uri
    if "<!-- api-modules -->" in markdown:
        markdown = markdown.replace("<!-- api-modules -->", _module_table(site_src))
    markdown = _link_roles(markdown)
    repo_src = _repo_path(site_src)

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if target.startswith(_SKIP):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_src), path))
        if resolved.startswith("..") or not (ROOT / resolved).is_file():
            return match.group(0)  # left for MkDocs to report
        new = posixpath.relpath(_site_path(resolved), posixpath.dirname(site_src) or ".")
        return f"{match.group(1)}{new}{'#' + anchor if anchor else ''}{match.group(3)}"

    return _LINK.sub(fix, markdown)
