"""Golden audio from WAV clips: rows are pieces of the clips, other inputs take each clip's values from
clips.json, bad folders are refused with the fix; parity of a CTC head reports alignment agreement."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mobilesdk.capture import run_torch
from mobilesdk.errors import ConfigError
from mobilesdk.golden import AudioFeed, Clip, calibration_batches, golden_cases, read_clips
from mobilesdk.models import build_model
from mobilesdk.pipeline.check import ReferenceCase, evaluate
from mobilesdk.speech.audio import write_wav

CLIPS = Path(__file__).resolve().parents[2] / "examples/clips/clean"


@pytest.fixture(scope="module")
def aligner():
    return build_model("aligner", "tiny", name="aligner")


def test_rows_run_through_consecutive_clips_from_a_random_point_and_take_the_first_clips_inputs():
    # each sample says which clip it is from and where: 1000 * clip + position
    clips = tuple(Clip(f"{i}.wav", (1000 * i + np.arange(n)).astype(np.float32), {"lang_id": i})
                  for i, n in enumerate((300, 50, 200)))
    rows = AudioFeed(clips).rows(40, 420, np.random.default_rng(0))
    for row in rows:
        clip, pos = np.divmod(row.samples.astype(int), 1000)
        assert len(row.samples) == 420 and row.inputs == {"lang_id": clip[0]} and row.name == f"{clip[0]}.wav"
        # consecutive: within a clip positions step by one; across, the next clip (cyclically) from 0
        step = np.diff(pos) == 1
        nxt = (clip[1:] == (clip[:-1] + 1) % 3) & (pos[1:] == 0)
        assert np.all(step & (clip[1:] == clip[:-1]) | nxt)
    assert len({int(r.samples[0]) for r in rows}) > 10  # rows start at many points


def test_golden_and_calibration_rows_come_from_the_committed_clips(aligner):
    _, spec = aligner
    feed = read_clips(CLIPS, spec)
    meta = json.loads((CLIPS / "clips.json").read_text())
    assert [c.name for c in feed.clips] == sorted(meta)
    for batch in [c.inputs for c in golden_cases(spec, audio=feed)] + calibration_batches(spec, 3, audio=feed):
        for row in range(batch["waveform"].shape[0]):
            n = min(64, int(batch["attention_mask"][row].sum()))
            head = batch["waveform"][row, :n]
            if not head.any():  # a row that starts in a clip's silence cannot be placed
                continue
            found = [c for c in feed.clips if any(np.array_equal(c.samples[k:k + n], head)
                                                  for k in range(len(c.samples) - n + 1))]
            assert found and batch["lang_id"][row] == found[0].inputs["lang_id"]


def test_the_enhancer_takes_clips_too(tmp_path):
    _, spec = build_model("enhancer", "tiny")
    write_wav(tmp_path / "a.wav", (np.sin(np.arange(5000) / 3) * 0.5).astype(np.float32))
    feed = read_clips(tmp_path, spec)
    row = golden_cases(spec, audio=feed)[0].inputs["waveform"][0, 0]
    assert np.isin(row, feed.clips[0].samples).all()


@pytest.mark.parametrize("meta, message", [
    ("{", "is not JSON"),
    ('{"en_1.wav": {"inputs": {"language": 0}}}', "gives input `language`, which is not a category input"),
    ('{"en_1.wav": {"inputs": {"lang_id": 7}}}', r"gives lang_id = 7; aligner takes integers in \[0, 3\)"),
])
def test_bad_clips_json_is_refused_with_the_fix(aligner, tmp_path, meta, message):
    shutil.copy(CLIPS / "en_1.wav", tmp_path)
    (tmp_path / "clips.json").write_text(meta)
    with pytest.raises(ConfigError, match=f"{message}.*Fix"):
        read_clips(tmp_path, aligner[1])


def test_a_folder_without_wavs_is_refused(aligner, tmp_path):
    with pytest.raises(ConfigError, match="has no .wav files. Fix"):
        read_clips(tmp_path, aligner[1])


def test_parity_reports_alignment_agreement_and_it_drops_when_frames_shift(aligner):
    module, spec = aligner
    feed = read_clips(CLIPS, spec)
    golden = [ReferenceCase(c.name, c.inputs, run_torch(module, spec, c.inputs)) for c in golden_cases(spec, audio=feed)]
    rows = {r.output: r for r in evaluate(lambda x: run_torch(module, spec, x), spec, "fp32", golden)}
    assert rows["log_probs"].alignment_agreement == 1.0 and rows["durations"].alignment_agreement is None

    def late(x):  # the artifact's frames come three frames late
        out = run_torch(module, spec, x)
        return {**out, "log_probs": np.roll(out["log_probs"], 3, axis=1)}

    shifted = next(r for r in evaluate(late, spec, "fp32", golden) if r.output == "log_probs")
    assert shifted.alignment_agreement < 0.5 and not shifted.passed


def test_the_mask_suite_feeds_the_clips_too(aligner):
    """Its checks are judged by parity thresholds, so a calibrated model sees the speech it was calibrated on."""
    from mobilesdk.semantics import run_suite

    module, spec = aligner
    feed = read_clips(CLIPS, spec)
    seen = []

    def run(inputs):
        seen.append(inputs)
        return run_torch(module, spec, inputs)

    assert all(r.passed for r in run_suite(spec, run, "fp32", run, feed))
    speech = np.concatenate([c.samples for c in feed.clips])
    for inputs in seen:
        head = inputs["waveform"][0, :32]
        assert not head.any() or any(np.array_equal(speech[k:k + 32], head) for k in range(len(speech) - 31))
    assert sum(bool(i["waveform"][0, :32].any()) for i in seen) > len(seen) // 2
