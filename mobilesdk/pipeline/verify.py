"""`mobilesdk verify BUNDLE`: trust nothing in a bundle that can be re-checked.

1. manifest.json parses and validates against the committed JSON Schema of its version;
2. every file listed exists with its sha256 and size, and no unlisted file is present; the
   generated bindings (android/) equal what the manifest generates now;
3. every artifact is run again on the golden inputs in its own runtime, and judged by the
   thresholds of its (hash-checked) spec.json, against PyTorch's outputs and against the outputs
   user references gave;
4. with `--reference DIR`, every artifact of a model with a folder DIR/<model>/ is also judged
   against the outputs of that folder's .npz files (mobilesdk/pipeline/reference.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from converters.base import Converted, get
from mobilesdk.errors import BundleError, summary
from mobilesdk.manifest import SCHEMA_VERSION, Manifest, to_json, validate
from mobilesdk.serde import from_data
from mobilesdk.pipeline import bindings
from mobilesdk.pipeline.bundle import MANIFEST, bundle_files, load_golden, sha256_file
from mobilesdk.pipeline.ci_report import FAIL, PASS, Outcome, rows_outcomes
from mobilesdk.pipeline.check import ReferenceCase, parity_rows, reference_rows, run_cases
from mobilesdk.pipeline.reference import read_references
from mobilesdk.spec import ModelSpec, spec_from_json


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)  # for --junit / --json

    def add(self, name: str, problems: list[str], done: str) -> None:
        """A bundle-wide check: its problems, or what it checked."""
        self.problems += problems
        self.checked.append(done)
        self.outcomes.append(Outcome("bundle", name, FAIL if problems else PASS, "; ".join(problems) or done))

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


def read_manifest(root: Path, older: bool = False):
    """The bundle's manifest, checked to parse, to be this mobilesdk's schema version and to validate.
    With `older`, a manifest of an earlier minor version of the schema (fields added since then all
    have defaults) is read too, upgraded: `compare` judges a new bundle against the last release's."""
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"`{root}` is not a bundle: `{path}` does not exist. Fix: pass the directory `mobilesdk build` wrote")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"`{path}` is not valid JSON ({e}); the bundle is damaged, rebuild it") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION and not (older and _earlier_minor(version)):
        raise BundleError(
            f"`{path}` has schema_version {version!r}; this mobilesdk reads {SCHEMA_VERSION}. "
            "Fix: verify it with the mobilesdk version that built it, or rebuild"
        )
    if version != SCHEMA_VERSION:
        try:
            data = json.loads(to_json(from_data(Manifest, data))) | {"schema_version": SCHEMA_VERSION}
        except (TypeError, KeyError, AttributeError) as e:
            raise BundleError(f"`{path}` (schema {version}) cannot be read as {SCHEMA_VERSION}: {e}. Fix: rebuild it") from None
    errors = validate(data)
    if errors:
        raise BundleError(f"`{path}` does not match the manifest schema: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    return from_data(Manifest, data)


def _earlier_minor(version) -> bool:
    """`version` is "M.m" with this schema's major and an earlier minor."""
    major, minor = SCHEMA_VERSION.split(".")
    parts = str(version).split(".")
    return len(parts) == 2 and parts[0] == major and parts[1].isdigit() and int(parts[1]) < int(minor)


def model_spec(root: Path, model) -> ModelSpec:
    """The model's spec, from the bundle's spec.json."""
    return spec_from_json(json.loads((root / model.spec_path).read_text()))


def verify(root: Path, parity: bool = True, log=print, reference: Path | None = None) -> VerifyReport:
    root = Path(root)
    report = VerifyReport()
    manifest = read_manifest(root)
    extra = new_references(root, manifest, reference) if reference else {}
    report.add("files", check_files(root, manifest), f"{len(manifest.files)} files hashed")
    if report.ok:  # the bindings are made from the listed files: judged once those are intact
        report.add("bindings", bindings.check(root, manifest), "bindings match the manifest")
    if parity and report.ok:
        for model in manifest.models:
            problems, outcomes = rerun_model(root, model, log, extra.get(model.name, []))
            report.problems += problems
            report.outcomes += outcomes
        if extra:
            report.checked.append(f"{sum(map(len, extra.values()))} reference cases of `{reference}` judged")
    return report


def new_references(root: Path, manifest, folder: Path) -> dict[str, list[ReferenceCase]]:
    """Per model, the cases of `folder/<model>/` (each must give outputs), checked against its spec."""
    if not folder.is_dir():
        raise BundleError(f"--reference `{folder}` is not a folder. Fix: pass a folder with one subfolder of .npz files per model")
    found = {}
    for model in manifest.models:
        if (folder / model.name).is_dir():
            refs = read_references(folder / model.name, model_spec(root, model), need_outputs=True)
            found[model.name] = [ReferenceCase(r.name, r.inputs, {}, (), r.expected) for r in refs]
    if not found:
        raise BundleError(f"--reference `{folder}` has no subfolder named after a model of this bundle "
                          f"({', '.join(m.name for m in manifest.models)}). Fix: put each model's .npz files in "
                          f"`{folder}/<model>/`")
    return found


def rerun_model(root: Path, model, log, extra: list[ReferenceCase] = ()) -> tuple[list[str], list[Outcome]]:
    """Problems of the model's artifacts run again, and an outcome per artifact x check: on the golden
    set (PyTorch's outputs, and the user references' given outputs) and on `extra` cases (given outputs only)."""
    spec = model_spec(root, model)
    golden = [ReferenceCase(case.name, *load_golden(root / case.path)) for case in model.golden]
    problems, outcomes = [], []

    def fail(label: str, problem: str) -> None:
        problems.append(f"{label}: {problem}")
        outcomes.append(Outcome(label.replace("/", "."), "parity", FAIL, problem))

    for a in model.artifacts:
        label = f"{model.name}/{a.format}/{a.precision}"
        if not a.files:
            fail(label, f"no artifact ({a.note})")
            continue
        conv = get(a.format)
        reason = conv.check()
        if reason:
            fail(label, f"cannot re-run parity, {a.format} is unavailable: {reason}")
            continue
        try:
            runner = conv.runner(Converted([root / f for f in a.files], dict(a.meta)), spec)
            got = run_cases(runner, spec, golden + list(extra))
        except Exception as e:
            fail(label, f"`{a.path}` failed to run: {summary(e)}")
            continue
        rows = parity_rows(spec, a.precision, golden, got)
        given = reference_rows(spec, a.precision, golden + list(extra), got)
        failed = [f"{r.output} SQNR {r.sqnr_db:.1f} dB, agreement {r.agreement}" for r in rows if not r.passed]
        failed += [f"{r.output} against the reference outputs: SQNR {r.sqnr_db:.1f} dB, agreement {r.agreement}"
                   for r in given if not r.passed]
        if failed and not a.diagnostic:
            problems.append(f"{label}: `{a.path}` fails parity: " + "; ".join(failed))
        worst = min(r.sqnr_db for r in rows + given)
        log(f"  {label:<40} {'FAIL' if failed else 'pass'}  min SQNR {worst:.1f} dB"
            + (f"; against the reference outputs {min(r.sqnr_db for r in given):.1f} dB" if given else ""))
        outcomes += rows_outcomes(label.replace("/", "."), rows, given, judged=not a.diagnostic)
    return problems, outcomes
