"""Content-addressed cache of converted artifacts.

A conversion's key hashes everything that can change its output: the converter and its toolchain
versions and source, the precision, the spec, the weights and the model's source, and the
calibration data. A hit copies the cached files into place instead of converting again.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from converters.base import BuildContext, Converted, Converter


def _hash_file(h, path: str | None) -> None:
    if path and os.path.exists(path):
        h.update(Path(path).read_bytes())


def convert_key(conv: Converter, precision: str, module: torch.nn.Module, ctx: BuildContext) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([conv.name, precision, conv.versions(), ctx.spec.digest(), ctx.options], sort_keys=True).encode())
    for src in (inspect.getsourcefile(type(conv)), inspect.getsourcefile(type(module))):
        _hash_file(h, src)
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    for batch in [ctx.example_inputs, *ctx.calibration]:
        for name in sorted(batch):
            h.update(name.encode())
            h.update(np.ascontiguousarray(batch[name]).tobytes())
    return h.hexdigest()[:32]


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
        record = json.loads(meta_path.read_text())
        files = []
        for name in record["files"]:
            _copy(entry / name, out_dir / name)
            files.append(out_dir / name)
        return Converted(files, record["meta"])

    def store(self, key: str, converted: Converted, out_dir: Path) -> None:
        if self.root is None:
            return
        entry = self.root / key
        tmp = self.root / f".{key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        names = []
        for f in converted.files:
            rel = f.relative_to(out_dir).as_posix()
            _copy(f, tmp / rel)
            names.append(rel)
        (tmp / "converted.json").write_text(json.dumps({"files": names, "meta": converted.meta}))
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
