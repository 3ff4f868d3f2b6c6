"""`mobilesdk explain` on Core ML artifacts: the saved program's MIL ops mapped to nn.Module paths
through the fx node names coremltools keeps (converters/coreml/taps.py), their tensors from the MIL
reference evaluator. A var the taps trust holds its fx node's value; an artifact of the unbroken
program has no row below the threshold; a layer broken on purpose is named, also in an fp16 program
with int8 weights, where the fp16 pass renames most ops."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mobilesdk.drift import display, fit
from mobilesdk.pipeline.explain import explain_artifact
from tests.conftest import require
from tests.fixtures.drift import layers, perturbed

COREML = require("coreml")
pytestmark = pytest.mark.slow

FAMILIES = ("aligner", "enhancer", "textclf")


@pytest.mark.parametrize("name", FAMILIES)
def test_clean_fp32_artifact_is_mapped_and_above_threshold(harness, name):
    f = harness.family(name)
    case = f.cases[0]
    e = explain_artifact(f.ep, f.ctx, COREML, "fp32", harness.convert(name, "coreml", "fp32").files, case.name,
                         case.inputs)
    mapped = [r for r in e.rows if r.sqnr_db is not None]
    assert e.first is None and len(mapped) >= 0.9 * len(e.rows), [(r.module, r.sqnr_db, r.note) for r in e.rows]
    assert e.runtime.startswith("MIL reference evaluator")


@pytest.mark.parametrize("name", FAMILIES)
def test_every_trusted_name_holds_its_fx_nodes_value(harness, name):
    """The names the taps map (collisions with coremltools' own `<op>_<k>` names are refused) hold
    what PyTorch computes for that node, up to a layout."""
    from converters.coreml import converter, taps
    from converters.coreml.mil import load_evaluator
    from mobilesdk.capture import to_torch

    f = harness.family(name)
    conv = harness.convert(name, "coreml", "fp32")
    program = converter._decomposed(f.ep, conv.meta["decompositions"])
    evaluator = load_evaluator(conv.files[0]).evaluator
    var_of = taps.match([op for op in evaluator.ops if op.op_type != "const"], evaluator,
                        taps.FxGraph(program, f.spec))
    ref = {}

    class Keep(torch.fx.Interpreter):
        def run_node(self, n):
            value = super().run_node(n)
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                ref[n.name] = value.detach().numpy()
            return value

    inputs = f.cases[0].inputs
    with torch.no_grad():
        Keep(program.module()).run(*to_torch(inputs, f.spec))
    feeds = {t.name: inputs[t.name] for t in f.spec.inputs}
    got = evaluator({k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in feeds.items()}, keep=var_of)
    checked = 0
    for var, node in var_of.items():
        if node in ref:
            arranged = fit(got[var].astype(np.float32), ref[node].shape)
            assert arranged is not None and np.allclose(arranged[0], ref[node], rtol=1e-3, atol=1e-4), (var, node)
            checked += 1
    assert checked >= 0.5 * len(var_of)


@pytest.mark.parametrize("name, precision", [(n, "fp32") for n in FAMILIES] + [("aligner", "int8-weights")])
def test_coreml_explain_names_the_broken_layer(harness, name, precision, tmp_path):
    f = harness.family(name)
    case = f.cases[1]
    candidates = layers(f.ep)
    target = candidates[len(candidates) // 2]
    broken = COREML.convert(perturbed(f.ep, target), f.ctx, precision, tmp_path)
    e = explain_artifact(f.ep, f.ctx, COREML, precision, broken.files, case.name, case.inputs)
    assert e.first is not None and e.first.module == display(target), [(r.module, r.sqnr_db, r.note) for r in e.rows]
    before = e.rows[: e.rows.index(e.first)]
    assert before and all(r.sqnr_db is not None and r.sqnr_db >= e.threshold_db for r in before)


def test_an_op_without_kernel_leaves_the_layer_unnamed_and_says_why(harness, monkeypatch):
    from converters.coreml.mil.kernels import KERNELS

    f = harness.family("enhancer")
    conv = harness.convert("enhancer", "coreml", "fp32")
    monkeypatch.delitem(KERNELS, "tanh")
    e = explain_artifact(f.ep, f.ctx, COREML, "fp32", conv.files, f.cases[0].name, f.cases[0].inputs)
    assert not e.rows and "not evaluated: tanh" in e.notes[0], e.notes
