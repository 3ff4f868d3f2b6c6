"""numpy kernels of MIL's shape, indexing and construction ops (reshape, concat, gather, pad, ...).

See `kernels.py` for the kernel contract.
"""
from __future__ import annotations

import numpy as np

from converters.coreml.mil.kernels import as_int, as_ints, as_str, kernel, norm_axis


# shapes, indexing, construction ----------------------------------------------------------------
@kernel("reshape")
def _reshape(a):
    # a 0 copies the input dim counted from the right (iOS17; the same as iOS15 when ranks match),
    # or is 1 where the input has no such dim
    x, shape = a["x"], as_ints(a["shape"])
    off = x.ndim - len(shape)
    shape = [(x.shape[i + off] if 0 <= i + off < x.ndim else 1) if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


kernel("transpose")(lambda a: np.transpose(a["x"], as_ints(a["perm"])))
kernel("expand_dims")(lambda a: np.expand_dims(a["x"], tuple(as_ints(a["axes"]))))
kernel("shape")(lambda a: np.array(a["x"].shape, dtype=np.int32))
kernel("tile")(lambda a: np.tile(a["x"], as_ints(a["reps"])))
kernel("fill")(lambda a: np.full(as_ints(a["shape"]), a.get("value", np.float32(0))))
kernel("fill_like")(lambda a: np.full(a["ref_tensor"].shape, a.get("value", np.float32(0))))
kernel("stack")(lambda a: np.stack(a["values"], axis=as_int(a["axis"])))
kernel("reverse")(lambda a: np.flip(a["x"], axis=None if a.get("axes") is None else tuple(as_ints(a["axes"]))))
kernel("range_1d")(lambda a: np.arange(a["start"], a["end"], a["step"]))
kernel("flatten2d")(lambda a: a["x"].reshape(int(np.prod(a["x"].shape[: norm_axis(a.get("axis", 1), a["x"].ndim)])), -1))


@kernel("squeeze")
def _squeeze(a):
    x = a["x"]
    if a.get("axes") is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(norm_axis(v, x.ndim) for v in as_ints(a["axes"])))


@kernel("concat")
def _concat(a):
    values = [np.atleast_1d(v) for v in a["values"]]  # scalars concatenate as [1]
    ax = norm_axis(a["axis"], values[0].ndim)
    if bool(a.get("interleave", False)):  # out[..., i * n + j, ...] = values[j][..., i, ...]
        stacked = np.stack(values, axis=ax + 1)
        shape = list(values[0].shape)
        shape[ax] *= len(values)
        return stacked.reshape(shape)
    return np.concatenate(values, axis=ax)


@kernel("split")
def _split(a):
    x = a["x"]
    ax = norm_axis(a["axis"], x.ndim)
    if a.get("split_sizes") is not None:
        return tuple(np.split(x, np.cumsum(as_ints(a["split_sizes"]))[:-1], axis=ax))
    return tuple(np.split(x, as_int(a["num_splits"]), axis=ax))


@kernel("slice_by_index")
def _slice_by_index(a):
    x = a["x"]
    r = x.ndim
    begin, end = as_ints(a["begin"]), as_ints(a["end"])
    stride = as_ints(a["stride"]) if a.get("stride") is not None else [1] * r
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
    begin, size = as_ints(a["begin"]), as_ints(a["size"])
    return x[tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))]


def _wrap(indices, size):
    indices = np.asarray(indices).astype(np.int64)
    return np.where(indices < 0, indices + size, indices)


@kernel("gather")
def _gather(a):
    x, ind = a["x"], a["indices"]
    ax = norm_axis(a.get("axis", 0), x.ndim)
    bd = as_int(a.get("batch_dims", 0))
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
    ax = norm_axis(a.get("axis", 0), x.ndim)
    return np.take_along_axis(x, _wrap(a["indices"], x.shape[ax]), axis=ax)


@kernel("gather_nd")
def _gather_nd(a):
    x, ind = a["x"], np.asarray(a["indices"]).astype(np.int64)
    if as_int(a.get("batch_dims", 0)) != 0:
        raise NotImplementedError("gather_nd with batch_dims > 0")
    k = ind.shape[-1]
    ind = np.where(ind < 0, ind + np.array(x.shape[:k]), ind)
    return x[tuple(np.moveaxis(ind, -1, 0))]


@kernel("scatter_along_axis")
def _scatter_along_axis(a):
    data = a["data"].copy()
    ax = norm_axis(a.get("axis", 0), data.ndim)
    ind = _wrap(a["indices"], data.shape[ax])
    mode = as_str(a.get("mode", "add"))
    if mode != "update":
        raise NotImplementedError(f"scatter_along_axis mode {mode}")
    np.put_along_axis(data, ind, a["updates"], axis=ax)
    return data


_SCATTER_MODES = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "max": np.maximum,
                  "min": np.minimum}


@kernel("scatter_nd")
def _scatter_nd(a):
    # updates[i..., :] goes to data[indices[i..., :]], a K-index into the first K axes (torch index_put)
    data = a["data"].copy()
    ind = np.asarray(a["indices"]).astype(np.int64)
    ind = np.where(ind < 0, ind + np.array(data.shape[: ind.shape[-1]]), ind)
    at = tuple(np.moveaxis(ind, -1, 0))
    mode = as_str(a.get("mode", "add"))
    if mode == "update":
        data[at] = a["updates"]
    elif mode in _SCATTER_MODES:
        _SCATTER_MODES[mode].at(data, at, a["updates"])  # repeated indices accumulate
    else:
        raise NotImplementedError(f"scatter_nd mode {mode}")
    return data


@kernel("band_part")
def _band_part(a):
    x = a["x"]
    lower, upper = as_int(a.get("lower", -1)), as_int(a.get("upper", -1))
    m, n = x.shape[-2:]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    return np.where(keep, x, 0)


@kernel("one_hot")
def _one_hot(a):
    ind = np.asarray(a["indices"]).astype(np.int64)
    depth = as_int(a["one_hot_vector_size"])
    hot = ind[..., None] == np.arange(depth)
    out = np.where(hot, a.get("on_value", 1), a.get("off_value", 0))
    return np.moveaxis(out, -1, norm_axis(a.get("axis", -1), ind.ndim + 1))


@kernel("pad")
def _pad(a):
    x, p = a["x"], as_ints(a["pad"])
    p = [0] * (2 * x.ndim - len(p)) + p  # pads the last len(p) / 2 axes
    pairs = [(p[2 * i], p[2 * i + 1]) for i in range(x.ndim)]
    mode = as_str(a.get("mode", "constant"))
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
    return _sort_order(x, norm_axis(a.get("axis", -1), x.ndim), bool(a.get("ascending", False)))


@kernel("topk")
def _topk(a):
    x = a["x"]
    ax = norm_axis(a.get("axis", -1), x.ndim)
    order = np.take(_sort_order(x, ax, bool(a.get("ascending", False))), np.arange(as_int(a.get("k", 1))), axis=ax)
    return np.take_along_axis(x, order, axis=ax), order
