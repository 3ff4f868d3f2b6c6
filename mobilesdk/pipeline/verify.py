"""`mobilesdk verify BUNDLE`: trust nothing in a bundle that can be re-checked.

1. manifest.json parses and validates against the committed JSON Schema of its version;
2. every file listed exists with its sha256 and size, and no unlisted file is present; the
   generated bindings (android/) equal what the manifest generates now;
3. every artifact is run again on the golden inputs in its own runtime, and judged by the
   thresholds of its (hash-checked) spec.json.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from converters.base import Converted, get
from mobilesdk.errors import BundleError, summary
from mobilesdk.manifest import SCHEMA_VERSION, from_json, validate
from mobilesdk.pipeline import bindings
from mobilesdk.pipeline.bundle import MANIFEST, bundle_files, load_golden, sha256_file
from mobilesdk.pipeline.check import ReferenceCase, evaluate
from mobilesdk.spec import spec_from_json


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_files(root: Path, manifest) -> list[str]:
    problems = []
    listed = {f.path: f for f in manifest.files}
    for rel, entry in listed.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"`{rel}` is missing")
        elif path.stat().st_size != entry.size:
            problems.append(f"`{rel}` has {path.stat().st_size} bytes, the manifest says {entry.size}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"`{rel}` does not match its sha256 in the manifest (modified)")
    for rel in bundle_files(root):
        if rel not in listed:
            problems.append(f"`{rel}` is not listed in the manifest (unexpected file)")
    return problems


def read_manifest(root: Path):
    """The bundle's manifest, checked to parse, to be this mobilesdk's schema version and to validate."""
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"`{root}` is not a bundle: `{path}` does not exist. Fix: pass the directory `mobilesdk build` wrote")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"`{path}` is not valid JSON ({e}); the bundle is damaged, rebuild it") from None
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"`{path}` has schema_version {data.get('schema_version')!r}; this mobilesdk reads {SCHEMA_VERSION}. "
            "Fix: verify it with the mobilesdk version that built it, or rebuild"
        )
    errors = validate(data)
    if errors:
        raise BundleError(f"`{path}` does not match the manifest schema: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    return from_json(path.read_text())


def verify(root: Path, parity: bool = True, log=print) -> VerifyReport:
    root = Path(root)
    report = VerifyReport()
    manifest = read_manifest(root)
    report.problems += check_files(root, manifest)
    report.checked.append(f"{len(manifest.files)} files hashed")
    if report.ok:  # the bindings are made from the listed files: judged once those are intact
        report.problems += bindings.check(root, manifest)
        report.checked.append("bindings match the manifest")
    if parity and report.ok:
        for model in manifest.models:
            report.problems += rerun_model(root, model, log)
    return report


def rerun_model(root: Path, model, log) -> list[str]:
    spec = spec_from_json(json.loads((root / model.spec_path).read_text()))
    golden = []
    for case in model.golden:
        golden.append(ReferenceCase(case.name, *load_golden(root / case.path)))
    problems = []
    for a in model.artifacts:
        label = f"{model.name}/{a.format}/{a.precision}"
        if not a.files:
            problems.append(f"{label}: no artifact ({a.note})")
            continue
        conv = get(a.format)
        reason = conv.check()
        if reason:
            problems.append(f"{label}: cannot re-run parity, {a.format} is unavailable: {reason}")
            continue
        try:
            runner = conv.runner(Converted([root / f for f in a.files], dict(a.meta)), spec)
            rows = evaluate(runner, spec, a.precision, golden)
        except Exception as e:
            problems.append(f"{label}: `{a.path}` failed to run: {summary(e)}")
            continue
        failed = [f"{r.output} SQNR {r.sqnr_db:.1f} dB, agreement {r.agreement}" for r in rows if not r.passed]
        if failed and not a.diagnostic:
            problems.append(f"{label}: `{a.path}` fails parity: " + "; ".join(failed))
        log(f"  {label:<40} {'FAIL' if failed else 'pass'}  min SQNR {min(r.sqnr_db for r in rows):.1f} dB")
    return problems
