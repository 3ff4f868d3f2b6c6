"""Core AI converter specifics (the families x precisions run in tests/backends/test_matrix.py).

Every artifact here runs in Apple's Core AI runtime (coreai-core's Linux CPU build), in a worker
process per artifact. Skips as a whole when the Core AI toolchain is unusable (`check()` says why).
"""
from __future__ import annotations

import dataclasses
import platform
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from converters.base import BuildContext
from mobilesdk import capture, golden
from mobilesdk.pipeline.check import ArtifactCheck, ConvertResult, ReferenceCase, check_artifact, evaluate
from mobilesdk.semantics import run_suite
from tests.conftest import describe, require
from tests.fixtures import masked_models

CONVERTER = require("coreai")


def _build(module, spec, tmp_path, precision="fp32"):
    """Capture, golden outputs and one converted artifact for a model built in the test."""
    cases = golden.golden_cases(spec)
    gold = [ReferenceCase(c.name, c.inputs, capture.run_torch(module, spec, c.inputs)) for c in cases]
    ep = capture.capture(module, spec, cases[0].inputs)
    ctx = BuildContext(model=spec.name, spec=spec, example_inputs=cases[0].inputs)
    return CONVERTER.convert(ep, ctx, precision, tmp_path / precision), gold


def test_saved_asset_facts(harness):
    f = harness.family("textclf")
    sizes = {}
    for precision in CONVERTER.precisions:
        conv = harness.convert("textclf", "coreai", precision)
        asset = conv.files[0]
        assert asset.name == "model.aimodel" and (asset / "main.mlirb").is_file()
        assert conv.meta["function"] == "main" and conv.meta["shapes"].startswith("dynamic")
        assert conv.meta["inputs"].split("; ")[0].startswith(f"{f.spec.inputs[0].name}:int32[")
        assert [e.split(":")[0] for e in conv.meta["outputs"].split("; ")] == [o.name for o in f.spec.outputs]
        sizes[precision] = conv.meta["size_bytes"]
    assert sizes["int8-weights"] < sizes["fp16"] < sizes["fp32"], sizes
    if platform.system() == "Linux":
        assert CONVERTER.runtime() == "coreai-runtime (linux, cpu)"


def test_int8_weights_quantizes_transposed_convs_too(harness):
    """coreai-opt leaves a transposed conv's weights float; the converter widens its op list, so the
    enhancer's decoder is int8 as well: the asset sits near its floor and passes parity in the runtime."""
    from mobilesdk.pipeline.build import parity_problem
    from mobilesdk.size import int8_floor

    f = harness.family("enhancer")
    assert any(isinstance(m, torch.nn.ConvTranspose1d) for m in f.module.modules())
    conv = harness.convert("enhancer", "coreai", "int8-weights")
    # tiny: 1.6x its floor, graph overhead weighing on 42 KB of weights; the decoder float, 3.0x
    assert conv.meta["size_bytes"] <= 2 * int8_floor(f.module, []), conv.meta["size_bytes"]
    assert parity_problem(CONVERTER, "int8-weights", f.spec, f.golden, conv) is None


@pytest.mark.slow
def test_stock_hf_model_dynamic_length_and_mask_suite(harness):
    """A stock DistilBERT (tiny random config, dynamic length): parity at every golden length and the
    whole mask suite in the Core AI runtime, as in a build."""
    name = "hf_distilbert_seq"
    f = harness.family(name)
    run = harness.runner(name, "coreai", "fp32")
    rows = evaluate(run, f.spec, "fp32", f.golden)
    assert all(r.passed for r in rows), describe(rows)
    assert len({c.inputs["input_ids"].shape[1] for c in f.golden}) > 1, "golden cases cover several lengths"
    suite = run_suite(f.spec, run, "fp32", lambda a: capture.run_torch(f.module, f.spec, a))
    assert all(s.passed for s in suite), [(s.check, s.detail) for s in suite if not s.passed]
    assert {s.check for s in suite if s.applicable} >= {"pad_length", "pad_content", "shape_sweep"}


def test_int64_inputs_are_fed_as_int32_and_masks_hold(tmp_path):
    """coreai-torch narrows int64 inputs to int32; the runner feeds them so, and the mask suite passes."""
    spec = masked_models.text_spec("int64_ids")
    spec = dataclasses.replace(spec, inputs=tuple(dataclasses.replace(t, dtype="int64") for t in spec.inputs))
    module = masked_models.TinyClassifier().eval()
    conv, gold = _build(module, spec, tmp_path)
    assert "input_ids:int32[" in conv.meta["inputs"]
    run = CONVERTER.runner(conv, spec)
    rows = evaluate(run, spec, "fp32", gold)
    assert all(r.passed for r in rows), describe(rows)
    suite = run_suite(spec, run, "fp32", lambda a: capture.run_torch(module, spec, a))
    assert all(s.passed for s in suite), [(s.check, s.detail) for s in suite if not s.passed]


def test_mask_that_is_ignored_fails_the_suite_in_the_runtime(tmp_path):
    """The runtime really executes the model: a model that ignores its mask fails pad_content there."""
    spec = masked_models.text_spec("mask_ignored")
    module = masked_models.TinyClassifier(flaw="mask_ignored").eval()
    conv, _ = _build(module, spec, tmp_path)
    suite = {s.check: s for s in run_suite(spec, CONVERTER.runner(conv, spec), "fp32")}
    assert not suite["pad_content"].passed and not suite["pad_length"].passed


def test_parity_fails_when_the_artifact_is_wrong(tmp_path):
    """Convert a model with one weight perturbed, judge it against the unperturbed model's golden
    outputs: parity must fail in the runtime, and pass for the faithful conversion."""
    spec = masked_models.text_spec("perturbed")
    module = masked_models.TinyClassifier().eval()
    good, gold = _build(module, spec, tmp_path / "good")
    broken = masked_models.TinyClassifier().eval()
    with torch.no_grad():
        broken.cls.weight[0, 0] += 1.0
    bad, _ = _build(broken, spec, tmp_path / "bad")
    assert all(r.passed for r in evaluate(CONVERTER.runner(good, spec), spec, "fp32", gold))
    rows = evaluate(CONVERTER.runner(bad, spec), spec, "fp32", gold)
    assert not all(r.passed for r in rows), describe(rows)
    assert rows[0].sqnr_db < 60.0


def test_corrupted_or_missing_asset_fails_the_row_not_the_build(harness, tmp_path):
    """The runtime aborts its process on a corrupted asset (rc 134) and segfaults on a missing one; the
    worker process takes that, the row fails with the reason, and this process goes on running assets."""
    f = harness.family("textclf")
    conv = harness.convert("textclf", "coreai", "fp32")
    copy = tmp_path / "model.aimodel"
    shutil.copytree(conv.files[0], copy)
    mlirb = copy / "main.mlirb"
    blob = bytearray(mlirb.read_bytes())
    blob[100:400] = bytes(300)
    mlirb.write_bytes(bytes(blob))
    check = ArtifactCheck(CONVERTER, "fp32", ConvertResult(SimpleNamespace(files=[copy], meta={}), ""), f.spec, f.golden,
                          tmp_path, lambda a: capture.run_torch(f.module, f.spec, a))
    art = check_artifact(check)
    assert not art.passed and "ended its process" in art.note, art.note
    missing = CONVERTER.runner(SimpleNamespace(files=[tmp_path / "absent.aimodel"], meta={}), f.spec)
    with pytest.raises(RuntimeError, match="no main.mlirb"):
        missing(f.golden[0].inputs)
    rows = evaluate(CONVERTER.runner(conv, f.spec), f.spec, "fp32", f.golden)  # the good asset still runs
    assert all(r.passed for r in rows), describe(rows)


def test_runner_enforces_the_spec_dims_the_runtime_does_not(harness):
    f = harness.family("textclf")
    run = CONVERTER.runner(harness.convert("textclf", "coreai", "fp32"), f.spec)
    d = f.spec.dim("tokens")
    too_long = {t.name: np.ones((1, d.max + 1), dtype=np.int32) for t in f.spec.inputs}
    with pytest.raises(ValueError, match=f"tokens={d.max + 1}"):
        run(too_long)


def test_worker_ends_with_its_runner(harness):
    f = harness.family("textclf")
    run = CONVERTER.runner(harness.convert("textclf", "coreai", "fp32"), f.spec)
    run(f.golden[0].inputs)
    proc = run.proc
    assert proc.poll() is None
    run.close()
    assert proc.poll() is not None
