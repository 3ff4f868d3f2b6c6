"""Faults and tampering (issue 18), on one small bundle built once for the module: two tiny models
(tests/fixtures/small_models.py: `tiny` and `other`, with different outputs) as ONNX, the fastest
converter.

Tampering: each case changes a copy of the bundle the way a careless tool or a hostile one would and
expects `mobilesdk verify` to exit 1 with one `error:` line naming the damage (exit 2 for a manifest
that is not one), and no traceback. Where a naive edit is already caught by the hashes, the case also
re-records the manifest's sha256 and size, so the deeper check must catch it.

Faults: `kill -9` and Ctrl-C of a real `build -j 2` while its workers convert.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from converters.base import get
from mobilesdk import cli

pytestmark = pytest.mark.skipif(get("onnx").check() is not None, reason=str(get("onnx").check()))

CONFIG = """
[bundle]
formats = ["onnx"]
precisions = ["fp32"]
calibration_batches = 2

[models.tiny]
factory = "tests.fixtures.small_models:tiny"

[models.other]
factory = "tests.fixtures.small_models:other"
"""
REPO = Path(__file__).resolve().parents[2]
TINY = "models/tiny/onnx/fp32/model.onnx"
OTHER = "models/other/onnx/fp32/model.onnx"
GOLDEN = "golden/tiny/main.npz"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    handler = signal.getsignal(signal.SIGTERM)
    capsys.readouterr()
    try:
        code = cli.main([*map(str, args)])
    finally:
        signal.signal(signal.SIGTERM, handler)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("small")
    (tmp / "bundle.toml").write_text(CONFIG)
    env = {**os.environ, "MOBILESDK_CACHE": str(tmp / "cache"), "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "mobilesdk.cli", "build", str(tmp / "bundle.toml"), "--out", str(tmp / "bundle")],
                       capture_output=True, text=True, env=env, cwd=REPO)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "bundle"


@pytest.fixture
def copy(bundle, tmp_path) -> Path:
    shutil.copytree(bundle, tmp_path / "b", symlinks=True)
    return tmp_path / "b"


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def save(root: Path, m: dict) -> None:
    (root / "manifest.json").write_text(json.dumps(m, indent=2))


def rerecord(root: Path, *rels: str) -> None:
    """A tamperer's cover-up: the manifest's sha256 and size of `rels` made those of the files now,
    and the bindings (which embed the manifest's facts) generated again from it."""
    from mobilesdk.pipeline import bindings
    from mobilesdk.pipeline.verify import read_manifest

    m = manifest(root)
    for f in m["files"]:
        if f["path"] in rels:
            f["sha256"] = hashlib.sha256((root / f["path"]).read_bytes()).hexdigest()
            f["size"] = (root / f["path"]).stat().st_size
    save(root, m)
    bindings.write(root, read_manifest(root))


def model(m: dict, name: str) -> dict:
    return next(x for x in m["models"] if x["name"] == name)


# --- tampering: (id, edit(root, outside), expected code, a substring of one error line) -------------

def _input_shape(root, _):
    m = manifest(root)
    model(m, "tiny")["inputs"][0]["shape"] = ["batch", "frames", 9]
    save(root, m)


def _threshold(root, _):
    m = manifest(root)
    model(m, "tiny")["artifacts"][0]["parity"][0]["min_sqnr_db"] = 1.0
    save(root, m)


def _passed(root, _):
    m = manifest(root)
    model(m, "other")["artifacts"][0]["passed"] = False
    save(root, m)


def _sha(root, _):
    m = manifest(root)
    next(f for f in m["files"] if f["path"] == TINY)["sha256"] = "0" * 64
    save(root, m)


def _golden(root, _, cover: bool):
    with np.load(root / GOLDEN) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["output.y"] = arrays["output.y"] + 0.5
    with open(root / GOLDEN, "wb") as f:
        np.savez(f, **arrays)
    if cover:
        rerecord(root, GOLDEN)


def _swap(root, _, cover: bool):
    a, b = (root / TINY).read_bytes(), (root / OTHER).read_bytes()
    (root / TINY).write_bytes(b)
    (root / OTHER).write_bytes(a)
    if cover:
        rerecord(root, TINY, OTHER)


def _truncate(root, _):
    data = (root / TINY).read_bytes()
    (root / TINY).write_bytes(data[: len(data) // 2])


def _extra(root, _):
    (root / "models/tiny/notes.txt").write_text("hello")


def _missing(root, _):
    (root / OTHER).unlink()


def _symlink_file(root, outside):
    shutil.copy(root / GOLDEN, outside / "main.npz")  # the same bytes: only the link itself is wrong
    (root / GOLDEN).unlink()
    (root / GOLDEN).symlink_to(outside / "main.npz")


def _symlink_dir(root, outside):
    shutil.copytree(root / "models/tiny", outside / "tiny")
    shutil.rmtree(root / "models/tiny")
    (root / "models/tiny").symlink_to(outside / "tiny", target_is_directory=True)


def _escape_files(root, outside):
    (outside / "x.bin").write_bytes(b"outside")
    m = manifest(root)
    m["files"].append({"path": "../outside/x.bin", "sha256": hashlib.sha256(b"outside").hexdigest(), "size": 7})
    save(root, m)


def _escape_golden(root, outside):
    shutil.copy(root / GOLDEN, outside / "main.npz")
    m = manifest(root)
    model(m, "tiny")["golden"][0]["path"] = "../outside/main.npz"
    save(root, m)


def _not_json(root, _):
    (root / "manifest.json").write_text('{"schema_version": ')


TAMPERING = [
    ("manifest-input-shape", _input_shape, 1, "model `tiny`: the manifest's inputs differ from `models/tiny/spec.json`"),
    ("manifest-threshold", _threshold, 1, "tiny/onnx/fp32: the manifest's threshold for `y` is not the spec's"),
    ("manifest-passed", _passed, 1, "other/onnx/fp32: the manifest says failed, its rows say otherwise"),
    ("manifest-sha256", _sha, 1, f"`{TINY}` does not match its sha256"),
    ("golden-output", lambda r, o: _golden(r, o, False), 1, f"`{GOLDEN}` does not match its sha256"),
    ("golden-output-rerecorded", lambda r, o: _golden(r, o, True), 1, "tiny/onnx/fp32: `" + TINY + "` fails parity: y SQNR"),
    ("artifacts-swapped", lambda r, o: _swap(r, o, False), 1, f"`{OTHER}` has "),
    ("artifacts-swapped-rerecorded", lambda r, o: _swap(r, o, True), 1, f"tiny/onnx/fp32: `{TINY}` failed to run"),
    ("truncated-artifact", _truncate, 1, f"`{TINY}` has "),
    ("extra-file", _extra, 1, "`models/tiny/notes.txt` is not listed in the manifest"),
    ("missing-file", _missing, 1, f"`{OTHER}` is missing"),
    ("symlink-file-outside", _symlink_file, 1, f"`{GOLDEN}` is a symbolic link to `"),
    ("symlink-dir-outside", _symlink_dir, 1, "`models/tiny` is a symbolic link to `"),
    ("manifest-path-escapes", _escape_files, 1, "`../outside/x.bin` in the manifest points outside the bundle"),
    ("golden-path-escapes", _escape_golden, 1, "model `tiny` golden `main` `../outside/main.npz` points outside the bundle"),
    ("manifest-not-json", _not_json, 2, "manifest.json` is not valid JSON"),
]


@pytest.mark.parametrize("edit, code, expect", [c[1:] for c in TAMPERING], ids=[c[0] for c in TAMPERING])
def test_verify_names_the_tampering(copy, tmp_path, capsys, edit, code, expect):
    (tmp_path / "outside").mkdir()
    edit(copy, tmp_path / "outside")
    got, _, err = run_cli(capsys, "verify", copy)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert got == code and "Traceback" not in err, err
    assert any(expect in line for line in errors), err
    assert code == 1 or len(errors) == 1, err


def test_verify_accepts_the_untouched_bundle_and_its_copy(copy, capsys):
    code, out, err = run_cli(capsys, "verify", copy)
    assert code == 0 and out.rstrip().endswith(": OK"), err


# --- faults --------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the -j workers, multiprocessing's helpers)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _start_build(config: Path, out: Path, cache: Path):
    """`build -j 2` in its own process group (as a terminal runs it); returns once its workers run."""
    env = {**os.environ, "MOBILESDK_CACHE": str(cache), "PYTHONPATH": str(REPO)}
    p = subprocess.Popen([sys.executable, "-m", "mobilesdk.cli", "build", str(config), "--out", str(out), "-j", "2", "--no-cache"],
                         stderr=subprocess.PIPE, text=True, env=env, cwd=REPO, start_new_session=True)
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stderr.readline()
        seen.append(line)
        if re.match(r"\[\s*\d+/\d+\] (load|golden)/", line):  # a worker is building
            return p, _children(p.pid), seen
        assert line, "".join(seen)
    raise AssertionError("no worker started: " + "".join(seen))


def _wait_gone(pids: list[int], seconds: float = 15) -> list[int]:
    deadline = time.time() + seconds
    while any(map(_alive, pids)) and time.time() < deadline:
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def test_kill_9_then_ctrl_c_keep_the_previous_bundle_and_leave_no_process_or_staging(copy, tmp_path, capsys):
    """kill -9 of the parent: its workers exit by themselves, its staging directory stays (nothing
    can run in a killed process), the bundle is intact. The next build removes that staging directory;
    Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops it with one line, its
    workers gone, its own staging removed, and the bundle still intact and verifiable."""
    (tmp_path / "bundle.toml").write_text(CONFIG)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}

    p, workers, _ = _start_build(tmp_path / "bundle.toml", copy, tmp_path / "cache")
    assert len(workers) >= 2, workers
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert _wait_gone(workers) == [], "a worker outlived its killed parent"
    assert (tmp_path / f".b.tmp-{p.pid}").is_dir()
    assert {q: q.read_bytes() for q in copy.rglob("*") if q.is_file()} == before

    p, workers, seen = _start_build(tmp_path / "bundle.toml", copy, tmp_path / "cache")
    os.killpg(p.pid, signal.SIGINT)
    err = "".join(seen) + p.communicate(timeout=60)[1]
    assert p.returncode == 130 and "interrupted; nothing was written" in err and "Traceback" not in err, err
    assert _wait_gone(workers) == []
    assert sorted(q.name for q in tmp_path.iterdir() if q.name.startswith(".")) == []  # both staging dirs gone
    assert {q: q.read_bytes() for q in copy.rglob("*") if q.is_file()} == before
    code, _, err = run_cli(capsys, "verify", copy)
    assert code == 0, err
