"""The int8 size floor: every weight one byte, other tensors their size, float_modules float32."""
from __future__ import annotations

import torch
from torch import nn

from mobilesdk.size import int8_floor


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)  # 40 weights
        self.proj = nn.Linear(4, 8)  # 32 weights + 8 float32 biases
        self.norm = nn.LayerNorm(4)  # 2 x 4 float32
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight  # tied: stored once
        self.register_buffer("positions", torch.arange(6).expand(1, -1).clone())  # int64, not a weight


def test_weights_count_one_byte_once_and_the_rest_their_size():
    assert int8_floor(Tied()) == 40 + 32 + 8 * 4 + 2 * 4 * 4 + 6 * 8


def test_float_modules_keep_their_weights_float32():
    assert int8_floor(Tied(), ["module.proj"]) - int8_floor(Tied()) == 32 * 3
    assert int8_floor(Tied(), ["embed"]) - int8_floor(Tied()) == 40 * 3
