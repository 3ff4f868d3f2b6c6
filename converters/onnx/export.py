"""PyTorch -> ONNX from the shared ExportedProgram (`torch.onnx.export(ep, dynamo=True)`), once per
program, with a check that the spec's dynamic axes survived (docs/toolchain-traps.md#6)."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from converters.base import memo_per_program
from mobilesdk.errors import ConversionError, KnownFailure, MobileSDKError, explain, summary
from mobilesdk.spec import ModelSpec

ONNX_NAME = "model.onnx"


def export_onnx(ep, spec: ModelSpec, path: Path, model: str = "") -> dict[str, list]:
    """Write `ep` as one self-contained ONNX file at `path`; return each input's dims as saved.

    Input and output names are the spec's. Raises UnsupportedOpError when the exporter names an op
    it cannot translate, ConversionError when a declared dynamic axis came out static (docs/toolchain-traps.md#6).
    """
    model = model or spec.name
    data = memo_per_program(ep, ("onnx", spec.digest()), lambda: _export_bytes(ep, spec, model))
    path = Path(path)
    path.write_bytes(data)
    return check_dynamic(path, spec, model)


def _export_bytes(ep, spec: ModelSpec, model: str) -> bytes:
    import tempfile

    import torch

    with tempfile.TemporaryDirectory(prefix="mobilesdk-onnx-") as tmp:
        target = Path(tmp) / ONNX_NAME
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), torch.no_grad():
                torch.onnx.export(
                    ep,
                    (),
                    str(target),
                    dynamo=True,
                    input_names=[t.name for t in spec.inputs],
                    output_names=[o.name for o in spec.outputs],
                    external_data=False,  # one file: the bundle hashes and ships single artifacts
                    optimize=True,
                    verbose=False,
                )
        except Exception as e:
            raise _explain_export(e, model) from e
        if not target.exists():
            raise ConversionError(f"ONNX export of model `{model}` wrote no file. Fix: report this as a bug")
        return target.read_bytes()


# An op name anywhere in the message, when the message also says it has no translation.
KNOWN_FAILURES = (
    KnownFailure(
        r"^(?=[\s\S]*(?:[Uu]nsupported|no (?:symbolic|decomposition|translation|onnx function)|not (?:supported|"
        r"registered)))[\s\S]*?\b((?:aten|prims|torchvision)(?:\.|::)\w+(?:\.\w+)?)",
        "torch.onnx has no translation for it; rewrite the op in the model with supported ops, "
        "or register one via `custom_translation_table`",
    ),
)


def _explain_export(e: BaseException, model: str) -> MobileSDKError:
    return explain(e, "onnx", KNOWN_FAILURES) or ConversionError(f"ONNX export of model `{model}` failed: {summary(e)}")


def graph_input_dims(path: Path) -> dict[str, list]:
    """Each graph input's dims as saved: ints for static axes, symbol strings for dynamic ones."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    dims = {}
    for i in graph.input:
        if i.name in inits:
            continue
        dims[i.name] = [d.dim_param if d.HasField("dim_param") else int(d.dim_value) for d in i.type.tensor_type.shape.dim]
    return dims


def check_dynamic(path: Path, spec: ModelSpec, model: str) -> dict[str, list]:
    """docs/toolchain-traps.md#6: `torch.onnx.export(dynamo=True)` can silently export a declared dynamic axis as static."""
    dims = graph_input_dims(path)
    dynamic = {d.name for d in spec.dims if d.min != d.max}
    for t in spec.inputs:
        if t.name not in dims:
            raise ConversionError(f"ONNX export of model `{model}` has no input `{t.name}` (it has {sorted(dims)})")
        saved = dims[t.name]
        for axis, s in enumerate(t.shape):
            if s in dynamic and not isinstance(saved[axis], str):
                raise ConversionError(
                    f"ONNX export of model `{model}` made dim `{s}` of input `{t.name}` static ({saved[axis]}). "
                    "Fix: an op specialises this length under torch.export (e.g. F.max_pool1d, "
                    "docs/toolchain-traps.md#6); rewrite it (max_pool2d on [B,1,1,T] stays dynamic)"
                )
    return dims


def describe_dims(dims: dict[str, list]) -> str:
    return "; ".join(f"{name}=[{','.join(str(d) for d in ds)}]" for name, ds in dims.items())
