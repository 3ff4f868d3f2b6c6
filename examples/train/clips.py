"""Write the committed speech clips: examples/clips/clean (aligner input) and examples/clips/noisy (enhancer input).

    .venv/bin/python examples/train/clips.py              # seconds; needs espeak-ng

Two clips per language (English, Mandarin, Malay), each a run of whole words of a held-out sentence
(no training rendition has it) of at most 2 s, the aligner's longest input. The noisy clips are the
same words with coloured noise or babble at 5 dB. Each folder's clips.json gives, per file, the
language, words, phonemes (inventory symbols, `|` between words) and word times, for people and
`mobilesdk run`; the clean clips also the values of the aligner's other inputs (`inputs`: lang_id). These
clips are the build's golden and calibration audio (`audio = ...` in examples/bundle.toml); all of
them together stay under 1 MB.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1].parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples/train/speech")]

import dataset  # noqa: E402

from mobilesdk.speech.audio import write_wav  # noqa: E402

PER_LANGUAGE = 2
MAX_SAMPLES = 32000
NOISY_SNR_DB = 5.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "examples/clips")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng([args.seed, 2])
    test = dataset.renditions("test", 3, args.seed)
    others = [r.wave for r in test]
    meta: dict[str, dict] = {"clean": {}, "noisy": {}}
    for lang in dataset.LANGS:
        mine = [r for r in test if r.lang == lang]
        for k, i in enumerate(rng.choice(len(mine), PER_LANGUAGE, replace=False), 1):
            w = dataset.window(mine[i], rng, MAX_SAMPLES, min_words=3)
            name = f"{lang}_{k}.wav"
            noisy, _, snr = dataset.corrupt(w.wave, rng, others, snr_range=(NOISY_SNR_DB, NOISY_SNR_DB), reverb_p=0.0)
            peak = max(np.abs(noisy).max(), 1e-9) / 0.7
            info = {"lang": lang, "text": w.text, "phonemes": " ".join(w.phonemes),
                    "words": [[round(s, 4), round(e, 4)] for s, e in w.words]}
            for folder, wave, extra in (("clean", w.wave, {"inputs": {"lang_id": dataset.LANG_IDS[lang]}}),
                                        ("noisy", noisy / peak, {"snr_db": snr, "clean": f"../clean/{name}"})):
                (args.out / folder).mkdir(parents=True, exist_ok=True)
                write_wav(args.out / folder / name, wave)
                meta[folder][name] = info | extra
    for folder, entries in meta.items():
        (args.out / folder / "clips.json").write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{sum(len(m) for m in meta.values())} clips, {total / 1e6:.2f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
