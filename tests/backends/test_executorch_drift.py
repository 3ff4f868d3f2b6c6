"""`mobilesdk explain` on ExecuTorch artifacts (converters/executorch/taps.py): the shipped
XNNPACK-delegated .pte where its delegates hand tensors out, an undelegated debug lowering of the same
program inside them, both run in executorch.runtime with ETDump. And `float_modules`: int8 leaves the
named modules in fp32.

textclf: the fastest family to lower, with a shared layer (`layer@1` rows) and a 1-D conv head that
goes through conv1d_as_conv2d.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mobilesdk.drift import display
from mobilesdk.parity import sqnr_db
from mobilesdk.pipeline.explain import explain_artifact
from tests.conftest import require
from tests.fixtures.drift import perturbed

EXECUTORCH = require("executorch")
pytestmark = pytest.mark.slow  # each lowering takes tens of seconds on 2 cores

NAME = "textclf"


def test_unbroken_artifact_has_no_row_below_threshold(harness):
    f = harness.family(NAME)
    case = f.cases[0]
    e = explain_artifact(f.ep, f.ctx, EXECUTORCH, "fp32", harness.convert(NAME, "executorch", "fp32").files,
                         case.name, case.inputs)
    mapped = [r for r in e.rows if r.sqnr_db is not None]
    assert e.first is None and len(mapped) >= 0.9 * len(e.rows), [(r.module, r.sqnr_db, r.note) for r in e.rows]
    assert "shipped model.pte" in e.runtime and "byte-identical" in e.runtime, e.runtime


def test_broken_layer_is_named(harness, tmp_path):
    """The LID head (a 1-D conv lowered as conv1d_as_conv2d's 2-D conv, in a delegate of its own) is
    named from the shipped file's own tensors: the debug lowering, built from the unbroken capture,
    shows every layer before it clean. A layer whose output stays inside a delegate (textclf's FFN and
    adapter Linears, fused by XNNPACK's partitioner) would be named where that delegate hands its
    result out (converters/executorch/taps.py)."""
    f = harness.family(NAME)
    case = f.cases[0]
    target = "module.lid_head"
    broken = EXECUTORCH.convert(perturbed(f.ep, target), f.ctx, "fp32", tmp_path)
    e = explain_artifact(f.ep, f.ctx, EXECUTORCH, "fp32", broken.files, case.name, case.inputs)
    assert e.first is not None and e.first.module == display(target), [(r.module, r.sqnr_db) for r in e.rows]
    before = e.rows[: e.rows.index(e.first)]
    assert before and all(r.sqnr_db is None or r.sqnr_db > 100 for r in before)
    assert "not its weights" in e.runtime, e.runtime  # the file was not built from f.ep


def test_int8_embedding_lookups_are_their_tables_rows(harness):
    """int8 tables' lookups (`embedding_byte`, quantized_decomposed like a q/dq op) keep their module:
    rescoped as a q/dq op between modules, the table rows said "no op of the artifact carries" it."""
    f = harness.family(NAME)
    case = f.cases[0]
    e = explain_artifact(f.ep, f.ctx, EXECUTORCH, "int8-dynamic",
                         harness.convert(NAME, "executorch", "int8-dynamic").files, case.name, case.inputs)
    rows = {r.module: r for r in e.rows}
    for table in ("tokens", "positions"):  # per-row int8 rounding: about 46 dB, not fp32's 200
        assert rows[table].sqnr_db is not None and 35 < rows[table].sqnr_db < 80, (table, rows[table])


def test_float_modules_stay_fp32_in_int8_static(harness, tmp_path):
    from converters.executorch.converter import program_for

    f = harness.family(NAME)
    kept = "layer.ff.0"  # the shared layer's first FFN Linear, called twice
    ctx = dataclasses.replace(f.ctx, options={"float_modules": [kept]})
    with torch.backends.mkldnn.flags(enabled=False), torch.no_grad():
        program = program_for(f.ep, ctx, "int8-static", meta := {})
    weights = {}  # linear -> (module path, where its weight comes from)
    for n in program.graph.nodes:
        if n.op == "call_function" and n.target == torch.ops.aten.linear.default:
            path = list(n.meta["nn_module_stack"].values())[-1][0]
            weights[n.name] = (path, "dequantize" in str(n.args[1].target), n.args[1].op)
    mine = [w for w in weights.values() if w[0] == f"module.{kept}"]
    assert len(mine) == 2 and all(not dq and op == "placeholder" for _, dq, op in mine), weights
    assert sum(dq for _, dq, _ in weights.values()) >= 8, weights  # the others stay int8
    assert meta["float_modules"] == f"module.{kept}"

    converted = EXECUTORCH.convert(f.ep, ctx, "int8-static", tmp_path)
    run = EXECUTORCH.runner(converted, f.spec)
    golden = f.golden[0]
    got = run(golden.inputs)
    for o in f.spec.outputs:
        want = f.spec.threshold(o.name, "int8-static")[0].sqnr_db
        assert np.isfinite(got[o.name]).all() and sqnr_db(golden.outputs[o.name], got[o.name]) >= want
