"""Run one artifact on the golden cases in its own runtime and turn the numbers into manifest rows.

Used by `build` (right after conversion) and by `verify` (from the files in a bundle).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from converters.base import Converted, Converter
from mobilesdk.errors import summary
from mobilesdk.golden import AudioFeed, TextRow, lengths_from_inputs
from mobilesdk.manifest import Artifact, OutputParity
from mobilesdk.parity import clean, combine, compare, judge, valid_selector
from mobilesdk.semantics import run_suite
from mobilesdk.spec import Arrays, ModelSpec, OutputSpec, Runner
from mobilesdk.speech import align
from mobilesdk.text import spans


class ReferenceCase(NamedTuple):
    """One golden case with what PyTorch computed for it (and, for text models, each row's text)."""

    name: str
    inputs: Arrays
    outputs: Arrays
    text: tuple[TextRow, ...] = ()


def row_spans(o: OutputSpec, rows: tuple[TextRow, ...], lid: np.ndarray) -> list[list[spans.Span]]:
    """Language spans of each text row from a LID output [batch, tokens, languages]."""
    return [spans.spans(r.text, r.offsets, lid[i, : len(r.ids)], o.labels) for i, r in enumerate(rows)]


def _spans_agreement(o: OutputSpec, golden: list[ReferenceCase], got: list[Arrays]) -> float | None:
    if o.metric != "lid" or not o.labels or not all(c.text for c in golden):
        return None
    ref = [s for c in golden for s in row_spans(o, c.text, c.outputs[o.name])]
    out = [s for c, g in zip(golden, got) for s in row_spans(o, c.text, np.asarray(g[o.name]))]
    return round(spans.agreement(ref, out), 4)


def _alignment_agreement(spec: ModelSpec, o: OutputSpec, golden: list[ReferenceCase], got: list[Arrays]) -> float | None:
    """A CTC head's share of segment boundaries within one frame of PyTorch's, when the artifact's
    output and PyTorch's force-align the transcript PyTorch's output decodes to (greedy), per valid row."""
    if o.ctc_blank is None:
        return None
    close = total = 0
    for case, out in zip(golden, got):
        ref, mine = case.outputs[o.name], np.asarray(out[o.name])
        valid = valid_selector(spec, o, case.inputs, ref.shape).sum(axis=-1)
        for row, frames in enumerate(valid):
            r, g = align.log_softmax(ref[row, :frames]), align.log_softmax(mine[row, :frames])
            targets = align.greedy(r, o.ctc_blank)
            total += 2 * len(targets)
            if targets and np.isfinite(g).all():
                close += align.close_boundaries(align.runs(r, targets, o.ctc_blank), align.runs(g, targets, o.ctc_blank))
    return round(close / total, 4) if total else None


def case_label(name: str, inputs: Arrays, spec: ModelSpec) -> str:
    lengths = lengths_from_inputs(spec, inputs)
    return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(lengths.items()))


def evaluate(runner: Runner, spec: ModelSpec, precision: str, golden: list[ReferenceCase]) -> list[OutputParity]:
    """Parity rows per output, worst case over the golden cases, judged by the spec's thresholds."""
    per_output: dict[str, list] = {o.name: [] for o in spec.outputs}
    results = []
    for case in golden:
        got = runner(case.inputs)
        results.append(got)
        for o in spec.outputs:
            if o.name not in got:
                raise ValueError(f"the artifact returned no output `{o.name}` (it gave {sorted(got)})")
            tie = spec.threshold(o.name, precision)[0].tie_margin
            per_output[o.name].append(compare(spec, o, case.inputs, case.outputs[o.name], np.asarray(got[o.name]), tie))
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
                spans_agreement=_spans_agreement(o, golden, results),
                alignment_agreement=_alignment_agreement(spec, o, golden, results),
            )
        )
    return rows


@dataclass
class ConvertResult:
    """A conversion step's outcome: the artifact, or the one-line reason there is none."""

    converted: Converted | None
    error: str
    summary: str = ""


@dataclass(frozen=True)
class ArtifactCheck:
    """Everything `check_artifact` needs: the artifact (or its conversion failure) and what to judge it by."""

    converter: Converter
    precision: str
    result: ConvertResult
    spec: ModelSpec
    golden: list[ReferenceCase]
    root: Path  # the bundle root the artifact's files are listed relative to
    reference: Runner  # PyTorch, for the shape sweep's comparisons
    audio: AudioFeed | None = None  # the model's clips, for the mask suite's audio inputs


def check_artifact(c: ArtifactCheck) -> Artifact:
    """The manifest entry of one artifact: its files, facts, parity rows and mask-suite rows (or why
    there are none)."""
    labels = [case_label(g.name, g.inputs, c.spec) for g in c.golden]
    conv = c.converter
    base = dict(format=conv.name, precision=c.precision, runtime=conv.runtime(), diagnostic=conv.diagnostic,
                cases=labels)
    if c.result.converted is None:
        return Artifact(**base, path="", files=[], meta={}, parity=[], semantics=[], passed=False,
                        note=f"conversion failed: {c.result.error}")
    files = [f.relative_to(c.root).as_posix() for f in c.result.converted.files]
    rows, checks, notes = [], [], []
    try:
        runner = conv.runner(c.result.converted, c.spec)
        rows = evaluate(runner, c.spec, c.precision, c.golden)
        checks = run_suite(c.spec, runner, c.precision, c.reference, c.audio)
    except Exception as e:  # a runtime that crashes on the artifact is a failed row, with the reason
        notes.append(f"runtime failed: {summary(e)}")
    notes += [f"below threshold: {r.output}" for r in rows if not r.passed]
    notes += [f"{k.check} failed ({k.detail})" for k in checks if not k.passed]
    passed = bool(rows) and not notes
    return Artifact(**base, path=files[0], files=files, meta=dict(c.result.converted.meta), parity=rows,
                    semantics=checks, passed=passed, note="; ".join(notes))
