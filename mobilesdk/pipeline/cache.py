"""Content-addressed cache of converted artifacts.

A conversion's key hashes everything that can change its output:
- the ExportedProgram the converter receives, serialized (`torch.export.save`), after the mask
  lint's rewrite: graph, weights, constants and dynamic ranges;
- the source of the converter's whole package and of every `mobilesdk`/`converters` module it
  imports, followed transitively (`source_files`), so an edit to any helper invalidates it;
- the toolchain versions, the precision, the spec, the converter's options from bundle.toml, and the
  example and calibration batches.
A hit copies the cached files into place instead of converting again, after checking each file
against the sha256 recorded when it was stored: a damaged entry is reported, dropped and converted again.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, Converter, memo_per_program
from mobilesdk.pipeline.bundle import inside


def convert_key(conv: Converter, precision: str, ep, ctx: BuildContext) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([conv.name, precision, conv.versions(), ctx.spec.digest(), ctx.options], sort_keys=True,
                        default=str).encode())
    h.update(program_digest(ep).encode())
    for path in source_files(type(conv).__module__):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for batch in [ctx.example_inputs, *ctx.calibration]:
        for name in sorted(batch):
            h.update(name.encode())
            h.update(np.ascontiguousarray(batch[name]).tobytes())
    return h.hexdigest()[:32]


def program_digest(ep) -> str:
    """sha256 of the serialized ExportedProgram (deterministic across processes for one program)."""
    def digest() -> str:
        import torch

        buffer = io.BytesIO()
        torch.export.save(ep, buffer)
        return hashlib.sha256(buffer.getvalue()).hexdigest()

    return memo_per_program(ep, ("cache program digest",), digest)


OWN_PACKAGES = ("mobilesdk", "converters")
# `converters/__init__.py` imports every backend to register it; following it would tie each
# backend's key to every other backend's source.
REGISTRY_PACKAGE = "converters"


@functools.lru_cache(maxsize=None)
def source_files(module: str) -> tuple[Path, ...]:
    """The files whose source shapes what a converter defined in `module` produces: its backend
    package (`converters.<name>`, every module in it) or its own file, and every module of ours
    they import, transitively. Sorted, so the key does not depend on discovery order."""
    parts = module.split(".")
    start = ".".join(parts[:2]) if parts[0] == "converters" and len(parts) > 2 else module
    todo, seen = [*_package_modules(start)], set()
    while todo:
        name = todo.pop()
        path = _file_of(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path, name))
    return tuple(sorted(seen))


def _package_modules(name: str) -> list[str]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return [name]
    root = Path(next(iter(spec.submodule_search_locations)))
    return [name + "." + ".".join(p.relative_to(root).with_suffix("").parts) for p in root.rglob("*.py")]


def _file_of(name: str) -> Path | None:
    name = name.removesuffix(".__init__")
    if name.split(".")[0] not in OWN_PACKAGES or name == REGISTRY_PACKAGE:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _imports(path: Path, module: str) -> list[str]:
    """Every module `path` imports, at any depth of its code (our heavy imports sit inside functions)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out += [base] + [f"{base}.{a.name}" for a in node.names]
    return out


def _digest(path: Path) -> str:
    """sha256 of a file, or of a directory artifact's files and their relative paths."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if f.is_file():
            h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
            h.update(f.read_bytes())
    return h.hexdigest()


def _copy(src: Path, dst: Path) -> None:
    """Copy a file or a directory artifact (an .mlpackage is a directory)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


class Cache:
    def __init__(self, root: Path | None):
        self.root = root

    @classmethod
    def default(cls, enabled: bool = True) -> "Cache":
        if not enabled:
            return cls(None)
        return cls(Path(os.environ.get("MOBILESDK_CACHE", ".mobilesdk-cache")).resolve())

    def restore(self, key: str, out_dir: Path) -> Converted | None:
        if self.root is None:
            return None
        entry = self.root / key
        meta_path = entry / "converted.json"
        if not meta_path.exists():
            return None
        try:
            record = json.loads(meta_path.read_text())
            names, digests, meta = [str(n) for n in record["files"]], dict(record.get("sha256", {})), dict(record["meta"])
        except (OSError, ValueError, KeyError, TypeError):
            names, digests, meta = None, {}, {}
        damaged = "converted.json" if names is None else next(
            (n for n in names if not inside(n) or not (entry / n).exists() or _digest(entry / n) != digests.get(n)), None)
        if damaged is not None:  # changed on disk since it was stored (or stored before entries had digests)
            print(f"cache: entry {key[:12]} has `{damaged}` differing from its record; converting again", file=sys.stderr)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        files = []
        for name in names:
            _copy(entry / name, out_dir / name)
            files.append(out_dir / name)
        return Converted(files, meta)

    def store(self, key: str, converted: Converted, out_dir: Path) -> None:
        """Keep a copy of the converted files. The cache only saves time: when it cannot be written (a
        full disk, no permission) the build goes on without it and says so."""
        if self.root is None:
            return
        tmp = self.root / f".{key}.tmp-{os.getpid()}"
        try:
            self._store(key, converted, out_dir, tmp)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"cache: could not store entry {key[:12]} in `{self.root}` ({e.strerror or e}); not cached", file=sys.stderr)

    def _store(self, key: str, converted: Converted, out_dir: Path, tmp: Path) -> None:
        entry = self.root / key
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        names = []
        for f in converted.files:
            rel = f.relative_to(out_dir).as_posix()
            _copy(f, tmp / rel)
            names.append(rel)
        digests = {n: _digest(tmp / n) for n in names}
        (tmp / "converted.json").write_text(json.dumps({"files": names, "meta": converted.meta, "sha256": digests}))
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
