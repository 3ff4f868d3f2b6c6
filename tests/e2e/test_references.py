"""User references and CI outputs (issue 16): a tiny bundle built with a reference folder of two
cases, one whose outputs are PyTorch's and one whose outputs disagree, which must fail the build
and be named in the report, the manifest, the JUnit file (validated against Jenkins' junit-10.xsd),
the JSON summary and the GitHub annotations."""
from __future__ import annotations

import json
import os
from xml.etree import ElementTree
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.e2e.test_build_verify import cli
from tests.fixtures import masked_models
from tests.fixtures.junit import junit_errors

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[bundle]
name = "refs"
formats = ["executorch"]
precisions = ["fp32"]

[models.good]
factory = "tests.fixtures.masked_models:good"
reference = "refs/good"
"""


def reference_case(tokens: int, valid: list[int], seed: int) -> tuple[dict, dict]:
    """A batch the way a user would save it from their own PyTorch run: inputs and the model's outputs."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, masked_models.VOCAB, size=(len(valid), tokens)).astype(np.int32)
    mask = (np.arange(tokens)[None, :] < np.array(valid)[:, None]).astype(np.int32)
    ids *= mask
    module, _ = masked_models.good()
    with torch.no_grad():
        logits, tags = module.eval()(torch.from_numpy(ids), torch.from_numpy(mask))
    return {"input_ids": ids, "attention_mask": mask}, {"logits": logits.numpy(), "tags": tags.numpy()}


def save(path: Path, inputs: dict, outputs: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"input.{k}": v for k, v in inputs.items()}, **{f"output.{k}": v for k, v in outputs.items()})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refs")
    inputs, outputs = reference_case(11, [11, 7, 3], seed=1)
    save(tmp / "refs/good/mine.npz", inputs, outputs)
    inputs, outputs = reference_case(9, [9, 4], seed=2)
    save(tmp / "refs/good/wrong.npz", inputs, {"logits": -outputs["logits"]})  # disagrees; tags not given
    (tmp / "bundle.toml").write_text(CONFIG)
    r = cli("build", tmp / "bundle.toml", "--out", tmp / "bundle", "--junit", tmp / "build.xml", "--json", tmp / "build.json",
            cwd=ROOT, env={**os.environ, "GITHUB_ACTIONS": "true", "MOBILESDK_CACHE": str(tmp / "cache")})
    return tmp, r


def test_a_disagreeing_reference_fails_the_build_and_is_named(built):
    tmp, r = built
    assert r.returncode == 1, r.stderr[-2000:]
    assert "good/executorch/fp32  below threshold against the reference outputs: logits" in r.stderr
    assert "1 cell(s) FAILED" in r.stderr
    m = json.loads((tmp / "bundle/manifest.json").read_text())
    model = m["models"][0]
    golden = {c["name"]: c["expected"] for c in model["golden"]}
    assert golden["ref-mine"] == ["logits", "tags"] and golden["ref-wrong"] == ["logits"]
    assert golden["main"] == []
    a = model["artifacts"][0]
    assert all(p["passed"] for p in a["parity"])  # the artifact computes what PyTorch computes ...
    given = {p["output"]: p for p in a["reference_parity"]}
    assert not given["logits"]["passed"] and given["logits"]["sqnr_db"] < 0  # ... which is not the negated reference
    assert given["tags"]["passed"] and given["tags"]["sqnr_db"] > 60  # tags were given by `mine` only, and agree
    assert "below threshold against the reference outputs: logits" in a["note"]
    torch_rows = {p["output"]: p["passed"] for p in model["reference_parity"]}
    assert torch_rows == {"logits": False, "tags": True}  # PyTorch itself does not compute `wrong`
    report = (tmp / "bundle/report.md").read_text()
    assert "logits vs your reference" in report and "does not compute your reference outputs" in report


def test_the_ci_files_name_the_failure_and_the_junit_validates(built):
    tmp, r = built
    assert junit_errors(tmp / "build.xml") == []
    cases = ElementTree.parse(tmp / "build.xml").getroot().findall("testcase")
    failed = [(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None]
    assert failed == [("good.executorch.fp32", "reference logits")]
    assert {c.get("name") for c in cases} >= {"parity logits", "parity tags", "reference tags", "mask-suite pad_length"}
    summary = json.loads((tmp / "build.json").read_text())
    assert summary["passed"] is False and summary["counts"]["fail"] == 1
    assert [(f["group"], f["name"]) for f in summary["failures"]] == [("good.executorch.fp32", "reference logits")]
    assert "SQNR" in summary["failures"][0]["message"]
    assert summary["counts"]["pass"] >= 3  # parity logits, parity tags, reference tags, mask-suite rows
    annotations = [line for line in r.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1 and "good.executorch.fp32 reference logits::SQNR" in annotations[0]


def test_a_broken_junit_file_fails_the_schema(tmp_path):
    """The schema check can fail: a testsuite without its required counts does."""
    (tmp_path / "bad.xml").write_text('<testsuite name="x"><testcase name="a"/></testsuite>')
    assert junit_errors(tmp_path / "bad.xml")


def test_verify_judges_the_references_kept_in_the_bundle(built):
    tmp, _ = built
    r = cli("verify", tmp / "bundle", "--junit", tmp / "verify.xml")
    assert r.returncode == 1
    assert "good/executorch/fp32" in r.stderr and "logits against the reference outputs" in r.stderr
    assert junit_errors(tmp / "verify.xml") == []


def test_verify_reference_judges_a_bundle_against_new_outputs(built, tmp_path):
    tmp, _ = built
    inputs, outputs = reference_case(13, [13, 2], seed=3)
    save(tmp_path / "ok/good/a.npz", inputs, outputs)
    save(tmp_path / "bad/good/a.npz", inputs, {"tags": outputs["tags"] + 1.0})
    ok = cli("verify", tmp / "bundle", "--reference", tmp_path / "ok", "--json", tmp_path / "ok.json")
    bad = cli("verify", tmp / "bundle", "--reference", tmp_path / "bad", "--json", tmp_path / "bad.json")
    failed = lambda p: {(f["group"], f["name"]) for f in json.loads(p.read_text())["failures"]}  # noqa: E731
    assert failed(tmp_path / "ok.json") == {("good.executorch.fp32", "reference logits")}  # the bundle's own `wrong`
    assert failed(tmp_path / "bad.json") == {("good.executorch.fp32", "reference logits"), ("good.executorch.fp32", "reference tags")}
    assert "1 reference cases of" in ok.stdout and ok.returncode == bad.returncode == 1


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.pop("input.attention_mask"), "has no `input.attention_mask`"),
    (lambda a: a.update({"input.input_ids": a["input.input_ids"].astype(np.int64)}), "is int64; the spec says int32"),
    (lambda a: a.update({"input.input_ids": a["input.input_ids"][:, :1]}), "needs `tokens` in [2, 24]"),
    (lambda a: a.update({"input.attention_mask": a["input.attention_mask"][:, :5]}), "needs `tokens` of 13 as in the other inputs"),
    (lambda a: a.update({"output.logits": np.full_like(a["output.logits"], np.nan)}), "holds NaN or inf"),
    (lambda a: a.update({"output.logits": a["output.logits"][:1]}), "for these inputs good gives (2, 3)"),
    (lambda a: a.update({"output.probs": a["output.logits"]}), "has `output.probs`, which good does not give"),
    (lambda a: a.update({"input.input_ids": a["input.input_ids"] + 100}), "outside [0, 50)"),
])
def test_a_bad_reference_file_is_one_line_exit_2(built, tmp_path, edit, message):
    tmp, _ = built
    inputs, outputs = reference_case(13, [13, 2], seed=3)
    arrays = {f"input.{k}": v for k, v in inputs.items()} | {f"output.{k}": v for k, v in outputs.items()}
    edit(arrays)
    (tmp_path / "refs/good").mkdir(parents=True)
    np.savez(tmp_path / "refs/good/a.npz", **arrays)
    r = cli("verify", tmp / "bundle", "--reference", tmp_path / "refs", "--junit", tmp_path / "v.xml")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "a.npz" in r.stderr and "Fix:" in r.stderr
    assert not (tmp_path / "v.xml").exists()


def test_a_reference_folder_without_model_folders_is_exit_2(built, tmp_path):
    tmp, _ = built
    r = cli("verify", tmp / "bundle", "--reference", tmp_path)
    assert r.returncode == 2 and "no subfolder named after a model of this bundle (good)" in r.stderr
