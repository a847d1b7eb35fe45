"""bench/curves_scale.py at its smallest size: a long log fits on its means, in bounded memory, close to the truth.

Time and memory are measured (not asserted) by the bench itself: ``python bench/curves_scale.py``.
"""

from __future__ import annotations

from _bench import load_bench


def test_smallest_size_of_the_scale_bench():
    module = load_bench("curves_scale")
    result = module.measure(5000)  # 5,000 rows: fitted on 2,000 means of consecutive points
    assert result["rows"] == 5000
    assert result["error"] < 1e-3  # the fitted law against the noiseless curve (0.3% noise per point)
    assert 0 < result["peak_mib"] < 1024
