"""`mobilesdk explain`: where one artifact drifts from PyTorch, module by module (mobilesdk.drift).

The bundle holds no PyTorch model, so explain loads it from the config the bundle was built from,
checks it is the same model (the spec's digest and PyTorch's golden outputs), captures it again and
asks the artifact's backend for its intermediate tensors on one golden case.
"""
from __future__ import annotations

import time
from pathlib import Path

from converters.base import BuildContext, Converter
from mobilesdk.drift import Explanation, compare, torch_taps
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


def render(e: Explanation, top: int = 0) -> str:
    """The table as text: graph order; with `top`, only the `top` rows with the largest drops."""
    rows = e.rows
    if top:
        keep = set(sorted(range(len(rows)), key=lambda i: -(rows[i].drop_db or 0.0))[:top])
        rows = [r for i, r in enumerate(rows) if i in keep or r.first]
    width = max([len(r.module) for r in rows] + [6])
    ops = max([len(r.op) for r in rows] + [2])
    lines = [f"{e.model} {e.cell} on golden case {e.case}: SQNR vs PyTorch at each module's output "
             f"(valid positions; threshold {e.threshold_db:g} dB); tensors from {e.runtime or 'nowhere'}",
             f"  {'module':<{width}}  {'op':<{ops}}  {'SQNR dB':>8}  {'drop':>6}  source"]
    for r in rows:
        sqnr = "-" if r.sqnr_db is None else f"{r.sqnr_db:.1f}"
        drop = "" if r.drop_db is None else f"{r.drop_db:+.1f}"
        mark = ">" if r.first else " "
        note = f"  ({r.note})" if r.note else ""
        lines.append(f"{mark} {r.module:<{width}}  {r.op:<{ops}}  {sqnr:>8}  {drop:>6}  {r.source}{note}")
    first = e.first
    lines += e.notes
    lines.append(f"first divergent layer: {first.module} ({first.op} at {first.source or 'no source line'}), "
                 f"{first.sqnr_db:.1f} dB" if first else "no module is below the threshold")
    return "\n".join(lines)
