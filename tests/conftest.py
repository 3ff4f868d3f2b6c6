"""Shared test fixtures: the reference families built once per session, and their conversions.

`harness.family(name)` gives a family's tiny preset (or a tiny stock Hugging Face model) with its capture, build context (with
calibration batches) and golden set; `harness.convert(name, fmt, precision)` converts it once per
session. Backend tests and the registry-generated matrix (`tests/backends/test_matrix.py`) share
them, so each conversion runs once per test session whichever test asks first.

`make test` runs two pytest-xdist workers with `--dist loadscope`, scheduled by this file's
`pytest_xdist_make_scheduler`: every test module runs in one worker, so its module fixtures (a
whole bundle build, in the e2e tests) run once, except the modules that set
`SPREAD_OVER_WORKERS = True` (the matrix: independent cells, the longest module), whose tests go
one by one to whichever worker is free, and modules that set the same `SCOPE_GROUP`, which run
together on one worker so a session fixture they share (`device_bundle`) is built once. Each
worker's torch then uses one thread. (xdist's own `loadgroup` does not group under pytest 9.2:
xdist 3.8 writes the group into `item._nodeid`, which pytest 9 no longer reads, so each e2e bundle
was built on both workers.)
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from converters.base import BuildContext, Converted, get
from mobilesdk.models import FAMILIES
from mobilesdk.spec import ModelSpec
from tests.fixtures import hf_models

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)  # two workers on two cores: no oversubscription

CALIBRATION_BATCHES = 8  # as bundle.toml's default
# Every model the backend tests know: the reference families' tiny presets, then stock Hugging Face
# architectures loaded through the `huggingface =` shortcut.
MODELS = (*sorted(FAMILIES), *hf_models.ARCHITECTURES)


@dataclass
class Family:
    module: torch.nn.Module
    spec: ModelSpec
    ep: object  # torch.export.ExportedProgram, shared by every converter like in a build
    ctx: BuildContext
    golden: list  # [ReferenceCase]
    cases: list
    code: str  # the capture's graph code, to check no converter mutated it
    converted: dict[tuple[str, str, str], Converted] = field(default_factory=dict)


class Harness:
    def __init__(self, root: Path):
        self.root = root
        self.families: dict[str, Family] = {}

    def family(self, name: str) -> Family:
        if name not in self.families:
            from mobilesdk.capture import capture, run_torch
            from mobilesdk.golden import calibration_batches, golden_cases
            from mobilesdk.models import build_model
            from mobilesdk.pipeline.check import ReferenceCase

            if name in hf_models.ARCHITECTURES:
                module, spec = hf_models.load(name, self.root / "huggingface")
            else:
                module, spec = build_model(name, "tiny", name=name)
            cases = golden_cases(spec)
            ep = capture(module, spec, cases[0].inputs)
            ctx = BuildContext(model=name, spec=spec, example_inputs=cases[0].inputs,
                               calibration=calibration_batches(spec, CALIBRATION_BATCHES))
            golden = [ReferenceCase(c.name, c.inputs, run_torch(module, spec, c.inputs)) for c in cases]
            self.families[name] = Family(module, spec, ep, ctx, golden, cases, ep.graph_module.code)
        return self.families[name]

    def convert(self, name: str, fmt: str, precision: str, route: str = "") -> Converted:
        """As the build converts: judged on the golden set where a converter asks (`BuildContext.accept`:
        TFLite's "auto" route, ExecuTorch's int8 tables). `route` empty: the converter's default."""
        from mobilesdk.pipeline.build import parity_problem

        f = self.family(name)
        if (fmt, precision, route) not in f.converted:
            out = self.root / name / fmt / (route or "default") / precision
            ctx = dataclasses.replace(f.ctx, options={"route": route} if route else f.ctx.options,
                                      accept=functools.partial(parity_problem, get(fmt), precision, f.spec, f.golden))
            f.converted[(fmt, precision, route)] = get(fmt).convert(f.ep, ctx, precision, out)
        return f.converted[(fmt, precision, route)]

    def runner(self, name: str, fmt: str, precision: str, route: str = ""):
        return get(fmt).runner(self.convert(name, fmt, precision, route), self.family(name).spec)


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` with a test module as the scope, or a single test in a spread module."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if _spread(path) else _module_attr(path, "SCOPE_GROUP", None) or path

    return ModuleScheduling(config, log)


def _spread(path: str) -> bool:
    return _module_attr(path, "SPREAD_OVER_WORKERS", False)


@functools.cache
def _module_attr(path: str, name: str, default):
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name, default)


@pytest.fixture(scope="session")
def device_bundle(tmp_path_factory):
    """tests/fixtures/device_bundle.py, built once per worker (its modules share one worker)."""
    from tests.fixtures import device_bundle

    return device_bundle.build(tmp_path_factory.mktemp("device"))


@pytest.fixture(scope="session")
def harness(tmp_path_factory) -> Harness:
    return Harness(tmp_path_factory.mktemp("harness"))


def require(fmt: str):
    """Skip the calling test module when the converter's toolchain is unusable, saying why."""
    reason = get(fmt).check()
    if reason:
        pytest.skip(reason, allow_module_level=True)
    return get(fmt)


def describe(rows) -> str:
    return "; ".join(
        f"{r.output}: {r.sqnr_db:.1f} dB (min {r.min_sqnr_db}), agreement {r.agreement} (min {r.min_agreement})"
        for r in rows
    )
