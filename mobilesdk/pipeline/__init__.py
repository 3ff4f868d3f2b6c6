"""The pipeline: the build graph, the cache, bundle writing and verification; the only layer of
mobilesdk that imports `converters`."""
from __future__ import annotations

from pathlib import Path

from converters.base import Converter, package_version, registry
from mobilesdk.config import BundleConfig, load

__all__ = ["converters", "load_config", "package_version"]


def converters() -> dict[str, Converter]:
    """Every registered converter by format name."""
    return registry()


def load_config(path: str | Path) -> BundleConfig:
    """bundle.toml, checked against the registered formats and their converters' options."""
    reg = registry()
    return load(path, tuple(reg), {name: conv.options for name, conv in reg.items()})
