"""ONNX (diagnostic `.onnx`, parity in onnxruntime; the TFLite route's first half)."""
from converters.base import register
from converters.onnx.converter import OnnxConverter

register(OnnxConverter())
