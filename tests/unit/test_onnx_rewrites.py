"""converters/tflite/onnx_rewrites.py: each rewrite fires on its pattern only, and the rewritten graph
computes what the original did (onnxruntime on both). onnx2tf itself is exercised by the matrix."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from converters.tflite import onnx_rewrites  # noqa: E402
from converters.tflite.onnx_rewrites import rewrite  # noqa: E402

TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.bool_): TensorProto.BOOL,
         np.dtype(np.int64): TensorProto.INT64}


def model(nodes, inputs: dict[str, np.ndarray], output: tuple[str, np.dtype, list[int]], consts: dict):
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(k, TYPES[v.dtype], list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info(output[0], TYPES[np.dtype(output[1])], output[2])],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def run(m, feed):
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)[0]


def check(m, feed, fired: dict[str, int]):
    """The rewrites that fire, and that the rewritten graph computes the same; returns its op types."""
    out, got = rewrite(m)
    assert got == fired
    onnx.checker.check_model(out)
    assert np.array_equal(run(m, feed), run(out, feed))
    return [n.op_type for n in out.graph.node]


def padding_mask_indices(b: int, t: int) -> np.ndarray:
    """What the dynamo export's `mask[batch_idx[:, None, None, None], kv_idx[None, None, None, :]]` folds to."""
    bi, ti = np.broadcast_arrays(np.arange(b)[:, None, None, None], np.arange(t)[None, None, None, :])
    return np.stack([bi, ti], axis=-1).astype(np.int64)  # [b, 1, 1, t, 2]


def test_gathernd_of_an_enumeration_becomes_a_reshape():
    mask = np.random.default_rng(0).integers(0, 2, (4, 7)).astype(bool)
    m = model([helper.make_node("GatherND", ["mask", "idx"], ["y"])], {"mask": mask},
              ("y", np.bool_, [4, 1, 1, 7]), {"idx": padding_mask_indices(4, 7)})
    assert check(m, {"mask": mask}, {"gathernd_as_reshape": 1}) == ["Reshape"]


def test_gathernd_repeating_an_axis_becomes_reshape_and_expand():
    x = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
    idx = np.broadcast_to(padding_mask_indices(2, 5), (2, 3, 1, 5, 2)).copy()  # repeated along axis 1
    m = model([helper.make_node("GatherND", ["x", "idx"], ["y"])], {"x": x}, ("y", np.float32, [2, 3, 1, 5]),
              {"idx": idx})
    assert check(m, {"x": x}, {"gathernd_as_reshape": 1}) == ["Reshape", "Expand"]


@pytest.mark.parametrize("idx", [padding_mask_indices(4, 7)[..., ::-1, :].copy(),  # reversed: a real gather
                                 padding_mask_indices(4, 7)[..., :1]])  # partial index: gathers rows
def test_gathernd_that_gathers_is_kept(idx):
    x = np.random.default_rng(2).normal(size=(4, 7)).astype(np.float32)
    shape = list(idx.shape[:-1]) + ([] if idx.shape[-1] == 2 else [7])
    m = model([helper.make_node("GatherND", ["x", "idx"], ["y"])], {"x": x}, ("y", np.float32, shape), {"idx": idx})
    assert check(m, {"x": x}, {}) == ["GatherND"]


def test_tile_of_size_one_axes_becomes_expand():
    mask = np.random.default_rng(3).integers(0, 2, (4, 6, 1)).astype(bool)
    m = model([helper.make_node("Tile", ["m", "r"], ["y"])], {"m": mask}, ("y", np.bool_, [4, 6, 5]),
              {"r": np.array([1, 1, 5], np.int64)})
    assert check(m, {"m": mask}, {"tile_as_expand": 1}) == ["Expand"]


def test_tile_that_repeats_data_is_kept():
    x = np.random.default_rng(4).normal(size=(2, 3)).astype(np.float32)
    m = model([helper.make_node("Tile", ["x", "r"], ["y"])], {"x": x}, ("y", np.float32, [2, 6]),
              {"r": np.array([1, 2], np.int64)})
    assert check(m, {"x": x}, {}) == ["Tile"]


def boolean_index_put(mask_dtype=np.bool_):
    """`x[~keep] = 0` as torch.onnx (dynamo) exports it: NonZero -> Transpose -> ScatterND of an expanded scalar."""
    nodes = [
        helper.make_node("Not", ["keep"], ["drop"]),
        *([helper.make_node("Cast", ["drop"], ["dropf"], to=TensorProto.FLOAT)] if mask_dtype != np.bool_ else []),
        helper.make_node("NonZero", ["dropf" if mask_dtype != np.bool_ else "drop"], ["nz"]),
        helper.make_node("Transpose", ["nz"], ["idx"], perm=[1, 0]),
        helper.make_node("Reshape", ["drop", "flat"], ["dflat"]),
        helper.make_node("Cast", ["dflat"], ["dint"], to=TensorProto.INT64),
        helper.make_node("ReduceSum", ["dint"], ["count"], keepdims=1),
        helper.make_node("Expand", ["zero", "count"], ["upd"]),
        helper.make_node("ScatterND", ["x", "idx", "upd"], ["y"]),
    ]
    rng = np.random.default_rng(5)
    feed = {"x": rng.normal(size=(3, 4, 5)).astype(np.float32), "keep": rng.integers(0, 2, (3, 4, 5)).astype(bool)}
    consts = {"flat": np.array([-1], np.int64), "zero": np.array(0.0, np.float32)}
    return model(nodes, feed, ("y", np.float32, [3, 4, 5]), consts), feed


@pytest.mark.parametrize("mask_dtype", [np.bool_, np.float32])
def test_boolean_index_put_becomes_where(mask_dtype):
    m, feed = boolean_index_put(mask_dtype)
    ops = check(m, feed, {"masked_fill_as_where": 1})
    assert "NonZero" not in ops and "ScatterND" not in ops and "ReduceSum" not in ops  # the count chain is dead
    assert ops[-1] == "Where"


def test_scatternd_of_real_updates_is_kept():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    m = model([helper.make_node("ScatterND", ["x", "idx", "upd"], ["y"])], {"x": x}, ("y", np.float32, [4, 3]),
              {"idx": np.array([[1], [3]], np.int64), "upd": rng.normal(size=(2, 3)).astype(np.float32)})
    assert check(m, {"x": x}, {}) == ["ScatterND"]


def test_expand_to_its_own_shape_becomes_identity_and_a_real_expand_stays():
    x = np.random.default_rng(7).integers(0, 2, (2, 1, 3, 3)).astype(bool)
    nodes = [helper.make_node("Expand", ["x", "same"], ["a"]), helper.make_node("Expand", ["a", "wide"], ["y"])]
    m = model(nodes, {"x": x}, ("y", np.bool_, [2, 4, 3, 3]),
              {"same": np.array([2, 1, 3, 3], np.int64), "wide": np.array([2, 4, 3, 3], np.int64)})
    assert check(m, {"x": x}, {"expand_noop_as_identity": 1}) == ["Identity", "Expand"]


def slice_model(x, starts, ends, axes, steps, out_shape):
    consts = {"s": np.array(starts, np.int64), "e": np.array(ends, np.int64), "a": np.array(axes, np.int64),
              "st": np.array(steps, np.int64)}
    return model([helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])], {"x": x}, ("y", np.float32, out_shape),
                 consts)


@pytest.mark.parametrize("ends", [np.iinfo(np.int64).min, -7, -100])  # through index 0, as torch.flip exports it
def test_flip_becomes_gather(ends):
    x = np.random.default_rng(8).normal(size=(4, 6)).astype(np.float32)
    assert check(slice_model(x, [-1], [ends], [-1], [-1], [4, 6]), {"x": x}, {"reversed_slice_as_gather": 1}) == ["Gather"]


def test_mixed_steps_keep_a_slice_for_the_forward_axes():
    x = np.random.default_rng(9).normal(size=(5, 6, 7)).astype(np.float32)
    m = slice_model(x, [1, 5, 6], [4, 0, 0], [0, 1, 2], [2, -2, -1], [2, 3, 6])
    assert check(m, {"x": x}, {"reversed_slice_as_gather": 1}) == ["Slice", "Gather", "Gather"]


def test_forward_slice_is_kept():
    x = np.random.default_rng(10).normal(size=(4, 6)).astype(np.float32)
    assert check(slice_model(x, [1], [5], [1], [1], [4, 4]), {"x": x}, {}) == ["Slice"]


def clamp_prelu(order: str, slope_shape=(1, 4, 1)):
    """Max(x, 0) + w * Min(x, 0) on [2, 4, 6], as torch exports `clamp(x, min=0) + w * clamp(x, max=0)`."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    mul = ["w", "neg"] if order == "w first" else ["neg", "w"]
    add = ["pos", "scaled"] if order == "w first" else ["scaled", "pos"]
    nodes = [helper.make_node("Max", ["x", "zero"], ["pos"]), helper.make_node("Min", ["x", "zero"], ["neg"]),
             helper.make_node("Mul", mul, ["scaled"]), helper.make_node("Add", add, ["y"])]
    consts = {"zero": np.array(0.0, np.float32), "w": rng.uniform(0.1, 0.3, slope_shape).astype(np.float32)}
    return model(nodes, {"x": x}, ("y", np.float32, list(np.broadcast_shapes(x.shape, slope_shape))), consts), {"x": x}


@pytest.mark.parametrize("order", ["w first", "w last"])
def test_clamp_prelu_loses_its_max(order):
    m, feed = clamp_prelu(order)
    out, fired = rewrite(m)
    assert fired == {"clamp_prelu_as_residual": 1}
    onnx.checker.check_model(out)
    assert [n.op_type for n in out.graph.node] == ["Min", "Mul", "Add"]
    np.testing.assert_allclose(run(out, feed), run(m, feed), rtol=1e-6, atol=1e-7)  # rounding differs, no more


def test_clamp_prelu_with_a_slope_wider_than_x_is_kept():
    m, feed = clamp_prelu("w first", slope_shape=(1, 1, 4, 1))  # broadcasting widens the output: not x + ...
    assert check(m, feed, {}) == ["Max", "Min", "Mul", "Add"]


def test_every_rewrite_is_tested_here():
    tested = {"gathernd_as_reshape", "tile_as_expand", "masked_fill_as_where", "expand_noop_as_identity",
              "reversed_slice_as_gather", "clamp_prelu_as_residual"}
    assert {fn.__name__ for fn in onnx_rewrites.REWRITES} == tested


def test_nothing_fires_on_a_plain_graph_and_it_is_left_alone():
    x = np.ones((2, 3), np.float32)
    m = model([helper.make_node("Relu", ["x"], ["y"])], {"x": x}, ("y", np.float32, [2, 3]), {})
    out, fired = rewrite(m)
    assert fired == {} and out.SerializeToString() == m.SerializeToString() and out is not m
