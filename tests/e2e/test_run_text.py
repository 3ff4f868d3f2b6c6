"""`mobilesdk run` on a text model end to end: a tiny textclf with a tokenizer and real sentences
(tests/fixtures/device_bundle.py), text through two formats in their own runtimes, and every bad input."""
from __future__ import annotations

import json

import pytest

from converters.base import get
from mobilesdk.text.tokenizer import TextTokenizer
from tests.e2e.test_build_verify import cli
from tests.fixtures import device_bundle as shared

pytestmark = [pytest.mark.slow] + [pytest.mark.skipif(get(f).check() is not None, reason=str(get(f).check()))
                                   for f in ("executorch", "tflite")]
SCOPE_GROUP = shared.GROUP
CORPUS = shared.CORPUS
TEXT = "说实话 I really like 这个新功能 😊"


@pytest.fixture(scope="module")
def bundle(device_bundle):
    return device_bundle.path


def test_the_bundle_ships_the_tokenizer_and_records_it(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    text = next(x for x in m["models"] if x["name"] == "textclf")["text"]
    assert text["tokenizer"] == "models/textclf/tokenizer.json" and text["vocab"] == "models/textclf/vocab.txt"
    sentences = len((CORPUS / "test.jsonl").read_text().splitlines())
    assert text["special_ids"]["pad"] == 0 and text["max_tokens"] == 64 and text["sentences"] == sentences
    files = {f["path"] for f in m["files"]}
    assert {text["tokenizer"], text["vocab"]} <= files
    vocab = (bundle / text["vocab"]).read_text(encoding="utf-8").splitlines()
    assert vocab[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] and len(vocab) == text["vocab_size"]
    lid = [p for a in next(x for x in m["models"] if x["name"] == "textclf")["artifacts"] for p in a["parity"]
           if p["output"] == "lid"]
    assert lid and all(p["spans_agreement"] == 1.0 for p in lid)  # fp32 keeps every span
    assert cli("verify", bundle).returncode == 0


def test_run_prints_sentiment_and_spans_from_two_formats_that_agree(bundle):
    tokens = len(TextTokenizer(bundle / "models/textclf/tokenizer.json").encode(TEXT, 64).ids)
    runs = []
    for fmt in ("executorch", "tflite"):
        r = cli("run", bundle, "textclf", TEXT, "--format", fmt, "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["artifact"] == f"{fmt}/fp32" and out["tokens"] == tokens and not out["truncated"]
        probs = out["classes"]["sentiment"]
        assert list(probs) == ["negative", "neutral", "positive"] and abs(sum(probs.values()) - 1) < 1e-3
        spans = out["spans"]["lid"]
        assert spans and all(TEXT[s["start"]:s["end"]] == s["text"] for s in spans)
        assert {s["lang"] for s in spans} <= {"zh", "en", "other"}
        assert [s["start"] for s in spans] == sorted(s["start"] for s in spans) and spans[0]["start"] == 0
        runs.append([(s["lang"], s["start"], s["end"]) for s in spans])
    assert runs[0] == runs[1]


def test_long_text_is_cut_to_max_tokens_and_says_so(bundle):
    from mobilesdk.pipeline.run import run_text

    out = run_text(bundle, "textclf", " ".join([TEXT] * 10), "tflite")
    assert out.tokens == 64 and out.truncated
    r = cli("run", bundle, "textclf", " ".join([TEXT] * 10))  # the default artifact, as text
    assert r.returncode == 0 and r.stdout.startswith("textclf via executorch/fp32") and "lid spans:" in r.stdout
    assert "cut to the model's 64 tokens" in r.stdout


@pytest.mark.parametrize("args,message", [
    (("textclf", "   "), "the text is empty"),
    (("nomodel", TEXT), "has no model `nomodel`. Fix: use one of textclf, enhancer, aligner"),
    (("enhancer", TEXT), "no such file. Fix: pass the path of a WAV file"),  # an audio model takes a WAV
    (("textclf", TEXT, "--format", "coreml"), "has no artifact coreml/*"),
    (("textclf", TEXT, "--precision", "int8-static"), "Fix: pick one of executorch/fp32, tflite/fp32"),
])
def test_bad_input_is_one_line_and_exit_2(bundle, args, message, capsys):
    from mobilesdk.cli import main  # in process: the subprocess form is tested above

    assert main(["run", str(bundle), *args]) == 2
    # executorch's runtime logs its CPU probe ("[cpuinfo_utils.cpp:71] ...") on first load in a process
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[cpuinfo")]
    assert len(lines) == 1 and message in lines[0], lines


def test_a_missing_bundle_is_exit_2(tmp_path, capsys):
    from mobilesdk.cli import main

    assert main(["run", str(tmp_path / "nothing"), "textclf", TEXT]) == 2
    assert "is not a bundle" in capsys.readouterr().err
