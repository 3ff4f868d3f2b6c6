"""Where a model comes from: a reference family, a Hugging Face folder or a user's factory, with
`[models.<name>.spec]` applied; and the text and audio its golden data and calibration are made of."""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from mobilesdk.config import ModelConfig
from mobilesdk.errors import ConfigError, summary
from mobilesdk.golden import AudioFeed, TextFeed, read_clips, read_sentences
from mobilesdk.spec import ModelSpec, spec_from_json


@dataclass
class Loaded:
    module: torch.nn.Module
    spec: ModelSpec
    summary: str = ""


def load_model(mc: ModelConfig) -> tuple[torch.nn.Module, ModelSpec]:
    """The module in eval mode and its spec, with `[models.<name>.spec]` applied."""
    module, spec = _load_source(mc)
    if mc.spec:
        try:
            spec = spec_from_json({**spec.to_json(), **mc.spec})
        except (ValueError, TypeError, KeyError) as e:
            raise ConfigError(f"[models.{mc.name}.spec] does not make a valid spec: {e}. Fix: correct that field; "
                              "`mobilesdk spec CONFIG` prints the spec it replaces fields of") from None
    return module.eval(), spec


def _load_source(mc: ModelConfig) -> tuple[torch.nn.Module, ModelSpec]:
    if mc.family:
        from mobilesdk.models import build_model

        return build_model(mc.family, mc.preset, seed=mc.seed, checkpoint=mc.checkpoint, name=mc.name)
    if mc.huggingface:
        from mobilesdk.models import huggingface

        return huggingface.load(mc.huggingface, mc.task, mc.name, mc.max_length)
    module_name, _, func = mc.factory.partition(":")
    sys.path.insert(0, str(Path.cwd()))
    try:  # any exception: a module that fails at import time (SyntaxError, NameError, ...) is the user's
        fn = getattr(importlib.import_module(module_name), func)
    except Exception as e:
        raise ConfigError(f"[models.{mc.name}] factory `{mc.factory}` cannot be imported: {summary(e)}. Fix: "
                          "make `package.module` importable from the working directory and define the function "
                          "in it") from None
    finally:
        sys.path.pop(0)
    try:
        result = fn()
    except Exception as e:
        raise ConfigError(f"[models.{mc.name}] factory `{mc.factory}` raised {summary(e)}. Fix: make "
                          f"{func}() run without arguments") from None
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module)
            and isinstance(result[1], ModelSpec)):
        got = f"({', '.join(type(r).__name__ for r in result)})" if isinstance(result, tuple) else type(result).__name__
        raise ConfigError(f"[models.{mc.name}] factory `{mc.factory}` returned {got}. Fix: return "
                          "(torch.nn.Module, mobilesdk.spec.ModelSpec)")
    return result


def load_step(mc: ModelConfig) -> Loaded:
    module, spec = load_model(mc)
    return Loaded(module, spec, f"{sum(p.numel() for p in module.parameters()) / 1e3:.0f}k params")


def text_feed(spec: ModelSpec, mc: ModelConfig) -> TextFeed | None:
    """The model's tokenizer and sentences, checked against its spec (None for non-text models)."""
    if mc.tokenizer is None:
        return None
    from mobilesdk.text.tokenizer import TextTokenizer

    tokens = [t for t in spec.inputs if t.kind == "tokens"]
    if len(tokens) != 1:
        raise ConfigError(f"[models.{mc.name}] has a tokenizer but its spec has {len(tokens)} `tokens` inputs; "
                          "it needs exactly one. Fix: drop `tokenizer` or mark the ids input kind = \"tokens\"")
    tok = TextTokenizer(mc.tokenizer)
    if tok.vocab_size > tokens[0].high:
        raise ConfigError(f"[models.{mc.name}] tokenizer `{mc.tokenizer}` has {tok.vocab_size} tokens, more than the "
                          f"model's {tokens[0].high} embeddings. Fix: a tokenizer trained for this model, or a larger vocab")
    return TextFeed(tok, read_sentences(mc.sentences))


def audio_feed(spec: ModelSpec, mc: ModelConfig) -> AudioFeed | None:
    """The model's WAV clips (None without `audio`); a model without an audio input cannot take them."""
    if mc.audio is None:
        return None
    if spec.first_input("audio") is None:
        raise ConfigError(f"[models.{mc.name}] has `audio` but no input of kind \"audio\". "
                          "Fix: drop `audio` or mark the waveform input kind = \"audio\"")
    return read_clips(mc.audio, spec)
