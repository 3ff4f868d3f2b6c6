"""The ONNX artifact's intermediate tensors for `mobilesdk explain`: onnxruntime with the wanted node
outputs added as graph outputs. torch.onnx's dynamo exporter records each node's nn.Module path
(`pkg.torch.onnx.name_scopes`: module paths, then the fx node's name) and its source line."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from mobilesdk.drift import TapOp, Taps, user_line
from mobilesdk.spec import NP_DTYPES, ModelSpec


def onnx_ops(model) -> list[TapOp]:
    """The graph's nodes in order, each with the module paths the exporter recorded (none: no scope)."""
    ops = []
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        try:
            scopes = ast.literal_eval(meta.get("pkg.torch.onnx.name_scopes", "[]"))[:-1]
        except (ValueError, SyntaxError):
            scopes = []
        ops.append(TapOp(node.name, node.op_type, tuple(s for s in scopes if s), tuple(i for i in node.input if i),
                         tuple(node.output), user_line(meta.get("pkg.torch.onnx.stack_trace"))))
    return ops


def onnx_taps(path: Path, spec: ModelSpec, runtime: str = "onnxruntime, every node output exposed") -> Taps:
    import onnx

    model = onnx.load(str(path))
    types = elem_types(model)

    def read(inputs, names: list[str]) -> dict[str, np.ndarray]:
        import onnxruntime as ort

        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        have = {o.name for o in probe.graph.output}
        names = [n for n in names if n in types]
        for n in names:
            if n not in have:
                probe.graph.output.append(onnx.helper.make_tensor_value_info(n, types[n], None))
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feed = {t.name: np.ascontiguousarray(inputs[t.name], dtype=NP_DTYPES[t.dtype]) for t in spec.inputs}
        return dict(zip(names, session.run(names, feed)))

    return Taps(onnx_ops(model), tuple(o.name for o in model.graph.output), read, runtime)


def elem_types(model) -> dict[str, int]:
    """Each tensor's element type, from shape inference (onnxruntime needs it to output a tensor)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    return {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.output) + list(g.input)
            if v.type.HasField("tensor_type")}
