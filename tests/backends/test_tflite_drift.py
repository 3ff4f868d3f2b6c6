"""`mobilesdk explain` on TFLite artifacts (converters/tflite/taps.py), on both routes: module paths found
for most rows of a clean artifact, a deliberately broken layer named first, int8-static tensors read.

One tiny family per route keeps the module short: aligner on litert-torch, enhancer on onnx2tf (its
int8-static reuses the fp32 SavedModel); both write one file, a signature per bucket. The
"odd" golden case runs on a padded, non-main bucket, so the cut back to the case's lengths is tested.
"""
from __future__ import annotations

import dataclasses
import time

import pytest

from mobilesdk.drift import ROOT, display
from mobilesdk.pipeline.explain import explain_artifact, render
from tests.conftest import require
from tests.fixtures.drift import layers, perturbed

TFLITE = require("tflite")
pytestmark = pytest.mark.slow

# route -> (family, a weighted layer whose output row the route's artifact maps)
ROUTES = {"litert-torch": ("aligner", "module.layers.0.ff.0"), "onnx2tf": ("enhancer", "module.encoder.2")}
MAPPED = 0.6  # share of rows with a value on a clean artifact (measured: aligner 26/31, enhancer 14/19)


def explain(harness, name: str, precision: str, files):
    f = harness.family(name)
    case = next(c for c in f.cases if c.name == "odd")
    return explain_artifact(f.ep, f.ctx, TFLITE, precision, files, case.name, case.inputs)


@pytest.mark.parametrize("route", ROUTES)
def test_clean_fp32_artifact_maps_most_rows_and_none_is_below_threshold(harness, route):
    name, _ = ROUTES[route]
    converted = harness.convert(name, "tflite", "fp32", route)
    e = explain(harness, name, "fp32", converted.files)
    text = render(e)
    mapped = [r for r in e.rows if r.sqnr_db is not None]
    assert e.first is None, text
    assert len(mapped) >= MAPPED * len(e.rows), text
    assert any(r.module == ROOT for r in mapped), text


@pytest.mark.parametrize("route", ROUTES)
def test_broken_layer_is_the_first_divergent_row(harness, route, tmp_path):
    name, layer = ROUTES[route]
    f = harness.family(name)
    assert layer in layers(f.ep)
    ctx = dataclasses.replace(f.ctx, options={"route": route})
    converted = TFLITE.convert(perturbed(f.ep, layer), ctx, "fp32", tmp_path)
    assert converted.meta["route"] == route
    e = explain(harness, name, "fp32", converted.files)
    assert e.first is not None and e.first.module == display(layer), render(e)


def test_int8_static_table_reads_dequantized_tensors(harness):
    converted = harness.convert("enhancer", "tflite", "int8-static", "onnx2tf")
    start = time.perf_counter()
    e = explain(harness, "enhancer", "int8-static", converted.files)
    text = render(e)
    print(f"{text}\n(taps and reads: {time.perf_counter() - start:.1f} s)")
    values = [r.sqnr_db for r in e.rows if r.sqnr_db is not None]
    assert "tflite/int8-static" in text and len(values) >= MAPPED * len(e.rows), text
    # int8 inside, not the fp32 file: the rows after the float first layer lose tens of dB
    assert min(values) < 60 < max(values), text
