"""Run one artifact on the golden cases in its own runtime and turn the numbers into manifest rows.

Used by `build` (right after conversion) and by `verify` (from the files in a bundle).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from converters.base import Converter, Runner
from mobilesdk.manifest import Artifact, OutputParity
from mobilesdk.parity import clean, combine, compare, judge
from mobilesdk.semantics import run_suite
from mobilesdk.spec import ModelSpec

GoldenSet = list[tuple[str, dict[str, np.ndarray], dict[str, np.ndarray]]]  # (case label, inputs, torch outputs)


def case_label(name: str, inputs: dict[str, np.ndarray], spec: ModelSpec) -> str:
    from mobilesdk.golden import lengths_from_inputs

    lengths = lengths_from_inputs(spec, inputs)
    return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(lengths.items()))


def evaluate(runner: Runner, spec: ModelSpec, precision: str, golden: GoldenSet) -> list[OutputParity]:
    """Parity rows per output, worst case over the golden cases, judged by the spec's thresholds."""
    per_output: dict[str, list] = {o.name: [] for o in spec.outputs}
    for _, inputs, ref in golden:
        got = runner(inputs)
        for o in spec.outputs:
            if o.name not in got:
                raise ValueError(f"the artifact returned no output `{o.name}` (it gave {sorted(got)})")
            tie = spec.threshold(o.name, precision)[0].tie_margin
            per_output[o.name].append(compare(spec, o, inputs, ref[o.name], np.asarray(got[o.name]), tie))
    rows = []
    for o in spec.outputs:
        stats = combine(per_output[o.name])
        threshold, reason = spec.threshold(o.name, precision)
        rows.append(
            OutputParity(
                output=o.name,
                metric=o.metric,
                max_abs=clean(stats.max_abs),
                mean_abs=clean(stats.mean_abs),
                sqnr_db=round(stats.sqnr_db, 3),
                agreement=clean(stats.agreement),
                min_sqnr_db=threshold.sqnr_db,
                min_agreement=threshold.agreement,
                tie_margin=threshold.tie_margin,
                loosened_because=reason,
                passed=judge(stats, threshold.sqnr_db, threshold.agreement),
            )
        )
    return rows


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def artifact_parity(conv: Converter, precision: str, result, spec: ModelSpec, golden, root: Path, reference: Runner) -> Artifact:
    """The manifest entry of one artifact: its files, facts, parity rows and mask-suite rows (or why
    there are none). `reference` runs PyTorch, for the shape sweep's comparisons."""
    sets = [(c.name, c.inputs, out) for c, out in zip(golden.cases, golden.outputs)]
    labels = [case_label(n, i, spec) for n, i, _ in sets]
    base = dict(format=conv.name, precision=precision, runtime=conv.runtime, diagnostic=conv.diagnostic, cases=labels)
    if result.converted is None:
        return Artifact(**base, path="", files=[], meta={}, parity=[], semantics=[], passed=False,
                        note=f"conversion failed: {result.error}")
    files = [f.relative_to(root).as_posix() for f in result.converted.files]
    rows, checks, notes = [], [], []
    try:
        runner = conv.load(result.converted, _ctx(spec, golden))
        rows = evaluate(runner, spec, precision, sets)
        checks = run_suite(spec, runner, precision, reference)
    except Exception as e:  # a runtime that crashes on the artifact is a failed row, with the reason
        notes.append(f"runtime failed: {first_line(e)}")
    notes += [f"below threshold: {r.output}" for r in rows if not r.passed]
    notes += [f"{c.check} failed ({c.detail})" for c in checks if not c.passed]
    passed = bool(rows) and not notes
    return Artifact(**base, path=files[0], files=files, meta=dict(result.converted.meta), parity=rows,
                    semantics=checks, passed=passed, note="; ".join(notes))


def _ctx(spec: ModelSpec, golden):
    from converters.base import BuildContext

    return BuildContext(model=spec.name, spec=spec, example_inputs=golden.cases[0].inputs, calibration=[])
