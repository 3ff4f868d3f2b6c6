"""numpy kernels of MIL ops for the Core ML reference evaluator (`converters/mil_eval.py`).

Each kernel takes `a`, the op's evaluated inputs by parameter name (floats already widened to
float32, optional inputs that were not given are absent), and returns one array or a tuple of
arrays. The evaluator casts every result to the dtype the program declares for that output, which
is how fp16 programs get rounded to float16 after every op. Semantics follow the MIL op
definitions in `coremltools/converters/mil/mil/ops/defs` (iOS15..iOS18); every kernel is checked
against the PyTorch op it comes from in `tests/unit/test_mil_ops.py`.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

KERNELS: dict = {}


def kernel(*names):
    def deco(fn):
        for n in names:
            KERNELS[n] = fn
        return fn

    return deco


def _i(v) -> int:
    return int(np.asarray(v).reshape(()))


def _ints(v) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


def _axis(ax, rank: int) -> int:
    ax = _i(ax)
    return ax + rank if ax < 0 else ax


def _s(v) -> str:
    return str(np.asarray(v).reshape(()).item())


# elementwise -----------------------------------------------------------------------------------
_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "real_div": lambda x, y: np.true_divide(x, y),
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "mod": np.mod,
    "equal": np.equal,
    "not_equal": np.not_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}
for _name, _fn in _BINARY.items():
    KERNELS[_name] = (lambda f: lambda a: f(a["x"], a["y"]))(_fn)


@kernel("floor_div")
def _floor_div(a):
    x, y = a["x"], a["y"]
    if np.issubdtype(np.result_type(x, y), np.integer):
        return np.floor_divide(x, y)
    return np.floor(np.true_divide(x, y))


def _erf(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf  # exact to float64; optional
    except ImportError:
        return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float64)
    return erf(x.astype(np.float64))


def _sigmoid(x):
    x = x.astype(np.float64)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _softplus(x):
    x = x.astype(np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


_UNARY = {
    "abs": np.abs,
    "acos": np.arccos,
    "asin": np.arcsin,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "erf": _erf,
    "exp": np.exp,
    "exp2": np.exp2,
    "floor": np.floor,
    "round": np.round,  # half to even, like the MIL reference
    "sign": np.sign,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "square": np.square,
    "tan": np.tan,
    "tanh": np.tanh,
    "logical_not": np.logical_not,
    "identity": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
}
for _name, _fn in _UNARY.items():
    KERNELS[_name] = (lambda f: lambda a: f(a["x"]))(_fn)

# unary ops with an epsilon: log(x + eps), 1/sqrt(x + eps), 1/(x + eps) (MIL defaults)
KERNELS["log"] = lambda a: np.log(a["x"] + a.get("epsilon", np.float32(1e-45)))
KERNELS["rsqrt"] = lambda a: 1.0 / np.sqrt(a["x"] + a.get("epsilon", np.float32(1e-12)))
KERNELS["inverse"] = lambda a: 1.0 / (a["x"] + a.get("epsilon", np.float32(1e-4)))
KERNELS["clip"] = lambda a: np.minimum(np.maximum(a["x"], a["alpha"]), a["beta"])
KERNELS["threshold"] = lambda a: np.maximum(a["x"], a["alpha"])
KERNELS["cast"] = lambda a: a["x"]  # the evaluator casts every output to its declared dtype
KERNELS["select"] = lambda a: np.where(a["cond"], a["a"], a["b"])
KERNELS["leaky_relu"] = lambda a: np.where(a["x"] >= 0, a["x"], a["alpha"] * a["x"])
KERNELS["elu"] = lambda a: np.where(a["x"] > 0, a["x"], a["alpha"] * (np.exp(a["x"]) - 1))
KERNELS["thresholded_relu"] = lambda a: np.where(a["x"] > a["alpha"], a["x"], 0)
KERNELS["clamped_relu"] = lambda a: np.minimum(np.where(a["x"] >= 0, a["x"], a["alpha"] * a["x"]), a["beta"])
KERNELS["linear_activation"] = lambda a: a["alpha"] * a["x"] + a["beta"]
KERNELS["scaled_tanh"] = lambda a: a["alpha"] * np.tanh(a["beta"] * a["x"])
KERNELS["sigmoid_hard"] = lambda a: np.clip(a["alpha"] * a["x"] + a["beta"], 0, 1)


def _channel(v, rank):
    """A per-channel parameter [C] broadcast over axis 1 of a rank-`rank` tensor."""
    v = np.asarray(v)
    return v.reshape((1, -1) + (1,) * (rank - 2)) if v.ndim == 1 else v


@kernel("prelu")
def _prelu(a):
    x = a["x"]
    return np.where(x >= 0, x, _channel(a["alpha"], x.ndim) * x)


@kernel("softplus_parametric")
def _softplus_parametric(a):
    x = a["x"]
    return _channel(a["alpha"], x.ndim) * _softplus(_channel(a["beta"], x.ndim) * x)


@kernel("gelu")
def _gelu(a):
    x, mode = a["x"].astype(np.float64), _s(a.get("mode", "EXACT"))
    if mode == "EXACT":
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x * _sigmoid(1.702 * x)
    raise NotImplementedError(f"gelu mode {mode}")


# normalisation and softmax ---------------------------------------------------------------------
@kernel("softmax")
def _softmax(a):
    x = a["x"]
    ax = _axis(a.get("axis", -1), x.ndim)
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    return e / np.sum(e, axis=ax, keepdims=True)


def _norm(x, axes, eps):
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@kernel("layer_norm")
def _layer_norm(a):
    x = a["x"]
    axes = tuple(_axis(v, x.ndim) for v in _ints(a["axes"])) if "axes" in a else tuple(range(x.ndim))
    y = _norm(x, axes, a.get("epsilon", np.float32(1e-5)))
    if "gamma" in a:
        y = y * a["gamma"]
    if "beta" in a:
        y = y + a["beta"]
    return y


@kernel("instance_norm")
def _instance_norm(a):
    x = a["x"]
    y = _norm(x, tuple(range(2, x.ndim)), a.get("epsilon", np.float32(1e-5)))
    if "gamma" in a:
        y = y * _channel(a["gamma"], x.ndim)
    if "beta" in a:
        y = y + _channel(a["beta"], x.ndim)
    return y


@kernel("batch_norm")
def _batch_norm(a):
    x = a["x"]
    eps = a.get("epsilon", np.float32(1e-5))
    y = (x - _channel(a["mean"], x.ndim)) / np.sqrt(_channel(a["variance"], x.ndim) + eps)
    if "gamma" in a:
        y = y * _channel(a["gamma"], x.ndim)
    if "beta" in a:
        y = y + _channel(a["beta"], x.ndim)
    return y


@kernel("l2_norm")
def _l2_norm(a):
    x = a["x"]  # normalises over all but the leading (batch) axis
    axes = tuple(range(1, x.ndim)) if x.ndim > 1 else (0,)
    return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axes, keepdims=True), a.get("epsilon", np.float32(1e-6))))


# reductions ------------------------------------------------------------------------------------
_REDUCE = {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_l1_norm": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "reduce_l2_norm": lambda x, axis, keepdims: np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims)),
    "reduce_sum_square": lambda x, axis, keepdims: np.sum(np.square(x), axis=axis, keepdims=keepdims),
    "reduce_log_sum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "reduce_log_sum_exp": lambda x, axis, keepdims: _logsumexp(x, axis, keepdims),
}


def _logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _reduce(fn):
    def k(a):
        x = a["x"]
        axes = None if a.get("axes") is None else tuple(_axis(v, x.ndim) for v in _ints(a["axes"]))
        return fn(x, axis=axes, keepdims=bool(a.get("keep_dims", False)))

    return k


for _name, _fn in _REDUCE.items():
    KERNELS[_name] = _reduce(_fn)


def _reduce_arg(fn):
    def k(a):
        x = a["x"]
        ax = _axis(a.get("axis", -1), x.ndim)
        out = fn(x, axis=ax)
        return np.expand_dims(out, ax) if bool(a.get("keep_dims", False)) else out

    return k


KERNELS["reduce_argmax"] = _reduce_arg(np.argmax)
KERNELS["reduce_argmin"] = _reduce_arg(np.argmin)


@kernel("cumsum")
def _cumsum(a):
    x = a["x"]
    ax = _axis(a.get("axis", 0), x.ndim)
    if bool(a.get("reverse", False)):
        x = np.flip(x, ax)
    y = np.cumsum(x, axis=ax)
    if bool(a.get("exclusive", False)):
        y = y - x
    return np.flip(y, ax) if bool(a.get("reverse", False)) else y


# linear algebra and convolution ----------------------------------------------------------------
@kernel("linear")
def _linear(a):
    y = _mm(a["x"], a["weight"].T)
    return y + a["bias"] if "bias" in a else y


def _mm(x, w2d):
    """x [..., k] @ w2d [k, n] as one 2-D BLAS call (numpy's broadcast matmul is far slower)."""
    return (x.reshape(-1, x.shape[-1]) @ w2d).reshape(x.shape[:-1] + (w2d.shape[1],))


@kernel("matmul")
def _matmul(a):
    x, y = a["x"], a["y"]
    if bool(a.get("transpose_x", False)) and x.ndim > 1:
        x = np.swapaxes(x, -1, -2)
    if bool(a.get("transpose_y", False)) and y.ndim > 1:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


@kernel("einsum")
def _einsum(a):
    return np.einsum(_s(a["equation"]), *a["values"])


def _pads(a, x_spatial, eff_kernel, strides) -> list[tuple[int, int]]:
    """Per spatial axis (before, after) padding for conv/pooling `pad_type`."""
    kind = _s(a.get("pad_type", "valid"))
    n = len(x_spatial)
    if kind == "valid":
        return [(0, 0)] * n
    if kind == "custom":
        p = _ints(a.get("pad", [0] * 2 * n))
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    if kind in ("same", "same_lower"):
        out = []
        for size, k, s in zip(x_spatial, eff_kernel, strides):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            small, big = total // 2, total - total // 2
            out.append((small, big) if kind == "same" else (big, small))
        return out
    raise NotImplementedError(f"pad_type {kind}")


def _windows(x, kernel_shape, strides, dilations):
    """[N, C, *out, *k] views of x [N, C, *spatial] (already padded)."""
    eff = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilations)]
    sp = len(kernel_shape)
    win = sliding_window_view(x, eff, axis=tuple(range(2, 2 + sp)))
    idx = (slice(None),) * 2 + tuple(slice(None, None, s) for s in strides)
    idx += tuple(slice(None, None, d) for d in dilations)
    return win[idx]


@kernel("conv")
def _conv(a):
    x, w = a["x"], a["weight"]
    sp = x.ndim - 2
    strides = _ints(a.get("strides", [1] * sp))
    dil = _ints(a.get("dilations", [1] * sp))
    groups = _i(a.get("groups", 1))
    ks = list(w.shape[2:])
    pads = _pads(a, x.shape[2:], [(k - 1) * d + 1 for k, d in zip(ks, dil)], strides)
    x = np.pad(x, [(0, 0), (0, 0)] + pads)
    win = _windows(x, ks, strides, dil)  # [N, C, *out, *k]
    n, c = x.shape[:2]
    out_sp = win.shape[2 : 2 + sp]
    cout, cin_g = w.shape[0], c // groups
    k_size = int(np.prod(ks))
    # [N, g, cin_g, *out, *k] -> [N, g, prod(out), cin_g * prod(k)]
    win = win.reshape((n, groups, cin_g) + out_sp + tuple(ks))
    perm = (0, 1) + tuple(range(3, 3 + sp)) + (2,) + tuple(range(3 + sp, 3 + 2 * sp))
    cols = win.transpose(perm).reshape(n, groups, -1, cin_g * k_size)
    wg = w.reshape(groups, cout // groups, cin_g * k_size)
    y = np.stack([_mm(cols[:, g], wg[g].T) for g in range(groups)], axis=1)  # [N, g, prod(out), cout_g]
    y = np.swapaxes(y, -1, -2).reshape((n, cout) + out_sp)
    return y + _channel(a["bias"], y.ndim) if "bias" in a else y


@kernel("conv_transpose")
def _conv_transpose(a):
    x, w = a["x"], a["weight"]  # x [N, Cin, *D], w [Cin, Cout/g, *K]
    sp = x.ndim - 2
    strides = _ints(a.get("strides", [1] * sp))
    dil = _ints(a.get("dilations", [1] * sp))
    groups = _i(a.get("groups", 1))
    n, cin = x.shape[:2]
    ks, d_in = list(w.shape[2:]), list(x.shape[2:])
    cout_g, cin_g = w.shape[1], cin // groups
    full = [(d - 1) * s + (k - 1) * dl + 1 for d, s, k, dl in zip(d_in, strides, ks, dil)]
    out = np.zeros((n, groups, cout_g, *full), dtype=np.float32)
    xg = np.moveaxis(x.reshape((n, groups, cin_g) + tuple(d_in)), 2, -1)  # [N, g, *D, cin_g]
    wg = w.reshape((groups, cin_g, -1))  # [g, cin_g, cout_g * prod(K)]
    # every tap at once: [N, g, *D, cout_g, *K], then scatter-add each tap at its strided offset
    taps = np.stack([_mm(xg[:, g], wg[g]) for g in range(groups)], axis=1)
    taps = taps.reshape((n, groups) + tuple(d_in) + (cout_g,) + tuple(ks))
    taps = np.moveaxis(taps, 2 + sp, 2)  # [N, g, cout_g, *D, *K]
    for tap in np.ndindex(*ks):
        idx = tuple(slice(t * dl, t * dl + (dd - 1) * s + 1, s) for t, dl, dd, s in zip(tap, dil, d_in, strides))
        out[(slice(None),) * 3 + idx] += taps[(Ellipsis,) + tap]
    out = out.reshape((n, groups * cout_g) + tuple(full))
    kind = _s(a.get("pad_type", "valid"))
    if kind == "same":
        raise NotImplementedError("conv_transpose pad_type=same")
    p = _ints(a["pad"]) if kind == "custom" and "pad" in a else [0] * 2 * sp
    lengths = [f - p[2 * i] - p[2 * i + 1] for i, f in enumerate(full)]
    if a.get("output_shape") is not None:
        lengths = _ints(a["output_shape"])[2:]
    crop = tuple(slice(p[2 * i], p[2 * i] + lengths[i]) for i in range(sp))
    y = out[(slice(None),) * 2 + crop]
    if any(y.shape[2 + i] != lengths[i] for i in range(sp)):  # output_shape past the full result
        y = np.pad(y, [(0, 0), (0, 0)] + [(0, lengths[i] - y.shape[2 + i]) for i in range(sp)])
    return y + _channel(a["bias"], y.ndim) if "bias" in a else y


def _pool(reduce_fn, fill):
    def k(a):
        x = a["x"]
        ks = _ints(a["kernel_sizes"])
        sp = len(ks)
        strides = _ints(a.get("strides", [1] * sp))
        if bool(a.get("ceil_mode", False)):
            raise NotImplementedError("pooling with ceil_mode=True")
        pads = _pads(a, x.shape[2:], ks, strides)
        valid = np.pad(np.ones(x.shape[2:], dtype=np.float32), pads)
        x = np.pad(x, [(0, 0), (0, 0)] + pads, constant_values=fill)
        win = _windows(x, ks, strides, [1] * sp)
        axes = tuple(range(-sp, 0))
        if reduce_fn == "avg":
            total = np.sum(win, axis=axes)
            if bool(a.get("exclude_padding_from_average", False)):
                count = np.sum(sliding_window_view(valid, ks)[tuple(slice(None, None, s) for s in strides)], axis=axes)
                return total / count
            return total / float(np.prod(ks))
        if reduce_fn == "l2":
            return np.sqrt(np.sum(np.square(win), axis=axes))
        return np.max(win, axis=axes)

    return k


KERNELS["avg_pool"] = _pool("avg", 0.0)
KERNELS["max_pool"] = _pool("max", -np.inf)
KERNELS["l2_pool"] = _pool("l2", 0.0)


@kernel("scaled_dot_product_attention")
def _sdpa(a):
    q, k, v = a["query"], a["key"], a["value"]
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) / math.sqrt(q.shape[-1])
    if "attn_mask" in a:
        m = a["attn_mask"]
        scores = np.where(m, scores, -np.inf) if m.dtype == bool else scores + m
    return np.matmul(_softmax({"x": scores, "axis": -1}), v)


# shapes, indexing, construction ----------------------------------------------------------------
@kernel("reshape")
def _reshape(a):
    # a 0 copies the input dim counted from the right (iOS17; the same as iOS15 when ranks match),
    # or is 1 where the input has no such dim
    x, shape = a["x"], _ints(a["shape"])
    off = x.ndim - len(shape)
    shape = [(x.shape[i + off] if 0 <= i + off < x.ndim else 1) if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


KERNELS["transpose"] = lambda a: np.transpose(a["x"], _ints(a["perm"]))
KERNELS["expand_dims"] = lambda a: np.expand_dims(a["x"], tuple(_ints(a["axes"])))
KERNELS["shape"] = lambda a: np.array(a["x"].shape, dtype=np.int32)
KERNELS["tile"] = lambda a: np.tile(a["x"], _ints(a["reps"]))
KERNELS["fill"] = lambda a: np.full(_ints(a["shape"]), a.get("value", np.float32(0)))
KERNELS["fill_like"] = lambda a: np.full(a["ref_tensor"].shape, a.get("value", np.float32(0)))
KERNELS["stack"] = lambda a: np.stack(a["values"], axis=_i(a["axis"]))
KERNELS["reverse"] = lambda a: np.flip(a["x"], axis=None if a.get("axes") is None else tuple(_ints(a["axes"])))
KERNELS["range_1d"] = lambda a: np.arange(a["start"], a["end"], a["step"])
KERNELS["flatten2d"] = lambda a: a["x"].reshape(int(np.prod(a["x"].shape[: _axis(a.get("axis", 1), a["x"].ndim)])), -1)


@kernel("squeeze")
def _squeeze(a):
    x = a["x"]
    if a.get("axes") is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(_axis(v, x.ndim) for v in _ints(a["axes"])))


@kernel("concat")
def _concat(a):
    values = [np.atleast_1d(v) for v in a["values"]]  # scalars concatenate as [1]
    ax = _axis(a["axis"], values[0].ndim)
    if bool(a.get("interleave", False)):  # out[..., i * n + j, ...] = values[j][..., i, ...]
        stacked = np.stack(values, axis=ax + 1)
        shape = list(values[0].shape)
        shape[ax] *= len(values)
        return stacked.reshape(shape)
    return np.concatenate(values, axis=ax)


@kernel("split")
def _split(a):
    x = a["x"]
    ax = _axis(a["axis"], x.ndim)
    if a.get("split_sizes") is not None:
        return tuple(np.split(x, np.cumsum(_ints(a["split_sizes"]))[:-1], axis=ax))
    return tuple(np.split(x, _i(a["num_splits"]), axis=ax))


@kernel("slice_by_index")
def _slice_by_index(a):
    x = a["x"]
    r = x.ndim
    begin, end = _ints(a["begin"]), _ints(a["end"])
    stride = _ints(a["stride"]) if a.get("stride") is not None else [1] * r
    bmask, emask, smask = (
        [bool(v) for v in np.asarray(a[k]).reshape(-1)] if a.get(k) is not None else [False] * r
        for k in ("begin_mask", "end_mask", "squeeze_mask")
    )
    idx = []
    for i in range(r):
        if smask[i]:
            idx.append(begin[i])
        else:
            idx.append(slice(None if bmask[i] else begin[i], None if emask[i] else end[i], stride[i]))
    return x[tuple(idx)]


@kernel("slice_by_size")
def _slice_by_size(a):
    x = a["x"]
    begin, size = _ints(a["begin"]), _ints(a["size"])
    return x[tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))]


def _wrap(indices, size):
    indices = np.asarray(indices).astype(np.int64)
    return np.where(indices < 0, indices + size, indices)


@kernel("gather")
def _gather(a):
    x, ind = a["x"], a["indices"]
    ax = _axis(a.get("axis", 0), x.ndim)
    bd = _i(a.get("batch_dims", 0))
    ind = _wrap(ind, x.shape[ax])
    if bd == 0:
        return np.take(x, ind, axis=ax)
    lead = x.shape[:bd]
    xs = x.reshape((-1,) + x.shape[bd:])
    js = ind.reshape((-1,) + ind.shape[bd:])
    out = np.stack([np.take(xs[b], js[b], axis=ax - bd) for b in range(xs.shape[0])])
    return out.reshape(lead + out.shape[1:])


@kernel("gather_along_axis")
def _gather_along_axis(a):
    x = a["x"]
    ax = _axis(a.get("axis", 0), x.ndim)
    return np.take_along_axis(x, _wrap(a["indices"], x.shape[ax]), axis=ax)


@kernel("gather_nd")
def _gather_nd(a):
    x, ind = a["x"], np.asarray(a["indices"]).astype(np.int64)
    if _i(a.get("batch_dims", 0)) != 0:
        raise NotImplementedError("gather_nd with batch_dims > 0")
    k = ind.shape[-1]
    ind = np.where(ind < 0, ind + np.array(x.shape[:k]), ind)
    return x[tuple(np.moveaxis(ind, -1, 0))]


@kernel("scatter_along_axis")
def _scatter_along_axis(a):
    data = a["data"].copy()
    ax = _axis(a.get("axis", 0), data.ndim)
    ind = _wrap(a["indices"], data.shape[ax])
    mode = _s(a.get("mode", "add"))
    if mode != "update":
        raise NotImplementedError(f"scatter_along_axis mode {mode}")
    np.put_along_axis(data, ind, a["updates"], axis=ax)
    return data


@kernel("band_part")
def _band_part(a):
    x = a["x"]
    lower, upper = _i(a.get("lower", -1)), _i(a.get("upper", -1))
    m, n = x.shape[-2:]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return np.where(keep, x, 0)


@kernel("one_hot")
def _one_hot(a):
    ind = np.asarray(a["indices"]).astype(np.int64)
    depth = _i(a["one_hot_vector_size"])
    hot = ind[..., None] == np.arange(depth)
    out = np.where(hot, a.get("on_value", 1), a.get("off_value", 0))
    return np.moveaxis(out, -1, _axis(a.get("axis", -1), ind.ndim + 1))


@kernel("pad")
def _pad(a):
    x, p = a["x"], _ints(a["pad"])
    p = [0] * (2 * x.ndim - len(p)) + p  # pads the last len(p) / 2 axes
    pairs = [(p[2 * i], p[2 * i + 1]) for i in range(x.ndim)]
    mode = _s(a.get("mode", "constant"))
    if mode == "constant":
        return np.pad(x, pairs, constant_values=a.get("constant_val", 0))
    if mode not in ("replicate", "reflect"):
        raise NotImplementedError(f"pad mode {mode}")
    return np.pad(x, pairs, mode="edge" if mode == "replicate" else "reflect")


def _sort_order(x, axis, ascending):
    order = np.argsort(x if ascending else -x, axis=axis, kind="stable")
    return order


@kernel("argsort")
def _argsort(a):
    x = a["x"]
    return _sort_order(x, _axis(a.get("axis", -1), x.ndim), bool(a.get("ascending", False)))


@kernel("topk")
def _topk(a):
    x = a["x"]
    ax = _axis(a.get("axis", -1), x.ndim)
    order = np.take(_sort_order(x, ax, bool(a.get("ascending", False))), np.arange(_i(a.get("k", 1))), axis=ax)
    return np.take_along_axis(x, order, axis=ax), order
