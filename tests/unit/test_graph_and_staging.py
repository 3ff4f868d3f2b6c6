import io

import pytest

from mobilesdk.bundle import staging
from mobilesdk.errors import InternalError
from mobilesdk.graph import Graph, Progress


def test_steps_run_after_what_they_need():
    g, seen = Graph(), []
    g.add("c", ("a", "b"), lambda r: seen.append("c") or r["a"] + r["b"])
    g.add("b", ("a",), lambda r: seen.append("b") or r["a"] * 10)
    g.add("a", (), lambda r: seen.append("a") or 1)
    out = g.run(Progress(io.StringIO()))
    assert seen == ["a", "b", "c"] and out["c"] == 11


def test_cycles_and_unknown_needs_are_bugs():
    g = Graph()
    g.add("a", ("b",), lambda r: 0)
    g.add("b", ("a",), lambda r: 0)
    with pytest.raises(InternalError, match="cycle"):
        g.order()
    g = Graph()
    g.add("a", ("missing",), lambda r: 0)
    with pytest.raises(InternalError, match="unknown step `missing`"):
        g.order()


def test_progress_prints_one_line_per_step():
    g, stream = Graph(), io.StringIO()
    g.add("first", (), lambda r: 1)
    g.add("second", ("first",), lambda r: 2)
    g.run(Progress(stream))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] first ... ") and lines[1].startswith("[2/2] second ... ")


def test_progress_in_whole_lines_never_leaves_a_line_open():
    """Worker processes share a terminal: every write is whole lines, the end line names its step."""
    g, stream = Graph(), io.StringIO()
    writes = []
    stream.write = lambda text, w=stream.write: writes.append(text) or w(text)
    g.add("first", (), lambda r: 1)
    g.add("second", ("first",), lambda r: 2)
    g.run(Progress(stream, whole_lines=True))
    assert all(w.endswith("\n") and w.count("\n") == 1 for w in writes)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[1/2] first ..." and lines[1].startswith("[1/2] first ... ") and lines[1].endswith("s")
    assert lines[2] == "[2/2] second ..." and lines[3].startswith("[2/2] second ... ")


def test_a_failed_build_keeps_the_previous_bundle_and_leaves_nothing(tmp_path):
    out = tmp_path / "bundle"
    with staging(out) as root:
        (root / "manifest.json").write_text("v1")
    with pytest.raises(RuntimeError):
        with staging(out) as root:
            (root / "manifest.json").write_text("half")
            raise RuntimeError("converter crashed")
    assert (out / "manifest.json").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    with staging(out) as root:
        (root / "manifest.json").write_text("v2")
    assert (out / "manifest.json").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_a_converter_that_raises_fails_its_row_and_the_build_goes_on(tmp_path):
    """A toolchain exception on one model (seen: torch.export guards in a re-export) is that
    artifact's failure with its first line, not a crashed build; a bug of ours still propagates."""
    from converters.base import Converter
    from mobilesdk.build import Captured, Golden, Loaded, convert_step
    from mobilesdk.cache import Cache
    from mobilesdk.golden import golden_cases
    from mobilesdk.models import build_model

    class Raising(Converter):
        name, precisions = "raising", ("fp32",)

        def __init__(self, error):
            self.error = error

        def convert(self, ep, ctx, precision, out_dir):
            raise self.error

    module, spec = build_model("textclf", "tiny")
    cases = golden_cases(spec)
    r = {"load/m": Loaded(module, spec), "golden/m": Golden(cases, [], []), "capture/m": Captured(None, [])}
    cache = Cache.default(enabled=False)
    result = convert_step(r, "m", Raising(RuntimeError("Constraints violated (samples)!\nmore")), "fp32", tmp_path, cache)
    assert result.converted is None and result.summary == "FAILED"
    assert result.error == "`raising` fp32 conversion raised RuntimeError: Constraints violated (samples)!"
    with pytest.raises(InternalError):
        convert_step(r, "m", Raising(InternalError("our bug")), "fp32", tmp_path, cache)
