"""`mobilesdk merge SHARD_DIRS... --out DIR`: join the shards of one build into the bundle an unsharded
build writes.

Each shard (`build --shard i/n`) holds every model's golden data, spec and PyTorch checks, and its
own share of the cells (`build.shard_config`: cell k went to shard k mod n + 1). Merging checks the
shards belong together (every index of one n, the same bundle, version and toolchain, each intact
against its manifest, the shared files identical), puts the cells back in build order, and writes
the pictures, report, manifest and bindings as `build` does, atomically.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from mobilesdk.errors import BundleError
from mobilesdk.manifest import Manifest
from mobilesdk.pipeline.build import finish
from mobilesdk.pipeline.cache import Cache
from mobilesdk.pipeline.bundle import DERIVED, REPORT, check_out, staging
from mobilesdk.pipeline.pictures import FOLDER as PICTURES
from mobilesdk.pipeline.verify import check_files, read_manifest


def merge(dirs: list[Path], out: Path) -> Manifest:
    shards = _shards(dirs)
    first = shards[0][1]
    check_out(out)
    with staging(out) as root:
        owner = {}  # bundle file -> the shard it is copied from
        for where, m in shards:
            cell_files = {f for mdl in m.models for a in mdl.artifacts for f in a.files}
            for entry in m.files:
                if entry.path == REPORT or entry.path.split("/", 1)[0] in (*DERIVED, PICTURES):  # made again below
                    continue
                shared = not any(entry.path == f or entry.path.startswith(f + "/") for f in cell_files)
                if shared and entry.path in owner:
                    if owner[entry.path][1] != entry.sha256:
                        raise BundleError(f"shards `{owner[entry.path][0]}` and `{where}` differ in `{entry.path}`, which "
                                          "every shard builds alike. Fix: build all shards from one commit, config and toolchain")
                    continue
                owner[entry.path] = (where, entry.sha256)
                (root / entry.path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(where / entry.path, root / entry.path)
        models = [dataclasses.replace(mdl, artifacts=_interleave([m for _, m in shards], mdl.name))
                  for mdl in first.models]
        return finish(root, dataclasses.replace(first, models=models, files=[], shard=""), Cache.default())


def _interleave(manifests: list[Manifest], model: str) -> list:
    """The cells of `model` in build order: the whole build's cell k is the (k // n)-th cell shard
    k mod n + 1 holds, counting over all its models in order."""
    flat = [[(mdl.name, a) for mdl in m.models for a in mdl.artifacts] for m in manifests]
    merged = [flat[k % len(flat)][k // len(flat)] for k in range(sum(map(len, flat)))]
    return [a for name, a in merged if name == model]


def _shards(dirs: list[Path]) -> list[tuple[Path, Manifest]]:
    """The shards in index order, checked to be one build's complete and intact set."""
    found = []
    for d in dirs:
        m = read_manifest(d)
        if not m.shard:
            raise BundleError(f"`{d}` is a whole bundle, not a shard. Fix: pass the directories `build --shard i/n` wrote")
        problems = check_files(d, m)
        if problems:
            raise BundleError(f"shard `{d}` does not match its manifest ({problems[0]}). Fix: build that shard again")
        found.append((d, m))
    counts = {m.shard.split("/")[1] for _, m in found}
    if len(counts) != 1:
        raise BundleError(f"the shards come from builds split {' and '.join(sorted(counts))} ways. Fix: pass the shards of one build")
    n = int(counts.pop())
    index = {int(m.shard.split("/")[0]): (d, m) for d, m in found}
    if len(index) != len(found):
        raise BundleError("a shard is passed twice. Fix: pass each shard directory once")
    missing = [str(i) for i in range(1, n + 1) if i not in index]
    if missing:
        raise BundleError(f"shard {', '.join(f'{i}/{n}' for i in missing)} is missing. Fix: pass all {n} shard directories")
    shards = [index[i] for i in range(1, n + 1)]
    base = shards[0][1]
    for d, m in shards[1:]:
        for what in ("bundle", "version", "toolchain"):
            if getattr(m, what) != getattr(base, what):
                raise BundleError(f"shard `{d}` has another {what} than `{shards[0][0]}` ({getattr(m, what)!r} vs "
                                  f"{getattr(base, what)!r}). Fix: build all shards from one config and toolchain")
        if [mdl.name for mdl in m.models] != [mdl.name for mdl in base.models]:
            raise BundleError(f"shard `{d}` has other models than `{shards[0][0]}`. Fix: build all shards from one config")
    return shards

