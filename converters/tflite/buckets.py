"""TFLite length buckets: which static lengths get a build (a signature of the `.tflite`), and how a
request maps onto one.

onnx2tf could not keep a dynamic time axis (docs/decisions.md#tflite-length-buckets), so each
TFLite artifact is a set of static builds. Masked dims are
right-padded up to a bucket; unmasked dims need an exact-length bucket.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilesdk.errors import ConfigError
from mobilesdk.spec import NP_DTYPES, ModelSpec


@dataclass(frozen=True)
class Plan:
    """Which lengths get a static build, and how the runner maps a request onto one."""

    dims: tuple[str, ...]  # the dynamic non-batch dims, in spec order
    padded: frozenset[str]  # dims the runner right-pads up to a bucket (masked dims)
    buckets: tuple[tuple[int, ...], ...]  # one length per dim in `dims`; the main bucket first
    static: tuple[tuple[str, int], ...]  # dims with min == max
    batch: int

    def lengths(self, bucket: tuple[int, ...]) -> dict[str, int]:
        return {**dict(self.static), **dict(zip(self.dims, bucket))}

    def tag(self, bucket: tuple[int, ...]) -> str:
        return "x".join(str(n) for n in bucket) if bucket else "static"

    def choose(self, lengths: dict[str, int]) -> tuple[int, ...]:
        fits = [
            b for b in self.buckets
            if all((n >= lengths[d]) if d in self.padded else (n == lengths[d]) for d, n in zip(self.dims, b))
        ]
        if not fits:
            want = ", ".join(f"{d}={lengths[d]}" for d in self.dims)
            raise ValueError(
                f"no TFLite bucket holds {want}; buckets: {', '.join(self.tag(b) for b in self.buckets)} "
                f"(padded dims: {', '.join(sorted(self.padded)) or 'none'})"
            )
        return min(fits, key=lambda b: (int(np.prod([max(n, 1) for n in b])), b))


def plan_for(spec: ModelSpec, options: dict | None = None) -> Plan:
    """Buckets: `options["buckets"]` ({dim: [lengths]}, from `[models.<name>.tflite]` in bundle.toml),
    else {main, max} for masked dims and the golden lengths {min, main, odd, max} for unmasked ones."""
    options = options or {}
    masked = {m.axis for m in spec.masks}
    chosen = options.get("buckets") or {}
    dims, per_dim, static = [], [], []
    for d in spec.dims:
        if d.name == "batch":
            continue
        if d.min == d.max:
            static.append((d.name, d.min))
            continue
        if d.name in chosen:
            lengths = sorted({int(n) for n in chosen[d.name]})
            bad = [n for n in lengths if not d.check(n)]
            if bad or not lengths:
                raise ConfigError(
                    f"[models.{spec.name}.tflite] buckets for dim `{d.name}` has {bad or 'no lengths'}; "
                    f"use lengths in {d.min}..{d.max}, multiples of {d.multiple_of}"
                )
            if d.name in masked and lengths[-1] != d.max:
                lengths.append(d.max)  # padded dims must hold every length up to max
        elif d.name in masked:
            lengths = sorted({d.main_length, d.max})
        else:
            lengths = sorted({d.min, d.main_length, d.odd_length(), d.max})
        dims.append(d.name)
        per_dim.append(lengths)
    plan = Plan(tuple(dims), frozenset(d for d in dims if d in masked), (), tuple(static), spec.golden_batch)
    buckets = list(itertools.product(*per_dim))
    main = plan_with(plan, buckets).choose({d.name: d.main_length for d in spec.dims})
    buckets.remove(main)
    return plan_with(plan, [main, *buckets])


def plan_with(plan: Plan, buckets) -> Plan:
    return Plan(plan.dims, plan.padded, tuple(tuple(b) for b in buckets), plan.static, plan.batch)


def avoid_channel_sizes(plan: Plan, spec: ModelSpec, onnx_path: Path) -> Plan:
    """Move padded buckets off lengths that equal a weight dimension of the graph.

    onnx2tf infers layouts from dimension sizes and transposes the wrong axes when a length equals a
    channel count (docs/decisions.md#tflite-length-buckets). The layout check in `saved_model` still
    catches what this misses. The bucket holding max stays at max.
    """
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    taken = {int(n) for init in graph.initializer for n in init.dims if n > 1}
    buckets = []
    for b in plan.buckets:
        moved = []
        for dim, n in zip(plan.dims, b):
            d = spec.dim(dim)
            while dim in plan.padded and n in taken and n + d.multiple_of < d.max:
                n += d.multiple_of
            moved.append(n)
        buckets.append(tuple(moved))
    return plan_with(plan, list(dict.fromkeys(buckets)))


def plan_from_meta(meta: dict, spec: ModelSpec) -> Plan:
    dims = tuple(x for x in str(meta.get("bucket_dims", "")).split(",") if x)
    padded = frozenset(x for x in str(meta.get("padded_dims", "")).split(",") if x)
    buckets = tuple(tuple(int(n) for n in b.split("x")) if b != "static" else () for b in str(meta["buckets"]).split(","))
    static = tuple((d.name, d.min) for d in spec.dims if d.name != "batch" and d.min == d.max)
    return Plan(dims, padded, buckets, static, int(meta["batch"]))


def static_shape(t, plan: Plan, lengths: dict[str, int]) -> list[int]:
    return [plan.batch if s == "batch" else lengths[s] if isinstance(s, str) else int(s) for s in t.shape]


def fit_inputs(arrays, spec: ModelSpec, plan: Plan, bucket: tuple[int, ...]) -> dict[str, np.ndarray]:
    """One batch fitted to a bucket in spec layout and dtypes: lengths cropped or zero-padded, batch cut
    or tiled to the plan's batch."""
    lengths = plan.lengths(bucket)
    out = {}
    for t in spec.inputs:
        x = np.asarray(arrays[t.name])
        if t.shape and t.shape[0] == "batch" and x.shape[0] != plan.batch:
            x = np.resize(x, (plan.batch, *x.shape[1:]))
        out[t.name] = np.ascontiguousarray(fit(x, static_shape(t, plan, lengths)).astype(NP_DTYPES[t.dtype]))
    return out


def fit(x: np.ndarray, shape: list[int]) -> np.ndarray:
    """x cropped or zero-padded at the end of each axis to `shape`."""
    x = x[tuple(slice(0, n) for n in shape)]
    pad = [(0, n - s) for n, s in zip(shape, x.shape)]
    return np.pad(x, pad) if any(p for _, p in pad) else x
