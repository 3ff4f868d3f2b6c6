"""16 kHz mono audio in and out, the signal metrics the speech models are judged by, and
overlap-add so any length of audio goes through a model that takes bounded lengths.

WAV files are read with scipy (PCM 16/32-bit and float); another sample rate is resampled with
scipy's polyphase filter and a note, stereo and empty audio are refused with the fix.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mobilesdk.errors import ConfigError

SAMPLE_RATE = 16000


class AudioError(ConfigError):
    """Audio a model cannot take: the message names the file and the fix."""


def read_wav(path: str | Path, sample_rate: int = SAMPLE_RATE, min_samples: int = 1) -> tuple[np.ndarray, str]:
    """(float32 mono samples in [-1, 1] at `sample_rate`, a note: "" or what was changed)."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    path = Path(path)
    try:
        rate, data = wavfile.read(path)
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file. Fix: pass the path of a WAV file") from None
    except ValueError as e:
        raise AudioError(f"{path} is not a WAV file scipy can read ({e}). "
                         "Fix: convert it, e.g. `ffmpeg -i IN -ac 1 -ar 16000 OUT.wav`") from None
    if data.ndim == 2 and data.shape[1] > 1:
        raise AudioError(f"{path} has {data.shape[1]} channels; the models take mono. "
                         f"Fix: mix it down, e.g. `ffmpeg -i {path.name} -ac 1 mono.wav`")
    x = data.reshape(-1)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max + 1)
    x = x.astype(np.float32)
    note = ""
    if rate != sample_rate:
        g = math.gcd(sample_rate, rate)
        x = resample_poly(x, sample_rate // g, rate // g).astype(np.float32)
        note = f"{path.name}: resampled from {rate} Hz to {sample_rate} Hz"
    if len(x) < min_samples:
        raise AudioError(f"{path} has {len(x)} samples at {sample_rate} Hz ({len(x) / sample_rate:.3f} s); "
                         f"the model needs at least {min_samples} ({min_samples / sample_rate:.3f} s). "
                         "Fix: pass a longer recording")
    return x, note


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """16-bit PCM, written to a temporary file first so a failure leaves no half-written WAV."""
    from scipy.io import wavfile

    path = Path(path)
    pcm = np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            wavfile.write(f, sample_rate, pcm)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019), means removed."""
    ref = np.asarray(reference, np.float64) - np.mean(reference)
    est = np.asarray(estimate, np.float64) - np.mean(estimate)
    target = ref * (est @ ref) / max(ref @ ref, 1e-20)
    noise = est - target
    return 10 * math.log10(max(target @ target, 1e-20) / max(noise @ noise, 1e-20))


def overlap_add(model: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, window: int,
                overlap: int) -> np.ndarray:
    """Run a waveform-to-waveform `model` on `audio` of any length in chunks of `window` samples
    that overlap by `overlap` (at most half a window), cross-faded with a Hann-shaped ramp (the fades sum to one).

    The last chunk is zero-padded to `window`; audio shorter than one window is one padded chunk.
    `model` takes and returns a [window] float32 array.
    """
    if not 0 <= overlap <= window // 2:  # more, and three chunks overlap: the fades no longer sum to one
        raise ValueError(f"overlap {overlap} must be in [0, window {window} / 2]")
    hop = window - overlap
    n = len(audio)
    chunks = max(1, math.ceil(max(0, n - overlap) / hop))
    padded = np.zeros((chunks - 1) * hop + window, np.float32)
    padded[:n] = audio
    fade = np.sin(0.5 * np.pi * (np.arange(overlap) + 0.5) / overlap) ** 2 if overlap else np.zeros(0)
    out = np.zeros_like(padded)
    for i in range(chunks):
        piece = np.asarray(model(padded[i * hop: i * hop + window]), np.float32).reshape(window)
        weight = np.ones(window, np.float32)
        if i > 0:
            weight[:overlap] = fade
        if i < chunks - 1:
            weight[window - overlap:] = fade[::-1]
        out[i * hop: i * hop + window] += piece * weight
    return out[:n]
