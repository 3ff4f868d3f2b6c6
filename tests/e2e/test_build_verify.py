"""The front door end to end: build a tiny bundle through the CLI, verify it, tamper with it."""
import json
import shutil
import subprocess
import sys

import pytest

from converters.base import get
from mobilesdk.pipeline.bundle import load_golden

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(get("executorch").check() is not None, reason=str(get("executorch").check()))]

# ExecuTorch lowering takes one to four minutes per precision on 2 cores, so the suite builds two
# models at a time (-j 2) and the enhancer's int8 variants (`make demo` builds more; the matrix has every cell). textclf's tiny
# int8-static is marginal (20.9 dB parity, shape sweep 17 dB with 4 calibration batches): left out.
CONFIG = """
[bundle]
name = "e2e"
formats = ["executorch"]
precisions = ["fp32"]
calibration_batches = 4

[models.enhancer]
family = "enhancer"
precisions = ["fp32", "int8-dynamic", "int8-static"]

[models.aligner]
family = "aligner"

[models.textclf]
family = "textclf"
"""
PRECISIONS = {"enhancer": ["fp32", "int8-dynamic", "int8-static"], "aligner": ["fp32"],
              "textclf": ["fp32"]}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mobilesdk.cli", *map(str, args)], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    (tmp / "bundle.toml").write_text(CONFIG)
    r = cli("build", tmp / "bundle.toml", "--out", tmp / "bundle", "-j", "2", env={**__import__("os").environ, "MOBILESDK_CACHE": str(tmp / "cache")})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "convert/enhancer/executorch/int8-static" in r.stderr  # progress lines name the steps
    return tmp / "bundle"


def test_every_model_has_every_precision_and_passes(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["passed"] is True
    assert [x["name"] for x in m["models"]] == ["enhancer", "aligner", "textclf"]
    for model in m["models"]:
        assert [(a["format"], a["precision"]) for a in model["artifacts"]] == [
            ("executorch", p) for p in PRECISIONS[model["name"]]
        ]
        for a in model["artifacts"]:
            assert a["passed"] and a["runtime"] == "executorch.runtime"
            assert len(a["cases"]) == 4  # parity ran at main, odd, min and max lengths
            assert {p["output"] for p in a["parity"]} == {o["name"] for o in model["outputs"]}
            assert {c["check"] for c in a["semantics"]} == {
                "pad_length", "pad_content", "edge_rows", "batch_independence", "shape_sweep"}
        assert all(c["passed"] for c in model["semantics"])
    listed = {f["path"] for f in m["files"]}
    assert "report.md" in listed and "golden/aligner/odd.npz" in listed
    assert "| executorch | int8-static |" in (bundle / "report.md").read_text()


def test_each_int8_artifact_records_its_size_against_its_floor(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    sizes = {f["path"]: f["size"] for f in m["files"]}
    enhancer = next(x for x in m["models"] if x["name"] == "enhancer")
    for a in enhancer["artifacts"]:
        if a["precision"] == "fp32":
            assert "floor_bytes" not in a["meta"]
            continue
        floor, size = a["meta"]["floor_bytes"], sizes[a["path"]]
        assert 0 < floor < size and a["meta"]["floor_ratio"] == round(size / floor, 3)
    # static int8 stores the enhancer's weights as int8, so it sits far closer to its floor than fp32 does
    by = {a["precision"]: a for a in enhancer["artifacts"]}
    static = by["int8-static"]["meta"]
    assert static["floor_ratio"] < 0.6 * sizes[by["fp32"]["path"]] / static["floor_bytes"]
    assert "| executorch | int8-static |" in (bundle / "report.md").read_text().split("against their floor")[1]


def test_verify_accepts_the_untouched_bundle(bundle):
    r = cli("verify", bundle)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


@pytest.mark.parametrize("victim", ["models/textclf/executorch/fp32/model.pte", "golden/aligner/main.npz", "models/enhancer/spec.json"])
def test_verify_names_a_flipped_byte(bundle, tmp_path, victim):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / victim).write_bytes(bytes(data))
    r = cli("verify", copy)
    assert r.returncode == 1
    assert f"`{victim}` does not match its sha256" in r.stderr


def test_verify_names_missing_and_extra_files(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    (copy / "models/enhancer/executorch/int8-dynamic/model.pte").unlink()
    (copy / "models/aligner/notes.txt").write_text("hi")
    r = cli("verify", copy)
    assert r.returncode == 1
    assert "`models/enhancer/executorch/int8-dynamic/model.pte` is missing" in r.stderr
    assert "`models/aligner/notes.txt` is not listed" in r.stderr


def test_verify_rejects_a_damaged_manifest(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    data = json.loads((copy / "manifest.json").read_text())
    del data["models"][0]["artifacts"]
    (copy / "manifest.json").write_text(json.dumps(data))
    r = cli("verify", copy)
    assert r.returncode == 2 and "does not match the manifest schema" in r.stderr and "Traceback" not in r.stderr
    r = cli("verify", tmp_path / "nothing")
    assert r.returncode == 2 and "is not a bundle" in r.stderr


def test_parity_fails_for_an_artifact_of_a_perturbed_model(bundle, tmp_path):
    """A .pte whose weights differ slightly from the PyTorch model must fail its parity rows."""
    import torch

    from converters.base import BuildContext
    from mobilesdk.capture import capture
    from mobilesdk.models import build_model
    from mobilesdk.pipeline.check import ReferenceCase, evaluate

    module, spec = build_model("textclf", "tiny", name="textclf")
    golden = [ReferenceCase(c, *load_golden(bundle / f"golden/textclf/{c}.npz")) for c in ("main", "odd")]
    conv = get("executorch")
    ctx = BuildContext("textclf", spec, golden[0][1])
    good = conv.convert(capture(module, spec, golden[0][1]), ctx, "fp32", _mkdir(tmp_path / "good"))
    assert all(r.passed for r in evaluate(conv.runner(good, ctx.spec), spec, "fp32", golden))
    with torch.no_grad():
        p = next(p for n, p in module.named_parameters() if p.dim() == 2)
        p.mul_(1.01)  # a 1% weight change: outputs drift well below 60 dB SQNR
    bad = conv.convert(capture(module, spec, golden[0][1]), ctx, "fp32", _mkdir(tmp_path / "bad"))
    rows = evaluate(conv.runner(bad, ctx.spec), spec, "fp32", golden)
    assert not all(r.passed for r in rows)
    assert min(r.sqnr_db for r in rows) < 60


def test_a_failing_build_keeps_the_previous_bundle(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    before = (copy / "manifest.json").read_bytes()
    (tmp_path / "broken.py").write_text("def make():\n    raise RuntimeError('weights not found')\n")
    (tmp_path / "bad.toml").write_text(
        "[bundle]\nformats = ['coreml']\nprecisions = ['fp32']\n"
        "[models.fine]\nfamily = 'textclf'\n[models.x]\nfactory = 'broken:make'\n")
    r = cli("build", tmp_path / "bad.toml", "--out", copy, "-j", "2", "--no-cache", cwd=tmp_path)  # error crosses a process
    assert r.returncode == 2 and "factory `broken:make` raised RuntimeError: weights not found" in r.stderr
    assert "Traceback" not in r.stderr
    assert (copy / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _mkdir(p):
    p.mkdir(parents=True)
    return p


def test_a_model_that_fails_the_mask_suite_fails_the_build(tmp_path):
    """Exit code 1, the bundle is still written, and the report says which check failed."""
    (tmp_path / "bad.toml").write_text(
        "[bundle]\nprecisions = ['fp32']\n[models.leaky]\nfactory = 'tests.fixtures.masked_models:leaky_pool'\n")
    r = cli("build", tmp_path / "bad.toml", "--out", tmp_path / "out", "--no-cache")
    assert r.returncode == 1 and "leaky/executorch/fp32" in r.stderr
    m = json.loads((tmp_path / "out/manifest.json").read_text())
    art = m["models"][0]["artifacts"][0]
    assert m["passed"] is False and not art["passed"]
    assert all(p["passed"] for p in art["parity"])  # the artifact computes what PyTorch computes ...
    failed = {c["check"] for c in art["semantics"] if not c["passed"]}
    assert failed == {"pad_length", "pad_content"}  # ... but padding leaks into the pooled output
    report = (tmp_path / "out/report.md").read_text()
    assert "pad_length failed" in report
    assert "PyTorch itself fails pad_length, pad_content" in report and "not the conversion" in report


def test_a_stock_hugging_face_bert_builds_through_a_factory_and_passes(tmp_path):
    pytest.importorskip("transformers")
    (tmp_path / "bert.toml").write_text(
        "[bundle]\nprecisions = ['fp32']\n[models.bert]\nfactory = 'tests.fixtures.masked_models:tiny_bert'\n")
    r = cli("build", tmp_path / "bert.toml", "--out", tmp_path / "out", "--no-cache")
    assert r.returncode == 0, r.stderr[-2000:]
    model = json.loads((tmp_path / "out/manifest.json").read_text())["models"][0]
    assert model["source"] == "factory:tests.fixtures.masked_models:tiny_bert"
    art = model["artifacts"][0]
    assert art["passed"] and len(art["semantics"]) == 5 and all(c["passed"] for c in art["semantics"])


def test_the_huggingface_example_prints_its_spec_and_builds_with_an_adjusted_one(tmp_path):
    """examples/huggingface: the script saves a tiny BERT, `mobilesdk spec` prints the derived spec as
    TOML, and that TOML pasted back into the config with one field changed is what the build uses."""
    import tomllib
    from pathlib import Path

    pytest.importorskip("transformers")
    example = Path(__file__).resolve().parents[2] / "examples" / "huggingface"
    r = subprocess.run([sys.executable, str(example / "make_tiny_bert.py"), str(tmp_path / "tiny-bert")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    config = (example / "bundle.toml").read_text().replace('formats = ["executorch", "tflite", "coreml"]',
                                                           'formats = ["onnx", "tflite"]')
    (tmp_path / "bundle.toml").write_text(config)
    r = cli("spec", tmp_path / "bundle.toml")
    assert r.returncode == 0, r.stderr[-2000:]
    spec = tomllib.loads(r.stdout)["models"]["sentiment"]["spec"]
    assert [t["name"] for t in spec["inputs"]] == ["input_ids", "attention_mask"]
    assert spec["outputs"][0]["metric"] == "top1" and spec["outputs"][0]["shape"] == ["batch", 3]
    assert next(d for d in spec["dims"] if d["name"] == "tokens")["max"] == 64  # max_length in the example
    dims = [{**d, "max": 48} if d["name"] == "tokens" else d for d in spec["dims"]]
    rows = ", ".join("{ " + ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in d.items()) + " }" for d in dims)
    (tmp_path / "bundle.toml").write_text(config + f"\n[models.sentiment.spec]\ndims = [{rows}]\n")
    r = cli("build", tmp_path / "bundle.toml", "--out", tmp_path / "out", "--no-cache")
    assert r.returncode == 0, r.stderr[-2000:]
    model = json.loads((tmp_path / "out/manifest.json").read_text())["models"][0]
    assert model["source"] == "huggingface:tiny-bert:sequence-classification"
    assert next(d for d in model["dims"] if d["name"] == "tokens")["max"] == 48
    assert all(a["passed"] for a in model["artifacts"])
    tflite = [a for a in model["artifacts"] if a["format"] == "tflite"]
    assert [a["precision"] for a in tflite] == ["fp32", "fp16", "int8-dynamic"]
    for a in tflite:  # route = "auto": litert-torch converted and passed parity, so onnx2tf never ran
        assert a["meta"]["route"] == "litert-torch" and a["meta"]["routes_tried"] == "none before it"
        assert a["files"] == [f"models/sentiment/tflite/{a['precision']}/model.tflite"]
    assert "| tflite via litert-torch | fp16 |" in (tmp_path / "out/report.md").read_text()
