"""Benchmark the build itself: cold, warm with nothing changed, and one model changed, in one run.

    .venv/bin/python bench/build.py [examples/bundle.toml] [--jobs 2] [--baseline REV]

Three builds of CONFIG through the real command line, one after the other on one machine, with a
conversion cache of their own: cold (an empty cache), a no-op rebuild (the same config again), and
a rebuild after one model changed (its checkpoint's first float tensor nudged by 1e-3, or its seed
when it has no checkpoint). It prints each build's time as a ratio to the cold one, the time per
kind of step (summed over the steps' own timings, so with --jobs 2 they add up to more than the
wall time), and whether the no-op rebuild wrote the same manifest (conversion times aside). With
--baseline REV a cold build by that git revision runs first, so earlier code's cold time is measured
beside this code's.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

STEP = re.compile(r"\] (\S+) \.\.\. ([\d.]+)s")
PATH_KEYS = ("checkpoint", "tokenizer", "sentences", "audio", "reference", "huggingface")


def build(config: Path, out: Path, cache: Path, jobs: int, code: Path | None = None) -> tuple[float, dict[str, float], str]:
    """One build through the CLI; `code`: a checkout whose mobilesdk builds (python -m puts the working
    directory first on the path, ahead of the editable install)."""
    env = {**os.environ, "MOBILESDK_CACHE": str(cache)}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "mobilesdk.cli", "build", str(config), "--out", str(out), "--jobs", str(jobs)],
                       capture_output=True, text=True, env=env, cwd=code)
    seconds = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"build of {config} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    kinds: dict[str, float] = collections.defaultdict(float)
    for name, s in STEP.findall(r.stderr):
        kinds[name.split("/")[0]] += float(s)
    return seconds, dict(kinds), (out / "manifest.json").read_text()


def changed_config(config: Path, tmp: Path) -> tuple[Path, str]:
    """A copy of `config` (paths made absolute) in which one model differs; and which one."""
    import tomli_w

    data = tomllib.loads(config.read_text())
    for table in data["models"].values():
        for key in PATH_KEYS:
            if key in table:
                table[key] = str((config.parent / table[key]).resolve())
    if "out" in data.get("bundle", {}):
        del data["bundle"]["out"]
    name, table = next(((n, t) for n, t in data["models"].items() if "checkpoint" in t), next(iter(data["models"].items())))
    if "checkpoint" in table:
        from safetensors.numpy import load_file, save_file

        weights = load_file(table["checkpoint"])
        first = next(k for k, v in weights.items() if v.dtype.kind == "f")
        weights[first] = weights[first] + 1e-3
        table["checkpoint"] = str(tmp / "nudged.safetensors")
        save_file(weights, table["checkpoint"])
    else:
        table["seed"] = table.get("seed", 0) + 1
    path = tmp / "changed.toml"
    path.write_text(tomli_w.dumps(data))
    return path, name


def without_times(manifest: str) -> dict:
    data = json.loads(manifest)
    for model in data["models"]:
        for a in model["artifacts"]:
            a["meta"].pop("seconds", None)
    return data


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, nargs="?", default=Path("examples/bundle.toml"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--baseline", metavar="REV", help="first, a cold build by git revision REV (its own config of the "
                   "same path, its own empty cache): the earlier code's cold time in the same run")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep the cold build's bundle in DIR (for bench/latency.py)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mobilesdk-bench-") as d:
        tmp = Path(d)
        changed, model = changed_config(args.config.resolve(), tmp)
        runs = {}
        if args.baseline:
            code = tmp / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", str(code), args.baseline], check=True, capture_output=True)
            try:
                print(f"building: cold, {args.baseline} ...", file=sys.stderr, flush=True)
                runs[f"cold, {args.baseline}"] = build(code / args.config, tmp / "base", tmp / "base-cache", args.jobs, code)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(code)], check=True, capture_output=True)
        for label, config, out in (("cold", args.config, "cold"), ("warm, nothing changed", args.config, "warm"),
                                   (f"warm, `{model}` changed", changed, "changed")):
            print(f"building: {label} ...", file=sys.stderr, flush=True)
            runs[label] = build(config, tmp / out, tmp / "cache", args.jobs)
        cold = runs["cold"][0]
        kinds = sorted({k for _, ks, _ in runs.values() for k in ks})
        print(f"Build of `{args.config}` with --jobs {args.jobs}, {len(runs)} builds in one run on one machine.\n")
        print("| build | seconds | / cold | " + " | ".join(f"{k} s" for k in kinds) + " |")
        print("|---|---:|---:|" + "---:|" * len(kinds))
        for label, (seconds, ks, _) in runs.items():
            print(f"| {label} | {seconds:.1f} | {seconds / cold:.1%} | " + " | ".join(f"{ks.get(k, 0):.1f}" for k in kinds) + " |")
        if args.baseline:
            print(f"\nCold build: {cold / runs[f'cold, {args.baseline}'][0]:.1%} of {args.baseline}'s.")
        same = without_times(runs["cold"][2]) == without_times(runs["warm, nothing changed"][2])
        print(f"\nThe no-op rebuild wrote {'the same' if same else 'a DIFFERENT'} manifest (conversion times aside).")
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.move(tmp / "cold", args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
