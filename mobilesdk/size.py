"""The size floor of an int8 artifact, which its bytes on disk are judged against.

The floor is what the model's tensors take when every weight is stored as int8: one byte per element
of each floating tensor of two or more dims (Linear, conv and embedding weights, constant tables),
counted once when modules share it; every other tensor (biases, norms, integer buffers) at its own
size; and the weights of the modules the artifact says stay float (its `float_modules`) at float32.
An artifact well above its floor stores more than that: float weights nobody asked for (an embedding
table its quantizer skips), or a copy of the weights per length bucket.
"""
from __future__ import annotations

INT8 = ("int8-dynamic", "int8-static", "int8-weights")
LEAN = 1.15  # an int8 artifact within this of its floor is lean


def int8_floor(module, float_modules: list[str] = ()) -> int:
    """Bytes of `module`'s tensors with every weight int8 and `float_modules` (paths as the model names
    them, or under the capture's `module.`) float32."""
    kept = set()
    for path in float_modules:
        path = path.removeprefix("module.")
        sub = module.get_submodule(path) if path else module
        kept |= {t.data_ptr() for t in [*sub.parameters(), *sub.buffers()]}
    seen, total = set(), 0
    for t in [*module.parameters(), *module.buffers()]:
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        weight = t.is_floating_point() and t.dim() >= 2
        total += t.numel() * (4 if weight and t.data_ptr() in kept else 1 if weight else t.element_size())
    return total
