"""Screenshots of three pages of the built site with real headless Chromium (run by hand).

    scripts/docs && .venv/bin/python docs/screenshots.py            # -> docs/img/screenshot-*.png
    .venv/bin/python docs/screenshots.py --site DIR --out DIR         # another build, another folder

Pages: the home page, a gallery entry (``schedules.html#cosine``) and an API entry
(``api/lrkit.html#lrkit.cosine``). Each PNG is checked to be non-empty and not a blank page
(the standard deviation of its grey levels). Needs ``chromium`` (Debian: ``apt-get install
chromium``) and matplotlib (to read the PNGs). Exit status 1 on a failed check.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = {
    "home": "index.html",
    "gallery": "schedules.html#cosine",
    "api": "api/lrkit.html#lrkit.cosine",
}


def shoot(url: str, path: Path, size: str = "1280,900") -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={size}", "--virtual-time-budget=8000",
             f"--screenshot={path}", url],
            check=True, capture_output=True, timeout=120,
        )


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
    if shutil.which("chromium") is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    if not (args.site / "index.html").is_file():
        print(f"no site in {args.site}: run scripts/docs first", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, page in PAGES.items():
        path = args.out / f"screenshot-{name}.png"
        file, _, anchor = page.partition("#")
        target = args.site / file
        if anchor:  # headless Chromium shoots a blank page for a file:// URL with a #fragment, so
            # a copy next to the page (same relative assets) shows the entry at the top
            target = target.with_name(f"_screenshot-{name}.html")
            html = (args.site / file).read_text(encoding="utf-8")
            # (scrolling there also shoots blank): drop what precedes the entry in the article
            scroll = (
                f"<script>(function(){{var n=document.getElementById({anchor!r});"
                "while(n&&n.tagName!=='ARTICLE'){while(n.previousElementSibling)"
                "n.parentNode.removeChild(n.previousElementSibling);n=n.parentNode;}})()</script></body>"
            )
            target.write_text(html.replace("</body>", scroll, 1), encoding="utf-8")
        url = target.resolve().as_uri()
        try:
            shoot(url, path)
        finally:
            if anchor:
                target.unlink()
        problem = check(path)
        print(problem or f"{path}: ok ({path.stat().st_size} bytes) <- {args.site / page}")
        problems += [problem] if problem else []
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
