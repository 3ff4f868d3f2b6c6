"""CTC forced alignment and greedy decoding of a CTC head's per-frame log-probabilities.

Why by hand: torchaudio's `forced_align` is deprecated and not installed here, and the
`ctc-segmentation` package aligns text with a different, confidence-oriented objective. The
Viterbi below is the plain maximum-likelihood CTC path, about forty lines of numpy, and it is
the reference the generated Kotlin and Swift bindings reimplement.

The trellis is the usual one: the target ids interleaved with blanks (blank, y1, blank, y2, ...,
blank); a frame stays in its state, moves to the next, or skips a blank between two different
ids. The best path gives each target id a run of frames: its segment.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mobilesdk.errors import ConfigError


@dataclass(frozen=True)
class FrameTiming:
    """Where frame t sits in the audio: its receptive field covers samples
    [t * stride, t * stride + receptive_field), so its centre is t * stride + receptive_field / 2."""

    stride: int
    receptive_field: int
    sample_rate: int

    def boundary_s(self, frame: int) -> float:
        """The time between frames frame - 1 and frame: midway between their centres."""
        return (frame * self.stride + (self.receptive_field - self.stride) / 2) / self.sample_rate

    def frames(self, samples: int) -> int:
        """How many frames `samples` valid samples give."""
        return max(0, (samples - self.receptive_field) // self.stride + 1)


@dataclass(frozen=True)
class Segment:
    """One target id's run of frames on the best CTC path, [start_frame, end_frame)."""

    id: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    score: float  # mean log-probability of `id` over the segment's frames (0 is certain)


class AlignmentError(ConfigError):
    """The targets cannot be aligned to the frames (too many, or an id outside the head)."""


def min_frames(targets: Sequence[int]) -> int:
    """The fewest frames a CTC path for `targets` needs: one per id, plus a blank between repeats."""
    return len(targets) + sum(a == b for a, b in zip(targets, targets[1:]))


def _check(log_probs: np.ndarray, targets: Sequence[int], blank: int) -> None:
    if log_probs.ndim != 2:
        raise AlignmentError(f"log_probs has shape {log_probs.shape}. Fix: pass one row's [frames, classes]")
    frames, classes = log_probs.shape
    bad = [t for t in targets if not 0 <= t < classes or t == blank]
    if bad:
        raise AlignmentError(
            f"target ids {bad[:5]} are the blank ({blank}) or outside the {classes} classes of the CTC head. "
            "Fix: pass ids of the model's phoneme inventory, without blanks")
    if min_frames(targets) > frames:
        raise AlignmentError(
            f"{len(targets)} phonemes need at least {min_frames(targets)} frames, but the audio gives {frames}. "
            "Fix: pass longer audio or fewer phonemes")


def viterbi(log_probs: np.ndarray, targets: Sequence[int], blank: int = 0) -> tuple[np.ndarray, float]:
    """The best CTC path for `targets`: per frame, the index of its target (-1 on blank frames), and
    the path's total log-probability. `log_probs` is [frames, classes] of one row, valid frames only."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    _check(log_probs, targets, blank)
    frames = log_probs.shape[0]
    if not len(targets):
        return np.full(frames, -1), float(log_probs[:, blank].sum())
    states = np.full(2 * len(targets) + 1, blank)
    states[1::2] = targets
    n = len(states)
    skip = np.zeros(n, dtype=bool)  # s may be entered from s - 2: a target differing from the one before
    skip[3::2] = states[3::2] != states[1:-2:2]
    score = np.full(n, -np.inf)
    score[:2] = log_probs[0, states[:2]]
    back = np.zeros((frames, n), dtype=np.int64)
    for t in range(1, frames):
        stay, step = score, np.concatenate([[-np.inf], score[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        options = np.stack([stay, step, jump])
        best = options.argmax(axis=0)
        back[t] = np.arange(n) - best
        score = options[best, np.arange(n)] + log_probs[t, states]
    end = n - 1 if score[n - 1] >= score[n - 2] else n - 2
    total = float(score[end])
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = end
        end = back[t, end]
    return np.where(path % 2 == 1, path // 2, -1), total


def runs(log_probs: np.ndarray, targets: Sequence[int], blank: int = 0) -> list[tuple[int, int]]:
    """Each target's frames [start, end) on the best CTC path, in order."""
    owner, _ = viterbi(log_probs, targets, blank)
    out = []
    for k in range(len(targets)):
        frames = np.flatnonzero(owner == k)
        out.append((int(frames[0]), int(frames[-1]) + 1))
    return out


def align(log_probs: np.ndarray, targets: Sequence[int], timing: FrameTiming, blank: int = 0) -> list[Segment]:
    """Forced alignment of `targets` to one row's valid frames: a Segment per target, in order."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    return [Segment(int(t), a, b, timing.boundary_s(a), timing.boundary_s(b), float(log_probs[a:b, t].mean()))
            for t, (a, b) in zip(targets, runs(log_probs, targets, blank))]


def greedy(log_probs: np.ndarray, blank: int = 0) -> list[int]:
    """Best-path decoding: the per-frame argmax with repeats merged and blanks dropped."""
    best = np.asarray(log_probs).argmax(axis=-1)
    return [int(b) for i, b in enumerate(best) if b != blank and (i == 0 or b != best[i - 1])]


def frame_durations(segments: Sequence[Segment], frames: int) -> np.ndarray:
    """Per frame, the length in frames of the segment it lies in (0 on frames between segments):
    the duration head's training target."""
    out = np.zeros(frames, dtype=np.float32)
    for s in segments:
        out[s.start_frame:s.end_frame] = s.end_frame - s.start_frame
    return out


def close_boundaries(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]], tolerance_frames: int = 1) -> int:
    """How many segment boundaries (starts and ends) of two alignments of the same targets (`runs`)
    lie within `tolerance_frames` of each other, of 2 * len(a): how far an artifact's alignment
    moved from PyTorch's."""
    if len(a) != len(b):
        raise ValueError(f"alignments of different targets: {len(a)} and {len(b)} segments")
    return sum(abs(x - y) <= tolerance_frames for p, q in zip(a, b) for x, y in zip(p, q))


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Log-probabilities from a head's scores (logits or already log-probs: it is idempotent)."""
    scores = np.asarray(scores, np.float64)
    top = scores.max(axis=-1, keepdims=True)
    return scores - top - np.log(np.exp(scores - top).sum(axis=-1, keepdims=True))


def error_rate(reference: Sequence[int], hypothesis: Sequence[int]) -> float:
    """Levenshtein distance / len(reference): the phoneme error rate of one utterance."""
    row = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(reference))
