"""The speech training data: many espeak-ng renditions of the sentences, cut into short word windows.

Why: espeak-ng takes ~35 ms per word, too slow to call per training example, while cutting and
mixing are cheap. So `renditions` speaks every sentence a few times (voice variant, rate and pitch
drawn from the seed; two processes), caches the result as one .npz keyed by its arguments, and
the training scripts draw from it: `window` cuts a run of whole words (boundaries known to the
sample) that fits a length, `corrupt` adds noise (coloured or babble, optional room reverb) at an
exact SNR. Test renditions use sentences no training rendition has: the last `TEST_SENTENCES` of
each language.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import noise  # noqa: E402
import phonemes  # noqa: E402
import sentences  # noqa: E402
import synth  # noqa: E402

CACHE = Path(__file__).resolve().parents[1] / ".cache"
LANGS = {"en": sentences.ENGLISH, "cmn": sentences.MANDARIN, "ms": sentences.MALAY}
LANG_IDS = {"en": 0, "cmn": 1, "ms": 2}  # the aligner's lang_id; 3 ("other") is left for unseen languages
TEST_SENTENCES = 8  # per language, held out
VARIANTS = (None, "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2")
RATES = (130, 230)  # words per minute, uniform
PITCHES = (25, 75)


@dataclass(frozen=True)
class Rendition:
    lang: str
    text: str
    wave: np.ndarray  # float32, 16 kHz
    words: tuple[tuple[float, float, tuple[str, ...]], ...]  # (start_s, end_s, the word's phonemes)


def _speak(job: tuple[str, str, str | None, int, int, int]) -> Rendition:
    lang, text, variant, rate, pitch, seed = job
    wave, labels, bounds = synth.synthesize(text, lang, variant, rate, pitch, seed)
    per_word, current = [], []
    for symbol in labels + [phonemes.WORD]:
        if symbol == phonemes.WORD:
            per_word.append(tuple(current))
            current = []
        else:
            current.append(symbol)
    return Rendition(lang, text, wave, tuple((s, e, p) for (s, e, _), p in zip(bounds, per_word)))


def _jobs(split: str, per_sentence: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng([seed, split == "test"])
    jobs = []
    for lang, texts in LANGS.items():
        chosen = texts[:-TEST_SENTENCES] if split == "train" else texts[-TEST_SENTENCES:]
        for text in chosen:
            for _ in range(per_sentence):
                variant = VARIANTS[rng.integers(len(VARIANTS))]
                jobs.append((lang, text, variant, int(rng.integers(*RATES)), int(rng.integers(*PITCHES)),
                             int(rng.integers(2**31))))
    return jobs


def renditions(split: str, per_sentence: int, seed: int = 0) -> list[Rendition]:
    """Every sentence of the split spoken `per_sentence` times; cached under examples/train/.cache."""
    jobs = _jobs(split, per_sentence, seed)
    key = hashlib.sha256(json.dumps([jobs, synth.__doc__, phonemes.INVENTORY]).encode()).hexdigest()[:16]
    path = CACHE / f"speech-{split}-{key}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return [Rendition(m["lang"], m["text"], z[f"w{i}"].astype(np.float32) / 32768.0,
                              tuple((s, e, tuple(p)) for s, e, p in m["words"])) for i, m in enumerate(meta)]
    with ProcessPoolExecutor(2) as pool:
        out = list(pool.map(_speak, jobs, chunksize=8))
    CACHE.mkdir(exist_ok=True)
    meta = [{"lang": r.lang, "text": r.text, "words": [list(w) for w in r.words]} for r in out]
    arrays = {f"w{i}": np.round(np.clip(r.wave, -1, 1) * 32767).astype(np.int16) for i, r in enumerate(out)}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, meta=json.dumps(meta), **arrays)
    tmp.replace(path)
    return out


@dataclass(frozen=True)
class Window:
    lang: str
    text: str  # the window's words
    wave: np.ndarray
    phonemes: tuple[str, ...]  # inventory symbols, `phonemes.WORD` between words
    words: tuple[tuple[float, float], ...]  # each word's (start_s, end_s) in the window


def window(r: Rendition, rng: np.random.Generator, max_samples: int, min_words: int = 1) -> Window:
    """A random run of whole words of `r` that fits in `max_samples`, with part of the silence around it."""
    sr = synth.SAMPLE_RATE
    n = len(r.words)
    fits = [(i, j) for i in range(n) for j in range(i + min_words - 1, n)
            if (r.words[j][1] - r.words[i][0]) * sr + 0.05 * sr <= max_samples]
    if not fits:  # one word longer than the window: cut it (its label is then approximate)
        fits = [(0, 0)]
    i, j = fits[rng.integers(len(fits))]
    before = r.words[i][0] - (r.words[i - 1][1] if i else 0.0)
    after = (r.words[j + 1][0] if j + 1 < n else len(r.wave) / sr) - r.words[j][1]
    start = r.words[i][0] - rng.uniform(0.3, 0.9) * before
    end = r.words[j][1] + rng.uniform(0.3, 0.9) * after
    a, b = int(start * sr), min(int(end * sr), int(start * sr) + max_samples)
    labels: list[str] = []
    for k in range(i, j + 1):
        labels += ([phonemes.WORD] if k > i else []) + list(r.words[k][2])
    words = tuple((r.words[k][0] - a / sr, min(r.words[k][1], b / sr) - a / sr) for k in range(i, j + 1))
    text = " ".join(synth.split_words(r.text)[i : j + 1])
    return Window(r.lang, text, r.wave[a:b].copy(), tuple(labels), words)


def corrupt(clean: np.ndarray, rng: np.random.Generator, others: list[np.ndarray], snr_range=(0.0, 15.0),
            reverb_p: float = 0.3) -> tuple[np.ndarray, np.ndarray, float]:
    """(noisy, target, snr_db): `clean`, in a room with probability reverb_p (the target then keeps
    the room: the enhancer denoises, it does not dereverberate), plus coloured or babble noise."""
    target = noise.reverb(rng, clean) if rng.random() < reverb_p else clean
    kind = rng.choice(["white", "pink", "brown", "babble"])
    n = len(target)
    sound = noise.babble(rng, others, n) if kind == "babble" else noise.coloured(rng, n, str(kind))
    snr = float(rng.uniform(*snr_range))
    return noise.mix(target, sound, snr), target, snr


def update(model, opt, sched, loss) -> None:
    """One optimiser step on `loss`, gradients clipped to norm 1 (both trainers)."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()


def save_run(model, out: Path, metrics: dict, args, start: float, renditions: int) -> dict:
    """A trained model's model.safetensors and metrics.json in `out`, the metrics with what made them
    (seed, steps, minutes since `start`, training renditions); returns the metrics."""
    from safetensors.torch import save_file

    metrics = metrics | {"seed": args.seed, "steps": args.steps,
                         "train_minutes": round((time.perf_counter() - start) / 60, 1), "train_renditions": renditions}
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
