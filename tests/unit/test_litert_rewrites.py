"""converters/tflite/direct.py's graph rewrite before litert-torch: a boolean `index_put` becomes an exact
`where`, and every other `index_put` is left alone."""
from __future__ import annotations

import torch

from converters.tflite.direct import bool_index_put_as_where

INDEX_PUTS = (torch.ops.aten.index_put.default, torch.ops.aten.index_put_.default)


class ZeroPadded(torch.nn.Module):
    """Wav2Vec2's `hidden_states[~mask] = 0`, with a [B, T] mask on [B, T, C] features."""

    def forward(self, x, mask):
        x = x.clone()
        x[~mask.bool()] = 0
        return x * 2


class FullMask(torch.nn.Module):
    def forward(self, x):
        x = x.clone()
        x[x > 0.5] = -1.0
        return x


class IntIndex(torch.nn.Module):
    def forward(self, x, idx):
        x = x.clone()
        x[idx] = 3.0
        return x


def _exported(module, *args):
    gm = torch.export.export(module, args).run_decompositions({}).module()
    return gm, sum(n.target in INDEX_PUTS for n in gm.graph.nodes)


def _check_exact(module, *args):
    gm, before = _exported(module, *args)
    assert before == 1
    rewritten = bool_index_put_as_where(gm)
    assert not any(n.target in INDEX_PUTS for n in rewritten.graph.nodes)
    assert torch.equal(rewritten(*args), module(*args))


def test_a_prefix_mask_becomes_an_exact_where():
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.int32)
    _check_exact(ZeroPadded(), x, mask)


def test_a_full_shape_mask_becomes_an_exact_where():
    _check_exact(FullMask(), torch.rand(2, 4, 3))


def test_an_integer_index_is_left_alone():
    x, idx = torch.randn(4, 3), torch.tensor([0, 2])
    gm, before = _exported(IntIndex(), x, idx)
    assert before == 1
    rewritten = bool_index_put_as_where(gm)
    assert sum(n.target in INDEX_PUTS for n in rewritten.graph.nodes) == 1
    assert torch.equal(rewritten(x, idx), IntIndex()(x, idx))
