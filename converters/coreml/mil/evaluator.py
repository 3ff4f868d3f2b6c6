"""Executes a saved `.mlpackage`'s MIL program op by op in numpy (see the package docstring)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import converters.coreml.mil.math_ops  # noqa: F401  (registers its kernels)
import converters.coreml.mil.shape_ops  # noqa: F401  (registers its kernels)
from converters.coreml.mil.constexpr import CONSTEXPR
from converters.coreml.mil.kernels import KERNELS


class NotEvaluatedError(RuntimeError):
    """The program contains an op the reference evaluator has no kernel for."""


def supported_ops() -> list[str]:
    return sorted({"const", *KERNELS, *CONSTEXPR})


# the evaluator -----------------------------------------------------------------------------------
def _np_dtype(var) -> np.dtype:
    from coremltools.converters.mil.mil import types

    return np.dtype(types.nptype_from_builtin(var.dtype))


def _widen(v):
    """Kernels compute floats in float32 (fp16 values are exact in it) and other types as they are."""
    if isinstance(v, np.ndarray) and v.dtype == np.float16:
        return v.astype(np.float32)
    if isinstance(v, np.generic) and v.dtype == np.float16:
        return np.float32(v)
    return v


def _value(var):
    """The value of a const var; None for anything computed at run time."""
    if var.op is not None and var.op.op_type != "const":
        return None
    val = var.val
    if val is None or isinstance(val, (np.ndarray, np.generic, str)):
        return val
    return np.asarray(val)


class ProgramEvaluator:
    """Executes the main function of a MIL program on numpy inputs."""

    def __init__(self, program, function: str = "main"):
        self.function = program.functions[function]
        self.ops = list(self.function.operations)
        missing = sorted({op.op_type for op in self.ops if op.op_type not in KERNELS and op.op_type not in CONSTEXPR
                          and op.op_type != "const"} | {op.op_type for op in self.ops if op.blocks})
        if missing:
            raise NotEvaluatedError(
                f"not evaluated: {', '.join(missing)} (the MIL reference evaluator has no kernel for "
                f"{'this op' if len(missing) == 1 else 'these ops'}; add one to converters/coreml/mil/ with `kernel` "
                "with a test against PyTorch, or check on macOS where Core ML predict runs)"
            )
        self.inputs = dict(self.function.inputs)
        self.output_names = [v.name for v in self.function.outputs]
        self.constants: dict[str, object] = {}
        self.program_ops = []
        for op in self.ops:
            if op.op_type == "const":
                self.constants[op.outputs[0].name] = _value(op.outputs[0])
            elif op.op_type in CONSTEXPR:
                args = {k: self._lookup(v, self.constants) for k, v in op.inputs.items()}
                self._store(op, CONSTEXPR[op.op_type](args), self.constants)
            else:
                self.program_ops.append(op)
        self._last_use = self._last_uses()

    def _last_uses(self) -> dict[int, list[str]]:
        last: dict[str, int] = {}
        for i, op in enumerate(self.program_ops):
            for v in op.inputs.values():
                for var in v if isinstance(v, (list, tuple)) else [v]:
                    last[var.name] = i
        keep = set(self.output_names)
        out: dict[int, list[str]] = {}
        for name, i in last.items():
            if name not in keep and name not in self.constants:
                out.setdefault(i, []).append(name)
        return out

    @staticmethod
    def _lookup(v, env):
        if isinstance(v, (list, tuple)):
            return [ProgramEvaluator._lookup(x, env) for x in v]
        if v.name in env:
            return env[v.name]
        val = _value(v)
        if val is None:
            raise RuntimeError(f"MIL reference evaluator bug: `{v.name}` is used before it has a value")
        return val

    @staticmethod
    def _store(op, result, env) -> None:
        results = result if isinstance(result, tuple) else (result,)
        if len(results) < len(op.outputs):
            raise RuntimeError(
                f"MIL reference evaluator bug: `{op.op_type}` gave {len(results)} outputs, needs {len(op.outputs)}"
            )
        for var, value in zip(op.outputs, results):
            value = np.asarray(value).astype(_np_dtype(var), copy=False)
            static = var.shape if all(isinstance(s, (int, np.integer)) for s in var.shape) else None
            if static is not None and tuple(value.shape) != tuple(static):
                raise RuntimeError(
                    f"MIL reference evaluator bug: `{op.op_type}` (op `{op.name}`) gave shape {value.shape}, "
                    f"the program declares {tuple(static)}"
                )
            env[var.name] = value

    def __call__(self, feeds: dict[str, np.ndarray], keep=()) -> dict[str, np.ndarray]:
        """The program's outputs; with `keep`, also those vars' values (for `mobilesdk explain`)."""
        keep = set(keep)
        env = dict(self.constants)
        for name, var in self.inputs.items():
            if name not in feeds:
                raise ValueError(f"the Core ML program needs input `{name}` (got {sorted(feeds)})")
            x = np.asarray(feeds[name])
            if x.ndim != len(var.shape):
                raise ValueError(f"input `{name}` has rank {x.ndim}, the program takes rank {len(var.shape)}")
            env[name] = x.astype(_np_dtype(var), copy=False)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for i, op in enumerate(self.program_ops):
                args = {}
                for k, v in op.inputs.items():
                    val = self._lookup(v, env)
                    args[k] = [_widen(x) for x in val] if isinstance(val, list) else _widen(val)
                try:
                    result = KERNELS[op.op_type](args)
                except NotImplementedError as e:
                    raise NotEvaluatedError(f"not evaluated: {op.op_type} ({e}; op `{op.name}`)") from e
                self._store(op, result, env)
                for name in self._last_use.get(i, ()):
                    if name not in keep:
                        env.pop(name, None)
        return {name: env[name] for name in [*self.output_names, *sorted(keep)] if name in env}


def load_program(path: str | Path):
    """The MIL program and the model description of a saved `.mlpackage` (no Core ML framework needed)."""
    import coremltools as ct
    from coremltools.converters.mil.frontend.milproto import load as milproto

    model = ct.models.MLModel(str(path), skip_model_load=True)
    spec = model.get_spec()
    if not spec.HasField("mlProgram"):
        raise NotEvaluatedError(f"not evaluated: {spec.WhichOneof('Type')} (only ML programs can be evaluated)")
    return milproto.load(spec, spec.specificationVersion, model.weights_dir), spec


def input_ranges(spec) -> dict[str, list[tuple[int, int]]]:
    """Per model input, the allowed [lower, upper] size of every axis (upper -1: unbounded)."""
    out = {}
    for inp in spec.description.input:
        arr = inp.type.multiArrayType
        if arr.HasField("shapeRange"):
            out[inp.name] = [(int(r.lowerBound), int(r.upperBound)) for r in arr.shapeRange.sizeRanges]
        elif arr.HasField("enumeratedShapes"):
            shapes = [list(s.shape) for s in arr.enumeratedShapes.shapes]
            out[inp.name] = [(min(s[i] for s in shapes), max(s[i] for s in shapes)) for i in range(len(shapes[0]))]
        else:
            out[inp.name] = [(int(s), int(s)) for s in arr.shape]
    return out


def load_evaluator(path: str | Path):
    """A callable `feeds -> outputs` that evaluates a saved `.mlpackage` the way the device would,
    rejecting input shapes outside the model's declared ranges (as Core ML does)."""
    program, spec = load_program(path)
    evaluator = ProgramEvaluator(program)
    ranges = input_ranges(spec)

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for name, bounds in ranges.items():
            shape = np.shape(feeds.get(name, ()))
            if len(shape) != len(bounds) or any(s < lo or (hi >= 0 and s > hi) for s, (lo, hi) in zip(shape, bounds)):
                raise ValueError(f"input `{name}` has shape {shape}, outside the model's ranges {bounds}")
        return evaluator(feeds)

    run.evaluator = evaluator
    return run


def op_types(program, function: str = "main") -> list[str]:
    return sorted({op.op_type for op in program.functions[function].operations})
