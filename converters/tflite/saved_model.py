"""ONNX -> SavedModel with onnx2tf, one static build per length bucket, with its layouts measured.

onnx2tf turns NCW tensors into NWC and reorders outputs; each bucket's input layouts are read off the
Keras model and its output layouts measured against onnxruntime on the same static graph, so the
runner can transpose and map outputs by name.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.base import BuildContext, memo_per_program, native_stderr_held
from converters.tflite.buckets import Plan, static_shape
from converters.tflite.flatbuffer import SIGNATURE, to_tflite
from converters.tflite.onnx_rewrites import rewrite
from converters.tflite.runner import candidate_perms
from mobilesdk.errors import SUMMARY_CHARS, ConversionError, UnsupportedOpError, summary
from mobilesdk.spec import ModelSpec


LAYOUT_MIN_SQNR_DB = 40.0  # a layout guess must reproduce onnxruntime at least this well
LAYOUT_PROBE_SEED = 1234  # the probe batch the layouts are measured on

ONNX2TF_OPTIONS = dict(
    not_use_onnxsim=True,  # we simplify the static copy ourselves, once (onnx2tf runs it 3x)
    # sng4onnx's op renaming drops value_info, so Shape ops lose their int64 dtype and Concat fails
    # with `types [int32, int32, int64, int64] that don't all match` (seen on the dynamo export).
    not_use_opname_auto_generate=True,
    output_signaturedefs=True,
    disable_model_save=True,  # we save the SavedModel with named outputs and convert it ourselves
    non_verbose=True,
)

_WORK_ROOT: list[Path] = []  # SavedModels live here until the process exits; out_dir gets .tflite files only


@dataclass
class Saved:
    """One bucket's SavedModel and what was measured of it."""

    path: Path  # SavedModel directory
    in_perm: dict[str, tuple[int, ...]]  # spec layout -> TF layout, per input
    out_perm: dict[str, tuple[int, ...]]  # TF layout -> spec layout, per output
    layout_sqnr: float  # worst SQNR of the fp32 file against onnxruntime on this bucket's graph
    seconds: float
    fp32: bytes  # the fp32 .tflite, converted once to verify the layouts
    rewrites: dict[str, int]  # onnx_rewrites applied to the static graph, and how often


def saved_model(ep, onnx_path: Path, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], work: Path) -> Saved:
    """The onnx2tf SavedModel for one bucket, built once per ExportedProgram and shared by every
    precision, from a static, simplified copy of the ONNX (onnx2tf rewrites its input in place:
    docs/toolchain-traps.md#7)."""
    key = ("tflite-saved-model", ctx.spec.digest(), tuple(sorted(plan.lengths(bucket).items())), plan.batch)
    return memo_per_program(ep, key, lambda: _build(onnx_path, ctx, plan, bucket, work))


def _build(onnx_path: Path, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], work: Path) -> Saved:
    import onnx
    import tf_keras

    lengths = plan.lengths(bucket)
    shapes = {t.name: static_shape(t, plan, lengths) for t in ctx.spec.inputs}
    static = _static_onnx(onnx.load(str(onnx_path)), shapes, ctx.model, plan.tag(bucket))
    data = static.SerializeToString()
    rewritten, fired = rewrite(static)
    copy = work / f"static-{plan.tag(bucket)}.onnx"
    copy.write_bytes(rewritten.SerializeToString())
    start = time.perf_counter()
    model = _run_onnx2tf(copy, work / f"onnx2tf-{plan.tag(bucket)}", rewritten, ctx.model)
    target = Path(tempfile.mkdtemp(prefix=f"{plan.tag(bucket)}-", dir=_work_root()))
    try:
        in_perm = _input_perms(model, shapes, ctx.model)
        _write_saved_model(model, target)
    finally:
        tf_keras.backend.clear_session()
    # The fp32 file is the layout probe: run it against onnxruntime on the static graph before the rewrites.
    fp32 = to_tflite(target, in_perm, ctx, plan, bucket, "fp32")
    probe = _probe_inputs(ctx.spec, plan, lengths)
    out_perm, layout_sqnr = _output_perms(fp32, data, probe, in_perm, ctx)
    return Saved(target, in_perm, out_perm, layout_sqnr, time.perf_counter() - start, fp32, fired)


def _static_onnx(model, shapes: dict[str, list[int]], name: str, tag: str):
    """The graph with static input shapes and its shape arithmetic folded (onnxsim, once)."""
    import onnxsim

    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            simplified, ok = onnxsim.simplify(model, overwrite_input_shapes=shapes)
    except Exception as e:
        raise ConversionError(
            f"TFLite conversion of model `{name}` failed at step `onnxsim` (bucket {tag}): {summary(e)}"
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
    cause = _cause(e) if str(e).strip() else next(
        (ln.strip() for ln in reversed(text.splitlines()) if "Error" in ln), type(e).__name__)
    if node:
        op_type = next((n.op_type for n in static.graph.node if n.name == node.group(1)), "")
        if op_type:
            return UnsupportedOpError(f"onnx.{op_type}", "tflite", _onnx2tf_hint(cause, name), node=node.group(1))
    return ConversionError(f"TFLite conversion of model `{name}` failed at step `onnx2tf`: {cause[:SUMMARY_CHARS]}")


def _cause(e: BaseException) -> str:
    """summary(e), plus the TF error that Keras wraps in `Exception encountered when calling layer ...`."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].startswith("Exception encountered"):
        return summary(e)
    detail = re.sub(r" for '\{\{node .*?\}\} = [^']*'", "", lines[1])  # drop the TF node dump, keep the shapes
    return f"{summary(e)} {detail}"[:SUMMARY_CHARS]


def _onnx2tf_hint(cause: str, name: str) -> str:
    clash = re.search(r"Dimensions must be equal|Shape must be rank|not broadcastable|Incompatible shapes", cause)
    layout = (f"a shape clash inside onnx2tf is mostly its NCHW->NHWC guess on a 3-D+ tensor: other lengths "
              f"([models.{name}.tflite] buckets) avoid it when a length equals a channel count; " if clash else "")
    return (f"onnx2tf could not translate it ({cause}); {layout}an exact rewrite of the pattern in "
            "converters/tflite/onnx_rewrites.py (matched by structure, with a unit test) fixes it for every model; "
            "meanwhile build this model for executorch or coreml")


def _probe_inputs(spec: ModelSpec, plan: Plan, lengths: dict[str, int]) -> dict[str, np.ndarray]:
    """A spec-shaped batch at the bucket's lengths, rows with mixed valid lengths."""
    from mobilesdk.golden import make_batch, row_valid_lengths

    valid = {m.axis: row_valid_lengths(lengths[m.axis], plan.batch, spec.dim(m.axis).min) for m in spec.masks}
    return make_batch(spec, lengths, valid, seed=LAYOUT_PROBE_SEED)  # no masks: a golden_batch of full rows


def _input_perms(model, shapes: dict[str, list[int]], name: str) -> dict[str, tuple[int, ...]]:
    """How onnx2tf laid out each input: as in ONNX, or channels-last (NCW -> NWC)."""
    perms = {}
    tf_shapes = {t.name.split(":")[0]: [int(s) for s in t.shape] for t in model.inputs}
    for inp, shape in shapes.items():
        got = tf_shapes.get(inp)
        if got is None:
            raise ConversionError(f"TFLite conversion of model `{name}`: onnx2tf lost input `{inp}` (has {sorted(tf_shapes)})")
        for perm in candidate_perms(len(shape), to_tf=True):
            if [shape[i] for i in perm] == got:
                perms[inp] = perm
                break
        else:
            raise ConversionError(
                f"TFLite conversion of model `{name}`: onnx2tf gave input `{inp}` shape {got}, "
                f"which is no known layout of {shape}"
            )
    return perms


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
        for perm in candidate_perms(got[o.name].ndim, to_tf=False):
            y = np.transpose(got[o.name], perm)
            if y.shape == ref[o.name].shape:
                score = sqnr_db(ref[o.name], y)
                best = max(best or (score, perm), (score, perm))
        if best is None or best[0] < LAYOUT_MIN_SQNR_DB:
            raise ConversionError(
                f"TFLite conversion of model `{ctx.model}`: onnx2tf changed the meaning of output `{o.name}` "
                f"(TFLite shape {got[o.name].shape} vs ONNX {ref[o.name].shape}, best SQNR "
                f"{'n/a' if best is None else round(best[0], 1)} dB at lengths {probe_lengths(ctx.spec, probe)}). "
                "Fix: if a bucket length equals a channel count, pick other lengths "
                f"([models.{ctx.model}.tflite] buckets); else onnx2tf mistranslated an op: find the first tensor "
                "that differs (onnx2tf's output_names_to_interrupt_model_conversion) and add an exact rewrite of "
                "its pattern to converters/tflite/onnx_rewrites.py"
            )
        perms[o.name] = best[1]
        worst = min(worst, best[0])
    return perms, worst


def probe_lengths(spec: ModelSpec, probe) -> str:
    from mobilesdk.golden import lengths_from_inputs

    return ",".join(f"{k}={v}" for k, v in lengths_from_inputs(spec, probe).items())


def _write_saved_model(model, target: Path) -> None:
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


def _work_root() -> Path:
    if not _WORK_ROOT:
        root = Path(tempfile.mkdtemp(prefix="mobilesdk-tflite-saved-"))
        atexit.register(shutil.rmtree, root, True)
        _WORK_ROOT.append(root)
    return _WORK_ROOT[0]
