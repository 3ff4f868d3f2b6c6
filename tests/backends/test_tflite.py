"""The TFLite converter's onnx2tf route: buckets, layouts, output names, int8 internals, failures (parity of every
family is in tests/backends/test_matrix.py). Conversions come from the session harness: onnx2tf
runs once per family and bucket, and each precision is a SavedModel conversion on top."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from converters.base import BuildContext
from mobilesdk.models import FAMILIES
from tests.conftest import require

TFLITE = require("tflite")
pytestmark = pytest.mark.slow  # onnx2tf takes seconds to minutes per bucket


@pytest.mark.parametrize("fam", sorted(FAMILIES))
def test_tflite_int8_static_is_integer_where_it_counts(harness, fam):
    """Passing parity by leaving everything in float would be a lie: the convs and matmuls with
    weights are int8 (only the first and last layers stay float) and the weights shrink (the files
    less so on tiny presets: a graph per bucket weighs as much as the one copy of the weights)."""
    from tensorflow.lite.python.schema_py_generated import TensorType

    from converters.tflite.flatbuffer import read_model
    from converters.tflite.int8 import WEIGHTED_OPS, _load

    static = harness.convert(fam, "tflite", "int8-static", "onnx2tf")
    fp32 = harness.convert(fam, "tflite", "fp32", "onnx2tf")
    assert 0 < static.meta["fp32_ops"] < static.meta["ops"]
    weights = [sum(len(b.data) for b in read_model(c.files[0].read_bytes()).buffers if b.data is not None)
               for c in (static, fp32)]
    assert weights[0] < 0.65 * weights[1] and static.meta["size_bytes"] < fp32.meta["size_bytes"]
    model, kind = _load(static.files[0].read_bytes())
    weighted = [(g, op) for g in model.subgraphs for op in g.operators if kind(op) in WEIGHTED_OPS
                and any(g.tensors[t].buffer and model.buffers[g.tensors[t].buffer].data is not None for t in op.inputs)]
    integer = [op for g, op in weighted if g.tensors[op.inputs[1]].type == TensorType.INT8]
    assert len(integer) >= len(weighted) / 2, f"{len(integer)} of {len(weighted)} weighted ops are int8"


def test_tflite_int8_static_buckets_compute_alike(harness):
    """A batch padded into the next length bucket keeps its valid outputs as closely as fp32 would
    (pad_length judged at fp32 thresholds): every bucket file of one int8 model has the same
    activation ranges. Calibrated bucket by bucket, the small aligner gave 30 dB and 4 flipped frames."""
    from mobilesdk.semantics import pad_length

    f = harness.family("aligner")
    run = TFLITE.runner(harness.convert("aligner", "tflite", "int8-static", "onnx2tf"), f.spec)
    row = pad_length(f.spec, run, "fp32")
    assert row.passed, row


@pytest.mark.parametrize("fam", sorted(FAMILIES))
def test_tflite_files_and_bucket_meta(harness, fam):
    spec = harness.family(fam).spec
    converted = harness.convert(fam, "tflite", "fp32", "onnx2tf")
    meta, files = converted.meta, converted.files
    out_dir = files[0].parent
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in files)  # no temp dirs left
    assert meta["shapes"] == "buckets" and meta["batch"] == spec.golden_batch
    buckets = str(meta["buckets"]).split(",")
    assert [p.name for p in files] == ["model.tflite"] and meta["signatures"] == ",".join(f"len_{b}" for b in buckets)
    main = {d.name: d.main_length for d in spec.dims}
    dim = spec.dim(str(meta["bucket_dims"]))
    first = int(buckets[0])
    assert first == main[dim.name] or (dim.name in str(meta["padded_dims"]) and first >= main[dim.name])
    masked = {m.axis for m in spec.masks}
    assert (dim.name in str(meta["padded_dims"]).split(",")) == (dim.name in masked)
    assert meta["layout_min_sqnr_db"] >= 60


@pytest.mark.parametrize("precision", ["fp32", "int8-dynamic", "int8-static"])
def test_onnx2tf_buckets_are_signatures_of_one_file_storing_the_weights_once(harness, tmp_path, monkeypatch, precision):
    """The bucket flatbuffers become one file (`flatbuffer.merge_signatures`), a signature per bucket, each
    passing parity, and the weights every bucket has are stored once: int8 ones too (weights quantize
    from their values alone; int8-static's activation ranges are one set for all buckets)."""
    from converters.tflite import converter
    from converters.tflite.flatbuffer import read_model
    from mobilesdk.golden import lengths_from_inputs
    from mobilesdk.pipeline.check import evaluate

    f = harness.family("enhancer")
    harness.convert("enhancer", "tflite", "fp32", "onnx2tf")  # SavedModels cached: this conversion is fast
    merge, separate = converter.merge_signatures, []

    def recorded(blobs, keys):  # the bucket files as they were before the merge
        separate.extend(blobs)
        return merge(blobs, keys)

    monkeypatch.setattr(converter, "merge_signatures", recorded)
    converted = TFLITE.convert(f.ep, dataclasses.replace(f.ctx, options={"route": "onnx2tf"}), precision, tmp_path)
    blob = converted.files[0].read_bytes()

    def weight_bytes(b: bytes) -> int:
        return sum(len(buf.data) for buf in read_model(b).buffers if buf.data is not None)

    assert [p.name for p in converted.files] == ["model.tflite"] and len(separate) == 4
    assert weight_bytes(blob) < 1.1 * max(map(weight_bytes, separate))  # a second copy would double it
    saved = sum(map(len, separate)) - len(blob)  # on tiny presets the graphs weigh as much as the weights
    assert saved > 0.9 * (len(separate) - 1) * weight_bytes(separate[0])
    run = TFLITE.runner(converted, f.spec)
    assert {run.plan.choose(lengths_from_inputs(f.spec, c.inputs)) for c in f.golden} == set(run.plan.buckets)
    rows = evaluate(run, f.spec, precision, f.golden)  # every signature runs a golden case
    assert all(r.passed for r in rows), rows


def test_a_wrong_weight_buffer_in_one_signature_fails_its_parity_only(harness, tmp_path):
    """The merge's buffer remap is load-bearing: one bucket's largest weight pointed at wrong values (its
    own, reversed: what a remap to another buffer of that size would give) fails parity on the golden
    case that bucket runs, and only there: the other signatures still read the shared original."""
    from tensorflow.lite.python import schema_py_generated as schema

    from converters.base import Converted
    from converters.tflite.flatbuffer import read_model, write_model
    from mobilesdk.golden import lengths_from_inputs
    from mobilesdk.pipeline.check import evaluate

    f = harness.family("enhancer")
    converted = harness.convert("enhancer", "tflite", "fp32", "onnx2tf")
    model = read_model(converted.files[0].read_bytes())
    last = model.subgraphs[model.signatureDefs[-1].subgraphIndex]
    weight = max(last.tensors, key=lambda t: len(model.buffers[t.buffer].data) if t.buffer else 0)
    wrong = schema.BufferT()
    wrong.data = np.frombuffer(bytes(model.buffers[weight.buffer].data), np.float32)[::-1].copy().view(np.uint8)
    model.buffers.append(wrong)
    weight.buffer = len(model.buffers) - 1
    broken = tmp_path / "model.tflite"
    broken.write_bytes(write_model(model))
    run = TFLITE.runner(Converted([broken], converted.meta), f.spec)
    there = [c.name for c in f.golden if run.plan.choose(lengths_from_inputs(f.spec, c.inputs)) == run.plan.buckets[-1]]
    failed = [c.name for c in f.golden if not all(r.passed for r in evaluate(run, f.spec, "fp32", [c]))]
    assert there and failed == there


def test_tflite_outputs_are_mapped_by_name(harness):
    """onnx2tf orders textclf's outputs `lid`, `sentiment`; the runner returns them by signature name."""
    from ai_edge_litert.interpreter import Interpreter

    f = harness.family("textclf")
    converted = harness.convert("textclf", "tflite", "fp32", "onnx2tf")
    for sig in Interpreter(model_path=str(converted.files[0])).get_signature_list().values():
        assert sorted(sig["outputs"]) == ["lid", "sentiment"]
    case = f.cases[0]
    got = TFLITE.runner(converted, f.spec)(case.inputs)
    n_tokens = case.inputs["input_ids"].shape[1]
    assert got["sentiment"].shape == (4, 3) and got["lid"].shape == (4, n_tokens, 3)
    ref = f.golden[0].outputs
    assert np.allclose(got["sentiment"], ref["sentiment"], atol=1e-4)


def test_tflite_enhancer_io_stays_in_spec_layout(harness):
    """onnx2tf makes the NCW waveform NWC; the runner transposes both ways, verified per output."""
    f = harness.family("enhancer")
    converted = harness.convert("enhancer", "tflite", "fp32", "onnx2tf")
    assert "in.waveform:0,2,1" in converted.meta["layout"] and "out.enhanced:0,2,1" in converted.meta["layout"]
    case = f.cases[0]
    got = TFLITE.runner(converted, f.spec)(case.inputs)["enhanced"]
    assert got.shape == case.inputs["waveform"].shape
    assert np.abs(got - f.golden[0].outputs["enhanced"]).max() < 1e-4


def test_tflite_runner_takes_other_batches_and_lengths(harness):
    """Batch is fixed at 4 in the files: the runner pads or splits; masked lengths pad to a bucket."""
    from mobilesdk.capture import run_torch
    from mobilesdk.golden import make_batch

    f = harness.family("textclf")
    run = TFLITE.runner(harness.convert("textclf", "tflite", "fp32", "onnx2tf"), f.spec)
    for batch, n in ((1, 5), (6, 40)):
        valid = {"tokens": [max(1, n - 2 * i) for i in range(batch)]}
        inputs = make_batch(f.spec, {"tokens": n}, valid, seed=7)
        got, ref = run(inputs), run_torch(f.module, f.spec, inputs)
        assert got["lid"].shape == ref["lid"].shape and got["sentiment"].shape == ref["sentiment"].shape
        assert np.abs(got["sentiment"] - ref["sentiment"]).max() < 1e-4


def test_tflite_runner_rejects_a_length_without_bucket(harness):
    f = harness.family("enhancer")
    run = TFLITE.runner(harness.convert("enhancer", "tflite", "fp32", "onnx2tf"), f.spec)
    with pytest.raises(ValueError, match="no TFLite bucket holds samples=2048"):
        run({"waveform": np.zeros((4, 1, 2048), np.float32)})


def test_tflite_failure_leaves_no_files(harness, tmp_path, monkeypatch):
    from converters.tflite import converter
    from mobilesdk.errors import ConversionError, MobileSDKError

    f = harness.family("textclf")
    harness.convert("textclf", "tflite", "fp32", "onnx2tf")  # SavedModels cached: this conversion is fast
    calls = []

    def failing(saved, in_perm, ctx, plan, bucket, precision):
        calls.append(bucket)
        if len(calls) > 1:
            raise ConversionError("injected failure")
        return b"partial"

    monkeypatch.setattr(converter, "to_tflite", failing)
    with pytest.raises(MobileSDKError, match="injected"):
        TFLITE.convert(f.ep, dataclasses.replace(f.ctx, options={"route": "onnx2tf"}), "int8-dynamic", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_int8_static_needs_calibration(harness, tmp_path):
    from mobilesdk.errors import ConfigError

    f = harness.family("textclf")
    ctx = BuildContext(model="textclf", spec=f.spec, example_inputs=f.ctx.example_inputs, calibration=[])
    with pytest.raises(ConfigError, match="calibration"):
        TFLITE.convert(f.ep, ctx, "int8-static", tmp_path / "x")


def test_check_and_versions():
    assert TFLITE.check() is None
    versions = TFLITE.versions()
    assert versions["onnx2tf"] != "not installed" and versions["ai-edge-litert"] != "not installed"
    assert set(TFLITE.precisions) == {"fp32", "fp16", "int8-dynamic", "int8-static"}


def test_onnx2tf_failure_names_the_node_and_a_fix():
    """A Keras-wrapped shape clash keeps TF's shapes in the message and points at the rewrite library."""
    import onnx

    from converters.tflite.saved_model import _explain_onnx2tf
    from mobilesdk.errors import UnsupportedOpError

    static = onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Add", ["a", "b"], ["c"], name="n1")],
                                                           "g", [], []))
    e = ValueError('Exception encountered when calling layer "tf.math.add_4" (type TFOpLambda).\n\nDimensions must '
                   "be equal, but are 2 and 33 for '{{node tf.math.add_4/Add}} = AddV2[T=DT_FLOAT](P, P_1)' with "
                   "input shapes: [1,4,2,33,33], [4,1,33,2,33].\n\nCall arguments received by layer")
    err = _explain_onnx2tf(e, "\x1b[31mERROR:\x1b[0m onnx_op_name: n1\n", static, "m")
    assert isinstance(err, UnsupportedOpError) and err.op == "onnx.Add"
    assert "[1,4,2,33,33], [4,1,33,2,33]" in str(err) and "{{node" not in str(err)
    assert "onnx_rewrites.py" in str(err) and "[models.m.tflite] buckets" in str(err)


def test_fp16_keeps_scalars_exact_so_floor_division_stays_exact(tmp_path):
    """docs/toolchain-traps.md#3 on a stock model: TFLiteConverter's float16 rounds the reciprocal of
    `floor(n / 5)` (the conv frame lengths of wav2vec2-style models) and gets multiples of 5 one short;
    `half_weights` stores the weights as float16 and keeps scalars float32."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema

    from converters.tflite.flatbuffer import half_weights
    from converters.tflite.int8 import _load

    module = tf.Module()
    module.w = tf.constant(np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32))
    module.f = tf.function(lambda n, x: {"frames": tf.cast(tf.floor(tf.cast(n, tf.float32) / 5.0), tf.int32),
                                         "y": tf.matmul(x, module.w)},
                           input_signature=[tf.TensorSpec([4000], tf.int32, name="n"), tf.TensorSpec([1, 64], name="x")])
    tf.saved_model.save(module, str(tmp_path), signatures=module.f)

    def convert(fp16: bool) -> bytes:
        conv = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path))
        if fp16:
            conv.optimizations, conv.target_spec.supported_types = [tf.lite.Optimize.DEFAULT], [tf.float16]
        return conv.convert()

    def run(blob):
        return Interpreter(model_content=blob).get_signature_runner()(n=n, x=x)

    n, x = np.arange(0, 32000, 8, dtype=np.int32), np.ones((1, 64), np.float32)
    fp32 = convert(False)
    assert (run(convert(True))["frames"] != n // 5).sum() > 100  # the trap, still there
    half = half_weights(fp32)
    got = run(half)
    assert np.array_equal(got["frames"], n // 5)
    assert np.allclose(got["y"], run(fp32)["y"], rtol=1e-2) and not np.array_equal(got["y"], run(fp32)["y"])
    model, kind = _load(half)
    g = model.subgraphs[0]
    dequantized = [g.tensors[op.inputs[0]] for op in g.operators if kind(op) == "DEQUANTIZE"]
    assert [list(t.shape) for t in dequantized] == [[64, 64]] and dequantized[0].type == schema.TensorType.FLOAT16
    assert len(half) < 0.6 * len(fp32)


def test_running_an_artifact_prints_nothing_of_the_runtimes_own(harness, tmp_path):
    """LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate" once per process, at the first
    invoke, straight to fd 2, where it broke a build's progress line. A fresh process, as a build
    worker is, runs the artifact and must leave stderr empty."""
    import json
    import subprocess
    import sys

    f = harness.family("textclf")
    converted = harness.convert("textclf", "tflite", "fp32")
    np.savez(tmp_path / "inputs.npz", **f.golden[0].inputs)
    (tmp_path / "artifact.json").write_text(json.dumps({"files": [str(p) for p in converted.files], "meta": converted.meta,
                                                        "spec": f.spec.to_json()}))
    script = (
        "import json, sys, numpy as np\n"
        "from converters.base import Converted, get\n"
        "from mobilesdk.logs import quiet_toolchain_logs\n"
        "from mobilesdk.spec import spec_from_json\n"
        "quiet_toolchain_logs()\n"
        "a = json.load(open(sys.argv[1]))\n"
        "run = get('tflite').runner(Converted(a['files'], a['meta']), spec_from_json(a['spec']))\n"
        "run(dict(np.load(sys.argv[2])))\n"
    )
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path / "artifact.json"), str(tmp_path / "inputs.npz")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "XNNPACK delegate" not in r.stderr, r.stderr[-2000:]
