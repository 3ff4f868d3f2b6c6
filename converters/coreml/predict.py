"""Core ML `predict` on macOS, and the adapter from spec dtypes to Core ML's (no int64)."""
from __future__ import annotations

import functools
import platform
from pathlib import Path

import numpy as np

from mobilesdk.parity import sqnr_db
from mobilesdk.spec import NP_DTYPES, Runner

COMPUTE_UNITS = ("CPU_ONLY", "ALL")  # both must pass on macOS
COREML_DTYPES = {**NP_DTYPES, "int64": np.int32}  # Core ML has no int64 tensors


# running helpers ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def predict_available() -> bool:
    """True on macOS when Core ML can load and run a one-op ML program here."""
    if platform.system() != "Darwin":
        return False
    try:
        import coremltools as ct
        from coremltools.converters.mil import Builder as mb

        @mb.program(input_specs=[mb.TensorSpec(shape=(2,))], opset_version=ct.target.iOS17)
        def prog(x):
            return mb.add(x=x, y=np.float32(1.0), name="y")

        model = ct.convert(prog, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17)
        out = model.predict({"x": np.array([1.0, 2.0], dtype=np.float32)})
        return bool(np.allclose(out["y"], [2.0, 3.0]))
    except Exception:
        return False


def spec_io(run, spec) -> Runner:
    """Adapts a Core ML runner to spec dtypes: int64 inputs go in as int32 (Core ML has no int64)."""
    def runner(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {}
        for t in spec.inputs:
            x = np.asarray(arrays[t.name])
            if t.dtype == "int64":
                if x.size and (x.min() < np.iinfo(np.int32).min or x.max() > np.iinfo(np.int32).max):
                    raise ValueError(f"input `{t.name}` has values outside int32, which Core ML cannot take")
                x = x.astype(np.int32)
            feeds[t.name] = np.ascontiguousarray(x.astype(COREML_DTYPES[t.dtype], copy=False))
        got = run(feeds)
        missing = [o.name for o in spec.outputs if o.name not in got]
        if missing:
            raise ValueError(f"the Core ML model returned no output {missing} (it gave {sorted(got)})")
        return {o.name: np.asarray(got[o.name]).astype(NP_DTYPES[o.dtype]) for o in spec.outputs}

    return runner


def predictors(path: Path) -> dict[str, Runner]:
    import coremltools as ct

    out = {}
    for unit in COMPUTE_UNITS:
        model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, unit))
        out[unit] = lambda feeds, m=model: m.predict(feeds)
    return out


def worse_of(units: dict[str, Runner], reference) -> Runner:
    """Per output, the compute unit whose result is farther from the reference evaluation of the same
    program, so a parity row passes only if every compute unit's result would."""
    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ref = reference(feeds)
        results = {unit: r(feeds) for unit, r in units.items()}
        return {name: min((res[name] for res in results.values()), key=lambda got: _closeness(ref[name], got, sqnr_db))
                for name in ref}

    return run


def _closeness(ref: np.ndarray, got: np.ndarray, sqnr_db) -> float:
    got = np.asarray(got, dtype=np.float64)
    if not np.isfinite(got).all():
        return -np.inf
    return sqnr_db(np.asarray(ref, dtype=np.float64), got)
