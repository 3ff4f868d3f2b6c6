"""textclf: an ALBERT-style sentiment classifier with token-level language ID for code-switched text.

input_ids [B, T] (0 = pad) + attention_mask [B, T] (1 valid, right padded)
  -> factorised embeddings (vocab -> E, plus positions, LayerNorm, Linear E -> H)
  -> one shared Transformer layer applied `layers` times (post-LN, masked attention)
  -> per-language bottleneck adapters mixed per token: a token-level LID projection gives softmax
     weights over languages and the adapters' outputs are summed with those weights (all languages
     computed by one down and one up Linear, so the mix is plain tensor arithmetic)
  -> lid [B, T, L]: Conv1d head (kernel 3 over tokens, padded tokens zeroed first)
  -> sentiment [B, C]: masked mean pool (count clamped to >= 1) and a Linear

Attention masks use `torch.where(keep, scores, -1e4)` (docs/toolchain-traps.md#10): fully padded
rows stay finite and the fill is not folded into a quantized add.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mobilesdk.errors import ConfigError
from mobilesdk.spec import FP16_SAFE_MASK_FILL, Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec



@dataclass(frozen=True)
class TextClfConfig:
    vocab: int = 1000
    embed: int = 16  # factorised embedding width E
    hidden: int = 32
    layers: int = 2  # applications of the one shared layer
    heads: int = 2
    ffn: int = 64
    languages: tuple[str, ...] = ("zh", "en", "other")  # the LID classes; `other`: punctuation, emoji, numbers
    adapter: int = 8  # bottleneck width of each language adapter
    sentiments: tuple[str, ...] = ("negative", "neutral", "positive")
    min_tokens: int = 1
    max_tokens: int = 64
    default_tokens: int = 32

    @property
    def n_langs(self) -> int:
        return len(self.languages)

    @property
    def n_classes(self) -> int:
        return len(self.sentiments)


PRESETS = {
    "tiny": dict(vocab=1000, embed=16, hidden=32, layers=2, heads=2, ffn=64, languages=("zh", "en", "other"),
                 adapter=8, max_tokens=64, default_tokens=32),
    # small's max is 192, not 128: a 128-token TFLite bucket equals the hidden size, and onnx2tf (which
    # infers layouts from sizes) transposed the wrong axes there (sentiment at -8.3 dB against onnxruntime).
    "small": dict(vocab=8000, embed=64, hidden=128, layers=4, heads=4, ffn=256, languages=("zh", "en", "ms", "other"),
                  adapter=32, max_tokens=192, default_tokens=32),
}


class SharedLayer(nn.Module):
    """Post-LN Transformer layer (BERT/ALBERT order) with a where-filled key mask."""

    def __init__(self, cfg: TextClfConfig):
        super().__init__()
        h, self.heads = cfg.hidden, cfg.heads
        self.qkv = nn.Linear(h, 3 * h)
        self.out = nn.Linear(h, h)
        self.norm1, self.norm2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.ff = nn.Sequential(nn.Linear(h, cfg.ffn), nn.GELU(), nn.Linear(cfg.ffn, h))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        hd = h // self.heads
        qkv = self.qkv(x)
        # slices, not torch.split: split pins the batch dim when ExecuTorch lowers to XNNPACK (1.5.1)
        q, k, v = (qkv[..., i * h : (i + 1) * h].reshape(b, t, self.heads, hd).transpose(1, 2) for i in range(3))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        scores = torch.where(keep[:, None, None, :], scores, torch.tensor(FP16_SAFE_MASK_FILL, dtype=scores.dtype))
        ctx = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.norm1(x + self.out(ctx))
        return self.norm2(x + self.ff(x))


class MixedAdapters(nn.Module):
    """Residual bottleneck adapters, one per language, mixed per token by `weights` [B, T, L].

    sum_l w_l * (up_l(gelu(down_l(x))) + b_l) == up(w (x) gelu(down(x))) + w @ B, so the whole mix
    is one down Linear [H -> L*A], one up Linear [L*A -> H] and one bias Linear [L -> H].
    """

    def __init__(self, hidden: int, adapter: int, n_langs: int):
        super().__init__()
        self.adapter, self.n_langs = adapter, n_langs
        self.down = nn.Linear(hidden, adapter * n_langs)
        self.up = nn.Linear(adapter * n_langs, hidden, bias=False)
        self.up_bias = nn.Linear(n_langs, hidden, bias=False)  # column l is adapter l's output bias
        self.norm = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        a = F.gelu(self.down(x)).view(b, t, self.n_langs, self.adapter) * weights.unsqueeze(-1)
        a = a.reshape(b, t, self.n_langs * self.adapter)
        return self.norm(x + self.up(a) + self.up_bias(weights))


class TextClassifier(nn.Module):
    def __init__(self, cfg: TextClfConfig):
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Embedding(cfg.vocab, cfg.embed)
        self.positions = nn.Embedding(cfg.max_tokens, cfg.embed)
        self.embed_norm = nn.LayerNorm(cfg.embed)
        self.embed_proj = nn.Linear(cfg.embed, cfg.hidden)
        self.layer = SharedLayer(cfg)
        self.lid_router = nn.Linear(cfg.hidden, cfg.n_langs)  # token-level LID that mixes the adapters
        self.adapters = MixedAdapters(cfg.hidden, cfg.adapter, cfg.n_langs)
        self.lid_head = nn.Conv1d(cfg.hidden, cfg.n_langs, 3, padding=1)
        self.classifier = nn.Linear(cfg.hidden, cfg.n_classes)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Per-token features [B, T, H] (padded tokens zeroed) and the mask as float [B, T, 1]."""
        keep = attention_mask > 0  # [B, T]
        valid = keep.unsqueeze(-1).to(torch.float32)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        e = self.tokens(input_ids) + self.positions(positions)[None]
        x = self.embed_proj(self.embed_norm(e))
        for _ in range(self.cfg.layers):
            x = self.layer(x, keep)
        x = self.adapters(x, self.lid_router(x).softmax(dim=-1))
        return x * valid, valid  # padded tokens must not reach the conv head or the pool

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        x, valid = self.encode(input_ids, attention_mask)
        lid = self.lid_head(x.transpose(1, 2)).transpose(1, 2)
        pooled = x.sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled), lid


@torch.no_grad()
def _calibrate_heads(model: TextClassifier, generator: torch.Generator) -> None:
    """Data-free head init (LSUV-style): centre and scale both heads on random token sequences.

    With random weights every sentence pools to nearly the same vector, so one class would win for
    every input. Centring the logits over random inputs makes the decisions depend on the input,
    which parity's top-1 and LID agreement need to mean anything.
    """
    cfg = model.cfg
    n, t = 32, cfg.default_tokens
    ids = torch.randint(1, cfg.vocab, (n, t), generator=generator)
    lengths = torch.randint(1, t + 1, (n, 1), generator=generator)
    mask = (torch.arange(t)[None, :] < lengths).to(torch.int32)
    tokens, valid = model.encode(ids, mask)
    pooled = tokens.sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
    logits = pooled @ model.classifier.weight.T
    scale = 2.0 / logits.std(dim=0).mean()  # logits spread ~2 across inputs
    model.classifier.weight.mul_(scale)
    model.classifier.bias.copy_(-logits.mean(dim=0) * scale)
    lid = F.conv1d(tokens.transpose(1, 2), model.lid_head.weight, padding=1).transpose(1, 2)[mask > 0]
    scale = 2.0 / lid.std(dim=0).mean()
    model.lid_head.weight.mul_(scale)
    model.lid_head.bias.copy_(-lid.mean(dim=0) * scale)


def build(seed: int = 0, **kwargs) -> TextClassifier:
    cfg = TextClfConfig(**kwargs)
    if cfg.hidden % cfg.heads:
        raise ConfigError(f"textclf hidden {cfg.hidden} is not divisible by heads {cfg.heads}. Fix: change one of them")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TextClassifier(cfg).eval()
        _calibrate_heads(model, torch.Generator().manual_seed(seed + 1))
    return model


def spec(name: str, trained: bool = False, **kwargs) -> ModelSpec:
    """The spec; `trained` (weights from a checkpoint) changes nothing here: no threshold depends on it."""
    cfg = TextClfConfig(**kwargs)
    tokens = ("batch", "tokens")
    return ModelSpec(
        name=name,
        inputs=(
            TensorSpec("input_ids", "int32", tokens, kind="tokens", low=1, high=cfg.vocab),
            TensorSpec("attention_mask", "int32", tokens, kind="mask"),
        ),
        outputs=(
            OutputSpec("sentiment", "float32", ("batch", cfg.n_classes), metric="top1", position_axis=None,
                       labels=tuple(cfg.sentiments)),
            OutputSpec("lid", "float32", ("batch", "tokens", cfg.n_langs), metric="lid", position_axis=1,
                       labels=tuple(cfg.languages)),
        ),
        dims=(
            Dim("batch", 1, 8, default=4),
            Dim("tokens", cfg.min_tokens, cfg.max_tokens, default=cfg.default_tokens),
        ),
        masks=(MaskSpec(input="attention_mask", axis="tokens"),),
        description=f"ALBERT-style sentiment + token LID classifier (id 0 = pad); config {asdict(cfg)}",
    )
