"""Run one artifact on the golden cases in its own runtime and turn the numbers into manifest rows.

Used by `build` (right after conversion) and by `verify` (from the files in a bundle).
"""
from __future__ import annotations

import dataclasses
import json
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
from mobilesdk.serde import from_data
from mobilesdk.spec import Arrays, ModelSpec, OutputSpec, Runner
from mobilesdk.speech import align
from mobilesdk.text import spans


class ReferenceCase(NamedTuple):
    """One golden case with what PyTorch computed for it (and, for text models, each row's text; for
    user references, the outputs the user gave)."""

    name: str
    inputs: Arrays
    outputs: Arrays
    text: tuple[TextRow, ...] = ()
    expected: Arrays = {}  # read only


def row_spans(o: OutputSpec, rows: tuple[TextRow, ...], lid: np.ndarray) -> list[list[spans.Span]]:
    """Language spans of each text row from a LID output [batch, tokens, languages]."""
    return [spans.spans(r.text, r.offsets, lid[i, : len(r.ids)], o.labels) for i, r in enumerate(rows)]


def _spans_agreement(o: OutputSpec, golden: list[ReferenceCase], got: list[Arrays]) -> float | None:
    """Over the cases made of text rows (a user reference has none)."""
    texts = [(c, g) for c, g in zip(golden, got) if c.text]
    if o.metric != "lid" or not o.labels or not texts:
        return None
    ref = [s for c, _ in texts for s in row_spans(o, c.text, c.outputs[o.name])]
    out = [s for c, g in texts for s in row_spans(o, c.text, np.asarray(g[o.name]))]
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


def run_cases(runner: Runner, spec: ModelSpec, golden: list[ReferenceCase]) -> list[Arrays]:
    """The runner's outputs on every golden case, checked to hold every spec output."""
    results = []
    for case in golden:
        got = runner(case.inputs)
        missing = [o.name for o in spec.outputs if o.name not in got]
        if missing:
            raise ValueError(f"the artifact returned no output `{missing[0]}` (it gave {sorted(got)})")
        results.append(got)
    return results


def parity_rows(spec: ModelSpec, precision: str, golden: list[ReferenceCase], got: list[Arrays]) -> list[OutputParity]:
    """Per output, `got` against each case's `outputs` (over the cases that have that output), worst
    case over them, judged by the spec's thresholds at `precision`."""
    rows = []
    for o in spec.outputs:
        pairs = [(c, g) for c, g in zip(golden, got) if o.name in c.outputs]
        if not pairs:
            continue
        threshold, reason = spec.threshold(o.name, precision)
        stats = combine([compare(spec, o, c.inputs, c.outputs[o.name], np.asarray(g[o.name]), threshold.tie_margin)
                         for c, g in pairs])
        cases, outs = [c for c, _ in pairs], [g for _, g in pairs]
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
                spans_agreement=_spans_agreement(o, cases, outs),
                alignment_agreement=_alignment_agreement(spec, o, cases, outs),
            )
        )
    return rows


def reference_rows(spec: ModelSpec, precision: str, golden: list[ReferenceCase], got: list[Arrays]) -> list[OutputParity]:
    """`got` against the outputs users gave with their reference cases (none: no rows)."""
    given = [(c._replace(outputs=c.expected), g) for c, g in zip(golden, got) if c.expected]
    return parity_rows(spec, precision, [c for c, _ in given], [g for _, g in given])


def evaluate(runner: Runner, spec: ModelSpec, precision: str, golden: list[ReferenceCase]) -> list[OutputParity]:
    """Parity rows against PyTorch's outputs, per output, worst case over the golden cases."""
    return parity_rows(spec, precision, golden, run_cases(runner, spec, golden))


@dataclass
class ConvertResult:
    """A conversion step's outcome: the artifact, or the one-line reason there is none."""

    converted: Converted | None
    error: str
    summary: str = ""
    key: str = ""  # the conversion's cache key: everything the artifact was made from


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


RESULTS = ("parity", "semantics", "reference_parity", "passed", "note", "divergence")  # what running the artifact decides


def results_of(a: Artifact) -> dict:
    """The fields of `a` that running it decided, as JSON data (for the result cache)."""
    return {f: json.loads(json.dumps(dataclasses.asdict(a)[f])) for f in RESULTS}


def check_artifact(c: ArtifactCheck, known: dict | None = None) -> Artifact:
    """The manifest entry of one artifact: its files, facts, parity rows and mask-suite rows (or why
    there are none); with `known` (`results_of` an earlier check of the same artifact on the same
    golden data), those rows without running it."""
    labels = [case_label(g.name, g.inputs, c.spec) for g in c.golden]
    conv = c.converter
    base = dict(format=conv.name, precision=c.precision, runtime=conv.runtime(), diagnostic=conv.diagnostic,
                cases=labels)
    if c.result.converted is None:
        return Artifact(**base, path="", files=[], meta={}, parity=[], semantics=[], passed=False,
                        note=f"conversion failed: {c.result.error}")
    files = [f.relative_to(c.root).as_posix() for f in c.result.converted.files]
    if known is not None:
        return from_data(Artifact, {**dataclasses.asdict(Artifact(**base, path=files[0], files=files,
                         meta=dict(c.result.converted.meta), parity=[], semantics=[], passed=False, note="")), **known})
    rows, given, checks, notes = [], [], [], []
    try:
        runner = conv.runner(c.result.converted, c.spec)
        got = run_cases(runner, c.spec, c.golden)
        rows, given = parity_rows(c.spec, c.precision, c.golden, got), reference_rows(c.spec, c.precision, c.golden, got)
        checks = run_suite(c.spec, runner, c.precision, c.reference, c.audio)
    except Exception as e:  # a runtime that crashes on the artifact is a failed row, with the reason
        notes.append(f"runtime failed: {summary(e)}")
    notes += [f"below threshold: {r.output}" for r in rows if not r.passed]
    notes += [f"below threshold against the reference outputs: {r.output}" for r in given if not r.passed]
    notes += [f"{k.check} failed ({k.detail})" for k in checks if not k.passed]
    passed = bool(rows) and not notes
    return Artifact(**base, path=files[0], files=files, meta=dict(c.result.converted.meta), parity=rows,
                    semantics=checks, passed=passed, note="; ".join(notes), reference_parity=given)
