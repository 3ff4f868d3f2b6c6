"""The bundle's generated bindings: `android/` (android_bridge) and `ios/` (ios_bridge), made from
manifest.json and the files it lists, after the manifest is written.

They are derived from the manifest, so the manifest cannot list them (their generated code carries
its sha256); instead `verify` generates them again and reports any file that differs, is missing
or was added.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import android_bridge
import ios_bridge
from mobilesdk.manifest import Manifest

PLATFORMS = {"android": android_bridge, "ios": ios_bridge}  # each a directory of bundle.DERIVED


def generate(root: Path, manifest: Manifest) -> dict[str, bytes]:
    """Every bindings file, keyed by its bundle path (android/...)."""
    return {f"{platform}/{rel}": data for platform, bridge in PLATFORMS.items()
            for rel, data in bridge.generate(root, manifest).items()}


def write(root: Path, manifest: Manifest) -> list[str]:
    """Write the bindings into the bundle, replacing older ones; the bundle paths written."""
    files = generate(root, manifest)
    for platform in PLATFORMS:
        shutil.rmtree(root / platform, ignore_errors=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return sorted(files)


def check(root: Path, manifest: Manifest) -> list[str]:
    """Problems with the bundle's bindings: files that differ from a fresh generation, missing or extra."""
    fix = f"Fix: run `mobilesdk bindings {root}`"
    absent = [d for d in PLATFORMS if not (root / d).is_dir()]
    want = {rel: data for rel, data in generate(root, manifest).items() if rel.split("/", 1)[0] not in absent}
    have = {p.relative_to(root).as_posix() for d in PLATFORMS for p in (root / d).rglob("*") if p.is_file()}
    problems = [f"`{d}/` (the generated bindings) is missing. {fix}" for d in absent]
    problems += [f"`{rel}` is missing. {fix}" for rel in sorted(set(want) - have)]
    problems += [f"`{rel}` is not a generated bindings file (unexpected file). {fix}" for rel in sorted(have - set(want))]
    problems += [f"`{rel}` differs from what the manifest generates (modified). {fix}"
                 for rel in sorted(have & set(want)) if (root / rel).read_bytes() != want[rel]]
    return problems
