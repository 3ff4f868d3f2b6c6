"""`mobilesdk check BUNDLE RESULTS`: judge outputs captured on a device with the bundle's thresholds.

The bindings' self-test (`<Bundle>.selfTest` in Kotlin and Swift) runs every golden case of one
artifact in the device's runtime and writes what it got: `results.json` (bundle, manifest sha256,
model, format, precision, cases) beside one `<case>.npz` of `output.<name>` arrays per golden case.
`check` reads such a directory (or every one below RESULTS), makes sure it belongs to this bundle,
and judges the outputs against PyTorch's golden outputs exactly as `build` judged the artifact here.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilesdk.errors import BundleError
from mobilesdk.manifest import Manifest, OutputParity
from mobilesdk.pipeline.bundle import MANIFEST, load_golden
from mobilesdk.pipeline.verify import model_spec
from mobilesdk.pipeline.check import ReferenceCase, parity_rows, reference_rows

RESULTS = "results.json"


@dataclass(frozen=True)
class Judged:
    label: str  # model/format/precision
    where: Path  # the results directory
    rows: list[OutputParity]  # against PyTorch's golden outputs
    given: list[OutputParity]  # against the outputs user references gave

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows + self.given)

    def render(self) -> str:
        worst = min(r.sqnr_db for r in self.rows + self.given)
        lines = [f"  {self.label:<40} {'pass' if self.passed else 'FAIL'}  min SQNR {worst:.1f} dB  ({self.where})"]
        lines += [f"    {r.output}{against}: SQNR {r.sqnr_db:.1f} dB (min {r.min_sqnr_db}), agreement {r.agreement} "
                  f"(min {r.min_agreement})" for rows, against in ((self.rows, ""), (self.given, " against the reference outputs"))
                  for r in rows if not r.passed]
        return "\n".join(lines)


def result_dirs(results: Path) -> list[Path]:
    """`results` itself when it holds results.json, else every directory below it that does."""
    if not results.exists():
        raise BundleError(f"`{results}` does not exist. Fix: pass the directory the bindings' selfTest wrote")
    found = [results] if (results / RESULTS).is_file() else sorted(p.parent for p in results.rglob(RESULTS))
    if not found:
        raise BundleError(f"`{results}` holds no {RESULTS}. Fix: pass the directory the bindings' selfTest wrote")
    return found


def judge(root: Path, manifest: Manifest, where: Path) -> Judged:
    """One self-test's outputs against the bundle's golden outputs; BundleError for results that cannot be judged."""
    try:
        meta = json.loads((where / RESULTS).read_text())
        model_name, fmt, precision = meta["model"], meta["format"], meta["precision"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(f"`{where / RESULTS}` is not a self-test result ({e}). Fix: pass what the bindings' selfTest wrote") from None
    digest = hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()
    if meta.get("manifest_sha256") != digest:
        raise BundleError(f"`{where / RESULTS}` was made with bindings of another bundle (manifest sha256 "
                          f"{str(meta.get('manifest_sha256'))[:16]}..., this bundle's is {digest[:16]}...). "
                          "Fix: check it against the bundle its app shipped, or regenerate the app's bindings")
    model = next((m for m in manifest.models if m.name == model_name), None)
    artifact = model and next((a for a in model.artifacts if (a.format, a.precision) == (fmt, precision)), None)
    if artifact is None:
        raise BundleError(f"`{where / RESULTS}` is for {model_name}/{fmt}/{precision}, which this bundle does not have")
    spec = model_spec(root, model)
    golden, got = [], {}
    for case in model.golden:
        path = where / f"{case.name}.npz"
        if not path.is_file():
            raise BundleError(f"`{path}` is missing: the self-test wrote no outputs for golden case `{case.name}`. "
                              "Fix: run the whole self-test again")
        golden.append(ReferenceCase(case.name, *load_golden(root / case.path)))
        outputs = golden[-1].outputs
        with np.load(path) as z:
            got[case.name] = {k.removeprefix("output."): z[k] for k in z.files if k.startswith("output.")}
        for o in spec.outputs:
            have = got[case.name].get(o.name)
            if have is None or have.shape != outputs[o.name].shape:
                raise BundleError(f"`{path}` has output `{o.name}` of shape {None if have is None else have.shape}; the golden "
                                  f"output is {outputs[o.name].shape}. Fix: run the self-test of this bundle's bindings again")
    outs = [got[c.name] for c in golden]
    return Judged(f"{model_name}/{fmt}/{precision}", where, parity_rows(spec, precision, golden, outs),
                  reference_rows(spec, precision, golden, outs))
