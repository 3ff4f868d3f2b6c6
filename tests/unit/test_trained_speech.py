"""The committed aligner and enhancer checkpoints do their jobs on the committed clips (held-out
sentences; examples/models/*/metrics.json record the larger held-out measurements of the training
runs), the random inits do not (so each test can fail), and our forced alignment of the trained
model's output agrees with the ctc-segmentation package's."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilesdk.models import build_model
from mobilesdk.speech import align, phonemes
from mobilesdk.speech.audio import overlap_add, read_wav, si_sdr

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "examples/clips"
MODELS = ROOT / "examples/models"
WORD = phonemes.INDEX[phonemes.WORD]


def clips(folder: str) -> list[tuple[np.ndarray, dict, Path]]:
    meta = json.loads((CLIPS / folder / "clips.json").read_text())
    return [(read_wav(CLIPS / folder / name)[0], m, CLIPS / folder / name) for name, m in sorted(meta.items())]


def timing(spec) -> align.FrameTiming:
    frames = spec.derived("frames")
    return align.FrameTiming(frames.stride, frames.receptive_field, 16000)


@torch.no_grad()
def log_probs(model, spec, samples: np.ndarray, lang_id: int) -> np.ndarray:
    out, _ = model(torch.from_numpy(samples)[None], torch.ones(1, len(samples), dtype=torch.int32),
                   torch.tensor([lang_id], dtype=torch.int32))
    return out[0, : timing(spec).frames(len(samples))].numpy()


def aligner_scores(checkpoint) -> dict:
    """Greedy phoneme error rate (word boundaries aside) and median error of the forced-aligned word
    boundaries against the synthesis's, over the clean clips."""
    model, spec = build_model("aligner", "small", checkpoint=checkpoint)
    model.eval()
    edits = length = 0
    errors = []
    for samples, meta, _ in clips("clean"):
        lp = log_probs(model, spec, samples, meta["inputs"]["lang_id"])
        targets = phonemes.to_ids(meta["phonemes"].split())
        ref = [t for t in targets if t != WORD]
        edits += align.error_rate(ref, [t for t in align.greedy(lp) if t != WORD]) * len(ref)
        length += len(ref)
        segments = align.align(lp, targets, timing(spec))
        words = [s for s in segments if s.id != WORD]
        firsts = [0] + [k + 1 for k, s in enumerate(segments) if s.id == WORD]
        lasts = [k - 1 for k, s in enumerate(segments) if s.id == WORD] + [len(segments) - 1]
        assert len(firsts) == len(meta["words"]) and words
        for a, b, (start_s, end_s) in zip(firsts, lasts, meta["words"]):
            errors += [abs(segments[a].start_s - start_s), abs(segments[b].end_s - end_s)]
    return {"per": edits / length, "boundary_ms": 1000 * float(np.median(errors))}


def test_the_trained_aligner_recognises_and_aligns_the_clips():
    scores = aligner_scores(MODELS / "aligner/model.safetensors")
    assert scores["per"] <= 0.30 and scores["boundary_ms"] <= 40, scores


def test_the_random_aligner_does_neither():
    scores = aligner_scores(None)
    assert scores["per"] > 0.9 and scores["boundary_ms"] > 80, scores


def test_forced_alignment_agrees_with_ctc_segmentation_on_the_trained_model():
    """ctc-segmentation (Kürzinger et al.) runs its own Viterbi; index_duration 1 makes its timings frames.
    It differs in detail (a stay may take the best of blank and the last token), so agreement is
    counted within one frame, per phoneme start."""
    import ctc_segmentation as cs

    model, spec = build_model("aligner", "small", checkpoint=MODELS / "aligner/model.safetensors")
    model.eval()
    near = total = 0
    for samples, meta, _ in clips("clean"):
        lp = log_probs(model, spec, samples, meta["inputs"]["lang_id"])
        targets = phonemes.to_ids(meta["phonemes"].split())
        config = cs.CtcSegmentationParameters(char_list=list(phonemes.INVENTORY), index_duration=1.0, blank=0)
        ground_truth, _ = cs.prepare_token_list(config, [np.array(targets)])
        timings, _, _ = cs.ctc_segmentation(config, lp, ground_truth)
        theirs = np.asarray(timings[2: 2 + len(targets)])  # ground truth is [-1, blank, targets..., blank]
        ours = np.array([start for start, _ in align.runs(lp, targets, 0)])
        near += int((np.abs(ours - theirs) <= 1).sum())
        total += len(targets)
    assert near / total >= 0.95, near / total


def enhancement_db(checkpoint) -> float:
    """Mean SI-SDR improvement over the noisy clips (5 dB SNR), through the model in overlap-add chunks."""
    model, spec = build_model("enhancer", "small", checkpoint=checkpoint)
    model.eval()
    samples = spec.dim("samples")
    window = samples.max - samples.max % samples.multiple_of

    @torch.no_grad()
    def run(chunk):
        return model(torch.from_numpy(chunk).view(1, 1, -1))[0].reshape(-1).numpy()

    gains = []
    for noisy, meta, path in clips("noisy"):
        clean, _ = read_wav(path.parent / meta["clean"])
        gains.append(si_sdr(clean, overlap_add(run, noisy, window, window // 8)) - si_sdr(clean, noisy))
    return float(np.mean(gains))


def test_the_trained_enhancer_improves_si_sdr_by_6_db():
    assert enhancement_db(MODELS / "enhancer/model.safetensors") >= 6.0


def test_the_random_enhancer_does_not():
    assert enhancement_db(None) < 1.0


@pytest.mark.parametrize("folder", ["clean", "noisy"])
def test_the_clips_are_short_mono_16k_and_under_a_megabyte_in_all(folder):
    for samples, meta, path in clips(folder):
        assert 0.5 <= len(samples) / 16000 <= 2.0 and meta["lang"] in ("en", "cmn", "ms")
    assert sum(p.stat().st_size for p in CLIPS.rglob("*.wav")) < 1_000_000
