"""lrkit.BatchRamp across ranks: every rank the same number of batches, never an empty one."""

from __future__ import annotations

import pytest
import torch

import lrkit as lk


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", [2, 3, 4, 8])
def test_no_rank_ever_gets_an_empty_batch(world: int, drop_last: bool) -> None:
    """On main, 4 ranks got [2, 1, 0, 0] from a short last batch: DataLoader raised, DDP hung."""
    ramp = lk.BatchRamp(lk.piecewise_constant([20], [2, 5]))  # starts below 4 and 8 ranks, ends short
    per_rank = [list(ramp.batches(range(23), rank=r, world=world, drop_last=drop_last)) for r in range(world)]
    assert len({len(batches) for batches in per_rank}) == 1
    assert all(batch for batches in per_rank for batch in batches)
    fed = sorted(i for batches in per_rank for batch in batches for i in batch)
    if drop_last:
        assert len(set(fed)) == len(fed) and set(fed) <= set(range(23))
    else:
        assert set(fed) == set(range(23))  # every sample fed; padding repeats samples from the start


def test_a_dataloader_on_every_rank_runs_to_the_end() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(23.0))
    ramp = lk.BatchRamp(lk.piecewise_constant([20], [2, 5]))
    for rank in range(4):
        loader = torch.utils.data.DataLoader(data, batch_sampler=list(ramp.batches(range(23), rank=rank, world=4)))
        assert [len(x) for (x,) in loader] == [1] * 6  # 5 global batches of 4 (2 raised to 4 ranks), a padded 3


def test_one_rank_keeps_the_short_last_batch_unless_dropped() -> None:
    ramp = lk.BatchRamp(lk.constant(8.0))
    assert [len(b) for b in ramp.batches(range(20))] == [8, 8, 4]
    assert [len(b) for b in ramp.batches(range(20), drop_last=True)] == [8, 8]
    with pytest.raises(ValueError, match="drop_last must be True or False"):
        list(ramp.batches(range(20), drop_last="yes"))  # type: ignore[arg-type]
