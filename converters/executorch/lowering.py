"""Lowering to XNNPACK and reading the result back: the partitioner, the 1-D conv rewrite, partition
facts, planned input capacities, kernel availability, and errors that name the failing op."""
from __future__ import annotations

import re
import traceback

from mobilesdk.errors import KnownFailure, UnsupportedOpError, chain, explain, summary


# Non-kernel nodes that stay outside a delegate without costing a portable kernel.
_BOOKKEEPING = ("getitem", "executorch_call_delegate", "sym_size", "sym_numel", "sym_stride")


# Lowering failures we can name from the message alone.
KNOWN_FAILURES = (
    KnownFailure(
        r"non-NHWC compatible node",
        "XNNPACK's channels-last pass cannot place this op next to a conv; for nn.PReLU on [B,C,T] use "
        "`torch.clamp(x, min=0) + w.view(-1, 1) * torch.clamp(x, max=0)` (docs/toolchain-traps.md#1)",
        op="aten.prelu",
    ),
    KnownFailure(
        r"reshape only supports 1 dynamic dimension",
        "XNNPACK reshapes allow one dynamic axis; make the other axes of this tensor static in the spec "
        "(e.g. batch min == max) or reshape with one -1",
        op="aten.view_copy",
    ),
    # Last: any op name in the message, when no entry above knew the failure.
    KnownFailure(
        r"\b((?:aten|quantized_decomposed|dim_order_ops)(?:\.|::)\w+(?:\.\w+)?)",
        "rewrite this op in the model, or report it to ExecuTorch's XNNPACK backend",
    ),
)

CONV1D_TARGETS = ("aten.conv1d.default", "aten.conv1d.padding", "aten.conv_transpose1d.default")
WEIGHTED_OPS = (*CONV1D_TARGETS, "aten.linear.default", "aten.conv2d.default", "aten.conv2d.padding",
                "aten.convolution.default", "aten.conv_transpose2d.input", "aten.addmm.default")


def partitioner():
    """XNNPACK's partitioner, minus unsqueezes it cannot serialise.

    UnsqueezeCopyConfig accepts a trailing unsqueeze whatever its shape, but XNNPACK's static_reshape
    allows one dynamic axis, so `mask.unsqueeze(-1)` on [batch, T] fails in preprocess with "XNNPACK
    reshape only supports 1 dynamic dimension" (ViewCopyConfig has the check; upstream
    pytorch/executorch#11449). Such unsqueezes stay on the portable kernel.
    """
    from executorch.backends.xnnpack.partition.config import ALL_PARTITIONER_CONFIGS
    from executorch.backends.xnnpack.partition.config.generic_node_configs import UnsqueezeCopyConfig
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    class OneDynamicAxisUnsqueeze(UnsqueezeCopyConfig):
        def check_constraints(self, node, ep) -> bool:
            return super().check_constraints(node, ep) and _symbolic_count(node.meta.get("val")) <= 1

    configs = [OneDynamicAxisUnsqueeze if c is UnsqueezeCopyConfig else c for c in ALL_PARTITIONER_CONFIGS]
    return XnnpackPartitioner(configs=configs)


def lower(program):
    from executorch.exir import EdgeCompileConfig

    # The edge verifier's dtype validator calls len() on the first tensor returned by list-returning
    # ops (split_with_sizes_copy from chunk/split), which guards on a dynamic axis 0 and silently
    # specialises it (batch pinned to the example's size; executorch 1.5.1,
    # exir/verification/arg_validator.py). Skip the verifier; `check_kernels` and `dynamic_ranges`
    # check what matters for the artifact instead.
    config = EdgeCompileConfig(_check_ir_validity=False)
    try:
        return to_edge_transform_and_lower(program, partitioner(), config)
    except Exception as e:
        raise explain_lowering(e) from e


# Tracing queries of a symbolic shape gives the same query back: nothing to decompose.
_SHAPE_QUERIES = ("aten.sym_size.", "aten.sym_stride.", "aten.sym_numel.", "aten.sym_storage_offset.")


def to_edge_transform_and_lower(program, part, config):
    """`executorch.exir.to_edge_transform_and_lower(program, partitioner=[part], compile_config=config)`,
    one method and one partitioner, tracing the program once instead of three times; the same .pte.

    Upstream (executorch 1.5.1, exir/program/_program.py `_gen_edge_manager_for_partitioners`) runs
    `run_decompositions` three times, each a full retrace with the symbolic dims (5 s each on the
    small aligner): `{}` to functionalize, then the default table minus the partitioner's kept ops,
    then the whole table after renaming the kept nodes XNNPACK takes, to decompose the kept nodes it
    does not. Here the first two are one call (the table's own retrace functionalizes), and the third
    runs only when such a node is left: the XNNPACK partitioner's kept ops are static, and upstream's
    own skip of that call (`contains_any_call_fn_target_op`) never fires with dynamic shapes because the
    table lists `aten.sym_size.int`. The .pte bytes equal upstream's on every reference family at every
    precision (tests/backends/test_executorch.py). The name is upstream's: XnnpackPartitioner looks for
    it on the stack, else it warns that to_edge + to_backend is deprecated.
    """
    from executorch.exir import to_edge_transform_and_lower as upstream
    from executorch.exir.program import _program as P

    name = "forward"
    program = part.transform_for_pre_decomposition(program)
    keep, check = part.ops_to_not_decompose(program)
    if check is None:  # upstream's other route, for partitioners without an op check
        return upstream(program, partitioner=[part], compile_config=config)
    table = P._default_decomposition_table()
    for op in P._remove_invalid_ops_for_not_decompose(keep):
        table.pop(op, None)
    program = program.run_decompositions(table)
    preserved = P._replace_aten_ops_with_transformed_ops(name, program, {name: [part]}) or set()
    table = P._default_decomposition_table()
    if _decomposes_any(program.graph_module, table):
        program = program.run_decompositions(table)
    P._restore_transformed_ops_to_aten_ops(program)
    edge = P._generate_edge_program(config, program, preserve_ops=list(preserved))
    config._core_aten_ops_exception_list = list(set(config._core_aten_ops_exception_list) | preserved)
    manager = P.EdgeProgramManager({name: edge}, None, config, list(preserved)).to_backend({name: part})
    lowered = manager.exported_program(name)
    keep, check = part.ops_to_not_decompose(lowered)
    P._sanity_check_graph_for_non_decomp_ops(name, lowered, set(P._remove_invalid_ops_for_not_decompose(keep)), check,
                                             generate_error=True, partitioner_name=type(part).__name__)
    return manager


def _decomposes_any(graph_module, table) -> bool:
    """Whether a node of the graph or its control-flow subgraphs calls an op `table` decomposes."""
    import torch

    return any(n.op == "call_function" and n.target in table and not str(n.target).startswith(_SHAPE_QUERIES)
               for gm in graph_module.modules() if isinstance(gm, torch.fx.GraphModule) for n in gm.graph.nodes)


def _symbolic_count(val) -> int:
    import torch

    shape = getattr(val, "shape", ())
    return sum(1 for s in shape if isinstance(s, torch.SymInt))


def _conv1d_nodes(graph):
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        name = op_name(node.target)
        if name in CONV1D_TARGETS or (name == "aten.convolution.default" and _rank(node.args[1]) == 3):
            if _symbolic_count(node.args[0].meta.get("val")) > 1:
                yield node


def _rank(node) -> int:
    val = getattr(node, "meta", {}).get("val")
    return val.dim() if val is not None else -1


def conv1d_rewrite_needed(ep) -> bool:
    return any(True for _ in _conv1d_nodes(ep.graph))


def conv1d_as_conv2d(gm) -> int:
    """Rewrite 1-D convs on inputs with >1 dynamic axis as 2-D convs over [B, C, 1, T].

    XNNPACK's Conv1dUnsqueezePass reshapes [B, C, T] to [B, C, T, 1] with a static_reshape, which
    allows one dynamic axis: with dynamic batch *and* length lowering fails ("XNNPACK reshape only
    supports 1 dynamic dimension"; upstream pytorch/executorch#11449). Here the (un)squeeze happens
    outside the delegate, on portable kernels, and the 2-D conv itself is still delegated.
    """
    import torch

    aten = torch.ops.aten
    count = 0
    for node in list(_conv1d_nodes(gm.graph)):
        weight = node.args[1]
        if weight.op != "get_attr" or node.kwargs:
            continue  # a computed weight keeps the conv out of XNNPACK anyway, so nothing to reshape
        name = op_name(node.target)
        w = get_attr(gm, weight.target)
        new_name = f"_et_conv2d_weight_{count}"
        gm.register_parameter(new_name, torch.nn.Parameter(w.detach().unsqueeze(2).contiguous(), requires_grad=False))
        a = list(node.args) + [None] * (9 - len(node.args))

        def lift(v, fill, default):  # a 1-D int list -> 2-D, with the new H axis first
            return [fill, *(v if v is not None else default)]

        with gm.graph.inserting_before(node):
            x4 = gm.graph.call_function(aten.unsqueeze.default, (node.args[0], 2))
            w4 = gm.graph.get_attr(new_name)
            if name == "aten.conv1d.default":  # (x, w, b, stride, padding, dilation, groups)
                target = aten.conv2d.default
                rest = (lift(a[3], 1, [1]), lift(a[4], 0, [0]), lift(a[5], 1, [1]), a[6] or 1)
            elif name == "aten.conv1d.padding":  # padding is "same" / "valid"
                target = aten.conv2d.padding
                rest = (lift(a[3], 1, [1]), a[4] or "valid", lift(a[5], 1, [1]), a[6] or 1)
            elif name == "aten.conv_transpose1d.default":  # (..., stride, padding, output_padding, groups, dilation)
                target = aten.conv_transpose2d.input
                rest = (lift(a[3], 1, [1]), lift(a[4], 0, [0]), lift(a[5], 0, [0]), a[6] or 1, lift(a[7], 1, [1]))
            else:  # aten.convolution.default: (..., stride, padding, dilation, transposed, output_padding, groups)
                target = aten.convolution.default
                rest = (lift(a[3], 1, [1]), lift(a[4], 0, [0]), lift(a[5], 1, [1]), a[6], lift(a[7], 0, [0]), a[8])
            args = (x4, w4, a[2], *rest)
            conv = gm.graph.call_function(target, args)
            out = gm.graph.call_function(aten.squeeze.dim, (conv, 2))
        for new in (x4, conv, out):  # keep the module path: the quantizer's set_module_name and explain read it
            new.meta.update({k: node.meta[k] for k in ("nn_module_stack", "stack_trace") if k in node.meta})
        node.replace_all_uses_with(out)
        gm.graph.erase_node(node)
        if not weight.users:
            gm.graph.erase_node(weight)
        count += 1
    gm.graph.lint()
    gm.recompile()
    return count


def get_attr(gm, target: str):
    """The module attribute a get_attr node's dotted `target` names."""
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def op_name(target) -> str:
    """`aten.convolution.default` for ATen and edge ops alike; the plain name for other callables."""
    import torch

    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    op = getattr(target, "_op", None)  # executorch's EdgeOpOverload wraps an ATen OpOverload
    if isinstance(op, torch._ops.OpOverload):
        return str(op)
    return getattr(target, "__name__", None) or str(target)


def partition_stats(edge_ep) -> dict:
    delegates, portable = 0, []
    for node in edge_ep.graph.nodes:
        if node.op != "call_function":
            continue
        name = op_name(node.target)
        if "executorch_call_delegate" in name:
            delegates += 1
        elif not any(b in name for b in _BOOKKEEPING) and not _is_python_op(node.target):
            portable.append(re.sub(r"^(aten|dim_order_ops|quantized_decomposed)\.", "", name).removesuffix(".default"))
    names = ",".join(sorted(set(portable)))
    return {
        "delegated_partitions": delegates,
        "portable_ops": len(portable),
        "portable_op_names": names if len(names) <= 200 else names[:197] + "...",
    }


def _is_python_op(target) -> bool:
    import operator

    return getattr(target, "__module__", "") in ("_operator", operator.__name__)


def dynamic_ranges(emitted, spec) -> dict:
    """The declared dynamic ranges, after checking the .pte's planned inputs can hold their max.

    The runtime only checks an input's element count against its planned capacity, so a capacity
    narrowed by lowering (an axis specialised to the example, or the 20480 cap of
    docs/toolchain-traps.md#4) must fail here.
    """
    dynamic = {d.name: d for d in spec.dims if d.min != d.max}
    plan = emitted.executorch_program.execution_plan[0]
    for t, index in zip(spec.inputs, plan.inputs):
        sizes = list(plan.values[index].val.sizes)
        for axis, s in enumerate(t.shape):
            if s in dynamic and sizes[axis] < dynamic[s].max:
                raise UnsupportedOpError(
                    f"dynamic axis {s} of input {t.name} (max {dynamic[s].max})",
                    "executorch",
                    f"lowering bounded `{s}` to {sizes[axis]} (planned input shape {sizes}); an op guards "
                    f"on this length. Lower the spec's max for `{s}` to {sizes[axis]}, or find the op with "
                    "TORCH_LOGS=+dynamic (docs/toolchain-traps.md#4)",
                )
    if not dynamic:
        return {"shapes": "static"}
    return {"shapes": "dynamic", **{f"dim.{n}": f"{d.min}..{d.max}" for n, d in dynamic.items()}}


def load_quantized_kernels() -> None:
    """Register ExecuTorch's quantized kernels library (`embedding_byte` for int8 embedding tables,
    the quantize/dequantize ops int8 leaves outside XNNPACK) in this process's runtime: the wheel's
    pybindings hold only the portable kernels until `executorch.kernels.quantized` is imported."""
    import executorch.kernels.quantized  # noqa: F401


def check_kernels(program_et) -> None:
    """Every non-delegated op must have a kernel in the runtime, or the .pte fails only at load."""
    from executorch.extension.pybindings.portable_lib import _get_operator_names

    load_quantized_kernels()
    registered = set(_get_operator_names())
    for plan in program_et.executorch_program.execution_plan:
        for op in plan.operators:
            full = f"{op.name}.{op.overload}" if op.overload else op.name
            if full not in registered:
                raise UnsupportedOpError(
                    full.replace("::", "."),
                    "executorch",
                    "the executorch runtime has no kernel for it and XNNPACK did not take it; "
                    "rewrite it in the model with ops XNNPACK or the portable kernels support",
                )


def explain_lowering(e: BaseException) -> BaseException:
    """An UnsupportedOpError naming the failing op (and node, when a frame holds one), else `e`."""
    node = _failing_node(chain(e))
    if node is None:
        return explain(e, "executorch", KNOWN_FAILURES) or e
    known = explain(e, "executorch", KNOWN_FAILURES[:-1], node=node.name)
    hint = f"{KNOWN_FAILURES[-1].hint} ({summary(chain(e)[-1])})"
    return known or UnsupportedOpError(op_name(node.target), "executorch", hint, node=node.name)


def _failing_node(errors):
    """The innermost torch.fx call_function node a failing frame was working on, if any."""
    import torch

    for exc in reversed(errors):
        frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)]
        for frame in reversed(frames):
            for var in ("target_node", "node", "input_node", "n"):
                v = frame.f_locals.get(var)
                if isinstance(v, torch.fx.Node) and v.op == "call_function":
                    return v
    return None
