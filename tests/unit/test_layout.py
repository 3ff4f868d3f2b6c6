"""The layout the design card names: mobilesdk in layers that import only downward, converters
between the maths and the pipeline, no import cycles, small modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mobilesdk", "converters", "android_bridge", "ios_bridge")
MAX_MODULE_LINES = 600

# Lowest layer first; a module may import its own layer and the ones before it.
LAYERS = (
    ("mobilesdk", "mobilesdk.spec", "mobilesdk.errors", "mobilesdk.config", "mobilesdk.serde", "mobilesdk.logs",
     "mobilesdk.text", "mobilesdk.speech"),
    ("mobilesdk.golden", "mobilesdk.parity", "mobilesdk.semantics", "mobilesdk.mask_lint", "mobilesdk.capture",
     "mobilesdk.manifest", "mobilesdk.models", "mobilesdk.bindings", "mobilesdk.drift", "mobilesdk.size"),
    ("converters",),
    ("android_bridge", "ios_bridge"),  # bindings generators: read the manifest, import no converter
    ("mobilesdk.pipeline",),
    ("mobilesdk.cli",),
)


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def layer(module: str) -> int:
    best = max((p for layer in LAYERS for p in layer if module == p or module.startswith(p + ".")), key=len)
    return next(i for i, names in enumerate(LAYERS) if best in names)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in out if m in known}


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_only_go_down(module):
    if module == "converters":  # the registry list: it imports every backend package
        return
    for imported in imports(modules()[module]):
        if imported == "converters" and module == "converters.base":
            continue  # registry() imports the list, which registers every backend
        assert layer(imported) <= layer(module), f"{module} (layer {layer(module)}) imports {imported} (layer {layer(imported)})"


def test_no_import_cycles():
    graph = {m: imports(p, top_level_only=True) - {m} for m, p in modules().items()}
    state: dict[str, str] = {}

    def visit(m, chain):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(chain + [m])
        state[m] = "open"
        for n in graph.get(m, ()):
            visit(n, chain + [m])
        state[m] = "done"

    for m in graph:
        visit(m, [])


@pytest.mark.parametrize("module", sorted(modules()))
def test_modules_stay_small(module):
    lines = len(modules()[module].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines; split it (ARCHITECTURE.md convention 10)"
