"""The speech data generator (examples/train/speech): phoneme inventory, espeak-ng synthesis, noise.

Synthesis tests need the `espeak-ng` command (Debian package espeak-ng) and are skipped without it;
they speak a few sentences per language only (about 0.1 s each), so the file runs in seconds.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

SPEECH = Path(__file__).resolve().parents[2] / "examples" / "train" / "speech"
sys.path.insert(0, str(SPEECH))
import noise  # noqa: E402
import phonemes  # noqa: E402
import sentences  # noqa: E402
import synth  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not on PATH (apt-get install espeak-ng)")
LANGS = ("en", "cmn", "ms")
SAMPLE = 8  # sentences per language that are synthesized


def _sample(lang: str) -> tuple[str, ...]:
    return sentences.SENTENCES[lang][:: len(sentences.SENTENCES[lang]) // SAMPLE][:SAMPLE]


def test_inventory_has_blank_at_zero_no_duplicates_and_fits_the_small_preset():
    inv = phonemes.INVENTORY
    assert inv[0] == phonemes.BLANK == "<b>"
    assert len(set(inv)) == len(inv)
    assert len(inv) <= 40  # aligner `small` preset: n_phonemes=40, blank included
    assert phonemes.to_ids(inv) == list(range(len(inv)))
    assert phonemes.to_symbols(phonemes.to_ids("h ə l o ʊ")) == ["h", "ə", "l", "o", "ʊ"]


def test_every_raw_mapping_lands_in_the_inventory_and_unknowns_raise():
    for lang, table in phonemes.RAW.items():
        for raw, symbols in table.items():
            assert set(symbols) <= set(phonemes.INVENTORY), (lang, raw, symbols)
    assert {t for t in phonemes.CMN_TONES.values() if t} == set(phonemes.TONES)
    with pytest.raises(phonemes.UnknownPhoneme):
        phonemes.to_ids("h Q")
    with pytest.raises(phonemes.UnknownPhoneme):
        phonemes.from_espeak("(en)h/@/l/'oU(cmn)", "cmn")


def test_espeak_mnemonics_map_with_tones_and_stress_dropped():
    # 天 tian1, 很 hen3, 饭 fan4, 的 de (neutral): tones after the vowel, before n/ng
    assert phonemes.from_espeak("th/'iE55/n/_| X/'@214/n/_| f/'a51/n/_| t/@11/_|", "cmn") == \
        "t i e T1 n h ə T3 n f a T4 n d ə".split()
    assert phonemes.from_espeak("D/@2 k/w/'I/k", "en") == ["ð", "ə", "k", "w", "ɪ", "k"]
    assert phonemes.from_espeak("b/'a/n^/a/?", "ms") == "b a n j a k".split()


def test_sentences_are_short_everyday_and_about_sixty_per_language():
    for lang in LANGS:
        texts = sentences.SENTENCES[lang]
        assert 50 <= len(texts) <= 70 and len(set(texts)) == len(texts)
        for text in texts:
            assert 3 <= len(synth.split_words(text)) <= 10, text
    assert sentences.text_of("我 想 喝 咖啡。", "cmn") == "我想喝咖啡。"


@needs_espeak
def test_synthesis_is_deterministic_16k_float32_mono():
    text = sentences.ENGLISH[1]
    a = synth.synthesize(text, "en", "f3", rate=160, pitch=60, seed=7)
    b = synth.synthesize(text, "en", "f3", rate=160, pitch=60, seed=7)
    assert synth.SAMPLE_RATE == 16000
    assert a[0].dtype == np.float32 and a[0].ndim == 1
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    other = synth.synthesize(text, "en", "f3", rate=160, pitch=60, seed=8)
    assert other[1] == a[1] and not np.array_equal(other[0], a[0])  # the seed moves the pauses
    assert 0.05 < np.abs(a[0]).max() <= 1.0


@needs_espeak
@pytest.mark.parametrize("lang", LANGS)
def test_phonemes_of_sampled_sentences_map_into_the_inventory(lang):
    for i, text in enumerate(_sample(lang)):
        _, symbols, bounds = synth.synthesize(text, lang, seed=i)
        ids = phonemes.to_ids(symbols)
        assert 0 not in ids and symbols[0] != phonemes.WORD and symbols[-1] != phonemes.WORD
        assert symbols.count(phonemes.WORD) == len(bounds) - 1
        if lang == "cmn":
            assert set(symbols) & set(phonemes.TONES), text


@needs_espeak
@pytest.mark.parametrize("lang", LANGS)
def test_word_boundaries_are_ordered_inside_and_louder_than_the_gaps(lang):
    text = _sample(lang)[1]
    wave, _, bounds = synth.synthesize(text, lang, "m3", rate=190, pitch=45, seed=3)
    assert [w for *_, w in bounds] == synth.split_words(text)
    edges = [t for start, end, _ in bounds for t in (start, end)]
    assert edges == sorted(edges) and all(e > s for s, e, _ in bounds)
    assert edges[0] > 0 and edges[-1] < len(wave) / synth.SAMPLE_RATE
    inside = np.zeros(len(wave), bool)
    for start, end, _ in bounds:
        inside[round(start * synth.SAMPLE_RATE): round(end * synth.SAMPLE_RATE)] = True
    word_energy = np.mean(wave[inside] ** 2)
    gap_energy = np.mean(wave[~inside] ** 2)
    assert word_energy > 100 * gap_energy
    for start, end, _ in bounds:  # every word, not only on average
        assert noise.rms(wave[round(start * 16000): round(end * 16000)]) > 0.01


@needs_espeak
def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="lang"):
        synth.synthesize("hello there friend", "fr")
    with pytest.raises(ValueError, match="variant"):
        synth.synthesize("hello there friend", "en", "no-such-variant")
    with pytest.raises(ValueError, match="rate"):
        synth.synthesize("hello there friend", "en", rate=10)
    with pytest.raises(ValueError, match="no word"):
        synth.synthesize(" ... ", "en")


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
@pytest.mark.parametrize("colour", sorted(noise.COLOURS))
def test_mix_hits_the_requested_snr(snr, colour):
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    clean = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.2)).astype(np.float32)  # with a pause
    noisy = noise.mix(clean, noise.coloured(rng, 12000, colour), snr)  # noise repeated to length
    assert noisy.dtype == np.float32 and len(noisy) == len(clean)
    assert abs(noise.snr_db(clean, noisy) - snr) < 0.1


def test_coloured_noise_is_deterministic_unit_rms_and_tilted():
    a = noise.coloured(np.random.default_rng(1), 16000, "pink")
    assert np.array_equal(a, noise.coloured(np.random.default_rng(1), 16000, "pink"))
    freqs = np.fft.rfftfreq(16000, 1 / 16000)
    tilt = {}
    for colour in noise.COLOURS:
        x = noise.coloured(np.random.default_rng(2), 16000, colour)
        assert abs(noise.rms(x) - 1) < 1e-4
        power = np.abs(np.fft.rfft(x)) ** 2
        tilt[colour] = 10 * np.log10(power[(freqs > 100) & (freqs < 200)].mean()
                                     / power[(freqs > 1000) & (freqs < 2000)].mean())
    assert abs(tilt["white"]) < 2 and 8 < tilt["pink"] < 12 and 18 < tilt["brown"] < 22


def test_reverb_keeps_length_and_level_and_is_deterministic():
    rng = np.random.default_rng(3)
    x = noise.coloured(rng, 8000, "white") * (np.arange(8000) < 2000)  # a burst, then silence
    a = noise.reverb(np.random.default_rng(4), x)
    assert np.array_equal(a, noise.reverb(np.random.default_rng(4), x))
    assert len(a) == len(x) and a.dtype == np.float32
    assert abs(noise.rms(a) - noise.rms(x)) < 1e-4
    assert noise.rms(a[3000:]) > 1e-3 > noise.rms(x[3000:])  # the room rings on after the burst
    ir = noise.room_impulse_response(np.random.default_rng(5), 0.3)
    envelope = [noise.rms(ir[i: i + 480]) for i in (160, 4480)]  # 10-40 ms vs 280-310 ms
    assert 20 * np.log10(envelope[0] / envelope[1]) == pytest.approx(60 * 0.27 / 0.3, abs=4)


def test_babble_sums_three_to_five_talkers_deterministically():
    rng = np.random.default_rng(6)
    talkers = [noise.coloured(rng, 4000 + 500 * i, "pink") for i in range(6)]
    a = noise.babble(np.random.default_rng(7), talkers, 10000)
    assert np.array_equal(a, noise.babble(np.random.default_rng(7), talkers, 10000))
    assert len(a) == 10000 and abs(noise.rms(a) - 1) < 1e-4
    with pytest.raises(ValueError):
        noise.babble(rng, talkers[:2], 100)


@needs_espeak
def test_phonemize_gives_the_committed_clips_labels():
    """`mobilesdk run --text --lang` makes the phonemes the training data had, words joined by WORD."""
    import json

    from mobilesdk.speech.espeak import phonemize

    meta = json.loads((SPEECH.parents[1] / "clips/clean/clips.json").read_text())
    for clip in meta.values():
        assert " ".join(phonemize(clip["text"], clip["lang"])) == clip["phonemes"]


@needs_espeak
@pytest.mark.parametrize("text,lang,message", [("hello", "fr", "--lang fr: espeak-ng phonemes are mapped for en, cmn, ms"),
                                               ("  ...  ", "en", "has no words")])
def test_phonemize_refuses_what_it_cannot_say(text, lang, message):
    from mobilesdk.errors import ConfigError
    from mobilesdk.speech.espeak import phonemize

    with pytest.raises(ConfigError, match=message):
        phonemize(text, lang)
