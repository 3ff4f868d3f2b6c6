"""Backends, one package each. Importing this package registers every backend listed here."""
from converters import coreai, coreml, executorch, onnx, tflite  # noqa: F401
