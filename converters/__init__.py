"""Backends. Importing this package registers every converter module listed here."""
from converters import executorch  # noqa: F401
from converters import coreml  # noqa: F401
from converters import onnx, tflite  # noqa: F401
