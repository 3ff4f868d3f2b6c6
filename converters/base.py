"""The converter protocol and registry.

A backend is one package under `converters/` that subclasses `Converter` and registers an instance
in its `__init__.py`; `converters/__init__.py` lists the packages. Heavy toolchain imports happen
inside methods, so a missing toolchain makes one converter unavailable (reported by `check()` and
`mobilesdk doctor`), never the whole program broken.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from mobilesdk.errors import ConfigError, summary
from mobilesdk.spec import Arrays, ModelSpec, Runner

T = TypeVar("T")


@dataclass
class BuildContext:
    """What a converter may know about the model besides its ExportedProgram."""

    model: str
    spec: ModelSpec
    example_inputs: Arrays  # one batch in spec dtypes, the capture's example
    calibration: list[Arrays] = field(default_factory=list)  # reference batches for static int8
    options: dict = field(default_factory=dict)  # this converter's [models.<name>.<format>] table
    # Parity on the golden set, for a backend choosing between routes: None when an artifact passes,
    # else why not. None in contexts with no golden outputs (then the first route that converts is kept).
    accept: Callable[[Converted], str | None] | None = None


@dataclass
class Converted:
    """A converter's output: the artifact files (main one first) and facts for the manifest."""

    files: list[Path]
    meta: dict[str, str | int | float | bool] = field(default_factory=dict)


class Converter:
    """One backend. Subclasses set the class attributes and implement every method but `convert`."""

    name: str = ""  # also the folder name in the bundle: models/<model>/<name>/<precision>/
    precisions: tuple[str, ...] = ()
    diagnostic: bool = False  # a stepping stone kept to locate drift, not shipped to apps
    options: dict[str, type] = {}  # keys of [models.<name>.<format>] in bundle.toml, with their types
    # Toolchains it can convert with and the precisions each makes, in the order the `route = "auto"`
    # option tries them; empty for a backend with one way.
    routes: dict[str, tuple[str, ...]] = {}
    toolchain: str = ""  # what `check` names when a module is missing or broken
    modules: tuple[str, ...] = ()  # what converting and running an artifact import

    def check(self) -> str | None:
        """None when the toolchain is usable, else a one-line reason naming the fix. It imports every
        module (seconds: TensorFlow, ExecuTorch), so a build calls it only when a step needs the toolchain."""
        return import_problem(self.toolchain, self.modules) or self.runtime_problem()

    def runtime_problem(self) -> str | None:
        """After the imports: what else the runtime needs, as `check` reports it."""
        return None

    def installed(self) -> str | None:
        """`check` without importing: None when every module is installed, else the reason. A build
        calls this up front; a no-op rebuild then never pays for the imports."""
        for module in self.modules:
            try:
                found = importlib.util.find_spec(module.split(".")[0]) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return f"{self.toolchain} is not installed ({module.split('.')[0]} is missing). Fix: run `make setup`"
        return None

    def versions(self) -> dict[str, str]:
        """Toolchain package versions, recorded in the manifest and part of every cache key."""
        raise NotImplementedError

    def runtime(self) -> str:
        """What executes the artifact during parity, recorded per manifest row."""
        raise NotImplementedError

    def convert(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        """Convert `ep` (never mutated) at `precision` into files under `out_dir`."""
        if precision not in self.precisions:
            raise ConfigError(f"`{self.name}` has no precision `{precision}`; use one of {', '.join(self.precisions)}")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return self.write(ep, ctx, precision, out_dir)

    def write(self, ep, ctx: BuildContext, precision: str, out_dir: Path) -> Converted:
        """`convert` after its checks; leaves no partial file behind when it raises."""
        raise NotImplementedError

    def runner(self, converted: Converted, spec: ModelSpec) -> Runner:
        """A callable that runs the artifact in its own runtime on spec-shaped inputs."""
        raise NotImplementedError

    def taps(self, ep, ctx: BuildContext, precision: str, files: list[Path]):
        """The artifact's graph and intermediate tensors for `mobilesdk explain` (a mobilesdk.drift.Taps);
        `ep` is the program it was converted from. NotImplementedError where the runtime shows none."""
        raise NotImplementedError(f"`{self.name}` shows no intermediate tensors to mobilesdk")


_REGISTRY: dict[str, Converter] = {}


def register(converter: Converter) -> Converter:
    _REGISTRY[converter.name] = converter
    return converter


def registry() -> dict[str, Converter]:
    import converters  # noqa: F401  (imports every backend package, which registers itself)

    return dict(_REGISTRY)


def get(name: str) -> Converter:
    reg = registry()
    if name not in reg:
        raise ConfigError(f"unknown format `{name}`; known formats: {', '.join(sorted(reg))}")
    return reg[name]


_MEMO: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def memo_per_program(ep, key: tuple, make: Callable[[], T]) -> T:
    """`make()` once per ExportedProgram and key, kept while the program lives.

    Precisions of one backend share expensive steps (an ONNX export, a decomposition, a SavedModel);
    the pipeline converts every precision from the same ExportedProgram object.
    """
    table = _MEMO.setdefault(ep, {})
    if key not in table:
        table[key] = make()
    return table[key]


def int8_tables_or_float(write: Callable[[bool], "Converted"], ctx: BuildContext) -> "Converted":
    """`write(True)`: an artifact with int8 embedding tables (its meta counts them in `int8_embeddings`).
    Where it has some and fails parity (`ctx.accept`), `write(False)` makes it again with float tables,
    and its meta says why: a table's rounding is the one int8 loss a float table mends outright."""
    converted = write(True)
    problem = ctx.accept(converted) if converted.meta.get("int8_embeddings") and ctx.accept else None
    if problem:
        converted = write(False)
        converted.meta["fp32_embeddings_because"] = f"with int8 tables it fails parity: {problem}"
    return converted


def import_problem(what: str, modules: tuple[str, ...]) -> str | None:
    """None when every module imports, else a one-line reason naming the fix (for `check()`)."""
    for module in modules:
        try:
            with native_stderr_held():  # TensorFlow's absl and CUDA-probe banners
                importlib.import_module(module)
        except Exception as e:  # ImportError, or a broken native extension
            return f"{what} is not usable ({summary(e)}). Fix: run `make setup`"
    return None


def package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def versions_of(*dists: str) -> dict[str, str]:
    return {d: package_version(d) for d in dists}


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


def check_input_shapes(arrays: Arrays, spec: ModelSpec) -> None:
    """Inputs must have the spec's ranks, fixed sizes and dynamic dims within [min, max] (a multiple of
    `multiple_of`), the same length for a dim wherever it appears: for runtimes that do not enforce
    the bounds they were converted with (ExecuTorch's dynamic dims, Core AI)."""
    import numpy as np

    lengths: dict[str, int] = {}
    for t in spec.inputs:
        if t.name not in arrays:
            raise ValueError(f"missing input `{t.name}`")
        shape = np.shape(arrays[t.name])
        if len(shape) != len(t.shape):
            raise ValueError(f"input `{t.name}` has rank {len(shape)}, spec declares {t.shape}")
        for n, s in zip(shape, t.shape):
            if isinstance(s, int):
                if n != s:
                    raise ValueError(f"input `{t.name}` has shape {shape}, spec declares {t.shape}")
            elif spec.derived(s) is None:
                d = spec.dim(s)
                if not d.check(n) or lengths.setdefault(s, n) != n:
                    raise ValueError(f"input `{t.name}` has {s}={n}; spec allows {d.min}..{d.max} (multiple of "
                                     f"{d.multiple_of}) and the same {s} for every input")


def module_paths(graph, names: list[str]) -> list[str]:
    """`names` (from `float_modules`) as the graph's nn_module_stack spells them: `layers.0` or
    `module.layers.0` (the capture wraps the model as `module`); ConfigError for one it has not."""
    paths = {path for n in graph.nodes for path, _ in (n.meta.get("nn_module_stack") or {}).values()}
    out = []
    for name in names:
        path = name if name in paths else f"module.{name}"
        if path not in paths:
            known = sorted(p.removeprefix("module.") for p in paths if p.startswith("module."))
            raise ConfigError(f"float_modules: no module `{name}` in the model; it has {', '.join(known[:12])}"
                              + (", ..." if len(known) > 12 else ""))
        out.append(path)
    return out


def reexport(module, ctx: BuildContext):
    """torch.export a rewritten or quantized copy of the program (`ep.module()` changed) again, with the
    spec's dynamic axes. Dim.DYNAMIC ranges, not the capture's named Dims: rewritten graphs add guards
    on strided lengths that named Dims reject ("Constraints violated", docs/toolchain-traps.md#5)."""
    import inspect

    import torch

    from mobilesdk.capture import dynamic_shapes, to_torch

    args = tuple(t.clone() for t in to_torch(ctx.example_inputs, ctx.spec))  # fresh tensors: docs/toolchain-traps.md#8
    shapes = dynamic_shapes(ctx.spec, strict=False)
    ordered = tuple(shapes[t.name] for t in ctx.spec.inputs)
    params = inspect.signature(module.forward).parameters.values()
    var = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    return torch.export.export(module, args, dynamic_shapes={var: ordered} if var else ordered)
