"""Core ML (`.mlpackage`; parity in Core ML predict on macOS, the MIL reference evaluator elsewhere)."""
from converters.base import register
from converters.coreml.converter import CoreMLConverter

register(CoreMLConverter())
