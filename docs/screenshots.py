"""The built site in a real headless browser: screenshots, and the search box working from disk.

    scripts/docs && .venv/bin/python docs/screenshots.py            # -> docs/img/screenshot-*.png
    .venv/bin/python docs/screenshots.py --site DIR --out DIR         # another build, another folder

The site is opened from disk (``file://``), as the README says. Shots: the home page, an API
reference page (``lrkit.torch``: ``Scheduler`` with ``state_dict``/``load_state_dict``) and the
search results for ``cosine`` (``index.html?q=cosine`` opens the search with that query). Each PNG
is checked to be non-empty and not a blank page (the standard deviation of its grey levels), and
the search must list results (the page's DOM after its scripts ran, ``--dump-dom``). Needs
``chromium`` (Debian: ``apt-get install chromium``; ``scripts/setup`` installs it where apt is
there) and matplotlib (to read the PNGs). Exit status 1 on a failed check.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = "cosine"
#: screenshot name -> page of the site (with a query string where the page needs one)
PAGES = {
    "home": "index.html",
    "api": "api/torch.html",
    "search": f"index.html?q={QUERY}",
}
BROWSER = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    """The headless browser's command, or None when none is installed."""
    return next((found for name in BROWSER if (found := shutil.which(name))), None)


def _run(args: list[str]) -> subprocess.CompletedProcess:
    command = browser()
    if command is None:
        raise RuntimeError("no chromium installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [command, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", *args],
            check=True, capture_output=True, timeout=120,
        )


def _url(site: Path, page: str) -> str:
    file, _, query = page.partition("?")
    url = (site / file).resolve().as_uri()
    return f"{url}?{query}" if query else url


def shoot(site: Path, page: str, path: Path, size: str = "1280,900") -> None:
    _run([f"--window-size={size}", f"--screenshot={path}", _url(site, page)])


def rendered(site: Path, page: str) -> str:
    """The page's DOM after its scripts ran (the search runs in a Web Worker, shimmed for file://)."""
    return _run(["--dump-dom", _url(site, page)]).stdout.decode("utf-8", "replace")


def search_results(site: Path, query: str = QUERY) -> list[str]:
    """The titles the site's own search box lists for ``query``, opened from disk."""
    dom = rendered(site, f"index.html?q={query}")
    items = re.findall(r'<li class="md-search-result__item">(.*?)</li>', dom, re.S)
    return [re.sub(r"<[^>]+>", "", re.search(r"<h1>(.*?)</h1>", item, re.S).group(1)).strip()
            for item in items if "<h1>" in item]


def check(path: Path) -> str | None:
    """None if the PNG looks like a rendered page, else what is wrong."""
    import matplotlib.image

    if not path.is_file() or path.stat().st_size < 10_000:
        return f"{path}: missing or tiny ({path.stat().st_size if path.is_file() else 0} bytes)"
    pixels = matplotlib.image.imread(path)
    grey = pixels[..., :3].mean(axis=-1)
    if grey.std() < 0.05:
        return f"{path}: a blank page (grey-level std {grey.std():.3f})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site", help="the built site (scripts/docs)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    args = parser.parse_args(argv)
    if browser() is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    if not (args.site / "index.html").is_file():
        print(f"no site in {args.site}: run scripts/docs first", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, page in PAGES.items():
        path = args.out / f"screenshot-{name}.png"
        shoot(args.site, page, path)
        problem = check(path)
        print(problem or f"{path}: ok ({path.stat().st_size} bytes) <- {page}")
        problems += [problem] if problem else []
    found = search_results(args.site)
    print(f"search {QUERY!r}: {len(found)} results, first {found[:3]}")
    if not found:
        problems.append(f"the search for {QUERY!r} listed nothing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
