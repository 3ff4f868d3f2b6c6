"""The `mobilesdk` command line."""
from __future__ import annotations

import argparse
import signal
import sys
import textwrap
from pathlib import Path

from mobilesdk.errors import BundleError, FailedCells, MobileSDKError
from mobilesdk.logs import quiet_toolchain_logs

EPILOG = textwrap.dedent(
    """\
    examples:
      mobilesdk build examples/bundle.toml --out dist/bundle   # convert, check parity, write the bundle
      mobilesdk build examples/bundle.toml -j 2                # two models at a time
      mobilesdk build examples/bundle.toml --shard 1/4 --out s1   # a quarter of the cells, for a CI matrix job
      mobilesdk merge s1 s2 s3 s4 --out dist/bundle            # ... the four shards joined
      mobilesdk verify dist/bundle                             # re-hash files and re-run parity
      mobilesdk verify dist/bundle --reference refs/ --junit verify.xml   # ... and against your outputs
      mobilesdk bindings dist/bundle                           # Kotlin and Swift bindings, from the manifest
      mobilesdk check dist/bundle selftest/                    # judge what a device's self-test wrote
      mobilesdk compare release/bundle dist/bundle             # regressions since the last release
      mobilesdk explain dist/bundle aligner tflite int8-static --config examples/bundle.toml   # where it drifts
      mobilesdk run dist/bundle textclf "说实话 I really like 这个新功能 😊"   # sentiment and language spans
      mobilesdk spec examples/huggingface/bundle.toml          # the spec each model builds with, as TOML
      mobilesdk cache clean --older-than 30                    # drop conversions unused for a month
      mobilesdk models                                         # the reference model families
      mobilesdk doctor                                         # which converters can run here

    CI: build, verify, check and compare take --junit FILE and --json FILE, and print GitHub
    annotations (::error) for each failure when GITHUB_ACTIONS=true; .github/workflows/bundle.yml shows
    the whole loop (cache, build, verify, compare with the last release, upload).

    exit codes: 0 success, 1 a cell failed (conversion or parity; build --strict then writes nothing) or
                verification failed, 2 bad input (the message says what to fix)
    """
)


def ci_files(args, command: str, outcomes) -> None:
    """--junit / --json files and GitHub annotations (mobilesdk/pipeline/ci_report.py)."""
    from mobilesdk.pipeline import ci_report

    ci_report.write(outcomes, command, args.junit, args.json_summary)


def cmd_build(args) -> int:
    from mobilesdk.pipeline import load_config
    from mobilesdk.pipeline.build import build, failed_cells
    from mobilesdk.pipeline.ci_report import manifest_outcomes

    cfg = load_config(args.config)
    out = Path(args.out) if args.out else cfg.out or Path("dist/bundle")
    try:
        manifest = build(cfg, out, use_cache=not args.no_cache, jobs=args.jobs, shard=args.shard, strict=args.strict)
    except FailedCells as e:
        print("\n".join(f"  {row}" for row in e.rows), file=sys.stderr)
        raise
    ci_files(args, "build", manifest_outcomes(manifest))
    rows = [a for m in manifest.models for a in m.artifacts]
    failed = failed_cells(manifest.models)
    print(f"wrote {out}: {len(manifest.models)} models, {len(rows)} artifacts, report at {out / 'report.md'}")
    if failed:
        print("\n".join(f"  {row}" for row in failed), file=sys.stderr)
        print(f"{len(failed)} cell(s) FAILED (conversion or parity; marked in the manifest, see {out / 'report.md'})",
              file=sys.stderr)
        return 1
    print("all parity checks passed")
    return 0


def cmd_merge(args) -> int:
    from mobilesdk.pipeline.merge import merge

    manifest = merge([Path(d) for d in args.shards], Path(args.out))
    cells = sum(len(m.artifacts) for m in manifest.models)
    print(f"wrote {args.out}: {len(args.shards)} shards, {len(manifest.models)} models, {cells} artifacts, "
          f"{'all parity checks passed' if manifest.passed else 'parity FAILED (see the report)'}")
    return 0 if manifest.passed else 1


def cmd_cache(args) -> int:
    from datetime import datetime, timezone

    from mobilesdk.pipeline.cache import Cache

    cache = Cache.default()
    if args.action == "clean":
        count, freed = cache.clean(args.older_than)
        print(f"{cache.url}: removed {count} entries ({freed / 1e6:.1f} MB)")
        return 0
    entries = cache.entries()
    total = sum(e.size for e in entries)
    print(f"{cache.url}: {len(entries)} entries, {total / 1e6:.1f} MB")
    if entries:
        now = datetime.now(timezone.utc)
        print(f"  least recently used {(now - entries[0].used).days} days ago, most recently {(now - entries[-1].used).days} days ago")
    return 0


def cmd_verify(args) -> int:
    from mobilesdk.pipeline.verify import verify

    report = verify(Path(args.bundle), parity=not args.hashes_only,
                    reference=Path(args.reference) if args.reference else None)
    ci_files(args, "verify", report.outcomes)
    for line in report.checked:
        print(line)
    if report.ok:
        print(f"{args.bundle}: OK")
        return 0
    for p in report.problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"{args.bundle}: {len(report.problems)} problem(s)", file=sys.stderr)
    return 1


def cmd_explain(args) -> int:
    import json

    import tempfile

    from mobilesdk.pipeline.explain import render, render_sensitivity, subject

    s = subject(Path(args.bundle), args.model, args.format, args.precision, Path(args.config), args.case)
    if args.sensitivity:
        s.check_sensitivity()
    e = s.explain()
    result = e.to_json()
    if not args.json:
        print(render(e, args.top), flush=True)
    if args.sensitivity:
        with tempfile.TemporaryDirectory(prefix="mobilesdk-sensitivity-") as tmp:
            rows = s.sensitivity(Path(tmp), log=lambda line: print(line, file=sys.stderr, flush=True))
        result["sensitivity"] = [{"module": m, "recovered_db": db} for m, db in rows]
        if not args.json:
            print(render_sensitivity(rows))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


def cmd_bindings(args) -> int:
    from mobilesdk.pipeline import bindings
    from mobilesdk.pipeline.verify import check_files, read_manifest

    root = Path(args.bundle)
    manifest = read_manifest(root)
    problems = check_files(root, manifest)
    if problems:
        raise BundleError(f"`{root}` does not match its manifest ({problems[0]}), so bindings made from it would lie. "
                          "Fix: rebuild the bundle")
    written = bindings.write(root, manifest)
    for platform in bindings.PLATFORMS:
        count = sum(w.startswith(platform + "/") for w in written)
        print(f"{root / platform}: {count} files; {root / platform / 'README.md'} says how to use them and what was not verified here")
    return 0


def cmd_check(args) -> int:
    from mobilesdk.pipeline.ci_report import rows_outcomes
    from mobilesdk.pipeline.results import judge, result_dirs
    from mobilesdk.pipeline.verify import read_manifest

    root = Path(args.bundle)
    manifest = read_manifest(root)
    judged = [judge(root, manifest, where) for where in result_dirs(Path(args.results))]
    ci_files(args, "check", [o for j in judged for o in rows_outcomes(j.label.replace("/", "."), j.rows, j.given)])
    for j in judged:
        print(j.render())
    failed = [j.label for j in judged if not j.passed]
    if failed:
        print(f"{len(failed)} of {len(judged)} device results FAIL parity: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"{len(judged)} device results pass parity")
    return 0


def cmd_compare(args) -> int:
    from mobilesdk.pipeline.compare import compare

    compared, added = compare(Path(args.old), Path(args.new), args.max_drop_db, args.max_drop_agreement)
    ci_files(args, "compare", [c.outcome() for c in compared])
    for cell in compared:
        print(cell.render())
    for label in added:
        print(f"  {label:<40} new")
    regressed = [c.label for c in compared if c.regressions]
    if regressed:
        print(f"{len(regressed)} of {len(compared)} cells regressed: {', '.join(regressed)}", file=sys.stderr)
        return 1
    print(f"no regressions in {len(compared)} cells" + (f"; {len(added)} new" if added else ""))
    return 0


def cmd_run(args) -> int:
    from mobilesdk.pipeline import run_speech
    from mobilesdk.pipeline.run import find_model, model_spec, run_text

    root = Path(args.bundle)
    model = None if args.model == run_speech.PIPELINE else find_model(root, args.model)
    if model is not None and (model.text is not None or model_spec(root, model).first_input("audio") is None):
        result = run_text(root, args.model, args.input, args.format, args.precision)
        print(result.to_json() if args.json else result.render())
        return 0
    given = {}
    for pair in args.inputs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise BundleError(f"--input {pair}: expected NAME=VALUE, e.g. --input lang_id=en")
        given[name] = value
    results = run_speech.run_speech(root, args.model, Path(args.input), args.format, args.precision,
                                    args.out and Path(args.out), args.phonemes, given, args.text, args.lang)
    print(run_speech.to_json(results) if args.json else run_speech.render(results))
    return 0


def cmd_spec(args) -> int:
    import tomli_w

    from mobilesdk.pipeline import load_config
    from mobilesdk.pipeline.sources import load_model

    cfg = load_config(args.config)
    chosen = [m for m in cfg.models if not args.model or m.name == args.model]
    if not chosen:
        raise MobileSDKError(f"`{args.config}` has no model `{args.model}`. Fix: use one of "
                             f"{', '.join(m.name for m in cfg.models)}")
    for mc in chosen:
        _, spec = load_model(mc)
        print(f"# {mc.name}: the spec mobilesdk builds it with; copy any field into [models.{mc.name}.spec] to change it")
        print(tomli_w.dumps({"models": {mc.name: {"spec": _without_none(spec.to_json())}}}))
    return 0


def _without_none(value):
    """TOML has no null: leave out fields that are None (they take their defaults when read back)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v) for v in value]
    return value


def cmd_models(args) -> int:
    from mobilesdk.models import FAMILIES

    for fam in FAMILIES.values():
        print(f"{fam.name:<10} {fam.description}")
        for preset in fam.presets:
            spec = fam.spec(fam.name, **fam.presets[preset])
            ins = ", ".join(f"{t.name} {t.dtype}{list(t.shape)}" for t in spec.inputs)
            outs = ", ".join(f"{t.name}{list(t.shape)}" for t in spec.outputs)
            print(f"  preset {preset:<6} in: {ins}  out: {outs}")
    return 0


def cmd_doctor(args) -> int:
    import platform

    from mobilesdk.pipeline import converters, package_version

    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for dist in ("torch", "numpy", "executorch", "torchao", "onnx", "onnxruntime", "onnx2tf", "tensorflow", "ai-edge-litert", "coremltools",
                 "coreai-torch", "coreai-core", "coreai-opt"):
        print(f"  {dist:<16} {package_version(dist)}")
    unavailable = 0
    for name, conv in sorted(converters().items()):
        reason = conv.check()
        unavailable += reason is not None
        print(f"converter {name:<12} {'available' if reason is None else 'UNAVAILABLE: ' + reason}")
    return 0 if not unavailable else 1


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got `{text}`")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mobilesdk",
        description="Build on-device model bundles (ExecuTorch, TFLite, Core ML, Core AI) from PyTorch, with proven parity.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", parents=[ci_parent()], help="convert every model in a bundle.toml and check parity",
                       description="Convert every model in CONFIG to each format and precision, run parity on the "
                       "golden inputs in each runtime, and write the bundle atomically.")
    b.add_argument("config", help="path to a bundle.toml (see examples/bundle.toml)")
    b.add_argument("--out", help="bundle directory (default: [bundle].out or dist/bundle); replaced only on success")
    b.add_argument("--strict", action="store_true",
                   help="fail on any failed cell, diagnostic ones too: exit 1 and leave --out as it was. Without it a "
                   "failed cell (no artifact, or failed parity) is marked in the manifest with its reason, the bundle "
                   "is written, and the build exits 1 listing the failed cells")
    b.add_argument("--no-cache", action="store_true", help="convert everything again instead of reusing .mobilesdk-cache")
    b.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                   help="build in N processes with cores/N threads each (default 1); each takes one model's cells "
                   "of one format at a time, so 2 roughly halves a build on 2+ cores, even of a single model")
    b.add_argument("--shard", type=_shard, metavar="I/N",
                   help="build only share I of N of the model x format x precision cells (a CI matrix job each), "
                   "then join the shards with `mobilesdk merge`; share a cache across the jobs (MOBILESDK_CACHE)")
    b.set_defaults(fn=cmd_build)
    mg = sub.add_parser("merge", help="join the shards of a `build --shard I/N` into one bundle",
                        description="Join the N shard directories of one build into the bundle an unsharded build "
                        "writes: every shard must be present and intact, from one config and toolchain.")
    mg.add_argument("shards", nargs="+", help="the shard directories, in any order")
    mg.add_argument("--out", required=True, help="the bundle directory to write (replaced only on success)")
    mg.set_defaults(fn=cmd_merge)
    ci = ci_parent()
    v = sub.add_parser("verify", parents=[ci], help="re-hash a bundle's files and re-run its parity checks",
                       description="Check a bundle: manifest schema, sha256 of every file, no missing or extra "
                       "files, and parity re-run from the golden files in each runtime.")
    v.add_argument("bundle", help="a directory written by `mobilesdk build`")
    v.add_argument("--hashes-only", action="store_true", help="skip re-running parity (schema and hashes only)")
    v.add_argument("--reference", metavar="DIR", help="also judge the artifacts against your reference data: DIR/<model>/*.npz, "
                   "each with input.<name> and output.<name> arrays (the outputs you expect)")
    v.set_defaults(fn=cmd_verify)
    ex = sub.add_parser("explain", help="where one artifact drifts from PyTorch, module by module",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Run one artifact on a golden case with its intermediate tensors exposed, in its own\n"
                        "runtime (or the strongest stand-in the format allows, named in the output), and compare\n"
                        "them with PyTorch's at every nn.Module's output: a table in graph order with the module\n"
                        "path, PyTorch's op and source line, the SQNR there (valid positions only), the drop from\n"
                        "the row before, and the first row below the precision's threshold marked `>`. The\n"
                        "PyTorch model comes from --config, checked to be the one the bundle was built from.",
                        epilog="example:\n  mobilesdk explain dist/bundle aligner tflite int8-static --config examples/bundle.toml --top 10")
    ex.add_argument("bundle", help="a directory written by `mobilesdk build`")
    ex.add_argument("model", help="the model's name in the bundle")
    ex.add_argument("format", help="the artifact's format: executorch, tflite, coreml, onnx, ...")
    ex.add_argument("precision", help="the artifact's precision: fp32, fp16, int8-static, ...")
    ex.add_argument("--config", required=True, help="the bundle.toml the bundle was built from (explain needs the PyTorch model)")
    ex.add_argument("--case", help="the golden case to run (default: the first, the longest)")
    ex.add_argument("--top", type=_positive_int, default=0, metavar="N",
                    help="show only the N rows with the largest drops (and the first divergent one)")
    ex.add_argument("--sensitivity", action="store_true",
                    help="for an int8 artifact: convert it again once per weighted module with only that module kept "
                    "float, and print how many dB of output SQNR each recovers (which layer to exclude)")
    ex.add_argument("--json", action="store_true", help="print the table (and sensitivity) as JSON")
    ex.set_defaults(fn=cmd_explain)
    r = sub.add_parser("run", help="run text or a WAV file through one artifact of a bundle",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run INPUT through one artifact of MODEL in that format's own runtime (Core ML\n"
                       "through the MIL reference evaluator off macOS) and print what it computed:\n"
                       "  a text model (built with `tokenizer`): class probabilities and language spans of TEXT;\n"
                       "  an enhancer (waveform in, waveform out): the WAV enhanced in chunks, any length, to --out;\n"
                       "  a CTC model (an aligner): the greedy phonemes, and with --phonemes their forced alignment;\n"
                       "  `pipeline`: enhance, then align the input before and after, and compare the scores.\n\n"
                       "examples:\n"
                       "  mobilesdk run dist/bundle textclf \"说实话 I really like 这个新功能 😊\"\n"
                       "  mobilesdk run dist/bundle enhancer examples/clips/noisy/en_1.wav -o clean.wav\n"
                       "  mobilesdk run dist/bundle aligner examples/clips/clean/en_1.wav --input lang_id=en \\\n"
                       "      --phonemes \"p l i z | p a s | m i | ð ə | s o l t\"\n"
                       "  mobilesdk run dist/bundle aligner examples/clips/clean/ms_1.wav --text \"Tolong hulurkan garam itu\" --lang ms\n"
                       "  mobilesdk run dist/bundle pipeline examples/clips/noisy/en_1.wav --text \"Please pass me the salt\" --lang en")
    r.add_argument("bundle", help="a directory written by `mobilesdk build`")
    r.add_argument("model", help="a model of the bundle, or `pipeline` (its enhancer, then its aligner)")
    r.add_argument("input", help="the text (in quotes) for a text model; a WAV file for an audio model")
    r.add_argument("-o", "--out", help="where the enhanced WAV goes (default: INPUT's name + .MODEL.wav, here)")
    r.add_argument("--phonemes", help="for a CTC model: the phoneme symbols to force-align, space separated")
    r.add_argument("--text", help="for a CTC model: the words spoken, made into phonemes by espeak-ng (needs --lang)")
    r.add_argument("--lang", help="the language of --text (en, cmn, ms); also the value of a language input like lang_id")
    r.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=VALUE",
                   help="a category input's value, by label or number (e.g. --input lang_id=en); repeatable")
    r.add_argument("--format", help="executorch, tflite, coreml, ... (default: the first that runs here)")
    r.add_argument("--precision", help="fp32, fp16, int8-dynamic, ... (default: fp32)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(fn=cmd_run)
    bi = sub.add_parser("bindings", help="(re)generate a bundle's Android and iOS bindings from its manifest",
                        description="Write BUNDLE/android (a Gradle library module, Kotlin over ExecuTorch and LiteRT) and "
                        "BUNDLE/ios (a Swift package over Core ML): one class per model (TextClassifier, Aligner, Enhancer, "
                        "GenericModel) with its pre- and post-processing and a golden self-test, generated from "
                        "manifest.json alone. `build` writes them too; `verify` checks them.")
    bi.add_argument("bundle", help="a directory written by `mobilesdk build`")
    bi.set_defaults(fn=cmd_bindings)
    ch = sub.add_parser("check", parents=[ci], help="judge outputs a device's self-test wrote with the bundle's thresholds",
                        description="Read what the bindings' selfTest wrote on a device (results.json and a <case>.npz "
                        "per golden case; RESULTS may hold several such directories) and judge the outputs against "
                        "PyTorch's golden outputs with the manifest's thresholds, as `build` did here. Exit 1 on a failure.")
    ch.add_argument("bundle", help="the bundle the app shipped")
    ch.add_argument("results", help="a directory the self-test wrote, or one holding several")
    ch.set_defaults(fn=cmd_check)
    co = sub.add_parser("compare", parents=[ci], help="what changed between two bundles, and whether anything regressed",
                        description="Compare every model x format x precision of OLD with NEW: SQNR and agreement per "
                        "output, size, mask-suite rows. Exit 1 when an SQNR falls more than --max-drop-db, an agreement "
                        "more than --max-drop-agreement, a passing cell or mask-suite row now fails, or a cell is gone.")
    co.add_argument("old", help="the bundle to compare against (e.g. the last release's)")
    co.add_argument("new", help="the bundle just built")
    co.add_argument("--max-drop-db", type=float, default=3.0, metavar="DB", help="largest SQNR drop that is not a regression (default 3)")
    co.add_argument("--max-drop-agreement", type=float, default=0.01, metavar="X",
                    help="largest agreement drop that is not a regression (default 0.01)")
    co.set_defaults(fn=cmd_compare)
    ca = sub.add_parser("cache", help="what the conversion cache holds, and cleaning it",
                        description="The conversion cache is at MOBILESDK_CACHE (default .mobilesdk-cache): a path or an "
                        "fsspec URL (s3://, gs://, file://). It keeps at most MOBILESDK_CACHE_MAX_GB (default 20) by "
                        "evicting the least recently used entries.")
    ca.add_argument("action", choices=("info", "clean"), help="info: entries and size; clean: remove entries")
    ca.add_argument("--older-than", type=float, metavar="DAYS", help="clean only entries not used for DAYS days")
    ca.set_defaults(fn=cmd_cache)
    sp = sub.add_parser("spec", help="print each model's spec as TOML (derived for huggingface models)",
                        description="Load the models of CONFIG and print the ModelSpec each is built with, as "
                        "TOML to copy into bundle.toml as [models.<name>.spec] and adjust.")
    sp.add_argument("config", help="path to a bundle.toml")
    sp.add_argument("--model", help="only this model")
    sp.set_defaults(fn=cmd_spec)
    sub.add_parser("models", help="list the reference model families and presets").set_defaults(fn=cmd_models)
    sub.add_parser("doctor", help="show toolchain versions and which converters can run").set_defaults(fn=cmd_doctor)
    return p


def _shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    if not (sep and i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 1 <= I <= N (e.g. --shard 2/4)")
    return int(i), int(n)


def ci_parent() -> argparse.ArgumentParser:
    """The CI outputs build, verify, check and compare share."""
    ci = argparse.ArgumentParser(add_help=False)
    ci.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML: one testcase per artifact x check, "
                    "the numbers in its message (Jenkins, GitLab, GitHub test reporters read it)")
    ci.add_argument("--json", dest="json_summary", metavar="FILE", help="also write a JSON summary: counts, failures, every outcome")
    return ci


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    quiet_toolchain_logs()
    # A terminated build unwinds like Ctrl-C, so the staging directory is removed.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return args.fn(args)
    except MobileSDKError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
