"""Capture once: torch.export of a model with the spec's dynamic axes.

Every converter receives the ExportedProgram made here. The module is wrapped so that its outputs
are always a tuple in the spec's output order, whatever the user's forward returns (a tensor, a
tuple, a dict or a Hugging Face ModelOutput).
"""
from __future__ import annotations

import numpy as np
import torch

from mobilesdk.errors import ConfigError, summary
from mobilesdk.spec import ModelSpec

TORCH_DTYPES = {"float32": torch.float32, "int32": torch.int32, "int64": torch.int64}


class SpecOrdered(torch.nn.Module):
    """Calls the user's module with the spec's inputs in order; returns outputs as a tuple."""

    def __init__(self, module: torch.nn.Module, spec: ModelSpec):
        super().__init__()
        self.module = module
        self.output_names = [o.name for o in spec.outputs]

    def forward(self, *args):
        out = self.module(*args)
        if isinstance(out, torch.Tensor):
            return (out,)
        if isinstance(out, dict) or hasattr(out, "keys"):
            return tuple(out[name] for name in self.output_names)
        return tuple(out)


def dynamic_shapes(spec: ModelSpec, strict: bool = True) -> dict[str, dict[int, object]]:
    """torch.export dynamic_shapes for the spec's inputs, keyed by input name.

    Strided axes are `multiple_of * Dim(...)`. Other axes are named Dims when `strict` (capture: a
    guard the model adds on a length fails the export, naming it), else `Dim.DYNAMIC` ranges, which
    accept guards torch.export cannot prove (docs/toolchain-traps.md#5) such as the ones PT2E's
    quantize/dequantize pairs add around reshapes; converters then check the range they got.
    """
    from torch.export import Dim

    dims = {}
    for d in spec.dims:
        if d.min == d.max:
            continue
        if d.multiple_of > 1:
            dims[d.name] = d.multiple_of * Dim(f"{d.name}_units", min=d.min // d.multiple_of, max=d.max // d.multiple_of)
        elif strict or d.min <= 1:  # Dim.DYNAMIC specialises 0 and 1 away: a batch of 1 would be lost
            dims[d.name] = Dim(d.name, min=d.min, max=d.max)
        else:
            dims[d.name] = Dim.DYNAMIC(min=d.min, max=d.max)
    return {t.name: {i: dims[s] for i, s in enumerate(t.shape) if isinstance(s, str) and s in dims} for t in spec.inputs}


def export_dynamic_shapes(spec: ModelSpec) -> dict:
    """`dynamic_shapes` for torch.export of a SpecOrdered module (its forward takes *args)."""
    shapes = dynamic_shapes(spec)
    return {"args": tuple(shapes[t.name] for t in spec.inputs)}


def to_torch(arrays: dict[str, np.ndarray], spec: ModelSpec) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(np.ascontiguousarray(arrays[t.name])).to(TORCH_DTYPES[t.dtype]) for t in spec.inputs)


def run_torch(module: torch.nn.Module, spec: ModelSpec, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch's outputs for one batch, as float32/int numpy arrays keyed by output name."""
    wrapped = module if isinstance(module, SpecOrdered) else SpecOrdered(module, spec)
    with torch.no_grad():
        outs = wrapped(*to_torch(arrays, spec))
    return {o.name: t.detach().cpu().numpy() for o, t in zip(spec.outputs, outs)}


def capture(module: torch.nn.Module, spec: ModelSpec, example: dict[str, np.ndarray]):
    """torch.export the module once, with dynamic axes; the single interchange object."""
    wrapped = SpecOrdered(module.eval(), spec)
    args = tuple(t.clone() for t in to_torch(example, spec))  # never reuse exported tensors: docs/toolchain-traps.md#8
    try:
        with torch.no_grad():
            return torch.export.export(wrapped, args, dynamic_shapes=export_dynamic_shapes(spec))
    except Exception as e:  # torch.export's errors are long; keep the first line and name the fix
        raise ConfigError(
            f"torch.export failed for model `{spec.name}`: {summary(e)}. Fix: make forward() free of "
            "data-dependent Python control flow, or narrow the spec's dynamic dims"
        ) from e
