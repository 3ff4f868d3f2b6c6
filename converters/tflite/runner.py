"""Runs spec-shaped batches on a TFLite artifact's buckets (a signature each, in one file) with ai_edge_litert."""
from __future__ import annotations

import numpy as np

from converters.base import Converted, native_stderr_held
from converters.tflite.buckets import fit, plan_from_meta, static_shape
from mobilesdk.golden import lengths_from_inputs
from mobilesdk.spec import NP_DTYPES, ModelSpec, output_shape


def candidate_perms(rank: int, to_tf: bool) -> list[tuple[int, ...]]:
    """The layouts onnx2tf may give a rank-`rank` tensor: as in ONNX, or channels-last (NCW -> NWC)."""
    ident = tuple(range(rank))
    if rank < 3:
        return [ident]
    last = (0, *range(2, rank), 1) if to_tf else (0, rank - 1, *range(1, rank - 1))
    return [ident, last]


class BucketRunner:
    """Runs spec-shaped batches on the bucket signatures with ai_edge_litert's signature runner."""

    def __init__(self, converted: Converted, spec: ModelSpec):
        self.spec = spec
        self.plan = plan_from_meta(converted.meta, spec)
        signatures = [s for s in str(converted.meta.get("signatures", "")).split(",") if s]
        if len(signatures) != len(self.plan.buckets) or len(converted.files) != 1:
            raise ValueError(f"meta lists {len(self.plan.buckets)} buckets and {len(signatures)} signatures for "
                             f"{len(converted.files)} files (one file, a signature per bucket)")
        self.file = converted.files[0]
        self.signature = dict(zip(self.plan.buckets, signatures))
        self.out_perm = _parse_layout(str(converted.meta.get("layout", "")), "out")
        self.interpreter = None  # made at the first call (taps make it with all tensors kept)
        self._runners: dict[tuple[int, ...], tuple] = {}
        self._invoked = False

    def _runner(self, bucket):
        if bucket not in self._runners:
            from ai_edge_litert.interpreter import Interpreter

            # "INFO: Created TensorFlow Lite XNNPACK delegate", printed where the delegate is applied:
            # at the first invoke of the interpreter (see __call__)
            with native_stderr_held():
                if self.interpreter is None:
                    self.interpreter = Interpreter(model_path=str(self.file))
                runner = self.interpreter.get_signature_runner(self.signature[bucket])
            shapes = {k: [int(s) for s in v["shape"]] for k, v in runner.get_input_details().items()}
            self._runners[bucket] = (runner, shapes)
        return self._runners[bucket]

    def __call__(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spec, plan = self.spec, self.plan
        lengths = lengths_from_inputs(spec, arrays)
        bucket = plan.choose(lengths)
        runner, tf_shapes = self._runner(bucket)
        full = plan.lengths(bucket)
        batch = _batch_size(spec, arrays)
        chunks: dict[str, list[np.ndarray]] = {o.name: [] for o in spec.outputs}
        for start in range(0, batch, plan.batch):
            feed = {}
            for t in spec.inputs:
                x = np.asarray(arrays[t.name], dtype=NP_DTYPES[t.dtype])
                if t.shape and t.shape[0] == "batch":
                    x = x[start : start + plan.batch]
                x = fit(x, static_shape(t, plan, full))  # zero rows / right padding (mask 0)
                feed[t.name] = np.ascontiguousarray(_to_tf(x, tf_shapes[t.name], t.name))
            if self._invoked:
                got = runner(**feed)
            else:
                with native_stderr_held():
                    got = runner(**feed)
                self._invoked = True
            for o in spec.outputs:
                y = got[o.name]
                perm = self.out_perm.get(o.name)
                chunks[o.name].append(np.transpose(y, perm) if perm else y)
        out = {}
        for o in spec.outputs:
            y = np.concatenate(chunks[o.name], axis=0) if o.shape and o.shape[0] == "batch" else chunks[o.name][0]
            out[o.name] = y[tuple(slice(0, n) for n in output_shape(spec, o.shape, lengths, batch))]
        return out


def _to_tf(x: np.ndarray, tf_shape: list[int], name: str) -> np.ndarray:
    for perm in candidate_perms(x.ndim, to_tf=True):
        if [x.shape[i] for i in perm] == tf_shape:
            return np.transpose(x, perm)
    raise ValueError(f"input `{name}` of shape {x.shape} fits no layout of the TFLite input {tf_shape}")


def _parse_layout(text: str, side: str) -> dict[str, tuple[int, ...]]:
    perms = {}
    for part in filter(None, text.split(";")):
        key, _, perm = part.partition(":")
        kind, _, name = key.partition(".")
        if kind == side:
            perms[name] = tuple(int(i) for i in perm.split(","))
    return perms


def _batch_size(spec: ModelSpec, arrays: dict[str, np.ndarray]) -> int:
    for t in spec.inputs:
        if t.shape and t.shape[0] == "batch":
            return int(np.asarray(arrays[t.name]).shape[0])
    return 1
