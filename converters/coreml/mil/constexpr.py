"""Exact decompression of Core ML's compressed weights (the constexpr_* ops), done once at load."""
from __future__ import annotations

import numpy as np


# compressed weights ------------------------------------------------------------------------------
def unpack_bits(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """n-bit unsigned fields packed LSB-first across bytes (the iOS16 constexpr layout)."""
    bits = np.unpackbits(np.asarray(packed).astype(np.uint8).reshape(-1), bitorder="little")
    bits = bits[: count * nbits].reshape(count, nbits).astype(np.uint32)
    return (bits << np.arange(nbits, dtype=np.uint32)).sum(axis=1)


def _along(v: np.ndarray, rank: int, axis: int) -> np.ndarray:
    """A scalar or a vector along `axis`, reshaped to broadcast against a rank-`rank` tensor."""
    v = np.asarray(v)
    if v.ndim == 0:
        return v
    shape = [1] * rank
    shape[axis] = v.size
    return v.reshape(shape)


def _affine_dequantize(a):
    q = a["quantized_data"]
    axis = int(a["axis"]) % q.ndim
    zp = _along(np.asarray(a["zero_point"]).astype(np.float32), q.ndim, axis)
    scale = _along(np.asarray(a["scale"]).astype(np.float32), q.ndim, axis)
    return (q.astype(np.float32) - zp) * scale


def _blocks(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Repeat a per-block parameter along every axis until it has `shape`."""
    for ax, (n, m) in enumerate(zip(shape, v.shape)):
        if n != m:
            v = np.repeat(v, n // m, axis=ax)
    return v


def _blockwise_shift_scale(a):
    data = a["data"].astype(np.float32)
    scale = _blocks(np.asarray(a["scale"]).astype(np.float32), data.shape)
    if a.get("offset") is not None:
        data = data - _blocks(np.asarray(a["offset"]).astype(np.float32), data.shape)
    return data * scale


def _lut_to_dense(a):
    if "shape" in a:  # iOS16: a flat LUT and packed indices
        lut, shape = np.asarray(a["lut"]), [int(s) for s in np.asarray(a["shape"]).reshape(-1)]
        nbits = int(np.log2(lut.size))
        return lut[unpack_bits(a["indices"], nbits, int(np.prod(shape)))].reshape(shape)
    # iOS18: indices [*D], lut [*blocks, palettes, vector]; each block of indices has its own LUT
    indices, lut = np.asarray(a["indices"]).astype(np.int64), np.asarray(a["lut"])
    vector = lut.shape[-1]
    if vector > 1:
        raise NotImplementedError("vector palettization (constexpr_lut_to_dense with vector size > 1)")
    lut = _blocks(lut[..., 0], indices.shape + (lut.shape[-2],))  # [*D, palettes]
    return np.take_along_axis(lut, indices[..., None], axis=-1)[..., 0]


def _sparse_to_dense(a):
    nonzero = np.asarray(a["nonzero_data"])
    if "shape" in a:  # iOS16: packed 1-bit mask
        shape = [int(s) for s in np.asarray(a["shape"]).reshape(-1)]
        mask = unpack_bits(a["mask"], 1, int(np.prod(shape))).reshape(shape)
    else:
        mask = np.asarray(a["mask"])
    out = np.zeros(mask.shape, dtype=nonzero.dtype)
    out[mask != 0] = nonzero
    return out


CONSTEXPR = {
    "constexpr_affine_dequantize": _affine_dequantize,
    "constexpr_blockwise_shift_scale": _blockwise_shift_scale,
    "constexpr_lut_to_dense": _lut_to_dense,
    "constexpr_sparse_to_dense": _sparse_to_dense,
    "constexpr_cast": lambda a: a["source_val"],
}
