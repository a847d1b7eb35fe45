"""A character-level language model: a 2-layer causal transformer on English text shipped with scikit-learn.

The text is the concatenation, in file-name order, of the data-set descriptions that ship inside
scikit-learn (``sklearn/datasets/descr/*.rst``: about 43,000 characters of English prose and
tables, fixed for a given scikit-learn version); nothing is downloaded, and Python's own
standard-library source is *not* used (it is kept for held-out checks). Characters are mapped
to 96 tokens (newline, then printable ASCII 32-126; anything else becomes ``?``). The first 90%
of the text is the training text, the last 10% the test text; ``data(seed)`` rotates the text by
``997 * seed`` characters before the split (another draw).

Inputs are windows of 32 tokens (stored as float32, as every task's inputs; the model casts them
back), targets the same windows shifted by one: a training window starts at every position of the
training text, test windows tile the test text. The model (~48k parameters): token and position
embeddings of width 48, two pre-norm blocks (causal ``scaled_dot_product_attention`` with 4
heads, a GELU feed-forward of width 96, no dropout), a final LayerNorm and a linear read-out.
AdamW (weight decay 1e-2), batch 32, a budget of 500 updates (~6 s a run on one free thread).
The loss is the mean next-character cross-entropy (nats; bits per character = loss / ln 2); the
task's "accuracy" is next-character accuracy on the test windows.

Target accuracy 0.45, from measured runs (seed 0, one_cycle(500)): peak 3e-2 ends at 0.459,
1e-2 at 0.427, 3e-3 at 0.353; the 5-seed grid is in bench/results/auto.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrkit.tasks.base import Task, require_torch

__all__ = ["CharLM", "load_text", "encode"]

#: window length (tokens per example)
CONTEXT = 32
#: vocabulary: newline, then the printable ASCII characters 32..126
VOCAB = 96


def load_text() -> str:
    """The corpus: scikit-learn's data-set descriptions (``sklearn/datasets/descr/*.rst``), sorted by name."""
    try:
        from importlib.resources import files

        folder = files("sklearn.datasets") / "descr"
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".rst"))
    except (ImportError, ModuleNotFoundError, FileNotFoundError):
        raise ImportError(
            "the charlm task reads its text from scikit-learn's sklearn/datasets/descr/*.rst files, which were "
            "not found: pip install 'lrkit[tasks]'"
        ) from None
    if not names:
        raise ImportError("the charlm task found no sklearn/datasets/descr/*.rst files; reinstall scikit-learn")
    return "".join((folder / name).read_text(encoding="utf-8") for name in names)


def encode(text: str) -> np.ndarray:
    """Token ids: ``'\\n'`` -> 0, printable ASCII ``c`` -> ``ord(c) - 31``, anything else -> the id of ``'?'``.

    >>> encode("Hi\\n").tolist()
    [41, 74, 0]
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ids = codes - 31
    ids[(codes < 32) | (codes > 126)] = ord("?") - 31
    ids[codes == 10] = 0
    return ids


def load(seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)`` windows of :data:`CONTEXT` tokens (targets shifted by one)."""
    ids = encode(load_text())
    if seed is not None:
        ids = np.roll(ids, -997 * int(seed))
    cut = round(0.9 * ids.size)
    train, test = ids[:cut], ids[cut:]
    starts = np.arange(train.size - CONTEXT)
    x_train = train[starts[:, None] + np.arange(CONTEXT)]
    y_train = train[starts[:, None] + np.arange(1, CONTEXT + 1)]
    tiles = (test.size - 1) // CONTEXT
    x_test = test[: tiles * CONTEXT].reshape(tiles, CONTEXT)
    y_test = test[1 : tiles * CONTEXT + 1].reshape(tiles, CONTEXT)
    return x_train, y_train, x_test, y_test


class CharLM(Task):
    __doc__ = __doc__
    name = "charlm"
    description = "character-level transformer LM on scikit-learn's bundled docs, 2 layers, 32-char windows"
    batch_size = 32
    budget = 500
    target = 0.45
    weight_decay = 1e-2
    default_lr = 3e-2
    threads = 1
    width = 48

    def _load(self, seed: int | None) -> tuple[Any, Any, Any, Any]:
        return load(seed)

    def _build(self) -> Any:
        return _build_model(self.width)

    @property
    def loss_fn(self) -> Any:
        """Mean next-character cross-entropy over every position of every window."""
        torch = require_torch()

        def loss(logits: Any, targets: Any) -> Any:
            return torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))

        return loss

    def accuracy(self, model: Any, x: Any, y: Any) -> float:
        """Next-character accuracy over every position of the windows ``x`` (eval mode, no grad)."""
        torch = require_torch()
        was_training = model.training
        model.eval()
        with torch.no_grad():
            correct = (model(x).argmax(dim=-1) == y).sum().item()
        model.train(was_training)
        return correct / y.numel()

    def bits_per_char(self, model: Any) -> float:
        """Test cross-entropy in bits per character."""
        torch = require_torch()
        x, y = self.data()[2:]
        with torch.no_grad():
            return float(self.loss_fn(model(x), y)) / math.log(2.0)


def _build_model(width: int, layers: int = 2, heads: int = 4) -> Any:
    torch = require_torch()
    nn: Any = torch.nn
    attend = torch.nn.functional.scaled_dot_product_attention

    class Block(nn.Module):
        """Pre-norm causal self-attention and a GELU feed-forward of twice the width, both residual."""

        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
            self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
            self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

        def forward(self, h: Any) -> Any:
            b, t, d = h.shape
            q, k, v = self.qkv(self.norm1(h)).view(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            h = h + self.proj(attend(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d))
            return h + self.ff(self.norm2(h))

    class TinyTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(VOCAB, width)
            self.positions = nn.Parameter(torch.randn(CONTEXT, width) * 0.02)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, VOCAB)

        def forward(self, x: Any) -> Any:
            h = self.tokens(x.long()) + self.positions[: x.shape[1]]
            return self.head(self.norm(self.blocks(h)))

    return TinyTransformer()
