"""ModelSpec: what a model takes and gives, declared as data.

A spec names every input and output tensor with its dtype and shape, the dynamic axes with their
ranges, which input masks which axis, which output axes are per-position, and how parity is judged
per output and precision. Everything downstream (capture, golden inputs, converters, parity, the
manifest and the bridges) reads the spec; nothing is special-cased per model family.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

DTYPES = ("float32", "int32", "int64")
NP_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}

# The additive mask value for attention scores: far below any real score, yet finite in fp16 (a
# fully padded row stays finite; -inf or finfo(float32).min overflow, see mobilesdk/mask_lint.py).
FP16_SAFE_MASK_FILL = -1e4

Arrays = dict[str, np.ndarray]  # tensors by spec name
Runner = Callable[[Arrays], Arrays]  # PyTorch or an artifact in its runtime: spec inputs -> outputs
METRICS = ("sqnr", "top1", "frame_argmax", "lid")
INPUT_KINDS = ("audio", "tokens", "mask", "category")

# Precisions converters speak: float, int8 with dynamic or calibrated static activations, and
# weight-only compression (int8 weights; 6-bit palettized weights) with float activations.
PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8-static", "int8-weights", "palettize6")


@dataclass(frozen=True)
class Threshold:
    """Pass/fail limits for one output at one precision, judged on valid positions only."""

    sqnr_db: float
    agreement: float  # fraction of top-1 / frame-argmax / LID decisions that must match PyTorch
    # A decision whose PyTorch top-2 gap is below tie_margin * max(1, |top logit|) is a near-tie:
    # picking either tied class agrees. Each precision's rounding noise can flip such ties alone.
    tie_margin: float


DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "fp32": Threshold(sqnr_db=60.0, agreement=1.0, tie_margin=1e-5),
    "fp16": Threshold(sqnr_db=35.0, agreement=1.0, tie_margin=1e-2),
    "int8-dynamic": Threshold(sqnr_db=30.0, agreement=0.95, tie_margin=5e-2),
    "int8-static": Threshold(sqnr_db=20.0, agreement=0.95, tie_margin=5e-2),
    "int8-weights": Threshold(sqnr_db=30.0, agreement=0.95, tie_margin=5e-2),
    "palettize6": Threshold(sqnr_db=20.0, agreement=0.95, tie_margin=5e-2),
}


@dataclass(frozen=True)
class ThresholdOverride:
    """A spec's change to a default threshold. Tightening is free; loosening needs a reason."""

    precision: str
    sqnr_db: float | None = None
    agreement: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Dim:
    """A named dynamic axis. Lengths must lie in [min, max] and be multiples of `multiple_of`."""

    name: str
    min: int
    max: int
    multiple_of: int = 1
    default: int = 0  # the length of the main golden case (0: max)

    @property
    def main_length(self) -> int:
        return self.default or self.max

    def check(self, n: int) -> bool:
        return self.min <= n <= self.max and n % self.multiple_of == 0

    def odd_length(self) -> int:
        """A length inside the range that is odd in units of `multiple_of` and not a round number."""
        units = (self.min + self.max) // (2 * self.multiple_of)
        units = units if units % 2 else units + 1
        n = units * self.multiple_of
        if self.multiple_of == 1 and n % 10 == 0:
            n += 3
        return min(max(n, self.min), self.max)


@dataclass(frozen=True)
class DerivedDim:
    """An output axis computed from an input axis by a stack of (kernel, stride) convolutions.

    For a valid stack the length composes exactly to floor((n - receptive_field) / stride) + 1.
    An empty stack means the same length.
    """

    name: str
    source: str
    conv_stack: tuple[tuple[int, int], ...] = ()

    @property
    def stride(self) -> int:
        s = 1
        for _, st in self.conv_stack:
            s *= st
        return s

    @property
    def receptive_field(self) -> int:
        rf, jump = 1, 1
        for k, st in self.conv_stack:
            rf += (k - 1) * jump
            jump *= st
        return rf

    def length(self, n: int) -> int:
        for k, st in self.conv_stack:
            n = (n - k) // st + 1 if n >= k else 0
        return n


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor. Shape entries are ints (static) or dim names (dynamic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    kind: str = ""  # inputs only: how golden data is generated (see INPUT_KINDS)
    low: int = 0  # tokens / category: values drawn from [low, high)
    high: int = 0
    # names: of the classes along an output's last axis (top1 / lid / CTC heads), or of a category
    # input's values low, low + 1, ...; for apps, the bindings and `run`
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputSpec(TensorSpec):
    metric: str = "sqnr"
    position_axis: int | None = None  # the axis of this output that runs over positions
    thresholds: tuple[ThresholdOverride, ...] = ()
    ctc_blank: int | None = None  # a CTC head (frame_argmax): its blank class; parity then compares forced alignments


@dataclass(frozen=True)
class MaskSpec:
    """`input` is a 0/1 mask (1 = valid, right-padded) over the dynamic axis `axis`."""

    input: str
    axis: str
    allow_fully_padded: bool = True


@dataclass(frozen=True)
class ModelSpec:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    dims: tuple[Dim, ...]
    derived_dims: tuple[DerivedDim, ...] = ()
    masks: tuple[MaskSpec, ...] = ()
    golden_batch: int = 4
    description: str = ""

    def __post_init__(self):
        validate(self)

    # lookups ---------------------------------------------------------------------------------
    def dim(self, name: str) -> Dim:
        for d in self.dims:
            if d.name == name:
                return d
        raise KeyError(name)

    def derived(self, name: str) -> DerivedDim | None:
        return next((d for d in self.derived_dims if d.name == name), None)

    def input(self, name: str) -> TensorSpec:
        return next(t for t in self.inputs if t.name == name)

    def first_input(self, kind: str) -> TensorSpec | None:
        """The first input of `kind` ("audio", "tokens", ...), or None."""
        return next((t for t in self.inputs if t.kind == kind), None)

    def output(self, name: str) -> OutputSpec:
        return next(t for t in self.outputs if t.name == name)

    def ctc_head(self) -> OutputSpec | None:
        """The first output that declares a CTC blank: what aligns speech."""
        return next((o for o in self.outputs if o.ctc_blank is not None), None)

    def waveform_output(self) -> OutputSpec | None:
        """The first output shaped like the first audio input: what enhances speech."""
        audio = self.first_input("audio")
        return next((o for o in self.outputs if audio is not None and o.shape == audio.shape), None)

    def threshold(self, output: str, precision: str) -> tuple[Threshold, str]:
        """The threshold for one output at one precision and the reason it was loosened ('' if not)."""
        base = DEFAULT_THRESHOLDS[precision]
        for o in self.output(output).thresholds:
            if o.precision == precision:
                t = Threshold(
                    sqnr_db=base.sqnr_db if o.sqnr_db is None else o.sqnr_db,
                    agreement=base.agreement if o.agreement is None else o.agreement,
                    tie_margin=base.tie_margin,
                )
                return t, o.reason
        return base, ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def spec_from_json(data: dict) -> ModelSpec:
    """The spec `data` describes; ValueError naming the problem for anything that is not one (a
    missing field, a value of the wrong type, an inconsistency `validate` finds)."""
    from mobilesdk.serde import from_data

    try:
        return from_data(ModelSpec, data)
    except ValueError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError) as e:
        raise ValueError(f"not a valid spec ({type(e).__name__}: {e})") from None


def validate(spec: ModelSpec) -> None:
    """Raise ValueError naming the first inconsistency in a spec."""
    where = f"spec `{spec.name}`"
    dim_names = {d.name for d in spec.dims} | {d.name for d in spec.derived_dims}
    for d in spec.dims:
        if not (0 < d.min <= d.max) or d.multiple_of < 1 or d.min % d.multiple_of or d.max % d.multiple_of:
            raise ValueError(f"{where}: dim `{d.name}` needs 0 < min <= max, both multiples of {d.multiple_of}")
    for d in spec.derived_dims:
        if d.source not in {x.name for x in spec.dims}:
            raise ValueError(f"{where}: derived dim `{d.name}` has unknown source `{d.source}`")
    for t in (*spec.inputs, *spec.outputs):
        if t.dtype not in DTYPES:
            raise ValueError(f"{where}: tensor `{t.name}` has dtype `{t.dtype}`; use one of {DTYPES}")
        for s in t.shape:
            if isinstance(s, str) and s not in dim_names:
                raise ValueError(f"{where}: tensor `{t.name}` uses undeclared dim `{s}`")
    for t in spec.inputs:
        if t.kind not in INPUT_KINDS:
            raise ValueError(f"{where}: input `{t.name}` has kind `{t.kind}`; use one of {INPUT_KINDS}")
        if t.kind in ("tokens", "category") and t.high <= t.low:
            raise ValueError(f"{where}: input `{t.name}` needs high > low")
        if t.labels and (t.kind != "category" or len(t.labels) != t.high - t.low):
            raise ValueError(f"{where}: input `{t.name}` has {len(t.labels)} labels; only a category input has "
                             "them, one per value in [low, high)")
    names = [t.name for t in spec.inputs]
    for m in spec.masks:
        if m.input not in names or m.axis not in {d.name for d in spec.dims}:
            raise ValueError(f"{where}: mask on `{m.input}` over `{m.axis}` names an unknown input or dim")
    for o in spec.outputs:
        if o.metric not in METRICS:
            raise ValueError(f"{where}: output `{o.name}` has metric `{o.metric}`; use one of {METRICS}")
        if o.labels and o.shape[-1] != len(o.labels):
            raise ValueError(f"{where}: output `{o.name}` has {len(o.labels)} labels for a last axis of {o.shape[-1]}")
        if o.metric in ("frame_argmax", "lid") and o.position_axis is None:
            raise ValueError(f"{where}: output `{o.name}` with metric `{o.metric}` needs position_axis")
        if o.ctc_blank is not None and (o.metric != "frame_argmax" or o.position_axis != 1
                                        or not isinstance(o.shape[-1], int) or not 0 <= o.ctc_blank < o.shape[-1]):
            raise ValueError(f"{where}: output `{o.name}` has ctc_blank {o.ctc_blank}; a CTC head is [batch, frames, "
                             "classes] with metric frame_argmax and its blank one of the classes")
        for ov in o.thresholds:
            base = DEFAULT_THRESHOLDS.get(ov.precision)
            if base is None:
                raise ValueError(f"{where}: threshold override for unknown precision `{ov.precision}`")
            looser = (ov.sqnr_db is not None and ov.sqnr_db < base.sqnr_db) or (
                ov.agreement is not None and ov.agreement < base.agreement
            )
            if looser and not ov.reason.strip():
                raise ValueError(
                    f"{where}: output `{o.name}` loosens the {ov.precision} threshold without a reason; "
                    "add reason=\"...\" (it is printed in the report)"
                )
    for d in spec.dims:
        if not d.check(d.main_length):
            raise ValueError(f"{where}: dim `{d.name}` default {d.default} is outside its range or stride")


def output_axis_dim(spec: ModelSpec, output: OutputSpec) -> str | None:
    """Name of the dim along an output's position axis (None if the output is pooled)."""
    if output.position_axis is None:
        return None
    s = output.shape[output.position_axis]
    return s if isinstance(s, str) else None


def valid_length(spec: ModelSpec, output: OutputSpec, mask_lengths: dict[str, int], full: dict[str, int]) -> int:
    """How many leading positions of `output`'s position axis are valid for one row.

    `mask_lengths` maps masked dims to this row's valid count, `full` maps every dim to its padded
    length in this batch.
    """
    dim = output_axis_dim(spec, output)
    if dim is None:
        raise ValueError(f"output `{output.name}` has no position axis")
    derived = spec.derived(dim)
    if derived is not None:
        return derived.length(mask_lengths.get(derived.source, full[derived.source]))
    return mask_lengths.get(dim, full[dim])


def output_shape(spec: ModelSpec, shape: tuple[int | str, ...], lengths: dict[str, int], batch: int) -> tuple[int, ...]:
    """The concrete shape of an output for inputs with these dim lengths (derived dims computed)."""
    out = []
    for s in shape:
        if s == "batch":
            out.append(batch)
        elif isinstance(s, int):
            out.append(s)
        elif spec.derived(s) is not None:
            d = spec.derived(s)
            out.append(d.length(lengths[d.source]))
        else:
            out.append(lengths[s])
    return tuple(out)
