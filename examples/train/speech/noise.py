"""Deterministic noise and reverberation for the synthetic speech, and mixing at an exact SNR.

Why: espeak-ng speech is clean and dry; an aligner trained only on it fails on a phone's
microphone. Corrupting it with noise and a room makes the training data harder in ways that are
known exactly (the SNR and RT60 are chosen, not measured). What: coloured noise (white, pink,
brown) by shaping a white spectrum, babble from other utterances, a room reverb from an
exponentially decaying noise impulse response, and `mix`. All randomness comes from the
`numpy.random.Generator` passed in, so the same generator state gives the same output.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

SAMPLE_RATE = 16000
# Power spectral density ~ 1 / f**exponent.
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
BABBLE_TALKERS = (3, 5)  # inclusive
RT60_RANGE = (0.2, 0.6)  # seconds
DIRECT_TO_REVERB_DB = 0.0  # energy of the direct path over the reverberant tail's


def rms(x: np.ndarray) -> float:
    """Root mean square of x, in float64."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def coloured(rng: np.random.Generator, n: int, colour: str = "white") -> np.ndarray:
    """n samples of white, pink or brown noise with unit RMS (float32).

    White Gaussian noise is shaped in the frequency domain: amplitude * f**(-exponent / 2), the
    DC bin taking the lowest non-zero frequency's gain so brown noise has no infinite offset.
    """
    if colour not in COLOURS:
        raise ValueError(f"colour {colour!r}: expected one of {sorted(COLOURS)}")
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    noise = np.fft.irfft(spectrum * freqs ** (-COLOURS[colour] / 2), n)
    noise -= noise.mean()
    return (noise / rms(noise)).astype(np.float32)


def babble(rng: np.random.Generator, utterances: list[np.ndarray], n: int) -> np.ndarray:
    """n samples of babble: 3-5 of `utterances` (other talkers), each at unit RMS and a random
    start, repeated to length n and summed; the result has unit RMS (float32)."""
    if len(utterances) < BABBLE_TALKERS[0]:
        raise ValueError(f"babble needs at least {BABBLE_TALKERS[0]} utterances, got {len(utterances)}")
    talkers = int(rng.integers(BABBLE_TALKERS[0], min(BABBLE_TALKERS[1], len(utterances)) + 1))
    total = np.zeros(n)
    for index in rng.choice(len(utterances), size=talkers, replace=False):
        voice = np.asarray(utterances[index], dtype=np.float64)
        voice = np.resize(np.roll(voice, -int(rng.integers(len(voice)))), n)
        total += voice / max(rms(voice), 1e-12)
    return (total / max(rms(total), 1e-12)).astype(np.float32)


def room_impulse_response(rng: np.random.Generator, rt60: float,
                          sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A unit direct path, then a tail of Gaussian noise whose amplitude falls 60 dB in rt60
    seconds, scaled to DIRECT_TO_REVERB_DB below the direct path; unit energy (float64)."""
    t = np.arange(max(2, round(rt60 * sample_rate))) / sample_rate
    ir = rng.standard_normal(len(t)) * np.exp(-np.log(1000.0) * t / rt60)
    ir[0] = 0.0
    ir *= np.sqrt(10 ** (-DIRECT_TO_REVERB_DB / 10) / np.sum(ir ** 2))  # the reverberant tail
    ir[0] = 1.0  # the direct path
    return ir / np.sqrt(np.sum(ir ** 2))


def reverb(rng: np.random.Generator, x: np.ndarray, rt60: float | None = None,
           sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """x in a simulated room (RT60 drawn from 0.2-0.6 s unless given): same length and RMS as x."""
    if rt60 is None:
        rt60 = float(rng.uniform(*RT60_RANGE))
    if rt60 <= 0:
        raise ValueError(f"rt60 {rt60}: must be positive")
    wet = fftconvolve(np.asarray(x, dtype=np.float64), room_impulse_response(rng, rt60, sample_rate))
    wet = wet[: len(x)]
    level = rms(wet)
    return (wet * (rms(x) / level) if level > 0 else wet).astype(np.float32)


def mix(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + noise scaled so that 10 log10(power(clean) / power(scaled noise)) == snr_db.

    Powers are means over the whole utterance, pauses included. `noise` is cut or repeated to
    the length of `clean`.
    """
    noise = np.resize(np.asarray(noise, dtype=np.float64), len(clean))
    clean_power, noise_power = rms(clean) ** 2, rms(noise) ** 2
    if noise_power == 0 or clean_power == 0:
        raise ValueError("mix needs a clean signal and a noise with non-zero power")
    gain = np.sqrt(clean_power / (noise_power * 10 ** (snr_db / 10)))
    return (np.asarray(clean, dtype=np.float64) + gain * noise).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """The SNR of `noisy` against the `clean` signal it was made from, in dB."""
    residual = np.asarray(noisy, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
    return 10 * float(np.log10(rms(clean) ** 2 / rms(residual) ** 2))
