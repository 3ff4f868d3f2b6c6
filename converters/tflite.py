"""TFLite backend: ONNX -> onnx2tf -> SavedModel -> `.tflite`, run by ai_edge_litert.

The path starts from the diagnostic ONNX export (`converters.onnx.export_onnx`), so a drift can be
located on either side of it. Each artifact is a set of **static length buckets**, one `.tflite` per
bucket, batch fixed to the spec's golden batch; the runner picks a bucket by input length:

- a masked dim (the model ignores padded positions) is right-padded up to the smallest bucket that
  holds it, and outputs are cut back to the requested length: any length in [min, max] works;
- an unmasked dim (a plain conv stack such as the enhancer: padding changes the valid outputs) has
  exact buckets, by default the spec's golden lengths (main, odd, min, max).

Why not one dynamic-length model: with onnx2tf 1.29.24 every reference family failed on a dynamic time
axis at batch 4 (see `DYNAMIC_EVIDENCE`), and trap 3 rules out fp16 with a dynamic T for the masked
aligner anyway. Static shapes also let onnx2tf check its layout guesses against onnxruntime.

fp32, fp16 (float16 weights), int8-dynamic (dynamic-range) and int8-static (full-integer internals
calibrated on `ctx.calibration`, float I/O kept) are all produced by `tf.lite.TFLiteConverter.
from_saved_model` on the SavedModel onnx2tf builds: onnx2tf cannot calibrate integer inputs (trap 9),
and converting the SavedModel ourselves costs 3-5 s against onnx2tf's own 20 s per file. Outputs are
mapped by SignatureDef name, never by position (onnx2tf reorders them). onnx2tf turns NCW tensors
into NWC; each bucket's layouts are measured against onnxruntime at conversion time and the runner
transposes, so callers always use spec layouts.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.base import (
    BuildContext, Converted, Converter, Runner, import_problem, native_stderr_held, package_version, register,
)
from converters.onnx import ConversionError, export_onnx
from mobilesdk.errors import ConfigError, UnsupportedOpError
from converters.tflite_int8 import float_op_count, quantize
from converters.tflite_buckets import Plan, avoid_channel_sizes, file_name, plan_for, plan_from_meta, static_shape
from mobilesdk.golden import NP_DTYPES
from mobilesdk.spec import ModelSpec, output_shape

SIGNATURE = "serving_default"
LAYOUT_MIN_SQNR_DB = 40.0  # a layout guess must reproduce onnxruntime at least this well

# What a dynamic time axis did, measured on the tiny presets (batch 4, onnx2tf 1.29.24, tf 2.21):
DYNAMIC_EVIDENCE = (
    "enhancer: onnx2tf `Dimensions must be equal, but are 4354 and 16 ... conv1d_transpose` (NCW/NWC "
    "mixed up without static lengths); aligner: `Exception encountered when calling layer "
    "\"tf.nn.convolution\"` at node_Conv_221; textclf: converts in 120-200 s, then every length fails "
    "at run time: `XNNPack delegate failed to reshape runtime` / `Given shapes, [4,1,1,32], "
    "[4,32,16,16] and [], are not broadcastable ... (SELECT_V2)`"
)

# onnx2tf options used for every bucket; part of the SavedModel cache key.
ONNX2TF_OPTIONS = dict(
    not_use_onnxsim=True,  # we simplify the static copy ourselves, once (onnx2tf runs it 3x, 12 s each)
    # sng4onnx's op renaming drops value_info, so Shape ops lose their int64 dtype and Concat fails
    # with `types [int32, int32, int64, int64] that don't all match` (seen on the dynamo export).
    not_use_opname_auto_generate=True,
    output_signaturedefs=True,
    disable_model_save=True,  # we save the SavedModel with named outputs and convert it ourselves
    non_verbose=True,
)

# SavedModels built in this process, keyed by the static ONNX and options: one onnx2tf run serves
# every precision. They live outside out_dir (removed when the process exits); out_dir only ever
# receives the final .tflite files.
_SAVED: dict[str, "_Saved"] = {}
_CACHE_ROOT: list[Path] = []


@dataclass
class _Saved:
    path: Path  # SavedModel directory
    in_perm: dict[str, tuple[int, ...]]  # spec layout -> TF layout, per input
    out_perm: dict[str, tuple[int, ...]]  # TF layout -> spec layout, per output
    layout_sqnr: float  # worst SQNR of the fp32 file against onnxruntime on this bucket's graph
    seconds: float
    fp32: bytes = b""  # the fp32 .tflite, converted once to verify the layouts


class TFLiteConverter(Converter):
    name = "tflite"
    suffix = ".tflite"
    precisions = ("fp32", "fp16", "int8-dynamic", "int8-static")
    runtime = "ai_edge_litert"

    def check(self) -> str | None:
        modules = ("ai_edge_litert.interpreter", "onnx", "onnx2tf", "onnxruntime", "onnxsim", "tensorflow")
        return import_problem("tflite toolchain", modules)

    def versions(self) -> dict[str, str]:
        dists = ("torch", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow-cpu", "tf-keras", "ai-edge-litert")
        return {d: package_version(d) for d in dists}

    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision not in self.precisions:
            raise ConfigError(f"`tflite` has no precision `{precision}`; use one of {', '.join(self.precisions)}")
        if precision == "int8-static" and not ctx.calibration:
            raise ConfigError(
                f"`tflite` int8-static for model `{ctx.model}` needs calibration batches and got none. "
                "Fix: set calibration_batches in bundle.toml"
            )
        start = time.perf_counter()
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".tflite-work-", dir=out_dir))
        written: list[Path] = []
        try:
            onnx_path = work / "model.onnx"
            export_onnx(ep, ctx.spec, onnx_path, ctx.model)
            plan = avoid_channel_sizes(plan_for(ctx.spec, ctx.options), ctx.spec, onnx_path)
            blobs, saved_all = [], []
            for bucket in plan.buckets:
                saved = saved_model(onnx_path, ctx, plan, bucket, work)
                blobs.append(to_tflite(saved, ctx, plan, bucket, precision))
                saved_all.append(saved)
            if precision == "int8-static":
                feeds = [list(_representative(ctx, plan, b, s.in_perm)) for b, s in zip(plan.buckets, saved_all)]
                blobs = _quantize(blobs, feeds, ctx.model, "/".join(plan.tag(b) for b in plan.buckets))
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
        if precision == "int8-static":  # what stays float (tflite_int8.quantize), in the main bucket
            meta["fp32_ops"], meta["ops"] = float_op_count(blobs[0])
        return Converted(files=written, meta=meta)

    def load(self, converted: Converted, ctx: BuildContext) -> Runner:
        return BucketRunner(converted, ctx.spec)


def _meta(plan: Plan, saved: list[_Saved], files: list[Path], precision: str, seconds: float) -> dict:
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
        "size_bytes": sum(p.stat().st_size for p in files),
        "onnx2tf_seconds": round(sum(s.seconds for s in saved), 1),
        "seconds": round(seconds, 1),
    }


# --- ONNX -> SavedModel (onnx2tf), per bucket ----------------------------------------------------------


def saved_model(onnx_path: Path, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], work: Path) -> _Saved:
    """The onnx2tf SavedModel for one bucket, from a static, simplified copy of the ONNX (trap 7)."""
    import onnx

    lengths = plan.lengths(bucket)
    shapes = {t.name: static_shape(t, plan, lengths) for t in ctx.spec.inputs}
    static = _static_onnx(onnx.load(str(onnx_path)), shapes, ctx.model, plan.tag(bucket))
    data = static.SerializeToString()
    key = hashlib.sha256(data + repr(sorted(ONNX2TF_OPTIONS.items())).encode()).hexdigest()
    cached = _SAVED.get(key)
    if cached is not None and cached.path.exists():
        return cached
    copy = work / f"static-{plan.tag(bucket)}.onnx"
    copy.write_bytes(data)
    start = time.perf_counter()
    model = _run_onnx2tf(copy, work / f"onnx2tf-{plan.tag(bucket)}", static, ctx.model)
    target = _cache_dir() / key
    try:
        in_perm = _input_perms(model, shapes, ctx.model)
        _write_saved_model(model, ctx.spec, target)
    finally:
        import tf_keras

        tf_keras.backend.clear_session()
    saved = _Saved(target, in_perm, {}, 0.0, 0.0)
    # The fp32 file is the layout probe: run it against onnxruntime on the same static graph.
    saved.fp32 = to_tflite(saved, ctx, plan, bucket, "fp32")
    probe = _probe_inputs(ctx.spec, plan, lengths)
    saved.out_perm, saved.layout_sqnr = _output_perms(saved.fp32, data, probe, in_perm, ctx)
    saved.seconds = time.perf_counter() - start
    _SAVED[key] = saved
    return saved


def _static_onnx(model, shapes: dict[str, list[int]], name: str, tag: str):
    """The graph with static input shapes and its shape arithmetic folded (onnxsim, once)."""
    import onnxsim

    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            simplified, ok = onnxsim.simplify(model, overwrite_input_shapes=shapes)
    except Exception as e:
        raise ConversionError(
            f"TFLite conversion of model `{name}` failed at step `onnxsim` (bucket {tag}): {_first_line(e)}"
        ) from e
    if not ok:
        raise ConversionError(f"TFLite conversion of model `{name}` failed at step `onnxsim` (bucket {tag}): "
                              "the simplified graph does not match the original")
    return simplified


def _run_onnx2tf(path: Path, folder: Path, static, name: str):
    import onnx2tf

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            model = onnx2tf.convert(input_onnx_file_path=str(path), output_folder_path=str(folder), **ONNX2TF_OPTIONS)
    except (Exception, SystemExit) as e:  # onnx2tf calls sys.exit(1) on some errors
        raise _explain_onnx2tf(e, log.getvalue(), static, name) from e
    if model is None:
        raise _explain_onnx2tf(RuntimeError("onnx2tf returned no model"), log.getvalue(), static, name)
    return model


def _explain_onnx2tf(e: BaseException, log: str, static, name: str) -> Exception:
    text = re.sub(r"\x1b\[[0-9;]*m", "", log)
    node = re.search(r"onnx_op_name:\s*(\S+)", text)
    cause = _first_line(e) if str(e).strip() else next(
        (ln.strip() for ln in reversed(text.splitlines()) if "Error" in ln), type(e).__name__)
    if node:
        op_type = next((n.op_type for n in static.graph.node if n.name == node.group(1)), "")
        if op_type:
            return UnsupportedOpError(
                f"onnx.{op_type}",
                "tflite",
                f"onnx2tf could not translate it ({cause[:200]}); rewrite this op in the model, or fix the "
                "layout with onnx2tf's `-kat`/parameter replacement options in converters/tflite.py",
                node=node.group(1),
            )
    return ConversionError(f"TFLite conversion of model `{name}` failed at step `onnx2tf`: {cause[:300]}")


def _probe_inputs(spec: ModelSpec, plan: Plan, lengths: dict[str, int]) -> dict[str, np.ndarray]:
    """A spec-shaped batch at the bucket's lengths, rows with mixed valid lengths."""
    from mobilesdk.golden import make_batch, row_valid_lengths

    valid = {m.axis: row_valid_lengths(lengths[m.axis], plan.batch, spec.dim(m.axis).min) for m in spec.masks}
    return make_batch(spec, lengths, valid, seed=1234)  # no masks: a golden_batch of full rows


def _input_perms(model, shapes: dict[str, list[int]], name: str) -> dict[str, tuple[int, ...]]:
    """How onnx2tf laid out each input: as in ONNX, or channels-last (NCW -> NWC)."""
    perms = {}
    tf_shapes = {t.name.split(":")[0]: [int(s) for s in t.shape] for t in model.inputs}
    for inp, shape in shapes.items():
        got = tf_shapes.get(inp)
        if got is None:
            raise ConversionError(f"TFLite conversion of model `{name}`: onnx2tf lost input `{inp}` (has {sorted(tf_shapes)})")
        for perm in _candidate_perms(len(shape), to_tf=True):
            if [shape[i] for i in perm] == got:
                perms[inp] = perm
                break
        else:
            raise ConversionError(
                f"TFLite conversion of model `{name}`: onnx2tf gave input `{inp}` shape {got}, "
                f"which is no known layout of {shape}"
            )
    return perms


def _candidate_perms(rank: int, to_tf: bool) -> list[tuple[int, ...]]:
    ident = tuple(range(rank))
    if rank < 3:
        return [ident]
    last = (0, *range(2, rank), 1) if to_tf else (0, rank - 1, *range(1, rank - 1))
    return [ident, last]


def _output_perms(blob: bytes, onnx_bytes: bytes, probe, in_perm, ctx: BuildContext):
    """Per output, the transpose that makes the TFLite tensor mean what onnxruntime's does, measured."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    from mobilesdk.parity import sqnr_db

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])  # the untouched static graph
    ref = dict(zip([o.name for o in session.get_outputs()], session.run(None, probe)))
    with native_stderr_held():  # "INFO: Created TensorFlow Lite XNNPACK delegate", at allocation
        interp = Interpreter(model_content=blob)
        interp.allocate_tensors()
        runner = interp.get_signature_runner(SIGNATURE)
    got = runner(**{k: np.ascontiguousarray(np.transpose(v, in_perm[k])) for k, v in probe.items()})
    perms, worst = {}, 200.0
    for o in ctx.spec.outputs:
        if o.name not in got:
            raise ConversionError(f"TFLite conversion of model `{ctx.model}`: onnx2tf lost output `{o.name}` (has {sorted(got)})")
        best = None
        for perm in _candidate_perms(got[o.name].ndim, to_tf=False):
            y = np.transpose(got[o.name], perm)
            if y.shape == ref[o.name].shape:
                score = sqnr_db(ref[o.name], y)
                best = max(best or (score, perm), (score, perm))
        if best is None or best[0] < LAYOUT_MIN_SQNR_DB:
            raise ConversionError(
                f"TFLite conversion of model `{ctx.model}`: onnx2tf changed the meaning of output `{o.name}` "
                f"(TFLite shape {got[o.name].shape} vs ONNX {ref[o.name].shape}, best SQNR "
                f"{'n/a' if best is None else round(best[0], 1)} dB at lengths {probe_lengths(ctx.spec, probe)}). "
                "Fix: pick other bucket lengths (tflite_buckets), or pin the layout with onnx2tf's "
                "keep_ncw_or_nchw_or_ncdhw_input_names / parameter replacement"
            )
        perms[o.name] = best[1]
        worst = min(worst, best[0])
    return perms, worst


def probe_lengths(spec: ModelSpec, probe) -> str:
    from mobilesdk.golden import lengths_from_inputs

    return ",".join(f"{k}={v}" for k, v in lengths_from_inputs(spec, probe).items())


def _write_saved_model(model, spec: ModelSpec, target: Path) -> None:
    """SavedModel whose `serving_default` signature names inputs and outputs as the spec does."""
    import tensorflow as tf
    import tf_keras

    names = list(model.output_names)
    archive = tf_keras.export.ExportArchive()
    archive.track(model)

    def serve(*inputs):
        outs = model(list(inputs) if len(inputs) > 1 else inputs[0])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return {n: o for n, o in zip(names, outs)}

    signature = [tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs]
    archive.add_endpoint(name=SIGNATURE, fn=serve, input_signature=signature)
    shutil.rmtree(target, ignore_errors=True)
    with contextlib.redirect_stdout(io.StringIO()):
        archive.write_out(str(target))


def _cache_dir() -> Path:
    if not _CACHE_ROOT:
        root = Path(tempfile.mkdtemp(prefix="mobilesdk-tflite-saved-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE_ROOT.append(root)
    return _CACHE_ROOT[0]


# --- SavedModel -> .tflite, per precision ---------------------------------------------------------------


def to_tflite(saved: _Saved, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], precision: str) -> bytes:
    import tensorflow as tf

    if precision == "fp32" and saved.fp32:
        return saved.fp32
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved.path), signature_keys=[SIGNATURE])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: ai_edge_litert has no TF kernels
    if precision == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif precision == "int8-dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8-static":
        # Trap 9: onnx2tf casts calibration data to float32; calibrate the SavedModel with our own
        # batches in the signature's dtypes. Float I/O stays (inference_input_type defaults to float32).
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: _representative(ctx, plan, bucket, saved.in_perm)
        # Calibrate only: `convert` quantizes every bucket's calibrated file together (_quantize).
        conv._experimental_calibrate_only = True
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():
            return conv.convert()
    except Exception as e:
        raise _explain_tflite(e, ctx.model, precision, plan.tag(bucket)) from e


def _quantize(calibrated: list[bytes], feeds: list[list[dict]], name: str, tags: str) -> list[bytes]:
    """Full-integer files from calibrated ones, with one set of ranges for all buckets
    (converters/tflite_int8.py: observed ranges, clamp fixes, ends/norms/attention in float)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():  # "fully_quantize: ..."
            return quantize(calibrated, feeds, SIGNATURE)
    except Exception as e:
        raise _explain_tflite(e, name, "int8-static", tags) from e


def _representative(ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], in_perm):
    """Calibration batches fitted to the bucket: lengths cropped or zero-padded, batch cut or tiled."""
    lengths = plan.lengths(bucket)
    for arrays in ctx.calibration:
        feed = {}
        for t in ctx.spec.inputs:
            x = np.asarray(arrays[t.name])
            target = static_shape(t, plan, lengths)
            if t.shape and t.shape[0] == "batch" and x.shape[0] != plan.batch:
                x = np.resize(x, (plan.batch, *x.shape[1:]))
            x = _fit(x, target)
            feed[t.name] = np.transpose(x, in_perm[t.name]).astype(NP_DTYPES[t.dtype])
        yield feed


def _fit(x: np.ndarray, shape: list[int]) -> np.ndarray:
    x = x[tuple(slice(0, n) for n in shape)]
    pad = [(0, n - s) for n, s in zip(shape, x.shape)]
    return np.pad(x, pad) if any(p for _, p in pad) else x


def _explain_tflite(e: BaseException, name: str, precision: str, tag: str) -> Exception:
    text = str(e)
    m = re.search(r"'(tf\.\w+|tfl\.\w+)' op is neither a custom op nor a flex op", text) or re.search(
        r"failed to legalize operation '(\w+\.\w+)'", text)
    if m:
        return UnsupportedOpError(
            m.group(1), "tflite",
            "TFLite builtins have no kernel for it (Flex ops are off: ai_edge_litert cannot run them); "
            "rewrite the op in the model",
        )
    return ConversionError(
        f"TFLite conversion of model `{name}` failed at step `{precision}` (bucket {tag}): {_first_line(e)[:300]}"
    )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


# --- runtime ---------------------------------------------------------------------------------------------


class BucketRunner:
    """Runs spec-shaped batches on the bucket files with ai_edge_litert's signature runner."""

    def __init__(self, converted: Converted, spec: ModelSpec):
        self.spec = spec
        self.plan = plan_from_meta(converted.meta, spec)
        self.files = dict(zip(self.plan.buckets, converted.files))
        if len(self.files) != len(converted.files):
            raise ValueError(f"meta lists {len(self.plan.buckets)} buckets for {len(converted.files)} files")
        self.out_perm = _parse_layout(str(converted.meta.get("layout", "")), "out")
        self._runners: dict[tuple[int, ...], tuple] = {}

    def _runner(self, bucket):
        if bucket not in self._runners:
            from ai_edge_litert.interpreter import Interpreter

            with native_stderr_held():  # "INFO: Created TensorFlow Lite XNNPACK delegate", at allocation
                interp = Interpreter(model_path=str(self.files[bucket]))
                interp.allocate_tensors()
            runner = interp.get_signature_runner(SIGNATURE)
            shapes = {k: [int(s) for s in v["shape"]] for k, v in runner.get_input_details().items()}
            self._runners[bucket] = (interp, runner, shapes)
        return self._runners[bucket]

    def __call__(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from mobilesdk.golden import lengths_from_inputs

        spec, plan = self.spec, self.plan
        lengths = lengths_from_inputs(spec, arrays)
        bucket = plan.choose(lengths)
        _, runner, tf_shapes = self._runner(bucket)
        full = plan.lengths(bucket)
        batch = _batch_size(spec, arrays)
        chunks: dict[str, list[np.ndarray]] = {o.name: [] for o in spec.outputs}
        for start in range(0, batch, plan.batch):
            feed = {}
            for t in spec.inputs:
                x = np.asarray(arrays[t.name], dtype=NP_DTYPES[t.dtype])
                if t.shape and t.shape[0] == "batch":
                    x = x[start : start + plan.batch]
                x = _fit(x, static_shape(t, plan, full))  # zero rows / right padding (mask 0)
                feed[t.name] = np.ascontiguousarray(_to_tf(x, tf_shapes[t.name], t.name))
            got = runner(**feed)
            for o in spec.outputs:
                y = got[o.name]
                perm = self.out_perm.get(o.name)
                chunks[o.name].append(np.transpose(y, perm) if perm else y)
        out = {}
        for o in spec.outputs:
            y = np.concatenate(chunks[o.name], axis=0) if o.shape and o.shape[0] == "batch" else chunks[o.name][0]
            out[o.name] = y[tuple(slice(0, n) for n in output_shape(spec, o.shape, lengths, batch))]
        return out


def _to_tf(x: np.ndarray, tf_shape: list[int], name: str) -> np.ndarray:
    for perm in _candidate_perms(x.ndim, to_tf=True):
        if [x.shape[i] for i in perm] == tf_shape:
            return np.transpose(x, perm)
    raise ValueError(f"input `{name}` of shape {x.shape} fits no layout of the TFLite input {tf_shape}")


def _parse_layout(text: str, side: str) -> dict[str, tuple[int, ...]]:
    perms = {}
    for part in filter(None, text.split(";")):
        key, _, perm = part.partition(":")
        kind, _, name = key.partition(".")
        if kind == side:
            perms[name] = tuple(int(i) for i in perm.split(","))
    return perms


def _batch_size(spec: ModelSpec, arrays: dict[str, np.ndarray]) -> int:
    for t in spec.inputs:
        if t.shape and t.shape[0] == "batch":
            return int(np.asarray(arrays[t.name]).shape[0])
    return 1


register(TFLiteConverter())
