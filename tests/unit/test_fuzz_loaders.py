"""The three loaders of user- or disk-supplied data under hypothesis (issue 18): whatever they are fed,
they raise only their declared error, which the CLI prints as one line.

- the config loader (`config.load`): bundle.toml text, random bytes or structured tables near a valid
  config -> ConfigError;
- the spec loader (`spec.spec_from_json`, which `[models.<name>.spec]` and every spec.json go
  through): a valid spec with fields replaced by anything JSON holds -> ValueError;
- the manifest loader (`verify.read_manifest`): manifest.json text, or a valid manifest with one
  value replaced -> BundleError.

Each test runs EXAMPLES cases in the suite; the `slow` variants run SLOW_EXAMPLES.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobilesdk.config import BUNDLE_KEYS, MODEL_KEYS, load
from mobilesdk.errors import BundleError, ConfigError
from mobilesdk.spec import PRECISIONS, spec_from_json
from tests.fixtures.small_models import spec as small_spec

EXAMPLES, SLOW_EXAMPLES = 1000, 4000
FORMATS = ("executorch", "onnx", "tflite", "coreml")
OPTIONS = {"tflite": {"route": str, "buckets": dict}}
SIZES = [pytest.param(EXAMPLES, id="suite"), pytest.param(SLOW_EXAMPLES, id="slow", marks=pytest.mark.slow)]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                              st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)
toml_values = st.recursive(st.one_of(st.booleans(), st.integers(-2**40, 2**40), st.text(max_size=12)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)),
                           max_leaves=10)
# values a user might plausibly write for each key: most cases then get past the first check
PLAUSIBLE = {
    "family": st.sampled_from(["enhancer", "aligner", "textclf", "textclassifier"]),
    "factory": st.sampled_from(["tests.fixtures.small_models:tiny", "nocolon", "a:b"]),
    "huggingface": st.sampled_from(["models/bert", ""]),
    "task": st.sampled_from(["ctc", "sequence-classification", "translate"]),
    "formats": st.lists(st.sampled_from([*FORMATS, "tflight", ""]), max_size=3),
    "precisions": st.lists(st.sampled_from([*PRECISIONS, "int4"]), max_size=3),
    "skip": st.lists(st.sampled_from(["onnx/fp32", "executorch", "tflite/int4", ""]), max_size=2),
    "tokenizer": st.sampled_from(["t.json", "../t.json", "\0"]),
    "sentences": st.sampled_from(["s.txt", ""]),
    "audio": st.sampled_from(["clips", "."]),
    "spec": st.dictionaries(st.sampled_from(["dims", "inputs", "dimz", "golden_batch"]), toml_values, max_size=2),
}


def table(keys) -> st.SearchStrategy[dict]:
    key = st.one_of(st.sampled_from(sorted(keys)), st.text(min_size=1, max_size=10))
    return st.dictionaries(key, st.one_of(toml_values, *PLAUSIBLE.values()), max_size=5).map(
        lambda d: {k: v for k, v in d.items()})


def near_valid(keys) -> st.SearchStrategy[dict]:
    """A table with keys the loader knows, each value plausible or anything."""
    return st.fixed_dictionaries({}, optional={k: st.one_of(PLAUSIBLE.get(k, toml_values), toml_values) for k in keys})


configs = st.fixed_dictionaries({}, optional={
    "bundle": st.one_of(near_valid(BUNDLE_KEYS), table(BUNDLE_KEYS), toml_values),
    "models": st.one_of(st.dictionaries(st.sampled_from(["a", "b2", "1x", "my-model"]),
                                        st.one_of(near_valid(MODEL_KEYS), table(MODEL_KEYS), toml_values), max_size=3),
                        toml_values),
    "extra": toml_values,
})


def run(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


def _load(folder: Path, data: bytes):
    path = folder / "bundle.toml"
    path.write_bytes(data)
    try:
        load(path, FORMATS, OPTIONS)
    except ConfigError:
        pass


@pytest.mark.parametrize("examples", SIZES)
def test_the_config_loader_raises_only_config_errors(examples):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "t.json").write_text("{}")
        (folder / "clips").mkdir()

        @run(examples)
        @given(st.one_of(configs.map(lambda d: tomli_w.dumps(d).encode()),
                         st.text(max_size=200).map(str.encode), st.binary(max_size=100)))
        def check(data):
            _load(folder, data)

        check()


base_spec = small_spec("fuzz").to_json()


@pytest.mark.parametrize("examples", SIZES)
def test_the_spec_loader_raises_only_value_errors(examples):
    fields = sorted(base_spec)

    @run(examples)
    @given(st.dictionaries(st.sampled_from(fields), json_values, min_size=1, max_size=3),
           st.lists(st.sampled_from(fields), max_size=2))
    def check(replaced, removed):
        data = {k: v for k, v in {**base_spec, **replaced}.items() if k not in removed}
        try:
            spec_from_json(json.loads(json.dumps(data)))
        except ValueError:
            pass

    check()


def _manifest() -> dict:
    """A valid manifest of one small model with one artifact, as JSON data."""
    from mobilesdk.manifest import SCHEMA_VERSION, Artifact, FileEntry, Manifest, OutputParity, SemanticRow, to_json
    from mobilesdk.pipeline.build import model_entry

    spec = small_spec("m")
    row = OutputParity("y", "sqnr", 1e-6, 1e-7, 120.0, None, 60.0, 1.0, 1e-5, "", True, None, None)
    art = Artifact("onnx", "fp32", "models/m/onnx/fp32/model.onnx", ["models/m/onnx/fp32/model.onnx"], "onnxruntime",
                   True, ["main:frames=8"], {"opset": 18}, [row], [SemanticRow("pad_length", False, True, None, None, None, "")],
                   True, "")
    model = model_entry("m", "factory:x:y", spec, "models/m/spec.json", [], [art])
    files = [FileEntry("models/m/spec.json", "0" * 64, 10)]
    return json.loads(to_json(Manifest(SCHEMA_VERSION, "b", "0.1.0", "0", {"torch": "x"}, [model], files, True)))


def _paths(value, prefix=()):
    """Every path to a value inside nested JSON data."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _replace(data, path, new):
    if not path:
        return new
    data = json.loads(json.dumps(data))
    at = data
    for p in path[:-1]:
        at = at[p]
    at[path[-1]] = new
    return data


@pytest.mark.parametrize("examples", [pytest.param(EXAMPLES // 2, id="suite"),
                                      pytest.param(SLOW_EXAMPLES // 4, id="slow", marks=pytest.mark.slow)])
def test_the_manifest_loader_raises_only_bundle_errors(examples):
    from mobilesdk.pipeline.verify import read_manifest

    valid = _manifest()
    paths = list(_paths(valid))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "manifest.json").write_text(json.dumps(valid))
        read_manifest(root)  # the starting point is valid

        @run(examples)
        @given(st.one_of(st.tuples(st.sampled_from(paths), json_values).map(lambda pv: json.dumps(_replace(valid, *pv))),
                         st.text(max_size=100)))
        def check(text):
            (root / "manifest.json").write_text(text)
            try:
                read_manifest(root)
            except BundleError:
                pass

        check()
