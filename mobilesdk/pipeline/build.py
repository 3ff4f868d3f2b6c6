"""Build a bundle from a config: the graph of steps per model, then the manifest and report.

    load  ->  golden  ->  capture  ->  convert/<format>/<precision>  ->  parity/<format>/<precision>
      \\-> semantics (the mask suite on PyTorch itself)
"""
from __future__ import annotations

import dataclasses
import errno
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from converters.base import BuildContext, Converted, Converter, get, registry
from mobilesdk import __version__
from mobilesdk.capture import TORCH_DTYPES, SpecOrdered, capture, run_torch, to_torch
from mobilesdk.config import BundleConfig, ModelConfig
from mobilesdk.errors import ConfigError, FailedCells, InternalError, MobileSDKError, summary
from mobilesdk.golden import (
    AudioFeed, Case, TextFeed, calibration_batches, golden_cases, lengths_from_inputs, token_input, valid_from_inputs,
)
from mobilesdk.manifest import (
    SCHEMA_VERSION, Artifact, DimEntry, GoldenCase, LintFinding, Manifest, Model, SemanticRow, TensorEntry, TextEntry,
    to_json,
)
from mobilesdk.mask_lint import lint
from mobilesdk.pipeline import bindings
from mobilesdk.pipeline.bundle import (
    MANIFEST, REPORT, check_out, file_entries, render_report, save_golden, staging, write_error, write_file,
)
from mobilesdk.pipeline.cache import Cache, convert_key, model_key, parity_key, program_digest, suite_key
from mobilesdk.pipeline.check import (
    ArtifactCheck, ConvertResult, ReferenceCase, check_artifact, evaluate, reference_rows, results_of,
)
from mobilesdk.pipeline.explain import divergence
from mobilesdk.pipeline.graph import Graph, Progress, Step
from mobilesdk.pipeline.pictures import draw
from mobilesdk.pipeline.reference import read_references
from mobilesdk.pipeline.run import model_spec
from mobilesdk.pipeline.sources import Loaded, audio_feed, load_step, text_feed
from mobilesdk.semantics import run_suite
from mobilesdk.serde import from_data
from mobilesdk.size import INT8, int8_floor
from mobilesdk.spec import Arrays, ModelSpec, output_shape


@dataclass
class Golden:
    cases: list[Case]
    outputs: list[Arrays]
    calibration: list[Arrays]
    summary: str = ""
    text: TextFeed | None = None  # where text models' token rows came from
    audio: AudioFeed | None = None  # where audio models' rows came from
    expected: dict[str, Arrays] = dataclasses.field(default_factory=dict)  # case -> outputs a user reference gave

    def golden_set(self) -> list[ReferenceCase]:
        return [ReferenceCase(c.name, c.inputs, out, c.text, self.expected.get(c.name, {}))
                for c, out in zip(self.cases, self.outputs)]


@dataclass
class Captured:
    """The program every converter gets. From the cache only its digest and lint findings are known:
    the model is captured again only when a step needs the program itself (a conversion to do)."""

    program: str  # program_digest: what conversion keys hash
    model: str  # cache.model_key: what the program follows from
    findings: list[LintFinding]
    summary: str = ""
    make: Callable[[], "Captured"] | None = None
    _ep: torch.export.ExportedProgram | None = None

    @property
    def ep(self) -> torch.export.ExportedProgram:
        if self._ep is None:
            fresh = self.make()
            if fresh.program != self.program:
                raise InternalError(f"the capture cache recorded program {self.program[:12]}, capturing again gave "
                                    f"{fresh.program[:12]}. Fix: build with --no-cache, and report this")
            self._ep = fresh.ep
        return self._ep


def check_formats(cfg: BundleConfig) -> None:
    """Every format the config asks for is installed (found, not imported: a step imports its toolchain
    only when it converts or runs something, through `ready`)."""
    converters = registry()
    for mc in cfg.models:
        missing = {f: why for f in mc.formats if (why := converters[f].installed()) is not None}
        if missing:
            reasons = "; ".join(f"{f}: {why}" for f, why in missing.items())
            raise ConfigError(f"[models.{mc.name}] asks for unavailable formats ({reasons}). Fix: run `make setup` or drop them")


def ready(conv: Converter) -> None:
    """Import `conv`'s toolchain (once per process, its import-time banners held back) before a step
    uses it; a toolchain that is installed but broken stops the build with its reason."""
    problem = conv.check()
    if problem is not None:
        raise ConfigError(f"`{conv.name}`: {problem}")


def cells(mc: ModelConfig) -> list[tuple[str, str]]:
    """The model's (format, precision) pairs, in build order: the config's formats, each with the
    precisions its converter has, less `skip`."""
    return [(fmt, p) for fmt in mc.formats for p in mc.precisions
            if p in registry()[fmt].precisions and f"{fmt}/{p}" not in mc.skip]


def shard_config(cfg: BundleConfig, index: int, count: int) -> BundleConfig:
    """The share of shard `index` of `count` (1-based): cell k of the whole config's cells (models in
    order, each model's cells in build order) goes to shard k mod count + 1, so the shards interleave
    formats and precisions and `merge` restores the order. Every shard keeps every model (its golden
    data and PyTorch checks are the same in each), with the other shards' cells skipped."""
    k, out = 0, []
    for mc in cfg.models:
        others = []
        for fmt, prec in cells(mc):
            if k % count != index - 1:
                others.append(f"{fmt}/{prec}")
            k += 1
        out.append(dataclasses.replace(mc, skip=mc.skip + tuple(others)))
    return dataclasses.replace(cfg, models=tuple(out))


def plan(mc: ModelConfig, root: Path, cache: Cache) -> tuple[Graph, ModelSteps]:
    """The steps of one model; models share nothing, so they can build in separate processes."""
    g = Graph()
    m = mc.name
    load = g.add(f"load/{m}", lambda: load_step(mc))
    golden = g.add(f"golden/{m}", lambda loaded: golden_step(loaded, mc), load)
    captured = g.add(f"capture/{m}", lambda loaded, gold: capture_step(loaded, gold, mc, cache), load, golden)
    semantics = g.add(f"semantics/{m}", functools.partial(torch_semantics, cache=cache), load, golden, captured)
    artifacts = []
    for fmt, prec in cells(mc):
        conv = registry()[fmt]
        key = f"{m}/{fmt}/{prec}"
        job = ConvertJob(m, conv, prec, root / "models" / m / fmt / prec, mc.options.get(fmt, {}))
        converted = g.add(f"convert/{key}", functools.partial(convert_step, job, cache=cache), load, golden, captured)
        artifacts.append(g.add(f"parity/{key}", functools.partial(parity_step, job, root, cache=cache), load, golden,
                               captured, converted))
    return g, ModelSteps(load, golden, captured, semantics, tuple(artifacts))


@dataclass(frozen=True)
class ModelSteps:
    """The handles of one model's steps, to read its results."""

    load: Step[Loaded]
    golden: Step[Golden]
    captured: Step[Captured]
    semantics: Step[TorchSemantics]
    artifacts: tuple[Step[Artifact], ...]


@dataclass(frozen=True)
class ConvertJob:
    """One artifact to convert: which model, converter and precision, where, with which options."""

    model: str
    converter: Converter
    precision: str
    out_dir: Path
    options: dict


def golden_step(loaded: Loaded, mc: ModelConfig) -> Golden:
    text, audio = text_feed(loaded.spec, mc), audio_feed(loaded.spec, mc)
    cases = golden_cases(loaded.spec, mc.seed, text, audio)
    refs = read_references(mc.reference, loaded.spec) if mc.reference else []
    cases += [Case(r.name, {k: v for k, v in lengths_from_inputs(loaded.spec, r.inputs).items() if k != "batch"},
                   valid_from_inputs(loaded.spec, r.inputs), r.inputs) for r in refs]
    outputs = [spec_outputs(loaded, c, mc.name) for c in cases]
    calib = calibration_batches(loaded.spec, mc.calibration_batches, mc.seed, text, audio)
    source = f" from {len(text.sentences)} sentences" if text else f" from {len(audio.clips)} clips" if audio else ""
    source += f", {len(refs)} of them your references" if refs else ""
    return Golden(cases, outputs, calib, f"{len(cases)} cases, {len(calib)} calibration batches{source}", text, audio,
                  {r.name: r.expected for r in refs if r.expected})


def spec_outputs(loaded: Loaded, case: Case, model: str) -> Arrays:
    """PyTorch's outputs for a golden case, checked to be what the spec declares: the module runs on
    the spec's inputs and returns the spec's outputs, in number, shape and dtype. A spec that lies
    would otherwise surface later as a converter's or a parity check's puzzling failure."""
    spec = loaded.spec
    shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in case.inputs.items())
    try:
        with torch.no_grad():
            raw = SpecOrdered(loaded.module, spec)(*to_torch(case.inputs, spec))
    except Exception as e:
        raise ConfigError(f"[models.{model}] forward() fails on the spec's inputs ({shapes}): {summary(e)}. Fix: make "
                          "the spec's inputs (names, order, shapes, dtypes) match what forward() takes") from None
    if len(raw) != len(spec.outputs) or not all(isinstance(t, torch.Tensor) for t in raw):
        raise ConfigError(f"[models.{model}] forward() returns {len(raw)} values, the spec declares {len(spec.outputs)} "
                          f"outputs ({', '.join(o.name for o in spec.outputs)}). Fix: declare one output per tensor "
                          "forward() returns, in its order")
    batch = next(iter(case.inputs.values())).shape[0]
    for o, t in zip(spec.outputs, raw):
        want = output_shape(spec, o.shape, case.lengths, batch)
        if tuple(t.shape) != tuple(want) or t.dtype != TORCH_DTYPES[o.dtype]:
            got = f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}"
            raise ConfigError(f"[models.{model}] output `{o.name}` is {got} where the spec says {list(o.shape)} = "
                              f"{tuple(want)} {o.dtype} (golden case {case.name}). Fix: correct the output's shape "
                              "and dtype in the spec, or what forward() returns")
    return {o.name: t.detach().cpu().numpy() for o, t in zip(spec.outputs, raw)}


def torch_runner(loaded: Loaded):
    return lambda inputs: run_torch(loaded.module, loaded.spec, inputs)


@dataclass
class TorchSemantics:
    rows: list[SemanticRow]

    @property
    def summary(self) -> str:
        failed = [r.check for r in self.rows if not r.passed]
        return f"PyTorch itself FAILS {', '.join(failed)}" if failed else "PyTorch passes the mask suite"


def torch_semantics(loaded: Loaded, golden: Golden, captured: Captured, cache: Cache) -> TorchSemantics:
    """PyTorch's own mask-suite rows; cached by what they follow from: the model (its capture key),
    the clips the suite takes and the suite's code."""
    key = "semantics-" + suite_key(captured.model, golden.audio)
    known = cache.recall(key)
    if known is not None:
        return TorchSemantics([from_data(SemanticRow, r) for r in known["rows"]])
    rows = run_suite(loaded.spec, torch_runner(loaded), "fp32", audio=golden.audio)
    cache.remember(key, {"rows": [dataclasses.asdict(r) for r in rows]})
    return TorchSemantics(rows)


def capture_step(loaded: Loaded, golden: Golden, mc: ModelConfig, cache: Cache) -> Captured:
    """The captured program, or, when this model (weights, code, spec, golden behaviour) was captured
    before, its cached digest and findings with the capture left until a step needs the program."""
    key = "capture-" + model_key(loaded.module, loaded.spec, [c.inputs for c in golden.cases] + golden.outputs,
                                 {"fp16_safe_masks": mc.fp16_safe_masks})
    make = functools.partial(capture_model, loaded, golden.cases[0].inputs, mc)
    known = cache.recall(key)
    if known is not None:
        findings = [from_data(LintFinding, f) for f in known["findings"]]
        return Captured(known["program"], key, findings, known["summary"] + " (capture cached)", make)
    captured = dataclasses.replace(make(), model=key)
    cache.remember(key, {"program": captured.program, "findings": [dataclasses.asdict(f) for f in captured.findings],
                         "summary": captured.summary})
    return captured


def capture_model(loaded: Loaded, example: Arrays, mc: ModelConfig) -> Captured:
    """The program every converter gets: torch.export, then the fp16 mask lint (rewriting if asked)."""
    ep = capture(loaded.module, loaded.spec, example)
    findings = lint(ep, rewrite=mc.fp16_safe_masks)
    verb = "rewrote" if mc.fp16_safe_masks else "found (set fp16_safe_masks = true to rewrite)"
    summary = (f"fp16 mask lint {verb}: " + ", ".join(f"{f.node}={f.value}" for f in findings) if findings
               else "no fp16-unsafe mask constants")
    return Captured(program_digest(ep), "", findings, summary, _ep=ep)


def parity_step(job: ConvertJob, root: Path, loaded: Loaded, golden: Golden, captured: Captured, result: ConvertResult,
                cache: Cache) -> Artifact:
    """The artifact judged in its runtime, and where it first drifts when it fails; its rows come from
    the cache when this artifact (its bytes and what made it) was judged on this golden data by this
    checking code before."""
    check = ArtifactCheck(job.converter, job.precision, result, loaded.spec, golden.golden_set(), root,
                          torch_runner(loaded), golden.audio)
    if result.converted is None:
        return check_artifact(check)
    key = "parity-" + parity_key(result, golden)
    hit = cache.restore(key, job.out_dir)
    if hit is not None:
        return check_artifact(check, known=hit.meta)
    ready(job.converter)
    artifact = check_artifact(check)
    if not artifact.passed and artifact.parity:
        case = golden.cases[0]
        ctx = BuildContext(job.model, loaded.spec, case.inputs, golden.calibration, job.options)
        artifact = dataclasses.replace(artifact, divergence=divergence(
            captured.ep, ctx, job.converter, job.precision, result.converted.files, case.name, case.inputs))
    cache.store(key, Converted([], results_of(artifact)), job.out_dir)
    return artifact


def convert_step(job: ConvertJob, loaded: Loaded, golden: Golden, captured: Captured, cache: Cache) -> ConvertResult:
    conv, prec = job.converter, job.precision
    ctx = BuildContext(job.model, loaded.spec, golden.cases[0].inputs, golden.calibration, job.options,
                       accept=functools.partial(parity_problem, conv, prec, loaded.spec, golden.golden_set()))
    key = convert_key(conv, prec, captured.program, ctx)
    job.out_dir.mkdir(parents=True, exist_ok=True)
    hit = cache.restore(key, job.out_dir)
    if hit is not None:
        return ConvertResult(hit, "", "cached", key)
    ready(conv)
    try:
        converted = conv.convert(captured.ep, ctx, prec, job.out_dir)
    except MobileSDKError as e:
        return ConvertResult(None, str(e), "FAILED")
    except InternalError:
        raise
    except OSError as e:
        if e.errno in DISK_ERRNOS:  # the machine's fault, not the model's: stop the build, name the file
            e.filename = e.filename or str(job.out_dir)
            raise
        return ConvertResult(None, f"`{conv.name}` {prec} conversion raised {summary(e)}", "FAILED")
    except Exception as e:  # a toolchain limit hit by this model: a failed row, the other artifacts still build
        return ConvertResult(None, f"`{conv.name}` {prec} conversion raised {summary(e)}", "FAILED")
    cache.store(key, converted, job.out_dir)
    return ConvertResult(converted, "", f"{_disk_size(converted.files) / 1024:.0f} KB", key)


# A write that fails for one of these fails the whole build (`bundle.write_error`), not one artifact.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def parity_problem(conv: Converter, precision: str, spec: ModelSpec, golden: list[ReferenceCase],
                   converted) -> str | None:
    """None when `converted` passes parity on the golden set, else the failing outputs (BuildContext.accept)."""
    try:
        rows = evaluate(conv.runner(converted, spec), spec, precision, golden)
    except Exception as e:
        return f"its runtime raised {summary(e)}"
    return "; ".join(f"{r.output} {r.sqnr_db:.1f} dB (min {r.min_sqnr_db})" for r in rows if not r.passed) or None


def _disk_size(paths: list[Path]) -> int:
    """Bytes on disk; a directory artifact (.mlpackage) counts the files inside it."""
    files = [f for p in map(Path, paths) for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(f.stat().st_size for f in files)


def build(cfg: BundleConfig, out: Path, use_cache: bool = True, progress: Progress | None = None, jobs: int = 1,
          shard: tuple[int, int] | None = None, strict: bool = False) -> Manifest:
    """Build every model (in `jobs` worker processes when > 1) into a staging copy of `out`, which
    replaces `out` at the end; with `shard` (index, count), only that shard's cells (`shard_config`),
    for `mobilesdk merge`. A failed cell (no artifact, or failed parity) is marked in the manifest
    with its reason; with `strict`, any failed cell, diagnostic ones too, raises FailedCells instead
    and `out` is left as it was."""
    check_formats(cfg)
    check_out(out)
    try:
        return _build(cfg, out, use_cache, progress, jobs, shard, strict)
    except OSError as e:  # a full disk, a quota, a read-only mount: staging is gone, `out` untouched
        raise write_error(e, out) from None


def failed_cells(models: list[Model], diagnostic: bool = False) -> list[str]:
    """`model/format/precision  reason` of every failed cell (diagnostic ones only if asked)."""
    return [f"{m.name}/{a.format}/{a.precision}  {a.note or 'failed'}" + (f"; {a.divergence.summary}" if a.divergence else "")
            for m in models for a in m.artifacts if not a.passed and (diagnostic or not a.diagnostic)]


def _build(whole: BundleConfig, out: Path, use_cache: bool, progress: Progress | None, jobs: int,
           shard: tuple[int, int] | None, strict: bool) -> Manifest:
    cfg = shard_config(whole, *shard) if shard else whole
    with staging(out) as root:
        cache = Cache.default(enabled=use_cache)
        units = work_units(cfg)
        if jobs > 1 and len(units) > 1:
            models = _build_parallel(units, root, use_cache, jobs)
        else:
            models = [build_model(mc, root, cache, progress or Progress()) for mc in cfg.models]
        failed = failed_cells(models, diagnostic=True)
        if strict and failed:
            raise FailedCells(f"--strict: {len(failed)} cell(s) failed, so `{out}` was left as it was. Fix: the "
                              "reasons above, or leave the cells out with `skip`", failed)
        toolchain = {"mobilesdk": __version__, "torch": torch.__version__, "numpy": np.__version__}
        for fmt in sorted({f for mc in whole.models for f in mc.formats}):
            toolchain |= get(fmt).versions()
        manifest = Manifest(SCHEMA_VERSION, cfg.name, cfg.version, __version__, toolchain, models, [], False,
                            shard=f"{shard[0]}/{shard[1]}" if shard else "")
        return finish(root, manifest, cache)


def finish(root: Path, manifest: Manifest, cache: Cache) -> Manifest:
    """Everything after the models: the pictures, the report, the file list, manifest.json, the bindings."""
    models = manifest.models
    manifest = dataclasses.replace(manifest, passed=all(a.passed for mdl in models for a in mdl.artifacts if not a.diagnostic))
    files = file_entries(root)
    pictures = {mdl.name: path for mdl in models if (path := draw(root, mdl, model_spec(root, mdl), cache, files))}
    files = file_entries(root, known=files)
    write_file(root / REPORT, render_report(manifest, {f.path: f.size for f in files}, pictures))
    manifest = dataclasses.replace(manifest, files=file_entries(root, known=files))
    write_file(root / MANIFEST, to_json(manifest))
    bindings.write(root, manifest)
    return manifest


def build_model(mc: ModelConfig, root: Path, cache: Cache, progress: Progress, write: bool = True) -> Model:
    """One model's steps and its manifest entry; `write`: also write its spec, golden and text files
    (False for all but one of a model's work units, which build the same files)."""
    graph, steps = plan(mc, root, cache)
    results = graph.run(progress)
    artifacts = [with_floor(results[a], results[steps.load].module, root) for a in steps.artifacts]
    golden = results[steps.golden]
    entry = write_model(root, mc, results[steps.load], golden, artifacts, write)
    buildable = {f"{fmt}/{p}" for fmt, p in cells(dataclasses.replace(mc, skip=()))}
    return dataclasses.replace(entry, mask_lint=results[steps.captured].findings,
                               left_out={c: why for c, why in mc.left_out.items() if c in buildable},
                               semantics=results[steps.semantics].rows,
                               reference_parity=reference_rows(results[steps.load].spec, "fp32",
                                                               golden.golden_set(), golden.outputs))


def with_floor(a: Artifact, module, root: Path) -> Artifact:
    """An int8 artifact with its size floor (`mobilesdk.size`) and its bytes over it in the meta."""
    if a.precision not in INT8 or not a.files:
        return a
    modules = [m for m in str(a.meta.get("float_modules", "")).split(",") if m]
    floor = int8_floor(module, modules)
    return dataclasses.replace(a, meta={**a.meta, "floor_bytes": floor,
                                        "floor_ratio": round(_disk_size([root / f for f in a.files]) / floor, 3)})


def work_units(cfg: BundleConfig) -> list[tuple[ModelConfig, bool]]:
    """What `--jobs` workers take one at a time: each model's cells of one format (the model with the
    other formats' cells skipped), in build order, and whether the unit is its model's first (the
    one that writes the model's shared files). A slow model's formats then build side by side, and
    `--jobs` beyond the number of models has work. The price: each unit loads, checks and captures
    its model again (on the demo, capture and golden data 9 s -> 21 s of 830 s of steps)."""
    units = []
    for mc in cfg.models:
        mine = cells(mc)
        formats = list(dict.fromkeys(fmt for fmt, _ in mine)) or [None]
        for i, fmt in enumerate(formats):
            others = tuple(f"{f}/{p}" for f, p in mine if f != fmt)
            units.append((dataclasses.replace(mc, skip=mc.skip + others), i == 0))
    return units


def _build_parallel(units: list[tuple[ModelConfig, bool]], root: Path, use_cache: bool, jobs: int) -> list[Model]:
    """`work_units` in worker processes (spawned: torch, TensorFlow and XNNPACK do not survive fork),
    joined back into one entry per model with its cells in build order. Worker errors come back as
    (exit code, message) and are raised here as the same one-line error."""
    import multiprocessing

    workers = min(jobs, len(units))
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=(threads, os.getpid()))
    try:
        results = pool.map(_worker_build, [(mc, root, use_cache, first) for mc, first in units], chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()  # on Ctrl-C or SIGTERM, stop the workers before staging is removed
        raise
    finally:
        pool.join()
    models: dict[str, Model] = {}
    for (mc, first), result in zip(units, results):
        if isinstance(result, BuildFailed):
            raise result.error()
        models[mc.name] = result if first else dataclasses.replace(
            models[mc.name], artifacts=models[mc.name].artifacts + result.artifacts)
    return list(models.values())


@dataclass
class BuildFailed:
    exit_code: int
    message: str

    def error(self) -> MobileSDKError:
        e = MobileSDKError(self.message)
        e.exit_code = self.exit_code
        return e


def exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """End this process soon after `parent` is gone (killed with -9, say), so a worker never goes on
    converting and writing as an orphan: a daemon thread watches for being reparented."""
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _worker_init(threads: int, parent: int) -> None:
    import signal

    from mobilesdk.logs import quiet_toolchain_logs

    # Ctrl-C reaches every process of the terminal's group: the parent alone handles it (it terminates
    # the pool and removes staging); a worker's KeyboardInterrupt would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent)
    quiet_toolchain_logs()
    torch.set_num_threads(threads)


def _worker_build(args) -> Model | BuildFailed:
    mc, root, use_cache, write = args
    try:
        return build_model(mc, root, Cache.default(enabled=use_cache), Progress(whole_lines=True), write)
    except MobileSDKError as e:
        return BuildFailed(e.exit_code, str(e))


def write_model(root: Path, mc: ModelConfig, loaded: Loaded, golden: Golden, artifacts: list[Artifact],
                write: bool = True) -> Model:
    """The model's manifest entry, and (`write`) its spec, golden and text files."""
    spec = loaded.spec
    spec_path = f"models/{mc.name}/spec.json"
    if write:
        (root / spec_path).parent.mkdir(parents=True, exist_ok=True)
        write_file(root / spec_path, json.dumps(spec.to_json(), indent=2) + "\n")
    cases = []
    for case, outputs in zip(golden.cases, golden.outputs):
        rel = f"golden/{mc.name}/{case.name}.npz"
        expected = golden.expected.get(case.name, {})
        if write:
            save_golden(root / rel, case.inputs, outputs, case.text, expected)
        cases.append(GoldenCase(case.name, rel, dict(case.lengths), sorted(expected)))
    entry = model_entry(mc.name, mc.source, spec, spec_path, cases, artifacts)
    return dataclasses.replace(entry, text=write_text_files(root, mc.name, spec, golden.text, write)) if golden.text else entry


def write_text_files(root: Path, name: str, spec: ModelSpec, text: TextFeed, write: bool = True) -> TextEntry:
    """The manifest entry of models/<name>/tokenizer.json and vocab.txt, and (`write`) the files."""
    from mobilesdk.text.tokenizer import write_vocab

    tok = text.tokenizer
    rel = f"models/{name}"
    if write:
        write_file(root / rel / "tokenizer.json", tok.path.read_bytes())
        write_vocab(tok.tok, root / rel / "vocab.txt")
    ids, dim = token_input(spec)
    d = tok.describe(spec.dim(dim).max)
    return TextEntry(input=ids.name, tokenizer=f"{rel}/tokenizer.json", vocab=f"{rel}/vocab.txt", kind=d["kind"],
                     vocab_size=d["vocab_size"], max_tokens=d["max_tokens"], special_ids=d["special_ids"],
                     continuing_subword_prefix=d["continuing_subword_prefix"],
                     normalizer=json.dumps(d["normalizer"]), pre_tokenizer=json.dumps(d["pre_tokenizer"]),
                     truncation=d["truncation"], sentences=len(text.sentences))


def model_entry(name: str, source: str, spec: ModelSpec, spec_path: str, cases: list[GoldenCase], artifacts: list[Artifact]) -> Model:
    def tensor(t) -> TensorEntry:
        return TensorEntry(t.name, t.dtype, list(t.shape))

    dims = [DimEntry(d.name, d.min, d.max, d.multiple_of, "", "") for d in spec.dims]
    for d in spec.derived_dims:
        src = spec.dim(d.source)
        formula = f"floor(({d.source} - {d.receptive_field}) / {d.stride}) + 1" if d.conv_stack else d.source
        dims.append(DimEntry(d.name, d.length(src.min), d.length(src.max), 1, d.source, formula))
    return Model(
        name=name,
        source=source,
        description=spec.description,
        spec_digest=spec.digest(),
        spec_path=spec_path,
        inputs=[tensor(t) for t in spec.inputs],
        outputs=[tensor(t) for t in spec.outputs],
        dims=dims,
        masks={m.input: m.axis for m in spec.masks},
        golden=cases,
        mask_lint=[],
        semantics=[],
        artifacts=artifacts,
    )
