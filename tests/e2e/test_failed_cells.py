"""An op one backend cannot convert (issue 18): the cell fails with the op, the node, the backend and a
fix; the other cells still build; the manifest marks the failed cell with its reason; the default
build writes the bundle and exits 1 listing the failed cells, `--strict` exits 1 and writes nothing.

`aten.bucketize` is the real op: coremltools 9 has no translation for it, ONNX exports it."""
from __future__ import annotations

import json
import signal

import pytest

from converters.base import get
from mobilesdk import cli

pytestmark = pytest.mark.skipif(any(get(f).check() for f in ("onnx", "coreml")),
                                reason="needs the onnx and coreml converters")

CONFIG = """
[bundle]
formats = ["onnx", "coreml"]
precisions = ["fp32"]
calibration_batches = 2

[models.bucket]
factory = "tests.fixtures.small_models:with_bucketize"

[models.plain]
factory = "tests.fixtures.small_models:tiny"
"""


def build(tmp_path, capsys, *args):
    (tmp_path / "bundle.toml").write_text(CONFIG)
    handler = signal.getsignal(signal.SIGTERM)
    capsys.readouterr()
    try:
        code = cli.main(["build", str(tmp_path / "bundle.toml"), "--no-cache", *args])
    finally:
        signal.signal(signal.SIGTERM, handler)
    return code, capsys.readouterr().err


def test_an_op_one_backend_cannot_convert_fails_that_cell_only(tmp_path, capsys):
    out = tmp_path / "out"
    code, err = build(tmp_path, capsys, "--out", str(out))
    assert code == 1 and "Traceback" not in err
    table = [line for line in err.splitlines() if line.startswith("  ")]
    assert len(table) == 1 and table[0].startswith("  bucket/coreml/fp32  conversion failed: "), err
    for part in ("`coreml` cannot convert `bucketize`", "(node `bucketize`)", "Fix:", "register_torch_op",
                 'skip = ["coreml/<precision>"]'):
        assert part in table[0]
    assert "1 cell(s) FAILED" in err
    m = json.loads((out / "manifest.json").read_text())
    cells = {(mdl["name"], a["format"]): a for mdl in m["models"] for a in mdl["artifacts"]}
    failed = cells[("bucket", "coreml")]
    assert not failed["passed"] and failed["files"] == [] and "cannot convert `bucketize`" in failed["note"]
    assert cells[("bucket", "onnx")]["passed"] and cells[("bucket", "onnx")]["files"]  # the other backend built
    assert all(cells[("plain", f)]["passed"] for f in ("onnx", "coreml"))
    assert m["passed"] is False

    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, err = build(tmp_path, capsys, "--out", str(out), "--strict")
    assert code == 1 and "Traceback" not in err
    assert "  bucket/coreml/fp32  conversion failed: `coreml` cannot convert `bucketize`" in err
    assert f"error: --strict: 1 cell(s) failed, so `{out}` was left as it was" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.toml", "out"]
