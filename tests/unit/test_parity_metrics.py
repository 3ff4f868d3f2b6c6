import numpy as np
import pytest

from mobilesdk.golden import calibration_batches, golden_cases, valid_from_inputs
from mobilesdk.parity import SQNR_CAP_DB, Stats, combine, compare, judge, sqnr_db
from mobilesdk.spec import Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec


def spec():
    return ModelSpec(
        name="toy",
        inputs=(
            TensorSpec("x", "float32", ("batch", "t"), kind="audio"),
            TensorSpec("mask", "int32", ("batch", "t"), kind="mask"),
        ),
        outputs=(
            OutputSpec("frames", "float32", ("batch", "t", 4), metric="lid", position_axis=1),
            OutputSpec("pooled", "float32", ("batch", 4), metric="top1"),
        ),
        dims=(Dim("batch", 1, 8), Dim("t", 8, 64, default=40)),
        masks=(MaskSpec("mask", "t"),),
    )


def test_sqnr():
    ref = np.ones(100)
    assert sqnr_db(ref, ref) == SQNR_CAP_DB
    assert sqnr_db(ref, ref * 1.1) == pytest.approx(20.0)  # noise 0.1 of signal -> 20 dB


def test_padded_positions_do_not_count():
    s = spec()
    case = golden_cases(s)[0]
    valid = valid_from_inputs(s, case.inputs)["t"]
    assert valid[0] == 40 and min(valid) < 40  # the golden batch mixes lengths
    ref = np.random.default_rng(0).standard_normal((4, 40, 4)).astype(np.float32)
    got = ref.copy()
    for row, n in enumerate(valid):
        got[row, n:] = 1e6  # garbage in padding only
    stats = compare(s, s.outputs[0], case.inputs, ref, got)
    assert stats.sqnr_db == SQNR_CAP_DB and stats.agreement == 1.0 and stats.max_abs == 0.0
    got[1, 0, np.argmin(ref[1, 0])] += 10.0  # one valid position changes its argmax
    stats = compare(s, s.outputs[0], case.inputs, ref, got)
    assert stats.agreement < 1.0 and not judge(stats, 60.0, 1.0)


def test_non_finite_outputs_fail():
    s = spec()
    case = golden_cases(s)[0]
    ref = np.ones((4, 4), dtype=np.float32)
    got = ref.copy()
    got[2, 1] = np.nan
    stats = compare(s, s.outputs[1], case.inputs, ref, got)
    assert not stats.finite and not judge(stats, -1000.0, 0.0)


def test_worst_case_over_cases():
    s = spec()
    case = golden_cases(s)[0]
    ref = np.eye(4, dtype=np.float32)
    good = compare(s, s.outputs[1], case.inputs, ref, ref)
    bad = compare(s, s.outputs[1], case.inputs, ref, ref * 0.5)
    w = combine([good, bad])
    assert w.sqnr_db == bad.sqnr_db and w.max_abs == bad.max_abs


def test_agreement_is_pooled_over_every_case_decision():
    """A short case with one flip in 6 decisions must not read as 83% when 100 more agree; a real
    failure rate still fails."""
    s = spec()
    case = golden_cases(s)[0]
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(4, 4)).astype(np.float32)
    flipped = ref.copy()
    flipped[0] = -flipped[0]  # row 0 picks another class
    one_flip = Stats(0.0, 0.0, 40.0, 5 / 6, True, decisions=6)
    clean_case = Stats(0.0, 0.0, 50.0, 1.0, True, decisions=100)
    pooled = combine([one_flip, clean_case])
    assert pooled.agreement == pytest.approx(105 / 106) and pooled.decisions == 106
    assert pooled.sqnr_db == 40.0 and judge(pooled, 20.0, 0.95)
    bad = compare(s, s.outputs[1], case.inputs, ref, flipped)  # 1 of 4 rows: 75%
    assert bad.decisions == 4 and bad.agreement == 0.75
    assert not judge(combine([bad, bad, one_flip]), 20.0, 0.95)


def test_golden_is_deterministic_and_right_padded():
    s = spec()
    a, b = golden_cases(s), golden_cases(s)
    assert [c.name for c in a] == ["main", "odd", "min", "max"]
    assert a[1].lengths["t"] != a[0].lengths["t"]
    for ca, cb in zip(a, b):
        for k in ca.inputs:
            np.testing.assert_array_equal(ca.inputs[k], cb.inputs[k])
        mask = ca.inputs["mask"]
        assert (np.diff(mask, axis=1) <= 0).all()  # ones then zeros
        assert (ca.inputs["x"][mask == 0] == 0).all()


def test_calibration_spans_lengths_and_mask_lengths():
    s = spec()
    batches = calibration_batches(s, 8)
    lengths = {b["x"].shape[1] for b in batches}
    valid = [v for b in batches for v in valid_from_inputs(s, b)["t"]]
    assert len(lengths) > 3 and max(lengths) == 64
    assert min(valid) < 16 and max(valid) >= 48


def test_agreement_forgives_exact_ties_but_not_real_flips():
    from mobilesdk.parity import decision_agreement

    ref = np.array([[0.54658973, 0.54658884, -1.0], [2.0, 1.0, 0.0]])
    tie_flip = np.array([[0.5465890, 0.5465895, -1.0], [2.0, 1.0, 0.0]])
    real_flip = np.array([[0.54658973, 0.54658884, -1.0], [1.0, 2.0, 0.0]])
    assert decision_agreement(ref, tie_flip) == 1.0
    assert decision_agreement(ref, real_flip) == 0.5
