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
import dataclasses
import functools
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from converters.base import BuildContext, Converted, Converter, memo_per_program
from mobilesdk.pipeline.bundle import inside


def convert_key(conv: Converter, precision: str, program: str, ctx: BuildContext) -> str:
    """`program`: the ExportedProgram's `program_digest`."""
    h = hashlib.sha256()
    h.update(json.dumps([conv.name, precision, conv.versions(), ctx.spec.digest(), ctx.options], sort_keys=True,
                        default=str).encode())
    h.update(program.encode())
    hash_source(h, type(conv).__module__)
    for batch in [ctx.example_inputs, *ctx.calibration]:
        for name in sorted(batch):
            h.update(name.encode())
            h.update(np.ascontiguousarray(batch[name]).tobytes())
    return h.hexdigest()[:32]


def parity_key(result, golden) -> str:
    """What an artifact's parity and mask-suite rows follow from: what made it (its conversion key:
    program, converter source and versions, spec with its thresholds, precision), its bytes, the
    golden cases with PyTorch's and the user's outputs, the clips the mask suite takes, and the
    checking code (mobilesdk.pipeline.check and all it imports)."""
    h = hashlib.sha256(result.key.encode())
    for f in result.converted.files:
        h.update(_digest(Path(f)).encode())
    for case, outputs in zip(golden.cases, golden.outputs):
        for arrays in (case.inputs, outputs, golden.expected.get(case.name, {})):
            for name in sorted(arrays):
                h.update(name.encode())
                h.update(np.ascontiguousarray(arrays[name]).tobytes())
        h.update(json.dumps([dataclasses.astuple(r) for r in case.text], default=str).encode())
    hash_clips(h, golden.audio)
    hash_source(h, "mobilesdk.pipeline.check")
    return h.hexdigest()[:32]


def hash_clips(h, audio) -> None:
    """The clips the mask suite takes (their samples and the category values they give)."""
    for clip in audio.clips if audio else ():
        h.update(clip.name.encode())
        h.update(np.ascontiguousarray(clip.samples).tobytes())
        h.update(json.dumps(clip.inputs, sort_keys=True).encode())


def hash_source(h, module: str) -> None:
    """The source of `module` and of every module of ours it imports (`source_files`)."""
    for path in source_files(module):
        h.update(path.name.encode())
        h.update(path.read_bytes())


def suite_key(model: str, audio) -> str:
    """PyTorch's mask-suite rows follow from the model (`model_key`), the clips and the suite's code."""
    h = hashlib.sha256(model.encode())
    hash_clips(h, audio)
    hash_source(h, "mobilesdk.semantics")
    return h.hexdigest()[:32]


def program_digest(ep) -> str:
    """sha256 of the serialized ExportedProgram (deterministic across processes for one program),
    without the nodes' stack traces: they name the source files' paths, so the same program captured
    from a checkout or a virtualenv at another path (another CI runner) would digest differently,
    share no conversion, and fail the capture record's check."""
    def digest() -> str:
        import torch

        nodes = [n for gm in ep.graph_module.modules() if isinstance(gm, torch.fx.GraphModule) for n in gm.graph.nodes]
        traces = {n: n.meta.pop("stack_trace") for n in nodes if "stack_trace" in n.meta}
        try:
            buffer = io.BytesIO()
            torch.export.save(ep, buffer)
        finally:
            for n, trace in traces.items():
                n.meta["stack_trace"] = trace
        return hashlib.sha256(buffer.getvalue()).hexdigest()

    return memo_per_program(ep, ("cache program digest",), digest)


def model_key(module, spec, arrays: list, flags: dict) -> str:
    """What a model's captured program follows from, hashed without capturing it: its weights and
    buffers, its modules' structure and plain attributes, the code defining its classes (ours and
    the capture's followed like a converter's source, a user's package whole, an installed package
    by its version), the spec, `flags` and `arrays`, the golden inputs with PyTorch's outputs on them:
    a change of behaviour any golden case shows is a different key, whatever else missed it."""
    import torch

    h = hashlib.sha256(json.dumps([torch.__version__, spec.digest(), flags], sort_keys=True, default=str).encode())
    for name, tensor in sorted(module.state_dict(keep_vars=False).items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes() if tensor.dtype != torch.bfloat16
                 else tensor.float().numpy().tobytes())
    code: set[str] = set()
    for m in module.modules():
        h.update(type(m).__qualname__.encode())
        h.update(json.dumps(plain_attributes(m), sort_keys=True, default=str).encode())
        code.add(type(m).__module__)
    files, versions = set(source_files("mobilesdk.capture")) | set(source_files("mobilesdk.mask_lint")), {}
    for name in sorted(code):
        found, version = code_of(name)
        files |= set(found)
        if version:
            versions[name.split(".")[0]] = version
    h.update(json.dumps(versions, sort_keys=True).encode())
    for path in sorted(files):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for batch in arrays:
        for name in sorted(batch):
            h.update(name.encode())
            h.update(np.ascontiguousarray(batch[name]).tobytes())
    return h.hexdigest()[:32]


def plain_attributes(m) -> dict:
    """A module's attributes that are plain data (sizes, flags, mode strings) or a config with
    `to_dict` (Hugging Face's), which forward() may branch on."""
    out = {}
    for k, v in vars(m).items():
        if isinstance(v, (str, int, float, bool, type(None))) or (
                isinstance(v, (tuple, list)) and all(isinstance(x, (str, int, float, bool)) for x in v)):
            out[k] = v
        elif callable(getattr(v, "to_dict", None)):
            out[k] = v.to_dict()
    return out


@functools.cache
def code_of(module: str) -> tuple[tuple[Path, ...], str]:
    """The files whose source defines `module`'s behaviour, or the version of the installed
    distribution it comes from: ours followed import by import, a user's top-level package whole."""
    from importlib.metadata import PackageNotFoundError, version

    top = module.split(".")[0]
    if top in OWN_PACKAGES:
        return source_files(module), ""
    spec = importlib.util.find_spec(top)
    origin = Path(spec.origin) if spec and spec.origin else None
    if origin is None or any(part in ("site-packages", "dist-packages") for part in origin.parts):
        dists = _distributions().get(top, [])
        try:
            return (), ",".join(f"{d}=={version(d)}" for d in dists) or "builtin"
        except PackageNotFoundError:
            return (), "unknown"
    root = origin.parent if origin.name == "__init__.py" else origin
    return (tuple(sorted(root.rglob("*.py"))) if root.is_dir() else (root,)), ""


@functools.cache
def _distributions() -> dict:
    from importlib.metadata import packages_distributions

    return packages_distributions()


OWN_PACKAGES = ("mobilesdk", "converters")
# `converters/__init__.py` imports every backend to register it; following it would tie each
# backend's key to every other backend's source.
REGISTRY_PACKAGE = "converters"


@functools.cache
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


RECORD = "converted.json"  # an entry's files, meta and sha256s: written last, so its presence means complete
DEFAULT_MAX_GB = 20.0  # MOBILESDK_CACHE_MAX_GB: past it, the least recently used entries go


@dataclass(frozen=True)
class Entry:
    key: str
    size: int  # bytes, all its files
    used: datetime  # stored or last restored


class Cache:
    """Entries `<root>/<key>/` at a local path or any fsspec URL (`MOBILESDK_CACHE=s3://bucket/cache`,
    `gs://...`, `file://...`, `memory://...`), so a fleet of CI runners shares conversions. An entry
    is complete once its record exists: the record goes last, by a rename of one file (atomic on a
    local disk, one object put on an object store). A restore checks every file against the
    record's sha256 before anything reaches the output directory."""

    def __init__(self, url: str | Path | None):
        self.url = None if url is None else str(url)
        if self.url is not None:
            import fsspec

            self.fs, self.root = fsspec.core.url_to_fs(self.url)

    @classmethod
    def default(cls, enabled: bool = True) -> "Cache":
        if not enabled:
            return cls(None)
        url = os.environ.get("MOBILESDK_CACHE", ".mobilesdk-cache")
        return cls(url if "://" in url else Path(url).resolve())

    def restore(self, key: str, out_dir: Path) -> Converted | None:
        if self.url is None:
            return None
        entry = f"{self.root}/{key}"
        try:
            text = self.fs.cat_file(f"{entry}/{RECORD}")
        except OSError:  # no such entry, or a cache that cannot be read: a miss
            return None
        try:
            record = json.loads(text)
            names, digests, meta = [str(n) for n in record["files"]], dict(record.get("sha256", {})), dict(record["meta"])
        except (ValueError, KeyError, TypeError):
            names, digests, meta = None, {}, {}
        staged = out_dir.parent / f".{out_dir.name}.restore-{os.getpid()}"
        try:
            for name in names if names and all(map(inside, names)) else ():
                self._fetch(f"{entry}/{name}", staged / name)
            damaged = RECORD if names is None else next(
                (n for n in names if not inside(n) or not (staged / n).exists() or _digest(staged / n) != digests.get(n)), None)
            if damaged is not None:  # changed since it was stored (or stored before entries had digests)
                print(f"cache: entry {key[:12]} has `{damaged}` differing from its record; converting again", file=sys.stderr)
                self.fs.rm(entry, recursive=True)
                return None
            files = []
            for name in names:
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged / name, out_dir / name)
                files.append(out_dir / name)
            self._write_record(entry, text.decode())  # its time is when it was last used: the cap evicts by it
            return Converted(files, meta)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def recall(self, key: str) -> dict | None:
        """A record with no files (a check's results, a capture's digest): its data, or None."""
        hit = self.restore(key, Path(".mobilesdk-nothing"))  # no files: nothing is written there
        return None if hit is None else hit.meta

    def remember(self, key: str, data: dict) -> None:
        self.store(key, Converted([], data), Path(".mobilesdk-nothing"))

    def store(self, key: str, converted: Converted, out_dir: Path) -> None:
        """Keep a copy of the converted files. The cache only saves time: when it cannot be written (a
        full disk, no permission) the build goes on without it and says so."""
        if self.url is None:
            return
        try:
            self._store(key, converted, out_dir)
        except OSError as e:
            print(f"cache: could not store entry {key[:12]} in `{self.url}` ({e.strerror or e}); not cached", file=sys.stderr)

    def _store(self, key: str, converted: Converted, out_dir: Path) -> None:
        entry = f"{self.root}/{key}"
        names = [f.relative_to(out_dir).as_posix() for f in converted.files]
        for f, name in zip(converted.files, names):  # a directory artifact (.mlpackage) file by file
            for part in sorted(f.rglob("*")) if f.is_dir() else [f]:
                if part.is_file():
                    self._put(part, f"{entry}/{name}" + ("/" + part.relative_to(f).as_posix() if f.is_dir() else ""))
        record = json.dumps({"files": names, "meta": converted.meta, "sha256": {n: _digest(f) for f, n in zip(converted.files, names)}})
        self._write_record(entry, record)
        self.cap(float(os.environ.get("MOBILESDK_CACHE_MAX_GB", DEFAULT_MAX_GB)) * 1e9)

    def _write_record(self, entry: str, record: str) -> None:
        tmp = f"{entry}/.{RECORD}.tmp-{os.getpid()}"
        self.fs.makedirs(entry, exist_ok=True)
        self.fs.pipe_file(tmp, record.encode())
        self.fs.mv(tmp, f"{entry}/{RECORD}")

    def entries(self) -> list[Entry]:
        """The complete entries, least recently used first."""
        if self.url is None or not self.fs.exists(self.root):
            return []
        found = []
        for path in self.fs.ls(self.root, detail=False):
            key = path.rstrip("/").rsplit("/", 1)[-1]
            if key.startswith(".") or not self.fs.exists(f"{path}/{RECORD}"):
                continue
            used = self.fs.modified(f"{path}/{RECORD}")
            found.append(Entry(key, int(self.fs.du(path)), used if used.tzinfo else used.replace(tzinfo=timezone.utc)))
        return sorted(found, key=lambda e: e.used)

    def remove(self, entries: list[Entry]) -> int:
        """Remove these entries; the bytes freed."""
        for e in entries:
            self.fs.rm(f"{self.root}/{e.key}", recursive=True)
        return sum(e.size for e in entries)

    def clean(self, older_than_days: float | None = None) -> tuple[int, int]:
        """Remove every entry, or those not used for `older_than_days`; (entries, bytes) removed."""
        now = datetime.now(timezone.utc)
        old = [e for e in self.entries() if older_than_days is None or now - e.used > timedelta(days=older_than_days)]
        return len(old), self.remove(old)

    def cap(self, max_bytes: float) -> None:
        """Evict the least recently used entries until the cache holds at most `max_bytes`."""
        entries = self.entries()
        total = sum(e.size for e in entries)
        evict = []
        for e in entries[:-1]:  # never the entry just stored
            if total <= max_bytes:
                break
            evict.append(e)
            total -= e.size
        if evict:
            print(f"cache: over {max_bytes / 1e9:g} GB (MOBILESDK_CACHE_MAX_GB): removed the {len(evict)} least recently "
                  f"used entries ({self.remove(evict) / 1e6:.0f} MB)", file=sys.stderr)

    def _put(self, local: Path, remote: str) -> None:
        self.fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(local), remote)

    def _fetch(self, remote: str, local: Path) -> None:
        """A stored file, or every file of a stored directory, to `local` (nothing when it is gone)."""
        for path in self.fs.find(remote):
            rel = path[len(remote.rstrip("/")):].lstrip("/")
            target = local / rel if rel else local
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(path, str(target))
