"""ONNX backend: a diagnostic `.onnx` run by onnxruntime.

Not shipped to apps. It exists so a TFLite drift can be located: PyTorch -> ONNX (this artifact's
parity) or ONNX -> TFLite (the tflite converter, which starts from `export_onnx` below). The graph is
exported from the shared ExportedProgram with `torch.onnx.export(ep, dynamo=True)`, so the spec's
dynamic axes come from the capture; `export_onnx` checks that they survived (TOOLCHAIN_TRAPS.md trap 6).
"""
from __future__ import annotations

import contextlib
import io
import re
import time
import weakref
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, Converter, Runner, import_problem, package_version, register
from mobilesdk.errors import ConfigError, MobileSDKError, UnsupportedOpError
from mobilesdk.spec import ModelSpec

ONNX_NAME = "model.onnx"
NP_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}

# One export per ExportedProgram and process: every precision of the tflite converter starts here.
_EXPORTS: "weakref.WeakKeyDictionary[object, bytes]" = weakref.WeakKeyDictionary()


class ConversionError(MobileSDKError):
    """A conversion step failed and no single op can be blamed; the message names model and step."""


def export_onnx(ep, spec: ModelSpec, path: Path, model: str = "") -> dict[str, list]:
    """Write `ep` as one self-contained ONNX file at `path`; return each input's dims as saved.

    Input and output names are the spec's. Raises UnsupportedOpError when the exporter names an op
    it cannot translate, ConversionError when a declared dynamic axis came out static (trap 6).
    """
    model = model or spec.name
    data = _EXPORTS.get(ep) if _weakrefable(ep) else None
    if data is None:
        data = _export_bytes(ep, spec, model)
        if _weakrefable(ep):
            _EXPORTS[ep] = data
    path = Path(path)
    path.write_bytes(data)
    return check_dynamic(path, spec, model)


def _weakrefable(obj) -> bool:
    try:
        weakref.ref(obj)
        hash(obj)
        return True
    except TypeError:
        return False


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


def _explain_export(e: BaseException, model: str) -> MobileSDKError:
    text = " | ".join(str(x) for x in _chain(e))
    m = re.search(r"\b(aten|prims|torchvision)(\.|::)\w+(\.\w+)?", text)
    if m and re.search(r"[Uu]nsupported|no (symbolic|decomposition|translation|onnx function)|not (supported|registered)", text):
        return UnsupportedOpError(
            m.group(0).replace("::", "."),
            "onnx",
            "torch.onnx has no translation for it; rewrite the op in the model with supported ops, "
            "or register one via `custom_translation_table`",
        )
    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
    return ConversionError(f"ONNX export of model `{model}` failed: {type(e).__name__}: {first}")


def _chain(e: BaseException) -> list[BaseException]:
    chain, cur = [], e
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


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
    """Trap 6: `torch.onnx.export(dynamo=True)` can silently export a declared dynamic axis as static."""
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
                    "TOOLCHAIN_TRAPS.md trap 6); rewrite it (max_pool2d on [B,1,1,T] stays dynamic)"
                )
    return dims


def describe_dims(dims: dict[str, list]) -> str:
    return "; ".join(f"{name}=[{','.join(str(d) for d in ds)}]" for name, ds in dims.items())


class OnnxConverter(Converter):
    name = "onnx"
    suffix = ".onnx"
    precisions = ("fp32",)
    diagnostic = True
    runtime = "onnxruntime"

    def check(self) -> str | None:
        # onnxscript: torch.onnx's dynamo exporter needs it
        return import_problem("onnx export", ("onnx", "onnxruntime", "onnxscript"))

    def versions(self) -> dict[str, str]:
        return {d: package_version(d) for d in ("torch", "onnx", "onnxscript", "onnxruntime")}

    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision not in self.precisions:
            raise ConfigError(f"`onnx` has no precision `{precision}`; use one of {', '.join(self.precisions)}")
        start = time.perf_counter()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / ONNX_NAME
        try:
            dims = export_onnx(ep, ctx.spec, path, ctx.model)
        except BaseException:
            path.unlink(missing_ok=True)  # never leave a partial artifact
            raise
        dynamic = any(isinstance(d, str) for ds in dims.values() for d in ds)
        meta = {
            "precision": precision,
            "shapes": "dynamic" if dynamic else "static",
            "inputs": describe_dims(dims),
            "opset": _opset(path),
            "seconds": round(time.perf_counter() - start, 2),
        }
        return Converted(files=[path], meta=meta)

    def load(self, converted: Converted, ctx: BuildContext) -> Runner:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(converted.files[0]), opts, providers=["CPUExecutionProvider"])
        spec = ctx.spec
        names = [o.name for o in session.get_outputs()]
        missing = [o.name for o in spec.outputs if o.name not in names]
        if missing:
            raise ValueError(f"`{converted.files[0]}` has no output {missing} (it has {names})")

        def run(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            feed = {t.name: np.ascontiguousarray(arrays[t.name], dtype=NP_DTYPES[t.dtype]) for t in spec.inputs}
            outs = session.run(names, feed)
            return dict(zip(names, outs))

        return run


def _opset(path: Path) -> int:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return int(next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0))


register(OnnxConverter())
