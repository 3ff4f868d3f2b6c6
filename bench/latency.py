"""Latency of every artifact against onnxruntime on the same model and precision.

    .venv/bin/python bench/latency.py dist/bundle [--repeats 10] [--config examples/bundle.toml] [--json]

Each artifact runs in its own runtime (the converter's runner, as parity runs it) beside onnxruntime
(CPU provider, as `converters/onnx` runs it) on the model's first golden batch, all interleaved
round-robin in one process (bench/artifacts.py's `interleaved`), and each median is given as a ratio to
onnxruntime's at the same precision (target: 1.5x or less) and to onnxruntime fp32.

The onnxruntime counterparts: fp32 is the bundle's diagnostic ONNX artifact, or, in a bundle built
without the `onnx` format, the model exported here from --config (the bundle.toml it was built from;
checked against the bundle's golden outputs); int8-dynamic is `quantize_dynamic` of it (onnxruntime's
defaults: every Conv and MatMul, per-tensor int8 weights); int8-static is `quantize_static` (QDQ,
per-channel int8 weights, uint8 activations: on x86 onnxruntime fuses int8-activation QDQ into
QLinearConv only as U8S8) calibrated on the batches the build calibrated on (the golden inputs
without --config); fp16 is onnxruntime.transformers.float16 with float32 I/O. Weight-only precisions
(int8-weights, palettize6) compute in float, so their counterpart is fp32. The derived models are kept
under --work, keyed by the fp32 file's hash. Core ML rows are not timed off a Mac (the MIL reference
evaluator is numpy, not Core ML). Core AI's runtime is real on Linux but runs in a worker process:
its times include packing the inputs and outputs as .npz and the pipe, which the notes size.
Threads: --threads 1 (the default) runs every runtime on one thread (onnxruntime's intra-op pool and
ExecuTorch's threadpool set to 1; the TFLite runner always uses ai_edge_litert's default of 1), which is
the like-for-like comparison and the one a shared machine disturbs least (a 2-thread op waits for its
preempted thread); --threads 0 leaves each runtime's default. --pause-ms before each timed call lets a
runtime's spinning pool threads park so they do not slow the next runner. Read the ratios, not the ms.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from artifacts import interleaved, runners  # noqa: E402

from converters.base import get, native_stderr_held, package_version  # noqa: E402
from mobilesdk.parity import combine, compare  # noqa: E402
from mobilesdk.pipeline.bundle import load_golden  # noqa: E402
from mobilesdk.spec import NP_DTYPES, ModelSpec, Runner, spec_from_json  # noqa: E402

TARGET = 1.5
ORT = "onnxruntime"
WEIGHT_ONLY = ("int8-weights", "palettize6")  # compressed storage, float compute


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# onnxruntime counterparts ---------------------------------------------------------------------------
def config_model(config: Path | None, name: str):
    if config is None:
        return None
    from mobilesdk.pipeline import load_config

    mc = next((m for m in load_config(config).models if m.name == name), None)
    if mc is None:
        raise SystemExit(f"`{config}` has no model `{name}`. Fix: pass the bundle.toml the bundle was built from")
    return mc


def fp32_onnx(bundle: Path, model: dict, spec: ModelSpec, mc, work: Path, inputs: dict) -> tuple[Path, str]:
    """The model's fp32 ONNX: the bundle's diagnostic artifact, else exported here from the config."""
    a = next((a for a in model["artifacts"] if a["format"] == "onnx" and a["precision"] == "fp32" and a["files"]), None)
    if a is not None:
        return bundle / a["files"][0], "the bundle's ONNX artifact"
    if mc is None:
        raise SystemExit(f"`{bundle}` has no ONNX artifact for `{model['name']}` (built without the `onnx` format). "
                         "Fix: pass --config with the bundle.toml it was built from, to export one here")
    golden = hashlib.sha256((bundle / model["golden"][0]["path"]).read_bytes()).hexdigest()[:8]  # a new checkpoint: new file
    path = work / model["name"] / f"fp32-{model['spec_digest']}-{golden}.onnx"
    if not path.exists():
        from converters.onnx.export import export_onnx
        from mobilesdk.pipeline.build import capture_model
        from mobilesdk.pipeline.sources import Loaded, load_model

        log(f"{model['name']}: exporting ONNX from the config (torch.export + torch.onnx, about a minute under load)")
        module, spec_here = load_model(mc)
        if spec_here.digest() != model["spec_digest"]:
            raise SystemExit(f"model `{model['name']}` of the config has another spec than the bundle's. Fix: pass the "
                             "bundle.toml the bundle was built from")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        export_onnx(capture_model(Loaded(module, spec_here), inputs, mc).ep, spec_here, tmp, model["name"])
        tmp.replace(path)
    return path, "exported here from --config"


def calibration(spec: ModelSpec, mc, bundle: Path, model: dict) -> tuple[list[dict], str]:
    if mc is not None:
        from mobilesdk.golden import calibration_batches
        from mobilesdk.pipeline.sources import audio_feed, text_feed

        batches = calibration_batches(spec, mc.calibration_batches, mc.seed, text_feed(spec, mc), audio_feed(spec, mc))
        return batches, f"the build's {len(batches)} calibration batches"
    batches = [load_golden(bundle / g["path"])[0] for g in model["golden"]]
    return batches, f"the {len(batches)} golden batches (no --config: not the build's calibration data)"


def derived_onnx(fp32: Path, spec: ModelSpec, calib: list[dict], calib_tag: str, work: Path) -> dict[str, tuple[Path | None, str]]:
    """precision -> (ONNX path or None, how it was made or why there is none)."""
    import contextlib

    logging.disable(logging.WARNING)  # quantize_static warns per rank-1 weight (norms) it leaves per-tensor
    work.mkdir(parents=True, exist_ok=True)
    try:  # onnxruntime's shape inference writes scratch files into the working directory
        with contextlib.chdir(work):
            return _derived_onnx(fp32.resolve(), spec, calib, calib_tag, work.resolve())
    finally:
        logging.disable(logging.NOTSET)


def _derived_onnx(fp32: Path, spec: ModelSpec, calib: list[dict], calib_tag: str, work: Path) -> dict[str, tuple[Path | None, str]]:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    digest = hashlib.sha256(fp32.read_bytes()).hexdigest()[:12]
    d = work / spec.name / digest
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path | None, str]] = {"fp32": (fp32, "")}
    pre = d / "preprocessed.onnx"
    if not pre.exists():
        try:  # onnxruntime's recommended pre-processing; symbolic shape inference fails on some exports
            quant_pre_process(str(fp32), str(pre))
        except Exception:
            try:
                quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
            except Exception:
                pre = fp32
    path = d / "int8-dynamic.onnx"
    try:
        if not path.exists():
            quantize_dynamic(str(pre), str(path), weight_type=QuantType.QInt8)
        out["int8-dynamic"] = (path, "quantize_dynamic (defaults: int8 per-tensor weights) " + _ops(path, "Integer", "DynamicQuantize"))
    except Exception as e:
        out["int8-dynamic"] = (None, f"quantize_dynamic failed: {type(e).__name__}: {str(e)[:120]}")
    path = d / f"int8-static-{calib_tag}.onnx"
    try:
        if not path.exists():
            names = [t.name for t in spec.inputs]

            class Reader(CalibrationDataReader):
                def __init__(self):
                    self.it = iter(calib)

                def get_next(self):
                    batch = next(self.it, None)
                    return None if batch is None else {n: np.asarray(batch[n]) for n in names}

            quantize_static(str(pre), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        out["int8-static"] = (path, "quantize_static QDQ U8S8 per-channel")
    except Exception as e:
        out["int8-static"] = (None, f"quantize_static failed: {type(e).__name__}: {str(e)[:120]}")
    path = d / "fp16.onnx"
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        if not path.exists():
            onnx.save(convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True), str(path))
        out["fp16"] = (path, "onnxruntime.transformers.float16, float32 I/O (onnxconverter-common is not installed)")
    except Exception as e:
        out["fp16"] = (None, f"no fp16 ONNX: {type(e).__name__}: {str(e)[:120]}")
    return out


def _ops(path: Path, *kinds: str) -> str:
    import onnx

    c = collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)
    return "(" + ", ".join(f"{k} x{n}" for k, n in sorted(c.items()) if any(s in k for s in kinds)) + ")"


def ort_runner(path: Path, spec: ModelSpec, threads: int) -> Runner:
    """onnxruntime on the CPU provider, fed as converters/onnx's runner feeds it; `threads` intra-op (0: default)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in spec.outputs]

    def run(arrays: dict) -> dict:
        feed = {t.name: np.ascontiguousarray(arrays[t.name], dtype=NP_DTYPES[t.dtype]) for t in spec.inputs}
        return dict(zip(names, session.run(names, feed)))

    return run


def set_threads(threads: int) -> str:
    """Set ExecuTorch's threadpool (before any runner exists); say what each runtime uses."""
    et = "default"
    try:
        from executorch.extension.pybindings import portable_lib

        with native_stderr_held():
            if threads:
                portable_lib._unsafe_reset_threadpool(threads)
            et = str(portable_lib._threadpool_get_thread_count())
    except Exception:
        pass
    ort_threads = str(threads) if threads else f"default ({os.cpu_count()} here)"
    return f"onnxruntime intra-op {ort_threads}, ExecuTorch threadpool {et}, TFLite runner 1 (ai_edge_litert's default)"


def golden_db(run: Runner, spec: ModelSpec, bundle: Path, model: dict) -> float:
    """Worst SQNR against PyTorch over the golden cases and outputs, on valid positions: as parity
    measures the artifacts (the manifest's parity rows)."""
    per_output: dict[str, list] = collections.defaultdict(list)
    for g in model["golden"]:
        inputs, outputs, _, _ = load_golden(bundle / g["path"])
        got = run(inputs)
        for o in spec.outputs:
            per_output[o.name].append(compare(spec, o, inputs, outputs[o.name], np.asarray(got[o.name])))
    return min(combine(stats).sqnr_db for stats in per_output.values())


def reference_for(precision: str, refs: dict) -> str:
    if precision in WEIGHT_ONLY or precision not in refs:
        return "fp32"
    return precision


# what runs ------------------------------------------------------------------------------------------
def tflite_kernels(path: Path) -> str:
    """Which ops of the file's first subgraph XNNPACK (the interpreter's default delegate) takes, and
    which stay on TFLite's builtin kernels: each delegated op becomes its own DELEGATE node when node
    fusion is off, named by the tensors it writes."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        with native_stderr_held():
            plain = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            ops = plain._get_ops_details()
            split = Interpreter(model_path=str(path), experimental_disable_delegate_node_fusion=True)
            split.allocate_tensors()
            after = split._get_ops_details()
    except Exception as e:  # a private API: a diagnosis only
        return f"delegation unknown ({type(e).__name__})"
    written = {t for o in after[len(ops):] if o["op_name"] == "DELEGATE" for t in o["outputs"]}
    left = collections.Counter(o["op_name"] for o in ops if not set(o["outputs"]) & written)
    if not left:
        return f"XNNPACK: all {len(ops)} ops"
    rest = ", ".join(f"{k} x{n}" for k, n in left.most_common())
    return f"XNNPACK {len(ops) - sum(left.values())}/{len(ops)} ops; builtin kernels: {rest}"


def coreai_ipc_ms(inputs: dict, outputs: dict, repeats: int = 5) -> float:
    """What the Core AI runner adds around the runtime, measured here: .npz pack and unpack of the inputs
    and outputs (the pipe's copies aside)."""
    from converters.coreai.worker import pack, unpack

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        unpack(pack({k: np.ascontiguousarray(v) for k, v in inputs.items()}))
        unpack(pack(outputs))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def kernels_note(bundle: Path, a: dict, model: dict, inputs: dict, outputs: dict) -> str:
    meta = a.get("meta", {})
    if a["format"] == "tflite":
        return tflite_kernels(bundle / a["files"][0])
    if a["format"] == "executorch":
        layers = f", int8 layers {meta['int8_layers']}" if "int8_layers" in meta else ""
        floats = f", fp32 ops {meta['fp32_ops']}" if "fp32_ops" in meta else ""
        return (f"XNNPACK partitions {meta.get('delegated_partitions', '?')}, portable ops "
                f"{meta.get('portable_ops', '?')}{layers}{floats}")
    if a["format"] == "coreai":
        return (f"Core AI runtime (coreai-core {package_version('coreai-core')}, Linux CPU) in a worker process; "
                f"time includes .npz pack/unpack + pipe, {coreai_ipc_ms(inputs, outputs):.1f} ms of it measured here")
    return ""


def parity_db(a: dict) -> float | None:
    """The artifact's worst SQNR against PyTorch in the build's parity rows."""
    values = [r["sqnr_db"] for r in a.get("parity", []) if r.get("sqnr_db") is not None]
    return min(values) if values else None


def over_reason(a: dict, ref_row: dict) -> str:
    """Why a row is over the target, from what the bench knows."""
    if a["format"] == "coreai":
        return ("the Core AI runtime's own Linux CPU kernels, not the worker's I/O (sized below); Apple's on-device "
                "Core AI is not available here to time")
    mine, ref = parity_db(a), ref_row.get("sqnr_db")
    if mine is not None and ref is not None and ref < mine - 3:
        floats = f", which keeps {a['meta']['fp32_ops']} ops float" if "fp32_ops" in a.get("meta", {}) else ""
        return (f"the onnxruntime {ref_row['precision']} reference is cruder: {ref:.1f} dB vs PyTorch against this "
                f"artifact's {mine:.1f} dB{floats}")
    return "see the kernels below"


def untimed(a: dict, formats: set[str] | None) -> str:
    if formats is not None and a["format"] not in formats:
        return "left out (--formats)"
    if a["runtime"] == "mil-reference":
        return "not timed: off a Mac Core ML runs in the MIL reference evaluator (numpy), not at Core ML's speed"
    reason = get(a["format"]).check()
    return f"not timed: {reason}" if reason else "not timed"


# the bench --------------------------------------------------------------------------------------------
def bench_model(bundle: Path, model: dict, args) -> dict:
    spec = spec_from_json(json.loads((bundle / model["spec_path"]).read_text()))
    case = next((g for g in model["golden"] if g["name"] == args.case), None) if args.case else model["golden"][0]
    if case is None:
        raise SystemExit(f"model `{model['name']}` has no golden case `{args.case}`")
    inputs, outputs, _, _ = load_golden(bundle / case["path"])
    t0 = time.perf_counter()
    mc = config_model(args.config, model["name"])
    fp32, source = fp32_onnx(bundle, model, spec, mc, args.work, inputs)
    calib, calib_how = calibration(spec, mc, bundle, model)
    refs = derived_onnx(fp32, spec, calib, "config" if mc is not None else "golden", args.work)
    ref_runs, ref_rows = {}, {}
    for precision, (path, how) in refs.items():
        row = {"format": ORT, "precision": precision, "runtime": f"onnxruntime {package_version('onnxruntime')} CPU", "how": how}
        if path is None:
            ref_rows[precision] = row | {"note": how}
            continue
        try:
            run = ort_runner(path, spec, args.threads)
            sqnr = golden_db(run, spec, bundle, model)
        except Exception as e:  # e.g. an fp16 graph with no CPU kernel for an op
            ref_rows[precision] = row | {"note": f"does not run: {type(e).__name__}: {str(e)[:150]}"}
            continue
        if precision == "fp32" and sqnr < 60:
            raise SystemExit(f"the ONNX of `{model['name']}` ({source}) gives {sqnr:.1f} dB against the bundle's golden "
                             "outputs: not the bundle's model. Fix: pass the config and checkpoint it was built from")
        how = {"fp32": source, "int8-static": f"{how}, calibrated on {calib_how}"}.get(precision, how)
        ref_runs[(ORT, precision)] = run
        ref_rows[precision] = row | {"how": how, "sqnr_db": round(float(sqnr), 1), "note": f"parity {sqnr:.1f} dB; {how}"}
    prepare_s = time.perf_counter() - t0

    formats = set(args.formats.split(",")) if args.formats else None
    arts = [a for a in model["artifacts"] if a["files"] and not a.get("diagnostic")]
    runs = runners(bundle, model, spec, keep=lambda a: not a.get("diagnostic") and (formats is None or a["format"] in formats))
    log(f"{model['name']}: timing {len(runs)} artifacts and {len(ref_runs)} onnxruntime models on golden case "
        f"{case['name']} ({', '.join(f'{k}{list(np.shape(v))}' for k, v in inputs.items())}), {args.repeats} rounds")
    t1 = time.perf_counter()
    times = interleaved(runs | ref_runs, inputs, args.repeats, args.max_seconds, args.pause_ms / 1000)
    timing_s = time.perf_counter() - t1
    for r in runs.values():
        getattr(r, "close", lambda: None)()

    def stats(k) -> dict:
        v = times[k]
        return {"runs": len(v), "median_ms": round(statistics.median(v) * 1000, 3), "min_ms": round(min(v) * 1000, 3),
                "p25_ms": round(float(np.percentile(v, 25)) * 1000, 3), "p75_ms": round(float(np.percentile(v, 75)) * 1000, 3)}

    ort_fp32 = statistics.median(times[(ORT, "fp32")]) * 1000 if (ORT, "fp32") in times else None
    rows = []
    for a in arts:
        k = (a["format"], a["precision"])
        row = {"format": a["format"], "precision": a["precision"], "runtime": a["runtime"]}
        if k not in times:
            rows.append(row | {"note": untimed(a, formats)})
            continue
        ref = reference_for(a["precision"], {p for p in refs if (ORT, p) in times})
        row |= stats(k) | {"reference": ref}
        med = row["median_ms"]
        if (ORT, ref) in times:
            row["ratio"] = round(med / (statistics.median(times[(ORT, ref)]) * 1000), 3)
        if ort_fp32:
            row["ratio_ort_fp32"] = round(med / ort_fp32, 3)
        row["within_target"] = row.get("ratio") is not None and row["ratio"] <= TARGET
        note = kernels_note(bundle, a, model, inputs, outputs)
        if parity_db(a) is not None:
            note = f"parity {parity_db(a):.1f} dB; {note}"
        if a["precision"] != ref:
            why = "weight-only: float compute" if a["precision"] in WEIGHT_ONLY else f"no {a['precision']} ONNX runs here"
            note = f"counterpart onnxruntime {ref} ({why}); {note}"
        if not row["within_target"] and ref in ref_rows:
            note = f"over {TARGET}x: {over_reason(a, ref_rows[ref])}. {note}"
        row["note"] = note
        rows.append(row)
    for precision, row in ref_rows.items():
        if (ORT, precision) in times:
            row |= stats((ORT, precision)) | {"reference": precision, "ratio": 1.0}
            row["ratio_ort_fp32"] = round(row["median_ms"] / ort_fp32, 3) if ort_fp32 else None
        rows.append(row)
    return {"model": model["name"], "case": case["name"], "inputs": {k: list(np.shape(v)) for k, v in inputs.items()},
            "prepare_s": round(prepare_s, 1), "timing_s": round(timing_s, 1), "rows": rows}


def render(result: dict) -> str:
    lines = [f"Load average {result['load_before']} before, {result['load_after']} after, on {result['cpus']} CPUs "
             f"(a shared machine: medians move, ratios of interleaved runs are the numbers to read). "
             f"Threads: {result['threads']}. Target: {TARGET}x onnxruntime or less.", "",
             "| model | format | precision | runs | median ms | vs onnxruntime (same precision) | vs onnxruntime fp32 | <= 1.5x | notes |",
             "|---|---|---|---:|---:|---:|---:|:-:|---|"]
    for m in result["models"]:
        for r in m["rows"]:
            if "median_ms" not in r:
                lines.append(f"| {m['model']} | {r['format']} | {r['precision']} | | n/a | | | | {r['note']} |")
                continue
            ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "n/a"
            if r["format"] != ORT and r["reference"] != r["precision"]:
                ratio += f" (vs {r['reference']})"
            vs32 = f"{r['ratio_ort_fp32']:.2f}" if r.get("ratio_ort_fp32") is not None else "n/a"
            ok = "" if r["format"] == ORT else "yes" if r.get("within_target") else "**no**"
            lines.append(f"| {m['model']} | {r['format']} | {r['precision']} | {r['runs']} | {r['median_ms']:.1f} | {ratio} | "
                         f"{vs32} | {ok} | {r.get('note', '')} |")
    lines.append("")
    lines.append(" ".join(f"{m['model']} (golden case {m['case']}, {m['inputs']}): prepare {m['prepare_s']} s, "
                          f"timing {m['timing_s']} s." for m in result["models"]) + f" Total {result['seconds']} s.")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path)
    p.add_argument("--repeats", type=int, default=10, help="interleaved rounds (default 10)")
    p.add_argument("--config", type=Path, help="the bundle.toml the bundle was built from: exports the ONNX when the "
                   "bundle has none, and gives the build's calibration batches for onnxruntime int8-static")
    p.add_argument("--case", help="golden case to time on (default: each model's first)")
    p.add_argument("--models", help="comma-separated model names (default: all)")
    p.add_argument("--formats", help="comma-separated formats to time (default: all that run here)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="per-runner budget: a slower runner gets fewer "
                   "rounds, at least 3 (default 30; Core AI runs the enhancer in ~20 s a call on Linux)")
    p.add_argument("--threads", type=int, default=1, help="threads for onnxruntime and ExecuTorch (default 1, as the "
                   "TFLite runner; 0: each runtime's default)")
    p.add_argument("--pause-ms", type=float, default=20.0, help="pause before each timed call (default 20)")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mobilesdk-latency",
                   help="where the derived ONNX models are kept (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    args = p.parse_args()
    start = time.perf_counter()
    threads = set_threads(args.threads)
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    wanted = set(args.models.split(",")) if args.models else None
    models = [bench_model(args.bundle, m, args) for m in manifest["models"] if wanted is None or m["name"] in wanted]
    result = {"bundle": str(args.bundle), "repeats": args.repeats, "pause_ms": args.pause_ms, "target_ratio": TARGET, "cpus": os.cpu_count(),
              "load_before": load_before, "load_after": ", ".join(f"{x:.1f}" for x in os.getloadavg()), "threads": threads,
              "seconds": round(time.perf_counter() - start, 1), "models": models}
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
