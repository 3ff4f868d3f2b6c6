"""TFLite backend: two routes to `.tflite`, both run by ai_edge_litert.

Each artifact holds **static length buckets**, batch fixed to the spec's golden batch; the runner picks
a bucket by input length: masked dims are right-padded up to a bucket, unmasked dims need an exact one
(`buckets.py`). Why not one dynamic-length model: docs/decisions.md#tflite-length-buckets.

- **litert-torch** (`direct.py`): the captured program straight to one file with a named signature per
  bucket sharing one copy of the weights, spec names and layouts kept. fp32, fp16, int8-dynamic.
- **onnx2tf**: the diagnostic ONNX export (`converters.onnx.export`), rewritten where onnx2tf
  mistranslates (`onnx_rewrites.py`), to a SavedModel per bucket (`saved_model.py`), then a flatbuffer
  per bucket from `tf.lite.TFLiteConverter` (`flatbuffer.py`): fp32, int8-dynamic, and int8-static
  (full-integer internals calibrated on `ctx.calibration`, float I/O kept; `int8.py`), merged into one
  file shaped as litert-torch's, a signature per bucket, equal weight buffers stored once
  (`flatbuffer.merge_signatures`). Outputs are mapped by SignatureDef name (onnx2tf reorders them);
  layouts are measured against onnxruntime at conversion time and the runner transposes, so callers
  always use spec layouts.

On both, fp16 (float16 weights) is the fp32 file with its weights halved (`flatbuffer.half_weights`).
`route = "auto"` (the default) tries the routes in `routes` order and keeps the first whose artifact
converts and passes parity (`BuildContext.accept`); the meta records `route` and `routes_tried`.

`float_modules` (nn.Module paths, for `mobilesdk explain --sensitivity`): in int8-static, the ops computed
for those modules stay fp32 as well, through the denylist the quantizer already takes for the model's
ends (`int8.quantize`); ops are found by name through the twin conversion taps use
(`taps.onnx2tf_module_ops`). fp32 and fp16 compute every op in float already; int8-dynamic (either
route's weight quantizer takes no such list) raises ConfigError.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from converters.base import BuildContext, Converted, Converter, int8_tables_or_float, module_paths, versions_of
from converters.onnx.export import export_onnx
from converters.tflite.direct import litert_tflite, signature_name
from converters.tflite.buckets import Plan, avoid_channel_sizes, plan_for
from converters.tflite.flatbuffer import half_weights, merge_signatures, quantize_buckets, representative, to_tflite
from converters.tflite.int8 import float_op_count, int8_embedding_count
from converters.tflite.runner import BucketRunner
from converters.tflite.saved_model import Saved, saved_model
from mobilesdk.errors import ConfigError, MobileSDKError, summary
from mobilesdk.spec import ModelSpec, Runner


class TFLiteConverter(Converter):
    name = "tflite"
    precisions = ("fp32", "fp16", "int8-dynamic", "int8-static")
    # buckets: {dim: [lengths]}, the static builds (see buckets.plan_for); route: "auto" or one of routes;
    # float_modules: nn.Module paths int8-static leaves in fp32 (a quantization-sensitivity sweep's knob)
    options = {"buckets": dict, "route": str, "float_modules": list}
    # litert-torch first: one file with shared weights, converted in seconds. It has no int8-static:
    # ai-edge-quantizer's static int8 measured 4-11 dB on text and aligner models (docs/decisions.md).
    routes = {"litert-torch": ("fp32", "fp16", "int8-dynamic"), "onnx2tf": precisions}

    toolchain = "tflite toolchain"
    modules = ("ai_edge_litert.interpreter", "onnx", "onnx2tf", "onnxruntime", "onnxsim", "tensorflow",
               "litert_torch", "ai_edge_quantizer")

    def versions(self) -> dict[str, str]:
        return versions_of("torch", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow-cpu", "tf-keras",
                           "ai-edge-litert", "litert-torch", "ai-edge-quantizer")

    def runtime(self) -> str:
        return "ai_edge_litert"

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision == "int8-static" and not ctx.calibration:
            raise ConfigError(
                f"`tflite` int8-static for model `{ctx.model}` needs calibration batches and got none. "
                "Fix: set calibration_batches in bundle.toml"
            )
        route = ctx.options.get("route", "auto")
        if route != "auto" and route not in self.routes:
            raise ConfigError(f"[models.{ctx.model}.tflite] route `{route}` is unknown; use auto, {', '.join(self.routes)}")
        if route != "auto" and precision not in self.routes[route]:
            able = [r for r, precs in self.routes.items() if precision in precs]
            raise ConfigError(f"[models.{ctx.model}.tflite] route `{route}` cannot make {precision}; "
                              f"use route = \"auto\" or one of {', '.join(able)}")
        routes = [r for r, precs in self.routes.items() if precision in precs] if route == "auto" else [route]
        if ctx.options.get("float_modules") and precision == "int8-dynamic":
            raise ConfigError(f"[models.{ctx.model}.tflite] float_modules applies to int8-static only: int8-dynamic's "
                              "weight quantizers (TFLiteConverter's, ai-edge-quantizer's on litert-torch) take no "
                              "list of ops to skip. Fix: use int8-static for tflite, or executorch for int8-dynamic")
        outcomes: dict[str, str] = {}
        for i, r in enumerate(routes):
            last = i == len(routes) - 1
            try:
                converted = WRITERS[r](ep, ctx, precision, out_dir)
            except ConfigError:
                raise
            except Exception as e:
                if last and outcomes and isinstance(e, MobileSDKError):  # say why earlier routes were passed over
                    e.args = (f"{e} (tried before it: {'; '.join(f'{k} {v}' for k, v in outcomes.items())})",)
                if last:
                    raise
                outcomes[r] = f"failed: {summary(e)}"
                continue
            problem = None if last or ctx.accept is None else ctx.accept(converted)
            if problem:  # converted, but fails parity: try the next route
                outcomes[r] = f"converted, fails parity: {problem}"
                for path in converted.files:
                    path.unlink(missing_ok=True)
                continue
            converted.meta["route"] = r
            converted.meta["routes_tried"] = "; ".join(f"{k} {v}" for k, v in outcomes.items()) or "none before it"
            return converted
        raise AssertionError("unreachable: the last route returns or raises")

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        return BucketRunner(converted, spec)

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        from converters.tflite.taps import tflite_taps  # module paths and tensors of either route

        return tflite_taps(ep, ctx, precision, files)


def _via_onnx2tf(ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
    start = time.perf_counter()
    floats = module_paths(ep.graph, ctx.options.get("float_modules") or []) if precision == "int8-static" else []
    work = Path(tempfile.mkdtemp(prefix=".tflite-work-", dir=out_dir))
    try:
        onnx_path = work / "model.onnx"
        export_onnx(ep, ctx.spec, onnx_path, ctx.model)
        plan = avoid_channel_sizes(plan_for(ctx.spec, ctx.options), ctx.spec, onnx_path)
        saved_all = [saved_model(ep, onnx_path, ctx, plan, bucket, work) for bucket in plan.buckets]
        blobs = [_flatbuffer(s, ctx, plan, b, precision) for b, s in zip(plan.buckets, saved_all)]
        if precision == "int8-static":
            feeds = [list(representative(ctx, plan, b, s.in_perm)) for b, s in zip(plan.buckets, saved_all)]
            placed = [_module_ops(ep, ctx, plan, b, blob, floats) for b, blob in zip(plan.buckets, blobs)]
            denied, unplaced = [ops for ops, _ in placed], [none for _, none in placed]
            blobs = quantize_buckets(blobs, feeds, ctx.model, "/".join(plan.tag(b) for b in plan.buckets), denied)
        signatures = [signature_name(plan, b) for b in plan.buckets]
        blob = merge_signatures(blobs, signatures)  # one file, the weights the buckets share stored once
        if precision == "fp16":
            blob = half_weights(blob)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = out_dir / "model.tflite"
    path.write_bytes(blob)
    meta = _meta(plan, [path], precision, time.perf_counter() - start)
    meta["signatures"] = ",".join(signatures)
    meta |= _onnx2tf_meta(saved_all)
    if precision == "int8-static":  # what stays float (int8.quantize), in the main bucket
        meta["fp32_ops"], meta["ops"] = float_op_count(blob)
    if floats:
        meta["float_modules"] = ",".join(floats)
        meta["float_modules_ops"] = len(denied[0])  # their ops, in the main bucket
        if unplaced[0]:  # computing no op of the file: nothing of theirs to keep float
            meta["float_modules_without_ops"] = ",".join(unplaced[0])
    return Converted(files=[path], meta=meta)


def _module_ops(ep, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], blob: bytes, paths: list[str]):
    """The ops of one calibrated bucket file computed for `paths`, by name (`taps.onnx2tf_module_ops`),
    and the paths none of whose ops the file has (an embedding of constant positions folded away)."""
    if not paths:
        return set(), []
    from converters.tflite.taps import onnx2tf_module_ops

    found = onnx2tf_module_ops(ep, ctx, plan, bucket, blob, paths)
    return set().union(*found.values()), [p for p, ops in found.items() if not ops]


def _via_litert_torch(ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
    """int8-dynamic stores embedding tables int8 (one scale per row), or float where that fails parity."""
    def write(tables: bool) -> Converted:
        start = time.perf_counter()
        plan = plan_for(ctx.spec, ctx.options)
        blob = litert_tflite(ep, ctx, plan, precision, tables)
        path = out_dir / "model.tflite"
        path.write_bytes(blob)
        meta = _meta(plan, [path], precision, time.perf_counter() - start)
        meta["signatures"] = ",".join(signature_name(plan, b) for b in plan.buckets)
        if precision == "int8-dynamic":
            meta["int8_embeddings"] = int8_embedding_count(blob)
        return Converted(files=[path], meta=meta)

    return int8_tables_or_float(write, ctx)


WRITERS = {"onnx2tf": _via_onnx2tf, "litert-torch": _via_litert_torch}


def _flatbuffer(saved: Saved, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], precision: str) -> bytes:
    """One bucket's file: fp32 (fp16's too: its weights are halved once merged), or converted at `precision`."""
    if precision in ("fp32", "fp16"):
        return saved.fp32
    return to_tflite(saved.path, saved.in_perm, ctx, plan, bucket, precision)


def _meta(plan: Plan, files: list[Path], precision: str, seconds: float) -> dict:
    return {
        "precision": precision,
        "shapes": "buckets" if plan.dims else "static",
        "bucket_dims": ",".join(plan.dims),
        "buckets": ",".join(plan.tag(b) for b in plan.buckets),
        "padded_dims": ",".join(d for d in plan.dims if d in plan.padded),
        "batch": plan.batch,
        "batch_note": "fixed; the runner splits larger batches and pads smaller ones",
        "size_bytes": sum(p.stat().st_size for p in files),
        "seconds": round(seconds, 1),
    }


def _onnx2tf_meta(saved: list[Saved]) -> dict:
    first = saved[0]
    layout = ";".join(
        [f"in.{k}:{','.join(map(str, v))}" for k, v in first.in_perm.items() if v != tuple(range(len(v)))]
        + [f"out.{k}:{','.join(map(str, v))}" for k, v in first.out_perm.items() if v != tuple(range(len(v)))]
    )
    return {
        "layout": layout,  # axis permutations between spec (NCW) and TFLite (NWC) tensors
        "layout_min_sqnr_db": round(min(s.layout_sqnr for s in saved), 1),
        "onnx_rewrites": ",".join(f"{k}:{v}" for k, v in first.rewrites.items()),  # onnx_rewrites.py, main bucket
        "onnx2tf_seconds": round(sum(s.seconds for s in saved), 1),
    }
