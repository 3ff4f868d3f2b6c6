"""SavedModel -> `.tflite` per precision with `tf.lite.TFLiteConverter`, and the calibration feeds."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from converters.base import BuildContext, native_stderr_held
from converters.tflite.buckets import Plan, fit, static_shape
from converters.tflite.int8 import quantize
from mobilesdk.errors import ConversionError, KnownFailure, explain, summary
from mobilesdk.spec import NP_DTYPES

SIGNATURE = "serving_default"

KNOWN_FAILURES = tuple(
    KnownFailure(pattern, "TFLite builtins have no kernel for it (Flex ops are off: ai_edge_litert cannot run "
                 "them); rewrite the op in the model")
    for pattern in (r"'(tf\.\w+|tfl\.\w+)' op is neither a custom op nor a flex op",
                    r"failed to legalize operation '(\w+\.\w+)'")
)


def to_tflite(saved: Path, in_perm: dict, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...],
              precision: str) -> bytes:
    """One bucket's SavedModel as a `.tflite` at `precision` (int8-static: calibrated, still float;
    `quantize_buckets` makes it integer)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: ai_edge_litert has no TF kernels
    if precision == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif precision == "int8-dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8-static":
        # onnx2tf casts calibration data to float32 (docs/toolchain-traps.md#9); calibrate the
        # SavedModel with our own batches in the signature's dtypes. Float I/O stays.
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: representative(ctx, plan, bucket, in_perm)
        conv._experimental_calibrate_only = True
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():
            return conv.convert()
    except Exception as e:
        raise _explain(e, ctx.model, precision, plan.tag(bucket)) from e


def quantize_buckets(calibrated: list[bytes], feeds: list[list[dict]], name: str, tags: str) -> list[bytes]:
    """Full-integer files from calibrated ones, with one set of ranges for all buckets (`int8.py`)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():  # "fully_quantize: ..."
            return quantize(calibrated, feeds, SIGNATURE)
    except Exception as e:
        raise _explain(e, name, "int8-static", tags) from e


def representative(ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], in_perm):
    """Calibration batches fitted to the bucket: lengths cropped or zero-padded, batch cut or tiled."""
    lengths = plan.lengths(bucket)
    for arrays in ctx.calibration:
        feed = {}
        for t in ctx.spec.inputs:
            x = np.asarray(arrays[t.name])
            if t.shape and t.shape[0] == "batch" and x.shape[0] != plan.batch:
                x = np.resize(x, (plan.batch, *x.shape[1:]))
            x = fit(x, static_shape(t, plan, lengths))
            feed[t.name] = np.transpose(x, in_perm[t.name]).astype(NP_DTYPES[t.dtype])
        yield feed


def _explain(e: BaseException, name: str, precision: str, tag: str) -> Exception:
    return explain(e, "tflite", KNOWN_FAILURES) or ConversionError(
        f"TFLite conversion of model `{name}` failed at step `{precision}` (bucket {tag}): {summary(e)}"
    )
