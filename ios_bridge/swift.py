"""The generated Swift file: what the manifest says about each model as `ModelInfo` values, and a
factory per model that returns its class (TextClassifier, Aligner, Enhancer or GenericModel) on one
of its Core ML or Core AI artifacts."""
from __future__ import annotations

import json

from mobilesdk.bindings import BundleBinding, ModelBinding, TokenizerConfig
from mobilesdk.manifest import Artifact
from mobilesdk.spec import TensorSpec


def string(s: str) -> str:
    """A Swift string literal: JSON's escapes, with `\\(` kept literal and \\u{...} for escapes Swift spells so."""
    out = json.dumps(s, ensure_ascii=False)
    out = out.replace("\\/", "/")
    for code in ("b", "f"):
        out = out.replace(f"\\{code}", {"b": "\\u{8}", "f": "\\u{C}"}[code])
    import re

    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: "\\u{" + m.group(1) + "}", out)


def strings(items) -> str:
    return f"[{', '.join(string(str(x)) for x in items)}]"


def num(x: float) -> str:
    return repr(float(x)) if x == x else "Double.nan"


def comment(text: str) -> str:
    return " ".join(text.replace("*/", "* /").split())


def _tensor(t: TensorSpec) -> str:
    args = [f"name: {string(t.name)}", f"dtype: .{t.dtype}", f"shape: [{', '.join(f'.of({string(s) if isinstance(s, str) else int(s)})' for s in t.shape)}]"]
    if getattr(t, "kind", ""):
        args.append(f"kind: {string(t.kind)}")
    if t.low or t.high:
        args += [f"low: {t.low}", f"high: {t.high}"]
    if t.labels:
        args.append(f"labels: {strings(t.labels)}")
    metric = getattr(t, "metric", None)
    if metric is not None:
        args.append(f"metric: {string(metric)}")
        if t.position_axis is not None:
            args.append(f"positionAxis: {t.position_axis}")
        if t.ctc_blank is not None:
            args.append(f"ctcBlank: {t.ctc_blank}")
    return f"TensorInfo({', '.join(args)})"


def _artifact(a: Artifact) -> str:
    thresholds = ", ".join(f"{string(p.output)}: Threshold({num(p.min_sqnr_db)}, {num(p.min_agreement)}, {num(p.tie_margin)})"
                           for p in a.parity) or ":"
    return (f"ArtifactInfo(format: {string(a.format)}, precision: {string(a.precision)}, files: {strings(a.files)},\n"
            f"                     thresholds: [{thresholds}], passed: {str(a.passed).lower()}"
            + (f", function: {string(str(a.meta['function']))}" if "function" in a.meta else "") + ")")


def _tokenizer(t: TokenizerConfig) -> str:
    stages = []
    for s in t.pre_tokenizers:
        stages.append({"bert": ".bert", "whitespace": ".whitespaceSplit",
                       "digits": f".digits(individual: {str(s.get('individual')).lower()})",
                       "split": f".split({string(s.get('pattern', ''))}, isolated: {str(s.get('isolated')).lower()})"}[s["type"]])
    return (f"TokenizerConfig(cleanText: {str(t.clean_text).lower()}, handleChineseChars: {str(t.handle_chinese_chars).lower()}, "
            f"stripAccents: {str(t.strip_accents).lower()}, lowercase: {str(t.lowercase).lower()},\n"
            f"            preTokenizers: [{', '.join(stages)}],\n"
            f"            continuingSubwordPrefix: {string(t.continuing_subword_prefix)}, "
            f"maxInputCharsPerWord: {t.max_input_chars_per_word}, unkId: {t.unk_id}, clsId: {t.cls_id}, sepId: {t.sep_id},\n"
            f"            specialIds: [{', '.join(map(str, t.special_ids))}], maxTokens: {t.max_tokens})")


def _info(m: ModelBinding) -> str:
    s = m.spec
    dims = ", ".join(f"Dim({string(d.name)}, {d.min}, {d.max}, {d.multiple_of})" for d in s.dims)
    derived = ", ".join(
        f"DerivedDim({string(d.name)}, {string(d.source)}, [{', '.join(f'({k}, {st})' for k, st in d.conv_stack)}])"
        for d in s.derived_dims)
    masks = ", ".join(f"{string(k.input)}: {string(k.axis)}" for k in s.masks) or ":"
    golden = ", ".join(f"GoldenInfo({string(g.name)}, {string(g.path)})" for g in m.model.golden)
    artifacts = ",\n            ".join(_artifact(a) for a in m.artifacts("ios"))
    text = ""
    if m.tokenizer is not None:
        text = f",\n        tokenizer: {_tokenizer(m.tokenizer)},\n        vocab: {string(m.tokenizer.vocab)}"
    return (f"ModelInfo(\n        name: {string(m.name)},\n"
            f"        inputs: [{', '.join(_tensor(t) for t in s.inputs)}],\n"
            f"        outputs: [{', '.join(_tensor(t) for t in s.outputs)}],\n"
            f"        dims: [{dims}],\n        derivedDims: [{derived}],\n"
            f"        masks: [{masks}],\n        golden: [{golden}],\n"
            f"        artifacts: [\n            {artifacts}\n        ]{text}\n    )")


def bundle_source(b: BundleBinding) -> str:
    blocks = []
    for m in b.models:
        fmt, precision = m.default("ios")
        note = f"\n    // {comment(m.note)}" if m.note else ""
        blocks.append(
            f"    /// `{m.name}`: {comment(m.model.description or m.model.source)}.{note}\n"
            f"    public static let {m.ident}Info = {_info(m)}\n\n"
            f"    /// `{m.name}` on one of its artifacts ({', '.join(f'{a.format}/{a.precision}' for a in m.artifacts('ios')) or 'none for iOS'}).\n"
            f"    public static func {m.ident}(_ engine: Engine, format: String = {string(fmt)}, precision: String = {string(precision)}) throws -> {m.kind} {{\n"
            f"        try {m.kind}({m.ident}Info, try {m.ident}Info.artifact(format, precision), engine)\n"
            f"    }}\n")
    models = ", ".join(f"{string(m.name)}: {m.ident}Info" for m in b.models)
    return (f"// Generated by mobilesdk from the manifest of bundle {b.name} {b.version}: do not edit; regenerate with\n"
            f"// `mobilesdk bindings BUNDLE`.\n"
            f"import Foundation\n\n"
            f"public enum {b.ident} {{\n"
            f"    public static let name = {string(b.name)}\n"
            f"    public static let version = {string(b.version)}\n"
            f"    /// sha256 of the manifest.json these bindings were generated from; self-test results carry it.\n"
            f"    public static let manifestSha256 = {string(b.manifest_sha256)}\n\n"
            + "\n".join(blocks) +
            f"\n    public static let models: [String: ModelInfo] = [{models or ':'}]\n\n"
            f"    /// The golden self-test of one model's artifact on `engine`; results written to `writeTo` carry this bundle's name and manifest digest.\n"
            f"    public static func selfTest(_ model: String, format: String, precision: String, engine: Engine, writeTo: URL? = nil) throws -> SelfTestReport {{\n"
            f"        guard let info = models[model] else {{\n"
            f"            throw MobileSDKError(\"no model `\\(model)` in bundle \\(name). Fix: use one of \\(models.keys.sorted().joined(separator: \", \"))\")\n"
            f"        }}\n"
            f"        return try SelfTest.run(info, try info.artifact(format, precision), engine, bundle: name, manifestSha256: manifestSha256, writeTo: writeTo)\n"
            f"    }}\n"
            f"}}\n")
