import io
import os
from pathlib import Path

import pytest

from mobilesdk.errors import BundleError, InternalError
from mobilesdk.pipeline.bundle import check_out, staging
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
    from mobilesdk.pipeline.cache import program_digest
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
    ep = capture(module, spec, cases[0].inputs)
    captured = Captured(program_digest(ep), "", [], _ep=ep)
    cache = Cache.default(enabled=False)

    def job(error):
        return ConvertJob("m", Raising(error), "fp32", tmp_path, {})

    result = convert_step(job(RuntimeError("Constraints violated (samples)!\nmore")), loaded, golden, captured, cache)
    assert result.converted is None and result.summary == "FAILED"
    assert result.error == "`raising` fp32 conversion raised RuntimeError: Constraints violated (samples)!"
    with pytest.raises(InternalError):
        convert_step(job(InternalError("our bug")), loaded, golden, captured, cache)


def test_an_output_directory_that_is_not_a_bundle_or_cannot_be_written_is_refused_before_any_work(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project/bundle.toml").write_text("[bundle]\n")  # the config's own folder: staging would replace it
    (tmp_path / "file").write_text("x")
    (tmp_path / "old").mkdir()
    (tmp_path / "old/manifest.json").write_text("{}")  # an earlier bundle is replaced, as a build should
    for out, message in ((tmp_path / "project", "exists and is not a bundle"), (tmp_path / "file", "exists and is not a bundle"),
                         (tmp_path / "file/sub", "cannot write the bundle at"), (Path("/proc/forbidden/x"), "cannot write")):
        with pytest.raises(BundleError, match=message):
            check_out(out)
    assert (tmp_path / "project/bundle.toml").read_text() == "[bundle]\n"
    for ok in (tmp_path / "new/bundle", tmp_path / "old", tmp_path / "empty"):
        check_out(ok)
    assert not list(tmp_path.glob(".*probe*")) and not list((tmp_path / "new").iterdir())


def test_staging_removes_what_killed_builds_left_but_not_a_running_builds_directory(tmp_path):
    gone = tmp_path / ".bundle.tmp-999999999"  # above any pid Linux hands out: that build is gone
    alive = tmp_path / f".bundle.tmp-{os.getppid()}"  # pytest's parent: running
    for d in (gone, alive):
        d.mkdir()
    with staging(tmp_path / "bundle") as root:
        (root / "manifest.json").write_text("{}")
    assert not gone.exists() and alive.is_dir() and (tmp_path / "bundle/manifest.json").is_file()


def test_a_worker_ends_when_its_parent_is_killed(tmp_path):
    """What -j N workers do (build._worker_init): a parent killed with -9 leaves no orphan converting on."""
    import signal
    import subprocess
    import sys
    import time

    child = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import os, time; from mobilesdk.pipeline.build import exit_with_parent; "
        f"exit_with_parent(os.getppid()); open(r\"{child}\", \"w\").write(str(os.getpid())); time.sleep(120)'])\n"
        "time.sleep(120)")])
    deadline = time.time() + 60
    while not (child.exists() and child.read_text()) and time.time() < deadline:
        time.sleep(0.2)
    pid = int(child.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), "the worker outlived its killed parent"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # an exited child not yet reaped by init counts as gone
        return f.read().split()[2] != "Z"
