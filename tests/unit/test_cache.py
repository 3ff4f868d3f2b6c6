"""The conversion cache key changes whenever what a converter produces could change, and only then."""
from __future__ import annotations

import importlib
import io
import sys
import textwrap

import pytest

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
    before = cache.convert_key(conv, "fp32", ep, ctx)
    cache.source_files.cache_clear()
    assert cache.convert_key(conv, "fp32", ep, ctx) == before  # nothing changed, same key
    (pkg / "helper.py").write_text("SCALE = 2\n")
    cache.source_files.cache_clear()
    assert cache.convert_key(conv, "fp32", ep, ctx) != before
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
    assert cache.convert_key(conv, "fp32", plain, ctx) != cache.convert_key(conv, "fp32", rewritten, ctx)
    calib = calibration_batches(spec, 3)
    key = cache.convert_key(conv, "fp32", plain, context(spec, cases, calib))
    calib[2] = {k: v.copy() for k, v in calib[2].items()}
    calib[2]["input_ids"][0, 0] += 1
    assert cache.convert_key(conv, "fp32", plain, context(spec, cases, calib)) != key


def test_a_no_op_rebuild_converts_nothing(tmp_path, monkeypatch):
    from converters.onnx.converter import OnnxConverter
    from mobilesdk.config import load
    from mobilesdk.pipeline.build import build
    from mobilesdk.pipeline.graph import Progress

    if get("onnx").check():
        pytest.skip(get("onnx").check())
    config = tmp_path / "bundle.toml"
    config.write_text("[bundle]\nformats=['onnx']\nprecisions=['fp32']\n[models.t]\nfamily='textclf'\n")
    monkeypatch.setenv("MOBILESDK_CACHE", str(tmp_path / "cache"))
    writes = []
    real = OnnxConverter.write
    monkeypatch.setattr(OnnxConverter, "write", lambda self, *a: writes.append(a[2]) or real(self, *a))
    cfg = load(config, ("onnx",))
    first = build(cfg, tmp_path / "b1", progress=Progress(io.StringIO()))
    log = io.StringIO()
    second = build(cfg, tmp_path / "b2", progress=Progress(log))
    assert len(writes) == 1, "the second build converted again"
    assert "cached" in log.getvalue()
    assert [a.parity for m in first.models for a in m.artifacts] == [a.parity for m in second.models for a in m.artifacts]


@pytest.mark.parametrize("damage", ["truncate", "edit_inside_a_directory", "delete"])
def test_a_damaged_cache_entry_is_reported_dropped_and_converted_again(tmp_path, capsys, damage):
    from converters.base import Converted

    out = tmp_path / "out"
    (out / "model.mlpackage/Data").mkdir(parents=True)  # a file artifact and a directory artifact
    (out / "model.pte").write_bytes(b"program" * 100)
    (out / "model.mlpackage/Data/weights.bin").write_bytes(b"weights" * 100)
    store = cache.Cache(tmp_path / "cache")
    store.store("k" * 32, Converted([out / "model.pte", out / "model.mlpackage"], {"size": 1}), out)
    restored = store.restore("k" * 32, tmp_path / "a")
    assert restored is not None and (tmp_path / "a/model.mlpackage/Data/weights.bin").read_bytes() == b"weights" * 100
    entry = tmp_path / "cache" / ("k" * 32)
    if damage == "truncate":
        (entry / "model.pte").write_bytes(b"program")
    elif damage == "edit_inside_a_directory":
        (entry / "model.mlpackage/Data/weights.bin").write_bytes(b"weightz" * 100)
    else:
        (entry / "model.pte").unlink()
    assert store.restore("k" * 32, tmp_path / "b") is None  # a miss: the build converts again
    assert "differing from its record; converting again" in capsys.readouterr().err
    assert not entry.exists() and not (tmp_path / "b").exists()


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
