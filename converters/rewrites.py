"""Graph rewrites more than one backend needs, on a program's own copy (`ep.module()`)."""
from __future__ import annotations

import torch


def bool_index_put_as_where(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """`x[mask] = v` (one boolean mask, v not shaped by how many elements it selects) as
    `where(mask, v, x)`: exact, with no data-dependent shape. litert-torch lowers the boolean index
    through a nonzero and fails ("Array boolean indices must be concrete"); coreai-torch takes an
    index_put only when no dim but batch is dynamic. Wav2Vec2 and HuBERT zero their padded frames
    this way. `gm` is the program's own copy (`ep.module()` makes one per call)."""
    index_puts = (torch.ops.aten.index_put.default, torch.ops.aten.index_put_.default)
    for node in list(gm.graph.nodes):
        if node.target not in index_puts or len(node.args[1]) != 1 or node.args[1][0] is None:
            continue
        x, (mask,), values = node.args[:3]
        accumulate = node.args[3] if len(node.args) > 3 else node.kwargs.get("accumulate", False)
        xv, mv, vv = (getattr(n, "meta", {}).get("val") for n in (x, mask, values))
        if mv is None or xv is None or mv.dtype != torch.bool or (vv is not None and vv.dim() > xv.dim() - mv.dim()):
            continue
        with gm.graph.inserting_before(node):
            for _ in range(xv.dim() - mv.dim()):
                mask = gm.graph.call_function(torch.ops.aten.unsqueeze.default, (mask, -1))
            if vv is not None and vv.dtype != xv.dtype:
                values = gm.graph.call_function(torch.ops.aten._to_copy.default, (values,), {"dtype": xv.dtype})
            if accumulate:
                values = gm.graph.call_function(torch.ops.aten.add.Tensor, (x, values))
            where = gm.graph.call_function(torch.ops.aten.where.self, (mask, values, x))
        node.replace_all_uses_with(where)
        gm.graph.erase_node(node)
    gm.recompile()
    return gm


def has_index_put(ep) -> bool:
    """Whether the program has an index_put (`x[mask] = v`) for `bool_index_put_as_where` to look at."""
    targets = (torch.ops.aten.index_put.default, torch.ops.aten.index_put_.default)
    return any(node.target in targets for node in ep.graph.nodes)
