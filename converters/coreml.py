"""Core ML backend: `.mlpackage` ML programs from the shared ExportedProgram.

fp32 and fp16 are `ct.convert` compute precisions; `int8-weights` and `palettize6` compress the fp16
model's weights (`linear_quantize_weights` int8 per channel; `palettize_weights` 6-bit k-means).
Inputs keep the spec's dynamic ranges (taken from the ExportedProgram's range constraints) and the
spec's names; float I/O stays float32 even in fp16 models, so apps feed and read what the spec says.

Parity runs where the build runs: on macOS with a working Core ML framework, `MLModel.predict` with
CPU_ONLY and with ALL compute units (`runtime` "coreml-predict"); elsewhere the MIL reference
evaluator of `converters/mil_eval.py`, which executes the saved program op by op in numpy with fp16
rounding after every op (`runtime` "mil-reference").
"""
from __future__ import annotations

import contextlib
import functools
import platform
import shutil
import time
import weakref
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, Converter, Runner, import_problem, package_version, register
from mobilesdk.errors import ConfigError, UnsupportedOpError

PACKAGE_NAME = "model.mlpackage"
DEPLOYMENT_TARGET = "iOS17"  # iOS18 only buys per-block / grouped compression, which we do not use
# Compress every weight with more than this many elements (coremltools' default, 2048, skips the
# small layers of small models: TOOLCHAIN_TRAPS.md trap 12). 64 keeps biases and norm vectors in fp16.
WEIGHT_THRESHOLD = 64
COMPUTE_UNITS = ("CPU_ONLY", "ALL")  # both must pass on macOS

_NP = {"float32": np.float32, "int32": np.int32, "int64": np.int32}  # Core ML has no int64 tensors

# Known conversion failures: (regex on the coremltools message, op or None to take group 1, hint).
_KNOWN_FAILURES = (
    (
        r"prelu op: rank 3",
        "aten.prelu",
        "replace nn.PReLU on [B,C,T] with `torch.clamp(x, min=0) + w.view(-1, 1) * torch.clamp(x, max=0)` "
        "(TOOLCHAIN_TRAPS.md trap 1)",
    ),
    (
        r"Unsupported fx node (\S+)",
        None,
        "rewrite the op with supported primitives",
    ),
    (
        r"convert function for op '([^']+)' not implemented",
        None,
        "rewrite the op with supported primitives, or register a translation with "
        "coremltools.converters.mil.frontend.torch.register_torch_op",
    ),
)


class CoreMLConverter(Converter):
    name = "coreml"
    suffix = ".mlpackage"
    precisions = ("fp32", "fp16", "int8-weights", "palettize6")

    @property
    def runtime(self) -> str:  # decided where parity runs, recorded per manifest row
        return "coreml-predict" if predict_available() else "mil-reference"

    # toolchain -----------------------------------------------------------------------------------
    def check(self) -> str | None:
        modules = ("coremltools", "coremltools.optimize.coreml", "coremltools.converters.mil.frontend.milproto.load")
        return import_problem("coremltools", modules)

    def versions(self) -> dict[str, str]:
        return {dist: package_version(dist) for dist in ("coremltools", "torch", "scikit-learn")}

    # conversion ----------------------------------------------------------------------------------
    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        if precision not in self.precisions:
            raise ConfigError(f"`coreml` has no precision `{precision}`; use one of {', '.join(self.precisions)}")
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
            }
        )
        model.short_description = ctx.spec.description or ctx.model
        for t in ctx.spec.inputs:
            model.input_description[t.name] = f"{t.dtype} [{', '.join(map(str, t.shape))}]"
        for t in ctx.spec.outputs:
            model.output_description[t.name] = f"{t.dtype} [{', '.join(map(str, t.shape))}]"
        path = Path(out_dir) / PACKAGE_NAME
        if path.exists():
            shutil.rmtree(path)
        model.save(str(path))
        meta.update(_describe(path))
        meta["evaluator"] = self.runtime
        meta["size_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        meta["convert_seconds"] = round(time.perf_counter() - start, 2)
        return Converted(files=[path], meta=meta)

    # running -------------------------------------------------------------------------------------
    def load(self, converted: Converted, ctx: BuildContext) -> Runner:
        """Runs the artifact: Core ML predict on macOS (per output, the worse of CPU_ONLY and ALL),
        the MIL reference evaluator elsewhere."""
        from converters.mil_eval import load_evaluator

        path = Path(converted.files[0])
        if self.runtime == "coreml-predict":
            return _spec_io(_worse_of(_predictors(path), load_evaluator(path)), ctx.spec)
        return _spec_io(load_evaluator(path), ctx.spec)

    def load_compute_units(self, converted: Converted, ctx: BuildContext) -> dict[str, Runner]:
        """One Core ML predict runner per compute-unit set (macOS only)."""
        return {unit: _spec_io(run, ctx.spec) for unit, run in _predictors(Path(converted.files[0])).items()}


register(CoreMLConverter())


# conversion helpers -------------------------------------------------------------------------------
# Conversion is slow (run_decompositions and the MIL pass pipeline take seconds even for tiny models),
# so the decomposed program and the fp32/fp16 models are kept per ExportedProgram while it lives:
# fp32 and fp16 share one decomposition; int8-weights and palettize6 compress the same fp16 model.
_CACHE: dict[tuple, object] = {}


def _cached(ep, key: tuple, make):
    key = (id(ep), *key)
    entry = _CACHE.get(key)
    if entry is None or entry[0]() is not ep:  # an id can be reused once its program is gone
        while len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        entry = _CACHE[key] = (weakref.ref(ep), make())
        weakref.finalize(ep, _CACHE.pop, key, None)
    return entry[1]


def _base_model(ep, ctx: BuildContext, compute: str):
    return _cached(ep, (ctx.spec.digest(), compute), lambda: _ct_convert(ep, ctx, compute))


def _ct_convert(ep, ctx: BuildContext, compute: str):
    """ct.convert with the spec's I/O names and float32 I/O; returns (model, decomposition used).

    coremltools 9 needs an ATEN-dialect program. `run_decompositions({})` keeps ops like layer_norm
    and gelu whole and works for our families; Hugging Face BERT needs the default table instead
    ("Unsupported fx node new_ones"; ARCHITECTURE.md), which in turn breaks `expand` in the aligner.
    So: the empty table first, the default table if that fails.
    """
    import coremltools as ct

    spec = ctx.spec
    kwargs = dict(
        inputs=[ct.TensorType(name=t.name, dtype=_NP[t.dtype]) for t in spec.inputs],
        outputs=[ct.TensorType(name=o.name, dtype=_NP[o.dtype]) for o in spec.outputs],
        minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET),
        compute_precision=ct.precision.FLOAT32 if compute == "fp32" else ct.precision.FLOAT16,
        convert_to="mlprogram",
    )
    errors = []
    worked = _cached(ep, ("decomposition that converted",), dict)  # fp16 starts where fp32 succeeded
    for how, table in sorted((("none", {}), ("default", None)), key=lambda h: h[0] != worked.get("how", "none")):
        try:
            decompose = ep.run_decompositions if table is None else (lambda t=table: ep.run_decompositions(t))
            program = _cached(ep, ("decomposed", how), decompose)
            with _translation_fixes():
                model = ct.convert(program, **kwargs)
            worked["how"] = how
            return model, how
        except Exception as e:  # try the next table; report the first failure if all fail
            errors.append(e)
    raise _explain(errors[0], ctx.model) from errors[0]


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
    from converters.mil_eval import input_ranges, load_program, op_types, supported_ops

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


def _explain(e: Exception, model: str) -> Exception:
    import re

    text = str(e)
    for pattern, op, hint in _KNOWN_FAILURES:
        m = re.search(pattern, text)
        if m:
            return UnsupportedOpError(op or m.group(1), "coreml", hint)
    return UnsupportedOpError(
        f"model `{model}`", "coreml",
        f"coremltools failed with {type(e).__name__}: {_first_line(text)}; simplify the op it names or report it",
    )


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


@contextlib.contextmanager
def _translation_fixes():
    """Override two coremltools 9 torch translations for the duration of one `ct.convert`.

    * `constant_pad_nd` with symbolic pad amounts on a rank > 1 tensor raises "Dynamic padding for
      n-dimensional tensors is not supported" (frontend/torch/ops.py `pad`), e.g. for
      `F.pad(x[B, N], (0, f(N)))`. A concat with `fill` tensors whose shapes come from `shape(x)` is
      exact and runs everywhere. Static pads keep the stock translation.
    * `floordiv` on symbolic sizes (`n // 320`) is aliased to `floor_divide`, which casts the result
      to fp32 ("Pytorch's floor_divide always returns fp32", ops.py `floor_divide`); the float size
      then breaks `slice` ("concat op should share the same data type"). Integer operands keep an
      int32 `floor_div`, as in PyTorch; float operands keep the stock translation.
    """
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    table = _TORCH_OPS_REGISTRY.name_to_func_mapping
    saved = {k: table[k] for k in ("pad", "constant_pad_nd", "floordiv", "floor_divide") if k in table}

    def pad(context, node):
        try:
            return saved["pad"](context, node)
        except NotImplementedError as e:
            if "Dynamic padding" not in str(e):
                raise
            _pad_by_concat(context, node)

    def floor_divide(context, node):
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs
        from coremltools.converters.mil.mil import types

        x, y = _get_inputs(context, node, expected=2)
        x, y = (mb.const(val=np.int32(v)) if isinstance(v, (int, np.integer)) else v for v in (x, y))
        if not (types.is_int(x.dtype) and types.is_int(y.dtype)):
            return saved["floor_divide"](context, node)
        x, y = (v if v.dtype == types.int32 else mb.cast(x=v, dtype="int32") for v in (x, y))
        context.add(mb.floor_div(x=x, y=y, name=node.name))

    fixes = {"pad": pad, "constant_pad_nd": pad, "floordiv": floor_divide, "floor_divide": floor_divide}
    try:
        for k in saved:
            table[k] = fixes[k]
        yield
    finally:
        table.update(saved)


def _pad_by_concat(context, node) -> None:
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.torch.ops import _get_inputs
    from coremltools.converters.mil.mil import types

    inputs = _get_inputs(context, node)
    x, pads = inputs[0], inputs[1]
    if node.kind == "constant_pad_nd":
        value = inputs[2] if len(inputs) > 2 else None
    else:  # aten.pad(x, pad, mode="constant", value=None)
        mode = inputs[2] if len(inputs) > 2 else "constant"
        mode = mode.val if hasattr(mode, "val") else mode
        if mode not in (None, "constant"):
            raise NotImplementedError(f"Dynamic padding for n-dimensional tensors in mode {mode}")
        value = inputs[3] if len(inputs) > 3 else None
    value = 0.0 if value is None else float(value.val if hasattr(value, "val") else value)
    fill_value = types.nptype_from_builtin(x.dtype)(value)
    pads = list(pads) if isinstance(pads, (list, tuple)) else [int(v) for v in pads.val]
    out = x
    for i in range(len(pads) // 2):  # torch order: the last axis first, (before, after)
        axis = x.rank - 1 - i
        parts = []
        for amount in (pads[2 * i], pads[2 * i + 1]):
            if isinstance(amount, (int, np.integer)) and amount == 0:
                parts.append(None)
                continue
            if isinstance(amount, (int, np.integer)) and amount < 0:
                raise NotImplementedError("negative padding with a dynamic pad")
            amount = mb.const(val=np.array([amount], dtype=np.int32)) if isinstance(amount, (int, np.integer)) else (
                mb.reshape(x=mb.cast(x=amount, dtype="int32"), shape=[1]))
            shape = mb.shape(x=out)
            dims = [amount if j == axis else mb.slice_by_index(x=shape, begin=[j], end=[j + 1]) for j in range(x.rank)]
            parts.append(mb.fill(shape=mb.concat(values=dims, axis=0), value=fill_value))
        values = [p for p in (parts[0], out, parts[1]) if p is not None]
        out = mb.concat(values=values, axis=axis) if len(values) > 1 else out
    context.add(mb.identity(x=out, name=node.name))


# running helpers ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def predict_available() -> bool:
    """True on macOS when Core ML can load and run a one-op ML program here."""
    if platform.system() != "Darwin":
        return False
    try:
        import coremltools as ct
        from coremltools.converters.mil import Builder as mb

        @mb.program(input_specs=[mb.TensorSpec(shape=(2,))], opset_version=ct.target.iOS17)
        def prog(x):
            return mb.add(x=x, y=np.float32(1.0), name="y")

        model = ct.convert(prog, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17)
        out = model.predict({"x": np.array([1.0, 2.0], dtype=np.float32)})
        return bool(np.allclose(out["y"], [2.0, 3.0]))
    except Exception:
        return False


def _spec_io(run, spec) -> Runner:
    """Adapts a Core ML runner to spec dtypes: int64 inputs go in as int32 (Core ML has no int64)."""
    from mobilesdk.golden import NP_DTYPES

    def runner(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        for t in spec.inputs:
            x = np.asarray(arrays[t.name])
            if t.dtype == "int64":
                if x.size and (x.min() < np.iinfo(np.int32).min or x.max() > np.iinfo(np.int32).max):
                    raise ValueError(f"input `{t.name}` has values outside int32, which Core ML cannot take")
                x = x.astype(np.int32)
            feeds[t.name] = np.ascontiguousarray(x.astype(_NP[t.dtype], copy=False))
        got = run(feeds)
        missing = [o.name for o in spec.outputs if o.name not in got]
        if missing:
            raise ValueError(f"the Core ML model returned no output {missing} (it gave {sorted(got)})")
        return {o.name: np.asarray(got[o.name]).astype(NP_DTYPES[o.dtype]) for o in spec.outputs}

    return runner


def _predictors(path: Path) -> dict[str, Runner]:
    import coremltools as ct

    out = {}
    for unit in COMPUTE_UNITS:
        model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, unit))
        out[unit] = lambda feeds, m=model: m.predict(feeds)
    return out


def _worse_of(units: dict[str, Runner], reference) -> Runner:
    """Per output, the compute unit whose result is farther from the reference evaluation of the same
    program, so a parity row passes only if every compute unit's result would."""
    from mobilesdk.parity import sqnr_db

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ref = reference(feeds)
        results = {unit: r(feeds) for unit, r in units.items()}
        return {name: min((res[name] for res in results.values()), key=lambda got: _closeness(ref[name], got, sqnr_db))
                for name in ref}

    return run


def _closeness(ref: np.ndarray, got: np.ndarray, sqnr_db) -> float:
    got = np.asarray(got, dtype=np.float64)
    if not np.isfinite(got).all():
        return -np.inf
    return sqnr_db(np.asarray(ref, dtype=np.float64), got)
