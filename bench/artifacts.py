"""Benchmark a built bundle: size and latency of every artifact, as ratios to its format's fp32.

    .venv/bin/python bench/artifacts.py dist/bundle [--repeats 20]

Every artifact of a model runs on the same golden batch, interleaved round-robin in one process,
so machine noise hits all of them alike; the ratios are the numbers to read, not the milliseconds.
Core ML rows get sizes only off a Mac: the MIL reference evaluator is numpy, not Core ML's speed.
`runners` and `interleaved` are shared with bench/latency.py (the same timing against onnxruntime).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Hashable

from converters.base import Converted, get
from mobilesdk.pipeline.bundle import artifact_size, load_golden
from mobilesdk.spec import ModelSpec, Runner, spec_from_json


def timed_here(artifact: dict) -> bool:
    """Whether the artifact's runtime runs here at its own speed (not Core ML's MIL reference evaluator)."""
    return bool(artifact["files"]) and artifact["runtime"] != "mil-reference" and get(artifact["format"]).check() is None


def runners(bundle: Path, model: dict, spec: ModelSpec, keep: Callable[[dict], bool] = lambda a: True) -> dict[tuple[str, str], Runner]:
    """(format, precision) -> a runner in the artifact's own runtime, for each artifact of `model` (a
    manifest entry) that is timed here and that `keep` accepts."""
    out = {}
    for a in model["artifacts"]:
        if timed_here(a) and keep(a):
            out[(a["format"], a["precision"])] = get(a["format"]).runner(Converted([bundle / f for f in a["files"]], a["meta"]), spec)
    return out


def interleaved(runs: dict[Hashable, Runner], inputs: dict, repeats: int, max_seconds: float | None = None,
                pause_s: float = 0.0) -> dict[Hashable, list[float]]:
    """Seconds per call of each runner on `inputs`: one warm-up call each, then `repeats` rounds round-robin,
    so machine noise hits all of them alike. With `max_seconds`, a runner whose warm-up call took longer
    than max_seconds / repeats runs in fewer rounds (the first ones, at least 3), to stay near that budget.
    `pause_s` before each timed call lets the previous runtime's spinning pool threads park first."""
    rounds = {}
    for k, run in runs.items():
        t0 = time.perf_counter()
        run(inputs)  # warm-up
        took = time.perf_counter() - t0
        rounds[k] = repeats if max_seconds is None else min(repeats, max(3, int(max_seconds / max(took, 1e-9))))
    times = {k: [] for k in runs}
    for i in range(repeats):
        for k, run in runs.items():
            if i < rounds[k]:
                if pause_s:
                    time.sleep(pause_s)
                t0 = time.perf_counter()
                run(inputs)
                times[k].append(time.perf_counter() - t0)
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    manifest = json.loads((args.bundle / "manifest.json").read_text())
    sizes = {f["path"]: f["size"] for f in manifest["files"]}
    print("| model | format | precision | size KB | size / fp32 | median ms | time / fp32 |")
    print("|---|---|---|---:|---:|---:|---:|")
    for model in manifest["models"]:
        spec = spec_from_json(json.loads((args.bundle / model["spec_path"]).read_text()))
        inputs, _, _, _ = load_golden(args.bundle / model["golden"][0]["path"])
        times = interleaved(runners(args.bundle, model, spec), inputs, args.repeats)
        for a in model["artifacts"]:
            k = (a["format"], a["precision"])
            if not a["files"] or a.get("diagnostic"):
                continue
            size = artifact_size(a["files"], sizes)
            base = (a["format"], "fp32")
            base_size = sum(artifact_size(x["files"], sizes) for x in model["artifacts"] if (x["format"], x["precision"]) == base)
            if k in times and base in times:
                med, base_med = (statistics.median(times[x]) * 1000 for x in (k, base))
                timing = f"{med:.2f} | {med / base_med:.2f}"
            else:
                timing = f"n/a ({a['runtime']}) | n/a"
            print(f"| {model['name']} | {a['format']} | {a['precision']} | {size / 1024:.0f} | "
                  f"{size / base_size if base_size else float('nan'):.2f} | {timing} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
