import io

import pytest

from mobilesdk.pipeline.bundle import staging
from mobilesdk.errors import InternalError
from mobilesdk.pipeline.graph import Graph, Progress


def test_steps_get_the_results_of_what_they_need_in_order():
    g, seen = Graph(), []
    a = g.add("a", lambda: seen.append("a") or 1)
    b = g.add("b", lambda x: seen.append("b") or x * 10, a)
    c = g.add("c", lambda x, y: seen.append("c") or x + y, a, b)
    out = g.run(Progress(io.StringIO()))
    assert seen == ["a", "b", "c"] and out[c] == 11 and out[b] == 10


def test_a_step_of_another_graph_or_a_repeated_name_is_a_bug():
    other = Graph().add("x", lambda: 0)
    g = Graph()
    with pytest.raises(InternalError, match="step of another graph"):
        g.add("a", lambda x: x, other)
    g.add("a", lambda: 0)
    with pytest.raises(InternalError, match="declared twice"):
        g.add("a", lambda: 0)


def test_progress_prints_one_line_per_step():
    g, stream = Graph(), io.StringIO()
    first = g.add("first", lambda: 1)
    g.add("second", lambda x: 2, first)
    g.run(Progress(stream))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/2] first ... ") and lines[1].startswith("[2/2] second ... ")


def test_progress_in_whole_lines_never_leaves_a_line_open():
    """Worker processes share a terminal: every write is whole lines, the end line names its step."""
    g, stream = Graph(), io.StringIO()
    writes = []
    stream.write = lambda text, w=stream.write: writes.append(text) or w(text)
    first = g.add("first", lambda: 1)
    g.add("second", lambda x: 2, first)
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
    from mobilesdk.capture import capture
    from mobilesdk.golden import golden_cases
    from mobilesdk.models import build_model
    from mobilesdk.pipeline.build import Captured, ConvertJob, Golden, Loaded, convert_step
    from mobilesdk.pipeline.cache import Cache

    class Raising(Converter):
        name, precisions = "raising", ("fp32",)

        def __init__(self, error):
            self.error = error

        def versions(self):
            return {}

        def write(self, ep, ctx, precision, out_dir):
            raise self.error

    module, spec = build_model("textclf", "tiny")
    cases = golden_cases(spec)
    loaded, golden = Loaded(module, spec), Golden(cases, [], [])
    captured = Captured(capture(module, spec, cases[0].inputs), [])
    cache = Cache.default(enabled=False)

    def job(error):
        return ConvertJob("m", Raising(error), "fp32", tmp_path, {})

    result = convert_step(job(RuntimeError("Constraints violated (samples)!\nmore")), loaded, golden, captured, cache)
    assert result.converted is None and result.summary == "FAILED"
    assert result.error == "`raising` fp32 conversion raised RuntimeError: Constraints violated (samples)!"
    with pytest.raises(InternalError):
        convert_step(job(InternalError("our bug")), loaded, golden, captured, cache)
