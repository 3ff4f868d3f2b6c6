"""The mask suite on PyTorch itself: correct models pass, each deliberately broken one fails."""
import copy

import pytest
import torch

from mobilesdk.capture import capture, run_torch
from mobilesdk.golden import golden_cases
from mobilesdk.mask_lint import lint
from mobilesdk.semantics import run_suite, sweep_lengths
from tests.fixtures import masked_models as mm


def suite(factory, precision="fp32"):
    module, spec = factory()
    return {r.check: r for r in run_suite(spec, lambda i: run_torch(module, spec, i), precision)}


def test_a_correct_model_passes_every_check():
    rows = suite(mm.good)
    assert all(r.passed and r.applicable for r in rows.values()), rows
    assert rows["pad_length"].sqnr_db > 100 and rows["pad_content"].sqnr_db > 100


@pytest.mark.parametrize("factory, failing", [
    (mm.mask_ignored, {"pad_length", "pad_content"}),
    (mm.mask_after_softmax, {"pad_length", "pad_content"}),
    (mm.leaky_pool, {"pad_length", "pad_content"}),
])
def test_broken_models_fail(factory, failing):
    rows = suite(factory)
    assert {c for c, r in rows.items() if not r.passed} == failing
    assert all(rows[c].sqnr_db < 20 for c in failing)


def test_stock_hugging_face_bert_passes():
    pytest.importorskip("transformers")
    rows = suite(mm.tiny_bert)
    assert all(r.passed for r in rows.values()), rows


def test_a_runner_that_ignores_padding_lengths_fails_shape_sweep():
    module, spec = mm.good()

    def truncating(inputs):  # drops the last position: the output length no longer follows the input
        out = run_torch(module, spec, inputs)
        return {k: v[:, :-1] if v.ndim == 3 else v for k, v in out.items()}

    rows = {r.check: r for r in run_suite(spec, truncating, "fp32")}
    assert not rows["shape_sweep"].passed and "expected" in rows["shape_sweep"].detail


def test_a_crashing_runner_fails_each_check_with_the_reason():
    _, spec = mm.good()

    def crash(inputs):
        raise RuntimeError("delegate failed to reshape")

    rows = run_suite(spec, crash, "fp32")
    assert all(not r.passed and "delegate failed to reshape" in r.detail for r in rows)


def test_sweep_includes_an_off_stride_length_for_strided_outputs():
    from mobilesdk.models import build_model

    _, spec = build_model("aligner", "tiny", name="aligner")
    lengths = sweep_lengths(spec)["samples"]
    d = spec.dim("samples")
    assert d.min in lengths and d.max in lengths and any(n % 320 for n in lengths)


def test_fp16_lint_finds_finfo_min_and_rewriting_makes_fp16_finite():
    module, spec = mm.finfo_min_mask()
    inputs = golden_cases(spec)[0].inputs
    ep = capture(module, spec, inputs)
    findings = lint(ep)
    assert len(findings) == 1 and findings[0].op == "masked_fill.Scalar"
    assert "masked_models.py" in findings[0].source and "masked_fill" in findings[0].source
    args = tuple(torch.from_numpy(v) for v in inputs.values())
    fp32_before = ep.module()(*args)
    with pytest.raises(RuntimeError, match="overflow"):  # PyTorch itself refuses the fill in fp16
        _fully_padded_fp16(ep, args)
    fixed = lint(ep, rewrite=True)
    assert fixed[0].rewritten and lint(ep) == []
    assert torch.isfinite(_fully_padded_fp16(ep, args)).all()
    for a, b in zip(fp32_before, ep.module()(*args)):  # valid outputs unchanged in fp32
        torch.testing.assert_close(a, b)


def _fully_padded_fp16(ep, args):
    """Run the exported program in fp16 on a batch whose first row is fully padded."""
    ids, mask = (a.clone() for a in args)
    mask[0] = 0
    module = copy.deepcopy(ep.module()).to(torch.float16)  # ep.module() shares the ep's weights
    with torch.no_grad():
        logits, tags = module(ids, mask)
    return tags


def test_lint_is_silent_on_safe_masks():
    module, spec = mm.good()  # fills with -1e4
    assert lint(capture(module, spec, golden_cases(spec)[0].inputs)) == []


def test_pad_length_only_pads_longer_when_the_main_length_is_short():
    """textclf small: main length 32 lies below the suite's base length 64; it must not pad 'down'."""
    from mobilesdk.models import build_model

    module, spec = build_model("textclf", "small", name="textclf")
    rows = {r.check: r for r in run_suite(spec, lambda i: run_torch(module, spec, i), "fp32")}
    assert rows["pad_length"].passed and "crashed" not in rows["pad_length"].detail
    assert "tokens 64 padded to 67, 192" in rows["pad_length"].detail
