"""MkDocs hooks for the lrkit site (mkdocs.yml ``hooks:``); no plugin beyond MkDocs itself.

The site is built from ``docs/`` plus files that live elsewhere in the repository so that they
read well on GitHub too:

* ``README.md`` is the home page (``index.md``) and ``BENCHMARKS.md`` the benchmarks page;
* files those pages (or a guide) link to outside ``docs/`` (``bench/results/*.md``, their PNGs)
  are added as pages/assets under their repository path, not in the navigation;
* links are rewritten from repository paths (``docs/torch.md``, ``../bench/results/finder.md``)
  to site paths, so the same Markdown is correct on GitHub and on the site;
* a guide added to ``docs/`` without a nav entry (e.g. ``docs/long-runs.md``) is appended to
  "Guides" instead of failing the strict build.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

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


def on_config(config):
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


def on_page_markdown(markdown: str, page, config, files) -> str:
    site_src = page.file.src_uri
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
