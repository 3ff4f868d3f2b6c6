"""numpy kernels of MIL's math ops: elementwise, activations, normalisation, reductions, linear
algebra, convolution and pooling (see `kernels.py` for the contract)."""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from converters.coreml.mil.kernels import as_int, as_ints, as_str, kernel, norm_axis


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
    kernel(_name)((lambda f: lambda a: f(a["x"], a["y"]))(_fn))


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
    kernel(_name)((lambda f: lambda a: f(a["x"]))(_fn))

# unary ops with an epsilon: log(x + eps), 1/sqrt(x + eps), 1/(x + eps) (MIL defaults)
kernel("log")(lambda a: np.log(a["x"] + a.get("epsilon", np.float32(1e-45))))
kernel("rsqrt")(lambda a: 1.0 / np.sqrt(a["x"] + a.get("epsilon", np.float32(1e-12))))
kernel("inverse")(lambda a: 1.0 / (a["x"] + a.get("epsilon", np.float32(1e-4))))
kernel("clip")(lambda a: np.minimum(np.maximum(a["x"], a["alpha"]), a["beta"]))
kernel("threshold")(lambda a: np.maximum(a["x"], a["alpha"]))
kernel("cast")(lambda a: a["x"])  # the evaluator casts every output to its declared dtype
kernel("select")(lambda a: np.where(a["cond"], a["a"], a["b"]))
kernel("leaky_relu")(lambda a: np.where(a["x"] >= 0, a["x"], a["alpha"] * a["x"]))
kernel("elu")(lambda a: np.where(a["x"] > 0, a["x"], a["alpha"] * (np.exp(a["x"]) - 1)))
kernel("thresholded_relu")(lambda a: np.where(a["x"] > a["alpha"], a["x"], 0))
kernel("clamped_relu")(lambda a: np.minimum(np.where(a["x"] >= 0, a["x"], a["alpha"] * a["x"]), a["beta"]))
kernel("linear_activation")(lambda a: a["alpha"] * a["x"] + a["beta"])
kernel("scaled_tanh")(lambda a: a["alpha"] * np.tanh(a["beta"] * a["x"]))
kernel("sigmoid_hard")(lambda a: np.clip(a["alpha"] * a["x"] + a["beta"], 0, 1))


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
    x, mode = a["x"].astype(np.float64), as_str(a.get("mode", "EXACT"))
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
    ax = norm_axis(a.get("axis", -1), x.ndim)
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    return e / np.sum(e, axis=ax, keepdims=True)


def _norm(x, axes, eps):
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@kernel("layer_norm")
def _layer_norm(a):
    x = a["x"]
    axes = tuple(norm_axis(v, x.ndim) for v in as_ints(a["axes"])) if "axes" in a else tuple(range(x.ndim))
    y = _norm(x, axes, a.get("epsilon", np.float32(1e-5)))
    if "gamma" in a:
        y = y * a["gamma"]
    if "beta" in a:
        y = y + a["beta"]
    return y


def _channel_affine(y, a, rank):
    """The optional per-channel gamma and beta of instance_norm and batch_norm."""
    if "gamma" in a:
        y = y * _channel(a["gamma"], rank)
    if "beta" in a:
        y = y + _channel(a["beta"], rank)
    return y


@kernel("instance_norm")
def _instance_norm(a):
    x = a["x"]
    return _channel_affine(_norm(x, tuple(range(2, x.ndim)), a.get("epsilon", np.float32(1e-5))), a, x.ndim)


@kernel("batch_norm")
def _batch_norm(a):
    x = a["x"]
    eps = a.get("epsilon", np.float32(1e-5))
    return _channel_affine((x - _channel(a["mean"], x.ndim)) / np.sqrt(_channel(a["variance"], x.ndim) + eps), a, x.ndim)


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
        axes = None if a.get("axes") is None else tuple(norm_axis(v, x.ndim) for v in as_ints(a["axes"]))
        return fn(x, axis=axes, keepdims=bool(a.get("keep_dims", False)))

    return k


for _name, _fn in _REDUCE.items():
    kernel(_name)(_reduce(_fn))


def _reduce_arg(fn):
    def k(a):
        x = a["x"]
        ax = norm_axis(a.get("axis", -1), x.ndim)
        out = fn(x, axis=ax)
        return np.expand_dims(out, ax) if bool(a.get("keep_dims", False)) else out

    return k


kernel("reduce_argmax")(_reduce_arg(np.argmax))
kernel("reduce_argmin")(_reduce_arg(np.argmin))


@kernel("cumsum")
def _cumsum(a):
    x = a["x"]
    ax = norm_axis(a.get("axis", 0), x.ndim)
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
    return np.einsum(as_str(a["equation"]), *a["values"])


def _pads(a, x_spatial, eff_kernel, strides) -> list[tuple[int, int]]:
    """Per spatial axis (before, after) padding for conv/pooling `pad_type`."""
    kind = as_str(a.get("pad_type", "valid"))
    n = len(x_spatial)
    if kind == "valid":
        return [(0, 0)] * n
    if kind == "custom":
        p = as_ints(a.get("pad", [0] * 2 * n))
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
    strides = as_ints(a.get("strides", [1] * sp))
    dil = as_ints(a.get("dilations", [1] * sp))
    groups = as_int(a.get("groups", 1))
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
    strides = as_ints(a.get("strides", [1] * sp))
    dil = as_ints(a.get("dilations", [1] * sp))
    groups = as_int(a.get("groups", 1))
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
    kind = as_str(a.get("pad_type", "valid"))
    if kind == "same":
        raise NotImplementedError("conv_transpose pad_type=same")
    p = as_ints(a["pad"]) if kind == "custom" and "pad" in a else [0] * 2 * sp
    lengths = [f - p[2 * i] - p[2 * i + 1] for i, f in enumerate(full)]
    if a.get("output_shape") is not None:
        lengths = as_ints(a["output_shape"])[2:]
    crop = tuple(slice(p[2 * i], p[2 * i] + lengths[i]) for i in range(sp))
    y = out[(slice(None),) * 2 + crop]
    if any(y.shape[2 + i] != lengths[i] for i in range(sp)):  # output_shape past the full result
        y = np.pad(y, [(0, 0), (0, 0)] + [(0, lengths[i] - y.shape[2 + i]) for i in range(sp)])
    return y + _channel(a["bias"], y.ndim) if "bias" in a else y


def _pool(reduce_fn, fill):
    def k(a):
        x = a["x"]
        ks = as_ints(a["kernel_sizes"])
        sp = len(ks)
        strides = as_ints(a.get("strides", [1] * sp))
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


kernel("avg_pool")(_pool("avg", 0.0))
kernel("max_pool")(_pool("max", -np.inf))
kernel("l2_pool")(_pool("l2", 0.0))


@kernel("scaled_dot_product_attention")
def _sdpa(a):
    q, k, v = a["query"], a["key"], a["value"]
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) / math.sqrt(q.shape[-1])
    if "attn_mask" in a:
        m = a["attn_mask"]
        scores = np.where(m, scores, -np.inf) if m.dtype == bool else scores + m
    return np.matmul(_softmax({"x": scores, "axis": -1}), v)
