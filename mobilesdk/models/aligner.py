"""aligner: a wav2vec2-style phoneme aligner with language-aware attention.

waveform [B, N] + attention_mask [B, N] (1 valid, right padded) + lang_id [B]
  -> masked per-utterance normalisation (statistics over valid samples only)
  -> conv feature encoder, the wav2vec2 stack (320x stride, 400-sample receptive field), each conv
     followed by a per-frame LayerNorm over channels (GroupNorm over time would leak padding)
  -> feature projection, padded frames zeroed, grouped-conv positional embedding
  -> Transformer layers whose Q/K/V come from one Linear for all languages, selected per row by a
     one-hot of lang_id (a weighted sum, no gather on weights, so the Linear stays quantizable)
  -> log_probs [B, T, P] (CTC log_softmax, blank = 0) and durations [B, T] (softplus, 0 when padded)

Frame t is valid iff t * 320 + 400 <= valid samples: the division-free form of DerivedDim.length,
because onnx2tf's fp16 floor division rounds wrong (docs/toolchain-traps.md#3). Attention masks use
`torch.where(keep, scores, -1e4)`, so fully padded rows stay finite and fp16 does not overflow.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mobilesdk.errors import ConfigError
from mobilesdk.spec import (
    FP16_SAFE_MASK_FILL, DerivedDim, Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec, ThresholdOverride,
)
from mobilesdk.speech.phonemes import INVENTORY

CONV_STACK: tuple[tuple[int, int], ...] = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
FRAMES = DerivedDim("frames", source="samples", conv_stack=CONV_STACK)


@dataclass(frozen=True)
class AlignerConfig:
    conv_dim: int = 32
    hidden: int = 32
    layers: int = 1
    heads: int = 2
    ffn: int = 64
    n_langs: int = 3
    n_phonemes: int = 16
    phonemes: tuple[str, ...] = ()  # names of the CTC head's classes (blank first), if known
    languages: tuple[str, ...] = ()  # names of the lang_id values, if known
    pos_kernel: int = 7  # odd: symmetric padding keeps the frame count
    pos_groups: int = 4
    min_samples: int = 1600
    max_samples: int = 32000
    default_samples: int = 16000


PRESETS = {
    "tiny": dict(conv_dim=32, hidden=32, layers=1, heads=2, ffn=64, n_langs=3, n_phonemes=16,
                 pos_kernel=7, pos_groups=4),
    "small": dict(conv_dim=64, hidden=128, layers=3, heads=4, ffn=256, n_langs=4, n_phonemes=len(INVENTORY),
                  phonemes=INVENTORY, languages=("en", "cmn", "ms", "other"), pos_kernel=31, pos_groups=16),
}


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x), overflow-free. F.softplus decomposes to log1p, which XNNPACK does not delegate."""
    return torch.clamp(x, min=0) + torch.log(torch.exp(-torch.abs(x)) + 1.0)


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of [B, C, T], independently per frame.

    One layer_norm op between two transposes: ExecuTorch's XNNPACK delegates neither layer_norm nor
    a hand-written mean over channels, and one op splits the delegated graph once instead of twice.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class FeatureEncoder(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        chans = [1] + [dim] * len(CONV_STACK)
        self.convs = nn.ModuleList(
            nn.Conv1d(i, o, k, stride=s, bias=False) for (k, s), i, o in zip(CONV_STACK, chans, chans[1:])
        )
        self.norms = nn.ModuleList(ChannelNorm(dim) for _ in CONV_STACK)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 1, N] -> [B, C, T]
        for conv, norm in zip(self.convs, self.norms):
            x = F.gelu(norm(conv(x)))
        return x


class LanguageAwareLayer(nn.Module):
    """Pre-LN Transformer layer with per-language Q/K/V projections, selected by a one-hot."""

    def __init__(self, cfg: AlignerConfig):
        super().__init__()
        h, self.heads, self.n_langs = cfg.hidden, cfg.heads, cfg.n_langs
        self.norm1, self.norm2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv = nn.Linear(h, 3 * h * cfg.n_langs)  # [q|k|v] for language 0, then 1, ...
        self.out = nn.Linear(h, h)
        self.ff = nn.Sequential(nn.Linear(h, cfg.ffn), nn.GELU(), nn.Linear(cfg.ffn, h))

    def forward(self, x: torch.Tensor, keep: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        """x [T, B, H] time-major, keep [B, T] valid frames, onehot [B, L] the row's language."""
        t, b, h = x.shape
        hd = h // self.heads
        qkv_all = self.qkv(self.norm1(x)).view(t, b, self.n_langs, 3 * h)
        qkv = (qkv_all * onehot[None, :, :, None]).sum(dim=2)  # [T, B, 3H], this row's language
        # slices, not torch.split: split pins the batch dim when ExecuTorch lowers to XNNPACK (1.5.1)
        q, k, v = (qkv[..., i * h : (i + 1) * h].reshape(t, b, self.heads, hd).permute(1, 2, 0, 3) for i in range(3))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)  # [B, heads, T, T]
        scores = torch.where(keep[:, None, None, :], scores, torch.tensor(FP16_SAFE_MASK_FILL, dtype=scores.dtype))
        ctx = (scores.softmax(dim=-1) @ v).permute(2, 0, 1, 3).reshape(t, b, h)
        x = x + self.out(ctx)
        return x + self.ff(self.norm2(x))


class Aligner(nn.Module):
    def __init__(self, cfg: AlignerConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.features = FeatureEncoder(cfg.conv_dim)
        self.proj_norm = nn.LayerNorm(cfg.conv_dim)
        self.proj = nn.Linear(cfg.conv_dim, h)
        self.pos_conv = nn.Conv1d(h, h, cfg.pos_kernel, padding=cfg.pos_kernel // 2, groups=cfg.pos_groups)
        self.enc_norm = nn.LayerNorm(h)
        self.layers = nn.ModuleList(LanguageAwareLayer(cfg) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(h)
        self.ctc_head = nn.Linear(h, cfg.n_phonemes)
        self.duration_head = nn.Linear(h, 1)

    @staticmethod
    def normalise(waveform: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Zero-mean, unit-variance over each row's valid samples; padded samples become 0."""
        m = (attention_mask > 0).to(waveform.dtype)
        x = torch.where(attention_mask > 0, waveform, torch.zeros_like(waveform))
        count = m.sum(dim=-1, keepdim=True).clamp(min=1.0)
        mean = x.sum(dim=-1, keepdim=True) / count
        centred = (x - mean) * m
        var = (centred * centred).sum(dim=-1, keepdim=True) / count
        return centred * torch.rsqrt(var + 1e-5)

    @staticmethod
    def frame_mask(attention_mask: torch.Tensor, frames: int, time_major: bool = False) -> torch.Tensor:
        """[B, T] bool ([T, B] if time_major): frame t is valid iff its receptive field lies in the valid samples."""
        valid = attention_mask.sum(dim=-1, dtype=torch.int32)  # [B]
        start = torch.arange(frames, device=attention_mask.device, dtype=torch.int32) * FRAMES.stride
        if time_major:
            return start[:, None] + FRAMES.receptive_field <= valid[None, :]
        return start[None, :] + FRAMES.receptive_field <= valid[:, None]

    def forward(self, waveform, attention_mask, lang_id):
        x = self.features(self.normalise(waveform, attention_mask).unsqueeze(1))  # [B, C, T]
        keep = self.frame_mask(attention_mask, x.shape[-1])  # [B, T], for the attention keys
        keep_tb = self.frame_mask(attention_mask, x.shape[-1], time_major=True).unsqueeze(-1).to(x.dtype)
        # time-major [T, B, C] from here on, as in fairseq's wav2vec2: a Linear then flattens [T, B]
        # with T leading, which torch.export can prove for a static batch of 1 too (ExecuTorch needs
        # one); flattening [1, T, C] guards on `1 % T`, unprovable for the derived frame count.
        # For the same reason nothing is computed on a transposed tensor; the outputs are transposed last.
        x = self.proj(self.proj_norm(x.permute(2, 0, 1)))  # [T, B, H]
        x = x * keep_tb  # padded frames must not reach the positional conv
        x = x + F.gelu(self.pos_conv(x.permute(1, 2, 0))).permute(2, 0, 1)
        x = self.enc_norm(x)
        langs = torch.arange(self.cfg.n_langs, dtype=torch.int32, device=x.device)
        onehot = (lang_id.to(torch.int32)[:, None] == langs[None, :]).to(x.dtype)
        for layer in self.layers:
            x = layer(x, keep, onehot)
        x = self.final_norm(x)
        log_probs = F.log_softmax(self.ctc_head(x), dim=-1)
        durations = softplus(self.duration_head(x)) * keep_tb  # 0 on padded frames
        return log_probs.transpose(0, 1), durations.squeeze(-1).transpose(0, 1)  # [B, T, P], [B, T]


def build(seed: int = 0, **kwargs) -> Aligner:
    cfg = AlignerConfig(**kwargs)
    if cfg.hidden % cfg.heads or cfg.hidden % cfg.pos_groups or cfg.pos_kernel % 2 == 0:
        raise ConfigError(
            f"aligner hidden {cfg.hidden}, heads {cfg.heads}, pos_groups {cfg.pos_groups} and "
            f"pos_kernel {cfg.pos_kernel} do not fit together. "
            "Fix: make hidden divisible by heads and pos_groups, and pos_kernel odd"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Aligner(cfg)
        for conv in model.features.convs:  # variance-preserving for GELU, so deep frames carry signal
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        nn.init.normal_(model.ctc_head.weight, std=1.5 / math.sqrt(cfg.hidden))  # spread logits: no argmax ties
    return model.eval()


# Measured with the MIL reference evaluator (small preset): 6-bit palettes move log-probs by ~0.1
# (30.4 dB), and this randomly initialised CTC head leaves 26% of valid frames with a top-2 gap under
# 0.2 (12.5% under 0.1), so 6% of frame decisions flip (0.939 tiny and small); grouped palettes (iOS18)
# gave 31.7 dB and the same 0.939. A trained, peaky CTC head has few such frames: the trained small
# preset keeps 99.6% on the committed clips, so the override applies to random inits only.
PALETTE_AGREEMENT = ThresholdOverride(
    "palettize6", agreement=0.90,
    reason="6-bit palettes shift log-probs by ~0.1 and a quarter of this untrained CTC head's frames "
           "have a top-2 gap under 0.2: ~6% of frame decisions flip at near-ties",
)


def spec(name: str, trained: bool = False, **kwargs) -> ModelSpec:
    """The spec; `trained`: the weights come from a checkpoint (some thresholds are measured on one or the other)."""
    cfg = AlignerConfig(**kwargs)
    return ModelSpec(
        name=name,
        inputs=(
            TensorSpec("waveform", "float32", ("batch", "samples"), kind="audio"),
            TensorSpec("attention_mask", "int32", ("batch", "samples"), kind="mask"),
            TensorSpec("lang_id", "int32", ("batch",), kind="category", low=0, high=cfg.n_langs, labels=cfg.languages),
        ),
        outputs=(
            OutputSpec("log_probs", "float32", ("batch", "frames", cfg.n_phonemes), metric="frame_argmax",
                       position_axis=1, thresholds=() if trained else (PALETTE_AGREEMENT,), labels=cfg.phonemes,
                       ctc_blank=0),
            OutputSpec("durations", "float32", ("batch", "frames"), metric="sqnr", position_axis=1),
        ),
        dims=(
            Dim("batch", 1, 8, default=4),
            Dim("samples", cfg.min_samples, cfg.max_samples, default=cfg.default_samples),
        ),
        derived_dims=(FRAMES,),
        masks=(MaskSpec(input="attention_mask", axis="samples"),),
        description=f"wav2vec2-style phoneme aligner (CTC blank 0 + durations), 16 kHz; config "
                    f"{ {k: v for k, v in asdict(cfg).items() if k not in ('phonemes', 'languages')} }",
    )
