"""Drift localisation end to end (issue 15): a build whose fp16 Core ML artifact overflows float16
in one layer names that layer in the manifest, the report and the failed-cells table, and
`mobilesdk explain` prints the table with it marked; bad inputs are one line and exit 2."""
from __future__ import annotations

import json

import pytest

from converters.base import get
from mobilesdk import cli

pytestmark = [pytest.mark.slow, pytest.mark.skipif(any(get(f).check() for f in ("onnx", "coreml")),
                                                   reason="needs the onnx and coreml converters")]

CONFIG = """
[bundle]
formats = ["onnx", "coreml"]
precisions = ["fp32", "fp16"]
calibration_batches = 2

[models.loud]
factory = "tests.fixtures.small_models:{factory}"
"""


def run(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    (tmp / "bundle.toml").write_text(CONFIG.format(factory="loud"))
    code = cli.main(["build", str(tmp / "bundle.toml"), "--out", str(tmp / "bundle"), "--no-cache"])
    assert code == 1  # the fp16 Core ML cell fails parity
    return tmp


def test_the_build_names_the_layer_where_the_failing_artifact_drifts(built):
    manifest = json.loads((built / "bundle/manifest.json").read_text())
    arts = {(a["format"], a["precision"]): a for a in manifest["models"][0]["artifacts"]}
    failed = arts[("coreml", "fp16")]
    assert not failed["passed"] and failed["divergence"]["module"] == "loud", failed["divergence"]
    assert failed["divergence"]["source"].endswith("small_models.py:" + source_line("self.head(self.norm(self.loud("))
    assert all(a["divergence"] is None for a in arts.values() if a["passed"])
    report = (built / "bundle/report.md").read_text()
    assert "coreml/fp16: first divergent layer `loud` (aten.linear at" in report


def source_line(text: str) -> str:
    from tests.fixtures import small_models

    lines = open(small_models.__file__).read().splitlines()
    return str(next(i + 1 for i, line in enumerate(lines) if text in line))


def test_explain_prints_the_table_with_the_first_divergent_row_marked(built, capsys):
    bundle, config = built / "bundle", built / "bundle.toml"
    code, out, err = run(capsys, "explain", bundle, "loud", "coreml", "fp16", "--config", config)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(("> ", "  ")) and "dB" not in line]
    marked = [r for r in rows if r.startswith(">")]
    assert len(marked) == 1 and marked[0].split()[1] == "loud", out
    assert "first divergent layer: loud (aten.linear" in out
    code, out, _ = run(capsys, "explain", bundle, "loud", "coreml", "fp16", "--config", config, "--json")
    table = json.loads(out)
    assert table["first_divergent"] == "loud" and [r["module"] for r in table["rows"]][:2] == ["first", "loud"]
    assert table["rows"][0]["sqnr_db"] > table["threshold_db"] > table["rows"][1]["sqnr_db"]
    code, out, _ = run(capsys, "explain", bundle, "loud", "onnx", "fp32", "--config", config)
    assert code == 0 and "no module is below the threshold" in out


@pytest.mark.parametrize("args, message", [
    (("loud", "coreml", "int8-weights"), "has no artifact coreml/int8-weights"),
    (("loud", "coreml", "fp16", "--case", "nope"), "has no golden case `nope`"),
    (("quiet", "coreml", "fp16"), "has no model `quiet`"),
    (("loud", "coreml", "fp16", "--sensitivity"), "is not one it can vary"),
])
def test_explain_bad_inputs_are_one_line_and_exit_2(built, capsys, args, message):
    code, out, err = run(capsys, "explain", built / "bundle", *args, "--config", built / "bundle.toml")
    assert code == 2 and message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_explain_refuses_a_config_whose_model_is_not_the_bundles(built, capsys):
    other = built / "other.toml"
    other.write_text(CONFIG.format(factory="loud_retrained"))
    code, _, err = run(capsys, "explain", built / "bundle", "loud", "coreml", "fp16", "--config", other)
    assert code == 2 and "is not the one" in err and err.count("\n") == 1, err
