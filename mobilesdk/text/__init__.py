"""Text pre- and post-processing shared by the build, `mobilesdk run` and the bindings' reference:
the WordPiece tokenizer (`tokenizer.py`) and language spans from token-level LID (`spans.py`)."""
