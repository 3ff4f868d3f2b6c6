"""Core ML converter specifics (the families x precisions run in tests/backends/test_matrix.py).

Parity runs in the converter's own runtime: Core ML predict on macOS (both compute-unit sets), the
MIL reference evaluator elsewhere. Skips as a whole when coremltools is unusable (`check()` says why).
"""
from __future__ import annotations

import math
import platform
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from converters.base import BuildContext
from mobilesdk import capture, golden
from mobilesdk.pipeline.check import ReferenceCase, evaluate
from mobilesdk.spec import DerivedDim, Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec
from tests.conftest import describe, require

CONVERTER = require("coreml")

import coremltools as ct  # noqa: E402

ON_MAC = CONVERTER.runtime() == "coreml-predict"


def test_saved_package_facts(harness):
    for precision in CONVERTER.precisions:
        conv = harness.convert("enhancer", "coreml", precision)
        assert conv.files[0].name == "model.mlpackage" and conv.files[0].is_dir()
        assert conv.meta["evaluator"] == CONVERTER.runtime() and conv.meta["shapes"].startswith("dynamic")
        assert "mil_ops_unevaluated" not in conv.meta, conv.meta["mil_ops_unevaluated"]
        if precision in ("int8-weights", "palettize6"):
            assert conv.meta["compressed_weights"] > 0 and conv.meta["weight_threshold"] == 64


@pytest.mark.skipif(not ON_MAC, reason="Core ML predict runs only on macOS; elsewhere the matrix uses the MIL evaluator")
def test_every_compute_unit_passes_on_macos(harness):
    for name in ("enhancer", "textclf", "aligner"):
        f = harness.family(name)
        for unit, run in CONVERTER.compute_unit_runners(harness.convert(name, "coreml", "fp32"), f.spec).items():
            rows = evaluate(run, f.spec, "fp32", f.golden)
            assert all(r.passed for r in rows), f"{name} {unit}: {describe(rows)}"


def test_per_channel_prelu_falls_back_to_the_default_decompositions(tmp_path):
    """Stock coremltools rejects per-channel PReLU on [B,C,T] (docs/toolchain-traps.md#1); the default decomposition
    table turns it into where/mul first, which converts and is exact."""
    spec = ModelSpec(
        name="prelu",
        inputs=(TensorSpec("x", "float32", ("batch", 3, "n"), kind="audio"),),
        outputs=(OutputSpec("y", "float32", ("batch", 3, "n"), metric="sqnr", position_axis=2),),
        dims=(Dim("batch", 1, 2, default=2), Dim("n", 8, 32, default=16)),
    )
    module = nn.Sequential(nn.Conv1d(3, 3, 1), nn.PReLU(3)).eval()
    with torch.no_grad():
        module[1].weight.copy_(torch.tensor([0.1, 0.2, 0.3]))
    example = {"x": np.random.default_rng(0).standard_normal((2, 3, 16)).astype(np.float32)}
    ep = capture.capture(module, spec, example)
    ctx = BuildContext(model="prelu", spec=spec, example_inputs=example)
    conv = CONVERTER.convert(ep, ctx, "fp32", tmp_path)
    assert conv.meta["decompositions"] == "default"
    x = np.random.default_rng(1).standard_normal((2, 3, 29)).astype(np.float32)
    np.testing.assert_allclose(CONVERTER.runner(conv, ctx.spec)({"x": x})["y"], module(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-6)


def test_saved_package_names_metadata_and_float32_io(harness):
    f = harness.family("textclf")
    conv = harness.convert("textclf", "coreml", "fp16")
    model = ct.models.MLModel(str(conv.files[0]), skip_model_load=True)
    desc = model.get_spec().description
    assert [i.name for i in desc.input] == [t.name for t in f.spec.inputs]
    assert [o.name for o in desc.output] == [o.name for o in f.spec.outputs]
    array = ct.proto.FeatureTypes_pb2.ArrayFeatureType
    assert all(i.type.multiArrayType.dataType == array.INT32 for i in desc.input)
    assert all(o.type.multiArrayType.dataType == array.FLOAT32 for o in desc.output)
    meta = model.user_defined_metadata
    assert meta["mobilesdk.spec_digest"] == f.spec.digest() and meta["mobilesdk.model"] == "textclf"
    assert conv.meta["shapes"] == "dynamic: input_ids[1..8, 1..64]; attention_mask[1..8, 1..64]"
    assert conv.meta["compute_precision"] == "fp16" and conv.meta["min_deployment_target"] == "iOS17"


def test_runtime_is_decided_where_it_runs():
    if platform.system() == "Darwin":
        assert CONVERTER.runtime() in ("coreml-predict", "mil-reference")
    else:  # Core ML predict exists only on macOS
        assert CONVERTER.runtime() == "mil-reference"


def test_unknown_op_fails_the_row_with_not_evaluated(harness, monkeypatch):
    """An op without a kernel must fail the parity row, never pass it: here `tanh` is taken away."""
    from converters.coreml.mil.kernels import KERNELS
    from mobilesdk.pipeline.check import ArtifactCheck, ConvertResult, check_artifact

    f = harness.family("enhancer")
    conv = harness.convert("enhancer", "coreml", "fp32")
    monkeypatch.setattr(CONVERTER.__class__, "runtime", lambda self: "mil-reference")
    monkeypatch.delitem(KERNELS, "tanh")
    with pytest.raises(Exception, match=r"not evaluated: tanh"):
        CONVERTER.runner(conv, f.spec)
    art = check_artifact(ArtifactCheck(CONVERTER, "fp32", ConvertResult(conv, ""), f.spec, f.golden,
                                       conv.files[0].parent, lambda arrays: capture.run_torch(f.module, f.spec, arrays)))
    assert not art.passed and "not evaluated: tanh" in art.note, art.note


def test_perturbed_weight_in_saved_package_fails_fp32(harness, tmp_path_factory):
    """Flip one weight inside weights/weight.bin: the evaluator reads the artifact, so parity must fail."""
    f = harness.family("enhancer")
    conv = harness.convert("enhancer", "coreml", "fp32")
    copy = tmp_path_factory.mktemp("perturbed") / "model.mlpackage"
    shutil.copytree(conv.files[0], copy)
    weights = next(copy.rglob("weight.bin"))
    blob = bytearray(weights.read_bytes())
    w = f.module.encoder[0].weight.detach().numpy().astype(np.float32)
    at = bytes(blob).find(w.tobytes())
    assert at >= 0, "the first conv's weights are stored verbatim in fp32"
    value = np.frombuffer(bytes(blob[at : at + 4]), dtype=np.float32)[0]
    blob[at : at + 4] = np.float32(value + 0.5).tobytes()
    weights.write_bytes(bytes(blob))
    rows = evaluate(CONVERTER.runner(SimpleNamespace(files=[copy], meta={}), f.spec), f.spec, "fp32", f.golden)
    assert not all(r.passed for r in rows), describe(rows)
    assert rows[0].sqnr_db < 60.0


# the fp16 attention-mask trap -----------------------------------------------------------------------
class TinyBert(nn.Module):
    """BERT-style encoder with the Hugging Face extended attention mask: (1 - mask) * fill, added to scores."""

    def __init__(self, fill: float, vocab: int = 64, hidden: int = 32, heads: int = 2, layers: int = 2):
        super().__init__()
        torch.manual_seed(0)
        self.fill, self.heads = fill, heads
        self.tok, self.pos = nn.Embedding(vocab, hidden), nn.Embedding(16, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList(
            nn.ModuleDict(dict(
                qkv=nn.Linear(hidden, 3 * hidden), out=nn.Linear(hidden, hidden), n1=nn.LayerNorm(hidden),
                ff=nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden)),
                n2=nn.LayerNorm(hidden),
            ))
            for _ in range(layers)
        )
        self.pooler, self.cls = nn.Linear(hidden, hidden), nn.Linear(hidden, 3)

    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape
        x = self.norm(self.tok(input_ids) + self.pos(torch.arange(t))[None])
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * self.fill
        d = x.shape[-1] // self.heads
        for layer in self.layers:
            q, k, v = (z.reshape(b, t, self.heads, d).transpose(1, 2) for z in layer["qkv"](x).chunk(3, dim=-1))
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            x = layer["n1"](x + layer["out"]((probs @ v).transpose(1, 2).reshape(b, t, -1)))
            x = layer["n2"](x + layer["ff"](x))
        return self.cls(torch.tanh(self.pooler(x[:, 0]))), x


BERT_SPEC = ModelSpec(
    name="tiny_bert",
    inputs=(
        TensorSpec("input_ids", "int32", ("batch", "tokens"), kind="tokens", low=1, high=64),
        TensorSpec("attention_mask", "int32", ("batch", "tokens"), kind="mask"),
    ),
    outputs=(
        OutputSpec("logits", "float32", ("batch", 3), metric="sqnr"),
        OutputSpec("hidden", "float32", ("batch", "tokens", 32), metric="sqnr", position_axis=1),
    ),
    dims=(Dim("batch", 1, 4, default=4), Dim("tokens", 2, 16, default=12)),
    masks=(MaskSpec("attention_mask", "tokens"),),
)


def bert_parity(fill: float, precision: str, tmp_path_factory):
    module = TinyBert(fill).eval()
    cases = golden.golden_cases(BERT_SPEC)
    gold = [ReferenceCase(c.name, c.inputs, capture.run_torch(module, BERT_SPEC, c.inputs)) for c in cases]
    assert all(np.isfinite(v).all() for g in gold for v in g.outputs.values()), "PyTorch fp32 is finite"
    ep = capture.capture(module, BERT_SPEC, cases[0].inputs)
    ctx = BuildContext(model="tiny_bert", spec=BERT_SPEC, example_inputs=cases[0].inputs)
    conv = CONVERTER.convert(ep, ctx, precision, tmp_path_factory.mktemp(f"bert-{precision}"))
    runner = CONVERTER.runner(conv, ctx.spec)
    rows = evaluate(runner, BERT_SPEC, precision, gold)
    print(f"tiny_bert fill={fill:g} {precision} [{CONVERTER.runtime()}]: {describe(rows)}")
    return rows, runner(cases[0].inputs)


def test_fp16_finfo_min_mask_fails_where_minus_1e4_passes(tmp_path_factory):
    """(1 - mask) * finfo(float32).min is -inf in fp16, and 0 * -inf is NaN at every valid position."""
    rows, out = bert_parity(torch.finfo(torch.float32).min, "fp16", tmp_path_factory)
    assert not any(r.passed for r in rows)
    assert not np.isfinite(out["logits"]).any()
    rows, out = bert_parity(-1e4, "fp16", tmp_path_factory)
    assert all(r.passed for r in rows), describe(rows)
    assert np.isfinite(out["logits"]).all()


# the translation workarounds and the macOS selection logic ------------------------------------------
class DynamicPadSlice(nn.Module):
    """F.pad with a length-dependent amount on [B, N], then a slice by `n // 2`: both break stock
    coremltools 9 ("Dynamic padding for n-dimensional tensors"; floordiv cast to fp32)."""

    def forward(self, x):
        n = x.shape[-1]
        frames = (n - 4) // 2 + 1
        y = nn.functional.pad(x * 2.0, (0, frames * 2 + 4 - n))
        return (y[..., :frames] + 1.0,)


PAD_SPEC = ModelSpec(
    name="pad",
    inputs=(TensorSpec("x", "float32", ("batch", "n"), kind="audio"),),
    outputs=(OutputSpec("y", "float32", ("batch", "frames"), metric="sqnr"),),
    dims=(Dim("batch", 1, 4, default=2), Dim("n", 8, 64, default=21)),
    derived_dims=(DerivedDim("frames", source="n", conv_stack=((4, 2),)),),
)


def test_dynamic_pad_and_integer_floordiv_translate(tmp_path_factory):
    module = DynamicPadSlice()
    example = {"x": np.random.default_rng(0).standard_normal((2, 21)).astype(np.float32)}
    ep = capture.capture(module, PAD_SPEC, example)
    ctx = BuildContext(model="pad", spec=PAD_SPEC, example_inputs=example)
    conv = CONVERTER.convert(ep, ctx, "fp32", tmp_path_factory.mktemp("pad"))
    assert "floor_div" in conv.meta["mil_ops"] and "fill" in conv.meta["mil_ops"]
    runner = CONVERTER.runner(conv, ctx.spec)
    for n in (8, 21, 64):
        x = np.random.default_rng(n).standard_normal((3, n)).astype(np.float32)
        want = module(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(runner({"x": x})["y"], want, atol=1e-6)


def convert_fp32(module, spec, example, tmp_path_factory):
    """Converts with the empty decomposition table (the translations under test, not the default
    table's rewrites) and returns (runner, MIL program)."""
    from converters.coreml.mil import load_program

    ep = capture.capture(module, spec, example)
    conv = CONVERTER.convert(ep, BuildContext(model=spec.name, spec=spec, example_inputs=example), "fp32",
                             tmp_path_factory.mktemp(spec.name))
    assert conv.meta["decompositions"] == "none", conv.meta
    return CONVERTER.runner(conv, spec), load_program(conv.files[0])[0]


def assert_selects_are_same_shaped(program):
    """cond, a, b and the declared result of every `select` have one rank (Core ML's Neural Engine
    rejects broadcasting selects: onnxsim/onnxsim#1399)."""
    selects = [op for op in program.functions["main"].operations if op.op_type == "select"]
    assert selects
    for op in selects:
        ranks = {len(op.cond.shape), len(op.a.shape), len(op.b.shape), len(op.outputs[0].shape)}
        assert len(ranks) == 1, op


class ScalarWhereMask(nn.Module):
    """The Hugging Face mask idiom: `x.new_ones((), dtype=bool) & mask`, then `where(mask[B,1,1,T],
    zeros(()), full((), finfo.min))` (where.self with 0-d a and b), added to [B,1,T,T] scores; the
    padded rows are zeroed with `where(mask[B,T,1], y, 0.0)` (where.ScalarOther)."""

    def forward(self, x, attention_mask):
        keep = x.new_ones((), dtype=torch.bool) & attention_mask.bool()[:, None, None, :]
        bias = torch.where(keep, x.new_zeros(()), x.new_full((), torch.finfo(x.dtype).min))
        h = x[:, None]
        y = (torch.softmax(h @ h.transpose(-1, -2) + bias, dim=-1) @ h)[:, 0]
        return (torch.where(attention_mask[..., None] > 0, y, 0.0),)


WHERE_SPEC = ModelSpec(
    name="where_mask",
    inputs=(TensorSpec("x", "float32", ("batch", "tokens", 4), kind="audio"),
            TensorSpec("attention_mask", "int32", ("batch", "tokens"), kind="mask")),
    outputs=(OutputSpec("y", "float32", ("batch", "tokens", 4), metric="sqnr", position_axis=1),),
    dims=(Dim("batch", 1, 4, default=2), Dim("tokens", 2, 16, default=8)),
    masks=(MaskSpec("attention_mask", "tokens"),),
)


def test_scalar_where_new_ones_and_mask_translate(tmp_path_factory):
    """where(cond[B,1,1,T], 0-d, 0-d) with symbolic shapes was typed as a scalar select (which the MIL
    evaluator refuses); new_ones, `__and__` and where.ScalarOther had no translation under the empty
    decomposition table."""
    module, rng = ScalarWhereMask(), np.random.default_rng(0)
    example = {"x": rng.standard_normal((2, 8, 4)).astype(np.float32), "attention_mask": np.ones((2, 8), np.int32)}
    runner, program = convert_fp32(module, WHERE_SPEC, example, tmp_path_factory)
    assert_selects_are_same_shaped(program)
    for b, t, lengths in ((2, 8, (8, 3)), (3, 13, (13, 1, 7)), (1, 2, (2,))):
        x = rng.standard_normal((b, t, 4)).astype(np.float32)
        mask = (np.arange(t)[None] < np.array(lengths)[:, None]).astype(np.int32)
        want = module(torch.from_numpy(x), torch.from_numpy(mask))[0].numpy()
        np.testing.assert_allclose(runner({"x": x, "attention_mask": mask})["y"], want, atol=1e-5)


class FrameMask(nn.Module):
    """The Wav2Vec2 frame mask: frame counts by integer floor division, an int32 `zeros` set to 1 at
    count - 1 (index_put with int indices), flipped cumsum, then `h[~mask] = 0` (a bool index_put)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(1, 3, 4, stride=2)

    def forward(self, x, attention_mask):
        h = self.conv(x[:, None]).transpose(1, 2)
        frames = torch.div(attention_mask.sum(-1) - 4, 2, rounding_mode="floor") + 1
        mask = torch.zeros(h.shape[:2], dtype=attention_mask.dtype)
        mask[(torch.arange(h.shape[0]), frames - 1)] = 1
        mask = mask.flip([-1]).cumsum(-1).flip([-1]).bool()
        h[~mask] = 0.0
        return (h,)


FRAME_SPEC = ModelSpec(
    name="frame_mask",
    inputs=(TensorSpec("x", "float32", ("batch", "n"), kind="audio"),
            TensorSpec("attention_mask", "int32", ("batch", "n"), kind="mask")),
    outputs=(OutputSpec("y", "float32", ("batch", "frames", 3), metric="sqnr", position_axis=1),),
    # even n: for odd n torch.export cannot prove the flipped cumsum's guards (docs/toolchain-traps.md#5)
    dims=(Dim("batch", 1, 4, default=2), Dim("n", 8, 64, multiple_of=2, default=22)),
    derived_dims=(DerivedDim("frames", source="n", conv_stack=((4, 2),)),),
    masks=(MaskSpec("attention_mask", "n"),),
)


def test_integer_lengths_zeros_dtype_and_mask_index_put_translate(tmp_path_factory):
    """Integer `div(rounding_mode="floor")` gave fp32 indices, `zeros(dtype=int32)` gave fp32 and the
    bool-mask index_put needed provably equal symbolic shapes: all three used to fail."""
    module, rng = FrameMask().eval(), np.random.default_rng(0)
    example = {"x": rng.standard_normal((2, 22)).astype(np.float32), "attention_mask": np.ones((2, 22), np.int32)}
    runner, program = convert_fp32(module, FRAME_SPEC, example, tmp_path_factory)
    ops = {op.op_type for op in program.functions["main"].operations}
    assert {"floor_div", "scatter_nd", "select"} <= ops and "non_zero" not in ops, sorted(ops)
    assert_selects_are_same_shaped(program)
    for b, n, lengths in ((2, 22, (22, 9)), (3, 64, (64, 4, 33)), (1, 8, (8,))):
        x = rng.standard_normal((b, n)).astype(np.float32)
        mask = (np.arange(n)[None] < np.array(lengths)[:, None]).astype(np.int32)
        with torch.no_grad():
            want = module(torch.from_numpy(x), torch.from_numpy(mask))[0].numpy()
        got = runner({"x": x, "attention_mask": mask})["y"]
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert (got[want == 0] == 0).all()


def test_worse_of_picks_the_farther_compute_unit_per_output():
    from converters.coreml.predict import worse_of as _worse_of

    ref = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    units = {
        "CPU_ONLY": lambda feeds: {"a": np.array([1.0, 2.1]), "b": np.array([3.0, 4.0])},
        "ALL": lambda feeds: {"a": np.array([1.0, 2.0]), "b": np.array([np.nan, 4.0])},
    }
    got = _worse_of(units, lambda feeds: ref)({})
    np.testing.assert_array_equal(got["a"], [1.0, 2.1])
    assert np.isnan(got["b"][0])


def test_fp16_mask_rewrite_makes_the_fp16_artifact_pass_the_mask_suite(tmp_path):
    """Issue 5: finfo.min fills overflow in fp16 (edge rows go NaN); after the lint's rewrite the same
    model's fp16 .mlpackage passes every check of the mask suite in the MIL evaluator."""
    from mobilesdk.golden import golden_cases
    from mobilesdk.mask_lint import lint
    from mobilesdk.semantics import run_suite
    from tests.fixtures.masked_models import finfo_min_mask

    module, spec = finfo_min_mask()
    example = golden_cases(spec)[0].inputs
    reference = lambda i: capture.run_torch(module, spec, i)  # noqa: E731
    ctx = BuildContext("finfo_min_mask", spec, example)
    results = {}
    for rewrite in (False, True):
        ep = capture.capture(module, spec, example)
        assert len(lint(ep, rewrite=rewrite)) == 1
        out = tmp_path / str(rewrite)
        out.mkdir()
        runner = CONVERTER.runner(CONVERTER.convert(ep, ctx, "fp16", out), ctx.spec)
        results[rewrite] = {r.check: r for r in run_suite(spec, runner, "fp16", reference)}
    assert not results[False]["edge_rows"].passed and "non-finite" in results[False]["edge_rows"].detail
    assert all(r.passed for r in results[True].values()), results[True]


class ConfidentHead(nn.Module):
    """A CTC-like head whose logits span ~40: most classes have probabilities fp16 cannot hold."""

    def forward(self, x):
        return (torch.log_softmax(x * 40.0, dim=-1),)


HEAD_SPEC = ModelSpec(
    name="head",
    inputs=(TensorSpec("x", "float32", ("batch", "frames", 8), kind="audio"),),
    outputs=(OutputSpec("log_probs", "float32", ("batch", "frames", 8), metric="sqnr", position_axis=1),),
    dims=(Dim("batch", 1, 4, default=2), Dim("frames", 4, 16, default=8)),
)


def test_fp16_log_softmax_keeps_tiny_probabilities_as_pytorch_does(tmp_path_factory):
    """coremltools' log(softmax(x)) underflows in fp16 (-103 where PyTorch gives -20 to -40)."""
    module = ConfidentHead()
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 8, 8)).astype(np.float32)
    ep = capture.capture(module, HEAD_SPEC, {"x": x})
    ctx = BuildContext(model="head", spec=HEAD_SPEC, example_inputs={"x": x})
    conv = CONVERTER.convert(ep, ctx, "fp16", tmp_path_factory.mktemp("head"))
    got = CONVERTER.runner(conv, HEAD_SPEC)({"x": x})["log_probs"]
    want = module(torch.from_numpy(x))[0].numpy()
    assert want.min() < -25  # probabilities under fp16's smallest (6e-8, log -16.6) are there
    np.testing.assert_allclose(got, want, atol=0.1)  # fp16 rounding of values up to ~40
