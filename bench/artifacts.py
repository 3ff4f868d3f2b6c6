"""Benchmark a built bundle: size and latency of every artifact, as ratios to its format's fp32.

    .venv/bin/python bench/artifacts.py dist/bundle [--repeats 20]

Every artifact of a model runs on the same golden batch, interleaved round-robin in one process,
so machine noise hits all of them alike; the ratios are the numbers to read, not the milliseconds.
Core ML rows get sizes only off a Mac: the MIL reference evaluator is numpy, not Core ML's speed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from converters.base import BuildContext, Converted, get
from mobilesdk.pipeline.bundle import artifact_size, load_golden
from mobilesdk.spec import spec_from_json


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
        ctx = BuildContext(model=model["name"], spec=spec, example_inputs=inputs)
        runners = {}
        for a in model["artifacts"]:
            if a["files"] and get(a["format"]).check() is None and a["runtime"] != "mil-reference":
                conv = get(a["format"])
                runners[(a["format"], a["precision"])] = conv.runner(Converted([args.bundle / f for f in a["files"]], a["meta"]), ctx.spec)
        times = {k: [] for k in runners}
        for k, run in runners.items():
            run(inputs)  # warm-up
        for _ in range(args.repeats):
            for k, run in runners.items():
                t0 = time.perf_counter()
                run(inputs)
                times[k].append(time.perf_counter() - t0)
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
