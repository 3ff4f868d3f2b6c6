"""PT2E int8 for ExecuTorch with the XNNPACK quantizer; static int8 keeps the model's ends in fp32."""
from __future__ import annotations

from converters.base import BuildContext
from converters.executorch.lowering import WEIGHTED_OPS, op_name


def quantize(gm, ctx: BuildContext, dynamic: bool):
    """PT2E with the XNNPACK quantizer; returns the converted module and manifest facts.

    Static int8 keeps the model's ends in fp32 (`float_ends`; why:
    docs/decisions.md#static-int8-keeps-the-models-ends-in-float). Dynamic int8 quantizes Linear
    weights only.
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
            kept.extend(_unannotate(model, float_ends(model.graph)))
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


def float_ends(graph) -> set:
    """The nodes static int8 leaves in fp32: the model's first and last layers.

    First: everything between a floating-point graph input (audio, features; not token ids or
    masks) and the first Linear/conv on each path, that layer included. Last: every Linear/conv from
    which a graph output is reachable without crossing another one, and the ops after it
    (log_softmax, softplus, output masks, reshapes).
    """
    import torch

    def weighted(n) -> bool:
        return n.op == "call_function" and op_name(n.target) in WEIGHTED_OPS

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
