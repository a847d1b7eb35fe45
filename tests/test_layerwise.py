"""Layer-wise LR decay groups (lrkit.torch.layerwise) on a real torch.nn.TransformerEncoder, a timm-like
ViT (built here: timm's package __init__ is not imported), and a Hugging Face-style encoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lrkit as lk
from lrkit.torch import Scheduler
from lrkit.torch.layerwise import depths, find_blocks, param_groups


class TextModel(nn.Module):
    """Embeddings, a real nn.TransformerEncoder of 4 layers (with a final norm), a head."""

    def __init__(self, layers: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.pos = nn.Parameter(torch.zeros(1, 8, 16))
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(16), enable_nested_tensor=False)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x) + self.pos).mean(1))


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 4, 4)


class TinyViT(nn.Module):
    """timm's VisionTransformer layout: cls_token, pos_embed, patch_embed.proj, blocks.N, norm, head."""

    def __init__(self, dim: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, dim))
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class HFStyle(nn.Module):
    """Hugging Face BERT's names: embeddings.*, encoder.layer.N.*, pooler.dense; the head defined first."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Linear(8, 2)  # registered before the blocks, but a head by name
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(20, 8)
        self.embeddings.LayerNorm = nn.LayerNorm(8)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([nn.Linear(8, 8) for _ in range(5)])
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(8, 8)


def test_transformer_encoder_depths() -> None:
    model = TextModel()
    assert find_blocks(model) == "encoder.layers"
    table, count = depths(model)
    assert count == 4
    assert table["embed.weight"] == 0 and table["pos"] == 0
    for i in range(4):
        assert {d for n, d in table.items() if n.startswith(f"encoder.layers.{i}.")} == {i + 1}
    assert table["encoder.norm.weight"] == 5 and table["head.weight"] == 5 and table["head.bias"] == 5


def test_one_shared_schedule_drives_every_group_with_its_multiplier() -> None:
    torch.manual_seed(0)
    model = TextModel()
    groups = param_groups(model, lr=1e-3, decay=0.75)
    assert [g["layer"] for g in groups] == [0, 1, 2, 3, 4, 5]
    assert [g["layer_scale"] for g in groups] == [0.75 ** (5 - d) for d in range(6)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    opt = torch.optim.AdamW(groups)
    schedule = lk.warmup(5) >> lk.cosine(20)
    sched = Scheduler(opt, schedule)
    x = torch.randint(0, 50, (4, 8))
    for t in range(1, 12):
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        for g in opt.param_groups:
            assert g["lr"] == pytest.approx(1e-3 * 0.75 ** (5 - g["layer"]) * schedule(t), rel=1e-15)
    # the ratios hold at every step: layer-wise decay composes with any schedule
    lrs = [g["lr"] for g in opt.param_groups]
    assert [a / lrs[-1] for a in lrs] == pytest.approx([0.75 ** (5 - d) for d in range(6)])


def test_without_lr_the_scales_go_to_the_scheduler() -> None:
    model = TextModel(layers=2)
    groups = param_groups(model, decay=0.5)
    assert all("lr" not in g for g in groups)
    opt = torch.optim.SGD(groups, lr=0.1)
    sched = Scheduler(opt, lk.constant(1.0), lr_scale=[g["lr_scale"] for g in groups])
    assert [g["lr"] for g in opt.param_groups] == [0.1 * 0.5**3, 0.1 * 0.5**2, 0.1 * 0.5, 0.1]
    assert sched.value_at(3) == [0.1 * 0.5**3, 0.1 * 0.5**2, 0.1 * 0.5, 0.1]


def test_a_groups_own_lr_scale_is_read_as_timm_reads_it() -> None:
    """Without lr=, the groups carry lr_scale: a Scheduler given no lr_scale= ignored it (no decay, silently)."""
    model = TextModel(layers=2)
    opt = torch.optim.SGD(param_groups(model, decay=0.5), lr=0.1)
    sched = Scheduler(opt, lk.cosine(10))
    assert [g["lr"] for g in opt.param_groups] == [0.1 * 0.5**3, 0.1 * 0.5**2, 0.1 * 0.5, 0.1]
    assert sched.value_at(5) == [0.1 * 0.5 ** (3 - d) * lk.cosine(10)(5) for d in range(4)]
    opt.param_groups[0]["lr_scale"] = float("nan")
    with pytest.raises(ValueError, match="lr_scale must hold finite numbers"):
        Scheduler(opt, lk.cosine(10))


def test_timm_like_vit_with_weight_decay_split() -> None:
    model = TinyViT(depth=3)
    assert find_blocks(model) == "blocks"
    table, count = depths(model)
    assert count == 3
    assert table["cls_token"] == table["pos_embed"] == table["patch_embed.proj.weight"] == 0
    assert table["blocks.0.attn.in_proj_weight"] == 1 and table["blocks.2.mlp.2.bias"] == 3
    assert table["norm.weight"] == table["head.weight"] == 4
    groups = param_groups(model, lr=1.0, decay=0.65, weight_decay=0.05)
    by = {(g["layer"], g["weight_decay"]): g for g in groups}
    names = {id(p): n for n, p in model.named_parameters()}
    stem_no_decay = {names[id(p)] for p in by[(0, 0.0)]["params"]}
    assert stem_no_decay == {"cls_token", "pos_embed", "patch_embed.proj.bias"}  # no_weight_decay() + 1-d
    assert {names[id(p)] for p in by[(0, 0.05)]["params"]} == {"patch_embed.proj.weight"}
    assert all(p.ndim <= 1 for g in groups if g["weight_decay"] == 0.0 for p in g["params"] if names[id(p)] not in
               {"cls_token", "pos_embed"})
    assert by[(4, 0.05)]["lr"] == 1.0 and by[(0, 0.05)]["lr"] == pytest.approx(0.65**4)
    # a scheduled weight decay leaves the no-decay groups at zero
    opt = torch.optim.AdamW(groups)
    sched = Scheduler(opt, lk.cosine(10), hyper={"weight_decay": lk.linear(10)}, relative=("lr", "weight_decay"))
    opt.step()
    sched.step()
    assert all(g["weight_decay"] == 0.0 for g in opt.param_groups if g["params"][0].ndim <= 1 and g["layer"] > 0)
    model(torch.randn(2, 3, 8, 8)).sum().backward()  # the module is a working ViT


def test_hf_style_names_and_a_head_registered_first() -> None:
    model = HFStyle()
    assert find_blocks(model) == "encoder.layer"
    table, count = depths(model)
    assert count == 5
    assert table["classifier.weight"] == 6 and table["pooler.dense.weight"] == 6
    assert table["embeddings.word_embeddings.weight"] == 0 and table["embeddings.LayerNorm.weight"] == 0
    assert table["encoder.layer.3.weight"] == 4


def test_frozen_parameters_are_left_out_and_overrides() -> None:
    model = TextModel(layers=2)
    model.embed.weight.requires_grad_(False)
    groups = param_groups(model, lr=1.0)
    kept = {id(p) for g in groups for p in g["params"]}
    assert id(model.embed.weight) not in kept
    table, _ = depths(model, blocks="encoder.layers", depth_of=lambda n: 3 if n == "pos" else None)
    assert table["pos"] == 3
    assert [g["layer_scale"] for g in param_groups(model, lr=1.0, decay=1.0)] == [1.0, 1.0, 1.0, 1.0]


def test_bad_input() -> None:
    model = TextModel(layers=2)
    with pytest.raises(ValueError, match="decay"):
        param_groups(model, lr=1.0, decay=0)
    with pytest.raises(ValueError, match="decay"):
        param_groups(model, lr=1.0, decay=1.5)
    with pytest.raises(ValueError, match="lr must"):
        param_groups(model, lr=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        param_groups(model, lr=1.0, weight_decay=float("nan"))
    with pytest.raises(ValueError, match="no module"):
        depths(model, blocks="decoder.layers")
    with pytest.raises(ValueError, match="not a stack"):
        depths(model, blocks="encoder")
    with pytest.raises(ValueError, match="depth_of"):
        depths(model, depth_of=lambda n: -1)
    with pytest.raises(ValueError, match="depth_of"):
        depths(model, depth_of=lambda n: 2.0)
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        param_groups(frozen, lr=1.0)


def test_a_model_without_blocks_is_one_group() -> None:
    model = nn.Linear(3, 3)
    assert find_blocks(model) is None
    groups = param_groups(model, lr=0.1, decay=0.5)
    assert len(groups) == 1 and groups[0]["lr"] == 0.1 and groups[0]["layer"] == 1


def test_a_blocks_nested_sequential_mlp_is_not_the_stack() -> None:
    """Two blocks whose MLP is an nn.Sequential of three layers: the 'longest stack' rule picked
    blocks.0.mlp as the layers, and block 1 silently got the head's learning rate."""
    model = TinyViT(depth=2)
    assert find_blocks(model) == "blocks"
    table, count = depths(model)
    assert count == 2
    assert {d for n, d in table.items() if n.startswith("blocks.0.")} == {1}
    assert {d for n, d in table.items() if n.startswith("blocks.1.")} == {2}
    assert table["head.weight"] == 3 and table["cls_token"] == 0


class SwinLike(nn.Module):
    """Swin's layout: stages layers.N, each a stack of blocks layers.N.blocks.M (2/2/6/2)."""

    def __init__(self, dim: int = 8, stages: tuple[int, ...] = (2, 2, 6, 2)) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.layers = nn.ModuleList()
        for n in stages:
            stage = nn.Module()
            stage.blocks = nn.ModuleList([nn.Linear(dim, dim) for _ in range(n)])
            self.layers.append(stage)
        self.head = nn.Linear(dim, 3)


def test_depth_of_numbers_every_block_beyond_the_detected_stack() -> None:
    """Swin's 12 blocks in 4 stages: depth_of gives 1..12, more depths than the 4-stage stack."""
    stages = (2, 2, 6, 2)
    starts = [sum(stages[:i]) for i in range(len(stages))]

    def depth_of(name: str) -> int | None:
        parts = name.split(".")
        if parts[0] == "layers":
            return starts[int(parts[1])] + int(parts[3]) + 1
        return None

    model = SwinLike(stages=stages)
    table, count = depths(model, depth_of=depth_of)
    assert count == 12
    assert table["layers.2.blocks.5.weight"] == 10 and table["layers.3.blocks.1.weight"] == 12
    assert table["head.weight"] == 13 and table["patch_embed.proj.weight"] == 0
    groups = param_groups(model, lr=1.0, decay=0.5, depth_of=depth_of)
    assert [g["layer"] for g in groups] == list(range(14))
    assert [g["layer_scale"] for g in groups] == [0.5 ** (13 - d) for d in range(14)]


def test_a_string_where_names_are_expected_is_refused() -> None:
    with pytest.raises(ValueError, match=r"no_weight_decay must be a collection of names.*\['embed.weight'\]"):
        param_groups(TextModel(), lr=1.0, weight_decay=0.1, no_weight_decay="embed.weight")
    model = TextModel()
    groups = param_groups(model, lr=1.0, weight_decay=0.1, no_weight_decay=["embed.weight"])
    (embed,) = [g for g in groups if any(p is model.embed.weight for p in g["params"])]
    assert embed["weight_decay"] == 0.0


@pytest.mark.parametrize("with_lr", [True, False])
def test_timm_schedulers_apply_the_decay_once(with_lr: bool) -> None:
    """timm's schedulers multiply a group's lr by its lr_scale: a decayed lr plus an lr_scale squared it."""
    from _peers import timm_scheduler

    model = TextModel(layers=3)
    groups = param_groups(model, lr=1e-3 if with_lr else None, decay=0.5)
    opt = torch.optim.SGD(groups, lr=1e-3)
    timm = timm_scheduler("cosine_lr").CosineLRScheduler(opt, t_initial=10)
    timm.step(0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3 * 0.5 ** (4 - d) for d in range(5)], rel=1e-12)
