"""Drift localisation's core (mobilesdk/drift.py): module boundaries, pairing by shape, valid
positions, and PyTorch's side of the table, on small graphs written here."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mobilesdk.drift import ROOT, Positions, TapOp, Taps, compare, fit, module_boundaries, torch_taps
from mobilesdk.spec import Dim, MaskSpec, ModelSpec, OutputSpec, TensorSpec


def taps(ops, outputs, values) -> Taps:
    return Taps(ops, outputs, lambda inputs, names: {n: values[n] for n in names if n in values})


def test_a_boundary_is_what_a_module_hands_outward():
    ops = [TapOp("a", "Conv", ("m", "m.conv"), ("x",), ("t1",)),
           TapOp("b", "Relu", ("m",), ("t1",), ("t2",)),
           TapOp("c", "Add", ("m",), ("t2", "x"), ("t3",)),  # t2 stays inside m: not m's boundary
           TapOp("d", "Linear", ("head",), ("t3",), ("y",))]
    b = module_boundaries(taps(ops, ("y",), {}))
    assert b["m.conv"].tensors == ("t1",) and b["m"].tensors == ("t3",) and b["head"].tensors == ("y",)
    assert b[ROOT].tensors == ("y",) and b["m"].op == "Add" and b["m"].position == 2


def test_fit_undoes_one_transpose_and_refuses_ambiguity():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    same, how = fit(x, (2, 3, 4))
    assert same is x and how == ""
    back, how = fit(np.transpose(x, (0, 2, 1)), (2, 3, 4))
    assert np.array_equal(back, x) and "transposed" in how
    assert fit(x, (2, 3, 5)) is None
    cube = np.zeros((2, 3, 3, 3), dtype=np.float32)  # several transposes fit; channels-last is preferred
    assert fit(cube, (2, 3, 3, 3))[1] == ""
    assert fit(np.zeros((3, 2, 2)), (2, 3, 2)) is None  # (1,0,2) and (1,2,0) both fit: no guess


def spec_with_mask() -> ModelSpec:
    return ModelSpec(
        name="m",
        inputs=(TensorSpec("x", "float32", ("batch", "frames", 4), kind="audio"),
                TensorSpec("mask", "int32", ("batch", "frames"), kind="mask")),
        outputs=(OutputSpec("y", "float32", ("batch", "frames", 4)),),
        dims=(Dim("batch", 1, 4), Dim("frames", 2, 16)),
        masks=(MaskSpec("mask", "frames"),),
    )


def test_positions_keep_only_valid_frames_whatever_the_layout():
    mask = np.array([[1] * 10, [1] * 6 + [0] * 4, [1] * 3 + [0] * 7], dtype=np.int32)
    positions = Positions(spec_with_mask(), {"x": np.zeros((3, 10, 4), np.float32), "mask": mask})
    ref = np.ones((3, 10, 4), np.float32)
    got = ref.copy()
    got[1, 6:] = 1e6  # padding may hold anything
    r, g = positions.select(ref, got)
    assert r.size == (10 + 6 + 3) * 4 and np.array_equal(r, g)
    time_major = np.ones((10, 3, 4), np.float32)  # [frames, batch, hidden], as the aligner's layers
    assert positions.select(time_major, time_major)[0].size == (10 + 6 + 3) * 4


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.first = torch.nn.Linear(4, 8)
        self.shared = torch.nn.Linear(8, 8)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x, mask):
        h = self.shared(self.shared(torch.relu(self.first(x))))  # one module called twice
        return self.head(h) * mask.unsqueeze(-1).to(h.dtype)


@pytest.fixture(scope="module")
def captured():
    from mobilesdk.capture import capture

    spec = spec_with_mask()
    inputs = {"x": np.random.default_rng(0).standard_normal((2, 8, 4)).astype(np.float32),
              "mask": np.array([[1] * 8, [1] * 5 + [0] * 3], dtype=np.int32)}
    return capture(Net().eval(), spec, inputs), spec, inputs


def test_pytorch_side_names_modules_calls_ops_and_source_lines(captured):
    ep, spec, inputs = captured
    ref = torch_taps(ep, spec)
    b = module_boundaries(ref)
    assert {"module.first", "module.shared", "module.shared@1", "module.head", ROOT} <= set(b)
    assert b["module.first"].op == "aten.linear" and b["module.first"].source.endswith(f"test_drift.py:{Net.forward.__code__.co_firstlineno + 1}")


def as_a_format(ref: Taps, read=None) -> Taps:
    """PyTorch's graph named as formats name it: module paths without call indices."""
    return Taps([dataclasses.replace(op, scope=tuple(s.split("@")[0] for s in op.scope)) for op in ref.ops],
                ref.outputs, read or ref.read)


def test_an_artifact_equal_to_pytorch_has_no_row_below_threshold_and_a_changed_layer_is_named(captured):
    ep, spec, inputs = captured
    ref = torch_taps(ep, spec)
    rows = compare(ref, as_a_format(ref), spec, inputs, 60.0)
    assert [r.module for r in rows] == ["first", "shared", "shared@1", "head", ROOT]
    assert all(r.sqnr_db == 200.0 and not r.below for r in rows if r.module != "shared")
    shared = rows[1]  # its output goes straight into its own next call: a format never shows it
    assert shared.sqnr_db is None and "next call" in shared.note

    def read_broken(inputs, names):  # the second call of `shared` drifts, and everything after it
        values = ref.read(inputs, names)
        return {n: v + 0.1 if n in after else v for n, v in values.items()}

    b = module_boundaries(ref)
    order = [op.name for op in ref.ops]
    after = set(order[order.index(b["module.shared@1"].tensors[0]):])
    rows = compare(ref, as_a_format(ref, read_broken), spec, inputs, 60.0)
    first = next(r for r in rows if r.first)
    assert first.module == "shared@1" and [r.module for r in rows if r.below][:1] == ["shared@1"]
    assert not next(r for r in rows if r.module == "shared").below


def test_a_format_without_intermediates_says_so_and_names_nothing(captured):
    from converters.base import BuildContext, Converter
    from mobilesdk.pipeline.explain import explain_artifact, render

    class Opaque(Converter):
        name, precisions = "opaque", ("fp32",)

    ep, spec, inputs = captured
    e = explain_artifact(ep, BuildContext("m", spec, inputs), Opaque(), "fp32", [], "main", inputs)
    text = render(e)
    assert e.first is None and not e.rows and "`opaque` shows no intermediate tensors" in text
    assert text.endswith("no module could be compared, so no layer is named") and "below the threshold" not in text
