"""`mobilesdk compare OLD NEW` on the shared device bundle (tests/fixtures/device_bundle.py) and
copies of it whose manifests say one artifact got worse and another is gone."""
from __future__ import annotations

import json
import shutil
from xml.etree import ElementTree
from pathlib import Path

import pytest

from tests.e2e.test_build_verify import cli
from tests.fixtures.junit import junit_errors
from tests.fixtures import device_bundle as shared

pytestmark = pytest.mark.slow
SCOPE_GROUP = shared.GROUP


def changed(device_bundle, tmp_path, edit) -> Path:
    new = tmp_path / "new"
    shutil.copytree(device_bundle.path, new)
    m = json.loads((new / "manifest.json").read_text())
    edit(m)
    (new / "manifest.json").write_text(json.dumps(m, indent=2))
    return new


def artifact(m: dict, model: str, fmt: str) -> dict:
    return next(a for x in m["models"] if x["name"] == model for a in x["artifacts"] if a["format"] == fmt)


def test_the_same_bundle_has_no_regressions(device_bundle):
    r = cli("compare", device_bundle.path, device_bundle.path)
    assert r.returncode == 0 and "no regressions in 6 cells" in r.stdout
    assert "textclf/tflite/fp32" in r.stdout and "lid: SQNR" in r.stdout and "mask suite:" in r.stdout


def test_a_worse_artifact_and_a_missing_cell_regress_and_are_named(device_bundle, tmp_path):
    def degrade(m):
        a = artifact(m, "aligner", "tflite")
        a["parity"][0]["sqnr_db"] -= 10  # its log_probs 10 dB worse, still over the threshold
        a["semantics"][0]["passed"] = False
        model = next(x for x in m["models"] if x["name"] == "enhancer")
        model["artifacts"] = [a for a in model["artifacts"] if a["format"] != "executorch"]

    r = cli("compare", device_bundle.path, changed(device_bundle, tmp_path, degrade), "--junit", tmp_path / "c.xml")
    assert r.returncode == 1
    assert junit_errors(tmp_path / "c.xml") == []
    cases = ElementTree.parse(tmp_path / "c.xml").getroot().findall("testcase")
    assert len(cases) == 6 and {c.get("classname") for c in cases if c.find("failure") is not None} == {
        "aligner.tflite.fp32", "enhancer.executorch.fp32"}
    assert "2 of 6 cells regressed:" in r.stderr and {"aligner/tflite/fp32", "enhancer/executorch/fp32"} == set(
        r.stderr.split("regressed: ", 1)[1].strip().split(", "))
    assert "REGRESSION: log_probs SQNR fell 10.0 dB (more than 3)" in r.stdout
    assert "REGRESSION: mask-suite rows that passed now fail" in r.stdout
    assert "REGRESSION: the cell is gone from the new bundle" in r.stdout


def test_a_drop_within_the_tolerance_is_not_a_regression(device_bundle, tmp_path):
    new = changed(device_bundle, tmp_path, lambda m: artifact(m, "textclf", "executorch")["parity"][0].update(
        sqnr_db=artifact(m, "textclf", "executorch")["parity"][0]["sqnr_db"] - 2))
    assert cli("compare", device_bundle.path, new).returncode == 0
    assert cli("compare", device_bundle.path, new, "--max-drop-db", "1").returncode == 1


def test_a_bundle_that_is_not_one_is_exit_2(device_bundle, tmp_path):
    r = cli("compare", device_bundle.path, tmp_path / "nothing")
    assert r.returncode == 2 and "is not a bundle" in r.stderr
