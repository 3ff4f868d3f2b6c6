"""`mobilesdk run BUNDLE MODEL clip.wav`: speech through one artifact of a bundle, in its own runtime.

What run does follows from the model's spec, never its name:
- a waveform-to-waveform model (an output shaped like its audio input) enhances: the audio goes
  through in chunks of the longest length the spec allows, cross-faded (overlap-add), so any
  length works whatever static lengths the artifact has; the result is written as a WAV.
- a CTC head (an output with `ctc_blank`) recognises: the greedy phonemes, and with `--phonemes`
  the forced alignment (mobilesdk.speech.align) as segments in seconds from the spec's frame formula;
  `--text --lang` has espeak-ng make the phonemes (mobilesdk.speech.espeak), as the training data was.
- `pipeline` takes the bundle's enhancer and CTC model: it aligns the input as it is and after
  enhancement, and reports how much the enhancement changed the alignment score.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mobilesdk.errors import BundleError
from mobilesdk.pipeline.run import Opened, find_model, model_spec, one_row, open_model
from mobilesdk.pipeline.verify import read_manifest
from mobilesdk.spec import ModelSpec, OutputSpec, TensorSpec
from mobilesdk.speech import align, espeak
from mobilesdk.speech.audio import SAMPLE_RATE, overlap_add, read_wav, write_wav

PIPELINE = "pipeline"
OVERLAP_FRACTION = 8  # chunks overlap by 1/8 of the enhancer's window


@dataclass
class SpeechResult:
    model: str
    artifact: str  # "format/precision"
    runtime: str
    input: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    wrote: str = ""  # the enhanced WAV
    chunks: int = 0
    phonemes: list[str] = field(default_factory=list)  # greedy decoding of the CTC head
    segments: list[dict] = field(default_factory=list)  # forced alignment: phoneme, start_s, end_s, score
    score: float | None = None  # mean segment score of the forced alignment (0 is certain)

    def render(self) -> str:
        lines = [f"{self.model} via {self.artifact} ({self.runtime}): {self.input}, {self.seconds:.2f} s"]
        lines += [f"note: {n}" for n in self.notes]
        if self.wrote:
            lines.append(f"enhanced in {self.chunks} chunk(s) -> {self.wrote}")
        if self.phonemes or self.score is not None:
            lines.append("greedy: " + (" ".join(self.phonemes) or "(nothing but blanks)"))
        if self.segments:
            lines.append(f"forced alignment of {len(self.segments)} phonemes, mean score {self.score:.3f}:")
            lines += [f"  {s['phoneme']:<4} {s['start_s']:6.3f} - {s['end_s']:6.3f} s  {s['score']:7.3f}"
                      for s in self.segments]
        return "\n".join(lines)




def frame_timing(spec: ModelSpec, o: OutputSpec) -> align.FrameTiming:
    """When each frame of a CTC head's output starts and ends, from the spec's derived frame dim."""
    frames_dim = spec.derived(o.shape[1])
    if frames_dim is None:
        raise BundleError(f"{spec.name}'s `{o.name}` runs over `{o.shape[1]}`, not a frame axis derived from the audio, "
                          "so its frames have no times. Fix: declare it as a derived dim in the spec")
    return align.FrameTiming(frames_dim.stride, frames_dim.receptive_field, SAMPLE_RATE)


def _samples_dim(spec: ModelSpec, audio: TensorSpec):
    return spec.dim(audio.shape[-1])


def categories(spec: ModelSpec) -> dict[str, TensorSpec]:
    return {t.name: t for t in spec.inputs if t.kind == "category"}


def category_values(spec: ModelSpec, given: dict[str, str]) -> dict[str, int]:
    """The model's category inputs from --input NAME=VALUE, by label or number; each needs one."""
    out = {}
    for name, t in categories(spec).items():
        choices = ", ".join(t.labels) if t.labels else f"{t.low}..{t.high - 1}"
        if name not in given:
            raise BundleError(f"{spec.name} needs input `{name}`. Fix: pass --input {name}=VALUE, VALUE one of {choices}")
        value = given[name]
        if value in t.labels:
            out[name] = t.low + t.labels.index(value)
        elif value.lstrip("-").isdigit() and t.low <= int(value) < t.high:
            out[name] = int(value)
        else:
            raise BundleError(f"--input {name}={value}: not one of {choices}. Fix: pass one of them")
    return out


def _check_given(given: dict[str, str], *specs: ModelSpec) -> None:
    known = {n for s in specs for n in categories(s)}
    for name in given:
        if name not in known:
            raise BundleError(f"--input {name}=...: {' and '.join(s.name for s in specs)} take no category input "
                              f"`{name}`. Fix: use one of {', '.join(sorted(known)) or '(none)'}")


def enhance(opened: Opened, samples: np.ndarray, categories: dict[str, int]) -> tuple[np.ndarray, int]:
    """The enhanced samples and how many chunks it took."""
    audio, out = opened.spec.first_input("audio"), opened.spec.waveform_output()
    dim = _samples_dim(opened.spec, audio)
    window = dim.max - dim.max % dim.multiple_of
    calls = []

    def one(chunk: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.asarray(opened.runner(one_row(opened.spec, window, chunk, categories))[out.name]).reshape(-1)

    return overlap_add(one, samples, window, window // OVERLAP_FRACTION), len(calls)


def recognise(opened: Opened, samples: np.ndarray, categories: dict[str, int], phonemes: str | None,
              result: SpeechResult) -> None:
    spec = opened.spec
    o = spec.ctc_head()
    dim = _samples_dim(spec, spec.first_input("audio"))
    if len(samples) > dim.max:
        raise BundleError(f"{result.input} is {len(samples) / SAMPLE_RATE:.2f} s; {spec.name} takes at most "
                          f"{dim.max / SAMPLE_RATE:.2f} s. Fix: cut it, e.g. `ffmpeg -i IN -t {dim.max / SAMPLE_RATE:g} OUT.wav`")
    padded = -(-len(samples) // dim.multiple_of) * dim.multiple_of
    if padded != len(samples) and not spec.masks:
        result.notes.append(f"padded with {padded - len(samples)} zero samples to a multiple of {dim.multiple_of}")
    outputs = opened.runner(one_row(spec, padded, samples, categories))
    timing = frame_timing(spec, o)
    log_probs = align.log_softmax(np.asarray(outputs[o.name])[0, : timing.frames(len(samples))])
    names = o.labels or tuple(str(i) for i in range(o.shape[-1]))
    result.phonemes = [names[i] for i in align.greedy(log_probs, o.ctc_blank)]
    if phonemes is None:
        return
    wanted = phonemes.split()
    unknown = [p for p in wanted if p not in names or names.index(p) == o.ctc_blank]
    if not wanted or unknown:
        raise BundleError(f"--phonemes: {unknown[:5] if unknown else 'none given'}; {spec.name}'s `{o.name}` knows "
                          f"{' '.join(n for i, n in enumerate(names) if i != o.ctc_blank)}. Fix: pass those symbols, space separated")
    segments = align.align(log_probs, [names.index(p) for p in wanted], timing, o.ctc_blank)
    result.segments = [{"phoneme": names[s.id], "start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3),
                        "score": round(s.score, 4)} for s in segments]
    result.score = round(float(np.mean([s.score for s in segments])), 4)


def _result(opened: Opened, wav: Path, samples: np.ndarray, note: str) -> SpeechResult:
    return SpeechResult(opened.model.name, opened.label, opened.artifact.runtime, wav.name,
                        len(samples) / SAMPLE_RATE, [note] if note else [])


def _read(opened: Opened, wav: Path) -> tuple[np.ndarray, str]:
    audio = opened.spec.first_input("audio")
    if audio is None:
        raise BundleError(f"model `{opened.model.name}` takes no audio. Fix: pick an audio model of the bundle")
    return read_wav(wav, min_samples=_samples_dim(opened.spec, audio).min)


def _language_inputs(root: Path, name: str, lang: str) -> dict[str, str]:
    """{input: lang} for the category inputs (of the model, or of every model for `pipeline`) whose labels include `lang`."""
    models = read_manifest(root).models if name == PIPELINE else [find_model(root, name)]
    return {n: lang for m in models for n, t in categories(model_spec(root, m)).items() if lang in t.labels}


def _pick(root: Path, fmt, precision, test, what: str) -> Opened:
    """The bundle's first model whose spec passes `test`, opened."""
    for m in read_manifest(root).models:
        if test(model_spec(root, m)):
            return open_model(root, m, fmt, precision)
    raise BundleError(f"`{root}` has no {what}. Fix: run a single model by name")


def run_speech(root: Path, name: str, wav: Path, fmt: str | None = None, precision: str | None = None,
               out: Path | None = None, phonemes: str | None = None, given: dict[str, str] | None = None,
               text: str | None = None, lang: str | None = None) -> list[SpeechResult]:
    """The steps run: one for a model, three for `pipeline` (enhance; align the input; align the enhanced).
    `text` and `lang` stand for `phonemes` (espeak-ng makes them), and `lang` gives a category input
    labelled with languages its value unless `given` names one."""
    given = dict(given or {})
    if text is not None:
        if phonemes is not None or lang is None:
            raise BundleError("--text needs --lang and no --phonemes. Fix: pass --text \"...\" --lang en, or --phonemes alone")
        phonemes = " ".join(espeak.phonemize(text, lang))
    if lang is not None:
        given = {**_language_inputs(root, name, lang), **given}
    if name == PIPELINE:
        enhancer = _pick(root, fmt, precision, ModelSpec.waveform_output, "waveform-to-waveform model (an enhancer)")
        recogniser = _pick(root, fmt, precision, ModelSpec.ctc_head, "model with a CTC head (an aligner)")
        _check_given(given, enhancer.spec, recogniser.spec)
        samples, note = _read(enhancer, wav)
        first = _result(enhancer, wav, samples, note)
        clean, first.chunks = enhance(enhancer, samples, category_values(enhancer.spec, given))
        target = out or Path(f"{wav.stem}.enhanced.wav")
        write_wav(target, clean)
        first.wrote = str(target)
        categories = category_values(recogniser.spec, given)
        before = _result(recogniser, wav, samples, "")
        recognise(recogniser, samples, categories, phonemes, before)
        after = _result(recogniser, target, clean, "")
        recognise(recogniser, clean, categories, phonemes, after)
        return [first, before, after]
    opened = open_model(root, find_model(root, name), fmt, precision)
    _check_given(given, opened.spec)
    samples, note = _read(opened, wav)
    result = _result(opened, wav, samples, note)
    if opened.spec.ctc_head() is not None:
        recognise(opened, samples, category_values(opened.spec, given), phonemes, result)
    elif opened.spec.waveform_output() is not None:
        enhanced, result.chunks = enhance(opened, samples, category_values(opened.spec, given))
        target = out or Path(f"{wav.stem}.{name}.wav")
        write_wav(target, enhanced)
        result.wrote = str(target)
    else:
        raise BundleError(f"`run` knows waveform-to-waveform and CTC audio models; `{name}` is neither. "
                          "Fix: run it from your own code with the bundle's artifact")
    return [result]


def render(results: list[SpeechResult]) -> str:
    text = "\n\n".join(r.render() for r in results)
    if len(results) == 3 and results[1].score is not None:
        text += (f"\n\nenhancement changed the alignment score from {results[1].score:.3f} to "
                 f"{results[2].score:.3f} ({results[2].score - results[1].score:+.3f}; closer to 0 is more certain)")
    return text


def to_json(results: list[SpeechResult]) -> str:
    return json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2)
