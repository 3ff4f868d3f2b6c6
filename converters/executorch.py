"""ExecuTorch backend: `.pte` programs lowered to XNNPACK, run by `executorch.runtime`.

Every precision starts from a deep copy of `ep.module()`: int8 quantizes it with PT2E and the XNNPACK
quantizer (per-channel symmetric weights; dynamic or calibrated static activations). The copy is
re-exported with the spec's dynamic axes and lowered to XNNPACK; what XNNPACK does not take runs on
ExecuTorch's portable kernels. The shared ExportedProgram is never lowered itself (see `convert`).
"""
from __future__ import annotations

import copy
import re
import time
import traceback
from pathlib import Path

import numpy as np

from converters.base import (
    BuildContext, Converted, Converter, Runner, import_problem, native_stderr_held, package_version, register,
)
from mobilesdk.errors import ConfigError, UnsupportedOpError

PTE_NAME = "model.pte"

# Non-kernel nodes that stay outside a delegate without costing a portable kernel.
_BOOKKEEPING = ("getitem", "executorch_call_delegate", "sym_size", "sym_numel", "sym_stride")

# Known lowering failures whose message names no node: (message pattern, op, hint).
_KNOWN_FAILURES = (
    (
        r"non-NHWC compatible node",
        "aten.prelu",
        "XNNPACK's channels-last pass cannot place this op next to a conv; for nn.PReLU on [B,C,T] use "
        "`torch.clamp(x, min=0) + w.view(-1, 1) * torch.clamp(x, max=0)` (TOOLCHAIN_TRAPS.md trap 1)",
    ),
    (
        r"reshape only supports 1 dynamic dimension",
        "aten.view_copy",
        "XNNPACK reshapes allow one dynamic axis; make the other axes of this tensor static in the spec "
        "(e.g. batch min == max) or reshape with one -1",
    ),
)


class ExecuTorchConverter(Converter):
    name = "executorch"
    suffix = ".pte"
    precisions = ("fp32", "int8-dynamic", "int8-static")
    runtime = "executorch.runtime"

    # toolchain -----------------------------------------------------------------------------------
    def check(self) -> str | None:
        modules = ("executorch.exir", "executorch.backends.xnnpack.partition.xnnpack_partitioner",
                   "executorch.extension.pybindings.portable_lib", "executorch.runtime")
        problem = import_problem("executorch", modules)
        if problem:
            return problem
        from executorch.extension.pybindings.portable_lib import _get_registered_backend_names

        if "XnnpackBackend" not in _get_registered_backend_names():
            return "the executorch runtime has no XNNPACK backend. Fix: run `make setup` (executorch wheel from PyPI)"
        return None

    def versions(self) -> dict[str, str]:
        return {dist: package_version(dist) for dist in ("executorch", "torch", "torchao")}

    # conversion ----------------------------------------------------------------------------------
    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision not in self.precisions:
            raise ConfigError(
                f"`executorch` has no precision `{precision}`; use one of {', '.join(self.precisions)}"
            )
        import torch

        start = time.perf_counter()
        meta: dict[str, str | int | float | bool] = {"precision": precision}
        # Trap 4: with mkldnn on, rerunning a fake conv (XNNPACK's Conv1dUnsqueezePass during lowering,
        # again during to_executorch) guards the length to <= 20480 via torch._C._select_conv_backend,
        # and memory planning then caps the input there. Export, lower and emit with it off.
        with torch.backends.mkldnn.flags(enabled=False), torch.no_grad():
            # Lower a re-export of a copy, never `ep` itself: to_edge leaves ep's graph and weights
            # alone but shares its ShapeEnv, so any guard added while lowering (trap 4's cap narrowed
            # ep's own range to [5121, 20480]) would leak into every other converter's input.
            gm = copy.deepcopy(ep.module())
            if _conv1d_rewrite_needed(ep):
                meta["conv1d_as_conv2d"] = _conv1d_as_conv2d(gm)
                if precision != "fp32":  # the quantizer annotates exported graphs only
                    gm = _reexport(gm, ctx).module()
            if precision != "fp32":
                gm, quant_meta = _quantize(gm, ctx, dynamic=precision == "int8-dynamic")
                meta.update(quant_meta)
            program = _reexport(gm, ctx)
            lowered = _lower(program)
            meta.update(_partition_stats(lowered.exported_program()))
            try:
                emitted = lowered.to_executorch()
            except Exception as e:
                raise _explain(e) from e
        _check_kernels(emitted)
        meta.update(_dynamic_ranges(emitted, ctx.spec))
        buffer = emitted.buffer
        path = Path(out_dir) / PTE_NAME
        path.write_bytes(buffer)
        meta["size_bytes"] = path.stat().st_size
        meta["convert_seconds"] = round(time.perf_counter() - start, 2)
        return Converted(files=[path], meta=meta)

    # running -------------------------------------------------------------------------------------
    def load(self, converted: Converted, ctx: BuildContext) -> Runner:
        from executorch.runtime import Runtime

        from mobilesdk.capture import to_torch

        spec = ctx.spec
        program = Runtime.get().load_program(Path(converted.files[0]))
        with native_stderr_held():  # XNNPACK's cpuinfo prints probe lines while the method loads
            method = program.load_method("forward")

        def run(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            _check_shapes(arrays, spec)
            outs = method.execute(list(to_torch(arrays, spec)))
            if len(outs) != len(spec.outputs):
                n = len(spec.outputs)
                raise ValueError(f"{converted.files[0]} returned {len(outs)} outputs; the spec declares {n}")
            # Copy: outputs may live in the method's planned memory, which the next execute overwrites.
            return {
                o.name: np.array(t.detach().cpu().numpy(), dtype=o.dtype, copy=True)
                for o, t in zip(spec.outputs, outs)
            }

        run.program = program  # keep the program alive as long as the runner
        return run


register(ExecuTorchConverter())


# helpers ------------------------------------------------------------------------------------------
def _reexport(gm, ctx: BuildContext):
    """torch.export a rewritten or quantized `ep.module()` again, with the spec's dynamic axes."""
    import inspect

    import torch

    from mobilesdk.capture import dynamic_shapes, to_torch

    args = tuple(t.clone() for t in to_torch(ctx.example_inputs, ctx.spec))  # trap 8: fresh tensors
    shapes = dynamic_shapes(ctx.spec, strict=False)
    ordered = tuple(shapes[t.name] for t in ctx.spec.inputs)
    params = inspect.signature(gm.forward).parameters.values()
    var = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    return torch.export.export(gm, args, dynamic_shapes={var: ordered} if var else ordered)


def _quantize(gm, ctx: BuildContext, dynamic: bool):
    """PT2E with the XNNPACK quantizer; returns the converted module and manifest facts.

    Static int8 keeps the model's ends in fp32 (`_float_ends`): int8 per-tensor activations lose the
    quiet parts of a raw float input (an utterance's silence is ~40 dB below its voiced frames, and a
    per-frame LayerNorm after the first conv blows the lost frames back up to full scale), and they
    clip output heads whose range depends on the valid length (a masked mean over 1 token is ~5x
    wider than over 30). Dynamic int8 quantizes Linear weights only and is left as it was.
    """
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from mobilesdk.capture import to_torch

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=dynamic)
    kept: list[str] = []

    class EndsInFloat(XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            kept.extend(_unannotate(model, _float_ends(model.graph)))
            return model

    quantizer = (XNNPACKQuantizer() if dynamic else EndsInFloat()).set_global(config)
    prepared = prepare_pt2e(gm, quantizer)
    # Dynamic activations need no statistics; one run settles the observers' shapes.
    batches = [ctx.example_inputs] if dynamic else (ctx.calibration or [ctx.example_inputs])
    for batch in batches:
        prepared(*to_torch(batch, ctx.spec))
    converted = convert_pt2e(prepared)
    meta = {"quantizer": f"xnnpack symmetric per-channel {'dynamic' if dynamic else 'static'}"}
    if not dynamic:
        meta["calibration_batches"] = len(batches)
        meta["fp32_ops"] = len(kept)
    return converted, meta


_CONV1D_TARGETS = ("aten.conv1d.default", "aten.conv1d.padding", "aten.conv_transpose1d.default")
_WEIGHTED_OPS = (*_CONV1D_TARGETS, "aten.linear.default", "aten.conv2d.default", "aten.conv2d.padding",
                 "aten.convolution.default", "aten.conv_transpose2d.input", "aten.addmm.default")


def _float_ends(graph) -> set:
    """The nodes static int8 leaves in fp32: the model's first and last layers.

    First: everything between a floating-point graph input (audio, features; not token ids or
    masks) and the first Linear/conv on each path, that layer included. Last: every Linear/conv from
    which a graph output is reachable without crossing another one, and the ops after it
    (log_softmax, softplus, output masks, reshapes).
    """
    import torch

    def weighted(n) -> bool:
        return n.op == "call_function" and _op_name(n.target) in _WEIGHTED_OPS

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
            if not weighted(user):
                stack.append(user)
    output = next(n for n in graph.nodes if n.op == "output")
    stack, seen = list(output.all_input_nodes), set()
    while stack:  # backward from the outputs, stopping at the last weighted op
        node = stack.pop()
        if node in seen or node.op != "call_function":
            continue
        seen.add(node)
        keep.add(node)
        if not weighted(node):
            stack.extend(node.all_input_nodes)
    return keep


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


def _partitioner():
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


def _lower(program):
    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

    # The edge verifier's dtype validator calls len() on the first tensor returned by list-returning
    # ops (split_with_sizes_copy from chunk/split), which guards on a dynamic axis 0 and silently
    # specialises it (batch pinned to the example's size; executorch 1.5.1,
    # exir/verification/arg_validator.py). Skip the verifier; `_check_kernels` and `_dynamic_ranges`
    # check what matters for the artifact instead.
    config = EdgeCompileConfig(_check_ir_validity=False)
    try:
        return to_edge_transform_and_lower(program, partitioner=[_partitioner()], compile_config=config)
    except Exception as e:
        raise _explain(e) from e


def _symbolic_count(val) -> int:
    import torch

    shape = getattr(val, "shape", ())
    return sum(1 for s in shape if isinstance(s, torch.SymInt))


def _conv1d_nodes(graph):
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        name = _op_name(node.target)
        if name in _CONV1D_TARGETS or (name == "aten.convolution.default" and _rank(node.args[1]) == 3):
            if _symbolic_count(node.args[0].meta.get("val")) > 1:
                yield node


def _rank(node) -> int:
    val = getattr(node, "meta", {}).get("val")
    return val.dim() if val is not None else -1


def _conv1d_rewrite_needed(ep) -> bool:
    return any(True for _ in _conv1d_nodes(ep.graph))


def _conv1d_as_conv2d(gm) -> int:
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
        name = _op_name(node.target)
        w = _get_attr(gm, weight.target)
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
        node.replace_all_uses_with(out)
        gm.graph.erase_node(node)
        if not weight.users:
            gm.graph.erase_node(weight)
        count += 1
    gm.graph.lint()
    gm.recompile()
    return count


def _get_attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _op_name(target) -> str:
    """`aten.convolution.default` for ATen and edge ops alike; the plain name for other callables."""
    import torch

    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    op = getattr(target, "_op", None)  # executorch's EdgeOpOverload wraps an ATen OpOverload
    if isinstance(op, torch._ops.OpOverload):
        return str(op)
    return getattr(target, "__name__", None) or str(target)


def _partition_stats(edge_ep) -> dict:
    delegates, portable = 0, []
    for node in edge_ep.graph.nodes:
        if node.op != "call_function":
            continue
        name = _op_name(node.target)
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


def _dynamic_ranges(emitted, spec) -> dict:
    """The declared dynamic ranges, after checking the .pte's planned inputs can hold their max.

    The runtime only checks an input's element count against its planned capacity, so a capacity
    narrowed by lowering (an axis specialised to the example, or trap 4's 20480 cap) must fail here.
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
                    "TORCH_LOGS=+dynamic (TOOLCHAIN_TRAPS.md trap 4)",
                )
    if not dynamic:
        return {"shapes": "static"}
    return {"shapes": "dynamic", **{f"dim.{n}": f"{d.min}..{d.max}" for n, d in dynamic.items()}}


def _check_kernels(program_et) -> None:
    """Every non-delegated op must have a kernel in the runtime, or the .pte fails only at load."""
    from executorch.extension.pybindings.portable_lib import _get_operator_names

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


def _check_shapes(arrays: dict[str, np.ndarray], spec) -> None:
    lengths: dict[str, int] = {}
    for t in spec.inputs:
        if t.name not in arrays:
            raise ValueError(f"missing input `{t.name}`")
        shape = arrays[t.name].shape
        if len(shape) != len(t.shape):
            raise ValueError(f"input `{t.name}` has rank {len(shape)}, spec declares {t.shape}")
        for n, s in zip(shape, t.shape):
            if isinstance(s, int):
                if n != s:
                    raise ValueError(f"input `{t.name}` has shape {shape}, spec declares {t.shape}")
            elif spec.derived(s) is None:
                d = spec.dim(s)
                if not d.check(n) or lengths.setdefault(s, n) != n:
                    raise ValueError(
                        f"input `{t.name}` has {s}={n}; spec allows {d.min}..{d.max} (multiple of "
                        f"{d.multiple_of}) and the same {s} for every input"
                    )


def _explain(e: BaseException) -> BaseException:
    """An UnsupportedOpError when the failing op can be named, else the original error."""
    if isinstance(e, UnsupportedOpError):
        return e
    chain, cur = [], e
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " | ".join(str(x) for x in chain)
    cause = _first_line(chain[-1])
    node = _failing_node(chain)
    op = _op_name(node.target) if node is not None else ""
    where = node.name if node is not None else ""
    for pattern, default_op, hint in _KNOWN_FAILURES:
        if re.search(pattern, text):
            return UnsupportedOpError(op or default_op, "executorch", f"{hint} ({cause})", node=where)
    if not op:
        m = re.search(r"\b(aten|quantized_decomposed|dim_order_ops)(\.|::)\w+(\.\w+)?", text)
        op = m.group(0).replace("::", ".") if m else ""
    if op:
        hint = f"rewrite this op in the model, or report it to ExecuTorch's XNNPACK backend ({cause})"
        return UnsupportedOpError(op, "executorch", hint, node=where)
    return e


def _failing_node(chain):
    """The innermost torch.fx call_function node a failing frame was working on, if any."""
    import torch

    for exc in reversed(chain):
        frames = [f for f, _ in traceback.walk_tb(exc.__traceback__)]
        for frame in reversed(frames):
            for var in ("target_node", "node", "input_node", "n"):
                v = frame.f_locals.get(var)
                if isinstance(v, torch.fx.Node) and v.op == "call_function":
                    return v
    return None


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return f"{type(e).__name__}: {s.splitlines()[0] if s else ''}"[:300]
