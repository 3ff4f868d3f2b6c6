"""Overrides of coremltools 9 torch translations, active for the duration of one `ct.convert`."""
from __future__ import annotations

import contextlib

import numpy as np


@contextlib.contextmanager
def translation_fixes():
    """Override two coremltools 9 torch translations for the duration of one `ct.convert`.

    * `constant_pad_nd` with symbolic pad amounts on a rank > 1 tensor raises "Dynamic padding for
      n-dimensional tensors is not supported" (frontend/torch/ops.py `pad`), e.g. for
      `F.pad(x[B, N], (0, f(N)))`. A concat with `fill` tensors whose shapes come from `shape(x)` is
      exact and runs everywhere. Static pads keep the stock translation.
    * `floordiv` on symbolic sizes (`n // 320`) is aliased to `floor_divide`, which casts the result
      to fp32 ("Pytorch's floor_divide always returns fp32", ops.py `floor_divide`); the float size
      then breaks `slice` ("concat op should share the same data type"). Integer operands keep an
      int32 `floor_div`, as in PyTorch; float operands keep the stock translation.
    """
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    table = _TORCH_OPS_REGISTRY.name_to_func_mapping
    saved = {k: table[k] for k in ("pad", "constant_pad_nd", "floordiv", "floor_divide") if k in table}

    def pad(context, node):
        try:
            return saved["pad"](context, node)
        except NotImplementedError as e:
            if "Dynamic padding" not in str(e):
                raise
            _pad_by_concat(context, node)

    def floor_divide(context, node):
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs
        from coremltools.converters.mil.mil import types

        x, y = _get_inputs(context, node, expected=2)
        x, y = (mb.const(val=np.int32(v)) if isinstance(v, (int, np.integer)) else v for v in (x, y))
        if not (types.is_int(x.dtype) and types.is_int(y.dtype)):
            return saved["floor_divide"](context, node)
        x, y = (v if v.dtype == types.int32 else mb.cast(x=v, dtype="int32") for v in (x, y))
        context.add(mb.floor_div(x=x, y=y, name=node.name))

    fixes = {"pad": pad, "constant_pad_nd": pad, "floordiv": floor_divide, "floor_divide": floor_divide}
    try:
        for k in saved:
            table[k] = fixes[k]
        yield
    finally:
        table.update(saved)


def _pad_by_concat(context, node) -> None:
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.frontend.torch.ops import _get_inputs
    from coremltools.converters.mil.mil import types

    inputs = _get_inputs(context, node)
    x, pads = inputs[0], inputs[1]
    if node.kind == "constant_pad_nd":
        value = inputs[2] if len(inputs) > 2 else None
    else:  # aten.pad(x, pad, mode="constant", value=None)
        mode = inputs[2] if len(inputs) > 2 else "constant"
        mode = mode.val if hasattr(mode, "val") else mode
        if mode not in (None, "constant"):
            raise NotImplementedError(f"Dynamic padding for n-dimensional tensors in mode {mode}")
        value = inputs[3] if len(inputs) > 3 else None
    value = 0.0 if value is None else float(value.val if hasattr(value, "val") else value)
    fill_value = types.nptype_from_builtin(x.dtype)(value)
    pads = list(pads) if isinstance(pads, (list, tuple)) else [int(v) for v in pads.val]
    out = x
    for i in range(len(pads) // 2):  # torch order: the last axis first, (before, after)
        axis = x.rank - 1 - i
        parts = []
        for amount in (pads[2 * i], pads[2 * i + 1]):
            if isinstance(amount, (int, np.integer)) and amount == 0:
                parts.append(None)
                continue
            if isinstance(amount, (int, np.integer)) and amount < 0:
                raise NotImplementedError("negative padding with a dynamic pad")
            amount = mb.const(val=np.array([amount], dtype=np.int32)) if isinstance(amount, (int, np.integer)) else (
                mb.reshape(x=mb.cast(x=amount, dtype="int32"), shape=[1]))
            shape = mb.shape(x=out)
            dims = [amount if j == axis else mb.slice_by_index(x=shape, begin=[j], end=[j + 1]) for j in range(x.rank)]
            parts.append(mb.fill(shape=mb.concat(values=dims, axis=0), value=fill_value))
        values = [p for p in (parts[0], out, parts[1]) if p is not None]
        out = mb.concat(values=values, axis=axis) if len(values) > 1 else out
    context.add(mb.identity(x=out, name=node.name))
