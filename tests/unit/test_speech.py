"""mobilesdk.speech: CTC forced alignment against brute force, greedy decoding, overlap-add, WAV I/O."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mobilesdk.models import build_model
from mobilesdk.models.aligner import FRAMES
from mobilesdk.speech import align as ctc
from mobilesdk.speech.audio import AudioError, overlap_add, read_wav, si_sdr, write_wav

TIMING = ctc.FrameTiming(FRAMES.stride, FRAMES.receptive_field, 16000)


def collapse(path) -> list[int]:
    return [int(c) for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]


def brute_force(log_probs: np.ndarray, targets: list[int]) -> float:
    """The best total log-probability over every frame labelling that collapses to `targets`."""
    frames, classes = log_probs.shape
    best = -np.inf
    for path in itertools.product(range(classes), repeat=frames):
        if collapse(path) == targets:
            best = max(best, float(log_probs[np.arange(frames), path].sum()))
    return best


@st.composite
def ctc_case(draw):
    frames, classes = draw(st.integers(1, 6)), draw(st.integers(2, 4))
    targets = draw(st.lists(st.integers(1, classes - 1), max_size=frames))
    if ctc.min_frames(targets) > frames:
        targets = targets[: frames // 2]
    seed = draw(st.integers(0, 2**31))
    logits = np.random.default_rng(seed).normal(size=(frames, classes)) * 3
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True)), targets


@settings(max_examples=60, deadline=None)
@given(ctc_case())
def test_viterbi_finds_the_best_path_brute_force_finds(case):
    log_probs, targets = case
    owner, total = ctc.viterbi(log_probs, targets)
    assert total == pytest.approx(brute_force(log_probs, targets), abs=1e-9)
    # the path it returns is a valid one with that score: each frame owned by a target or blank
    labels = np.where(owner >= 0, np.asarray(targets + [0])[owner], 0)
    assert collapse(labels) == targets
    assert float(log_probs[np.arange(len(labels)), labels].sum()) == pytest.approx(total, abs=1e-9)


def test_repeated_targets_need_a_blank_between():
    lp = np.log(np.full((3, 2), 0.5))
    owner, _ = ctc.viterbi(lp, [1, 1])
    assert list(owner) == [0, -1, 1]
    with pytest.raises(ctc.AlignmentError, match="need at least 3 frames"):
        ctc.viterbi(lp[:2], [1, 1])


def test_align_gives_ordered_segments_in_seconds_with_the_frame_formula():
    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(5), size=40))
    targets = [3, 1, 4, 1, 2]
    segments = ctc.align(lp, targets, TIMING)
    assert [s.id for s in segments] == targets
    for a, b in zip(segments, segments[1:]):
        assert a.end_frame <= b.start_frame and a.end_s <= b.start_s
    for s in segments:
        assert s.start_s == pytest.approx((s.start_frame * 320 + 40) / 16000)
        assert s.score == pytest.approx(lp[s.start_frame:s.end_frame, s.id].mean())
    durations = ctc.frame_durations(segments, 40)
    for s in segments:
        assert set(durations[s.start_frame:s.end_frame]) == {s.end_frame - s.start_frame}


def test_align_refuses_ids_the_head_does_not_have():
    lp = np.zeros((10, 4))
    with pytest.raises(ctc.AlignmentError, match=r"target ids \[4, 0\].*Fix"):
        ctc.align(lp, [1, 4, 0], TIMING)


def test_frame_timing_counts_the_frames_the_aligner_gives():
    model, _ = build_model("aligner", "tiny")
    for samples in (400, 719, 720, 1600, 5555):
        with torch.no_grad():
            log_probs, _ = model(torch.randn(1, samples), torch.ones(1, samples, dtype=torch.int32),
                                 torch.zeros(1, dtype=torch.int32))
        assert log_probs.shape[1] == TIMING.frames(samples)


def test_greedy_merges_repeats_and_drops_blanks():
    best = [0, 2, 2, 0, 2, 1, 1, 0]
    lp = np.log(np.eye(3)[best] * 0.98 + 0.01)
    assert ctc.greedy(lp) == [2, 2, 1]


def test_error_rate_is_edit_distance_over_reference_length():
    assert ctc.error_rate([1, 2, 3, 4], [1, 2, 3, 4]) == 0
    assert ctc.error_rate([1, 2, 3, 4], [1, 3, 4]) == 0.25  # one deletion
    assert ctc.error_rate([1, 2], [3, 1, 2, 5]) == 1.0  # two insertions


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.integers(64, 1024), st.floats(0, 0.5))
def test_overlap_add_of_an_identity_model_returns_the_audio(n, window, overlap_fraction):
    audio = np.random.default_rng(n).normal(size=n).astype(np.float32)
    calls = []

    def identity(chunk):
        calls.append(len(chunk))
        return chunk

    out = overlap_add(identity, audio, window, int(window * overlap_fraction))
    np.testing.assert_allclose(out, audio, atol=1e-5)
    assert set(calls) == {window}


def test_overlap_add_cross_fades_chunks():
    """A model that outputs a constant per chunk: inside an overlap the output ramps between them."""
    chunk_ids = iter(range(100))
    out = overlap_add(lambda c: np.full_like(c, next(chunk_ids)), np.zeros(300, np.float32), 100, 50)
    assert out[0] == 0 and out[99] == pytest.approx(1, abs=0.05) and out[125] == pytest.approx(1.5, abs=0.05)
    assert np.all(np.diff(out) >= -1e-6)


def test_si_sdr_ignores_scale_and_measures_the_noise():
    rng = np.random.default_rng(0)
    ref, noise = rng.normal(size=16000), rng.normal(size=16000)
    noise -= ref * (noise @ ref) / (ref @ ref)  # orthogonal, so the ratio is exact
    noise *= np.linalg.norm(ref) / np.linalg.norm(noise) / 10  # 20 dB below
    assert si_sdr(ref, 0.3 * (ref + noise)) == pytest.approx(20.0, abs=1e-3)


def test_wav_round_trip_and_resampling(tmp_path):
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_wav(tmp_path / "a.wav", tone)
    back, note = read_wav(tmp_path / "a.wav")
    assert note == "" and np.abs(back - tone).max() < 1e-4
    from scipy.io import wavfile

    wavfile.write(tmp_path / "b.wav", 8000, (tone[::2] * 32767).astype(np.int16))
    up, note = read_wav(tmp_path / "b.wav")
    assert "resampled from 8000 Hz to 16000 Hz" in note and len(up) == 16000
    assert np.abs(up[100:-100] - tone[100:-100]).max() < 0.02


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text("not audio"), "is not a WAV file"),
    (lambda p: __import__("scipy.io.wavfile").io.wavfile.write(p, 16000, np.zeros((800, 2), np.int16)),
     "has 2 channels"),
    (lambda p: write_wav(p, np.zeros(10, np.float32)), "has 10 samples"),
])
def test_unusable_audio_is_refused_with_the_fix(tmp_path, make, message):
    path = tmp_path / "x.wav"
    make(path)
    with pytest.raises(AudioError, match=f"{message}.*Fix"):
        read_wav(path, min_samples=400)

