"""The diagnostic ONNX converter: dynamic axes kept, a silent static axis reported (parity of every
family is in tests/backends/test_matrix.py)."""
from __future__ import annotations

import pytest

from mobilesdk.models import FAMILIES
from tests.conftest import require

ONNX = require("onnx")


@pytest.mark.parametrize("fam", sorted(FAMILIES))
def test_onnx_graph_keeps_dynamic_dims(harness, fam):
    from converters.onnx.export import graph_input_dims

    spec = harness.family(fam).spec
    converted = harness.convert(fam, "onnx", "fp32")
    dims = graph_input_dims(converted.files[0])
    dynamic = {d.name for d in spec.dims if d.min != d.max}
    for t in spec.inputs:
        for axis, s in enumerate(t.shape):
            saved = dims[t.name][axis]
            assert isinstance(saved, str) if s in dynamic else saved == s, (t.name, axis, dims[t.name])
    assert converted.meta["shapes"] == "dynamic" and ONNX.diagnostic


def test_onnx_static_axis_is_reported(tmp_path, harness, monkeypatch):
    """docs/toolchain-traps.md#6: a declared dynamic axis that comes out static is an error naming the dim, not a silent pass."""
    import onnx

    from converters.onnx.export import check_dynamic
    from mobilesdk.errors import MobileSDKError

    f = harness.family("textclf")
    model = onnx.load(str(harness.convert("textclf", "onnx", "fp32").files[0]))
    for i in model.graph.input:
        i.type.tensor_type.shape.dim[1].dim_value = 32  # what the silent specialisation looks like
    path = tmp_path / "static.onnx"
    onnx.save(model, str(path))
    with pytest.raises(MobileSDKError, match="dim `tokens` of input `input_ids` static"):
        check_dynamic(path, f.spec, "textclf")
