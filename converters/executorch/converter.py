"""ExecuTorch backend: `.pte` programs lowered to XNNPACK, run by `executorch.runtime`.

Every precision starts from a deep copy of `ep.module()`: int8 quantizes it with PT2E and the XNNPACK
quantizer (`quantize.py`). The copy is re-exported with the spec's dynamic axes and lowered to
XNNPACK (`lowering.py`); what XNNPACK does not take runs on ExecuTorch's portable kernels. The shared
ExportedProgram is never lowered itself (see `write`).
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from converters.base import (
    BuildContext, Converted, Converter, check_input_shapes, int8_tables_or_float, native_stderr_held, reexport,
    versions_of,
)
from converters.executorch.lowering import (
    check_kernels, conv1d_as_conv2d, conv1d_rewrite_needed, dynamic_ranges, explain_lowering, load_quantized_kernels,
    lower, partition_stats,
)
from converters.executorch.quantize import quantize
from mobilesdk.spec import ModelSpec, Runner

PTE_NAME = "model.pte"


class ExecuTorchConverter(Converter):
    name = "executorch"
    precisions = ("fp32", "int8-dynamic", "int8-static")
    # float_modules: nn.Module paths int8 leaves in fp32 (a quantization-sensitivity sweep's knob)
    options = {"float_modules": list}

    # toolchain -----------------------------------------------------------------------------------
    toolchain = "executorch"
    modules = ("executorch.exir", "executorch.backends.xnnpack.partition.xnnpack_partitioner",
               "executorch.extension.pybindings.portable_lib", "executorch.runtime")

    def runtime_problem(self) -> str | None:
        from executorch.extension.pybindings.portable_lib import _get_registered_backend_names

        if "XnnpackBackend" not in _get_registered_backend_names():
            return "the executorch runtime has no XNNPACK backend. Fix: run `make setup` (executorch wheel from PyPI)"
        return None

    def versions(self) -> dict[str, str]:
        return versions_of("executorch", "torch", "torchao")

    def runtime(self) -> str:
        return "executorch.runtime"

    # conversion ----------------------------------------------------------------------------------
    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        """Int8 stores embedding tables int8 (`quantize.quantize_embeddings`); where that artifact fails
        parity and fp32 tables could mend it, it is converted again with them, and the meta says why."""
        return int8_tables_or_float(lambda tables: self._write(ep, ctx, precision, out_dir, tables), ctx)

    def _write(self, ep, ctx: BuildContext, precision: str, out_dir: Path, tables: bool) -> Converted:
        import torch

        start = time.perf_counter()
        meta: dict[str, str | int | float | bool] = {"precision": precision}
        # With mkldnn on, rerunning a fake conv (XNNPACK's Conv1dUnsqueezePass, again in to_executorch)
        # guards the length to <= 20480 and memory planning caps the input there
        # (docs/toolchain-traps.md#4). Export, lower and emit with it off.
        with torch.backends.mkldnn.flags(enabled=False), torch.no_grad():
            lowered = lower(program_for(ep, ctx, precision, meta, tables))
            meta.update(partition_stats(lowered.exported_program()))
            try:
                emitted = lowered.to_executorch()
            except Exception as e:
                raise explain_lowering(e) from e
        check_kernels(emitted)
        meta.update(dynamic_ranges(emitted, ctx.spec))
        path = out_dir / PTE_NAME
        path.write_bytes(emitted.buffer)
        meta["size_bytes"] = path.stat().st_size
        meta["convert_seconds"] = round(time.perf_counter() - start, 2)
        return Converted(files=[path], meta=meta)

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        """The shipped .pte's tensors where its delegates hand them out, an undelegated debug lowering's
        inside them (converters/executorch/taps.py)."""
        from converters.executorch.taps import executorch_taps

        return executorch_taps(ep, ctx, precision, Path(files[0]))

    # running -------------------------------------------------------------------------------------
    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        from executorch.runtime import Runtime

        from mobilesdk.capture import to_torch

        load_quantized_kernels()  # int8 embedding tables run on them
        program = Runtime.get().load_program(Path(converted.files[0]))
        with native_stderr_held():  # XNNPACK's cpuinfo prints probe lines while the method loads
            method = program.load_method("forward")

        def run(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            check_input_shapes(arrays, spec)
            outs = method.execute(list(to_torch(arrays, spec)))
            if len(outs) != len(spec.outputs):
                n = len(spec.outputs)
                raise ValueError(f"{converted.files[0]} returned {len(outs)} outputs; the spec declares {n}")
            # Copy: outputs may live in the method's planned memory, which the next execute overwrites.
            return {
                o.name: np.array(t.detach().cpu().numpy(), dtype=o.dtype, copy=True)
                for o, t in zip(spec.outputs, outs)
            }

        run.program = program  # keep the program alive as long as the runner
        return run


# helpers ------------------------------------------------------------------------------------------
def program_for(ep, ctx: BuildContext, precision: str, meta: dict, tables: bool = True):
    """The ExportedProgram `write` lowers at `precision`, its facts added to `meta`.

    A re-export of a copy, never `ep` itself: to_edge leaves ep's graph and weights alone but shares
    its ShapeEnv, so any guard added while lowering (that cap narrowed ep's own range to [5121,
    20480]) would leak into every other converter's input. Call with mkldnn off (see `write`).
    `tables`: int8 embedding tables (int8 precisions).
    """
    gm = copy.deepcopy(ep.module())
    # Dynamic int8 quantizes Linear layers (and tables) only, so it quantizes before the conv rewrite,
    # which cannot change what it takes; static int8 takes the rewritten 2-D convs and, as the quantizer
    # annotates exported graphs only, pays a re-export for them.
    if precision == "int8-dynamic":
        gm, quant_meta = quantize(gm, ctx, dynamic=True, tables=tables)
        meta.update(quant_meta)
    if conv1d_rewrite_needed(ep):
        meta["conv1d_as_conv2d"] = conv1d_as_conv2d(gm)
        if precision == "int8-static":
            gm = reexport(gm, ctx).module()
    if precision == "int8-static":
        gm, quant_meta = quantize(gm, ctx, dynamic=False, tables=tables)
        meta.update(quant_meta)
    return reexport(gm, ctx)
