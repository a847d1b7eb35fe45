"""The data the Lightning and HF Trainer tests train on: dict samples with an attention mask, and the tokens each
optimizer update consumes (micro-batches summed)."""

from __future__ import annotations

import torch

BATCH = 2
SAMPLES = 16  # 8 micro-batches per epoch


def rows(n: int = SAMPLES, seed: int = 0, noisy: bool = False) -> list[dict[str, torch.Tensor]]:
    """Dict samples: 4 features, a 6-token attention mask with 1..6 real tokens, a label."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    lengths = torch.randint(1, 7, (n,), generator=g)
    mask = (torch.arange(6)[None, :] < lengths[:, None]).long()
    y = torch.randn(n, 1, generator=g) * 10 if noisy else x.sum(1, keepdim=True)
    return [{"x": x[i], "attention_mask": mask[i], "labels": y[i]} for i in range(n)]


def tokens_per_update(acc: int) -> list[int]:
    """The real tokens each optimizer update of one epoch consumes, at ``acc`` micro-batches per update."""
    per_batch = [int(sum(r["attention_mask"].sum() for r in rows()[i : i + BATCH])) for i in range(0, SAMPLES, BATCH)]
    return [sum(per_batch[i : i + acc]) for i in range(0, len(per_batch), acc)]
