import pytest

from mobilesdk.spec import DerivedDim, Dim, ModelSpec, OutputSpec, TensorSpec, ThresholdOverride, spec_from_json


def make_spec(metric="lid", **output_kw):
    return ModelSpec(
        name="toy",
        inputs=(TensorSpec("x", "float32", ("batch", "t"), kind="audio"), TensorSpec("mask", "int32", ("batch", "t"), kind="mask")),
        outputs=(OutputSpec("y", "float32", ("batch", "t", 3), metric=metric, position_axis=1, **output_kw),),
        dims=(Dim("batch", 1, 8), Dim("t", 8, 64, default=32)),
    )


def test_loosening_a_threshold_needs_a_reason():
    with pytest.raises(ValueError, match="without a reason"):
        make_spec(thresholds=(ThresholdOverride("int8-static", sqnr_db=10.0),))
    spec = make_spec(thresholds=(ThresholdOverride("int8-static", sqnr_db=10.0, reason="tiny model"),))
    assert spec.threshold("y", "int8-static")[0].sqnr_db == 10.0
    assert spec.threshold("y", "int8-static")[1] == "tiny model"


def test_tightening_needs_no_reason_and_defaults_apply_elsewhere():
    spec = make_spec(thresholds=(ThresholdOverride("fp32", sqnr_db=80.0),))
    assert spec.threshold("y", "fp32")[0].sqnr_db == 80.0
    assert spec.threshold("y", "fp16")[0].sqnr_db == 35.0
    assert spec.threshold("y", "int8-dynamic")[0].agreement == 0.95


def test_undeclared_dim_and_bad_metric_are_rejected():
    with pytest.raises(ValueError, match="undeclared dim `nope`"):
        ModelSpec("bad", (TensorSpec("x", "float32", ("nope",), kind="audio"),), (), (Dim("batch", 1, 2),))
    with pytest.raises(ValueError, match="metric"):
        make_spec(metric="accuracy")


def test_derived_dim_formula_matches_the_iterated_conv_stack():
    stack = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
    d = DerivedDim("frames", "samples", stack)
    assert (d.stride, d.receptive_field) == (320, 400)
    for n in range(400, 40000, 37):
        assert d.length(n) == (n - 400) // 320 + 1


def test_odd_length_is_in_range_and_on_stride():
    for dim in (Dim("s", 1024, 16384, multiple_of=16), Dim("t", 2, 64), Dim("a", 1600, 32000)):
        n = dim.odd_length()
        assert dim.check(n)
        assert (n // dim.multiple_of) % 2 == 1 or dim.multiple_of == 1
        assert n not in (dim.min, dim.max)


def test_spec_round_trips_through_json():
    spec = make_spec(thresholds=(ThresholdOverride("fp16", agreement=1.0),))
    assert spec_from_json(spec.to_json()) == spec
    assert spec_from_json(spec.to_json()).digest() == spec.digest()


@pytest.mark.parametrize("kw", [dict(metric="sqnr", ctc_blank=0), dict(metric="frame_argmax", ctc_blank=3),
                                dict(metric="frame_argmax", ctc_blank=-1)])
def test_a_ctc_blank_needs_a_frame_argmax_head_and_one_of_its_classes(kw):
    metric = kw.pop("metric")
    with pytest.raises(ValueError, match="ctc_blank"):
        make_spec(metric, **kw)
    assert make_spec("frame_argmax", ctc_blank=2).outputs[0].ctc_blank == 2


def test_labels_name_a_category_inputs_values_one_each():
    def spec(kind, labels):
        return ModelSpec("toy", (TensorSpec("c", "int32", ("batch",), kind=kind, low=1, high=3, labels=labels),),
                         (OutputSpec("y", "float32", ("batch",)),), (Dim("batch", 1, 8),))

    assert spec("category", ("en", "zh")).inputs[0].labels == ("en", "zh")
    for kind, labels in (("category", ("en",)), ("tokens", ("en", "zh"))):
        with pytest.raises(ValueError, match="labels"):
            spec(kind, labels)
