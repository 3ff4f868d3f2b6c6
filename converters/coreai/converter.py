"""Core AI backend: `.aimodel` assets from the shared ExportedProgram with coreai-torch.

fp32 converts the program as captured (after coreai-torch's decomposition table). fp16 converts a
half-precision copy whose float inputs and outputs stay float32 (cast at the edges), so apps feed
and read what the spec says; coreai-torch has no compute-precision option. int8-weights quantizes
the fp32 program's weights with coreai-opt's public post-conversion pass (`quantize_weights`, int8
symmetric per output channel, data-free), the analogue of Core ML's `linear_quantize_weights`.
Dynamic dims come from the capture's range constraints; int64 inputs are narrowed to int32 by the
converter, and the runner feeds them so.

Parity runs the saved asset in the Core AI runtime, one worker process per artifact (`runner.py`).
"""
from __future__ import annotations

import contextlib
import copy
import io
import platform
import shutil
import time
from pathlib import Path

from converters.base import (
    BuildContext, Converted, Converter, memo_per_program, native_stderr_held, reexport, versions_of,
)
from converters.coreai.rewrites import int_index_put_as_where
from converters.coreai.runner import WorkerRunner
from converters.coreai.worker import FUNCTION
from converters.rewrites import bool_index_put_as_where, has_index_put
from mobilesdk.errors import UnsupportedOpError, summary
from mobilesdk.spec import ModelSpec, Runner

ASSET_NAME = "model.aimodel"
# Quantize every weight with more than this many elements (coreai-opt's default, 1024, skips the
# small layers of small models); the same choice as the Core ML backend's WEIGHT_THRESHOLD.
WEIGHT_THRESHOLD = 64


class CoreAIConverter(Converter):
    name = "coreai"
    precisions = ("fp32", "fp16", "int8-weights")

    toolchain = "the Core AI toolchain (coreai-torch, coreai-core, coreai-opt)"
    modules = ("coreai_torch", "coreai.authoring", "coreai.runtime", "coreai_opt.coreai_utils")

    def versions(self) -> dict[str, str]:
        return versions_of("coreai-torch", "coreai-core", "coreai-opt", "torch")

    def runtime(self) -> str:
        return f"coreai-runtime ({platform.system().lower()}, cpu)"

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        start = time.perf_counter()
        try:
            program = _program(ep, ctx, precision)
        except Exception as e:
            raise UnsupportedOpError(f"model {ctx.model}", "coreai",
                                     f"coreai-torch failed with {summary(e)}; simplify the op it names or report it") from e
        meta: dict[str, str | int | float | bool] = {"compression": "none", "function": FUNCTION}
        if precision == "fp16":
            meta["compute_precision"] = "fp16 (half() model, float32 I/O)"
        if precision == "int8-weights":
            program = _quantize(program)
            meta.update(compression="int8 symmetric per_channel (coreai-opt quantize_weights)",
                        weight_threshold=WEIGHT_THRESHOLD)
        path = out_dir / ASSET_NAME
        if path.exists():
            shutil.rmtree(path)
        try:
            program.save_asset(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        meta.update(io_facts(ctx.spec))
        meta["size_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        meta["convert_seconds"] = round(time.perf_counter() - start, 2)
        return Converted(files=[path], meta=meta)

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        """A worker process running the saved asset in the Core AI runtime (started on first call)."""
        return WorkerRunner(Path(converted.files[0]), spec)

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        raise NotImplementedError(
            "the Core AI runtime returns only a function's outputs, and its debugger and comparator run only on macOS; "
            "the coreml artifact of the same precision, explained through the MIL evaluator, is the nearest look")


def _program(ep, ctx: BuildContext, precision: str):
    """The converted AIProgram (not yet saved) for fp32 (also the base of int8-weights) or fp16."""
    import coreai_torch

    spec = ctx.spec
    half = precision == "fp16"
    source = memo_per_program(ep, ("coreai decomposed", half), lambda: _decomposed(ep, ctx, half))
    converter = coreai_torch.TorchConverter().add_exported_program(
        source, input_names=[t.name for t in spec.inputs], output_names=[o.name for o in spec.outputs],
        entrypoint_name=FUNCTION)
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_held():  # its progress bar would break ours
        return converter.to_coreai()


def _decomposed(ep, ctx: BuildContext, half: bool):
    """The program coreai-torch takes: after its decomposition table, index_puts as where (see
    rewrites.py), and for fp16 in half precision with float32 I/O. The capture
    itself is converted when it needs neither (no re-export)."""
    import coreai_torch
    import torch

    if half or has_index_put(ep):
        gm = bool_index_put_as_where(ep.module())
        int_index_put_as_where(gm)
        if half:  # a deep copy: ep.module() shares its parameters with `ep`, and half() converts them in place
            gm = _half_inside(_float32_to_half(copy.deepcopy(gm).half()))
        with torch.no_grad():
            ep = reexport(gm, ctx)
    return ep.run_decompositions(coreai_torch.get_decomp_table())


def _half_inside(inner):
    """`inner` (fp16 weights) behind float32 inputs and outputs, cast at the edges."""
    import torch

    class HalfInside(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            args = tuple(a.half() if a.is_floating_point() else a for a in args)
            return tuple(o.float() if o.is_floating_point() else o for o in self.inner(*args))

    return HalfInside()


def _float32_to_half(gm):
    """Make the float32 dtypes the capture wrote into the graph (`x.to(h.dtype)`, `full(..., dtype=)`)
    float16, as `half()` does for parameters and buffers: else those ops meet fp16 weights and fail ("Input type
    (float) and bias type (c10::Half) should be the same")."""
    import torch

    def retype(v):
        return torch.float16 if v is torch.float32 else v

    for node in gm.graph.nodes:
        node.args = tuple(retype(a) for a in node.args)
        node.kwargs = {k: retype(v) for k, v in node.kwargs.items()}
    gm.recompile()
    return gm


# Ops whose weight constants int8-weights quantizes: coreai-opt's own list (conv2d, the matmuls,
# gather_nd, transpose) and transposed convs, which it leaves float though the runtime takes their
# weights dequantized as any conv's (the enhancer's decoder: 2.3 of its 6.6 MB; docs/decisions.md).
EXTRA_WEIGHT_OPS = frozenset({"coreai.conv_transpose2d", "coreai.conv_transpose3d"})


def _quantize(program):
    from unittest import mock

    from coreai_opt.coreai_utils import CompressionGranularity, DType, QScheme, quantize_weights
    from coreai_opt.coreai_utils.passes import weight_quantization

    # coreai-opt 0.x takes no list of ops: widen the module's own (read at each call)
    ops = weight_quantization._OPS_WEIGHT_NEED_COMPRESSION | EXTRA_WEIGHT_OPS
    with mock.patch.object(weight_quantization, "_OPS_WEIGHT_NEED_COMPRESSION", ops):
        return quantize_weights(program, DType.INT8, QScheme.SYMMETRIC, CompressionGranularity.PER_CHANNEL,
                                weight_num_threshold=WEIGHT_THRESHOLD)


def io_facts(spec: ModelSpec) -> dict[str, str]:
    """What bindings need to call the function: its name, and each input and output with the dtype
    the asset takes (int64 becomes int32) and the spec's shape."""
    def entry(t) -> str:
        dtype = "int32" if t.dtype == "int64" else t.dtype
        return f"{t.name}:{dtype}[{','.join(map(str, t.shape))}]"

    dims = "; ".join(f"{d.name}={d.min}..{d.max}" for d in spec.dims if d.min != d.max)
    return {"inputs": "; ".join(map(entry, spec.inputs)), "outputs": "; ".join(map(entry, spec.outputs)),
            "shapes": f"dynamic: {dims}" if dims else "static"}
