"""Train the `aligner` small model: CTC phoneme recognition and the duration head, on espeak-ng speech.

    .venv/bin/python examples/train/aligner.py   # 15.0 min on 2 cores from a cold data cache (2026-12-07)

Data: examples/train/speech (English, Mandarin and Malay sentences spoken by espeak-ng with varied
voices, rates and pitch; `apt-get install espeak-ng`), cut into windows of whole words of 0.5-2 s
(the preset's 32000-sample bound), half of them with noise at 10-25 dB so the aligner takes what
the enhancer leaves. Each row's lang_id is its language (dataset.LANG_IDS). Loss: CTC over the
phoneme ids (blank 0, word boundaries as the `|` symbol); after the first `--duration-from` of the
steps, plus L1 of the duration head against the durations the model's own forced alignment gives
(mobilesdk.speech.frame_durations), in frames / 10. A fixed number of steps, so a seed gives the
same checkpoint on any machine.

Judged on windows of the held-out sentences (clean): greedy phoneme error rate (word boundaries
left out of both sides) and the median error of word boundaries from forced alignment against the
boundaries synthesis knows to the sample. Writes examples/models/aligner/{model.safetensors, metrics.json}.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1].parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples/train/speech")]

import dataset  # noqa: E402
import phonemes  # noqa: E402

from mobilesdk.models import build_model  # noqa: E402
from mobilesdk.models.aligner import FRAMES, PRESETS, AlignerConfig  # noqa: E402
from mobilesdk.speech import align as ctc  # noqa: E402

CFG = AlignerConfig(**PRESETS["small"])
TIMING = ctc.FrameTiming(FRAMES.stride, FRAMES.receptive_field, dataset.synth.SAMPLE_RATE)
WORD = phonemes.INDEX[phonemes.WORD]
PER_SENTENCE = 12  # training renditions of each sentence (shared with enhancer.py, so one cache)


def draw(pool, rng, noisy_p: float = 0.5) -> list[tuple[dataset.Window, np.ndarray]]:
    """One window of a random rendition, with noise at 10-25 dB with probability noisy_p."""
    r = pool[rng.integers(len(pool))]
    w = dataset.window(r, rng, int(rng.integers(8000, CFG.max_samples + 1)))
    x = w.wave
    if rng.random() < noisy_p:
        x, _, _ = dataset.corrupt(x, rng, [pool[rng.integers(len(pool))].wave for _ in range(5)],
                                  snr_range=(10.0, 25.0), reverb_p=0.0)
    return w, x


def batch(items):
    n = max(len(x) for _, x in items)
    wave = torch.zeros(len(items), n)
    mask = torch.zeros(len(items), n, dtype=torch.int32)
    for i, (_, x) in enumerate(items):
        wave[i, : len(x)] = torch.from_numpy(x)
        mask[i, : len(x)] = 1
    lang = torch.tensor([dataset.LANG_IDS[w.lang] for w, _ in items], dtype=torch.int32)
    targets = [phonemes.to_ids(w.phonemes) for w, _ in items]
    frames = [TIMING.frames(len(x)) for _, x in items]
    return wave, mask, lang, targets, frames


def word_spans(targets: list[int]) -> list[tuple[int, int]]:
    """(first, last) target index of each word: the runs between WORD symbols."""
    spans, start = [], 0
    for k, t in enumerate(targets + [WORD]):
        if t == WORD:
            spans.append((start, k - 1))
            start = k + 1
    return spans


@torch.no_grad()
def evaluate(model, windows) -> dict:
    model.eval()
    edits = ref_len = 0
    errors = []
    for i in range(0, len(windows), 16):
        items = windows[i : i + 16]
        wave, mask, lang, targets, frames = batch(items)
        log_probs, _ = model(wave, mask, lang)
        for row, ((w, _), tgt, t) in enumerate(zip(items, targets, frames)):
            lp = log_probs[row, :t].numpy()
            ref = [p for p in tgt if p != WORD]
            hyp = [p for p in ctc.greedy(lp) if p != WORD]
            edits += ctc.error_rate(ref, hyp) * len(ref)
            ref_len += len(ref)
            segments = ctc.align(lp, tgt, TIMING)
            for (a, b), (start_s, end_s) in zip(word_spans(tgt), w.words):
                errors += [abs(segments[a].start_s - start_s), abs(segments[b].end_s - end_s)]
    model.train()
    return {"phoneme_error_rate": edits / ref_len, "median_boundary_error_ms": 1000 * float(np.median(errors)),
            "p90_boundary_error_ms": 1000 * float(np.percentile(errors, 90)), "windows": len(windows),
            "phonemes": ref_len, "boundaries": len(errors)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "examples/models/aligner")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=2800)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--duration-from", type=float, default=0.5, help="fraction of steps before the duration loss")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    train = dataset.renditions("train", PER_SENTENCE, args.seed)
    test = dataset.renditions("test", 3, args.seed)
    test_rng = np.random.default_rng([args.seed, 1])
    held_out = [(w, w.wave) for r in test for w in [dataset.window(r, test_rng, CFG.max_samples) for _ in range(2)]]
    print(f"{len(train)} training renditions, {len(held_out)} held-out windows "
          f"({time.perf_counter() - start:.0f} s)", flush=True)

    model, _ = build_model("aligner", "small", seed=args.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    for step in range(1, args.steps + 1):
        wave, mask, lang, targets, frames = batch([draw(train, rng) for _ in range(args.batch)])
        log_probs, durations = model(wave, mask, lang)
        loss = F.ctc_loss(log_probs.transpose(0, 1), torch.tensor(sum(targets, [])), torch.tensor(frames),
                          torch.tensor([len(t) for t in targets]), blank=0, zero_infinity=True)
        dur_loss = torch.zeros(())
        if step > args.duration_from * args.steps:
            lp = log_probs.detach().numpy()
            target = torch.zeros_like(durations)
            keep = torch.zeros_like(durations, dtype=torch.bool)
            for row, (tgt, t) in enumerate(zip(targets, frames)):
                segs = ctc.align(lp[row, :t], tgt, TIMING)
                target[row, :t] = torch.from_numpy(ctc.frame_durations(segs, t))
                keep[row, :t] = True
            dur_loss = (durations - target).abs()[keep].mean() / 10
        dataset.update(model, opt, sched, loss + dur_loss)
        if step % 100 == 0 or step == args.steps:
            minutes = (time.perf_counter() - start) / 60
            line = f"step {step}: ctc {loss.item():.3f}, duration {dur_loss.item():.3f} ({minutes:.1f} min)"
            if step % 400 == 0 or step == args.steps:
                m = evaluate(model, held_out)
                line += f"; held-out PER {m['phoneme_error_rate']:.3f}, boundary {m['median_boundary_error_ms']:.0f} ms"
            print(line, flush=True)

    metrics = dataset.save_run(model, args.out, evaluate(model, held_out), args, start, len(train))
    print(f"held-out: PER {metrics['phoneme_error_rate']:.3f}, "
          f"median boundary error {metrics['median_boundary_error_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
