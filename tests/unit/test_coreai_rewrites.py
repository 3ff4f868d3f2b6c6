"""The index_put rewrite the Core AI backend needs is exact in PyTorch (no Core AI toolchain needed)."""
from __future__ import annotations

import torch

from converters.coreai.rewrites import INDEX_PUTS, int_index_put_as_where


class LastFrameMarker(torch.nn.Module):
    """Wav2Vec2's `mask[arange(B), lengths - 1] = 1`, a negative index, and a 3-D target."""

    def forward(self, x, lengths):
        b, t = x.shape[:2]
        mark = torch.zeros(b, t, dtype=x.dtype)
        mark[torch.arange(b), lengths - 1] = 1
        first = torch.zeros(b, t, 2)
        first[torch.arange(b), lengths - t - 1] = 3.0  # negative: counts from the end
        return x * mark[..., None] + first


def test_int_index_put_as_where_is_exact_at_every_length():
    t = torch.export.Dim("t", min=2, max=32)
    args = (torch.randn(3, 10, 2), torch.tensor([10, 4, 1]))
    ep = torch.export.export(LastFrameMarker(), args, dynamic_shapes=({1: t}, None))
    gm = ep.module()
    assert int_index_put_as_where(gm) == 2
    assert not any(n.target in INDEX_PUTS for n in gm.graph.nodes)
    for length in (2, 7, 32):
        x = torch.randn(3, length, 2)
        lengths = torch.tensor([length, 1, max(1, length // 2)])
        assert torch.equal(gm(x, lengths), LastFrameMarker()(x, lengths))
