"""The attention-mask and dynamic-shape suite, driven by the spec, run on any runner.

A runner is anything that maps spec-shaped numpy inputs to outputs: PyTorch itself, or an artifact
in its own runtime. Each check is judged with the precision's parity thresholds, so quantization
noise is tolerated but a mask that stopped working is not:

- pad_length: the same valid rows padded to longer lengths give the same valid outputs;
- pad_content: changing what is in the padding changes nothing at valid positions;
- edge_rows: a row with a single valid position and a fully padded row stay finite;
- batch_independence: a row gives the same outputs alone as inside a mixed batch;
- shape_sweep: min, max, odd and off-stride lengths run, have the spec's output lengths and (with a
  reference) match PyTorch.
"""
from __future__ import annotations

import numpy as np

from mobilesdk.errors import summary
from mobilesdk.golden import AudioFeed, make_batch, seed_for
from mobilesdk.manifest import SemanticRow as Outcome
from mobilesdk.parity import Stats, clean, combine, compare, judge, worst
from mobilesdk.spec import ModelSpec, Runner, output_shape

CHECKS = ("pad_length", "pad_content", "edge_rows", "batch_independence", "shape_sweep")


def _full(lengths: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in lengths.items() if k != "batch"}


def _base(spec: ModelSpec) -> tuple[dict[str, int], dict[str, list[int]]]:
    """A short mixed batch: each masked dim at about a third of its range, rows of different valid
    lengths. Unmasked dims take their main length, which every artifact must run (a static-length
    TFLite build may run nothing else)."""
    lengths = {}
    masked = {m.axis for m in spec.masks}
    for d in spec.dims:
        if d.name == "batch":
            continue
        if d.name not in masked:
            lengths[d.name] = d.main_length
            continue
        units = max(d.min, (d.min + d.max) // 3) // d.multiple_of
        lengths[d.name] = max(d.min, units * d.multiple_of)
    valid = {}
    for m in spec.masks:
        n = lengths[m.axis]
        valid[m.axis] = [n, max(1, (2 * n) // 3), max(1, n // 2 + 1), min(n, _one_position(spec, m.axis))]
    return lengths, valid


def _one_position(spec: ModelSpec, axis: str) -> int:
    """The shortest valid length that still gives every per-position output one valid position."""
    need = 1
    for d in spec.derived_dims:
        if d.source == axis and d.conv_stack:
            need = max(need, d.receptive_field)
    return need


def _pad(spec: ModelSpec, inputs: dict[str, np.ndarray], dim: str, to: int) -> dict[str, np.ndarray]:
    """Extend every input along `dim` with zeros (zero mask, zero audio, pad id 0)."""
    out = {}
    for t in spec.inputs:
        x = inputs[t.name]
        if dim in t.shape:
            axis = list(t.shape).index(dim)
            widths = [(0, 0)] * x.ndim
            widths[axis] = (0, to - x.shape[axis])
            x = np.pad(x, widths)
        out[t.name] = x
    return out


def _scramble_padding(spec: ModelSpec, inputs: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {k: v.copy() for k, v in inputs.items()}
    for m in spec.masks:
        mask = inputs[m.input]
        mask_axis = list(spec.input(m.input).shape).index(m.axis)
        pad = np.moveaxis(mask == 0, mask_axis, -1)
        for t in spec.inputs:
            if t.kind not in ("audio", "tokens") or m.axis not in t.shape:
                continue
            x = np.moveaxis(out[t.name], list(t.shape).index(m.axis), -1)
            where = np.broadcast_to(pad.reshape(pad.shape[:1] + (1,) * (x.ndim - pad.ndim) + pad.shape[1:]), x.shape)
            noise = rng.uniform(-1, 1, x.shape) if t.kind == "audio" else rng.integers(t.low, t.high, x.shape)
            x[where] = noise.astype(x.dtype)[where]
    return out


def _crop_to(spec: ModelSpec, ref: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cut a longer run's outputs to the shorter run's lengths along every dynamic axis."""
    return {o.name: got[o.name][tuple(slice(0, n) for n in ref[o.name].shape)] for o in spec.outputs}


def _same(spec: ModelSpec, inputs, a: dict, b: dict, precision: str) -> dict[str, Stats]:
    """Per output, run b against run a on the valid positions of `inputs`."""
    return {o.name: compare(spec, o, inputs, a[o.name], b[o.name], spec.threshold(o.name, precision)[0].tie_margin)
            for o in spec.outputs}


def _outcome(check: str, spec: ModelSpec, precision: str, cases: list[dict[str, Stats]], detail: str,
             ok: bool = True) -> Outcome:
    """The check's verdict: each output over all compared cases (`parity.combine`) against its
    thresholds; the row shows the worst output."""
    per_output, passed = [], ok
    for o in spec.outputs:
        t, _ = spec.threshold(o.name, precision)
        s = combine([case[o.name] for case in cases])
        passed = passed and judge(s, t.sqnr_db, t.agreement)
        per_output.append(s)
    w = worst(per_output)
    return Outcome(check, True, passed, round(w.sqnr_db, 3), clean(w.agreement), clean(w.max_abs), detail)


def pad_length(spec, run, precision, audio: AudioFeed | None = None) -> Outcome:
    if not spec.masks:
        return Outcome("pad_length", False, True, None, None, None, "no mask input")
    lengths, valid = _base(spec)
    base = make_batch(spec, lengths, valid, seed_for(spec.name, "pad_length"), audio=audio)
    ref = run(base)
    cases, tried = [], []
    axis = spec.masks[0].axis
    d = spec.dim(axis)
    for to in sorted({d.main_length, d.max, lengths[axis] + 3 * d.multiple_of}):
        if to <= lengths[axis] or not d.check(to):  # padding only grows a batch
            continue
        got = _crop_to(spec, ref, run(_pad(spec, base, axis, to)))
        cases.append(_same(spec, base, ref, got, precision)), tried.append(str(to))
    return _outcome("pad_length", spec, precision, cases, f"{axis} {lengths[axis]} padded to {', '.join(tried)}")


def pad_content(spec, run, precision, audio: AudioFeed | None = None) -> Outcome:
    if not spec.masks:
        return Outcome("pad_content", False, True, None, None, None, "no mask input")
    lengths, valid = _base(spec)
    base = make_batch(spec, lengths, valid, seed_for(spec.name, "pad_content"), audio=audio)
    ref = run(base)
    cases = [_same(spec, base, ref, run(_scramble_padding(spec, base, i)), precision) for i in range(2)]
    return _outcome("pad_content", spec, precision, cases, "random values / token ids in the padding, twice")


def edge_rows(spec, run, precision, audio: AudioFeed | None = None) -> Outcome:
    if not spec.masks:
        return Outcome("edge_rows", False, True, None, None, None, "no mask input")
    lengths, _ = _base(spec)
    rows = {m.axis: [_one_position(spec, m.axis)] for m in spec.masks}
    allow_empty = all(m.allow_fully_padded for m in spec.masks)
    if allow_empty:
        rows = {k: v + [0] for k, v in rows.items()}
    out = run(make_batch(spec, lengths, rows, seed_for(spec.name, "edge_rows"), audio=audio))
    bad = [name for name, v in out.items() if not np.isfinite(v).all()]
    what = "one valid position" + (" and a fully padded row" if allow_empty else "")
    return Outcome("edge_rows", True, not bad, None, None, None, f"{what}: " + (f"non-finite {', '.join(bad)}" if bad else "finite"))


def batch_independence(spec, run, precision, audio: AudioFeed | None = None) -> Outcome:
    if spec.dim("batch").min > 1:
        return Outcome("batch_independence", False, True, None, None, None, "batch dim is fixed above 1")
    lengths, valid = _base(spec)
    batch = make_batch(spec, lengths, valid, seed_for(spec.name, "batch_independence"), audio=audio)
    together = run(batch)
    n = next(iter(batch.values())).shape[0]
    cases = []
    for row in range(n):
        alone_in = {k: v[row : row + 1] for k, v in batch.items()}
        cases.append(_same(spec, alone_in, {k: v[row : row + 1] for k, v in together.items()}, run(alone_in), precision))
    return _outcome("batch_independence", spec, precision, cases, f"{n} rows alone vs together")


def sweep_lengths(spec: ModelSpec) -> dict[str, list[int]]:
    """Per dynamic dim: min, max, an odd length and, where allowed, one off the model's stride."""
    sweep = {}
    for d in spec.dims:
        if d.name == "batch" or d.min == d.max:
            continue
        lengths = [d.min, d.max, d.odd_length()]
        strides = [x.stride for x in spec.derived_dims if x.source == d.name and x.stride > 1]
        if strides and d.multiple_of == 1:
            n = d.main_length + strides[0] // 2 + 1
            lengths.append(min(n, d.max - 1))
        sweep[d.name] = sorted(set(lengths))
    return sweep


def shape_sweep(spec, run, precision, reference: Runner | None = None, audio: AudioFeed | None = None) -> Outcome:
    cases, oks, notes = [], [], []
    for dim, lengths in sweep_lengths(spec).items():
        for n in lengths:
            sizes = {d.name: (n if d.name == dim else d.main_length) for d in spec.dims if d.name != "batch"}
            valid = {m.axis: [sizes[m.axis], max(1, sizes[m.axis] // 2)] for m in spec.masks}
            inputs = make_batch(spec, sizes, valid, seed_for(spec.name, "sweep", dim, str(n)), audio=audio)
            got = run(inputs)
            batch = next(iter(inputs.values())).shape[0]
            for o in spec.outputs:
                want = output_shape(spec, o.shape, sizes, batch)
                if got[o.name].shape != want:
                    oks.append(False)
                    notes.append(f"{o.name} at {dim}={n} has shape {got[o.name].shape}, expected {want}")
            if reference is not None and not notes:
                cases.append(_same(spec, inputs, reference(inputs), got, precision))
            else:
                oks.append(all(np.isfinite(v).all() for v in got.values()))
    detail = "; ".join(notes) or ", ".join(f"{k}={v}" for k, v in sweep_lengths(spec).items())
    if not cases:
        return Outcome("shape_sweep", True, all(oks), None, None, None, detail)
    return _outcome("shape_sweep", spec, precision, cases, detail, all(oks))


def run_suite(spec: ModelSpec, run: Runner, precision: str, reference: Runner | None = None,
              audio: AudioFeed | None = None) -> list[Outcome]:
    """Every check, each caught separately: a runtime that crashes fails that check with the reason.
    With `audio` (the model's clips) audio inputs are real speech, as in parity and calibration: the
    checks are judged by parity thresholds, and a trained, calibrated model meets them on what it
    was made for, not necessarily on synthetic harmonics."""
    outcomes = []
    for check in (pad_length, pad_content, edge_rows, batch_independence):
        outcomes.append(_guarded(check.__name__, lambda c=check: c(spec, run, precision, audio)))
    outcomes.append(_guarded("shape_sweep", lambda: shape_sweep(spec, run, precision, reference, audio)))
    return outcomes


def _guarded(name: str, fn) -> Outcome:
    try:
        return fn()
    except Exception as e:
        return Outcome(name, True, False, None, None, None, f"crashed: {summary(e)}")
