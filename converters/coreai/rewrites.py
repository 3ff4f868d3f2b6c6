"""Graph rewrites coreai-torch 0.4.3 needs, on the program's own copy (`ep.module()`).

coreai-torch converts an `index_put` only when no dim but batch is dynamic ("index_put currently
only supports dynamic batch dimension (dim 0); all other dimensions must be static"). Models with a
dynamic length write into length-sized tensors this way: Wav2Vec2 and HuBERT zero padded frames
with a boolean index (`converters.rewrites.bool_index_put_as_where`) and mark each row's last valid
frame with integer indices (`mask[arange(B), lengths - 1] = 1`, `int_index_put_as_where`).
"""
from __future__ import annotations

import operator

import torch

INDEX_PUTS = (torch.ops.aten.index_put.default, torch.ops.aten.index_put_.default)


def int_index_put_as_where(gm: torch.fx.GraphModule) -> int:
    """`x[i0, ..., ik] = v` with k 1-D integer index tensors of one length N over x's first k dims and
    one value `v` (a single element), as `where(hit, v, x)`. `hit` marks the positions some n
    addresses: each n's flat offset over the first k dims, compared with an arange of all offsets
    ([N, 1] == [1, M], any over N). Exact (no accumulate, the same value everywhere, so the order of
    duplicates does not matter) and free of data-dependent shapes; costs N x M booleans, small for
    per-row indices. Returns how many it rewrote."""
    g, done = gm.graph, 0
    for node in list(g.nodes):
        if node.target not in INDEX_PUTS:
            continue
        x, indices, values = node.args[:3]
        accumulate = node.args[3] if len(node.args) > 3 else node.kwargs.get("accumulate", False)
        xv, vv = x.meta.get("val"), getattr(values, "meta", {}).get("val")
        ivs = [getattr(i, "meta", {}).get("val") if i is not None else None for i in indices]
        if (accumulate or xv is None or vv is None or vv.numel() != 1 or not ivs or len(ivs) > xv.dim()
                or any(i is None or i.dim() != 1 or i.dtype.is_floating_point or i.dtype == torch.bool for i in ivs)):
            continue
        k = len(ivs)

        def call(op, *args, **kwargs):
            return g.call_function(op, args, kwargs)

        with g.inserting_before(node):
            sizes = [call(torch.ops.aten.sym_size.int, x, axis) for axis in range(k)]
            flat, count = None, None
            for axis, index in enumerate(indices):
                index = call(torch.ops.aten._to_copy.default, index, dtype=torch.int64)
                # negative indices count from the end, as in x[i] itself
                index = call(torch.ops.aten.where.self, call(torch.ops.aten.lt.Scalar, index, 0),
                             call(torch.ops.aten.add.Tensor, index, sizes[axis]), index)
                flat = index if flat is None else call(torch.ops.aten.add.Tensor,
                                                       call(torch.ops.aten.mul.Tensor, flat, sizes[axis]), index)
                count = sizes[axis] if count is None else call(operator.mul, count, sizes[axis])
            offsets = call(torch.ops.aten.arange.default, count, dtype=torch.int64)
            hit = call(torch.ops.aten.eq.Tensor, call(torch.ops.aten.unsqueeze.default, flat, 1),
                       call(torch.ops.aten.unsqueeze.default, offsets, 0))  # [N, M]
            hit = call(torch.ops.aten.view.default, call(torch.ops.aten.any.dim, hit, 0),
                       sizes + [1] * (xv.dim() - k))
            value = call(torch.ops.aten.reshape.default, values, [])
            if vv.dtype != xv.dtype:
                value = call(torch.ops.aten._to_copy.default, value, dtype=xv.dtype)
            where = call(torch.ops.aten.where.self, hit, value, x)
        node.replace_all_uses_with(where)
        g.erase_node(node)
        done += 1
    gm.recompile()
    return done
