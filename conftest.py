"""Shared test setup: every registered schedule name is available to doctests."""

import pytest

import lrkit
from lrkit.schedule import REGISTRY


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update(REGISTRY)
    doctest_namespace.update({name: getattr(lrkit, name) for name in lrkit.__all__})
    doctest_namespace["lk"] = lrkit
