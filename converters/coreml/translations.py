"""Overrides of coremltools 9 torch translations, active for the duration of one `ct.convert`."""
from __future__ import annotations

import contextlib

import numpy as np


@contextlib.contextmanager
def translation_fixes():
    """Override coremltools 9 torch translations for the duration of one `ct.convert`.

    * `constant_pad_nd` with symbolic pad amounts on a rank > 1 tensor raises "Dynamic padding for
      n-dimensional tensors is not supported" (frontend/torch/ops.py `pad`), e.g. for
      `F.pad(x[B, N], (0, f(N)))`. A concat with `fill` tensors whose shapes come from `shape(x)` is
      exact and runs everywhere. Static pads keep the stock translation.
    * `floordiv` on symbolic sizes (`n // 320`) is aliased to `floor_divide`, which casts the result
      to fp32 ("Pytorch's floor_divide always returns fp32", ops.py `floor_divide`); the float size
      then breaks `slice` ("concat op should share the same data type"). `div(rounding_mode="floor")`
      casts integer tensors to fp32 the same way (ops.py `div`), so Wav2Vec2's output lengths became
      float indices ("Tensors in 'values' of the stack op should share the same data type"), which
      fp16 could round. Integer operands keep an int32 `floor_div`, as in PyTorch; float
      operands keep the stock translation.
    * `where` with a symbolic shape skips broadcasting (ops.py `where`), and MIL `select` types its
      result from `a` and `b` only, so `torch.where(mask[B,1,T,T], 0.0, finfo.min)` (Hugging Face
      masks) became a select typed as a scalar. Inputs smaller than the broadcast shape get zeros
      shaped like the larger inputs added (exact), so cond, a and b share one shape, as MIL select
      wants. `where.self`, `where.ScalarOther` (unregistered) and `where.ScalarSelf` take the same
      route. Static shapes keep the stock translation, which broadcasts with `tile`.
    * `index_put` with one bool mask (`hidden_states[~mask] = 0`, Wav2Vec2) goes through `non_zero` and
      `scatter_nd`, and requires the mask's symbolic shape to equal x's ("index shape (is0, is10, 32)
      must match input shape (is0, is8, 32)"), which the symbol propagation rarely proves. When the
      values do not depend on how many elements are selected (rank <= x.rank - mask.rank), it is
      `select(mask, values, x)` (with accumulate, `x + values`): exact, and no data-dependent shape.
    * `__and__.Tensor` (`mask_a & mask_b`, kept by `run_decompositions({})`) is checked for support as
      "__and__" (utils.py `sanitize_op_kind` strips dunders only without an overload suffix), though
      it is then dispatched as "and", which exists. "__and__" is made an alias of "and".
    * `new_ones` has no translation ("Unsupported fx node new_ones"); Hugging Face masks start from
      `q_idx.new_ones((), dtype=torch.bool)`. `zeros` and `new_zeros` ignore the `dtype` keyword
      (ops.py `zeros`, `new_zeros`; torch.export passes it as one), so Wav2Vec2's int32
      `torch.zeros(..., dtype=mask.dtype)` became fp32 and broke its `index_put` ("updates must have
      the same data type as data"). All three become a `fill` in the requested dtype.
    * `log_softmax` is `log(softmax(x))` (ops.py `log_softmax`): in fp16 a probability under 6e-8
      underflows to 0 and its log becomes -103 (a CTC head's confident frames: PyTorch -17, the
      artifact -103, SQNR -5 dB). It becomes `x - max - log(sum(exp(x - max)))`, as PyTorch computes it.
    """
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY

    table = _TORCH_OPS_REGISTRY.name_to_func_mapping

    def pad(context, node):
        try:
            return saved["pad"](context, node)
        except NotImplementedError as e:
            if "Dynamic padding" not in str(e):
                raise
            _pad_by_concat(context, node)

    def floor_divide(context, node):  # fixed upstream after 9.0: apple/coremltools#2570
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs

        if not _int_floor_div(context, node, *_get_inputs(context, node, expected=2)):
            saved["floor_divide"](context, node)

    def div(context, node):  # fixed upstream after 9.0 (by casting the fp32 result back): apple/coremltools#2733
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs, _get_kwinputs

        inputs = _get_inputs(context, node, expected=[2, 3])
        mode = _get_kwinputs(context, node, "rounding_mode", default=inputs[2:] or [None])[0]
        if getattr(mode, "val", mode) != "floor" or not _int_floor_div(context, node, *inputs[:2]):
            saved["div"](context, node)

    def where(context, node):  # the device rejects such selects on the Neural Engine: onnxsim/onnxsim#1399
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs
        from coremltools.converters.mil.mil import types
        from coremltools.converters.mil.mil.ops.defs._utils import promote_input_dtypes
        from coremltools.converters.mil.mil.types.symbolic import any_symbolic

        inputs = _get_inputs(context, node)
        if len(inputs) != 3 or not any(any_symbolic(v.shape) for v in inputs):  # where(cond) is nonzero
            return saved["where"](context, node)
        cond, a, b = inputs
        a, b = promote_input_dtypes([a, b])
        cond = cond if types.is_bool(cond.dtype) else mb.cast(x=cond, dtype="bool")
        cond, a, b = _broadcast_by_adding_zeros([cond, a, b])
        context.add(mb.select(cond=cond, a=a, b=b, name=node.name))

    def index_put(context, node):  # as microsoft/onnxscript#2018 does; the assertion: apple/coremltools#2310
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs, _get_kwinputs
        from coremltools.converters.mil.mil import types

        inputs = _get_inputs(context, node, expected=(3, 4))
        x, indices, values = inputs[:3]
        accumulate = _get_kwinputs(context, node, "accumulate", default=inputs[3:] or [False])[0]
        mask = indices[0] if len(indices) == 1 else None
        if mask is None or not types.is_bool(mask.dtype) or values.rank > x.rank - mask.rank:
            return saved["index_put"](context, node)
        mask = mask if mask.rank == x.rank else mb.expand_dims(x=mask, axes=list(range(mask.rank, x.rank)))
        values = values if values.dtype == x.dtype else mb.cast(x=values, dtype=types.builtin_to_string(x.dtype))
        values = mb.add(x=x, y=values) if getattr(accumulate, "val", accumulate) else values
        mask, values, x = _broadcast_by_adding_zeros([mask, values, x])
        context.add(mb.select(cond=mask, a=values, b=x, name=node.name))

    def log_softmax(context, node):
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import _get_inputs

        x, axis = _get_inputs(context, node, min_expected=2)[:2]
        axes = [int(axis.val)]
        shifted = mb.sub(x=x, y=mb.reduce_max(x=x, axes=axes, keep_dims=True))
        total = mb.reduce_sum(x=mb.exp(x=shifted), axes=axes, keep_dims=True)
        context.add(mb.sub(x=shifted, y=mb.log(x=total), name=node.name))

    fixes = {"pad": pad, "constant_pad_nd": pad, "floordiv": floor_divide, "floor_divide": floor_divide, "div": div,
             **dict.fromkeys(("where", "where.self", "where.scalarother", "where.scalarself"), where),
             "zeros": _filled(0, size_at=0), "new_zeros": _filled(0, size_at=1),
             "new_ones": _filled(1, size_at=1),  # added upstream after 9.0: apple/coremltools#2668
             "index_put": index_put, "__and__": table["and"], "log_softmax": log_softmax, "_log_softmax": log_softmax}
    saved = {k: table.get(k) for k in fixes}  # None: coremltools 9 has no translation
    try:
        table.update(fixes)
        yield
    finally:
        for k, fn in saved.items():
            if fn is None:
                del table[k]
            else:
                table[k] = fn


def _int_floor_div(context, node, x, y) -> bool:
    """An int32 `floor_div` for integer operands, as in PyTorch (False, adding nothing, for floats)."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    x, y = (mb.const(val=np.int32(v)) if isinstance(v, (int, np.integer)) else v for v in (x, y))
    if not (types.is_int(x.dtype) and types.is_int(y.dtype)):
        return False
    x, y = (v if v.dtype == types.int32 else mb.cast(x=v, dtype="int32") for v in (x, y))
    context.add(mb.floor_div(x=x, y=y, name=node.name))
    return True


def _broadcast_by_adding_zeros(values):
    """`values` broadcast to one shape: each gets zeros shaped like every value it does not cover
    added (`logical_or` with False for bool), which is exact and works on symbolic shapes."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types
    from coremltools.converters.mil.mil.ops.defs._utils import broadcast_shapes

    out = []
    for v in values:
        for other in values:
            if tuple(broadcast_shapes(v.shape, other.shape)) != tuple(v.shape):
                zero = types.nptype_from_builtin(v.dtype)(0)
                zeros = mb.fill_like(ref_tensor=other, value=zero)
                v = mb.logical_or(x=v, y=zeros) if types.is_bool(v.dtype) else mb.add(x=v, y=zeros)
        out.append(v)
    return out


def _filled(value: int, size_at: int):
    """The translation of aten.zeros(size, *, dtype) (size_at 0) or aten.new_zeros / new_ones(x, size, *, dtype)
    (size_at 1): a `fill` of `value` in `dtype`, by default float32 (zeros) or x's dtype (new_*)."""

    def translate(context, node):
        from coremltools.converters.mil import Builder as mb
        from coremltools.converters.mil.frontend.torch.ops import (
            NUM_TO_NUMPY_DTYPE, _get_inputs, _get_kwinputs, _make_fill_op,
        )
        from coremltools.converters.mil.mil import types

        inputs = _get_inputs(context, node, min_expected=size_at + 1)
        size = inputs[size_at]
        dtype = _get_kwinputs(context, node, "dtype", default=[None])[0]
        if dtype is not None:
            dtype = NUM_TO_NUMPY_DTYPE[dtype.val]
        else:
            dtype = types.nptype_from_builtin(inputs[0].dtype) if size_at else np.float32
        # MIL fill: fp16, fp32, int32, bool; the fp16 compute precision is a later pass
        dtype = {"b": np.bool_, "i": np.int32, "u": np.int32}.get(np.dtype(dtype).kind, np.float32)
        if not isinstance(size, list) and size.val is not None and size.val.size == 0:  # a scalar
            context.add(mb.const(val=dtype(value), name=node.name))
        else:
            context.add(_make_fill_op(size, dtype(value), node.name))

    return translate


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
