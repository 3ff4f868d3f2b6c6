"""The report sets the same precision from different formats (and runtimes) side by side."""
from __future__ import annotations

from mobilesdk.manifest import Artifact, Model, OutputParity
from mobilesdk.pipeline.bundle import runtimes_table


def artifact(fmt: str, precision: str, runtime: str, sqnr: float, diagnostic: bool = False) -> Artifact:
    row = OutputParity("y", "sqnr", 0.0, 0.0, sqnr, None, 60.0, 1.0, 0.0, "", True, None, None)
    return Artifact(fmt, precision, "p", ["p"], runtime, diagnostic, [], {}, [row], [], True, "")


def model(*artifacts: Artifact) -> Model:
    return Model("m", "family:x", "", "d", "s", [], [], [], {}, [], [], [], list(artifacts))


def test_shared_precisions_sit_side_by_side_with_their_runtimes():
    lines = runtimes_table(model(artifact("coreml", "fp32", "mil-reference", 120.5),
                                 artifact("coreai", "fp32", "coreai-runtime (linux, cpu)", 125.0),
                                 artifact("coreml", "palettize6", "mil-reference", 30.0),
                                 artifact("onnx", "fp32", "onnxruntime", 140.0, diagnostic=True)))
    text = "\n".join(lines)
    assert "| precision | output | coreml | coreai |" in text
    assert "| fp32 | y | 120.5 | 125.0 |" in text
    assert "palettize6" not in text  # one format only: nothing to compare
    assert "coreml: mil-reference; coreai: coreai-runtime (linux, cpu)" in text


def test_no_table_when_no_precision_is_shared():
    assert runtimes_table(model(artifact("coreml", "fp16", "mil-reference", 50.0),
                                artifact("coreai", "fp32", "coreai-runtime (linux, cpu)", 120.0))) == []
