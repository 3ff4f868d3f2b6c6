"""What the bindings generators read from a bundle (mobilesdk.bindings): names, the class each model
gets from its spec, and which tokenizer pipelines the Kotlin and Swift reproduce."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mobilesdk.bindings import identifier, model_kind, tokenizer_config
from mobilesdk.errors import BundleError
from mobilesdk.manifest import TextEntry
from mobilesdk.models import build_model
from mobilesdk.text.tokenizer import TextTokenizer

TOKENIZER = Path(__file__).resolve().parents[2] / "examples/models/textclf/tokenizer.json"


def text_entry(root: Path, **changes) -> TextEntry:
    shutil.copy(TOKENIZER, root / "tokenizer.json")
    d = TextTokenizer(TOKENIZER).describe(64)
    fields = dict(input="input_ids", tokenizer="tokenizer.json", vocab="vocab.txt", kind=d["kind"], vocab_size=d["vocab_size"],
                  max_tokens=64, special_ids=d["special_ids"], continuing_subword_prefix="##",
                  normalizer=json.dumps(d["normalizer"]), pre_tokenizer=json.dumps(d["pre_tokenizer"]), truncation="", sentences=1)
    return TextEntry(**(fields | changes))


@pytest.mark.parametrize("name,lower,upper", [("mobilesdk_demo", "mobilesdkDemo", "MobilesdkDemo"),
                                              ("ios-test", "iosTest", "IosTest"), ("2nd model", "m2ndModel", "M2ndModel"),
                                              ("class", "mClass", "Class"), ("fun", "mFun", "Fun")])
def test_names_become_identifiers_kotlin_and_swift_accept(name, lower, upper):
    assert identifier(name) == lower and identifier(name, upper=True) == upper


def test_a_name_without_letters_or_digits_is_refused():
    with pytest.raises(BundleError, match="no letters or digits"):
        identifier("--")


def test_the_class_follows_from_the_spec(tmp_path):
    tokenizer = tokenizer_config(tmp_path, text_entry(tmp_path))
    kinds = {f: model_kind(build_model(f, "tiny")[1], tokenizer if f == "textclf" else None) for f in ("textclf", "aligner", "enhancer")}
    assert kinds == {"textclf": "TextClassifier", "aligner": "Aligner", "enhancer": "Enhancer"}
    assert model_kind(build_model("textclf", "tiny")[1], None) == "GenericModel"  # no tokenizer: tensors in, tensors out


def test_the_trained_tokenizer_is_read_stage_by_stage(tmp_path):
    t = tokenizer_config(tmp_path, text_entry(tmp_path))
    assert (t.clean_text, t.handle_chinese_chars, t.strip_accents, t.lowercase) == (True, True, True, True)
    assert [s["type"] for s in t.pre_tokenizers] == ["bert", "split", "digits"]
    assert t.pre_tokenizers[1] == {"type": "split", "pattern": r"[\p{So}\p{Sk}]", "isolated": True}
    assert (t.unk_id, t.cls_id, t.sep_id, t.max_tokens, t.max_input_chars_per_word) == (1, 2, 3, 64, 100)


@pytest.mark.parametrize("change,message", [
    ({"kind": "bpe"}, "WordPiece only"),
    ({"normalizer": json.dumps({"type": "Sequence", "normalizers": [{"type": "NFKC"}]})}, "BertNormalizer only"),
    ({"pre_tokenizer": json.dumps({"type": "Metaspace", "replacement": "▁"})}, "pre-tokenizer"),
    ({"pre_tokenizer": json.dumps({"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious"})}, "pre-tokenizer"),
    ({"special_ids": {"pad": 0}}, "no unk, cls, sep token"),
])
def test_a_tokenizer_the_bindings_cannot_reproduce_is_named(tmp_path, change, message):
    with pytest.raises(BundleError, match=message):
        tokenizer_config(tmp_path, text_entry(tmp_path, **change))


def test_bert_normalizer_strip_accents_none_follows_lowercase(tmp_path):
    norm = {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": False}
    assert tokenizer_config(tmp_path, text_entry(tmp_path, normalizer=json.dumps(norm))).strip_accents is False


def test_core_ai_artifacts_are_ios_assets_and_android_leaves_them_out():
    """A coreai artifact is an iOS asset (CoreAIEngine loads it), after Core ML's; no Android asset."""
    from mobilesdk.bindings import BundleBinding, ModelBinding
    from mobilesdk.manifest import Artifact, Model

    def artifact(fmt: str, precision: str = "fp32") -> Artifact:
        return Artifact(fmt, precision, f"models/m/{fmt}/{precision}/model", [f"models/m/{fmt}/{precision}/model"], "r",
                        False, [], {}, [], [], True, "")

    _, spec = build_model("enhancer", "tiny", name="m")
    arts = [artifact("coreai"), artifact("coreml", "fp16"), artifact("coreml"), artifact("tflite")]
    model = Model("m", "family:enhancer", "", spec.digest(), "models/m/spec.json", [], [], [], {}, [], [], [], arts)
    binding = ModelBinding("m", "m", "Enhancer", "", model, spec, None)
    b = BundleBinding("demo", "Demo", "0.1.0", "0" * 64, (binding,))
    assert sorted(b.assets("ios")) == sorted(a.files[0] for a in arts[:3])
    assert b.assets("android") == ["models/m/tflite/fp32/model"]
    assert binding.default("ios") == ("coreml", "fp32")  # fp32 first, then Core ML before Core AI
