"""Every model (the registered families and the stock Hugging Face architectures of
tests/fixtures/hf_models.py) x every registered converter x each of its precisions, run in its runtime.

Generated from the registries: a new family, architecture or converter is in the matrix without
editing this file. A cell that fails must be in KNOWN_FAILURES with its reason (and the upstream issue where
there is one); an entry whose cell passes fails the run (strict xfail), so the table never goes stale.
"""
from __future__ import annotations

import pytest

from converters.base import registry
from mobilesdk.pipeline.check import evaluate
from tests.conftest import MODELS, describe

SPREAD_OVER_WORKERS = True  # cells are independent: pytest-xdist sends each to a free worker (conftest.py)

# A format with several routes (TFLite: onnx2tf, litert-torch) has a cell per route.
CELLS = [(fam, fmt, route, prec) for fam in MODELS for fmt, conv in sorted(registry().items())
         for route, precisions in (conv.routes or {"": conv.precisions}).items() for prec in precisions]

# (family, format, route, precision) -> why it fails, measured on this machine kind (tiny presets).
KNOWN_FAILURES: dict[tuple[str, str, str, str], str] = {}


def cell(fam: str, fmt: str, route: str, prec: str):
    marks = [pytest.mark.slow]
    if (fam, fmt, route, prec) in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[(fam, fmt, route, prec)], strict=True))
    return pytest.param(fam, fmt, route, prec, marks=marks, id="-".join(filter(None, (fam, fmt, route, prec))))


@pytest.mark.parametrize("fam,fmt,route,prec", [cell(*c) for c in CELLS])
def test_cell_matches_pytorch_at_every_golden_length(harness, fam, fmt, route, prec):
    conv = registry()[fmt]
    reason = conv.check()
    if reason:
        pytest.skip(reason)
    f = harness.family(fam)
    rows = evaluate(harness.runner(fam, fmt, prec, route), f.spec, prec, f.golden)
    print(f"{fam} {fmt} {route} {prec} [{conv.runtime()}]: {describe(rows)}")
    assert all(r.passed for r in rows), describe(rows)
    assert f.ep.graph_module.code == f.code, "a converter mutated the shared ExportedProgram"


def test_known_failures_name_real_cells_and_say_why():
    for key, reason in KNOWN_FAILURES.items():
        assert key in CELLS, f"{key} is no cell of the matrix (family, converter or precision gone?)"
        assert len(reason.split()) >= 5, f"{key}: say why it fails, with the numbers"
