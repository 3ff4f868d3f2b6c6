"""Nothing registered goes untested: a new backend is one package plus one registry line, and this
fails until it has tests of its own; a new family is in the matrix and the model tests by
construction, and this fails if someone narrows either to a fixed list."""
from __future__ import annotations

import ast
from pathlib import Path

from converters.base import registry
from mobilesdk.models import FAMILIES

TESTS = Path(__file__).parent


def defined_tests(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def test_every_registered_converter_has_backend_tests_of_its_own():
    for name in registry():
        path = TESTS / "backends" / f"test_{name}.py"
        assert path.is_file(), f"converter `{name}` is registered but {path.relative_to(TESTS.parent)} does not exist"
        assert defined_tests(path), f"{path.relative_to(TESTS.parent)} has no test functions"


def test_the_matrix_covers_every_family_converter_and_precision():
    from tests.backends.test_matrix import CELLS
    from tests.fixtures.hf_models import ARCHITECTURES

    want = {(fam, fmt, p) for fam in [*FAMILIES, *ARCHITECTURES] for fmt, conv in registry().items() for p in conv.precisions}
    assert want == {(fam, fmt, p) for fam, fmt, _, p in CELLS}
    for fmt, conv in registry().items():  # every route of a format with several is a cell of its own
        for route, precisions in conv.routes.items():
            assert set(precisions) <= set(conv.precisions)
            assert {(fam, fmt, route, p) for fam in [*FAMILIES, *ARCHITECTURES] for p in precisions} <= set(CELLS)


def test_the_model_tests_cover_every_family():
    from tests.unit import test_models

    assert set(test_models.NAMES) == set(FAMILIES)
