"""Deterministic reference inputs generated from a spec.

Golden cases exercise the masks: every batch mixes valid lengths with right padding, and the cases
cover each dim's main length, an odd length, its minimum and its maximum. Calibration batches for static int8
span the whole range of mask lengths (docs/toolchain-traps.md#10). Audio is speech-like (voiced
harmonics with a moving pitch and syllable envelopes), not white noise, so quantization ranges
match what an app will feed. Token inputs come from real sentences when the model has a `TextFeed`
(its tokenizer and sentences file): each row is sentences tokenized and cut to the row's valid
length, and the case keeps each row's text and token offsets for the language-spans check. Audio
comes from real recordings when the model has an `AudioFeed` (its `audio` folder of WAV clips):
each row is clips joined and cut to the row's length, and a clips.json beside them can give each
clip's value of the model's other inputs (the aligner's lang_id), which its row then takes.
The mask suite takes the same clips (its checks are judged by parity thresholds too).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilesdk.errors import ConfigError
from mobilesdk.spec import NP_DTYPES, ModelSpec, TensorSpec
from mobilesdk.text.tokenizer import TextTokenizer

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class TextRow:
    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]  # per token, its character span in `text`; (0, 0) for specials


@dataclass(frozen=True)
class TextFeed:
    """Where a text model's token rows come from: its tokenizer and a file of sentences."""

    tokenizer: TextTokenizer
    sentences: tuple[str, ...]

    def rows(self, lengths: list[int], rng: np.random.Generator) -> list[TextRow]:
        """One row per length: consecutive sentences from a random one on, tokenized and cut to it."""
        rows = []
        for n in lengths:
            i = int(rng.integers(len(self.sentences)))
            text = self.sentences[i]
            for i in range(i + 1, i + 1 + n):  # each sentence adds a token or more: n more are enough
                if len(self.tokenizer.encode(text, 1 << 20).ids) >= n:
                    break
                text += " " + self.sentences[i % len(self.sentences)]
            enc = self.tokenizer.encode(text, n)
            rows.append(TextRow(text, enc.ids, enc.offsets))
        return rows


def read_sentences(path: Path) -> tuple[str, ...]:
    """Sentences from a `.txt` (one per line) or `.jsonl` (a "text" field per line) file."""
    import json

    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        found = tuple(json.loads(line)["text"] for line in lines) if path.suffix == ".jsonl" else tuple(lines)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"sentences file `{path}` cannot be read ({e}). Fix: point `sentences` at a UTF-8 .txt or .jsonl file") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"sentences file `{path}` is not JSON lines with a \"text\" field. Fix: one object per line, or use .txt") from None
    if not found:
        raise ConfigError(f"sentences file `{path}` has no sentences. Fix: one sentence per line")
    return found


@dataclass(frozen=True)
class Clip:
    name: str
    samples: np.ndarray  # float32 mono at 16 kHz
    inputs: dict[str, int]  # values of the model's other inputs for this clip (from clips.json)


@dataclass(frozen=True)
class AudioFeed:
    """Where an audio model's waveform rows come from: a folder of WAV clips."""

    clips: tuple[Clip, ...]

    def rows(self, count: int, n: int, rng: np.random.Generator) -> list[Clip]:
        """`count` rows of n samples: from a random point of a random clip on (in its first half if
        the clip is shorter than n, so the row is mostly that clip), the clips after it joined
        until n samples; each row takes its first clip's other inputs."""
        out = []
        for _ in range(count):
            i = int(rng.integers(len(self.clips)))
            first = self.clips[i]
            m = len(first.samples)
            parts = [first.samples[int(rng.integers(max(m - n + 1, m // 2, 1))):]]
            while sum(map(len, parts)) < n:
                i += 1
                parts.append(self.clips[i % len(self.clips)].samples)
            out.append(Clip(first.name, np.concatenate(parts)[:n], first.inputs))
        return out


def read_clips(folder: Path, spec: ModelSpec) -> AudioFeed:
    """The WAV files of `folder` (sorted by name) and its optional clips.json: {file: {"inputs": {name: value}}},
    each value checked against the spec's category input of that name."""
    import json

    from mobilesdk.speech.audio import read_wav

    files = sorted(folder.glob("*.wav"))
    if not files:
        raise ConfigError(f"audio folder `{folder}` has no .wav files. Fix: put 16 kHz mono WAV clips in it")
    meta_path = folder / "clips.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"`{meta_path}` is not JSON ({e}). Fix: an object mapping file names to {{\"inputs\": {{...}}}}") from None
    categories = {t.name: t for t in spec.inputs if t.kind == "category"}
    clips = []
    for f in files:
        values = meta.get(f.name, {}).get("inputs", {}) if isinstance(meta.get(f.name), dict) else {}
        for name, value in values.items():
            t = categories.get(name)
            if t is None:
                raise ConfigError(f"`{meta_path}`: {f.name} gives input `{name}`, which is not a category input of "
                                  f"{spec.name} ({', '.join(categories) or 'none'}). Fix: use the spec's input names")
            if not (isinstance(value, int) and t.low <= value < t.high):
                raise ConfigError(f"`{meta_path}`: {f.name} gives {name} = {value!r}; {spec.name} takes integers in "
                                  f"[{t.low}, {t.high}). Fix: a value in that range")
        clips.append(Clip(f.name, read_wav(f)[0], dict(values)))
    return AudioFeed(tuple(clips))


@dataclass(frozen=True)
class Case:
    name: str  # e.g. "main", "odd"
    lengths: dict[str, int]  # padded length per dim in this batch
    valid: dict[str, list[int]]  # per masked dim, the valid length of each row
    inputs: dict[str, np.ndarray]
    text: tuple[TextRow, ...] = ()  # per row, when the token input came from sentences


def seed_for(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:4], "little")


def speechlike(rng: np.random.Generator, n: int) -> np.ndarray:
    """A voiced, syllabic waveform at 16 kHz with a little noise, peak about 0.5."""
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(90, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    formants = rng.uniform(1, 10, size=8) / np.arange(1, 9)
    voiced = sum(a * np.sin(k * phase) for k, a in enumerate(formants, start=1))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, np.pi)), 0, None) ** 0.7
    x = voiced * envelope + 0.05 * rng.standard_normal(n)
    return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def row_valid_lengths(n: int, batch: int, low: int) -> list[int]:
    """Valid lengths for a batch padded to n: full, three quarters, an odd middle, a short one."""
    choices = [n, (3 * n) // 4, n // 2 + 1 if (n // 2) % 2 == 0 else n // 2, max(low, n // 4)]
    return [max(min(choices[i % len(choices)], n), min(low, n)) for i in range(batch)]


def _shape(t: TensorSpec, batch: int, lengths: dict[str, int]) -> tuple[int, ...]:
    return tuple(batch if s == "batch" else lengths[s] if isinstance(s, str) else s for s in t.shape)


def make_batch(spec: ModelSpec, lengths: dict[str, int], valid: dict[str, list[int]], seed: int,
               text: list[TextRow] | None = None, audio: AudioFeed | None = None) -> dict[str, np.ndarray]:
    """One batch in spec dtypes. Masked positions beyond a row's valid length are padding (zeros).
    With `text`, the tokens input holds those rows' ids (each row exactly its valid length); with
    `audio`, audio inputs hold its clips, and category inputs the clips' values where they give one."""
    rng = np.random.default_rng(seed)
    batch = len(next(iter(valid.values()))) if valid else spec.golden_batch
    clips: list[Clip] = []
    if audio is not None and (first := spec.first_input("audio")):
        shape = _shape(first, batch, lengths)
        clips = audio.rows(int(np.prod(shape[:-1])), shape[-1], rng)
    out: dict[str, np.ndarray] = {}
    for t in spec.inputs:
        shape = _shape(t, batch, lengths)
        if t.kind == "tokens" and text is not None:
            x = np.zeros(shape)
            for row, r in enumerate(text):
                x[row, : len(r.ids)] = r.ids
        elif t.kind == "audio" and clips:
            x = np.stack([c.samples for c in clips]).reshape(shape)
        elif t.kind == "category" and clips and shape == (len(clips),) and all(t.name in c.inputs for c in clips):
            x = np.array([c.inputs[t.name] for c in clips])
        elif t.kind == "audio":
            n = shape[-1]
            rows = int(np.prod(shape[:-1]))
            x = np.stack([speechlike(rng, n) for _ in range(rows)]).reshape(shape)
        elif t.kind == "tokens":
            x = rng.integers(t.low, t.high, size=shape)
        elif t.kind == "category":
            x = rng.integers(t.low, t.high, size=shape)
        else:  # mask: filled below
            x = np.ones(shape)
        out[t.name] = x.astype(NP_DTYPES[t.dtype])
    for m in spec.masks:
        mask = out[m.input]
        axis = list(spec.input(m.input).shape).index(m.axis)
        for row, n_valid in enumerate(valid[m.axis]):
            idx = [slice(None)] * mask.ndim
            idx[0], idx[axis] = row, slice(n_valid, None)
            mask[tuple(idx)] = 0
        _zero_padding(spec, out, m.axis, valid[m.axis])
    return out


def _zero_padding(spec: ModelSpec, arrays: dict[str, np.ndarray], axis_dim: str, valid: list[int]) -> None:
    """Padding content is zero in the golden data (the mask suite varies it separately)."""
    for t in spec.inputs:
        if t.kind in ("audio", "tokens") and axis_dim in t.shape:
            axis = list(t.shape).index(axis_dim)
            for row, n_valid in enumerate(valid):
                idx = [slice(None)] * arrays[t.name].ndim
                idx[0], idx[axis] = row, slice(n_valid, None)
                arrays[t.name][tuple(idx)] = 0


CASES = (
    ("main", lambda d: d.main_length),
    ("odd", lambda d: d.odd_length()),
    ("min", lambda d: d.min),
    ("max", lambda d: d.max),
)


def token_input(spec: ModelSpec) -> tuple[TensorSpec, str]:
    """The (first) tokens input and the dim its tokens run along."""
    t = next(t for t in spec.inputs if t.kind == "tokens")
    return t, next(s for s in t.shape if isinstance(s, str) and s != "batch")


def token_lengths(spec: ModelSpec, lengths: dict[str, int], valid: dict[str, list[int]], batch: int) -> list[int]:
    """Per row, how many tokens the tokens input holds: its masked dim's valid length, or the full length."""
    _, dim = token_input(spec)
    return valid.get(dim, [lengths[dim]] * batch)


def _text_rows(spec, text, lengths, valid, seed) -> list[TextRow] | None:
    if text is None:
        return None
    return text.rows(token_lengths(spec, lengths, valid, spec.golden_batch), np.random.default_rng(seed))


def golden_cases(spec: ModelSpec, seed: int = 0, text: TextFeed | None = None,
                 audio: AudioFeed | None = None) -> list[Case]:
    """The reference batches: every dim at its main length, at an odd length, at its minimum and at
    its maximum (cases that would repeat an earlier one are left out)."""
    cases, seen = [], set()
    for name, pick in CASES:
        lengths = {d.name: pick(d) for d in spec.dims if d.name != "batch"}
        if tuple(sorted(lengths.items())) in seen:
            continue
        seen.add(tuple(sorted(lengths.items())))
        valid = {
            m.axis: row_valid_lengths(lengths[m.axis], spec.golden_batch, spec.dim(m.axis).min) for m in spec.masks
        }
        case_seed = seed_for(spec.name, name, str(seed))
        rows = _text_rows(spec, text, lengths, valid, case_seed)
        inputs = make_batch(spec, lengths, valid, case_seed, rows, audio)
        cases.append(Case(name, lengths, valid, inputs, tuple(rows or ())))
    return cases


def calibration_batches(spec: ModelSpec, count: int, seed: int = 0, text: TextFeed | None = None,
                        audio: AudioFeed | None = None) -> list[dict[str, np.ndarray]]:
    """Batches for static int8 calibration: padded lengths across each dim's range, and valid
    lengths from one element up to the full row, so masked and unmasked ranges are both seen."""
    rng = np.random.default_rng(seed_for(spec.name, "calibration", str(seed)))
    batches = []
    for i in range(count):
        lengths = {}
        for d in spec.dims:
            if d.name == "batch":
                continue
            units = rng.integers(d.min // d.multiple_of, d.max // d.multiple_of + 1)
            # the extremes first (the longest, then the shortest padded length), then random lengths
            lengths[d.name] = d.max if i == 0 else d.min if i == 1 else int(units * d.multiple_of)
        valid = {}
        for m in spec.masks:
            n = lengths[m.axis]
            valid[m.axis] = [int(v) for v in rng.integers(1, n + 1, size=spec.golden_batch)]
            valid[m.axis][0] = n
            if spec.golden_batch > 1:  # and the dim's shortest valid length in every batch
                valid[m.axis][-1] = min(n, spec.dim(m.axis).min)
        batch_seed = seed_for(spec.name, "calibration", str(seed), str(i))
        rows = _text_rows(spec, text, lengths, valid, batch_seed)
        batches.append(make_batch(spec, lengths, valid, batch_seed, rows, audio))
    return batches


def valid_from_inputs(spec: ModelSpec, inputs: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Per masked dim, each row's valid length, read back from the mask inputs."""
    valid = {}
    for m in spec.masks:
        mask = inputs[m.input]
        axis = list(spec.input(m.input).shape).index(m.axis)
        other = tuple(a for a in range(1, mask.ndim) if a != axis)
        per_pos = (mask != 0).any(axis=other) if other else mask != 0
        valid[m.axis] = [int(v) for v in per_pos.sum(axis=-1)]
    return valid


def lengths_from_inputs(spec: ModelSpec, inputs: dict[str, np.ndarray]) -> dict[str, int]:
    lengths = {}
    for t in spec.inputs:
        for axis, s in enumerate(t.shape):
            if isinstance(s, str):
                lengths[s] = int(inputs[t.name].shape[axis])
    return lengths
