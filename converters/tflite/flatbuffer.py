"""SavedModel -> `.tflite` per precision with `tf.lite.TFLiteConverter`, and the calibration feeds."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from converters.base import BuildContext, native_stderr_held
from converters.tflite.buckets import Plan, fit_inputs
from converters.tflite.int8 import quantize
from mobilesdk.errors import ConversionError, KnownFailure, explain, summary

SIGNATURE = "serving_default"

KNOWN_FAILURES = tuple(
    KnownFailure(pattern, "TFLite builtins have no kernel for it (Flex ops are off: ai_edge_litert cannot run "
                 "them); rewrite the op in the model")
    for pattern in (r"'(tf\.\w+|tfl\.\w+)' op is neither a custom op nor a flex op",
                    r"failed to legalize operation '(\w+\.\w+)'")
)


def to_tflite(saved: Path, in_perm: dict, ctx: BuildContext, plan: Plan, bucket: tuple[int, ...],
              precision: str) -> bytes:
    """One bucket's SavedModel as a `.tflite` at `precision`, fp16 aside (`half_weights`; int8-static:
    calibrated, still float; `quantize_buckets` makes it integer)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=[SIGNATURE])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: ai_edge_litert has no TF kernels
    if precision == "int8-dynamic":
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


FP16_MIN_ELEMENTS = 2  # float constants with fewer elements (scalars) stay float32 in the fp16 file


def half_weights(blob: bytes) -> bytes:
    """The fp16 file from the fp32 one: each float32 constant stored as float16 behind a DEQUANTIZE, the
    layout TFLiteConverter's float16 quantization writes (and XNNPACK reads), except scalars. The converter
    rounds those too, and a rounded reciprocal breaks integer floor division: x / 5 becomes x * 0.19995,
    and a stock wav2vec2's frame lengths came out one short (13 dB; docs/toolchain-traps.md#3)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = read_model(blob)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
    code.version = 3  # float16 input
    model.operatorCodes.append(code)
    halved: dict[int, int] = {}  # float32 buffer -> its float16 copy
    for g in model.subgraphs:
        dequantize = []
        for i, t in enumerate(list(g.tensors)):
            data = model.buffers[t.buffer].data if t.buffer else None
            quantized = t.quantization is not None and t.quantization.scale is not None
            if data is None or t.type != schema.TensorType.FLOAT32 or t.sparsity or quantized \
                    or int(np.prod(t.shape if t.shape is not None else [])) < FP16_MIN_ELEMENTS:
                continue
            if t.buffer not in halved:  # signatures of one file share weight buffers: halve each once
                buf = schema.BufferT()
                buf.data = np.frombuffer(bytes(data), np.float32).astype(np.float16).view(np.uint8)
                model.buffers.append(buf)
                halved[t.buffer] = len(model.buffers) - 1
            half = schema.TensorT()
            half.name, half.shape, half.type = t.name + b"_fp16", t.shape, schema.TensorType.FLOAT16
            half.buffer = halved[t.buffer]
            g.tensors.append(half)
            t.buffer = 0  # buffer 0 is the empty one: DEQUANTIZE computes the tensor now
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = len(model.operatorCodes) - 1, [len(g.tensors) - 1], [i]
            dequantize.append(op)
        g.operators = dequantize + list(g.operators)
    for b in set(halved) - {t.buffer for g in model.subgraphs for t in g.tensors}:
        model.buffers[b].data = None  # the float32 copy is gone from the file
    return write_model(model)


def read_model(blob: bytes):
    """The flatbuffer as TFLite's object API (`ModelT`), every buffer inline. Files with more than 256 KB
    of weights from ai-edge-quantizer keep them after the flatbuffer (`offset`, `size`); re-serialized
    as they are, those offsets point past the end ("Constant buffer specified an out of range offset")."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(blob)
    for buf in model.buffers:
        if buf.offset > 1:  # 0 and 1 mean inline (1 is a placeholder while writing)
            buf.data = np.frombuffer(blob, np.uint8, count=buf.size, offset=buf.offset)
        buf.offset = buf.size = 0
    return model


def write_model(model) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# Marks merge_signatures' files, whose tensors taps name as the onnx2tf route's (`from_onnx2tf`).
ROUTE_METADATA = ("mobilesdk_route", b"onnx2tf")


def merge_signatures(blobs: list[bytes], keys: list[str]) -> bytes:
    """One file from the onnx2tf route's bucket files (each one `serving_default` signature), as the
    litert-torch route writes its buckets: signature `keys[i]` runs blobs[i]'s subgraph, and operator
    codes and buffers with equal bytes are stored once, so the weights the buckets share take one copy
    (tensors' buffer indices remapped; empty buffers all become buffer 0, the schema's empty sentinel).
    Metadata: the first file's entries (`CONVERSION_METADATA` differs per bucket only in its hash),
    `min_runtime_version` the highest of all, and ROUTE_METADATA."""
    from tensorflow.lite.python import schema_py_generated as schema

    models = [read_model(b) for b in blobs]
    if any(m.metadataBuffer or m.externalBuffers or len(m.signatureDefs) != 1 for m in models):
        raise ValueError("merge_signatures takes files with one signature and inline metadata buffers only")
    merged = schema.ModelT()
    merged.version, merged.description = models[0].version, models[0].description
    merged.operatorCodes, merged.subgraphs, merged.buffers, merged.signatureDefs = [], [], [schema.BufferT()], []
    codes: dict[tuple, int] = {}
    stored: dict[bytes, int] = {}

    def buffer(data) -> int:
        if data is None or not len(data):
            return 0
        key = bytes(data)
        if key not in stored:
            merged.buffers.append(schema.BufferT())
            merged.buffers[-1].data = np.frombuffer(key, np.uint8)
            stored[key] = len(merged.buffers) - 1
        return stored[key]

    def code(c) -> int:
        key = (c.builtinCode, c.deprecatedBuiltinCode, c.customCode, c.version)
        if key not in codes:
            merged.operatorCodes.append(c)
            codes[key] = len(merged.operatorCodes) - 1
        return codes[key]

    for model, key in zip(models, keys):
        first = len(merged.subgraphs)
        opcodes = [code(c) for c in model.operatorCodes]
        for g in model.subgraphs:
            for t in g.tensors:
                t.buffer = buffer(model.buffers[t.buffer].data)
            for op in g.operators:
                op.opcodeIndex = opcodes[op.opcodeIndex]
                _shift_subgraph_indices(op, first)
            merged.subgraphs.append(g)
        (sig,) = model.signatureDefs
        sig.signatureKey, sig.subgraphIndex = key.encode(), sig.subgraphIndex + first
        merged.subgraphs[sig.subgraphIndex].name = key.encode()  # as litert-torch names them
        merged.signatureDefs.append(sig)
    first_entries = [(e.name.decode(), models[0].buffers[e.buffer].data) for e in models[0].metadata or []]
    versions = [m.buffers[e.buffer].data for m in models for e in m.metadata or [] if e.name == b"min_runtime_version"]
    merged.metadata = []
    for name, data in [*first_entries, ROUTE_METADATA]:
        entry = schema.MetadataT()
        entry.name = name.encode()
        entry.buffer = buffer(max(versions, key=_version) if name == "min_runtime_version" else data)
        merged.metadata.append(entry)
    return write_model(merged)


def from_onnx2tf(model) -> bool:
    """Whether a `read_model` model is the onnx2tf route's file (else litert-torch's)."""
    return any(e.name.decode() == ROUTE_METADATA[0] for e in model.metadata or [])


def _version(padded) -> tuple[int, ...]:
    """`min_runtime_version`'s `2.3.0\\0\\0...` as (2, 3, 0)."""
    return tuple(int(n) for n in bytes(padded).rstrip(b"\0").decode().split(".") if n.isdigit())


def _shift_subgraph_indices(op, offset: int) -> None:
    """Control-flow options (WHILE, IF, CALL_ONCE, StableHLO regions) name subgraphs by index."""
    for options in (op.builtinOptions, op.builtinOptions2):
        for attr, value in vars(options).items() if options is not None else ():
            if "subgraph" in attr.lower():
                setattr(options, attr, [v + offset for v in value] if isinstance(value, list) else value + offset)


def quantize_buckets(calibrated: list[bytes], feeds: list[list[dict]], name: str, tags: str,
                     floats: list[set[str]] | None = None) -> list[bytes]:
    """Full-integer files from calibrated ones, with one set of ranges for all buckets (`int8.py`);
    `floats[i]`: names of bucket i's ops to leave in float besides the model's ends."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():  # "fully_quantize: ..."
            return quantize(calibrated, feeds, SIGNATURE, floats)
    except Exception as e:
        raise _explain(e, name, "int8-static", tags) from e


def representative(ctx: BuildContext, plan: Plan, bucket: tuple[int, ...], in_perm):
    """Calibration batches fitted to the bucket (`fit_inputs`), in the SavedModel's layouts."""
    for arrays in ctx.calibration:
        yield {k: np.transpose(x, in_perm[k]) for k, x in fit_inputs(arrays, ctx.spec, plan, bucket).items()}


def _explain(e: BaseException, name: str, precision: str, tag: str) -> Exception:
    return explain(e, "tflite", KNOWN_FAILURES) or ConversionError(
        f"TFLite conversion of model `{name}` failed at step `{precision}` (bucket {tag}): {summary(e)}"
    )
