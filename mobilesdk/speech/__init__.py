"""Speech pre- and post-processing shared by the build, `mobilesdk run` and the bindings' reference:
WAV reading with the checks apps need (`audio.py`), chunked overlap-add for long audio, and CTC
forced alignment and decoding (`align.py`)."""
