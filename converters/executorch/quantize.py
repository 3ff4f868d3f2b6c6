"""PT2E int8 for ExecuTorch with the XNNPACK quantizer; static int8 keeps the model's ends in fp32,
dynamic int8 quantizes Linear layers only; both store embedding tables weight-only int8 (XNNPACK's
quantizer leaves them fp32, and they are most of a text model's bytes); either leaves the modules the
`float_modules` option names in fp32."""
from __future__ import annotations

from converters.base import BuildContext, module_paths
from converters.executorch.lowering import WEIGHTED_OPS, op_name


def quantize(gm, ctx: BuildContext, dynamic: bool, tables: bool = True):
    """PT2E with the XNNPACK quantizer; returns the converted module and manifest facts.

    Static int8 keeps the model's ends in fp32 (`float_ends`; why:
    docs/decisions.md#static-int8-keeps-the-models-ends-in-float). Dynamic int8 quantizes Linear
    layers only (docs/decisions.md#executorch-dynamic-int8-quantizes-linear-layers-only). Both then
    store every embedding table weight-only int8 (`quantize_embeddings`; the ends rule does not apply,
    as no activation is quantized there). `ctx.options["float_modules"]`: nn.Module paths (as the
    model names them, or as torch.export does, under `module.`) whose ops stay fp32, for a
    quantization-sensitivity sweep; an embedding named there keeps its table fp32. `tables` False
    keeps every table fp32 (`write`'s second try when int8 tables fail parity).
    """
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from mobilesdk.capture import to_torch

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic)
    floats = module_paths(gm.graph, ctx.options.get("float_modules") or [])
    kept: list[str] = []

    class Quantizer(XNNPACKQuantizer):
        def transform_for_annotation(self, model):
            return _scalars_to_attrs(model)  # upstream's keeps no dtype: pytorch/executorch#22062

        def annotate(self, model):
            # set_module_name(path, None) would say the same, but executorch 1.5.1 asserts a config
            model = super().annotate(model)
            keep = in_modules(model.graph, floats) | (set() if dynamic else float_ends(model.graph))
            kept.extend(_unannotate(model, keep))
            return model

    if dynamic:
        # Not set_global: XNNPACK's dynamic config also takes 2-D convs, which conv1d_as_conv2d makes
        # of 1-D ones when batch and length are dynamic (HuBERT's conv feature encoder: -10 dB).
        quantizer = Quantizer().set_operator_type(torch.ops.aten.linear.default, config)
    else:
        quantizer = Quantizer().set_global(config)
    prepared = prepare_pt2e(gm, quantizer)
    # Dynamic activations need no statistics; one run settles the observers' shapes.
    batches = [ctx.example_inputs] if dynamic else (ctx.calibration or [ctx.example_inputs])
    for batch in batches:
        prepared(*to_torch(batch, ctx.spec))
    converted = convert_pt2e(prepared)
    tables = quantize_embeddings(converted, skip=in_modules(converted.graph, floats)) if tables else []
    meta = {"quantizer": f"xnnpack symmetric per-channel {'dynamic' if dynamic else 'static'}",
            "int8_layers": sum(1 for n in converted.graph.nodes if _weighted(n)
                               and op_name(n.args[1].target).startswith("quantized_decomposed.dequantize")),
            "int8_embeddings": len(tables)}
    if floats:
        meta["float_modules"] = ",".join(floats)
    if not dynamic:
        meta["calibration_batches"] = len(batches)
        meta["fp32_ops"] = len(kept)
    return converted, meta


def quantize_embeddings(gm, skip: set = frozenset()) -> list[str]:
    """Store each embedding table int8, symmetric per row, looked up by ExecuTorch's
    `quantized_decomposed.embedding_byte`; returns the tables' attribute names.

    Why: XNNPACK's quantizer leaves `aten.embedding` fp32, and a text model's vocabulary table is most
    of its bytes (docs/decisions.md#executorch-int8-stores-embedding-tables-int8-issue-19).
    Weight-only: a lookup dequantizes just its rows, so its output stays fp32 and nothing downstream
    changes. XNNPACK has no embedding op: the lookup runs on the quantized kernels library
    (registered by `lowering.load_quantized_kernels`), as in ExecuTorch's LLM export
    (`--embedding-quantize 8,0`). Lookups in `skip` (`float_modules`) stay fp32, and so does a table
    any other op reads (a weight tied to a float head), which would otherwise be stored twice.
    """
    import torch
    from executorch.exir.passes import _quant_patterns_and_replacements  # noqa: F401  (defines embedding_byte)

    from converters.executorch.lowering import get_attr

    aten = torch.ops.aten
    readers: dict[str, list] = {}  # attribute -> every node reading it
    for n in gm.graph.nodes:
        if n.op == "get_attr":
            readers.setdefault(n.target, []).extend(n.users)
    done = []
    for target, users in readers.items():
        if not users or any(u.op != "call_function" or u.target is not aten.embedding.default
                            or u.args[0].target != target or u in skip for u in users):
            continue
        w = get_attr(gm, target)
        if not (isinstance(w, torch.Tensor) and w.dtype == torch.float32 and w.dim() == 2):
            continue
        w = w.detach()
        amax = w.abs().amax(dim=1)
        scales = torch.where(amax > 0, amax / 127, torch.ones_like(amax))  # an all-zero row (padding_idx): 1
        qweight = torch.clamp(torch.round(w / scales[:, None]), -127, 127).to(torch.int8)
        base = f"_et_embedding_{len(done)}"
        gm.register_buffer(f"{base}_int8", qweight)
        gm.register_buffer(f"{base}_scales", scales.contiguous())
        for node in users:
            indices, made = node.args[1], []
            with gm.graph.inserting_before(node):
                if indices.meta["val"].dtype != torch.int64:  # the kernel reads int64 indices only
                    indices = gm.graph.call_function(aten._to_copy.default, (indices,), {"dtype": torch.int64})
                    made.append(indices)
                table, row_scales = gm.graph.get_attr(f"{base}_int8"), gm.graph.get_attr(f"{base}_scales")
                made.append(gm.graph.call_function(torch.ops.quantized_decomposed.embedding_byte.default,
                                                   (table, row_scales, None, -127, 127, indices)))
            for new in made:  # keep the module path: float_modules, drift taps and explain read it
                new.meta.update({k: node.meta[k] for k in ("nn_module_stack", "stack_trace") if k in node.meta})
            lookup = made[-1]
            node.replace_all_uses_with(lookup)
            weight = node.args[0]
            gm.graph.erase_node(node)
            if not weight.users:
                gm.graph.erase_node(weight)
        owner, _, name = target.rpartition(".")
        delattr(get_attr(gm, owner) if owner else gm, name)  # else the re-export still lists the fp32 table
        done.append(target)
    gm.graph.lint()
    gm.recompile()
    return done


def in_modules(graph, paths: list[str]) -> set:
    """The nodes torch.export recorded as called inside any of the modules `paths`."""
    wanted = set(paths)
    return {n for n in graph.nodes
            if wanted & {path for path, _ in (n.meta.get("nn_module_stack") or {}).values()}}


def _scalars_to_attrs(model):
    """XNNPACKQuantizer.transform_for_annotation, keeping each node's dtype: lift the scalar operands
    of add/mul to buffers, so they can be quantized.

    Upstream lifts them as float32 whatever the node's dtype, so integer math (`arange(T) + 0` for
    position ids, mask lengths) turns float and the prepared model fails: "tensors used as indices
    must be long" or "Tensor dtype mismatch" (pytorch/executorch#22062; fixed by #22065, not in 1.5.1).
    """
    import torch
    from torchao.quantization.pt2e.utils import get_new_attr_name_with_prefix

    aten = torch.ops.aten
    for n in model.graph.nodes:
        if n.op != "call_function" or n.target not in (aten.add.Tensor, aten.mul.Tensor):
            continue
        val = n.meta["val"]
        args = list(n.args)
        for i, a in enumerate(args):
            if isinstance(a, torch.fx.Node):
                continue
            name = get_new_attr_name_with_prefix("_tensor_constant_")(model)
            model.register_buffer(name, torch.tensor(a, dtype=val.dtype))
            with model.graph.inserting_before(n):
                args[i] = model.graph.get_attr(name)
            args[i].meta["val"] = val.fake_mode.from_tensor(getattr(model, name), static_shapes=True)
        n.args = tuple(args)
    model.recompile()
    return model


def float_ends(graph) -> set:
    """The nodes static int8 leaves in fp32: the model's first and last layers.

    First: everything between a floating-point graph input (audio, features; not token ids or
    masks) and the first Linear/conv on each path, that layer included. Last: every Linear/conv from
    which a graph output is reachable without crossing another one, and the ops after it
    (log_softmax, softplus, output masks, reshapes).
    """
    import torch

    keep: set = set()
    stack = [n for n in graph.nodes if n.op == "placeholder"
             and isinstance(n.meta.get("val"), torch.Tensor) and n.meta["val"].is_floating_point()]
    seen = set(stack)
    while stack:  # forward from float inputs, stopping after the first weighted op
        node = stack.pop()
        for user in node.users:
            if user in seen or user.op != "call_function":
                continue
            seen.add(user)
            keep.add(user)
            if not _weighted(user):
                stack.append(user)
    output = next(n for n in graph.nodes if n.op == "output")
    stack, seen = list(output.all_input_nodes), set()
    while stack:  # backward from the outputs, stopping at the last weighted op
        node = stack.pop()
        if node in seen or node.op != "call_function":
            continue
        seen.add(node)
        keep.add(node)
        if not _weighted(node):
            stack.extend(node.all_input_nodes)
    return keep


def _weighted(n) -> bool:
    return n.op == "call_function" and op_name(n.target) in WEIGHTED_OPS


def _unannotate(model, nodes: set) -> list[str]:
    """Drop the quantizer's annotations on `nodes`, then on any node whose shared quantization spec
    pointed at a dropped one (prepare_pt2e fails on a dangling SharedQuantizationSpec)."""
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    key = "quantization_annotation"
    dropped = [n.name for n in nodes if n.meta.pop(key, None) is not None]

    def resolvable(ref) -> bool:
        if isinstance(ref, tuple):  # an edge (producer, consumer): the consumer's input spec
            src, dst = ref
            ann = dst.meta.get(key)
            return ann is not None and ann.input_qspec_map.get(src) is not None
        ann = ref.meta.get(key)
        return ann is not None and ann.output_qspec is not None

    changed = True
    while changed:
        changed = False
        for n in model.graph.nodes:
            ann = n.meta.get(key)
            if ann is None:
                continue
            specs = [*ann.input_qspec_map.values(), ann.output_qspec]
            if any(isinstance(q, SharedQuantizationSpec) and not resolvable(q.edge_or_node) for q in specs):
                del n.meta[key]
                dropped.append(n.name)
                changed = True
    return dropped
