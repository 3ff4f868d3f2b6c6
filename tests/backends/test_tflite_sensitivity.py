"""`float_modules` on TFLite int8-static (onnx2tf route), the knob of `mobilesdk explain --sensitivity`:
the listed module's ops stay float in the quantized file, everything else as built; and the sweep itself.

One tiny family keeps the module short: textclf, whose shared transformer layer runs twice, so its
FFN Linear is two FULLY_CONNECTED ops. The sweep builds one bucket (tokens 64, the main build's
longer bucket: its SavedModel and twin conversion are reused from the first test).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from mobilesdk.drift import display
from mobilesdk.errors import ConfigError
from mobilesdk.parity import sqnr_db
from mobilesdk.pipeline.explain import output_sqnr, render_sensitivity, sensitivity, weighted_modules
from tests.conftest import require

TFLITE = require("tflite")
pytestmark = pytest.mark.slow

NAME = "textclf"
KEPT = "layer.ff.0"  # Linear(32, 64) of the shared layer: two FULLY_CONNECTED ops
WEIGHTED = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "BATCH_MATMUL")


def weighted_ops(path) -> list[list[tuple[str, np.ndarray | None]]]:
    """Per subgraph (bucket), (weight dtype, the float weight's values or None) of each op with a constant weight."""
    from tensorflow.lite.python import schema_py_generated as schema

    from converters.tflite.flatbuffer import read_model

    model = read_model(path.read_bytes())
    kinds = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    out = []
    for g in model.subgraphs:
        out.append([])
        for op in g.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if kinds.get(max(code.builtinCode, code.deprecatedBuiltinCode)) not in WEIGHTED or len(op.inputs) < 2:
                continue
            w = g.tensors[op.inputs[1]]
            data = model.buffers[w.buffer].data
            if data is None or not len(data):
                continue  # an activation, not a weight
            values = np.frombuffer(bytes(data), np.float32) if w.type == schema.TensorType.FLOAT32 else None
            out[-1].append((types[w.type], values))
    return out


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """The same weights in any layout (TFLite may transpose them)."""
    return a.size == b.size and np.allclose(np.sort(a.ravel()), np.sort(b.ravel()), atol=1e-6)


def test_kept_module_is_float_and_the_rest_int8(harness, tmp_path):
    f = harness.family(NAME)
    base = harness.convert(NAME, "tflite", "int8-static")
    ctx = dataclasses.replace(f.ctx, options={"float_modules": [KEPT]})
    kept = TFLITE.convert(f.ep, ctx, "int8-static", tmp_path)
    assert kept.meta["route"] == "onnx2tf" and kept.meta["float_modules"] == f"module.{KEPT}", kept.meta
    weight = f.ep.state_dict[f"module.{KEPT}.weight"].detach().numpy()

    for bucket, (before, after) in enumerate(zip(weighted_ops(base.files[0]), weighted_ops(kept.files[0]), strict=True)):
        mine = [v for t, v in after if v is not None and same_values(v, weight)]
        assert len(mine) == 2, [t for t, _ in after]  # both calls of the shared layer: float32 weights
        assert not any(v is not None and same_values(v, weight) for _, v in before)  # int8 as built
        int8_before = sum(t == "INT8" for t, _ in before)
        int8_after = sum(t == "INT8" for t, _ in after)
        assert int8_after == int8_before - 2 and int8_after >= 6, (bucket, int8_before, int8_after)

    run = TFLITE.runner(kept, f.spec)
    for golden in f.golden:
        got = run(golden.inputs)
        reference = TFLITE.runner(base, f.spec)(golden.inputs)
        for o in f.spec.outputs:
            assert np.isfinite(got[o.name]).all()
            # a float layer costs nothing: as close to PyTorch as the artifact as built, within 1 dB
            assert sqnr_db(golden.outputs[o.name], got[o.name]) >= \
                sqnr_db(golden.outputs[o.name], reference[o.name]) - 1.0, (golden.name, o.name)


def test_float_modules_where_it_cannot_apply_is_a_config_error(harness, tmp_path):
    f = harness.family(NAME)
    for route in ("auto", "litert-torch", "onnx2tf"):  # neither route's weight quantizer takes a denylist
        ctx = dataclasses.replace(f.ctx, options={"route": route, "float_modules": [KEPT]})
        with pytest.raises(ConfigError, match="int8-static only.*Fix:"):
            TFLITE.convert(f.ep, ctx, "int8-dynamic", tmp_path)
    ctx = dataclasses.replace(f.ctx, options={"float_modules": ["layer.nope"]})
    with pytest.raises(ConfigError, match="no module `layer.nope`"):
        TFLITE.convert(f.ep, ctx, "int8-static", tmp_path)
    assert "float_modules" in TFLITE.options


def test_sensitivity_has_a_row_per_weighted_module(harness, tmp_path):
    f = harness.family(NAME)
    ctx = dataclasses.replace(f.ctx, options={"buckets": {"tokens": [64]}})  # one build per conversion
    base = TFLITE.convert(f.ep, ctx, "int8-static", tmp_path / "base")
    golden = f.golden[0]
    start = time.perf_counter()
    rows = sensitivity(f.ep, ctx, TFLITE, "int8-static", base.files, base.meta, golden.inputs, golden.outputs,
                       tmp_path / "sweep")
    baseline = output_sqnr(TFLITE, base.files, base.meta, f.spec, golden.inputs, golden.outputs)
    print(f"{NAME} tflite/int8-static (baseline {baseline:.1f} dB on case {golden.name}):\n"
          f"{render_sensitivity(rows)}\n(sweep: {time.perf_counter() - start:.1f} s)")
    assert sorted(m for m, _ in rows) == sorted(display(m) for m in weighted_modules(f.ep))
    assert [db for _, db in rows] == sorted((db for _, db in rows), reverse=True)
    assert rows[0][1] >= 0.0, rows
