"""The training data's phonemes: the aligner's inventory (mobilesdk/speech/phonemes.py) and the map
from espeak-ng's symbols (mobilesdk/speech/espeak.py, where its choices are explained). Both live
in the package because `mobilesdk run --text` and the bindings need them too."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from mobilesdk.speech.espeak import CMN_TONES, RAW, from_espeak  # noqa: E402,F401
from mobilesdk.speech.phonemes import (  # noqa: E402,F401
    BLANK, CONSONANTS, INDEX, INVENTORY, TONES, VOWELS, WORD, UnknownPhoneme, to_ids, to_symbols,
)
