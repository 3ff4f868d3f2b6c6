"""TFLite (`.tflite` length buckets via ONNX -> onnx2tf; parity in ai_edge_litert)."""
from converters.base import register
from converters.tflite.converter import TFLiteConverter

register(TFLiteConverter())
