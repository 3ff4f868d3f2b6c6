"""User reference data: a folder of `.npz` files, each one batch of the model's inputs and, optionally,
the outputs the user expects (from their training repository, a GPU run, the last release).

    refs/<model>/utt1.npz   input.<name> for every spec input; output.<name> for any outputs given

`[models.<name>] reference = "refs/<name>/"` adds each file as a golden case named `ref-<stem>`:
every artifact is judged against PyTorch on it as on every golden case, and where outputs are
given, against those too (the manifest's `reference_parity` rows). `mobilesdk verify BUNDLE
--reference DIR` judges a built bundle's artifacts against the given outputs in DIR/<model>/.
Every file is checked against the spec first; a mismatch is one ConfigError naming the file, the
tensor and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilesdk.errors import ConfigError
from mobilesdk.spec import NP_DTYPES, Arrays, ModelSpec, TensorSpec, output_shape

PREFIX = "ref-"  # golden case names of user references


@dataclass(frozen=True)
class UserReference:
    name: str  # the golden case name: ref-<file stem>
    path: Path
    inputs: Arrays
    expected: Arrays  # the outputs the user gave (may be none, or some of the spec's outputs)


def read_references(folder: Path, spec: ModelSpec, need_outputs: bool = False) -> list[UserReference]:
    """Every .npz of `folder` (sorted by name), checked against `spec`."""
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise ConfigError(f"reference folder `{folder}` has no .npz files. Fix: save each case with "
                          "np.savez(path, **{'input.<name>': array, 'output.<name>': array})")
    refs = [read_reference(f, spec) for f in files]
    for r in refs:
        if need_outputs and not r.expected:
            raise ConfigError(f"`{r.path}` gives no outputs, and a built bundle holds no PyTorch model to compute "
                              "them. Fix: add output.<name> arrays, or use it as `reference =` in the config")
    return refs


def read_reference(path: Path, spec: ModelSpec) -> UserReference:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise ConfigError(f"`{path}` is not a readable .npz ({e}). Fix: write it with numpy.savez") from None
    inputs = {k.removeprefix("input."): v for k, v in arrays.items() if k.startswith("input.")}
    expected = {k.removeprefix("output."): v for k, v in arrays.items() if k.startswith("output.")}
    other = sorted(k for k in arrays if not k.startswith(("input.", "output.")))
    if other:
        raise ConfigError(f"`{path}` has array `{other[0]}`; reference files hold input.<name> and output.<name> "
                          "arrays only. Fix: rename or drop it")
    lengths: dict[str, int] = {}
    for t in spec.inputs:
        if t.name not in inputs:
            raise ConfigError(f"`{path}` has no `input.{t.name}`; {spec.name} takes "
                              f"{', '.join(i.name for i in spec.inputs)}. Fix: save every input as input.<name>")
        _check_tensor(path, f"input.{t.name}", inputs[t.name], t, spec, lengths)
    for name in inputs:
        if not any(t.name == name for t in spec.inputs):
            raise ConfigError(f"`{path}` has `input.{name}`, which {spec.name} does not take "
                              f"({', '.join(i.name for i in spec.inputs)}). Fix: use the spec's input names")
    for name, value in expected.items():
        o = next((o for o in spec.outputs if o.name == name), None)
        if o is None:
            raise ConfigError(f"`{path}` has `output.{name}`, which {spec.name} does not give "
                              f"({', '.join(o.name for o in spec.outputs)}). Fix: use the spec's output names")
        want = output_shape(spec, o.shape, lengths, lengths.get("batch", value.shape[0] if value.ndim else 0))
        _check_dtype(path, f"output.{name}", value, o.dtype)
        if value.shape != want:
            raise ConfigError(f"`{path}`: `output.{name}` has shape {value.shape}; for these inputs {spec.name} gives "
                              f"{want}. Fix: save the model's output for exactly these inputs")
        if not np.isfinite(value).all():
            raise ConfigError(f"`{path}`: `output.{name}` holds NaN or inf, which no artifact can be judged "
                              "against. Fix: save finite outputs (check the run that made them)")
    return UserReference(PREFIX + path.stem, path, {t.name: inputs[t.name] for t in spec.inputs}, expected)


def _check_dtype(path: Path, key: str, value: np.ndarray, dtype: str) -> None:
    if value.dtype != NP_DTYPES[dtype]:
        raise ConfigError(f"`{path}`: `{key}` is {value.dtype}; the spec says {dtype}. "
                          f"Fix: save it as {dtype} (array.astype(np.{dtype}))")


def _check_tensor(path: Path, key: str, value: np.ndarray, t: TensorSpec, spec: ModelSpec,
                  lengths: dict[str, int]) -> None:
    """dtype, rank, static sizes, dim ranges, one length per dim across inputs, values in range."""
    _check_dtype(path, key, value, t.dtype)
    shape = "[" + ", ".join(map(str, t.shape)) + "]"
    if value.ndim != len(t.shape):
        raise ConfigError(f"`{path}`: `{key}` has shape {value.shape}; the spec says {shape}. Fix: save it in that layout")
    for n, s in zip(value.shape, t.shape):
        if isinstance(s, int):
            ok, why = n == s, f"size {s}"
        else:
            d = spec.dim(s)
            ok = d.check(n) and lengths.setdefault(s, n) == n
            why = (f"`{s}` of {lengths[s]} as in the other inputs" if lengths.get(s, n) != n else
                   f"`{s}` in [{d.min}, {d.max}]" + (f", a multiple of {d.multiple_of}" if d.multiple_of > 1 else ""))
        if not ok:
            raise ConfigError(f"`{path}`: `{key}` has shape {value.shape}; the spec's {shape} needs {why}. "
                              "Fix: pad or cut it to fit")
    if t.dtype == "float32" and not np.isfinite(value).all():
        raise ConfigError(f"`{path}`: `{key}` holds NaN or inf. Fix: save finite inputs")
    low = 0 if t.kind == "tokens" else t.low  # padding ids are 0 whatever the spec draws real ids from
    if t.kind in ("tokens", "category") and value.size and (value.min() < low or value.max() >= t.high):
        raise ConfigError(f"`{path}`: `{key}` holds values outside [{low}, {t.high}), the spec's range for it. "
                          "Fix: ids the model's embedding has")
