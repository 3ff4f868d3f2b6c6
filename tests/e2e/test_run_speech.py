"""`mobilesdk run` on speech end to end: a tiny enhancer and aligner on the committed clips
(tests/fixtures/device_bundle.py); enhance, align and run the pipeline through two formats in their
own runtimes, and every bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from converters.base import get
from mobilesdk.speech.audio import SAMPLE_RATE, read_wav, write_wav
from tests.e2e.test_build_verify import cli
from tests.fixtures import device_bundle as shared

pytestmark = [pytest.mark.slow] + [pytest.mark.skipif(get(f).check() is not None, reason=str(get(f).check()))
                                   for f in ("executorch", "tflite")]
SCOPE_GROUP = shared.GROUP
CLIPS = shared.CLIPS
NOISY = CLIPS / "noisy/en_1.wav"
CLEAN = CLIPS / "clean/en_1.wav"
PHONEMES = "3 5 7 9"  # the tiny aligner's classes have no names: its ids serve


@pytest.fixture(scope="module")
def bundle(device_bundle):
    assert "from 6 clips" in device_bundle.log
    return device_bundle.path


def test_parity_of_the_aligner_reports_alignment_agreement(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    aligner = next(x for x in m["models"] if x["name"] == "aligner")
    log_probs = [p for a in aligner["artifacts"] for p in a["parity"] if p["output"] == "log_probs"]
    assert len(log_probs) == 2 and all(p["alignment_agreement"] == 1.0 for p in log_probs)  # fp32 keeps each boundary
    assert "alignment 100.0%" in (bundle / "report.md").read_text()


def test_the_report_shows_a_picture_per_audio_model(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    report = (bundle / "report.md").read_text()
    files = {f["path"] for f in m["files"]}
    for name in ("enhancer", "aligner"):
        png = bundle / f"pictures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert f"](pictures/{name}.png)" in report and f"pictures/{name}.png" in files


def test_the_enhancer_takes_any_length_in_chunks_and_both_formats_agree(bundle, tmp_path):
    noisy, _ = read_wav(NOISY)
    long = np.concatenate([noisy] * 3)  # longer than the tiny enhancer's window
    write_wav(tmp_path / "long.wav", long)
    outs = []
    for fmt in ("executorch", "tflite"):
        target = tmp_path / f"{fmt}.wav"
        r = cli("run", bundle, "enhancer", tmp_path / "long.wav", "-o", target, "--format", fmt, "--json")
        assert r.returncode == 0, r.stderr
        step = json.loads(r.stdout)[0]
        assert step["artifact"] == f"{fmt}/fp32" and step["chunks"] > 1 and step["wrote"] == str(target)
        enhanced, _ = read_wav(target)
        assert len(enhanced) == len(long) and np.abs(enhanced).max() > 0
        outs.append(enhanced)
    assert np.abs(outs[0] - outs[1]).max() < 1e-3  # int16 WAVs of the same fp32 computation


def test_the_aligner_prints_greedy_phonemes_and_segments_inside_the_clip(bundle):
    r = cli("run", bundle, "aligner", CLEAN, "--phonemes", PHONEMES, "--input", "lang_id=0", "--format", "tflite",
            "--json")
    assert r.returncode == 0, r.stderr
    step = json.loads(r.stdout)[0]
    segments = step["segments"]
    assert [s["phoneme"] for s in segments] == PHONEMES.split()
    assert all(0 <= s["start_s"] < s["end_s"] <= step["seconds"] + 0.05 and s["score"] <= 0 for s in segments)
    assert [s["start_s"] for s in segments] == sorted(s["start_s"] for s in segments)
    text = cli("run", bundle, "aligner", CLEAN, "--phonemes", PHONEMES, "--input", "lang_id=0")
    assert text.returncode == 0 and "forced alignment of 4 phonemes" in text.stdout


def test_the_pipeline_enhances_then_aligns_before_and_after(bundle, tmp_path):
    target = tmp_path / "clean.wav"
    r = cli("run", bundle, "pipeline", NOISY, "--phonemes", PHONEMES, "--input", "lang_id=0", "-o", target)
    assert r.returncode == 0, r.stderr
    assert target.exists() and "enhancement changed the alignment score from" in r.stdout
    assert r.stdout.count("forced alignment of 4 phonemes") == 2


def _wav(tmp_path: Path, name: str, samples, rate: int = SAMPLE_RATE) -> Path:
    from scipy.io import wavfile

    wavfile.write(tmp_path / name, rate, np.asarray(samples, np.float32))
    return tmp_path / name


def test_another_sample_rate_is_resampled_with_a_note(bundle, tmp_path):
    clean, _ = read_wav(CLEAN)
    wav = _wav(tmp_path, "8k.wav", clean[::2], rate=8000)
    r = cli("run", bundle, "aligner", wav, "--input", "lang_id=0")
    assert r.returncode == 0, r.stderr
    assert "note: 8k.wav: resampled from 8000 Hz to 16000 Hz" in r.stdout


@pytest.mark.parametrize("make,args,message", [
    (lambda t: _wav(t, "stereo.wav", np.zeros((16000, 2))), ("aligner",), "has 2 channels; the models take mono"),
    (lambda t: _wav(t, "empty.wav", np.zeros(0)), ("aligner",), "has 0 samples"),
    (lambda t: _wav(t, "short.wav", np.zeros(20)), ("enhancer",), "has 20 samples"),
    (lambda t: t / "missing.wav", ("enhancer",), "missing.wav: no such file"),
    (lambda t: CLEAN, ("aligner", "--phonemes", "3 zz 5", "--input", "lang_id=0"), "--phonemes: ['zz']"),
    (lambda t: CLEAN, ("aligner", "--phonemes", "3 " * 400, "--input", "lang_id=0"), "phonemes need at least"),
    (lambda t: CLEAN, ("aligner",), "needs input `lang_id`"),
    (lambda t: CLEAN, ("aligner", "--input", "lang_id=9"), "--input lang_id=9: not one of 0..2"),
    (lambda t: CLEAN, ("enhancer", "--input", "lang_id=0"), "take no category input `lang_id`"),
])
def test_bad_input_is_one_line_and_exit_2(bundle, tmp_path, make, args, message, capsys):
    from mobilesdk.cli import main

    wav = make(tmp_path)
    name, *rest = args
    assert main(["run", str(bundle), name, str(wav), *rest]) == 2
    # executorch's runtime logs its CPU probe ("[cpuinfo_utils.cpp:71] ...") on first load in a process
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[cpuinfo")]
    assert len(lines) == 1 and message in lines[0], lines
