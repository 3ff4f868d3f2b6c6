"""The generated Android bindings on a plain JVM, against Python's own results.

A tiny bundle (text, enhancer, aligner; ExecuTorch and both TFLite routes: tests/fixtures/
device_bundle.py) is built through the CLI, which writes `android/`. Its Kotlin (the generated model file and the plain-Kotlin templates) is
compiled with the kotlinc `make setup` installs, beside tests/bridges/Harness.kt, and then:
- the tokenizer, language spans, CTC alignment and overlap-add equal Python's on many inputs;
- round trips: Kotlin pre-processing makes the tensors, the real executorch.runtime and
  ai_edge_litert run exactly those (tests/bridges/device.py), Kotlin post-processing reads the
  outputs, and the result equals `mobilesdk run`'s own on the same input;
- the golden self-test passes, and fails on a golden output changed on purpose;
- bad inputs are typed errors naming the fix;
- the ExecuTorch and LiteRT adapters compile against signature stubs (tests/bridges/stubs/).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converters.base import get
from mobilesdk.pipeline.bundle import load_golden
from mobilesdk.pipeline.run import run_text
from mobilesdk.pipeline.run_speech import run_speech
from mobilesdk.speech import align
from mobilesdk.speech.audio import overlap_add, read_wav
from mobilesdk.text import spans as py_spans
from mobilesdk.text.tokenizer import TextTokenizer
from tests.bridges import jvm
from tests.e2e.test_build_verify import cli
from tests.fixtures.junit import junit_errors
from tests.fixtures import device_bundle as shared

pytestmark = [pytest.mark.slow, pytest.mark.skipif(jvm.missing() is not None, reason=str(jvm.missing()))] + [
    pytest.mark.skipif(get(f).check() is not None, reason=str(get(f).check())) for f in ("executorch", "tflite")]
ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCOPE_GROUP = shared.GROUP
CORPUS, CLIPS = shared.CORPUS, shared.CLIPS
OBJECT = "DeviceTest"  # the bindings' name for the bundle
MAIN = "mobilesdk.harness.HarnessKt"
TEXT = "说实话 I really like 这个新功能 😊"


@pytest.fixture(scope="module")
def bundle(device_bundle) -> Path:
    return device_bundle.path


@pytest.fixture(scope="module")
def classes(bundle, tmp_path_factory) -> Path:
    sources = sorted((bundle / "android/src/main/kotlin/mobilesdk").glob("*.kt"))
    logic = [p for p in sources if p.name not in {q.name for q in (ROOT / "android_bridge/adapters").glob("*.kt")}]
    return jvm.compile_kotlin([*logic, HERE / "Harness.kt"], tmp_path_factory.mktemp("classes"))


def harness(classes, *args, check=True):
    return jvm.run(classes, MAIN, *args, check=check)


def model_cmd(classes, bundle, tmp, command, model, fmt, precision, *rest, check=True):
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    return harness(classes, command, OBJECT, model, fmt, precision, bundle, sys.executable, HERE / "device.py", work,
                   *rest, check=check)


def write_texts(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(t.encode("utf-8").hex() + "\n" for t in texts))
    return path


# --- the module and its upkeep ------------------------------------------------------------------
def test_build_writes_a_gradle_module_with_a_class_per_model(bundle):
    android = bundle / "android"
    gradle = (android / "build.gradle.kts").read_text()
    assets = [line.strip().strip('",') for line in gradle.split("listOf(", 1)[1].split(")", 1)[0].splitlines() if line.strip()]
    assert assets and all((bundle / a).is_file() for a in assets)
    manifest = json.loads((bundle / "manifest.json").read_text())
    device = {f for m in manifest["models"] for a in m["artifacts"] for f in a["files"] if a["format"] != "onnx"}
    assert device <= set(assets)
    generated = (android / f"src/main/kotlin/mobilesdk/{OBJECT}.kt").read_text()
    for model, kind in (("textclf", "TextClassifier"), ("enhancer", "Enhancer"), ("aligner", "Aligner")):
        assert f"fun {model}(engine: Engine, format: String = \"executorch\", precision: String = \"fp32\"): {kind}" in generated
    assert cli("verify", bundle, "--hashes-only").returncode == 0


def test_verify_catches_edited_bindings_and_the_bindings_command_restores_them(bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    tokenizer = copy / "android/src/main/kotlin/mobilesdk/Tokenizer.kt"
    tokenizer.write_text(tokenizer.read_text().replace("maxTokens", "maxTokens "))
    (copy / "android/extra.kt").write_text("// not generated\n")
    r = cli("verify", copy, "--hashes-only")
    assert r.returncode == 1
    assert "android/src/main/kotlin/mobilesdk/Tokenizer.kt` differs" in r.stderr and "android/extra.kt` is not a generated" in r.stderr
    r = cli("bindings", copy)
    assert r.returncode == 0 and "android" in r.stdout
    assert cli("verify", copy, "--hashes-only").returncode == 0
    shutil.rmtree(copy / "ios")
    r = cli("verify", copy, "--hashes-only")
    assert r.returncode == 1 and "`ios/` (the generated bindings) is missing. Fix: run `mobilesdk bindings" in r.stderr
    (copy / "models/textclf/vocab.txt").write_text("[PAD]\n")  # bindings made from a changed bundle would lie
    r = cli("bindings", copy)
    assert r.returncode == 2 and "does not match its manifest" in r.stderr and r.stderr.count("\n") == 1


# --- pre- and post-processing equal Python's ----------------------------------------------------
EDGE_CASES = [
    TEXT, "", "   ", "a", "ÀÉÎÕÜ ñ ç café naïve", "İstanbul ǅ ß ﬁ", "Hello\u00a0world\u3000你好\u2028x", "tab\there\nnew\rline",
    "zero\u200bwidth\u200d joiner 👩‍👩‍👧 and 🇲🇾 flags", "emoji😊😊😊 ❤️ ⭐", "x\x00y\x07z\ufffd", "[CLS] inside [SEP] text [MASK]",
    "Cyrillic Привет, Arabic مرحبا, Thai สวัสดี, Hangul 안녕", "数字123abc456 ２０２６年 ½ ² Ⅻ", "https://example.com/a?b=c#d",
    "#hashtag @mention $100 100% a+b=c", "supercalifragilisticexpialidocious" * 5, "🙂" * 300, "词" * 400,
    " ".join(["word"] * 300), "𠀀𠀁 𪚥 ext-B", "a\u0301e\u0300 combining", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
]


def corpus_texts(n: int) -> list[str]:
    lines = (CORPUS / "test.jsonl").read_text().splitlines() + (CORPUS / "train.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


def kotlin_tokenize(classes, bundle, tmp_path, texts):
    out = tmp_path / "tokens.npz"
    harness(classes, "tokenize", OBJECT, "textclf", bundle, write_texts(tmp_path / "texts.txt", texts), out)
    with np.load(out) as z:
        return [(z[f"ids_{i}"].tolist(), [tuple(o) for o in z[f"offsets_{i}"].tolist()], bool(z["truncated"][i]))
                for i in range(len(texts))]


def python_tokenize(bundle, texts):
    text = next(m for m in json.loads((bundle / "manifest.json").read_text())["models"] if m["name"] == "textclf")["text"]
    tok = TextTokenizer(bundle / text["tokenizer"])
    return [(e.ids, [tuple(o) for o in e.offsets], e.truncated) for e in (tok.encode(t, text["max_tokens"]) for t in texts)]


def test_tokenizer_gives_python_ids_offsets_and_truncation_on_1200_texts(classes, bundle, tmp_path):
    texts = corpus_texts(1200 - len(EDGE_CASES)) + EDGE_CASES
    kotlin, python = kotlin_tokenize(classes, bundle, tmp_path, texts), python_tokenize(bundle, texts)
    wrong = [(t, k, p) for t, k, p in zip(texts, kotlin, python) if k != p]
    assert not wrong, f"{len(wrong)} of {len(texts)} differ; first: {wrong[0]}"
    assert sum(p[2] for p in python) >= 3  # over-long inputs were cut, and Kotlin says so too
    assert any(1 in p[0] for p in python)  # unknown characters became [UNK]


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40), min_size=300, max_size=300))
def test_tokenizer_gives_python_ids_on_generated_unicode(classes, bundle, tmp_path_factory, texts):
    tmp = tmp_path_factory.mktemp("generated")
    kotlin, python = kotlin_tokenize(classes, bundle, tmp, texts), python_tokenize(bundle, texts)
    wrong = [(t, k, p) for t, k, p in zip(texts, kotlin, python) if k != p]
    assert not wrong, f"{len(wrong)} of {len(texts)} differ; first: {wrong[0]}"


def test_spans_equal_python_on_probabilities_and_logits(classes, bundle, tmp_path):
    texts = corpus_texts(300) + EDGE_CASES[:12]
    labels = ["zh", "en", "other"]
    rng = np.random.default_rng(0)
    arrays, expected = {}, []
    for i, (text, (ids, offsets, _)) in enumerate(zip(texts, python_tokenize(bundle, texts))):
        scores = rng.normal(0, 2, (len(ids), len(labels))).astype(np.float32)
        probs = py_spans.softmax(scores).astype(np.float32) if i % 2 else scores  # half probabilities, half logits
        arrays |= {f"offsets_{i}": np.asarray(offsets, np.int32).reshape(-1, 2), f"probs_{i}": probs}
        expected.append([(s.lang, s.start, s.end, s.confidence) for s in py_spans.spans(text, offsets, probs, labels)])
    np.savez(tmp_path / "spans.npz", **arrays)
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n")
    out = harness(classes, "spans", write_texts(tmp_path / "texts.txt", texts), tmp_path / "spans.npz", tmp_path / "labels.txt")
    lines = out.stdout.splitlines()
    assert len(lines) == len(texts)
    for text, line, want in zip(texts, lines, expected):
        got = [(p[0], int(p[1]), int(p[2]), float(p[3])) for p in (s.split(" ") for s in line.split(";") if s)]
        assert [g[:3] for g in got] == [w[:3] for w in want], text
        assert np.allclose([g[3] for g in got], [w[3] for w in want], atol=1.01e-4), text


def test_ctc_alignment_and_greedy_equal_python(classes, tmp_path):
    rng = np.random.default_rng(1)
    arrays, cases = {"blank": np.array([0], np.int32), "timing": np.array([320, 400], np.int32)}, []
    for i in range(60):
        frames, classes_n = int(rng.integers(1, 40)), int(rng.integers(2, 8))
        scores = (rng.normal(0, 3, (frames, classes_n)) * rng.choice([1.0, 0.1])).astype(np.float32)
        n = int(rng.integers(0, frames + 3))  # some need more frames than there are: an error on both sides
        targets = rng.integers(1, classes_n, n).astype(np.int32)
        if i % 5 == 0 and n > 1:
            targets[1] = targets[0]  # repeats need a blank between them
        arrays |= {f"scores_{i}": scores, f"targets_{i}": targets}
        cases.append((scores, targets))
    np.savez(tmp_path / "align.npz", **arrays)
    harness(classes, "align", tmp_path / "align.npz", tmp_path / "out.npz")
    timing = align.FrameTiming(320, 400, 16000)
    aligned = 0
    with np.load(tmp_path / "out.npz") as z:
        for i, (scores, targets) in enumerate(cases):
            lp = align.log_softmax(scores)
            assert z[f"greedy_{i}"].tolist() == align.greedy(lp, 0)
            if align.min_frames(targets.tolist()) > len(scores):
                assert f"error_{i}" in z.files
                continue
            segs = align.align(lp, targets.tolist(), timing, 0)
            assert z[f"segments_{i}"].reshape(-1, 2).tolist() == [[s.start_frame, s.end_frame] for s in segs]
            assert np.allclose(z[f"scores_{i}"], [s.score for s in segs], atol=1e-5)
            assert np.allclose(z[f"seconds_{i}"].reshape(-1, 2), np.reshape([[s.start_s, s.end_s] for s in segs], (-1, 2)), atol=1e-6)
            aligned += 1
    assert aligned >= 30


def test_overlap_add_equals_python(classes, tmp_path):
    rng = np.random.default_rng(2)
    for n, window, overlap in ((100, 64, 8), (64, 64, 8), (1000, 64, 32), (1001, 128, 0), (5, 64, 16), (4097, 1024, 128)):
        audio = rng.normal(0, 0.3, n).astype(np.float32)
        np.savez(tmp_path / "in.npz", audio=audio, window=np.array([window], np.int32), overlap=np.array([overlap], np.int32))
        harness(classes, "overlap", tmp_path / "in.npz", tmp_path / "out.npz")
        calls = []

        def scaled(chunk):
            calls.append(1)
            return chunk * len(calls)

        with np.load(tmp_path / "out.npz") as z:
            assert np.allclose(z["audio"], overlap_add(scaled, audio, window, overlap), atol=1e-6), (n, window, overlap)


# --- round trips through the real runtimes --------------------------------------------------------
@pytest.mark.parametrize("fmt", ["executorch", "tflite"])
def test_text_classifier_round_trip_equals_mobilesdk_run(classes, bundle, tmp_path, fmt):
    texts = [TEXT, "this is so bad lah 真的很糟糕 😡", "Saya suka sangat! " * 20, "ok"]
    out = model_cmd(classes, bundle, tmp_path, "classify", "textclf", fmt, "fp32", write_texts(tmp_path / "t.txt", texts))
    for text, line in zip(texts, out.stdout.splitlines()):
        got, want = json.loads(line), run_text(bundle, "textclf", text, fmt, "fp32")
        assert got["tokens"] == want.tokens and got["truncated"] == want.truncated
        for name, probs in want.classes.items():
            assert list(got["classes"][name]) == list(probs)
            assert np.allclose(list(got["classes"][name].values()), list(probs.values()), atol=6e-5)
        for name, spans in want.spans.items():
            assert [(s["lang"], s["start"], s["end"], s["text"]) for s in got["spans"][name]] == \
                [(s["lang"], s["start"], s["end"], s["text"]) for s in spans]
    assert json.loads(out.stdout.splitlines()[2])["truncated"]  # 100 words do not fit the tiny model's 64 tokens


@pytest.mark.parametrize("fmt", ["executorch", "tflite"])
def test_aligner_round_trip_equals_mobilesdk_run(classes, bundle, tmp_path, fmt):
    wav = CLIPS / "clean/en_1.wav"
    samples, _ = read_wav(wav)
    np.savez(tmp_path / "audio.npz", audio=samples.astype(np.float32))
    phonemes = "3 5 7 9 5"  # the tiny aligner's classes have no names: its ids serve
    out = model_cmd(classes, bundle, tmp_path, "recognise", "aligner", fmt, "fp32", tmp_path / "audio.npz", phonemes, "1")
    got = json.loads(out.stdout)
    want = run_speech(bundle, "aligner", wav, fmt, "fp32", phonemes=phonemes, given={"lang_id": "1"})[0]
    assert got["phonemes"] == want.phonemes and len(got["segments"]) == len(want.segments) == 5
    for (label, start, end, score), w in zip(got["segments"], want.segments):
        assert (label, round(start, 3), round(end, 3)) == (w["phoneme"], w["start_s"], w["end_s"])
        assert abs(score - w["score"]) < 1e-4


@pytest.mark.parametrize("fmt", ["executorch", "tflite"])
def test_enhancer_round_trip_equals_mobilesdk_run_on_long_audio(classes, bundle, tmp_path, fmt):
    samples = np.concatenate([read_wav(p)[0] for p in sorted((CLIPS / "noisy").glob("*.wav"))[:3]])
    np.savez(tmp_path / "audio.npz", audio=samples.astype(np.float32))
    model_cmd(classes, bundle, tmp_path, "enhance", "enhancer", fmt, "fp32", tmp_path / "audio.npz", tmp_path / "out.npz")
    wav = tmp_path / "long.wav"
    from mobilesdk.speech.audio import write_wav

    write_wav(wav, samples)
    want = run_speech(bundle, "enhancer", wav, fmt, "fp32", out=tmp_path / "py.wav")[0]
    assert want.chunks > 2  # several windows, cross-faded
    with np.load(tmp_path / "out.npz") as z:
        assert np.allclose(z["audio"], read_wav(tmp_path / "py.wav")[0], atol=2e-4)  # the WAV is 16-bit


@pytest.mark.parametrize("model,fmt", [(m, f) for m in ("textclf", "enhancer", "aligner") for f in ("executorch", "tflite")])
def test_self_test_passes_and_writes_the_outputs_it_got(classes, bundle, tmp_path, model, fmt):
    results = tmp_path / "results"
    out = model_cmd(classes, bundle, tmp_path, "selftest", model, fmt, "fp32", results)
    assert out.stdout.startswith(f"{model} {fmt}/fp32 on ") and ": pass" in out.stdout.splitlines()[0], out.stdout
    report = json.loads((results / "results.json").read_text())
    assert report["passed"] and report["model"] == model and report["format"] == fmt
    assert report["bundle"] == shared.NAME and report["manifest_sha256"] == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    manifest = json.loads((bundle / "manifest.json").read_text())
    entry = next(m for m in manifest["models"] if m["name"] == model)
    assert report["cases"] == [g["name"] for g in entry["golden"]]
    for case in entry["golden"]:
        _, expected, _, _ = load_golden(bundle / case["path"])
        with np.load(results / f"{case['name']}.npz") as z:
            assert set(z.files) == {f"output.{k}" for k in expected}
            for k, v in expected.items():
                assert z[f"output.{k}"].shape == v.shape


def test_self_test_fails_when_the_artifact_disagrees_with_pytorch(classes, bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    case = next(m for m in json.loads((copy / "manifest.json").read_text())["models"] if m["name"] == "enhancer")["golden"][0]
    with np.load(copy / case["path"]) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["output.enhanced"] = arrays["output.enhanced"] * 1.05  # PyTorch "said" something else: 20 log10(1.05 / 0.05) dB away
    np.savez(copy / case["path"], **arrays)
    out = model_cmd(classes, copy, tmp_path, "selftest", "enhancer", "executorch", "fp32", tmp_path / "results")
    assert ": FAIL" in out.stdout.splitlines()[0] and "enhanced: SQNR 26.4 dB (min 60.0)" in out.stdout, out.stdout
    assert json.loads((tmp_path / "results/results.json").read_text())["passed"] is False


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("command,model,args,message", [
    ("classify", "textclf", ["texts:   "], "the text is empty. Fix:"),
    ("recognise", "aligner", ["audio:100", "3 5", "1"], "the audio has 100 samples; model `aligner` needs at least"),
    ("recognise", "aligner", ["audio:16000", "3 zz", "1"], "phoneme `zz` is not one model `aligner` knows. Fix:"),
    ("recognise", "aligner", ["audio:16000", "3 5"], "model `aligner` needs input `lang_id`. Fix:"),
    ("recognise", "aligner", ["audio:16000", "3 5", "9"], "input `lang_id` = 9 is outside 0..2. Fix:"),
    ("recognise", "aligner", ["audio:2000", " ".join(["3", "5"] * 40), "1"], "phonemes need at least 80 frames"),
    ("enhance", "enhancer", ["audio:10", "out"], "the audio has 10 samples; model `enhancer` needs at least"),
    ("run", "enhancer", ["inputs:waveform=3x512", "out"], "input `waveform` has shape [3, 512]"),
    ("run", "enhancer", ["inputs:waveform=1x1x1000", "out"], "`samples` is 1000; model `enhancer` takes 1024..16384, a multiple of 16"),
    ("run", "textclf", ["inputs:input_ids=1x8:float,attention_mask=1x8", "out"], "input `input_ids` holds floats"),
])
def test_bad_input_is_a_typed_error_naming_the_fix(classes, bundle, tmp_path, command, model, args, message):
    rest = []
    for a in args:
        kind, _, value = a.partition(":")
        if kind == "texts":
            rest.append(write_texts(tmp_path / "t.txt", [value]))
        elif kind == "audio":
            np.savez(tmp_path / "a.npz", audio=np.zeros(int(value), np.float32))
            rest.append(tmp_path / "a.npz")
        elif kind == "inputs":
            arrays = {}
            for spec in value.split(","):
                name, _, shape = spec.partition("=")
                dims, _, dtype = shape.partition(":")
                arrays[name] = np.ones([int(d) for d in dims.split("x")], np.float32 if dtype or name == "waveform" else np.int32)
            np.savez(tmp_path / "i.npz", **arrays)
            rest.append(tmp_path / "i.npz")
        else:
            rest.append(tmp_path / a if kind == "out" else a)
    r = model_cmd(classes, bundle, tmp_path, command, model, "executorch", "fp32", *rest, check=False)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.startswith("MobileSdkException: ") and message in r.stdout and "Fix:" in r.stdout, r.stdout


def test_asking_for_an_artifact_the_bundle_lacks_lists_the_ones_it_has(classes, bundle, tmp_path):
    r = model_cmd(classes, bundle, tmp_path, "selftest", "textclf", "coreml", "fp32", tmp_path / "r", check=False)
    assert r.returncode == 3
    assert "no artifact coreml/fp32" in r.stdout and "Fix: pick one of executorch/fp32, tflite/fp32" in r.stdout


# --- the device adapters ----------------------------------------------------------------------
def readme_example(readme: Path, language: str) -> str:
    """A README's usage example in `language` (its first ```kotlin or ```swift block)."""
    return readme.read_text().split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_adapters_and_the_readme_examples_compile_against_the_runtimes_signature_stubs(bundle, tmp_path):
    stubs = jvm.compile_java(sorted((HERE / "stubs").rglob("*.java")), tmp_path / "stubs")
    sources = sorted((bundle / "android/src/main/kotlin/mobilesdk").glob("*.kt"))
    examples = []
    for i, readme in enumerate((ROOT / "README.md", bundle / "android/README.md")):  # the project's and the module's
        body = readme_example(readme, "kotlin").replace("MobilesdkDemo", OBJECT)
        examples.append(tmp_path / f"Example{i}.kt")
        examples[-1].write_text(f"import mobilesdk.*\n\nfun example{i}(context: android.content.Context, pcm16k: FloatArray) {{\n{body}}}\n")
    jvm.compile_kotlin([*sources, *examples], tmp_path / "classes", classpath=[stubs])


# --- device results read back -----------------------------------------------------------------------
def test_check_judges_what_the_self_test_wrote_and_catches_a_degraded_device(classes, bundle, tmp_path):
    results = tmp_path / "device"
    for model, fmt in (("textclf", "tflite"), ("aligner", "executorch")):
        model_cmd(classes, bundle, tmp_path, "selftest", model, fmt, "fp32", results / f"{model}-{fmt}")
    r = cli("check", bundle, results)
    assert r.returncode == 0, r.stderr
    assert "textclf/tflite/fp32" in r.stdout and "aligner/executorch/fp32" in r.stdout and "2 device results pass" in r.stdout

    case = next(results.glob("aligner-executorch/*.npz"))  # a device whose runtime drifts: outputs 5% off
    with np.load(case) as z:
        arrays = {k: z[k] * 1.05 for k in z.files}
    np.savez(case, **arrays)
    r = cli("check", bundle, results, "--junit", tmp_path / "check.xml")
    assert r.returncode == 1 and "1 of 2 device results FAIL parity: aligner/executorch/fp32" in r.stderr
    assert junit_errors(tmp_path / "check.xml") == []
    failed = {(c.get("classname"), c.get("name")) for c in ElementTree.parse(tmp_path / "check.xml").getroot().iter("testcase")
              if c.find("failure") is not None}
    assert ("aligner.executorch.fp32", "parity log_probs") in failed and all(c == "aligner.executorch.fp32" for c, _ in failed)

    meta = json.loads((results / "textclf-tflite/results.json").read_text())
    (results / "textclf-tflite/results.json").write_text(json.dumps(meta | {"manifest_sha256": "0" * 64}))
    r = cli("check", bundle, results / "textclf-tflite")
    assert r.returncode == 2 and "made with bindings of another bundle" in r.stderr and r.stderr.count("\n") == 1
    next((results / "aligner-executorch").glob("*.npz")).unlink()
    r = cli("check", bundle, results / "aligner-executorch")
    assert r.returncode == 2 and "the self-test wrote no outputs for golden case" in r.stderr
    assert cli("check", bundle, tmp_path / "nothing").returncode == 2
