"""ONNX backend: a diagnostic `.onnx` run by onnxruntime.

Not shipped to apps. It exists so a TFLite drift can be located: PyTorch -> ONNX (this artifact's
parity) or ONNX -> TFLite (the tflite converter, which starts from `export.export_onnx`).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, Converter, versions_of
from converters.onnx.export import ONNX_NAME, describe_dims, export_onnx
from mobilesdk.spec import NP_DTYPES, ModelSpec, Runner


class OnnxConverter(Converter):
    name = "onnx"
    precisions = ("fp32",)
    diagnostic = True

    toolchain = "onnx export"
    modules = ("onnx", "onnxruntime", "onnxscript")  # onnxscript: torch.onnx's dynamo exporter needs it

    def versions(self) -> dict[str, str]:
        return versions_of("torch", "onnx", "onnxscript", "onnxruntime")

    def runtime(self) -> str:
        return "onnxruntime"

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        start = time.perf_counter()
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

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(converted.files[0]), opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        missing = [o.name for o in spec.outputs if o.name not in names]
        if missing:
            raise ValueError(f"`{converted.files[0]}` has no output {missing} (it has {names})")

        def run(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            feed = {t.name: np.ascontiguousarray(arrays[t.name], dtype=NP_DTYPES[t.dtype]) for t in spec.inputs}
            return dict(zip(names, session.run(names, feed)))

        return run

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        from converters.onnx.taps import onnx_taps

        return onnx_taps(files[0], ctx.spec)


def _opset(path: Path) -> int:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return int(next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0))
