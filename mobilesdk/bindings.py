"""What the generated bindings know about a bundle, read from manifest.json and the files it lists
(each model's spec, a text model's tokenizer.json): one description that android_bridge (Kotlin)
and ios_bridge (Swift) render in their own language.

Which class a model gets follows from its spec, as `mobilesdk run` decides, never from its name: a
WordPiece tokenizer makes a TextClassifier, a CTC head an Aligner, an output shaped like the audio
input an Enhancer, anything else a GenericModel with tensors by name. A tokenizer the bindings
cannot reproduce leaves a text model a GenericModel, and `note` says why.
"""
from __future__ import annotations

import hashlib
import json
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from mobilesdk.errors import BundleError
from mobilesdk.manifest import Artifact, Manifest, Model, TextEntry
from mobilesdk.spec import ModelSpec, spec_from_json

# Precisions an Android or iOS runtime can load, per format (ONNX is the diagnostic stepping stone).
DEVICE_FORMATS = {"android": ("executorch", "tflite"), "ios": ("coreml", "coreai")}
RESERVED = set(keyword.kwlist) | {"fun", "val", "var", "object", "when", "is", "in", "let", "func", "self", "init",
                                  "struct", "protocol", "extension", "default", "case", "where", "typealias"}


@dataclass(frozen=True)
class TokenizerConfig:
    """A WordPiece pipeline as the bindings reproduce it (BertNormalizer + pre-tokenizer stages)."""

    clean_text: bool
    handle_chinese_chars: bool
    strip_accents: bool
    lowercase: bool
    pre_tokenizers: tuple[dict, ...]  # {"type": "bert" | "whitespace" | "digits" | "split", ...}
    continuing_subword_prefix: str
    max_input_chars_per_word: int
    unk_id: int
    cls_id: int
    sep_id: int
    special_ids: tuple[int, ...]
    max_tokens: int
    vocab: str  # bundle path of vocab.txt


@dataclass(frozen=True)
class ModelBinding:
    name: str
    ident: str  # the model's name as an identifier: textclf, myModel
    kind: str  # TextClassifier, Aligner, Enhancer or GenericModel
    note: str  # why a model with text got GenericModel, else ""
    model: Model
    spec: ModelSpec
    tokenizer: TokenizerConfig | None

    def artifacts(self, platform: str) -> list[Artifact]:
        """The model's artifacts a device of `platform` runs (files present, not diagnostic)."""
        return [a for a in self.model.artifacts if a.files and not a.diagnostic and a.format in DEVICE_FORMATS[platform]]

    def default(self, platform: str) -> tuple[str, str]:
        """The (format, precision) a factory opens unless told otherwise: fp32 first, formats in DEVICE_FORMATS order."""
        formats = DEVICE_FORMATS[platform]
        arts = sorted(self.artifacts(platform), key=lambda a: (a.precision != "fp32", formats.index(a.format)))
        return (arts[0].format, arts[0].precision) if arts else (formats[0], "fp32")


@dataclass(frozen=True)
class BundleBinding:
    name: str
    ident: str  # the bundle's name as a type name: MobilesdkDemo
    version: str
    manifest_sha256: str  # the manifest the bindings were generated from; results files carry it back
    models: tuple[ModelBinding, ...]

    def assets(self, platform: str) -> list[str]:
        """Bundle files an app of `platform` needs: device artifacts, golden cases, vocabularies."""
        out: list[str] = []
        for m in self.models:
            out += [f for a in m.artifacts(platform) for f in a.files]
            out += [g.path for g in m.model.golden]
            out += [m.tokenizer.vocab] if m.tokenizer else []
        return list(dict.fromkeys(out))


def identifier(name: str, upper: bool = False) -> str:
    """`name` as a camelCase (or PascalCase) identifier: mobilesdk_demo -> mobilesdkDemo / MobilesdkDemo."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    if not words:
        raise BundleError(f"`{name}` has no letters or digits to name a binding after. Fix: rename it in bundle.toml")
    ident = "".join(w[:1].upper() + w[1:] for w in words)
    ident = ident if upper else ident[:1].lower() + ident[1:]
    if ident[0].isdigit() or ident in RESERVED:
        ident = ("M" if upper else "m") + ident[:1].upper() + ident[1:]
    return ident


def model_kind(spec: ModelSpec, tokenizer: TokenizerConfig | None) -> str:
    audio = spec.first_input("audio")
    if tokenizer is not None and spec.first_input("tokens") is not None:
        return "TextClassifier"
    if audio is not None and spec.ctc_head() is not None:
        return "Aligner"
    if audio is not None and spec.waveform_output() is not None:
        return "Enhancer"
    return "GenericModel"


def tokenizer_config(root: Path, text: TextEntry) -> TokenizerConfig:
    """The pipeline from the manifest's text entry and the tokenizer.json it lists; BundleError names
    the first stage the bindings cannot reproduce."""
    if text.kind != "wordpiece":
        raise BundleError(f"a `{text.kind}` tokenizer; the bindings reproduce WordPiece only")
    norm = json.loads(text.normalizer) if isinstance(text.normalizer, str) else text.normalizer
    if not norm or norm.get("type") != "BertNormalizer":
        raise BundleError(f"normalizer {norm and norm.get('type')}; the bindings reproduce BertNormalizer only")
    pre = json.loads(text.pre_tokenizer) if isinstance(text.pre_tokenizer, str) else text.pre_tokenizer
    stages = pre.get("pretokenizers", []) if pre and pre.get("type") == "Sequence" else [pre] if pre else []
    model = json.loads((root / text.tokenizer).read_text(encoding="utf-8"))["model"]
    ids = text.special_ids
    missing = [k for k in ("unk", "cls", "sep") if k not in ids]
    if missing:
        raise BundleError(f"no {', '.join(missing)} token among the special tokens {sorted(ids)}")
    lowercase = bool(norm.get("lowercase", True))
    strip = norm.get("strip_accents")
    return TokenizerConfig(
        clean_text=bool(norm.get("clean_text", True)), handle_chinese_chars=bool(norm.get("handle_chinese_chars", True)),
        strip_accents=lowercase if strip is None else bool(strip), lowercase=lowercase,  # tokenizers: None follows lowercase
        pre_tokenizers=tuple(_pre_tokenizer(s) for s in stages),
        continuing_subword_prefix=text.continuing_subword_prefix,
        max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
        unk_id=ids["unk"], cls_id=ids["cls"], sep_id=ids["sep"], special_ids=tuple(sorted(ids.values())),
        max_tokens=text.max_tokens, vocab=text.vocab)


def _pre_tokenizer(stage: dict) -> dict:
    kind = stage.get("type")
    if kind == "BertPreTokenizer":
        return {"type": "bert"}
    if kind == "WhitespaceSplit":
        return {"type": "whitespace"}
    if kind == "Digits":
        return {"type": "digits", "individual": bool(stage.get("individual_digits", False))}
    if kind == "Split" and not stage.get("invert") and stage.get("behavior") in ("Isolated", "Removed"):
        pattern = stage.get("pattern", {})
        regex = pattern["Regex"] if "Regex" in pattern else re.escape(pattern.get("String", ""))
        return {"type": "split", "pattern": regex, "isolated": stage["behavior"] == "Isolated"}
    raise BundleError(f"pre-tokenizer {json.dumps(stage)}; the bindings reproduce BertPreTokenizer, WhitespaceSplit, "
                      "Digits and Split (isolated or removed)")


def describe(root: Path, manifest: Manifest) -> BundleBinding:
    models = []
    for m in manifest.models:
        spec = spec_from_json(json.loads((root / m.spec_path).read_text()))
        tokenizer, note = None, ""
        if m.text is not None:
            try:
                tokenizer = tokenizer_config(root, m.text)
            except BundleError as e:
                note = f"its tokenizer cannot be reproduced on device: {e}; pass token ids yourself"
        models.append(ModelBinding(m.name, identifier(m.name), model_kind(spec, tokenizer), note, m, spec, tokenizer))
    idents = [m.ident for m in models]
    if len(set(idents)) != len(idents):
        raise BundleError(f"models {[m.name for m in models]} give the same binding names {idents}. Fix: rename one")
    digest = hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
    return BundleBinding(manifest.bundle, identifier(manifest.bundle, upper=True), manifest.version, digest, tuple(models))


def readme(b: BundleBinding, platform: str, language: str, usage: str, verified: str) -> str:
    """The generated package's README: its models, their classes and artifacts, a usage example, and
    what was and was not verified where the bundle was built."""
    rows = "\n".join(f"| `{m.name}` | `{m.kind}` | {', '.join(f'{a.format}/{a.precision}' for a in m.artifacts(platform)) or 'none'} |"
                     for m in b.models)
    notes = "".join(f"\n- `{m.name}`: {m.note}" for m in b.models if m.note)
    return (f"# {b.ident}: {language} bindings of bundle {b.name} {b.version}\n\n"
            f"Generated by `mobilesdk` from manifest.json (sha256 `{b.manifest_sha256[:16]}...`); "
            f"regenerate with `mobilesdk bindings <bundle>`, do not edit.\n\n"
            f"| model | class | artifacts |\n|---|---|---|\n{rows}\n{notes}\n\n"
            f"```{language.lower()}\n{usage.strip()}\n```\n\n{verified.strip()}\n")
