"""`mobilesdk verify BUNDLE`: trust nothing in a bundle that can be re-checked.

1. manifest.json parses and validates against the committed JSON Schema of its version;
2. every file listed exists with its sha256 and size, and no unlisted file is present; no path
   leaves the bundle (no `..` or absolute path in the manifest, no symbolic link in the bundle);
   every path a model names is a listed file; the manifest's values agree with the hash-checked
   spec.json files and with themselves (I/O, thresholds, each `passed`); the generated bindings
   (android/, ios/) equal what the manifest generates now;
3. every artifact is run again on the golden inputs in its own runtime, and judged by the
   thresholds of its (hash-checked) spec.json, against PyTorch's outputs and against the outputs
   user references gave; a diagnostic artifact fails verify only if it passed at build time;
4. with `--reference DIR`, every artifact of a model with a folder DIR/<model>/ is also judged
   against the outputs of that folder's .npz files (mobilesdk/pipeline/reference.py).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from converters.base import Converted, get
from mobilesdk.errors import BundleError, summary
from mobilesdk.manifest import SCHEMA_VERSION, Manifest, to_json, validate
from mobilesdk.pipeline import bindings
from mobilesdk.pipeline.bundle import MANIFEST, bundle_files, inside, load_golden, sha256_file
from mobilesdk.pipeline.ci_report import FAIL, PASS, Outcome, rows_outcomes
from mobilesdk.pipeline.check import ReferenceCase, parity_rows, reference_rows, run_cases
from mobilesdk.pipeline.reference import read_references
from mobilesdk.serde import from_data
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


def symlinks(root: Path) -> dict[str, str]:
    """Every symbolic link under root (not followed), relative path -> where it points."""
    return {p.relative_to(root).as_posix(): os.readlink(p) for p in root.rglob("*") if p.is_symlink()}


def check_files(root: Path, manifest) -> list[str]:
    """Listed files exist with their size and sha256, nothing unlisted is there, no path leaves the
    bundle: a `..` or absolute path in the manifest, or a symbolic link anywhere in the bundle (whose
    target could be anything, and change after verify), is refused without being read."""
    links = symlinks(root)
    problems = [f"`{rel}` is a symbolic link to `{to}`; a bundle holds regular files only (refused, not read)"
                for rel, to in sorted(links.items())]
    listed = {f.path: f for f in manifest.files}
    for rel, entry in listed.items():
        path = root / rel
        if not inside(rel):
            problems.append(f"`{rel}` in the manifest points outside the bundle (refused, not read)")
        elif any(rel == link or rel.startswith(link + "/") for link in links):
            continue  # reported above
        elif not path.is_file():
            problems.append(f"`{rel}` is missing")
        elif path.stat().st_size != entry.size:
            problems.append(f"`{rel}` has {path.stat().st_size} bytes, the manifest says {entry.size}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"`{rel}` does not match its sha256 in the manifest (modified)")
    for rel in bundle_files(root):
        if rel not in listed and rel not in links:
            problems.append(f"`{rel}` is not listed in the manifest (unexpected file)")
    return problems + reference_problems(manifest, listed)


def reference_problems(manifest, listed: dict) -> list[str]:
    """Every path the manifest's models name (spec, golden cases, artifacts, tokenizer) must stay in
    the bundle and be one of its listed, hash-checked files (or a directory of them: an .mlpackage)."""
    problems = []
    for m in manifest.models:
        refs = [(m.spec_path, "spec_path"), *((c.path, f"golden `{c.name}`") for c in m.golden)]
        refs += [(f, f"artifact {a.format}/{a.precision}") for a in m.artifacts for f in [*a.files, *([a.path] if a.files else [])]]
        refs += [(p, "text") for p in ((m.text.tokenizer, m.text.vocab) if m.text else ())]
        for rel, what in refs:
            if not inside(rel):
                problems.append(f"model `{m.name}` {what} `{rel}` points outside the bundle (refused, not read)")
            elif rel not in listed and not any(k.startswith(rel + "/") for k in listed):
                problems.append(f"model `{m.name}` {what} `{rel}` is not among the manifest's listed files")
    return problems


def entry_problems(root: Path, manifest) -> list[str]:
    """Manifest values that contradict the hash-checked files or each other: a model's I/O, dims, masks
    and spec digest against its spec.json; parity thresholds against the spec's; each `passed` against
    the rows it is derived from (`check.check_artifact`), and the bundle's against its artifacts'."""
    from mobilesdk.pipeline.build import model_entry

    problems = []
    for m in manifest.models:
        try:
            spec = spec_from_json(json.loads((root / m.spec_path).read_text()))
        except (ValueError, TypeError, KeyError) as e:  # hash-checked, so the manifest's record is wrong too
            problems.append(f"model `{m.name}`: `{m.spec_path}` is not a spec ({summary(e)})")
            continue
        if spec.digest() != m.spec_digest:
            problems.append(f"model `{m.name}`: the manifest's spec_digest is not that of `{m.spec_path}` (modified)")
        derived = model_entry(m.name, m.source, spec, m.spec_path, m.golden, m.artifacts)
        for key in ("inputs", "outputs", "dims", "masks"):
            if getattr(derived, key) != getattr(m, key):
                problems.append(f"model `{m.name}`: the manifest's {key} differ from `{m.spec_path}` (modified)")
        for a in m.artifacts:
            label = f"{m.name}/{a.format}/{a.precision}"
            for r in a.parity:
                t, _ = spec.threshold(r.output, a.precision) if r.output in {o.name for o in spec.outputs} else (None, "")
                if t is None or (r.min_sqnr_db, r.min_agreement) != (t.sqnr_db, t.agreement):
                    problems.append(f"{label}: the manifest's threshold for `{r.output}` is not the spec's (modified)")
                below = r.sqnr_db < r.min_sqnr_db or (r.agreement is not None and r.agreement < r.min_agreement)
                if r.passed and below:
                    problems.append(f"{label}: the manifest says `{r.output}` passed at {r.sqnr_db} dB, below its threshold")
            rows_pass = bool(a.parity) and all(r.passed for r in a.parity) and all(k.passed for k in a.semantics)
            if a.passed != rows_pass and (a.passed or not a.note):
                problems.append(f"{label}: the manifest says {'passed' if a.passed else 'failed'}, its rows say otherwise")
    shipped = all(a.passed for m in manifest.models for a in m.artifacts if not a.diagnostic)
    if manifest.passed != shipped:
        problems.append(f"the manifest says the bundle {'passed' if manifest.passed else 'failed'}; its artifacts say otherwise")
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
    if report.ok:
        report.add("manifest", entry_problems(root, manifest), "manifest paths and values agree with the spec files")
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
        recorded = {r.output: r.passed for r in a.parity}  # a diagnostic fails verify only where it passed at build
        judged = not a.diagnostic or any(recorded.get(r.output) for r in rows if not r.passed)
        if failed and judged:
            problems.append(f"{label}: `{a.path}` fails parity: " + "; ".join(failed))
        worst = min(r.sqnr_db for r in rows + given)
        log(f"  {label:<40} {'FAIL' if failed else 'pass'}  min SQNR {worst:.1f} dB"
            + (f"; against the reference outputs {min(r.sqnr_db for r in given):.1f} dB" if given else ""))
        outcomes += rows_outcomes(label.replace("/", "."), rows, given, judged=judged)
    return problems, outcomes
