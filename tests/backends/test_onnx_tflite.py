"""The diagnostic ONNX and the TFLite artifacts of every reference family, at every golden length.

Conversions are shared through one module-scoped store: onnx2tf runs once per family and bucket, and
each precision is a 3-5 s SavedModel conversion on top (converters/tflite.py caches the SavedModel).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converters.base import BuildContext, get

ONNX, TFLITE = get("onnx"), get("tflite")
_REASON = ONNX.check() or TFLITE.check()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=str(_REASON))

FAMILIES = ("enhancer", "aligner", "textclf")



class Store:
    """Per family: module, spec, capture, context and golden set; per (format, precision): the conversion."""

    def __init__(self, root: Path):
        self.root = root
        self.families: dict[str, dict] = {}
        self.converted: dict[tuple[str, str, str], object] = {}

    def family(self, fam: str) -> dict:
        if fam not in self.families:
            from mobilesdk.capture import capture, run_torch
            from mobilesdk.golden import calibration_batches, golden_cases
            from mobilesdk.models import build_model

            module, spec = build_model(fam, "tiny", name=fam)
            cases = golden_cases(spec)
            ep = capture(module, spec, cases[0].inputs)
            ctx = BuildContext(model=fam, spec=spec, example_inputs=cases[0].inputs,
                               calibration=calibration_batches(spec, 8))
            golden = [(c.name, c.inputs, run_torch(module, spec, c.inputs)) for c in cases]
            self.families[fam] = dict(module=module, spec=spec, ep=ep, ctx=ctx, golden=golden, cases=cases)
        return self.families[fam]

    def convert(self, fam: str, fmt: str, precision: str):
        key = (fam, fmt, precision)
        if key not in self.converted:
            f = self.family(fam)
            out = self.root / fam / fmt / precision
            self.converted[key] = get(fmt).convert(f["ep"], f["ctx"], precision, out)
        return self.converted[key]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("onnx_tflite"))


def _evaluate(store: Store, fam: str, fmt: str, precision: str):
    from mobilesdk.parity_run import evaluate

    f = store.family(fam)
    converted = store.convert(fam, fmt, precision)
    return evaluate(get(fmt).load(converted, f["ctx"]), f["spec"], precision, f["golden"])


def _describe(rows) -> str:
    return "; ".join(f"{r.output}: {r.sqnr_db} dB, agreement {r.agreement}" for r in rows)


# --- ONNX (diagnostic) ----------------------------------------------------------------------------


@pytest.mark.parametrize("fam", FAMILIES)
def test_onnx_matches_pytorch_at_every_golden_length(store, fam):
    rows = _evaluate(store, fam, "onnx", "fp32")
    assert [r.output for r in rows] == [o.name for o in store.family(fam)["spec"].outputs]
    assert all(r.passed for r in rows), _describe(rows)


@pytest.mark.parametrize("fam", FAMILIES)
def test_onnx_graph_keeps_dynamic_dims(store, fam):
    from converters.onnx import graph_input_dims

    spec = store.family(fam)["spec"]
    converted = store.convert(fam, "onnx", "fp32")
    dims = graph_input_dims(converted.files[0])
    dynamic = {d.name for d in spec.dims if d.min != d.max}
    for t in spec.inputs:
        for axis, s in enumerate(t.shape):
            saved = dims[t.name][axis]
            assert isinstance(saved, str) if s in dynamic else saved == s, (t.name, axis, dims[t.name])
    assert converted.meta["shapes"] == "dynamic" and ONNX.diagnostic


def test_onnx_static_axis_is_reported(tmp_path, store, monkeypatch):
    """Trap 6: a declared dynamic axis that comes out static is an error naming the dim, not a silent pass."""
    import onnx

    from converters import onnx as onnx_conv
    from mobilesdk.errors import MobileSDKError

    f = store.family("textclf")
    model = onnx.load(str(store.convert("textclf", "onnx", "fp32").files[0]))
    for i in model.graph.input:
        i.type.tensor_type.shape.dim[1].dim_value = 32  # what trap 6's silent specialisation looks like
    path = tmp_path / "static.onnx"
    onnx.save(model, str(path))
    with pytest.raises(MobileSDKError, match="dim `tokens` of input `input_ids` static"):
        onnx_conv.check_dynamic(path, f["spec"], "textclf")


# --- TFLite -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fam,precision", [(f, p) for f in FAMILIES for p in TFLITE.precisions])
def test_tflite_matches_pytorch_at_every_golden_length(store, fam, precision):
    rows = _evaluate(store, fam, "tflite", precision)
    assert all(r.passed for r in rows), _describe(rows)


@pytest.mark.parametrize("fam", FAMILIES)
def test_tflite_int8_static_is_integer_where_it_counts(store, fam):
    """Passing parity by leaving everything in float would be a lie: the convs and matmuls with
    weights are int8 (only the first and last layers stay float) and the files shrink."""
    from tensorflow.lite.python.schema_py_generated import TensorType

    from converters.tflite_int8 import WEIGHTED_OPS, _load

    static = store.convert(fam, "tflite", "int8-static")
    fp32 = store.convert(fam, "tflite", "fp32")
    assert 0 < static.meta["fp32_ops"] < static.meta["ops"]
    assert static.meta["size_bytes"] < 0.65 * fp32.meta["size_bytes"]
    model, kind = _load(static.files[0].read_bytes())
    weighted = [(g, op) for g in model.subgraphs for op in g.operators if kind(op) in WEIGHTED_OPS
                and any(g.tensors[t].buffer and model.buffers[g.tensors[t].buffer].data is not None for t in op.inputs)]
    integer = [op for g, op in weighted if g.tensors[op.inputs[1]].type == TensorType.INT8]
    assert len(integer) >= len(weighted) / 2, f"{len(integer)} of {len(weighted)} weighted ops are int8"


def test_tflite_int8_static_buckets_compute_alike(store):
    """A batch padded into the next length bucket keeps its valid outputs as closely as fp32 would
    (pad_length judged at fp32 thresholds): every bucket file of one int8 model has the same
    activation ranges. Calibrated bucket by bucket, the small aligner gave 30 dB and 4 flipped frames."""
    from mobilesdk.semantics import pad_length

    f = store.family("aligner")
    run = TFLITE.load(store.convert("aligner", "tflite", "int8-static"), f["ctx"])
    row = pad_length(f["spec"], run, "fp32")
    assert row.passed, row


@pytest.mark.parametrize("fam", FAMILIES)
def test_tflite_files_and_bucket_meta(store, fam):
    spec = store.family(fam)["spec"]
    converted = store.convert(fam, "tflite", "fp32")
    meta, files = converted.meta, converted.files
    out_dir = files[0].parent
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in files)  # no temp dirs left
    assert meta["shapes"] == "buckets" and meta["batch"] == spec.golden_batch
    buckets = str(meta["buckets"]).split(",")
    assert [p.name for p in files] == [f"model-{b}.tflite" for b in buckets]
    main = {d.name: d.main_length for d in spec.dims}
    dim = spec.dim(str(meta["bucket_dims"]))
    first = int(buckets[0])
    assert first == main[dim.name] or (dim.name in str(meta["padded_dims"]) and first >= main[dim.name])
    masked = {m.axis for m in spec.masks}
    assert (dim.name in str(meta["padded_dims"]).split(",")) == (dim.name in masked)
    assert meta["layout_min_sqnr_db"] >= 60


def test_tflite_outputs_are_mapped_by_name(store):
    """onnx2tf orders textclf's outputs `lid`, `sentiment`; the runner returns them by signature name."""
    from ai_edge_litert.interpreter import Interpreter

    f = store.family("textclf")
    converted = store.convert("textclf", "tflite", "fp32")
    sig = Interpreter(model_path=str(converted.files[0])).get_signature_list()["serving_default"]
    assert sorted(sig["outputs"]) == ["lid", "sentiment"]
    case = f["cases"][0]
    got = TFLITE.load(converted, f["ctx"])(case.inputs)
    n_tokens = case.inputs["input_ids"].shape[1]
    assert got["sentiment"].shape == (4, 3) and got["lid"].shape == (4, n_tokens, 3)
    ref = f["golden"][0][2]
    assert np.allclose(got["sentiment"], ref["sentiment"], atol=1e-4)


def test_tflite_enhancer_io_stays_in_spec_layout(store):
    """onnx2tf makes the NCW waveform NWC; the runner transposes both ways, verified per output."""
    f = store.family("enhancer")
    converted = store.convert("enhancer", "tflite", "fp32")
    assert "in.waveform:0,2,1" in converted.meta["layout"] and "out.enhanced:0,2,1" in converted.meta["layout"]
    case = f["cases"][0]
    got = TFLITE.load(converted, f["ctx"])(case.inputs)["enhanced"]
    assert got.shape == case.inputs["waveform"].shape
    assert np.abs(got - f["golden"][0][2]["enhanced"]).max() < 1e-4


def test_tflite_runner_takes_other_batches_and_lengths(store):
    """Batch is fixed at 4 in the files: the runner pads or splits; masked lengths pad to a bucket."""
    from mobilesdk.capture import run_torch
    from mobilesdk.golden import make_batch

    f = store.family("textclf")
    run = TFLITE.load(store.convert("textclf", "tflite", "fp32"), f["ctx"])
    for batch, n in ((1, 5), (6, 40)):
        valid = {"tokens": [max(1, n - 2 * i) for i in range(batch)]}
        inputs = make_batch(f["spec"], {"tokens": n}, valid, seed=7)
        got, ref = run(inputs), run_torch(f["module"], f["spec"], inputs)
        assert got["lid"].shape == ref["lid"].shape and got["sentiment"].shape == ref["sentiment"].shape
        assert np.abs(got["sentiment"] - ref["sentiment"]).max() < 1e-4


def test_tflite_runner_rejects_a_length_without_bucket(store):
    f = store.family("enhancer")
    run = TFLITE.load(store.convert("enhancer", "tflite", "fp32"), f["ctx"])
    with pytest.raises(ValueError, match="no TFLite bucket holds samples=2048"):
        run({"waveform": np.zeros((4, 1, 2048), np.float32)})


def test_tflite_failure_leaves_no_files(store, tmp_path, monkeypatch):
    from converters import tflite
    from mobilesdk.errors import MobileSDKError

    f = store.family("textclf")
    store.convert("textclf", "tflite", "fp32")  # SavedModels cached: this conversion is fast
    calls = []

    def failing(saved, ctx, plan, bucket, precision):
        calls.append(bucket)
        if len(calls) > 1:
            raise tflite.ConversionError("injected failure")
        return saved.fp32

    monkeypatch.setattr(tflite, "to_tflite", failing)
    with pytest.raises(MobileSDKError, match="injected"):
        TFLITE.convert(f["ep"], f["ctx"], "fp32", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_int8_static_needs_calibration(store, tmp_path):
    from mobilesdk.errors import ConfigError

    f = store.family("textclf")
    ctx = BuildContext(model="textclf", spec=f["spec"], example_inputs=f["ctx"].example_inputs, calibration=[])
    with pytest.raises(ConfigError, match="calibration"):
        TFLITE.convert(f["ep"], ctx, "int8-static", tmp_path / "x")


def test_check_and_versions():
    assert TFLITE.check() is None and ONNX.check() is None
    versions = TFLITE.versions()
    assert versions["onnx2tf"] != "not installed" and versions["ai-edge-litert"] != "not installed"
    assert set(TFLITE.precisions) == {"fp32", "fp16", "int8-dynamic", "int8-static"}
