"""ExecuTorch (`.pte`, XNNPACK delegate; parity in `executorch.runtime`)."""
from converters.base import register
from converters.executorch.converter import ExecuTorchConverter

register(ExecuTorchConverter())
