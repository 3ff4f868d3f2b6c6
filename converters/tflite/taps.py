"""The TFLite artifact's intermediate tensors for `mobilesdk explain`, on both routes.

Reading: `BucketRunner` runs the case on the bucket it would pick (its own code: fitting, layouts),
through an ai_edge_litert Interpreter made with `experimental_preserve_all_tensors=True` and without
default delegates: XNNPACK would compute its partitions' inner tensors where nobody can read them
(the interpreter still applies it with preserve_all_tensors, ai_edge_litert 2.3), so the builtin
kernels run, which may differ from the runner's XNNPACK in the last bits. Tensors come back float32:
int8 ones dequantized with their scale and zero point, and cut from the bucket's padded lengths back
to the case's (each axis whose length is the bucket's length of a padded dim, or a length the spec's
conv stack makes of it, is cut to the case's, where that axis's length differs between buckets, so a
channel count equal to a bucket length stays; channels-last layouts are left to drift.fit).

Module paths: neither route's tensor names carry them as the artifacts are built. onnx2tf names
tensors after Keras layers (`model_33/tf.math.add_2/Add`): onnx2tf passes the ONNX node names to the
TF ops but Keras drops them. litert-torch names every tensor after the module it converted, the
wrapper `converters.tflite.direct._Named`: the program is called as one GraphModule, so the
re-export sees no submodule. So each route converts `ep` once more with the names recorded (once per
program, memoized), and maps them onto the artifact only where that twin is checked to be the same:
- onnx2tf: the main bucket's graph goes through the steps `saved_model` takes, with onnx2tf's table
  of ONNX tensor -> Keras tensor kept; each Keras layer takes the module path of the ONNX node it
  was made for (recorded by torch.onnx, looked up by tensor name: `_static_scopes`; a node onnxsim
  made, such as a linear's Gemm, by the module parameters it reads), the artifact's tensors that of
  the layers their names list (the common outer path where they differ). Check: the twin's Keras
  model has the artifact's name and every layer its tensors name. A module whose output op TFLite's
  converter moved out of it is left out (`_onnx2tf_names`). The same table places int8-static's
  `float_modules` option on the calibrated file's ops (`onnx2tf_module_ops`).
- litert-torch: the main bucket is converted with the program run node by node under
  `torch.fx.traceback.preserve_node_meta`, so the re-export keeps each node's `nn_module_stack` and
  litert-torch names tensors `Class_name/Class_name;` from it, mapped back to module paths through
  the program's own stacks; the twin goes through the precision's step (`half_weights`, the dynamic
  quantizer) and must equal the artifact's graph op for op and tensor for tensor, names aside.
Where the check fails or a name is not found, tensors stay without a path.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, memo_per_program, native_stderr_held
from converters.tflite.buckets import Plan, fit_inputs, plan_for
from converters.tflite.direct import signature_name
from converters.tflite.flatbuffer import SIGNATURE, from_onnx2tf, read_model
from converters.tflite.runner import BucketRunner, _batch_size
from mobilesdk.drift import ROOT, TapOp, Taps, common_scope, module_boundaries
from mobilesdk.golden import lengths_from_inputs

CASTS = ("QUANTIZE", "DEQUANTIZE")
LAYOUT_OPS = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity")  # ONNX ops moving values only


def tflite_taps(ep, ctx: BuildContext, precision: str, files: list[Path]) -> Taps:
    runner, main, onnx2tf = _runner(ctx, files)
    blob = Path(runner.file).read_bytes()
    graph = _Graph(blob, runner.signature[main])
    if onnx2tf:
        names, how = _onnx2tf_names(ep, ctx, runner.plan, main, graph)
    else:
        names, how = _litert_names(ep, ctx, runner.plan, main, graph, precision)
    ops, outputs = graph.ops(names)
    graphs = {main: graph}

    def graph_of(bucket) -> _Graph:
        if bucket not in graphs:
            graphs[bucket] = _Graph(blob, runner.signature[bucket])
        return graphs[bucket]

    def read(inputs, wanted: list[str]) -> dict[str, np.ndarray]:
        lengths = lengths_from_inputs(ctx.spec, inputs)
        bucket = runner.plan.choose(lengths)
        if runner.interpreter is None:  # BucketRunner's: it then runs this interpreter
            with warnings.catch_warnings(), native_stderr_held():
                warnings.simplefilter("ignore")  # "preserve_all_tensors ... for debugging purposes only"
                from ai_edge_litert.interpreter import Interpreter, OpResolverType

                runner.interpreter = Interpreter(  # a delegate's inner tensors are never written
                    model_path=str(runner.file), experimental_preserve_all_tensors=True,
                    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        batch = _batch_size(ctx.spec, inputs)
        if batch != runner.plan.batch:
            raise ValueError(f"taps read one invocation: feed a batch of {runner.plan.batch}, not {batch}")
        runner(inputs)
        here = graph_of(bucket)
        # length axes are those whose size differs in another bucket's graph (the main one, or the next)
        others = [graph_of(b) for b in runner.plan.buckets if b != bucket][:1]
        cut = _cuts(ctx.spec, runner.plan.lengths(bucket), lengths)
        out = {}
        for name in wanted:
            i = here.find(name, graph)
            if i is None:
                continue
            x = here.value(runner.interpreter, i)
            j = others[0].find(name, graph) if others else None
            there = others[0].shapes[j] if j is not None else ()
            varies = [len(there) != x.ndim or there[a] != n for a, n in enumerate(x.shape)]
            out[name] = x[tuple(slice(0, cut.get(n, n) if v else n) for n, v in zip(x.shape, varies))]
        return out

    runtime = f"ai_edge_litert builtin kernels (no XNNPACK), on the bucket the runner picks; module paths {how}"
    return Taps(ops, outputs, read, runtime)


def _runner(ctx: BuildContext, files: list[Path]) -> tuple[BucketRunner, tuple[int, ...], bool]:
    """The runner `TFLiteConverter.runner` makes, its buckets read off the file's signatures (`len_<tag>`,
    as the meta is not passed to taps); its main bucket; whether the onnx2tf route made the file."""
    model = read_model(Path(files[0]).read_bytes())
    signatures = [s.signatureKey.decode() for s in model.signatureDefs]
    plan = plan_for(ctx.spec, ctx.options)  # dims, padded dims and batch; lengths from the signatures
    meta = {"bucket_dims": ",".join(plan.dims), "padded_dims": ",".join(sorted(plan.padded)),
            "buckets": ",".join(s.removeprefix("len_") for s in signatures), "batch": plan.batch,
            "signatures": ",".join(signatures)}
    runner = BucketRunner(Converted(list(files), meta), ctx.spec)
    return runner, runner.plan.buckets[0], from_onnx2tf(model)


class _Graph:
    """One signature's subgraph of a `.tflite`: ops, tensor names and quantization."""

    def __init__(self, blob: bytes, signature: str):
        from tensorflow.lite.python import schema_py_generated as schema

        model = read_model(blob)
        sig = next(s for s in model.signatureDefs if s.signatureKey.decode() == signature)
        self.index = sig.subgraphIndex
        g = model.subgraphs[self.index]
        codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        kinds = [codes.get(max(c.builtinCode, c.deprecatedBuiltinCode), "CUSTOM") for c in model.operatorCodes]
        self.tensor_names = [t.name.decode() for t in g.tensors]
        self.index_of = {n: i for i, n in enumerate(self.tensor_names)}
        self.quant = [t.quantization for t in g.tensors]
        self.shapes = [tuple(t.shape) if t.shape is not None else () for t in g.tensors]
        self.types = [t.type for t in g.tensors]
        self.wiring = [(kinds[op.opcodeIndex], tuple(op.inputs), tuple(op.outputs)) for op in g.operators]
        self.outputs = [t.tensorIndex for t in sig.outputs]
        self.signature_outputs = {t.tensorIndex: t.name.decode() for t in sig.outputs}

    def same(self, other: "_Graph") -> bool:
        """The same graph, tensor names aside."""
        return self.wiring == other.wiring and self.shapes == other.shapes and self.types == other.types

    def ops(self, scopes: dict[int, tuple[str, ...]]) -> tuple[list[TapOp], tuple[str, ...]]:
        """TapOps by tensor index -> module path, and the graph outputs. A QUANTIZE or DEQUANTIZE is the
        same tensor in another encoding: left out, its readers read what it converts (which `read`
        dequantizes), so a module hands out one tensor where it hands out both encodings."""
        alias: dict[int, int] = {}
        ops = []
        for kind, inputs, outputs in self.wiring:
            if kind in CASTS and len(inputs) == 1 and len(outputs) == 1 and inputs[0] >= 0:
                alias[outputs[0]] = alias.get(inputs[0], inputs[0])
                continue
            ins = tuple(self.tensor_names[alias.get(t, t)] for t in inputs if t >= 0)
            outs = tuple(self.tensor_names[t] for t in outputs)
            ops.append(TapOp(outs[0] if outs else kind, kind, scopes.get(outputs[0], ()) if outputs else (), ins, outs))
        return ops, tuple(self.tensor_names[alias.get(t, t)] for t in self.outputs)

    def find(self, name: str, main: "_Graph") -> int | None:
        """The index of the main bucket's tensor `name` here: the same index where this graph is the main
        one at other lengths (litert-torch numbers each signature's names apart), else by name."""
        if self.wiring == main.wiring:
            return main.index_of.get(name)
        return self.index_of.get(name)

    def value(self, interpreter, i: int) -> np.ndarray:
        """Tensor `i` after an invoke, int8/int16 dequantized (per tensor or per channel)."""
        x = interpreter.get_tensor(i, subgraph_index=self.index)
        q = self.quant[i]
        if q is None or q.scale is None or not len(q.scale) or x.dtype not in (np.int8, np.uint8, np.int16):
            return x
        shape = [-1 if a == q.quantizedDimension else 1 for a in range(x.ndim)] if len(q.scale) > 1 else [1]
        zero = np.asarray(q.zeroPoint if q.zeroPoint is not None else 0, np.float32).reshape(shape)
        return (x.astype(np.float32) - zero) * np.asarray(q.scale, np.float32).reshape(shape)


def _cuts(spec, full: dict[str, int], case: dict[str, int]) -> dict[int, int]:
    """Axis length in the bucket -> the case's, for padded dims and each length the spec's conv stacks
    make of them on the way; a length that two of them would cut differently is left alone. Applied
    to the axes whose length differs between buckets (all axes where the artifact has one bucket)."""
    pairs = []
    for dim, n in full.items():
        if case.get(dim, n) == n:
            continue
        pairs.append((n, case[dim]))
        for d in spec.derived_dims:
            if d.source == dim:
                a, b = n, case[dim]
                for k, st in d.conv_stack:
                    a, b = (a - k) // st + 1 if a >= k else 0, (b - k) // st + 1 if b >= k else 0
                    pairs.append((a, b))
    cut: dict[int, int | None] = {}
    for n, m in pairs:
        cut[n] = m if cut.get(n, m) == m else None
    return {n: m for n, m in cut.items() if m is not None and m != n}


# --- onnx2tf: Keras layer -> ONNX node -> module path -----------------------------------------------

def _onnx2tf_names(ep, ctx: BuildContext, plan: Plan, bucket, graph: _Graph):
    """Tensor index -> module path for the onnx2tf artifact, and how they were found."""
    layers, named, problem = _onnx2tf_layers(ep, ctx, plan, bucket, graph)
    if problem:
        return {}, f"not found: {problem}"
    hands_out = _twin(ep, ctx, plan, bucket)[2]
    found = {i: [layers[n] for n in names if layers[n] is not None] for i, names in named.items()}
    scopes = {i: common_scope(paths) for i, paths in found.items() if paths}
    # TFLite's converter moves ops across module boundaries (log(concat(a, b)) becomes a concat then one
    # log): a module none of whose ops still computes the layer of a tensor it hands out (its layout
    # ops aside: a transpose merged away keeps the values) has an earlier tensor as its boundary in
    # the artifact, so it is left out of every path.
    within = {(n, m) for i, names in named.items() for n in names for m in scopes.get(i, ())}
    moved = {m for m, made in hands_out.items() if any((n, m) not in within for n in made)}
    scopes = {i: tuple(m for m in s if m not in moved) for i, s in scopes.items()}
    left = f"; left out, their last ops moved out of them: {', '.join(sorted(moved))}" if moved else ""
    return scopes, ("from the ONNX nodes onnx2tf made each Keras layer for (a twin conversion, layer names "
                    f"checked){left}")


def onnx2tf_module_ops(ep, ctx: BuildContext, plan: Plan, bucket, blob: bytes, paths: list[str]) -> dict[str, set[str]]:
    """Per module path, the ops of an onnx2tf-route flatbuffer of `bucket` before the merge (its
    `serving_default`; any precision's, the calibrated one included) computed for that module or one
    inside it, by name (their first output tensor's, as `mlir_quantize(denylisted_nodes=...)` takes
    them): an op is a module's when any Keras layer its output tensors name was made for an ONNX node
    of it (the twin conversion's table, as for taps), so an op TFLite fused across a boundary (an add
    with the next module's reshape) belongs to both; but a weighted op (FULLY_CONNECTED, CONV_2D, ...)
    only to the modules most of its layers were made for (a linear's matmul and bias add, not the
    previous module's add whose name TFLite folded into it).
    Raises ConversionError where the twin does not name the file's layers."""
    from converters.tflite.int8 import WEIGHTED_OPS
    from mobilesdk.errors import ConversionError

    graph = _Graph(blob, SIGNATURE)
    layers, named, problem = _onnx2tf_layers(ep, ctx, plan, bucket, graph)
    if problem:
        raise ConversionError(f"TFLite conversion of model `{ctx.model}`: float_modules cannot be placed (bucket "
                              f"{plan.tag(bucket)}): {problem}")
    out: dict[str, set[str]] = {p: set() for p in paths}
    for kind, _, outputs in graph.wiring:
        scopes = [layers[n] for t in outputs if t >= 0 for n in named.get(t, ()) if layers[n] is not None]
        if kind in WEIGHTED_OPS and scopes:
            most = max(scopes.count(s) for s in scopes)
            scopes = [s for s in scopes if scopes.count(s) == most]
        for p in paths:
            if outputs and any(p in s for s in scopes):
                out[p].add(graph.tensor_names[outputs[0]])
    return out


def _onnx2tf_layers(ep, ctx: BuildContext, plan: Plan, bucket, graph: _Graph):
    """(Keras layer -> module path or None, tensor index of `graph` -> the layers its name lists, problem):
    the twin conversion's table and the layers an onnx2tf-route file's tensors name; problem is why the
    twin does not fit the file (None when it does: it has the file's model name and every layer)."""
    layers, model_name, _ = _twin(ep, ctx, plan, bucket)
    prefix = f"{model_name}/"
    named = {i: [p.split("/")[1] for p in name.split(";") if p.startswith(prefix) and p.count("/") >= 2]
             for i, name in enumerate(graph.tensor_names)}
    named.update({i: [out] for i, out in graph.signature_outputs.items()})  # onnx2tf names output layers so
    seen = {layer for names in named.values() for layer in names}
    if not seen or seen - set(layers):
        return layers, named, (f"the twin onnx2tf conversion ({model_name}) does not name the artifact's layers "
                               f"(missing: {sorted(seen - set(layers))[:3]})")
    return layers, named, None


def _twin(ep, ctx: BuildContext, plan: Plan, bucket):
    """`_layer_scopes` of the bucket, once per program."""
    key = ("tflite-taps-onnx2tf", ctx.spec.digest(), tuple(sorted(plan.lengths(bucket).items())), plan.batch)
    return memo_per_program(ep, key, lambda: _layer_scopes(ep, ctx, plan, bucket))


def _layer_scopes(ep, ctx: BuildContext, plan: Plan, bucket):
    """Each Keras layer of onnx2tf's model of the bucket's graph -> the module path of its ONNX node
    (None: reached from no ONNX tensor); the model's name; per module, the layers of the ONNX tensors
    it hands out."""
    import onnx
    import onnx2tf.onnx2tf as o2t
    import tensorflow as tf
    import tf_keras

    from converters.onnx.export import export_onnx
    from converters.onnx.taps import onnx_ops
    from converters.tflite.buckets import static_shape
    from converters.tflite.onnx_rewrites import rewrite
    from converters.tflite.saved_model import _run_onnx2tf, _static_onnx

    with tempfile.TemporaryDirectory(prefix="mobilesdk-tflite-taps-") as tmp:
        work = Path(tmp)
        export_onnx(ep, ctx.spec, work / "model.onnx", ctx.model)
        exported = onnx.load(str(work / "model.onnx"))
        shapes = {t.name: static_shape(t, plan, plan.lengths(bucket)) for t in ctx.spec.inputs}
        static, _ = rewrite(_static_onnx(exported, shapes, ctx.model, plan.tag(bucket)))
        scope_of = _static_scopes(static, {t: op.scope for op in onnx_ops(exported) for t in op.outputs})
        (work / "static.onnx").write_bytes(static.SerializeToString())
        table: dict = {}
        keep = o2t.get_tf_model_outputs

        def hooked(**kw):  # onnx2tf's ONNX tensor name -> {"tf_node": KerasTensor, ...}, at its end
            table.update(kw["tf_layers_dict"])
            return keep(**kw)

        tf_keras.backend.clear_session()  # layer names count up per session, as in the conversion
        o2t.get_tf_model_outputs = hooked
        try:
            model = _run_onnx2tf(work / "static.onnx", work / "onnx2tf", static, ctx.model)
        finally:
            o2t.get_tf_model_outputs = keep
            tf_keras.backend.clear_session()

    def key(kt):
        layer, node, index = kt._keras_history
        return id(layer), node, index

    made = {key(v["tf_node"]): name for name, v in table.items() if hasattr(v.get("tf_node"), "_keras_history")}
    owner: dict[str, tuple[str, ...] | None] = {layer.name: None for layer in model.layers}

    def claim(kt, scope, start: bool):
        """The layers computing an ONNX tensor back to the ONNX tensors it is computed from. Walked in
        graph order, a layer goes to the first node that reaches it: the node it was made for, as a
        layer made for a later node cannot feed an earlier one."""
        if not start and key(kt) in made:
            return
        layer, node, _ = kt._keras_history
        if owner.get(layer.name) is not None:
            return
        owner[layer.name] = scope
        for x in tf.nest.flatten(layer._inbound_nodes[node].keras_inputs):
            if hasattr(x, "_keras_history"):
                claim(x, scope, False)

    for name, value in table.items():
        if hasattr(value.get("tf_node"), "_keras_history"):
            claim(value["tf_node"], scope_of.get(name, ()), True)
    layer_of = {name: v["tf_node"]._keras_history[0].name for name, v in table.items()
                if hasattr(v.get("tf_node"), "_keras_history")}
    onnx_ops_scoped = [TapOp(n.name, n.op_type, scope_of.get(n.output[0], ()) if n.output else (), tuple(n.input),
                             tuple(n.output)) for n in static.graph.node]
    onnx_graph = Taps(onnx_ops_scoped, tuple(o.name for o in static.graph.output), None)
    computes = {t for n in static.graph.node if n.op_type not in LAYOUT_OPS for t in n.output}
    hands_out = {m: {layer_of[t] for t in b.tensors if t in layer_of and t in computes}
                 for m, b in module_boundaries(onnx_graph).items() if m != ROOT}
    return owner, model.name, hands_out


def _static_scopes(static, recorded: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """ONNX tensor -> module path in the graph onnx2tf converts. onnxsim drops the paths torch.onnx
    recorded but keeps tensor names, so they are looked up by name. A node onnxsim made (a linear's
    MatMul and Add fused into Reshape-Gemm-Reshape, new names) ran, in PyTorch, between the nodes
    that feed it and those that read it, so inside every module all of them share: it gets that
    common path (coarser than its own, never another module's; a module called twice with the
    node between its calls is the exception), unless it reads a module's parameter (the Gemm reads
    the linear's bias, an initializer torch.onnx names `<module path>.bias`): then it has that
    module's path (`_parameter_scopes`)."""
    nodes = list(static.graph.node)
    recorded = {**_parameter_scopes(static, recorded), **recorded}
    readers: dict[str, list] = {}
    for node in nodes:
        for t in node.input:
            readers.setdefault(t, []).append(node)

    def side(order, neighbours) -> dict[str, tuple[str, ...]]:
        """Unknown tensors -> common path of their nearest recorded neighbours on one side."""
        found: dict[str, tuple[str, ...]] = {}
        for node in order:
            near = [recorded[t] if t in recorded else found[t] for t in neighbours(node) if t in recorded or t in found]
            for out in node.output:
                if out not in recorded and near:
                    found[out] = common_scope(near)
        return found

    before = side(nodes, lambda n: n.input)
    after = side(reversed(nodes), lambda n: [r.output[0] for o in n.output for r in readers.get(o, []) if r.output])
    made = {t: common_scope([before[t], after[t]]) for t in before.keys() & after.keys()}
    return {**recorded, **made}


def _parameter_scopes(static, recorded: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Output tensor -> module path of each node that reads exactly one module's parameters: initializers
    named `<path>.weight` or `<path>.bias` (as torch.onnx names a module's parameters) of a module
    whose path a recorded node's scope holds."""
    stacks: dict[str, tuple[str, ...]] = {}
    for scope in recorded.values():
        for k, path in enumerate(scope):
            stacks.setdefault(path, scope[: k + 1])
    params = {i.name: i.name.rsplit(".", 1)[0] for i in static.graph.initializer
              if i.name.rsplit(".", 1)[-1] in ("weight", "bias") and i.name.rsplit(".", 1)[0] in stacks}
    found = {}
    for node in static.graph.node:
        owners = {params[t] for t in node.input if t in params}
        if len(owners) == 1:
            owner = stacks[owners.pop()]
            found.update({t: owner for t in node.output})
    return found


# --- litert-torch: nn_module_stack kept through the re-export -----------------------------------------

def _litert_names(ep, ctx: BuildContext, plan: Plan, bucket, graph: _Graph, precision: str):
    """Tensor index -> module path for the litert-torch artifact, and how they were found."""
    for tables in (True, False):  # int8-dynamic's embedding tables int8, or float where those failed parity
        key = ("tflite-taps-litert", ctx.spec.digest(), plan, bucket, precision, tables)
        twin = _Graph(memo_per_program(ep, key, lambda: _litert_twin(ep, ctx, plan, bucket, precision, tables)),
                      signature_name(plan, bucket))
        if twin.same(graph) or precision != "int8-dynamic":
            break
    if not twin.same(graph):
        return {}, "not found: the twin conversion that records them is not the artifact's graph"
    paths = _stack_paths(ep)
    scopes = {}
    for i, name in enumerate(twin.tensor_names):
        found = [paths.get(tuple(part.split("/"))) for part in name.split(";") if "/" in part]
        found = [f for f in found if f]
        if found:
            scopes[i] = common_scope(found)
    return scopes, "from litert-torch's location names of a twin conversion that keeps nn_module_stack (graph checked)"


def _litert_twin(ep, ctx: BuildContext, plan: Plan, bucket, precision: str, tables: bool) -> bytes:
    """The main bucket converted as `direct.litert_tflite` does, with module paths in the names."""
    import litert_torch
    import torch

    from converters.rewrites import bool_index_put_as_where
    from converters.tflite.direct import _int8_dynamic
    from converters.tflite.flatbuffer import half_weights

    class Scoped(torch.nn.Module):
        """direct._Named, but the program runs node by node with its nodes' meta current, so the
        re-export records each op's nn_module_stack (torch.fx.traceback.preserve_node_meta)."""

        def __init__(self, program, inputs, outputs):
            super().__init__()
            self.program, self.inputs, self.outputs = program, inputs, outputs

        def forward(self, **arrays):
            with torch.fx.traceback.preserve_node_meta():
                out = torch.fx.Interpreter(self.program).run(*[arrays[n] for n in self.inputs])
            return dict(zip(self.outputs, out))

    spec = ctx.spec
    module = Scoped(bool_index_put_as_where(ep.module()), [t.name for t in spec.inputs], [o.name for o in spec.outputs])
    sample = {k: torch.from_numpy(v) for k, v in fit_inputs(ctx.example_inputs, spec, plan, bucket).items()}
    litert_torch.config.show_progress = False
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():
        converted = litert_torch.signature(signature_name(plan, bucket), module, sample_kwargs=sample).convert()
        blob = converted.model_content()
    return {"fp16": half_weights, "int8-dynamic": lambda b: _int8_dynamic(b, ctx, tables)}.get(precision, lambda b: b)(blob)


def _stack_paths(ep) -> dict[tuple[str, ...], tuple[str, ...]]:
    """litert-torch's location of a module (`Class_lastname` per level, litert_torch.backend.debuginfo)
    -> its module paths, from the program's nn_module_stack; a location two modules share is left out."""
    found: dict[tuple[str, ...], set] = {}
    for node in ep.graph.nodes:
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        for k in range(1, len(stack) + 1):
            levels = tuple(f"{cls}_{path.split('.')[-1]}" if path else str(cls) for path, cls in stack[:k])
            found.setdefault(levels, set()).add(tuple(path for path, _ in stack[:k] if path))
    return {levels: next(iter(p)) for levels, p in found.items() if len(p) == 1}
