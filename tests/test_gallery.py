"""docs/schedules.md is generated from the registry and is current: every registered name is shown."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import lrkit
from lrkit.core.registry import lookup
from lrkit.core.schedule import Schedule

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def gallery():
    spec = importlib.util.spec_from_file_location("lrkit_docs_gallery", DOCS / "gallery.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def names(gallery):
    return gallery.registered()


def test_every_registered_name_has_an_example(gallery, names):
    lrkit_own = {
        n
        for n in lrkit.known_names()
        if lookup(n).__module__.startswith(("lrkit.core.families", "lrkit.core.combinators", "lrkit.core.recipes"))
    }
    assert lrkit_own <= set(names) and "cosine" in names and "join" in names and "one_cycle" in names
    assert not [n for n in names if lookup(n).__module__.startswith("lrkit.compat")]
    assert gallery.missing(names) == [], "add an entry to EXAMPLES in docs/gallery.py"
    assert set(gallery.EXAMPLES) <= set(names), "EXAMPLES has names the registry does not know"


def test_the_committed_page_is_current(gallery, names):
    page = (DOCS / "schedules.md").read_text()
    assert page == gallery.render_markdown(names), "docs/schedules.md is stale: run python docs/gallery.py"
    for name in names:
        assert f"\n### {name}\n" in page and f"(img/gallery-{name}.png)" in page


def _nodes(schedule):
    yield schedule
    for _, value in schedule._params:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, Schedule):
                yield from _nodes(item)


def test_each_example_parses_and_shows_its_family(gallery, names):
    for name in names:
        example = gallery.EXAMPLES[name]
        schedule = lrkit.from_config(example.text)
        assert lrkit.from_config(repr(schedule)) == schedule
        constructor = lookup(name)
        if isinstance(constructor, type):  # a class: the example must contain a node of it
            assert any(isinstance(node, constructor) for node in _nodes(schedule)), (name, example.text)
        else:  # a recipe function: the example is a call of it
            assert example.text.startswith(f"{name}(") and schedule == lrkit.from_config(example.text)


def test_every_plot_shows_the_schedule_as_it_is_now(gallery, names):
    from PIL import Image

    stale = [n for n in names if Image.open(DOCS / "img" / f"gallery-{n}.png").text.get("lrkit-fingerprint")
             != gallery.fingerprint(n)]
    assert not stale, f"stale gallery images (the schedules' values changed): {stale}; run python docs/gallery.py"


def test_every_plot_is_a_valid_png(names):
    image = pytest.importorskip("matplotlib.image")
    for name in names:
        path = DOCS / "img" / f"gallery-{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        assert image.imread(path).shape[:2] == (216, 384), path
    assert image.imread(DOCS / "img" / "readme.png").shape[:2] == (450, 800)


def test_the_script_refuses_to_run_with_a_name_missing(gallery, monkeypatch, names):
    monkeypatch.delitem(gallery.EXAMPLES, "cosine")
    assert gallery.missing(names) == ["cosine"]
    assert gallery.main() == 1  # stops before writing anything
