"""`mobilesdk explain`: where one artifact drifts from PyTorch, module by module (mobilesdk.drift).

The bundle holds no PyTorch model, so explain loads it from the config the bundle was built from,
checks it is the same model (the spec's digest and PyTorch's golden outputs), captures it again and
asks the artifact's backend for its intermediate tensors on one golden case.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from converters.base import BuildContext, Converter
from mobilesdk.drift import Explanation, compare, display, torch_taps
from mobilesdk.errors import ConfigError, summary
from mobilesdk.manifest import Divergence
from mobilesdk.spec import Arrays, ModelSpec


def threshold_db(spec: ModelSpec, precision: str) -> float:
    """The strictest SQNR the precision asks of any output: what an intermediate is held to."""
    return min(spec.threshold(o.name, precision)[0].sqnr_db for o in spec.outputs)


def explain_artifact(ep, ctx: BuildContext, conv: Converter, precision: str, files: list[Path], case: str,
                     inputs: Arrays) -> Explanation:
    """The table of one artifact (converted from `ep`) on one golden case."""
    start = time.perf_counter()
    spec = ctx.spec
    limit = threshold_db(spec, precision)
    try:
        taps = conv.taps(ep, ctx, precision, files)
    except NotImplementedError as e:
        return Explanation(ctx.model, f"{conv.name}/{precision}", case, limit, [], "", time.perf_counter() - start,
                           [f"{e}: the first divergent layer cannot be named"])
    rows = compare(torch_taps(ep, spec), taps, spec, inputs, limit)
    return Explanation(ctx.model, f"{conv.name}/{precision}", case, limit, rows, taps.runtime, time.perf_counter() - start)


def divergence(ep, ctx: BuildContext, conv: Converter, precision: str, files: list[Path], case: str,
               inputs: Arrays) -> Divergence:
    """The manifest's record of where a failing artifact first drifts, on one golden case."""
    try:
        e = explain_artifact(ep, ctx, conv, precision, files, case, inputs)
    except Exception as error:  # localising is a diagnosis: its failure must not fail the build
        return Divergence(case, "", "", "", None, f"explain failed: {summary(error)}")
    first = e.first
    if first is not None:
        return Divergence(case, first.module, first.op, first.source, first.sqnr_db, e.runtime)
    why = "; ".join(e.notes) or f"no module's output is below {e.threshold_db:g} dB on this case ({e.runtime})"
    return Divergence(case, "", "", "", None, why)


def render(e: Explanation, top: int = 0) -> str:
    """The table as text: graph order; with `top`, only the `top` rows with the largest drops."""
    rows = e.rows
    if top:
        keep = set(sorted(range(len(rows)), key=lambda i: -(rows[i].drop_db or 0.0))[:top])
        rows = [r for i, r in enumerate(rows) if i in keep or r.first]
    width = max([len(r.module) for r in rows] + [6])
    ops = max([len(r.op) for r in rows] + [2])
    lines = [f"{e.model} {e.cell} on golden case {e.case}: SQNR vs PyTorch at each module's output "
             f"(valid positions; threshold {e.threshold_db:g} dB)" + (f"; tensors from {e.runtime}" if e.runtime else "")]
    lines += [f"  {'module':<{width}}  {'op':<{ops}}  {'SQNR dB':>8}  {'drop':>6}  source"] if rows else []
    for r in rows:
        sqnr = "-" if r.sqnr_db is None else f"{r.sqnr_db:.1f}"
        drop = "" if r.drop_db is None else f"{r.drop_db:+.1f}"
        mark = ">" if r.first else " "
        note = f"  ({r.note})" if r.note else ""
        lines.append(f"{mark} {r.module:<{width}}  {r.op:<{ops}}  {sqnr:>8}  {drop:>6}  {r.source}{note}")
    first = e.first
    lines += e.notes
    if first:
        lines.append(f"first divergent layer: {first.module} ({first.op} at {first.source or 'no source line'}), "
                     f"{first.sqnr_db:.1f} dB")
    elif any(r.sqnr_db is not None for r in e.rows):
        lines.append("no module is below the threshold")
    else:
        lines.append("no module could be compared, so no layer is named")
    return "\n".join(lines)


@dataclasses.dataclass
class Subject:
    """One artifact of a bundle with what explaining it needs: the program it was converted from,
    the converter, and a golden case with PyTorch's outputs."""

    ep: object
    ctx: BuildContext
    conv: Converter
    precision: str
    files: list[Path]
    meta: dict
    case: str
    inputs: Arrays
    outputs: Arrays

    def explain(self) -> Explanation:
        return explain_artifact(self.ep, self.ctx, self.conv, self.precision, self.files, self.case, self.inputs)

    def check_sensitivity(self) -> None:
        if "float_modules" not in self.conv.options or not self.precision.startswith("int8"):
            raise ConfigError(f"--sensitivity keeps one module float at a time in an int8 artifact, and "
                              f"{self.conv.name}/{self.precision} is not one it can vary. Fix: run it on executorch "
                              "int8-static or int8-dynamic, or tflite int8-static")

    def sensitivity(self, workdir: Path, log=None) -> list[tuple[str, float]]:
        self.check_sensitivity()
        return sensitivity(self.ep, self.ctx, self.conv, self.precision, self.files, self.meta, self.inputs,
                           self.outputs, workdir, log)


def subject(root: Path, model: str, fmt: str, precision: str, config: Path, case: str | None = None) -> Subject:
    """One artifact of a built bundle and the PyTorch model of the config it was built from, checked
    to be the same: spec digest, and PyTorch's outputs on the golden case."""
    import numpy as np

    from converters.base import get
    from mobilesdk.capture import run_torch
    from mobilesdk.errors import BundleError
    from mobilesdk.golden import calibration_batches
    from mobilesdk.parity import sqnr_db
    from mobilesdk.pipeline import load_config
    from mobilesdk.pipeline.build import capture_model
    from mobilesdk.pipeline.sources import Loaded, audio_feed, load_model, text_feed
    from mobilesdk.pipeline.bundle import load_golden
    from mobilesdk.pipeline.run import find_model

    entry = find_model(root, model)
    artifact = next((a for a in entry.artifacts if a.format == fmt and a.precision == precision and a.files), None)
    if artifact is None:
        have = ", ".join(f"{a.format}/{a.precision}" for a in entry.artifacts if a.files) or "none"
        raise BundleError(f"model `{model}` has no artifact {fmt}/{precision} in `{root}`. Fix: pick one of {have}")
    cases = {c.name: c for c in entry.golden}
    golden = cases.get(case) if case else entry.golden[0]
    if golden is None:
        raise BundleError(f"model `{model}` has no golden case `{case}`. Fix: pick one of {', '.join(cases)}")
    cfg = load_config(config)
    mc = next((m for m in cfg.models if m.name == model), None)
    if mc is None:
        raise ConfigError(f"`{config}` has no model `{model}`. Fix: pass the bundle.toml `{root}` was built from")
    module, spec = load_model(mc)
    if spec.digest() != entry.spec_digest:
        raise ConfigError(f"model `{model}` of `{config}` has another spec than the bundle's. Fix: pass the "
                          f"bundle.toml `{root}` was built from, or rebuild the bundle")
    inputs, outputs, _, _ = load_golden(root / golden.path)
    here = run_torch(module, spec, inputs)
    worst = min(sqnr_db(outputs[o.name], here[o.name]) for o in spec.outputs)
    if worst < 100.0:
        raise ConfigError(f"PyTorch's outputs for golden case {golden.name} differ from the bundle's ({worst:.1f} dB): "
                          f"model `{model}` of `{config}` is not the one `{root}` was built from (another checkpoint?). "
                          "Fix: pass the config and checkpoint it was built from, or rebuild the bundle")
    conv = get(fmt)
    reason = conv.check()
    if reason:
        raise BundleError(f"{fmt} cannot run here: {reason}")
    loaded = Loaded(module, spec)
    captured = capture_model(loaded, inputs, mc)
    calibration = calibration_batches(spec, mc.calibration_batches, mc.seed, text_feed(spec, mc), audio_feed(spec, mc))
    ctx = BuildContext(model, spec, inputs, calibration, mc.options.get(fmt, {}))
    return Subject(captured.ep, ctx, conv, precision, [root / f for f in artifact.files], dict(artifact.meta), golden.name,
                   {k: np.asarray(v) for k, v in inputs.items()}, outputs)


def weighted_modules(ep) -> list[str]:
    """The program's modules that own a weight (Linear, Conv, Embedding, ...), in graph order."""
    seen: list[str] = []
    for node in ep.graph.nodes:
        for path, _ in (node.meta.get("nn_module_stack") or {}).values():
            if f"{path}.weight" in ep.state_dict and path not in seen:
                seen.append(path)
    return seen


def output_sqnr(conv: Converter, files: list[Path], meta: dict, spec: ModelSpec, inputs: Arrays, reference: Arrays) -> float:
    """The artifact's worst output SQNR against PyTorch's on one case (valid positions)."""
    from converters.base import Converted
    from mobilesdk import parity

    got = conv.runner(Converted(files, meta), spec)(inputs)
    return min(parity.compare(spec, o, inputs, reference[o.name], got[o.name]).sqnr_db for o in spec.outputs)


def sensitivity(ep, ctx: BuildContext, conv: Converter, precision: str, files: list[Path], meta: dict, inputs: Arrays,
                reference: Arrays, workdir: Path, log=None) -> list[tuple[str, float]]:
    """Per weighted module, the dB of output SQNR the artifact recovers when only that module stays
    float (the converter's `float_modules` option), against the artifact as built; largest first."""
    baseline = output_sqnr(conv, files, meta, ctx.spec, inputs, reference)
    out = []
    modules = weighted_modules(ep)
    for i, module in enumerate(modules):
        if log:
            log(f"[{i + 1}/{len(modules)}] {display(module)} kept float ...")
        options = {**ctx.options, "float_modules": [module]}
        converted = conv.convert(ep, dataclasses.replace(ctx, options=options), precision, workdir / str(i))
        out.append((display(module), output_sqnr(conv, converted.files, converted.meta, ctx.spec, inputs, reference) - baseline))
    return sorted(out, key=lambda r: -r[1])


def render_sensitivity(rows: list[tuple[str, float]]) -> str:
    if not rows:
        return "no weighted module to keep float"
    width = max(len(m) for m, _ in rows)
    lines = ["output SQNR recovered by keeping one module float (the others quantized as built):"]
    lines += [f"  {m:<{width}}  {db:+6.1f} dB" for m, db in rows]
    best, second = rows[0][1], rows[1][1] if len(rows) > 1 else 0.0
    if best < 1.0 or (len(rows) > 1 and best < 2 * max(second, 0.5)):
        lines.append("no single layer dominates: the loss is spread over many layers; exclude several, or use "
                     "int8-dynamic / int8-weights")
    else:
        lines.append(f"keeping `{rows[0][0]}` float recovers the most ({best:+.1f} dB)")
    return "\n".join(lines)
