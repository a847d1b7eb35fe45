"""Shared test setup: every registered schedule name is available to doctests; Hypothesis profiles.

CI (``CI`` set, as ``.ci/run`` runs) uses the ``ci`` profile: derandomized (a fixed seed per
test), no example database, so a run is reproducible and never depends on what an earlier run
found. Locally the ``dev`` profile explores randomly; ``HYPOTHESIS_PROFILE=ci`` reproduces CI.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras's own default (tensorflow) is not an lrkit dependency

import pytest
from hypothesis import settings

import lrkit
from lrkit.core.registry import lookup, names

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace):
    doctest_namespace.update({name: lookup(name) for name in names()})
    doctest_namespace.update({name: getattr(lrkit, name) for name in lrkit.__all__})
    doctest_namespace["lk"] = lrkit


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects
def pytest_collection_modifyitems(items):
    """Every test of a file named ``test_bench*.py`` or ``*_bench.py`` runs a benchmark script: it is ``bench``."""
    for item in items:
        name = item.path.name
        if name.startswith("test_bench") or name.endswith("_bench.py"):
            item.add_marker(pytest.mark.bench)
