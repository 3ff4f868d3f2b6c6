"""Keep toolchain chatter out of the progress lines (the CLI and build worker processes call this)."""
from __future__ import annotations


def quiet_toolchain_logs() -> None:
    """Toolchains log harmless warnings (torchao's optional CUDA kernels, a torch pytree deprecation,
    coremltools' missing macOS-only runtime and pass progress bars, TensorFlow's CUDA banner, the ONNX
    exporter's missing torchvision) that would bury the progress lines."""
    import logging
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ banner about CUDA and CPU flags
    os.environ.setdefault("TQDM_DISABLE", "1")  # coremltools' per-pass progress bars
    for name in ("torchao", "torch.utils._pytree", "coremltools", "torch.onnx._internal.exporter._registration"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch pytree LeafSpec deprecation
