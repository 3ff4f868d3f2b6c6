"""`mobilesdk run BUNDLE MODEL TEXT`: one input through one artifact of a bundle, in its own runtime.

Everything comes from the bundle: the manifest says which artifact, the tokenizer.json it ships
makes the ids, the spec names the inputs, and the outputs' labels turn logits into a sentiment and
token LID into language spans (`mobilesdk.text.spans`), as an app would.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from converters.base import Converted, get
from mobilesdk.errors import BundleError
from mobilesdk.manifest import Artifact, Model
from mobilesdk.pipeline.verify import model_spec, read_manifest
from mobilesdk.spec import NP_DTYPES, Arrays, ModelSpec, Runner
from mobilesdk.text.spans import softmax, spans
from mobilesdk.text.tokenizer import TextTokenizer


@dataclass
class RunResult:
    model: str
    artifact: str  # "format/precision"
    runtime: str
    tokens: int
    truncated: bool
    classes: dict[str, dict[str, float]] = field(default_factory=dict)  # output -> label -> probability
    spans: dict[str, list[dict]] = field(default_factory=dict)  # LID output -> [{lang, start, end, text, confidence}]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def render(self) -> str:
        lines = [f"{self.model} via {self.artifact} ({self.runtime}), {self.tokens} tokens"]
        if self.truncated:
            lines.append(f"note: the text was cut to the model's {self.tokens} tokens; the rest was not read")
        for out, probs in self.classes.items():
            best = max(probs, key=probs.get)
            lines.append(f"{out}: {best} ({probs[best]:.2f})   " + "  ".join(f"{k} {v:.2f}" for k, v in probs.items()))
        for out, rows in self.spans.items():
            lines.append(f"{out} spans:")
            lines += [f"  {s['lang']:<6} {s['confidence']:.2f}  [{s['start']}:{s['end']}] {s['text']!r}" for s in rows]
        return "\n".join(lines)


def pick_artifact(model: Model, fmt: str | None, precision: str | None) -> Artifact:
    """The asked-for artifact; by default the first that can run here, fp32 first."""
    have = [a for a in model.artifacts if a.files and not a.diagnostic]
    chosen = [a for a in have if (fmt is None or a.format == fmt) and (precision is None or a.precision == precision)]
    if not chosen:
        listed = ", ".join(f"{a.format}/{a.precision}" for a in have) or "none"
        raise BundleError(f"model `{model.name}` has no artifact {fmt or '*'}/{precision or '*'} in this bundle. "
                          f"Fix: pick one of {listed}")
    chosen.sort(key=lambda a: a.precision != "fp32")
    return next((a for a in chosen if get(a.format).check() is None), chosen[0])  # imports toolchains in turn


def one_row(spec: ModelSpec, length: int, data: np.ndarray, categories: dict[str, int] | None = None) -> Arrays:
    """One row at `length`: the tokens or audio input holds `data`, right-padded with zeros; masks are
    1 over `data`; category inputs take `categories` (else 0); any other input is zeros."""
    out = {}
    for t in spec.inputs:
        shape = tuple(1 if s == "batch" else length if isinstance(s, str) else s for s in t.shape)
        x = np.full(shape, (categories or {}).get(t.name, 0) if t.kind == "category" else 0, dtype=np.float64)
        if t.kind in ("tokens", "audio", "mask"):
            x.reshape(-1, length)[:, : len(data)] = 1 if t.kind == "mask" else data
        out[t.name] = x.astype(NP_DTYPES[t.dtype])
    return out


@dataclass(frozen=True)
class Opened:
    """One model of a bundle with the artifact chosen to run it."""

    model: Model
    artifact: Artifact
    spec: ModelSpec
    runner: Runner

    @property
    def label(self) -> str:
        return f"{self.artifact.format}/{self.artifact.precision}"


def find_model(root: Path, name: str) -> Model:
    manifest = read_manifest(root)
    model = next((m for m in manifest.models if m.name == name), None)
    if model is None:
        raise BundleError(f"`{root}` has no model `{name}`. Fix: use one of {', '.join(m.name for m in manifest.models)}")
    return model


def open_model(root: Path, model: Model, fmt: str | None, precision: str | None) -> Opened:
    """The model's chosen artifact loaded in its runtime."""
    art = pick_artifact(model, fmt, precision)
    conv = get(art.format)
    reason = conv.check()
    if reason:
        raise BundleError(f"{art.format} cannot run here: {reason}. Fix: run `make setup`, or pick another --format")
    spec = model_spec(root, model)
    return Opened(model, art, spec, conv.runner(Converted([root / f for f in art.files], dict(art.meta)), spec))


def run_text(root: Path, name: str, text: str, fmt: str | None = None, precision: str | None = None) -> RunResult:
    model = find_model(root, name)
    if model.text is None:
        raise BundleError(f"model `{name}` has no tokenizer in this bundle, so `run` cannot make its inputs from text. "
                          "Fix: build it with `tokenizer` and `sentences` in its [models] table")
    if not text.strip():
        raise BundleError("the text is empty. Fix: pass the text to run, e.g. mobilesdk run BUNDLE MODEL \"some text\"")
    opened = open_model(root, model, fmt, precision)
    art, spec, runner = opened.artifact, opened.spec, opened.runner
    enc = TextTokenizer(root / model.text.tokenizer).encode(text, model.text.max_tokens)
    outputs = runner(one_row(spec, len(enc.ids), np.asarray(enc.ids)))
    result = RunResult(name, f"{art.format}/{art.precision}", art.runtime, len(enc.ids), enc.truncated)
    for o in spec.outputs:
        if not o.labels:
            continue
        probs = softmax(np.asarray(outputs[o.name])[0])
        if o.metric == "lid":
            result.spans[o.name] = [dict(s._asdict(), text=text[s.start:s.end])
                                    for s in spans(text, enc.offsets, probs, o.labels)]
        elif o.position_axis is None:
            result.classes[o.name] = {k: round(float(p), 4) for k, p in zip(o.labels, probs)}
    return result
