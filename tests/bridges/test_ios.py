"""The generated iOS bindings: a Swift package, checked as far as this machine can.

No Swift compiler exists here (Linux, no Xcode), so the strongest checks are: every generated Swift
file parses with tree-sitter-swift without an error node (and a broken file does not); the Swift
public surface mirrors the Kotlin one that tests/bridges/test_android.py runs on the JVM; the
generated model file carries the manifest's Core ML artifacts and thresholds. Where `swift` is on
PATH (macOS, or a Linux Swift toolchain), `swift build` and `swift test` run the package's own
tests; elsewhere that test is skipped and says so.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from converters.base import get
from tests.e2e.test_build_verify import cli

tree_sitter = pytest.importorskip("tree_sitter", reason="tree-sitter is not installed: run `make setup`")
tree_sitter_swift = pytest.importorskip("tree_sitter_swift", reason="tree-sitter-swift is not installed: run `make setup`")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(get("coreml").check() is not None, reason=str(get("coreml").check()))]
ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "examples/clips"
CONFIG = f"""
[bundle]
name = "ios-test"
formats = ["coreml", "coreai"]
precisions = ["fp32", "int8-weights"]

[models.textclf]
family = "textclf"
tokenizer = "{ROOT / 'examples/models/textclf/tokenizer.json'}"
sentences = "{ROOT / 'examples/train/data/textclf/test.jsonl'}"
preset = "small"
checkpoint = "{ROOT / 'examples/models/textclf/model.safetensors'}"

[models.aligner]
family = "aligner"
preset = "tiny"
audio = "{CLIPS / 'clean'}"

[models.enhancer]
family = "enhancer"
preset = "tiny"
audio = "{CLIPS / 'noisy'}"
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ios")
    (tmp / "bundle.toml").write_text(CONFIG)
    r = cli("build", tmp / "bundle.toml", "--out", tmp / "bundle", "--no-cache")
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "bundle"


def errors(source: bytes) -> list[str]:
    """Syntax errors tree-sitter-swift finds: ERROR and MISSING nodes, with line and text."""
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
    found = []

    def walk(node):
        if node.type == "ERROR" or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type} {source[node.start_byte:node.end_byte][:60]!r}")
            return
        for child in node.children:
            walk(child)

    walk(parser.parse(source).root_node)
    return found


def test_every_generated_swift_file_parses(bundle):
    files = sorted((bundle / "ios").rglob("*.swift"))
    names = {f.name for f in files}
    assert {"Package.swift", "Tokenizer.swift", "Models.swift", "SelfTest.swift", "CoreMLEngine.swift", "CoreAIEngine.swift", "IosTest.swift",
            "GoldenTests.swift"} <= names and (bundle / "ios/README.md").is_file()
    for f in files:
        assert not errors(f.read_bytes()), f"{f.name}: {errors(f.read_bytes())[:3]}"


def test_the_readme_examples_parse(bundle):
    for readme in (ROOT / "README.md", bundle / "ios/README.md"):  # the project's and the package's
        body = readme.read_text().split("```swift\n", 1)[1].split("```", 1)[0]
        assert not errors(f"func example(pcm16k: [Float]) throws {{\n{body}}}\n".encode()), readme


def test_the_parse_check_finds_a_broken_file(bundle):
    source = (bundle / "ios/Sources/MobileSDK/Models.swift").read_bytes()
    assert errors(source.replace(b"public func classify(_ text: String) throws -> TextResult {",
                                 b"public func classify(_ text: String) throws -> TextResult {{ let = "))


def public_surface(text: str, language: str) -> set[str]:
    """Type names and `Type.method` names a language's sources declare (private ones left out)."""
    out, current = set(), None
    for line in text.splitlines():
        if re.match(r"\s*(private|fileprivate)\b", line):
            continue
        t = re.match(r"\s*(?:public |open |final |sealed |abstract |data )*(?:class|struct|enum|object|interface|protocol) (\w+)", line)
        if t and not line.startswith((" " * 8, "\t\t")):
            current = t.group(1)
            out.add(current)
        f = re.match(r"\s*(?:public |override |open |static |internal )*fun(?:c)? (\w+)", line)
        if f and current:
            out.add(f"{current}.{f.group(1)}")
    return out


def test_swift_offers_what_the_kotlin_offers(bundle):
    kotlin = "\n".join(p.read_text() for p in sorted((bundle / "android/src/main/kotlin/mobilesdk").glob("*.kt")))
    swift = "\n".join(p.read_text() for p in sorted((bundle / "ios/Sources/MobileSDK").glob("*.swift")))
    api = {"TextClassifier", "TextClassifier.classify", "Aligner", "Aligner.recognise", "Enhancer", "Enhancer.enhance",
           "GenericModel", "GenericModel.run", "GenericModel.category", "WordPieceTokenizer", "WordPieceTokenizer.encode",
           "Spans", "Spans.spans", "Ctc", "Ctc.align", "Ctc.greedy", "Ctc.viterbi", "Chunks", "Chunks.overlapAdd",
           "SelfTest", "SelfTest.run", "ModelInfo", "ModelInfo.artifact", "ModelInfo.lengths", "Npy", "Npy.readNpz",
           "Npy.writeNpz", "IosTest"}
    assert api <= public_surface(swift, "swift"), sorted(api - public_surface(swift, "swift"))
    assert api - {"IosTest"} <= public_surface(kotlin, "kotlin"), sorted(api - {"IosTest"} - public_surface(kotlin, "kotlin"))


def test_the_generated_models_carry_the_manifests_apple_artifacts(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    generated = (bundle / "ios/Sources/MobileSDK/IosTest.swift").read_text()
    assert {a["format"] for m in manifest["models"] for a in m["artifacts"]} == {"coreml", "coreai"}
    for model in manifest["models"]:
        for a in model["artifacts"]:
            assert f'ArtifactInfo(format: "{a["format"]}", precision: "{a["precision"]}", files: ["{a["files"][0]}"]' in generated
            line = generated.split(f'files: ["{a["files"][0]}"]')[1].split("\n")[1]
            # a Core AI artifact names the function CoreAIEngine loads, as the manifest recorded it
            assert ("function: " in line) == (a["format"] == "coreai"), line
            assert a["format"] != "coreai" or f'function: "{a["meta"]["function"]}")' in line, line
            for p in a["parity"]:
                assert f'"{p["output"]}": Threshold({float(p["min_sqnr_db"])!r}, {float(p["min_agreement"])!r}' in generated
    for name, kind in (("textclf", "TextClassifier"), ("aligner", "Aligner"), ("enhancer", "Enhancer")):
        assert f'public static func {name}(_ engine: Engine, format: String = "coreml", precision: String = "fp32") throws -> {kind}' in generated
    assert '.split("[\\\\p{So}\\\\p{Sk}]", isolated: true)' in generated  # the trained tokenizer's emoji stage


@pytest.mark.skipif(shutil.which("swift") is None, reason="no Swift toolchain on PATH: the Swift package was parsed with "
                    "tree-sitter, not compiled; `swift build` and `swift test` run where Swift is installed")
def test_swift_package_builds_and_its_tests_pass(bundle):
    for step in (["swift", "build"], ["swift", "test"]):
        r = subprocess.run(step, cwd=bundle / "ios", capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(step)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
