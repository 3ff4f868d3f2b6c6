"""ONNX rewrites of each static bucket graph, for patterns onnx2tf translates wrongly or slowly.

Each rewrite finds its pattern by structure (op types, constant operands, static shapes; never a
model's name) and replaces it with ops onnx2tf converts right, computing the same values (exactly,
but for `clamp_prelu_as_residual`'s rounding).
`rewrite` applies them all and drops what no longer feeds an output. The layout probe
(`saved_model._output_perms`) compares each TFLite bucket with onnxruntime on the graph *before*
the rewrites, so every build checks them as well.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


class Graph:
    """A ModelProto's main graph with its constants and inferred static shapes, edited in place."""

    def __init__(self, model):
        import onnx
        from onnx import numpy_helper

        self.graph = model.graph
        inferred = onnx.shape_inference.infer_shapes(model).graph
        self.shapes, self.dtypes = {}, {}
        for v in (*inferred.value_info, *inferred.input, *inferred.output):
            self.dtypes[v.name] = v.type.tensor_type.elem_type
            dims = v.type.tensor_type.shape.dim
            if v.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
                self.shapes[v.name] = [int(d.dim_value) for d in dims]
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        for n in self.graph.node:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        for name, value in self.consts.items():
            self.shapes.setdefault(name, list(value.shape))
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.names = {*self.consts, *self.producer, *(n.name for n in self.graph.node),
                      *(i.name for i in self.graph.input)}

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def made_by(self, name: str, op_type: str):
        """The node of type `op_type` that makes `name`, or None."""
        n = self.producer.get(name)
        return n if n is not None and n.op_type == op_type else None

    def add_const(self, value: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        name = self.fresh(hint)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def fresh(self, hint: str) -> str:
        k = 1
        while f"{hint}__rw{k}" in self.names:
            k += 1
        self.names.add(f"{hint}__rw{k}")
        return f"{hint}__rw{k}"

    def replace(self, node, new_nodes: list) -> None:
        """Put `new_nodes` where `node` was (the last one makes node's output)."""
        i = list(self.graph.node).index(node)
        del self.graph.node[i]
        for k, n in enumerate(new_nodes):
            self.graph.node.insert(i + k, n)


def _node(op: str, inputs: list[str], output: str, name: str, **attrs):
    import onnx

    return onnx.helper.make_node(op, inputs, [output], name=name, **attrs)


def gathernd_as_reshape(g: Graph) -> int:
    """GatherND with constant indices that enumerate the data in order, maybe repeated along some
    axes -> Reshape (+ Expand). The dynamo export of HF's padding-mask lookup `mask[batch_idx, kv_idx]`
    is such a GatherND ([B,1,1,T,2] indices once static); onnx2tf transposes the 5-D indices as if they
    were NCDHW and the attention-mask Add fails (`Dimensions must be equal ... [1,B,H,T,T], [B,1,T,H,T]`)."""
    done = 0
    for node in list(g.graph.node):
        if node.op_type != "GatherND" or any(a.name == "batch_dims" and a.i for a in node.attribute):
            continue
        idx, shape = g.const(node.input[1]), g.shapes.get(node.input[0])
        if idx is None or shape is None or idx.ndim < 2 or idx.shape[-1] != len(shape) or not shape:
            continue
        idx = np.where(idx < 0, idx + np.array(shape), idx)
        if np.any(idx < 0) or np.any(idx >= np.array(shape)):
            continue
        flat = np.ravel_multi_index(tuple(np.moveaxis(idx, -1, 0)), shape)
        repeated = [a for a in range(flat.ndim) if flat.shape[a] > 1 and np.all(flat == flat.take([0], axis=a))]
        core = flat[tuple(slice(0, 1) if a in repeated else slice(None) for a in range(flat.ndim))]
        if not np.array_equal(core.ravel(), np.arange(int(np.prod(shape)))):
            continue
        out = node.output[0]
        name = node.name or out
        new = [_node("Reshape", [node.input[0], g.add_const(np.array(core.shape, np.int64), "shape")],
                     g.fresh(out) if repeated else out, g.fresh(name))]
        if repeated:
            new.append(_node("Expand", [new[0].output[0], g.add_const(np.array(flat.shape, np.int64), "shape")],
                             out, name))
        g.replace(node, new)
        done += 1
    return done


def tile_as_expand(g: Graph) -> int:
    """Tile that only repeats size-1 axes -> Expand. When none of onnx2tf's trial transposes validates
    (seen on a bool [B,T,1] mask, from `mask.unsqueeze(-1).repeat(1, 1, C)`), its Tile falls back to
    multiples of length 1 (onnx2tf 1.29.24 ops/Tile.py): `Shape must be rank 3 but is rank 1 ... Tile`."""
    done = 0
    for node in list(g.graph.node):
        if node.op_type != "Tile":
            continue
        repeats, shape = g.const(node.input[1]), g.shapes.get(node.input[0])
        if repeats is None or shape is None or len(repeats) != len(shape):
            continue
        if any(r != 1 and s != 1 for r, s in zip(repeats.tolist(), shape)):
            continue
        target = g.add_const(np.array(shape, np.int64) * repeats.astype(np.int64), "shape")
        g.replace(node, [_node("Expand", [node.input[0], target], node.output[0], node.name or node.output[0])])
        done += 1
    return done


def masked_fill_as_where(g: Graph) -> int:
    """ScatterND(x, Transpose(NonZero(m)), Expand(v)) with m shaped like x -> Where(m, v, x). It is how a
    boolean index_put (`x[m] = v`, e.g. zeroing padded frames) exports. onnx2tf converts it right but keeps
    WHERE + SCATTER_ND of data-dependent length: on a tiny wav2vec2, 7 dynamic tensors, 17 more ops and
    twice the invoke time (2.3 vs 1.1 ms) in a bucket whose shapes are all static."""
    import onnx

    done = 0
    for node in list(g.graph.node):
        if node.op_type != "ScatterND" or any(a.name == "reduction" and a.s not in (b"", b"none") for a in node.attribute):
            continue
        t = g.made_by(node.input[1], "Transpose")
        nz = t is not None and g.made_by(t.input[0], "NonZero")
        fill = g.made_by(node.input[2], "Expand")
        if not nz or fill is None or any(a.name == "perm" and list(a.ints) != [1, 0] for a in t.attribute):
            continue
        mask, data, value = nz.input[0], node.input[0], fill.input[0]
        if g.shapes.get(mask) is None or g.shapes.get(mask) != g.shapes.get(data) \
                or int(np.prod(g.shapes.get(value, [0, 0]))) != 1 or len(g.shapes[value]) > len(g.shapes[data]):
            continue
        new = []
        if g.dtypes.get(mask) != onnx.TensorProto.BOOL:
            new.append(_node("Cast", [mask], g.fresh(mask), g.fresh(node.name or mask), to=onnx.TensorProto.BOOL))
            mask = new[-1].output[0]
        new.append(_node("Where", [mask, value, data], node.output[0], node.name or node.output[0]))
        g.replace(node, new)
        done += 1
    return done


def expand_noop_as_identity(g: Graph) -> int:
    """Expand whose output has its input's shape -> Identity. onnx2tf reads the target shape as NCHW and
    expands a [B,1,T,T] mask to [B,T,T,T] (`Dimensions must be equal` at the attention Add)."""
    done = 0
    for node in list(g.graph.node):
        if node.op_type != "Expand":
            continue
        shape, target = g.shapes.get(node.input[0]), g.const(node.input[1])
        if shape is None or target is None or len(target) > len(shape):
            continue
        if list(np.broadcast_shapes(tuple(shape), tuple(target.tolist()))) != shape:
            continue
        g.replace(node, [_node("Identity", [node.input[0]], node.output[0], node.name or node.output[0])])
        done += 1
    return done


def reversed_slice_as_gather(g: Graph) -> int:
    """Slice with a negative step (`torch.flip`) -> Gather of the same indices. onnx2tf replaces any Slice
    whose output shape equals its input's with Identity ("Disable useless slice", onnx2tf 1.29.24
    ops/Slice.py), so a flip silently does nothing: HF's flip-cumsum-flip frame mask came out wrong."""
    done = 0
    for node in list(g.graph.node):
        if node.op_type != "Slice" or len(node.input) < 5:
            continue
        shape = g.shapes.get(node.input[0])
        params = [g.const(name) if name else None for name in node.input[1:5]]
        if shape is None or params[0] is None or params[1] is None or params[3] is None or not np.any(params[3] < 0):
            continue
        starts, ends, steps = (p.astype(np.int64).tolist() for p in (params[0], params[1], params[3]))
        axes = [a % len(shape) for a in (params[2].tolist() if params[2] is not None else range(len(starts)))]
        x, new = node.input[0], []
        forward = [k for k, s in enumerate(steps) if s > 0]
        if forward:  # the positive-step axes stay one Slice
            consts = [g.add_const(np.array([v[k] for k in forward], np.int64), hint)
                      for v, hint in ((starts, "starts"), (ends, "ends"), (axes, "axes"), (steps, "steps"))]
            new.append(_node("Slice", [x, *consts], g.fresh(node.output[0]), g.fresh(node.name or x)))
            x = new[-1].output[0]
        backward = [k for k, s in enumerate(steps) if s < 0]
        for k in backward:
            idx = g.add_const(_slice_indices(shape[axes[k]], starts[k], ends[k], steps[k]), "indices")
            out = node.output[0] if k == backward[-1] else g.fresh(node.output[0])
            new.append(_node("Gather", [x, idx], out, g.fresh(node.name or out), axis=axes[k]))
            x = out
        g.replace(node, new)
        done += 1
    return done


def clamp_prelu_as_residual(g: Graph) -> int:
    """Max(x, 0) + Mul(w, Min(x, 0)), a PReLU written with clamps (as XNNPACK needs it, toolchain-traps
    #1) -> x + Mul(w - 1, Min(x, 0)), the same values with one elementwise op fewer. In static int8
    each such op requantizes a whole activation: on the enhancer, whose convolutions are small, this
    took 35% off the int8-static invoke time (docs/decisions.md)."""
    done = 0
    users: dict[str, int] = {}
    for n in g.graph.node:
        for i in n.input:
            users[i] = users.get(i, 0) + 1

    def zero(name: str) -> bool:
        c = g.const(name)
        return c is not None and c.size == 1 and float(c.reshape(-1)[0]) == 0.0

    def clamp(name: str, op: str) -> str | None:
        """x where `name` is op(x, 0) or op(0, x), used once."""
        n = g.made_by(name, op)
        if n is None or len(n.input) != 2 or users.get(name) != 1:
            return None
        return n.input[0] if zero(n.input[1]) else n.input[1] if zero(n.input[0]) else None

    for node in list(g.graph.node):
        if node.op_type != "Add" or len(node.input) != 2:
            continue
        for pos, neg in (node.input, reversed(node.input)):
            x, mul = clamp(pos, "Max"), g.made_by(neg, "Mul")
            if x is None or mul is None or users.get(neg) != 1:
                continue
            k = next((k for k in (0, 1) if clamp(mul.input[1 - k], "Min") == x and g.const(mul.input[k]) is not None), None)
            w = None if k is None else g.const(mul.input[k])
            if w is None or w.dtype.kind != "f" or not _broadcasts_to(w.shape, g.shapes.get(x)):
                continue
            slope = g.add_const((w - 1).astype(w.dtype), "slope_minus_1")
            scaled = g.fresh(neg)
            g.replace(mul, [_node("Mul", [slope, mul.input[1 - k]], scaled, g.fresh(mul.name or scaled))])
            g.replace(node, [_node("Add", [x, scaled], node.output[0], node.name or node.output[0])])
            done += 1
            break
    return done


def _broadcasts_to(shape: tuple[int, ...], target: list[int] | None) -> bool:
    try:
        return target is not None and np.broadcast_shapes(shape, tuple(target)) == tuple(target)
    except ValueError:
        return False


def _slice_indices(dim: int, start: int, end: int, step: int) -> np.ndarray:
    """The indices ONNX Slice takes along one axis (negative bounds count from the end, then clamp)."""
    start, end = (v + dim if v < 0 else v for v in (start, end))
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return np.arange(start, end, step, dtype=np.int64)


REWRITES: tuple[Callable[[Graph], int], ...] = (
    gathernd_as_reshape, tile_as_expand, masked_fill_as_where, expand_noop_as_identity, reversed_slice_as_gather,
    clamp_prelu_as_residual,
)


def rewrite(model) -> tuple[object, dict[str, int]]:
    """A copy of `model` (static shapes) with every rewrite applied, and how often each fired."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    fired = {}
    for fn in REWRITES:
        n = fn(Graph(out))
        if n:
            fired[fn.__name__] = n
    if fired:
        prune(out.graph)
    return out, fired


def prune(graph) -> None:
    """Drop nodes and initializers that no graph output depends on."""
    live = {o.name for o in graph.output}
    keep = []
    for n in reversed(graph.node):
        if any(o in live for o in n.output):
            keep.append(n)
            live.update(n.input)
            live.update(_subgraph_inputs(n))
    del graph.node[:]
    graph.node.extend(reversed(keep))
    inits = [i for i in graph.initializer if i.name in live]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _subgraph_inputs(node) -> set[str]:
    names = set()
    for a in node.attribute:
        for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            for n in sub.node:
                names.update(n.input)
                names |= _subgraph_inputs(n)
    return names
