"""The converter protocol and registry.

Every backend is one module in this package that subclasses `Converter` and calls `register`.
Heavy toolchain imports happen inside methods, so a missing toolchain makes one converter
unavailable (reported by `check()` and `mobilesdk doctor`), never the whole program broken.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mobilesdk.spec import ModelSpec

Arrays = dict[str, np.ndarray]
Runner = Callable[[Arrays], Arrays]


@dataclass
class BuildContext:
    """What a converter may know about the model besides its ExportedProgram."""

    model: str
    spec: ModelSpec
    example_inputs: Arrays  # one batch in spec dtypes, the capture's example
    calibration: list[Arrays] = field(default_factory=list)  # reference batches for static int8
    options: dict = field(default_factory=dict)  # per-model converter options from bundle.toml


@dataclass
class Converted:
    """A converter's output: the artifact files (main one first) and facts for the manifest."""

    files: list[Path]
    meta: dict[str, str | int | float | bool] = field(default_factory=dict)


class Converter:
    name: str = ""  # also the folder name in the bundle: models/<model>/<name>/<precision>/
    suffix: str = ""  # the main artifact's file suffix
    precisions: tuple[str, ...] = ()
    diagnostic: bool = False  # a stepping stone kept to locate drift, not shipped to apps
    runtime: str = ""  # what executes the artifact during parity

    def check(self) -> str | None:
        """None when the toolchain is usable, else a one-line reason naming the fix."""
        raise NotImplementedError

    def versions(self) -> dict[str, str]:
        """Toolchain package versions, recorded in the manifest."""
        return {}

    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        raise NotImplementedError

    def load(self, converted: Converted, ctx: BuildContext) -> Runner:
        """A callable that runs the artifact in its own runtime on spec-shaped inputs."""
        raise NotImplementedError


_REGISTRY: dict[str, Converter] = {}


def register(converter: Converter) -> Converter:
    _REGISTRY[converter.name] = converter
    return converter


def registry() -> dict[str, Converter]:
    import converters  # noqa: F401  (imports every backend module, which registers itself)

    return dict(_REGISTRY)


def get(name: str) -> Converter:
    from mobilesdk.errors import ConfigError

    reg = registry()
    if name not in reg:
        raise ConfigError(f"unknown format `{name}`; known formats: {', '.join(sorted(reg))}")
    return reg[name]


def import_problem(what: str, modules: tuple[str, ...]) -> str | None:
    """None when every module imports, else a one-line reason naming the fix (for `check()`)."""
    import importlib

    for module in modules:
        try:
            with native_stderr_held():  # TensorFlow's absl and CUDA-probe banners
                importlib.import_module(module)
        except Exception as e:  # ImportError, or a broken native extension
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return f"{what} is not usable ({type(e).__name__}: {first}). Fix: run `make setup`"
    return None


def package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


@contextlib.contextmanager
def native_stderr_held():
    """Hold back what native code writes straight to file descriptor 2 (cpuinfo probes, absl and TFLite
    banners), which would bury the progress lines; replay it if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
