"""Pictures for the report, where people would rather look than read: per audio model, one PNG of
its first golden case (row 0).

- a waveform-to-waveform model (an enhancer): waveform and spectrogram, before and after (PyTorch);
- a CTC head (an aligner): the spectrogram with, under it, one lane per run (PyTorch, then each
  artifact in its own runtime) of the forced alignment of PyTorch's greedy phonemes, so a drift
  shows as bars that move.

Drawn with matplotlib's object API (no pyplot, no display needed) into pictures/<model>.png.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from converters.base import Converted, get

from mobilesdk.errors import summary
from mobilesdk.manifest import FileEntry, Model
from mobilesdk.pipeline.bundle import load_golden
from mobilesdk.pipeline.cache import Cache, hash_source
from mobilesdk.pipeline.run import open_model
from mobilesdk.pipeline.run_speech import frame_timing
from mobilesdk.spec import ModelSpec
from mobilesdk.speech import align
from mobilesdk.speech.audio import SAMPLE_RATE

FOLDER = "pictures"


def _row0(spec: ModelSpec, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Row 0 of the audio input, cut to its valid samples."""
    x = np.asarray(inputs[spec.first_input("audio").name])[0].reshape(-1)
    mask = next((inputs[m.input] for m in spec.masks if m.input in inputs), None)
    return x[: int(np.asarray(mask)[0].sum())] if mask is not None else x


def _spectrogram(ax, samples: np.ndarray, title: str) -> None:
    # digital silence (exact zeros) would be -inf dB, drawn blank: a 1e-9 floor draws it darkest
    ax.specgram(samples.astype(np.float64) + 1e-9, NFFT=512, Fs=SAMPLE_RATE, noverlap=384, cmap="magma", vmin=-120)
    ax.set(title=title, ylabel="Hz")


def _enhancer(fig, spec: ModelSpec, inputs, outputs) -> None:
    out = spec.waveform_output()
    before = _row0(spec, inputs)
    after = np.asarray(outputs[out.name])[0].reshape(-1)[: len(before)]
    t = np.arange(len(before)) / SAMPLE_RATE
    axes = fig.subplots(2, 2, sharex=True)
    for col, (samples, what) in enumerate(((before, "input"), (after, f"{out.name} (PyTorch)"))):
        axes[0, col].plot(t, samples, lw=0.4)
        axes[0, col].set(title=f"{what}: waveform", ylim=(-1, 1))
        _spectrogram(axes[1, col], samples, f"{what}: spectrogram")
        axes[1, col].set_xlabel("s")


def _aligner(fig, root: Path, model: Model, spec: ModelSpec, inputs, outputs) -> None:
    o = spec.ctc_head()
    samples = _row0(spec, inputs)
    timing = frame_timing(spec, o)
    frames = timing.frames(len(samples))
    names = o.labels or tuple(str(i) for i in range(o.shape[-1]))
    targets = align.greedy(align.log_softmax(np.asarray(outputs[o.name])[0, :frames]), o.ctc_blank)
    runs = [("PyTorch", outputs)]
    for a in model.artifacts:
        label = f"{a.format}/{a.precision}"
        try:
            runs.append((label, open_model(root, model, a.format, a.precision).runner(inputs)))
        except Exception as e:  # parity already failed this artifact; the lane says why
            runs.append((f"{label}: {summary(e)[:60]}", None))
    ax_spec, ax_lanes = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 0.35 * len(runs)]})
    _spectrogram(ax_spec, samples, f"{model.name}: golden row 0, forced alignment of PyTorch's greedy phonemes")
    for lane, (label, got) in enumerate(runs):
        y = len(runs) - 1 - lane
        if got is None or not targets:
            continue
        log_probs = align.log_softmax(np.asarray(got[o.name])[0, :frames])
        for s in align.align(log_probs, targets, timing, o.ctc_blank):
            ax_lanes.barh(y, s.end_s - s.start_s, left=s.start_s, height=0.8, color=f"C{s.id % 10}", alpha=0.8)
            ax_lanes.text((s.start_s + s.end_s) / 2, y, names[s.id], ha="center", va="center", fontsize=6)
    ax_lanes.set(yticks=range(len(runs)), yticklabels=[label for label, _ in reversed(runs)], xlabel="s",
                 xlim=(0, len(samples) / SAMPLE_RATE))
    ax_lanes.tick_params(axis="y", labelsize=7)


def draw(root: Path, model: Model, spec: ModelSpec, cache: Cache, files: list[FileEntry]) -> str | None:
    """Write the model's picture; its path relative to the bundle, or None for a model without one.
    An aligner's picture runs every artifact in its runtime (all the toolchains' imports, seconds), so
    pictures are cached by what they follow from (`picture_key`; `files`: the bundle's so far)."""
    if not model.golden or spec.first_input("audio") is None or (spec.ctc_head() is None and spec.waveform_output() is None):
        return None
    rel = f"{FOLDER}/{model.name}.png"
    key = picture_key(model, files)
    if cache.restore(key, root) is None:
        _draw(root, model, spec, root / rel)
        cache.store(key, Converted([root / rel]), root)
    return rel


def picture_key(model: Model, files: list[FileEntry]) -> str:
    """What a picture follows from: its model's golden data and artifacts (their bytes, which runtime
    runs them, at which version), matplotlib and the drawing code."""
    import matplotlib

    mine = [model.golden[0].path] + [f for a in model.artifacts for f in a.files]
    h = hashlib.sha256(json.dumps([model.name, matplotlib.__version__, [(a.format, a.precision, a.runtime, get(a.format).versions())
                                                                        for a in model.artifacts]]).encode())
    for f in files:
        if any(f.path == m or f.path.startswith(m + "/") for m in mine):
            h.update(f"{f.path} {f.sha256}".encode())
    hash_source(h, __name__)
    return "picture-" + h.hexdigest()[:32]


def _draw(root: Path, model: Model, spec: ModelSpec, path: Path) -> None:
    from matplotlib.figure import Figure

    inputs, outputs, _, _ = load_golden(root / model.golden[0].path)
    if spec.ctc_head() is not None:
        fig = Figure(figsize=(11, 3 + 0.3 * (len(model.artifacts) + 1)), layout="constrained")
        _aligner(fig, root, model, spec, inputs, outputs)
    else:
        fig = Figure(figsize=(11, 5), layout="constrained")
        _enhancer(fig, spec, inputs, outputs)
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=110)
