"""Core ML backend: `.mlpackage` ML programs from the shared ExportedProgram.

fp32 and fp16 are `ct.convert` compute precisions; `int8-weights` and `palettize6` compress the fp16
model's weights (`linear_quantize_weights` int8 per channel; `palettize_weights` 6-bit k-means).
Inputs keep the spec's dynamic ranges (taken from the ExportedProgram's range constraints) and the
spec's names; float I/O stays float32 even in fp16 models, so apps feed and read what the spec says.

Parity runs where the build runs: on macOS with a working Core ML framework, `MLModel.predict` with
CPU_ONLY and with ALL compute units (`runtime` "coreml-predict", `predict.py`); elsewhere the MIL
reference evaluator (`mil/`), which executes the saved program op by op in numpy with fp16 rounding
after every op (`runtime` "mil-reference").
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from converters.base import BuildContext, Converted, Converter, memo_per_program, versions_of
from converters.coreml.predict import COREML_DTYPES, predict_available, predictors, spec_io, worse_of
from converters.coreml.translations import translation_fixes
from mobilesdk.errors import ConfigError, KnownFailure, UnsupportedOpError, explain, summary
from mobilesdk.spec import ModelSpec, Runner

PACKAGE_NAME = "model.mlpackage"
DEPLOYMENT_TARGET = "iOS17"  # iOS18 only buys per-block / grouped compression, which we do not use
# Compress every weight with more than this many elements (coremltools' default, 2048, skips the
# small layers of small models: docs/toolchain-traps.md#12). 64 keeps biases and norm vectors in fp16.
WEIGHT_THRESHOLD = 64

KNOWN_FAILURES = (
    KnownFailure(
        r"prelu op: rank 3",
        "replace nn.PReLU on [B,C,T] with `torch.clamp(x, min=0) + w.view(-1, 1) * torch.clamp(x, max=0)` "
        "(docs/toolchain-traps.md#1)",
        op="aten.prelu",
    ),
    KnownFailure(
        r"Unsupported fx node (\S+)",
        "coremltools has no translation for it; rewrite it with ops Core ML supports, register one with "
        "coremltools.converters.mil.frontend.torch.register_torch_op, or leave the cell out (skip = [\"coreml/<precision>\"])",
    ),
    KnownFailure(
        r"convert function for op '([^']+)' not implemented",
        "rewrite the op with supported primitives, or register a translation with "
        "coremltools.converters.mil.frontend.torch.register_torch_op",
    ),
)


class CoreMLConverter(Converter):
    name = "coreml"
    precisions = ("fp32", "fp16", "int8-weights", "palettize6")

    toolchain = "coremltools"
    modules = ("coremltools", "coremltools.optimize.coreml", "coremltools.converters.mil.frontend.milproto.load")

    def versions(self) -> dict[str, str]:
        return versions_of("coremltools", "torch", "scikit-learn")

    def runtime(self) -> str:  # decided where parity runs
        return "coreml-predict" if predict_available() else "mil-reference"

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        import mobilesdk
        start = time.perf_counter()
        compute = "fp32" if precision == "fp32" else "fp16"
        model, how = _base_model(ep, ctx, compute)
        meta: dict[str, str | int | float | bool] = {
            "min_deployment_target": DEPLOYMENT_TARGET,
            "compute_precision": compute,
            "decompositions": how,
            "compression": "none",
        }
        if precision in ("int8-weights", "palettize6"):
            model, compression = _compress(model, precision)
            meta.update(compression=compression, weight_threshold=WEIGHT_THRESHOLD)
        model.user_defined_metadata.update(
            {
                "mobilesdk.version": mobilesdk.__version__,
                "mobilesdk.spec_digest": ctx.spec.digest(),
                "mobilesdk.model": ctx.model,
                "mobilesdk.precision": precision,
                "mobilesdk.decompositions": how,  # which program's fx node names the MIL names are (taps)
            }
        )
        model.short_description = ctx.spec.description or ctx.model
        for t in ctx.spec.inputs:
            model.input_description[t.name] = f"{t.dtype} [{', '.join(map(str, t.shape))}]"
        for t in ctx.spec.outputs:
            model.output_description[t.name] = f"{t.dtype} [{', '.join(map(str, t.shape))}]"
        path = out_dir / PACKAGE_NAME
        if path.exists():
            shutil.rmtree(path)
        model.save(str(path))
        meta.update(_describe(path))
        meta["evaluator"] = self.runtime()
        meta["size_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        meta["convert_seconds"] = round(time.perf_counter() - start, 2)
        return Converted(files=[path], meta=meta)

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        """Core ML predict on macOS (per output, the worse of CPU_ONLY and ALL), the MIL reference
        evaluator elsewhere."""
        from converters.coreml.mil import load_evaluator

        path = Path(converted.files[0])
        if self.runtime() == "coreml-predict":
            return spec_io(worse_of(predictors(path), load_evaluator(path)), spec)
        return spec_io(load_evaluator(path), spec)

    def compute_unit_runners(self, converted: Converted, spec: ModelSpec) -> dict[str, Runner]:
        """One Core ML predict runner per compute-unit set (macOS only)."""
        return {unit: spec_io(run, spec) for unit, run in predictors(Path(converted.files[0])).items()}

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        """The saved program's MIL ops, each scoped by the fx node of the program coremltools converted
        that it computes, with tensors from the MIL reference evaluator (also on macOS: Core ML
        predict shows no intermediate tensors)."""
        from converters.coreml.taps import coreml_taps

        return coreml_taps(Path(files[0]), lambda how: _decomposed(ep, how), ctx.spec)


# Conversion is slow (run_decompositions and the MIL pass pipeline take seconds even for tiny models):
# fp32 and fp16 share one decomposition; int8-weights and palettize6 compress the same fp16 model.
def _base_model(ep, ctx: BuildContext, compute: str):
    return memo_per_program(ep, ("coreml", ctx.spec.digest(), compute), lambda: _ct_convert(ep, ctx, compute))


def _ct_convert(ep, ctx: BuildContext, compute: str):
    """ct.convert with the spec's I/O names and float32 I/O; returns (model, decomposition used).

    coremltools 9 needs an ATEN-dialect program. `run_decompositions({})` keeps ops like layer_norm
    and gelu whole and, with `translation_fixes()`, works for our families and the stock Hugging Face
    models; the default table rewrites per-channel PReLU (docs/toolchain-traps.md#1) but breaks
    `expand` in the aligner. So: the empty table first, the default table if that fails.
    """
    import coremltools as ct

    spec = ctx.spec
    kwargs = dict(
        inputs=[ct.TensorType(name=t.name, dtype=COREML_DTYPES[t.dtype]) for t in spec.inputs],
        outputs=[ct.TensorType(name=o.name, dtype=COREML_DTYPES[o.dtype]) for o in spec.outputs],
        minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET),
        compute_precision=ct.precision.FLOAT32 if compute == "fp32" else ct.precision.FLOAT16,
        convert_to="mlprogram",
    )
    errors = []
    worked = memo_per_program(ep, ("coreml decomposition that converted",), dict)  # fp16 starts where fp32 succeeded
    for how in sorted(("none", "default"), key=lambda h: h != worked.get("how", "none")):
        try:
            program = _decomposed(ep, how)
            with translation_fixes():
                model = ct.convert(program, **kwargs)
            worked["how"] = how
            return model, how
        except Exception as e:  # try the next table; report the first failure if all fail
            errors.append(e)
    raise _explain(errors[0], ctx.model, ep) from errors[0]


def _decomposed(ep, how: str):
    """`ep` as ct.convert gets it: run_decompositions with the empty table ("none") or the default one."""
    decompose = (lambda: ep.run_decompositions({})) if how == "none" else ep.run_decompositions
    return memo_per_program(ep, ("coreml decomposed", how), decompose)


def _compress(model, precision: str):
    import coremltools.optimize.coreml as cto

    if precision == "int8-weights":
        op = cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=WEIGHT_THRESHOLD
        )
        model = cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=op))
        return model, "int8 linear_symmetric per_channel"
    try:
        import sklearn.cluster  # noqa: F401  (coremltools' k-means palettization uses it)
    except ImportError as e:
        raise ConfigError("`coreml` palettize6 needs scikit-learn for k-means. Fix: pip install scikit-learn") from e
    op = cto.OpPalettizerConfig(mode="kmeans", nbits=6, granularity="per_tensor", weight_threshold=WEIGHT_THRESHOLD)
    return cto.palettize_weights(model, cto.OptimizationConfig(global_config=op)), "palettize 6-bit kmeans per_tensor"


def _describe(path: Path) -> dict[str, str | int]:
    """Manifest facts read back from the saved package: shapes, op types, compressed weights."""
    from converters.coreml.mil import input_ranges, load_program, op_types, supported_ops

    program, spec = load_program(path)
    ranges = input_ranges(spec)
    dims = {
        name: ", ".join(str(lo) if lo == hi else f"{lo}..{hi if hi >= 0 else 'inf'}" for lo, hi in r)
        for name, r in ranges.items()
    }
    dynamic = any(lo != hi for r in ranges.values() for lo, hi in r)
    shapes = "; ".join(f"{n}[{d}]" for n, d in dims.items())
    ops = op_types(program)
    main = program.functions["main"].operations
    unevaluated = sorted(set(ops) - set(supported_ops()))
    facts: dict[str, str | int] = {
        "shapes": f"{'dynamic' if dynamic else 'static'}: {shapes}",
        "mil_ops": ",".join(ops),
        "compressed_weights": sum(1 for op in main if op.op_type.startswith("constexpr_")),
    }
    if unevaluated:
        facts["mil_ops_unevaluated"] = ",".join(unevaluated)
    return facts


def _explain(e: Exception, model: str, ep=None) -> Exception:
    return explain(e, "coreml", KNOWN_FAILURES, program=ep) or UnsupportedOpError(
        f"model `{model}`", "coreml", f"coremltools failed with {summary(e)}; simplify the op it names or report it"
    )
