"""Apple Core AI (`.aimodel`; parity in Apple's Core AI runtime, which runs on Linux on the CPU)."""
from converters.base import register
from converters.coreai.converter import CoreAIConverter

register(CoreAIConverter())
