"""TFLite backend: ONNX -> onnx2tf -> SavedModel -> `.tflite`, run by ai_edge_litert.

The path starts from the diagnostic ONNX export (`converters.onnx.export.export_onnx`), so a drift can be
located on either side of it. Each artifact is a set of **static length buckets**, one `.tflite` per
bucket, batch fixed to the spec's golden batch; the runner picks a bucket by input length:

masked dims are right-padded up to a bucket, unmasked dims need an exact one (`buckets.py`). Why
not one dynamic-length model: docs/decisions.md#tflite-length-buckets.

fp32, int8-dynamic (dynamic-range) and int8-static (full-integer internals calibrated on
`ctx.calibration`, float I/O kept) are produced by `tf.lite.TFLiteConverter.from_saved_model` on the
SavedModel onnx2tf builds (`saved_model.py`, `flatbuffer.py`): onnx2tf cannot calibrate integer
inputs (docs/toolchain-traps.md#9), and converting the SavedModel ourselves is faster than onnx2tf's
own per-file conversion. fp16 (float16 weights) is the fp32 file with its weights halved
(`flatbuffer.half_weights`). Before onnx2tf, exact rewrites replace the graph patterns it
mistranslates (`onnx_rewrites.py`). Outputs are mapped by SignatureDef name, never by position
(onnx2tf reorders them); layouts are measured against onnxruntime at conversion time and the runner
(`runner.py`) transposes, so callers always use spec layouts.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from converters.base import BuildContext, Converted, Converter, import_problem, versions_of
from converters.onnx.export import export_onnx
from converters.tflite.buckets import Plan, avoid_channel_sizes, file_name, plan_for
from converters.tflite.flatbuffer import half_weights, quantize_buckets, representative, to_tflite
from converters.tflite.int8 import float_op_count
from converters.tflite.runner import BucketRunner
from converters.tflite.saved_model import Saved, saved_model
from mobilesdk.errors import ConfigError
from mobilesdk.spec import ModelSpec, Runner


class TFLiteConverter(Converter):
    name = "tflite"
    precisions = ("fp32", "fp16", "int8-dynamic", "int8-static")
    options = {"buckets": dict}  # {dim: [lengths]}: the static builds (see buckets.plan_for)

    def check(self) -> str | None:
        modules = ("ai_edge_litert.interpreter", "onnx", "onnx2tf", "onnxruntime", "onnxsim", "tensorflow")
        return import_problem("tflite toolchain", modules)

    def versions(self) -> dict[str, str]:
        return versions_of("torch", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow-cpu", "tf-keras",
                           "ai-edge-litert")

    def runtime(self) -> str:
        return "ai_edge_litert"

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision == "int8-static" and not ctx.calibration:
            raise ConfigError(
                f"`tflite` int8-static for model `{ctx.model}` needs calibration batches and got none. "
                "Fix: set calibration_batches in bundle.toml"
            )
        start = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=".tflite-work-", dir=out_dir))
        written: list[Path] = []
        try:
            onnx_path = work / "model.onnx"
            export_onnx(ep, ctx.spec, onnx_path, ctx.model)
            plan = avoid_channel_sizes(plan_for(ctx.spec, ctx.options), ctx.spec, onnx_path)
            saved_all = [saved_model(ep, onnx_path, ctx, plan, bucket, work) for bucket in plan.buckets]
            blobs = [_flatbuffer(s, ctx, plan, b, precision) for b, s in zip(plan.buckets, saved_all)]
            if precision == "int8-static":
                feeds = [list(representative(ctx, plan, b, s.in_perm)) for b, s in zip(plan.buckets, saved_all)]
                blobs = quantize_buckets(blobs, feeds, ctx.model, "/".join(plan.tag(b) for b in plan.buckets))
            for bucket, blob in zip(plan.buckets, blobs):
                path = out_dir / file_name(plan, bucket)
                written.append(path)
                path.write_bytes(blob)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)  # never leave a partial artifact
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        meta = _meta(plan, saved_all, written, precision, time.perf_counter() - start)
        if precision == "int8-static":  # what stays float (int8.quantize), in the main bucket
            meta["fp32_ops"], meta["ops"] = float_op_count(blobs[0])
        return Converted(files=written, meta=meta)

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        return BucketRunner(converted, spec)


def _flatbuffer(saved: Saved, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], precision: str) -> bytes:
    if precision == "fp32":
        return saved.fp32
    if precision == "fp16":
        return half_weights(saved.fp32)
    return to_tflite(saved.path, saved.in_perm, ctx, plan, bucket, precision)


def _meta(plan: Plan, saved: list[Saved], files: list[Path], precision: str, seconds: float) -> dict:
    first = saved[0]
    layout = ";".join(
        [f"in.{k}:{','.join(map(str, v))}" for k, v in first.in_perm.items() if v != tuple(range(len(v)))]
        + [f"out.{k}:{','.join(map(str, v))}" for k, v in first.out_perm.items() if v != tuple(range(len(v)))]
    )
    return {
        "precision": precision,
        "shapes": "buckets" if plan.dims else "static",
        "bucket_dims": ",".join(plan.dims),
        "buckets": ",".join(plan.tag(b) for b in plan.buckets),
        "padded_dims": ",".join(d for d in plan.dims if d in plan.padded),
        "batch": plan.batch,
        "batch_note": "fixed; the runner splits larger batches and pads smaller ones",
        "layout": layout,  # axis permutations between spec (NCW) and TFLite (NWC) tensors
        "layout_min_sqnr_db": round(min(s.layout_sqnr for s in saved), 1),
        "onnx_rewrites": ",".join(f"{k}:{v}" for k, v in first.rewrites.items()),  # onnx_rewrites.py, main bucket
        "size_bytes": sum(p.stat().st_size for p in files),
        "onnx2tf_seconds": round(sum(s.seconds for s in saved), 1),
        "seconds": round(seconds, 1),
    }
