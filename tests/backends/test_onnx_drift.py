"""`mobilesdk explain` on ONNX artifacts: onnxruntime with every node output exposed, mapped to
nn.Module paths through the exporter's name scopes. A layer broken on purpose is named, nothing
before it is; an artifact of the unbroken program has no row below the threshold."""
from __future__ import annotations

import pytest

from mobilesdk.drift import display
from mobilesdk.pipeline.explain import explain_artifact
from mobilesdk.models import FAMILIES
from tests.conftest import require
from tests.fixtures.drift import layers, perturbed

ONNX = require("onnx")
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", [*sorted(FAMILIES), "hf_bert_seq", "hf_wav2vec2_ctc"])  # ours, and stock text and speech
def test_onnx_explain_names_the_broken_layer(harness, name, tmp_path):
    f = harness.family(name)
    case = f.cases[0]
    clean = explain_artifact(f.ep, f.ctx, ONNX, "fp32", harness.convert(name, "onnx", "fp32").files, case.name, case.inputs)
    mapped = [r for r in clean.rows if r.sqnr_db is not None]
    assert clean.first is None and len(mapped) >= 0.8 * len(clean.rows), [(r.module, r.note) for r in clean.rows]

    candidates = layers(f.ep)
    target = candidates[len(candidates) // 2]
    broken = ONNX.convert(perturbed(f.ep, target), f.ctx, "fp32", tmp_path)
    e = explain_artifact(f.ep, f.ctx, ONNX, "fp32", broken.files, case.name, case.inputs)
    assert e.first is not None and e.first.module == display(target), [(r.module, r.sqnr_db) for r in e.rows]
    before = e.rows[: e.rows.index(e.first)]
    assert before and all(r.sqnr_db is None or r.sqnr_db > 100 for r in before)
