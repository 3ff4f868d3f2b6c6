"""The generated Kotlin file: what the manifest says about each model as `ModelInfo` values, and a
factory per model that returns its class (TextClassifier, Aligner, Enhancer or GenericModel) on an
artifact of the app's choosing."""
from __future__ import annotations

import json

from mobilesdk.bindings import BundleBinding, ModelBinding, TokenizerConfig
from mobilesdk.manifest import Artifact
from mobilesdk.spec import TensorSpec

DTYPES = {"float32": "DType.FLOAT32", "int32": "DType.INT32", "int64": "DType.INT64"}
# The artifact notes the runners read (TFLite's buckets, batch, signatures and layouts); the rest stay in the manifest.
RUNNER_META = ("batch", "bucket_dims", "buckets", "padded_dims", "signatures", "layout")


def string(s: str) -> str:
    """A Kotlin string literal (JSON's escapes are Kotlin's, with `$` escaped too)."""
    return json.dumps(s, ensure_ascii=False).replace("$", "\\$")


def strings(items) -> str:
    return f"listOf({', '.join(string(str(x)) for x in items)})"


def num(x: float) -> str:
    return repr(float(x)) if x == x else "Double.NaN"


def _axis(s) -> str:
    return f"Axis.of({string(s) if isinstance(s, str) else int(s)})"


def _tensor(t: TensorSpec, ctc_blank: int | None = None) -> str:
    args = [string(t.name), DTYPES[t.dtype], f"listOf({', '.join(_axis(s) for s in t.shape)})"]
    if getattr(t, "kind", ""):
        args.append(f"kind = {string(t.kind)}")
    if t.low or t.high:
        args += [f"low = {t.low}", f"high = {t.high}"]
    if t.labels:
        args.append(f"labels = {strings(t.labels)}")
    metric = getattr(t, "metric", None)
    if metric is not None:
        args.append(f"metric = {string(metric)}")
        if t.position_axis is not None:
            args.append(f"positionAxis = {t.position_axis}")
        if t.ctc_blank is not None:
            args.append(f"ctcBlank = {t.ctc_blank}")
    return f"TensorInfo({', '.join(args)})"


def _artifact(a: Artifact) -> str:
    meta = ", ".join(f"{string(k)} to {string(str(v))}" for k, v in sorted(a.meta.items()) if k in RUNNER_META)
    thresholds = ", ".join(f"{string(p.output)} to Threshold({num(p.min_sqnr_db)}, {num(p.min_agreement)}, {num(p.tie_margin)})"
                           for p in a.parity)
    return (f"ArtifactInfo({string(a.format)}, {string(a.precision)}, {strings(a.files)},\n"
            f"                mapOf({meta}),\n"
            f"                mapOf({thresholds}), passed = {str(a.passed).lower()})")


def _tokenizer(t: TokenizerConfig) -> str:
    stages = []
    for s in t.pre_tokenizers:
        stages.append({"bert": "PreTokenizer.Bert", "whitespace": "PreTokenizer.WhitespaceSplit",
                       "digits": f"PreTokenizer.Digits({str(s.get('individual')).lower()})",
                       "split": f"PreTokenizer.Split({string(s.get('pattern', ''))}, {str(s.get('isolated')).lower()})"}[s["type"]])
    return (f"TokenizerConfig(cleanText = {str(t.clean_text).lower()}, handleChineseChars = {str(t.handle_chinese_chars).lower()}, "
            f"stripAccents = {str(t.strip_accents).lower()}, lowercase = {str(t.lowercase).lower()},\n"
            f"            preTokenizers = listOf({', '.join(stages)}),\n"
            f"            continuingSubwordPrefix = {string(t.continuing_subword_prefix)}, "
            f"maxInputCharsPerWord = {t.max_input_chars_per_word}, unkId = {t.unk_id}, clsId = {t.cls_id}, sepId = {t.sep_id},\n"
            f"            specialIds = listOf({', '.join(map(str, t.special_ids))}), maxTokens = {t.max_tokens})")


def _info(m: ModelBinding) -> str:
    s = m.spec
    dims = ", ".join(f"Dim({string(d.name)}, {d.min}, {d.max}, {d.multiple_of})" for d in s.dims)
    derived = ", ".join(
        f"DerivedDim({string(d.name)}, {string(d.source)}, listOf({', '.join(f'intArrayOf({k}, {st})' for k, st in d.conv_stack)}))"
        for d in s.derived_dims)
    masks = ", ".join(f"{string(k.input)} to {string(k.axis)}" for k in s.masks)
    golden = ", ".join(f"GoldenInfo({string(g.name)}, {string(g.path)})" for g in m.model.golden)
    artifacts = ",\n            ".join(_artifact(a) for a in m.artifacts("android"))
    text = ""
    if m.tokenizer is not None:
        text = f",\n        tokenizer = {_tokenizer(m.tokenizer)},\n        vocab = {string(m.tokenizer.vocab)}"
    return (f"ModelInfo(\n        name = {string(m.name)},\n"
            f"        inputs = listOf({', '.join(_tensor(t) for t in s.inputs)}),\n"
            f"        outputs = listOf({', '.join(_tensor(t) for t in s.outputs)}),\n"
            f"        dims = listOf({dims}),\n        derivedDims = listOf({derived}),\n"
            f"        masks = mapOf({masks}),\n        golden = listOf({golden}),\n"
            f"        artifacts = listOf(\n            {artifacts}\n        ){text},\n    )")


def comment(text: str) -> str:
    """`text` safe inside a KDoc comment, on one line."""
    return " ".join(text.replace("*/", "* /").split())


def bundle_source(b: BundleBinding) -> str:
    blocks = []
    for m in b.models:
        fmt, precision = m.default("android")
        note = f"\n    // {comment(m.note)}" if m.note else ""
        blocks.append(
            f"    /** `{m.name}`: {comment(m.model.description or m.model.source)}. */{note}\n"
            f"    val {m.ident}Info: ModelInfo = {_info(m)}\n\n"
            f"    /** `{m.name}` on one of its artifacts ({', '.join(f'{a.format}/{a.precision}' for a in m.artifacts('android')) or 'none for Android'}). */\n"
            f"    fun {m.ident}(engine: Engine, format: String = {string(fmt)}, precision: String = {string(precision)}): {m.kind} =\n"
            f"        {m.kind}({m.ident}Info, {m.ident}Info.artifact(format, precision), engine)\n")
    models = ", ".join(f"{string(m.name)} to {m.ident}Info" for m in b.models)
    return (f"// Generated by mobilesdk from the manifest of bundle {b.name} {b.version}: do not edit; regenerate with\n"
            f"// `mobilesdk bindings BUNDLE`.\n"
            f"package mobilesdk\n\n"
            f"object {b.ident} {{\n"
            f"    const val NAME = {string(b.name)}\n"
            f"    const val VERSION = {string(b.version)}\n"
            f"    /** sha256 of the manifest.json these bindings were generated from; self-test results carry it. */\n"
            f"    const val MANIFEST_SHA256 = {string(b.manifest_sha256)}\n\n"
            + "\n".join(blocks) +
            f"\n    val models: Map<String, ModelInfo> = mapOf({models})\n\n"
            f"    /** The golden self-test of one model's artifact on `engine`; results written to `writeTo` carry this bundle's name and manifest digest. */\n"
            f"    fun selfTest(model: String, format: String, precision: String, engine: Engine, writeTo: java.io.File? = null): SelfTestReport {{\n"
            f"        val info = models[model] ?: throw MobileSdkException(\"no model `$model` in bundle $NAME. Fix: use one of ${{models.keys.joinToString()}}\")\n"
            f"        return SelfTest.run(info, info.artifact(format, precision), engine, NAME, MANIFEST_SHA256, writeTo)\n"
            f"    }}\n"
            f"}}\n")
