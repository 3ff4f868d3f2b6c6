"""The reference model families and their registry.

Each family module (enhancer, aligner, textclf) defines a frozen config dataclass, `PRESETS`
("tiny": converts in seconds, for tests; "small": the demo), `build(seed=0, **config)` returning a
deterministically initialised module in eval mode, and `spec(name, **config)` returning its ModelSpec.
Every forward takes the spec's inputs positionally and returns a tuple in the spec's output order.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from mobilesdk.errors import ConfigError
from mobilesdk.models import aligner, enhancer, textclf
from mobilesdk.models.checkpoint import load_checkpoint
from mobilesdk.spec import ModelSpec

__all__ = ["FAMILIES", "Family", "build_model", "load_checkpoint"]


@dataclass(frozen=True)
class Family:
    name: str
    description: str  # one line
    presets: dict[str, dict]  # preset name -> config kwargs
    build: Callable[..., torch.nn.Module]  # build(seed=0, **config) -> module in eval mode
    spec: Callable[..., ModelSpec]  # spec(name, trained=False, **config) -> ModelSpec


def _checked(family: str, config_cls: type, fn: Callable) -> Callable:
    """`fn` with its config kwargs checked against the config dataclass (ConfigError naming the fields)."""
    fields = [f.name for f in dataclasses.fields(config_cls)]

    @functools.wraps(fn)
    def call(*args, **kwargs):
        unknown = sorted(k for k in kwargs if k not in fields and k not in ("seed", "name", "trained"))
        if unknown:
            raise ConfigError(
                f"model family `{family}` has no option {', '.join(f'`{k}`' for k in unknown)}. "
                f"Fix: use one of {', '.join(fields)}"
            )
        return fn(*args, **kwargs)

    return call


def _family(module, config_cls: type, description: str) -> Family:
    name = module.__name__.rsplit(".", 1)[-1]
    return Family(
        name=name,
        description=description,
        presets=module.PRESETS,
        build=_checked(name, config_cls, module.build),
        spec=_checked(name, config_cls, module.spec),
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _family(enhancer, enhancer.EnhancerConfig, "SEGAN-style waveform U-Net speech enhancer (16 kHz)"),
        _family(aligner, aligner.AlignerConfig, "wav2vec2-style phoneme aligner: CTC log-probs + durations"),
        _family(textclf, textclf.TextClfConfig, "ALBERT-style sentiment + token-level language ID classifier"),
    )
}


def build_model(
    family: str,
    preset: str = "tiny",
    seed: int = 0,
    checkpoint: str | Path | None = None,
    name: str | None = None,
) -> tuple[torch.nn.Module, ModelSpec]:
    """A built module (eval mode, weights from `checkpoint` if given) and its spec.

    The spec is named `name`, or `<family>_<preset>` by default.
    """
    fam = FAMILIES.get(family)
    if fam is None:
        raise ConfigError(f"unknown model family `{family}`. Fix: use one of {', '.join(FAMILIES)} "
                          "(`mobilesdk models` lists them), or `factory` for your own module")
    config = fam.presets.get(preset)
    if config is None:
        raise ConfigError(
            f"model family `{family}` has no preset `{preset}`. Fix: use one of {', '.join(fam.presets)}"
        )
    module = fam.build(seed=seed, **config)
    if checkpoint is not None:
        load_checkpoint(module, checkpoint)
    return module, fam.spec(name or f"{family}_{preset}", trained=checkpoint is not None, **config)
