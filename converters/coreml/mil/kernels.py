"""The registry of MIL op kernels for the reference evaluator, and the argument helpers they share.

A kernel takes `a`, the op's evaluated inputs by parameter name (floats already widened to float32;
optional inputs that were not given are absent), and returns one array or a tuple of arrays. The
evaluator casts every result to the dtype the program declares for that output, which is how fp16
programs get rounded to float16 after every op. Semantics follow the MIL op definitions in
`coremltools/converters/mil/mil/ops/defs` (iOS15..iOS18). Kernels are registered one way, with
`kernel(*names)`, in `math_ops.py` and `shape_ops.py`; each is checked against the PyTorch op it
comes from in `tests/unit/test_mil_ops.py`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

KERNELS: dict[str, Callable] = {}


def kernel(*names: str):
    """Register the decorated function (or, called on one, a lambda) as the kernel of `names`."""
    def deco(fn):
        for n in names:
            KERNELS[n] = fn
        return fn

    return deco


def as_int(v) -> int:
    return int(np.asarray(v).reshape(()))


def as_ints(v) -> list[int]:
    return [int(x) for x in np.asarray(v).reshape(-1)]


def norm_axis(ax, rank: int) -> int:
    """A possibly negative axis argument as a non-negative index into a rank-`rank` tensor."""
    ax = as_int(ax)
    return ax + rank if ax < 0 else ax


def as_str(v) -> str:
    return str(np.asarray(v).reshape(()).item())
