"""Load trained weights into a built model, with one-line errors that name the mismatch.

`.pt` / `.pth` / `.bin` files are read with `torch.load(weights_only=True)` (no pickled code runs);
`.safetensors` files with the `safetensors` package. A checkpoint must hold a state_dict, either at
the top level or under a "state_dict" / "model" key (the usual training-loop wrappers).
"""
from __future__ import annotations

from pathlib import Path

import torch

from mobilesdk.errors import CheckpointError, summary

SHOW = 5  # keys listed in an error before "... and N more"
_WRAPPER_KEYS = ("state_dict", "model")


def _listing(keys: list[str]) -> str:
    shown = ", ".join(f"`{k}`" for k in keys[:SHOW])
    return shown + (f" … and {len(keys) - SHOW} more" if len(keys) > SHOW else "")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors stored in a checkpoint file; CheckpointError naming the path if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"checkpoint `{p}` does not exist. Fix: check the path (`checkpoint` in a bundle.toml is relative to "
            "the config file)"
        )
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p), device="cpu")
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable, truncated, or pickled objects beyond plain tensors
        raise CheckpointError(
            f"cannot read checkpoint `{p}`: {summary(e)}. Fix: save it with torch.save(model.state_dict(), path) "
            "or safetensors.torch.save_file(model.state_dict(), path)"
        ) from e
    for key in _WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"checkpoint `{p}` does not hold a state_dict of tensors. Fix: save model.state_dict(), not the model"
        )
    return state


def mismatch(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> str:
    """'' when the state_dicts agree in keys and shapes, else a description of the differences."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [
        f"`{k}` expected {tuple(expected[k].shape)} got {tuple(got[k].shape)}"
        for k in expected
        if k in got and expected[k].shape != got[k].shape
    ]
    parts = []
    if missing:
        parts.append(f"missing keys {_listing(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {_listing(unexpected)}")
    if shapes:
        more = f" … and {len(shapes) - SHOW} more" if len(shapes) > SHOW else ""
        parts.append("shape mismatch " + ", ".join(shapes[:SHOW]) + more)
    return "; ".join(parts)


def load_checkpoint(module: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load a checkpoint into `module` strictly (every key, every shape); returns the module in eval mode."""
    state = read_state_dict(path)
    problem = mismatch(module.state_dict(), state)
    if problem:
        raise CheckpointError(
            f"checkpoint `{path}` does not fit {type(module).__name__}: {problem}. Fix: build the model "
            "with the family and preset (config) the checkpoint was trained with"
        )
    module.load_state_dict(state, strict=True)
    return module.eval()
