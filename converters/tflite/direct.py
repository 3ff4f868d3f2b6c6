"""The litert-torch route: the captured program straight to one `.tflite`, no ONNX on the way.

Google's direct converter lowers a torch.export program through StableHLO. Each length bucket becomes
a named signature of one file (`signature_name`), sharing one copy of the weights; inputs and outputs
keep the spec's names and layouts, so the runner needs no transposes. int8-dynamic comes from Google's
`ai-edge-quantizer` on the fp32 file; fp16 halves the fp32 file's weights as on the onnx2tf route. No
int8-static: docs/decisions.md#tflite-has-two-routes-auto-tries-litert-torch-first-and-it-makes-no-int8-static.
"""
from __future__ import annotations

import contextlib
import io

import torch

from converters.base import BuildContext, memo_per_program, native_stderr_held
from converters.rewrites import bool_index_put_as_where
from converters.tflite.buckets import Plan, fit_inputs
from converters.tflite.flatbuffer import half_weights, read_model, write_model
from mobilesdk.errors import ConversionError, KnownFailure, explain, summary

KNOWN_FAILURES = (
    KnownFailure(r"NonConcreteBooleanIndexError|data-dependent", "litert-torch needs static shapes: a boolean "
                 "index (`x[mask] = 0`) has a data-dependent shape; write it as `torch.where(mask, 0, x)`",
                 op="aten.index_put (boolean index)"),
)


def signature_name(plan: Plan, bucket: tuple[int, ...]) -> str:
    return f"len_{plan.tag(bucket)}"


class _Named(torch.nn.Module):
    """Keyword inputs and a dict of outputs, so the file's signatures carry the spec's tensor names."""

    def __init__(self, program: torch.nn.Module, inputs: list[str], outputs: list[str]):
        super().__init__()
        self.program, self.inputs, self.outputs = program, inputs, outputs

    def forward(self, **arrays):
        return dict(zip(self.outputs, self.program(*[arrays[n] for n in self.inputs])))


def litert_tflite(ep, ctx: BuildContext, plan: Plan, precision: str, tables: bool = True) -> bytes:
    """One `.tflite` at `precision` with a signature per bucket of `plan`; `tables`: int8-dynamic stores
    embedding tables int8."""
    fp32 = memo_per_program(ep, ("litert-torch", ctx.spec.digest(), plan), lambda: _fp32(ep, ctx, plan))
    if precision == "fp32":
        return fp32
    if precision == "fp16":
        return half_weights(fp32)
    if precision == "int8-dynamic":
        return _int8_dynamic(fp32, ctx, tables)
    raise ValueError(f"the litert-torch route makes no {precision}")  # TFLiteConverter.routes says so first


def _fp32(ep, ctx: BuildContext, plan: Plan) -> bytes:
    import litert_torch

    litert_torch.config.show_progress = False
    spec = ctx.spec
    module = _Named(bool_index_put_as_where(ep.module()), [t.name for t in spec.inputs], [o.name for o in spec.outputs])
    conv = litert_torch
    for bucket in plan.buckets:
        sample = {k: torch.from_numpy(v) for k, v in fit_inputs(ctx.example_inputs, spec, plan, bucket).items()}
        conv = conv.signature(signature_name(plan, bucket), module, sample_kwargs=sample)
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():
            return conv.convert().model_content()
    except Exception as e:
        raise _explain(e, ctx.model, "fp32") from e


def _int8_dynamic(fp32: bytes, ctx: BuildContext, tables: bool) -> bytes:
    from ai_edge_quantizer import quantizer, recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    qt = quantizer.Quantizer(bytearray(fp32))
    # as TFLiteConverter's dynamic range: layers with >= 1024 weights. Embedding tables too, int8 with a
    # scale per row that EMBEDDING_LOOKUP applies to the rows it reads (the small textclf: 2.48 -> 1.14
    # MB, sentiment 50.3 -> 45.7 dB against fp32); `tables` False leaves them float.
    qt.load_quantization_recipe(recipe.dynamic_legacy_wi8_afp32())
    if not tables:
        qt.update_quantization_recipe(".*", TFLOperationName.EMBEDDING_LOOKUP, algorithm_key=AlgorithmName.NO_QUANTIZE)
    # Depthwise convs keep int8 weights but compute in float (a DEQUANTIZE XNNPACK folds at load):
    # neither XNNPACK nor TFLite's optimized kernels have a hybrid depthwise conv, so the hybrid op ran
    # on the reference kernel, and the enhancer's int8-dynamic took 0.64x its fp32's time where this
    # takes 0.36x, the same bytes (docs/decisions.md, TFLite int8 latency).
    qt.add_weight_only_config(".*", TFLOperationName.DEPTHWISE_CONV_2D, num_bits=8)
    try:
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():
            return asymmetric_inputs(bytes(qt.quantize().quantized_model))
    except Exception as e:
        raise _explain(e, ctx.model, "int8-dynamic") from e


def asymmetric_inputs(blob: bytes) -> bytes:
    """Hybrid (int8-weight, float-input) ops quantize their input per row with a zero point, as
    TFLiteConverter's dynamic range writes them; ai-edge-quantizer leaves them symmetric, which cost the
    tiny textclf's sentiment 2.8 dB (32.6 against 35.4 dB)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = read_model(blob)
    for g in model.subgraphs:
        for op in g.operators:
            if hasattr(op.builtinOptions, "asymmetricQuantizeInputs") and len(op.inputs) > 1 \
                    and g.tensors[op.inputs[0]].type == schema.TensorType.FLOAT32 \
                    and g.tensors[op.inputs[1]].type == schema.TensorType.INT8:
                op.builtinOptions.asymmetricQuantizeInputs = True
    return write_model(model)


def _explain(e: BaseException, name: str, precision: str) -> Exception:
    return explain(e, "tflite", KNOWN_FAILURES) or ConversionError(
        f"TFLite (litert-torch) conversion of model `{name}` failed at step `{precision}`: {summary(e)}"
    )

