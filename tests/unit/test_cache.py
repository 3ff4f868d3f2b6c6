"""The conversion cache key changes whenever what a converter produces could change, and only then."""
from __future__ import annotations

import dataclasses
import importlib
import io
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from converters.base import BuildContext, get
from mobilesdk.capture import capture
from mobilesdk.golden import calibration_batches, golden_cases
from mobilesdk.mask_lint import lint
from mobilesdk.pipeline import cache
from tests.fixtures import masked_models as mm


def context(spec, cases, calibration=()):
    return BuildContext("m", spec, cases[0].inputs, list(calibration))


@pytest.fixture(scope="module")
def captured():
    module, spec = mm.finfo_min_mask()
    cases = golden_cases(spec)
    return module, spec, cases, capture(module, spec, cases[0].inputs)


def test_every_helper_module_of_a_backend_is_in_its_key():
    """The old key hashed only the file defining the converter class: an edit to the TFLite int8
    pass or the MIL kernels never invalidated a cached artifact."""
    tflite = {p.as_posix() for p in cache.source_files(type(get("tflite")).__module__)}
    assert any(p.endswith("converters/tflite/int8.py") for p in tflite)
    assert any(p.endswith("converters/tflite/buckets.py") for p in tflite)
    assert any(p.endswith("converters/onnx/export.py") for p in tflite)  # TFLite starts from the ONNX export
    coreml = {p.as_posix() for p in cache.source_files(type(get("coreml")).__module__)}
    assert any(p.endswith("converters/coreml/mil/math_ops.py") for p in coreml)
    assert not any("/tflite/" in p for p in coreml)  # backends do not invalidate each other


def test_editing_a_helper_module_changes_the_key(tmp_path, monkeypatch, captured):
    _, spec, cases, ep = captured
    pkg = tmp_path / "probe_backend"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("SCALE = 1\n")
    (pkg / "converter.py").write_text(textwrap.dedent("""
        from converters.base import Converter
        from probe_backend.helper import SCALE

        class Probe(Converter):
            name, precisions = "probe", ("fp32",)

            def versions(self):
                return {}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cache, "OWN_PACKAGES", (*cache.OWN_PACKAGES, "probe_backend"))
    conv = importlib.import_module("probe_backend.converter").Probe()
    ctx = context(spec, cases)
    cache.source_files.cache_clear()
    before = cache.convert_key(conv, "fp32", cache.program_digest(ep), ctx)
    cache.source_files.cache_clear()
    assert cache.convert_key(conv, "fp32", cache.program_digest(ep), ctx) == before  # nothing changed, same key
    (pkg / "helper.py").write_text("SCALE = 2\n")
    cache.source_files.cache_clear()
    assert cache.convert_key(conv, "fp32", cache.program_digest(ep), ctx) != before
    cache.source_files.cache_clear()
    for name in ("probe_backend.converter", "probe_backend.helper", "probe_backend"):
        sys.modules.pop(name)


def test_the_mask_rewrite_and_a_calibration_batch_change_the_key(captured):
    module, spec, cases, _ = captured
    conv = get("onnx")
    plain = capture(module, spec, cases[0].inputs)
    rewritten = capture(module, spec, cases[0].inputs)
    assert lint(rewritten, rewrite=True), "the fixture has a finfo.min mask"
    ctx = context(spec, cases)
    assert cache.convert_key(conv, "fp32", cache.program_digest(plain), ctx) != cache.convert_key(conv, "fp32", cache.program_digest(rewritten), ctx)
    calib = calibration_batches(spec, 3)
    key = cache.convert_key(conv, "fp32", cache.program_digest(plain), context(spec, cases, calib))
    calib[2] = {k: v.copy() for k, v in calib[2].items()}
    calib[2]["input_ids"][0, 0] += 1
    assert cache.convert_key(conv, "fp32", cache.program_digest(plain), context(spec, cases, calib)) != key


@pytest.mark.parametrize("where", ["path", "memory"])
def test_a_no_op_rebuild_converts_nothing(tmp_path, monkeypatch, where):
    from converters.onnx.converter import OnnxConverter
    from mobilesdk.config import load
    from mobilesdk.pipeline.build import build
    from mobilesdk.pipeline.graph import Progress

    if get("onnx").check():
        pytest.skip(get("onnx").check())
    config = tmp_path / "bundle.toml"
    config.write_text("[bundle]\nformats=['onnx']\nprecisions=['fp32']\n[models.t]\nfamily='textclf'\n")
    monkeypatch.setenv("MOBILESDK_CACHE", cache_at(where, tmp_path).url)
    writes, runs = [], []
    real, real_runner = OnnxConverter.write, OnnxConverter.runner
    monkeypatch.setattr(OnnxConverter, "write", lambda self, *a: writes.append(a[2]) or real(self, *a))
    monkeypatch.setattr(OnnxConverter, "runner", lambda self, *a: runs.append(1) or real_runner(self, *a))
    cfg = load(config, ("onnx",))
    first = build(cfg, tmp_path / "b1", progress=Progress(io.StringIO()))
    assert len(writes) == 1 and runs, "the first build converts and runs the artifact"
    runs.clear()
    log = io.StringIO()
    second = build(cfg, tmp_path / "b2", progress=Progress(log))
    assert len(writes) == 1, "the second build converted again"
    assert runs == [], "the second build ran the unchanged artifact on unchanged golden data again"
    assert "cached" in log.getvalue()
    strip = lambda m: [dataclasses.replace(a, meta={}) for x in m.models for a in x.artifacts]  # noqa: E731
    assert strip(first) == strip(second)  # the same rows, mask suite and notes


def cache_at(where: str, tmp_path) -> cache.Cache:
    """A cache on the local disk by path, by file:// URL, or in fsspec's memory filesystem (what an
    object store looks like to the cache: no rename of directories, one object per file)."""
    if where == "memory":
        import uuid

        return cache.Cache(f"memory://cache-{uuid.uuid4().hex}")
    return cache.Cache(tmp_path / "cache" if where == "path" else f"file://{tmp_path / 'cache'}")


@pytest.mark.parametrize("where", ["path", "file-url", "memory"])
@pytest.mark.parametrize("damage", ["truncate", "edit_inside_a_directory", "delete"])
def test_a_damaged_cache_entry_is_reported_dropped_and_converted_again(tmp_path, capsys, damage, where):
    from converters.base import Converted

    out = tmp_path / "out"
    (out / "model.mlpackage/Data").mkdir(parents=True)  # a file artifact and a directory artifact
    (out / "model.pte").write_bytes(b"program" * 100)
    (out / "model.mlpackage/Data/weights.bin").write_bytes(b"weights" * 100)
    store = cache_at(where, tmp_path)
    store.store("k" * 32, Converted([out / "model.pte", out / "model.mlpackage"], {"size": 1}), out)
    restored = store.restore("k" * 32, tmp_path / "a")
    assert restored is not None and restored.meta == {"size": 1}
    assert (tmp_path / "a/model.mlpackage/Data/weights.bin").read_bytes() == b"weights" * 100
    assert (tmp_path / "a/model.pte").read_bytes() == b"program" * 100
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # nothing staged left behind
    entry = f"{store.root}/{'k' * 32}"
    if damage == "truncate":
        store.fs.pipe_file(f"{entry}/model.pte", b"program")
    elif damage == "edit_inside_a_directory":
        store.fs.pipe_file(f"{entry}/model.mlpackage/Data/weights.bin", b"weightz" * 100)
    else:
        store.fs.rm(f"{entry}/model.pte")
    assert store.restore("k" * 32, tmp_path / "b") is None  # a miss: the build converts again
    assert "differing from its record; converting again" in capsys.readouterr().err
    assert not store.fs.exists(entry) and not (tmp_path / "b").exists()


@pytest.mark.parametrize("where", ["path", "memory"])
def test_an_entry_without_its_record_is_a_miss(tmp_path, where):
    """A writer killed before its record went up left files only: readers never take them."""
    store = cache_at(where, tmp_path)
    store.fs.makedirs(f"{store.root}/{'k' * 32}", exist_ok=True)
    store.fs.pipe_file(f"{store.root}/{'k' * 32}/model.pte", b"half")
    assert store.restore("k" * 32, tmp_path / "a") is None and not (tmp_path / "a").exists()


def _stored(store: cache.Cache, tmp_path, key: str, size: int) -> None:
    from converters.base import Converted

    out = tmp_path / f"out-{key}"
    out.mkdir()
    (out / "model.pte").write_bytes(b"x" * size)
    store.store(key, Converted([out / "model.pte"], {}), out)


@pytest.mark.parametrize("where", ["path", "memory"])
def test_the_cap_evicts_the_least_recently_used_and_clean_removes(tmp_path, monkeypatch, capsys, where):
    store = cache_at(where, tmp_path)
    monkeypatch.setenv("MOBILESDK_CACHE_MAX_GB", "1")
    for key in ("a" * 32, "b" * 32, "c" * 32):
        _stored(store, tmp_path, key, 1000)
    assert [e.key[0] for e in store.entries()] == ["a", "b", "c"] and all(e.size > 1000 for e in store.entries())
    assert store.restore("a" * 32, tmp_path / "r") is not None  # a is used again: b is now the oldest
    monkeypatch.setenv("MOBILESDK_CACHE_MAX_GB", str(2.5 * store.entries()[0].size / 1e9))
    _stored(store, tmp_path, "d" * 32, 1000)
    assert [e.key[0] for e in store.entries()] == ["a", "d"]  # b, then c, went
    assert "removed the 2 least recently used entries" in capsys.readouterr().err
    assert store.clean(older_than_days=1) == (0, 0)  # none is a day old
    count, freed = store.clean()
    assert count == 2 and freed > 2000 and store.entries() == []


def test_cache_info_and_clean_on_the_command_line(tmp_path):
    import subprocess

    store = cache_at("path", tmp_path)
    _stored(store, tmp_path, "a" * 32, 5000)
    env = {**__import__("os").environ, "MOBILESDK_CACHE": store.url}
    run = lambda *a: subprocess.run([sys.executable, "-m", "mobilesdk.cli", "cache", *a], capture_output=True, text=True, env=env)  # noqa: E731
    r = run("info")
    assert r.returncode == 0 and "1 entries" in r.stdout
    assert "removed 0 entries" in run("clean", "--older-than", "7").stdout
    assert "removed 1 entries" in run("clean").stdout and "0 entries" in run("info").stdout


@pytest.mark.parametrize("record", ["{not json", '{"files": ["../../outside.bin"], "meta": {}, "sha256": {}}', '{"meta": {}}'])
def test_a_cache_record_that_is_damaged_or_points_outside_its_entry_is_a_miss(tmp_path, capsys, record):
    """converted.json is read back too: not JSON, no file list, or a file outside the entry (which a
    restore would copy from, and to, outside it) is reported and dropped like damaged files."""
    entry = tmp_path / "cache" / ("k" * 32)
    entry.mkdir(parents=True)
    (tmp_path / "outside.bin").write_bytes(b"x")
    (entry / "converted.json").write_text(record)
    assert cache.Cache(tmp_path / "cache").restore("k" * 32, tmp_path / "out/a/b") is None
    assert "converting again" in capsys.readouterr().err
    assert not entry.exists() and not (tmp_path / "out").exists()


def test_a_cache_that_cannot_be_written_slows_the_build_but_does_not_fail_it(tmp_path, capsys):
    from converters.base import Converted

    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/model.pte").write_bytes(b"program")
    store = cache.Cache(tmp_path / "file/cache")  # mkdir fails (ENOTDIR), as on a full or read-only disk
    store.store("k" * 32, Converted([tmp_path / "out/model.pte"], {}), tmp_path / "out")
    assert "could not store entry kkkkkkkkkkkk" in capsys.readouterr().err
    assert store.restore("k" * 32, tmp_path / "again") is None


def test_the_model_key_follows_weights_attributes_user_code_and_golden_behaviour(tmp_path, monkeypatch):
    """A rebuild skips torch.export when this key is known: it must change with anything that can
    change the captured program, and stay put otherwise."""
    from tests.fixtures import small_models as sm

    module, spec = sm.tiny()
    key = cache.model_key(module, spec, [], {})
    assert cache.model_key(sm.tiny()[0], spec, [], {}) == key  # the same model built again
    other = sm.tiny()[0]
    other.proj.bias.data[0] += 1e-3
    assert cache.model_key(other, spec, [], {}) != key  # a weight
    other = sm.tiny()[0]
    other.op = "bucketize"
    assert cache.model_key(other, spec, [], {}) != key  # a plain attribute forward() branches on
    assert cache.model_key(module, spec, [], {"fp16_safe_masks": True}) != key
    assert cache.model_key(module, spec, [{"y": np.ones(2)}], {}) != key  # PyTorch's golden outputs
    files, version = cache.code_of(type(module).__module__)  # a user's package is hashed whole
    assert any(f.name == "small_models.py" for f in files) and any(f.name == "drift.py" for f in files) and not version
    assert cache.code_of("torch.nn.modules.linear") == ((), next(iter(cache._distributions()["torch"])) + "==" + torch.__version__)


def test_a_rebuild_of_an_unchanged_model_does_not_capture_it(tmp_path, monkeypatch):
    from mobilesdk.pipeline import build as build_module
    from mobilesdk.pipeline import load_config

    config = tmp_path / "bundle.toml"
    config.write_text('[bundle]\nformats = ["onnx"]\nprecisions = ["fp32"]\n\n'
                      '[models.tiny]\nfactory = "tests.fixtures.small_models:tiny"\n')
    monkeypatch.setenv("MOBILESDK_CACHE", str(tmp_path / "cache"))
    first = build_module.build(load_config(config), tmp_path / "one")
    monkeypatch.setattr(build_module, "capture", lambda *a, **k: pytest.fail("captured again"))
    second = build_module.build(load_config(config), tmp_path / "two")
    assert [a.parity for m in second.models for a in m.artifacts] == [a.parity for m in first.models for a in m.artifacts]
    assert second.models[0].semantics == first.models[0].semantics


def test_a_no_op_rebuild_imports_no_toolchain(tmp_path, monkeypatch):
    """A toolchain's import costs seconds (TensorFlow, ExecuTorch): a rebuild that converts and runs
    nothing must not pay it. The second build runs in a fresh interpreter, so nothing was imported before."""
    import subprocess

    from mobilesdk.pipeline import build as build_module
    from mobilesdk.pipeline import load_config

    config = tmp_path / "bundle.toml"
    config.write_text('[bundle]\nformats = ["onnx"]\nprecisions = ["fp32"]\n\n'
                      '[models.tiny]\nfactory = "tests.fixtures.small_models:tiny"\n')
    monkeypatch.setenv("MOBILESDK_CACHE", str(tmp_path / "cache"))
    build_module.build(load_config(config), tmp_path / "one")
    toolchain = get("onnx").modules
    script = ("import sys\nfrom mobilesdk.cli import main\nrc = main(['build', sys.argv[1], '--out', sys.argv[2]])\n"
              f"print(rc, sorted(m for m in {toolchain!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", script, str(config), str(tmp_path / "two")], capture_output=True, text=True,
                       cwd=Path(__file__).parents[2])
    assert r.stdout.split("\n")[-2] == "0 []", r.stdout + r.stderr[-2000:]
    assert "cached" in r.stderr


def test_a_missing_toolchain_is_found_without_importing_and_a_broken_one_stops_the_step(tmp_path):
    from converters.base import Converter
    from mobilesdk.errors import ConfigError
    from mobilesdk.pipeline.build import ready

    class Missing(Converter):
        name, toolchain, modules = "missing", "the missing toolchain", ("json", "no_such_toolchain_xyz.sub")

    class Broken(Converter):
        name, toolchain, modules = "broken", "the broken toolchain", ("broken_toolchain_xyz",)

    assert "no_such_toolchain_xyz is missing" in Missing().installed()
    (tmp_path / "broken_toolchain_xyz.py").write_text("raise RuntimeError('bad native extension')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert Broken().installed() is None  # found: only importing shows it is broken
        with pytest.raises(ConfigError, match="bad native extension"):
            ready(Broken())
    finally:
        sys.path.remove(str(tmp_path))


def test_a_picture_is_drawn_again_only_when_what_it_shows_changed(tmp_path, monkeypatch):
    """An aligner's picture runs every artifact in its runtime (each toolchain's import): a rebuild
    with nothing changed restores it; a changed artifact draws it again."""
    from mobilesdk.pipeline import build as build_module
    from mobilesdk.pipeline import load_config
    from mobilesdk.pipeline import pictures

    config = tmp_path / "bundle.toml"
    text = '[bundle]\nformats = ["onnx"]\nprecisions = ["fp32"]\n\n[models.aligner]\nfamily = "aligner"\nseed = {}\n'
    config.write_text(text.format(0))
    monkeypatch.setenv("MOBILESDK_CACHE", str(tmp_path / "cache"))
    drawn = []
    real = pictures._draw
    monkeypatch.setattr(pictures, "_draw", lambda *a: drawn.append(a[1].name) or real(*a))
    build_module.build(load_config(config), tmp_path / "one")
    build_module.build(load_config(config), tmp_path / "two")
    assert drawn == ["aligner"], "the unchanged rebuild drew the picture again"
    assert (tmp_path / "one/pictures/aligner.png").read_bytes() == (tmp_path / "two/pictures/aligner.png").read_bytes()
    config.write_text(text.format(1))  # other weights: other artifact bytes and golden outputs
    build_module.build(load_config(config), tmp_path / "three")
    assert drawn == ["aligner", "aligner"]


def test_program_digest_is_the_same_for_code_at_another_path(tmp_path, monkeypatch):
    """CI runners share the cache from checkouts (and virtualenvs) at different paths. The serialized
    program names its source files in every node's stack trace; the digest must not, or the runners
    share no conversion and a capture record from one fails its check on another."""
    source = textwrap.dedent("""
        import torch

        class M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = torch.nn.Linear(4, 3)

            def forward(self, x):
                return (self.proj(x).relu(),)
    """)
    digests, traces = [], []
    for where in ("runner_a/checkout", "runner_b/elsewhere"):
        path = tmp_path / where / "pathmodel.py"
        path.parent.mkdir(parents=True)
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("pathmodel", path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, "pathmodel", module)
        spec.loader.exec_module(module)
        torch.manual_seed(0)
        ep = torch.export.export(module.M().eval(), (torch.zeros(2, 4),))
        traces.append("".join(n.meta.get("stack_trace") or "" for n in ep.graph.nodes))
        digests.append(cache.program_digest(ep))
        assert "".join(n.meta.get("stack_trace") or "" for n in ep.graph.nodes) == traces[-1]  # left as it was
    assert "runner_a" in traces[0] and "runner_b" in traces[1]  # the paths are in the program
    assert digests[0] == digests[1]
