"""Writing a bundle atomically, hashing its files, and rendering its report.

A bundle is built in a hidden sibling directory and renamed into place only when complete, so a
failed or interrupted build never leaves a half bundle and never destroys the previous one.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
from pathlib import Path, PurePosixPath

import numpy as np

from mobilesdk.errors import BundleError
from mobilesdk.golden import TextRow
from mobilesdk.manifest import FileEntry, Manifest
from mobilesdk.size import LEAN

MANIFEST = "manifest.json"
REPORT = "report.md"


def check_out(out: Path) -> None:
    """Refuse, before any work, an output directory the build could not write or must not replace: one
    that cannot be created, or an existing directory that is not a bundle (the config's own folder, a
    parent of the cache, a home directory), which staging would replace whole."""
    out = out.resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise BundleError(f"`{out}` exists and is not a bundle, and the build would replace it whole. "
                          "Fix: pass --out a new or empty directory, or a bundle an earlier build wrote")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / f".{out.name}.probe-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        raise BundleError(f"cannot write the bundle at `{out}`: {e.strerror or e}. "
                          "Fix: pass --out a directory you can create and write") from None


@contextlib.contextmanager
def staging(out: Path):
    """Yield an empty directory beside `out`; on success it replaces `out`, on failure it vanishes."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):  # left by a killed build; a running one keeps its own
        if not _running(stale.name.rsplit("-", 1)[-1]):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = staging_dir(out)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def staging_dir(out: Path) -> Path:
    """Where this process builds the bundle bound for `out` (see `staging`)."""
    out = out.resolve()
    return out.parent / f".{out.name}.tmp-{os.getpid()}"


def write_file(path: Path, data: str | bytes) -> None:
    """Write `path` whole; an OSError from write() itself (a full disk), which names no file, is
    raised again naming `path`, so the build's one-line error can say which file it could not write."""
    try:
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    except OSError as e:
        if e.filename:
            raise
        raise OSError(e.errno, e.strerror, str(path)) from None


def write_error(e: OSError, out: Path, what: str = "") -> BundleError:
    """A one-line error for a file the build could not write (a full disk, a quota, a read-only mount),
    naming the file as it would be in `out` (or `what` when the OS did not say which file)."""
    tmp, name = staging_dir(out), e.filename and str(e.filename)
    if name and Path(name).is_relative_to(tmp):
        name = str(out.resolve() / Path(name).relative_to(tmp))
    where = name or what or str(out)
    return BundleError(f"could not write `{where}`: {e.strerror or e}. Fix: free space (or write access) there and "
                       f"build again; the bundle at `{out}` was left as it was")


def _running(pid: str) -> bool:
    """Whether the process with this id still runs (it may be another user's: then it counts as running)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def inside(rel: str) -> bool:
    """Whether a recorded relative path stays inside its directory: relative, forward slashes, no `..`."""
    p = PurePosixPath(rel)
    return bool(rel) and "\\" not in rel and not p.is_absolute() and ".." not in p.parts


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Directories of files generated from the manifest after it is written (mobilesdk.pipeline.bindings):
# the manifest cannot list them, `verify` generates them again to check them.
DERIVED = ("android", "ios")


def bundle_files(root: Path) -> list[str]:
    """Every file under root except the manifest and the derived bindings, as sorted forward-slash relative paths."""
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return sorted(f for f in files if f != MANIFEST and f.split("/", 1)[0] not in DERIVED)


def file_entries(root: Path, known: list[FileEntry] = ()) -> list[FileEntry]:
    """Every file of the bundle with its sha256 and size; a file in `known` (hashed since it was
    written) is not read again."""
    done = {f.path: f for f in known}
    return [done.get(rel) or FileEntry(rel, sha256_file(root / rel), (root / rel).stat().st_size) for rel in bundle_files(root)]


def save_golden(path: Path, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray],
                text: tuple[TextRow, ...] = (), expected: dict[str, np.ndarray] | None = None) -> None:
    """A golden case as .npz: `input.<name>`, `output.<name>` (PyTorch's), `expected.<name>` (the
    outputs a user reference gave), and for text rows `text.rows` (the strings), `text.ids` [batch,
    tokens] and `text.offsets` [batch, tokens, 2] (-1 past a row's tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"input.{k}": v for k, v in inputs.items()} | {f"output.{k}": v for k, v in outputs.items()}
    arrays |= {f"expected.{k}": v for k, v in (expected or {}).items()}
    if text:
        width = max(len(r.ids) for r in text)
        ids, offsets = np.full((len(text), width), -1, np.int32), np.full((len(text), width, 2), -1, np.int32)
        for i, r in enumerate(text):
            ids[i, : len(r.ids)], offsets[i, : len(r.ids)] = r.ids, r.offsets
        arrays |= {"text.rows": np.array([r.text for r in text]), "text.ids": ids, "text.offsets": offsets}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_file(path, buffer.getvalue())


def load_golden(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[TextRow, ...], dict[str, np.ndarray]]:
    """inputs, PyTorch's outputs, text rows and expected outputs, as `save_golden` wrote them."""
    with np.load(path) as z:
        inputs = {k.removeprefix("input."): z[k] for k in z.files if k.startswith("input.")}
        outputs = {k.removeprefix("output."): z[k] for k in z.files if k.startswith("output.")}
        expected = {k.removeprefix("expected."): z[k] for k in z.files if k.startswith("expected.")}
        text = tuple(
            TextRow(str(t), [int(i) for i in ids if i >= 0], [(int(s), int(e)) for s, e in offs if s >= 0])
            for t, ids, offs in zip(z["text.rows"], z["text.ids"], z["text.offsets"])
        ) if "text.rows" in z.files else ()
    return inputs, outputs, text, expected


def artifact_size(files: list[str], sizes: dict[str, int]) -> int:
    """Bytes of an artifact's files; a directory artifact (.mlpackage) counts everything inside."""
    return sum(n for path, n in sizes.items() if any(path == f or path.startswith(f + "/") for f in files))


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def render_report(m: Manifest, sizes: dict[str, int], pictures: dict[str, str] | None = None) -> str:
    """The report; `pictures` maps a model to its PNG (mobilesdk.pipeline.pictures), shown under its heading."""
    lines = [
        f"# {m.bundle} {m.version}: parity report",
        "",
        f"Overall: **{'PASS' if m.passed else 'FAIL'}**. Numbers are over valid (unpadded) positions, worst case "
        "over the golden cases. SQNR in dB; agreement is top-1 / frame-argmax / LID agreement with PyTorch "
        "over all the golden cases' decisions together, where a decision PyTorch itself nearly ties "
        "(top-2 gap under the precision's tie margin) may go either way. Thresholds in parentheses.",
        "",
    ]
    if m.shard:
        lines += [f"This is shard {m.shard} of a build: it holds its share of the cells; `mobilesdk merge` joins the shards.", ""]
    for model in m.models:
        lines += [f"## {model.name} ({model.source})", "", model.description, ""]
        if model.name in (pictures or {}):
            lines += [f"![{model.name}: golden row 0]({pictures[model.name]})", ""]
        if model.text:
            lines += [f"Golden and calibration rows are real sentences ({model.text.sentences} in the sentences file) "
                      f"tokenized by `{model.text.tokenizer}`. For LID outputs, `spans` is the share of golden rows "
                      "whose language spans (languages and character boundaries) equal PyTorch's: reported, not judged.", ""]
        lines += [
            "| format | precision | size KB | output | metric | SQNR dB (min) | agreement (all cases) | max abs | result |",
            "|---|---|---:|---|---|---:|---:|---:|---|",
        ]
        notes = []
        for a in model.artifacts:
            size = artifact_size(a.files, sizes) / 1024
            fmt = f"{a.format} (diagnostic)" if a.diagnostic else a.format
            if a.meta.get("route"):  # a format with several toolchains: which one made this artifact
                fmt += f" via {a.meta['route']}"
                if a.meta.get("routes_tried") not in (None, "", "none before it"):
                    notes.append(f"- {a.format}/{a.precision}: took {a.meta['route']}; before it {a.meta['routes_tried']}")
            if not a.parity:
                lines.append(f"| {fmt} | {a.precision} | {size:.0f} | – | – | – | – | – | FAIL |")
            lines += [_parity_row(fmt, a.precision, f"{size:.0f}", p, p.output) for p in a.parity]
            lines += [_parity_row(fmt, a.precision, "", p, f"{p.output} vs your reference") for p in a.reference_parity]
            for p in a.parity:
                if p.loosened_because:
                    notes.append(f"- {a.format}/{a.precision} `{p.output}` threshold loosened: {p.loosened_because}")
            if a.note:
                notes.append(f"- {a.format}/{a.precision}: {a.note}")
            if a.divergence is not None:
                notes.append(f"- {a.format}/{a.precision}: {a.divergence.summary}")
        notes += [f"- {cell}: left out by the config" + (f": {why}" if why else "") for cell, why in model.left_out.items()]
        lines += ["", *notes, ""] if notes else [""]
        if model.reference_parity:
            cases = [c.name for c in model.golden if c.expected]
            lines += [f"Your reference cases ({', '.join(cases)}) gave outputs; the rows `vs your reference` judge each "
                      "artifact against them. PyTorch itself, here, against them: " + "; ".join(
                          f"`{p.output}` {p.sqnr_db:.1f} dB ({'pass' if p.passed else 'FAIL'})" for p in model.reference_parity)
                      + ("" if all(p.passed for p in model.reference_parity) else ": **the model built here does not "
                         "compute your reference outputs** (another checkpoint, preprocessing or precision made them?)"), ""]
        lines += runtimes_table(model)
        lines += floor_table(model, sizes)
        lines += semantics_table(model)
    return "\n".join(lines)


def _parity_row(fmt: str, precision: str, size: str, p, output: str) -> str:
    agree = "–" if p.agreement is None else f"{100 * p.agreement:.1f}% ({100 * p.min_agreement:.0f}%)"
    if p.spans_agreement is not None:
        agree += f"; spans {100 * p.spans_agreement:.1f}%"
    if p.alignment_agreement is not None:
        agree += f"; alignment {100 * p.alignment_agreement:.1f}%"
    return (f"| {fmt} | {precision} | {size} | {output} | {p.metric} | {p.sqnr_db:.1f} ({p.min_sqnr_db:.0f}) | {agree} | "
            f"{_num(p.max_abs, '.2e')} | {'pass' if p.passed else 'FAIL'} |")


def runtimes_table(model) -> list[str]:
    """Each precision that several formats built, their SQNR per output side by side, with the runtime
    that measured each: different converters and runtimes judged on the same golden cases (Core ML in
    the MIL reference evaluator beside Core AI in Apple's runtime, say). Each number is agreement with
    PyTorch, not with each other."""
    arts = [a for a in model.artifacts if a.parity and not a.diagnostic]
    formats = list(dict.fromkeys(a.format for a in arts))
    by = {(a.format, a.precision): a for a in arts}
    shared = [p for p in dict.fromkeys(a.precision for a in arts) if sum((f, p) in by for f in formats) > 1]
    if not shared:
        return []
    runtimes = "; ".join(f"{f}: {', '.join(dict.fromkeys(a.runtime for a in arts if a.format == f))}" for f in formats)
    lines = [f"The same precision across formats, SQNR dB against PyTorch (runtimes: {runtimes}):", "",
             "| precision | output | " + " | ".join(formats) + " |", "|---|---|" + "---:|" * len(formats)]
    for p in shared:
        outputs = dict.fromkeys(r.output for f in formats if (f, p) in by for r in by[(f, p)].parity)
        for o in outputs:
            rows = [next((r for r in by[(f, p)].parity if r.output == o), None) if (f, p) in by else None for f in formats]
            lines.append(f"| {p} | {o} | " + " | ".join("–" if r is None else f"{r.sqnr_db:.1f}" for r in rows) + " |")
    return lines + [""]


def floor_table(model, sizes: dict[str, int]) -> list[str]:
    """Each int8 artifact's bytes against its floor (`mobilesdk.size`): over LEAN, it stores more than
    its int8 weights and what it says stays float."""
    arts = [a for a in model.artifacts if "floor_bytes" in a.meta]
    if not arts:
        return []
    lines = [f"Int8 sizes against their floor (every weight int8, `float_modules` float32), lean within {LEAN}x:", "",
             "| format | precision | size KB | floor KB | x floor |", "|---|---|---:|---:|---:|"]
    for a in arts:
        ratio = float(a.meta["floor_ratio"])
        lines.append(f"| {a.format} | {a.precision} | {artifact_size(a.files, sizes) / 1024:.0f} | "
                     f"{int(a.meta['floor_bytes']) / 1024:.0f} | {ratio:.2f}{'' if ratio <= LEAN else ' (over)'} |")
    return lines + [""]


def _cell(row) -> str:
    if not row.applicable:
        return "n/a"
    db = "" if row.sqnr_db is None else f" {row.sqnr_db:.0f} dB"
    return ("pass" if row.passed else "FAIL") + db


def semantics_table(model) -> list[str]:
    """Mask and dynamic-shape checks x (PyTorch itself, then every artifact)."""
    rows = [("pytorch", "fp32", model.semantics)] + [(a.format, a.precision, a.semantics) for a in model.artifacts]
    checks = [r.check for r in model.semantics]
    if not checks:
        return []
    lines = [f"Mask and shape suite ({model.name}): SQNR between the compared runs on valid positions.", "",
             "| runs in | precision | " + " | ".join(checks) + " |", "|---|---|" + "---|" * len(checks)]
    for fmt, precision, sem in rows:
        by = {r.check: r for r in sem}
        lines.append(f"| {fmt} | {precision} | " + " | ".join(_cell(by[c]) if c in by else "–" for c in checks) + " |")
    own = [r.check for r in model.semantics if r.applicable and not r.passed]
    if own:
        lines += ["", f"**PyTorch itself fails {', '.join(own)}**: the model's own outputs at valid positions change "
                  "with its padding, so no artifact can pass these checks. This is the model, not the conversion. "
                  "Remedy: keep padded positions out of every layer that mixes positions (a normalisation or "
                  "pooling over the whole sequence), or declare no mask for that input in the spec."]
        padded = [f"{a.format}/{a.precision} (pads {a.meta['padded_dims']} to {a.meta.get('buckets', 'static lengths')})"
                  for a in model.artifacts if a.meta.get("padded_dims") and not a.passed]
        if "pad_length" in own and padded:
            lines += ["", f"The same makes the parity of {', '.join(padded)} fail: an artifact that pads to a static "
                      "length computes what PyTorch computes at that padding, which is not what PyTorch computes unpadded."]
    return lines + [""]
