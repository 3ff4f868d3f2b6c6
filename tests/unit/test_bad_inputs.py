"""Every input a user can get wrong, through `mobilesdk build` as a user runs it (issue 18).

Each case writes a config (and the files it names) and expects exit 2, exactly one error line on
stderr naming the input and the fix (the build's own progress lines `[i/n] step ...` aside), no
traceback, and nothing written where the bundle would go. The CLI runs in-process (`cli.main`): an
uncaught exception would fail the test just as a traceback would fail a user. Formats are `onnx`,
the fastest converter, and almost every case stops before any conversion.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilesdk import cli

PROGRESS = re.compile(r"^\[\s*\d+/\d+\] ")
FIXTURES = "tests.fixtures.small_models"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """`run(config_text, *args)`: (exit code, error lines, non-progress stderr) of `mobilesdk build`
    run from tmp_path/proj with the config there, a cache in tmp_path/cache, --out tmp_path/out."""
    proj = tmp_path / "proj"
    proj.mkdir()
    monkeypatch.chdir(proj)
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.setenv("MOBILESDK_CACHE", str(tmp_path / "cache"))
    handler = signal.getsignal(signal.SIGTERM)

    def go(text: str, *args: str):
        (proj / "bundle.toml").write_text(text)
        out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
        capsys.readouterr()
        try:
            code = cli.main(["build", str(proj / "bundle.toml"), *out, *args])
        finally:
            signal.signal(signal.SIGTERM, handler)
        err = capsys.readouterr().err
        return code, [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)], err

    return go


def head(formats=("onnx",)) -> str:
    return f"[bundle]\nformats = {list(formats)!r}\nprecisions = ['fp32']\ncalibration_batches = 2\n"


def factory(name: str) -> str:
    return head() + f"[models.a]\nfactory = '{FIXTURES}:{name}'\n"


def textclf(extra: str) -> str:
    return head() + f"[models.a]\nfamily = 'textclf'\n{extra}\n"


def state_dict() -> dict[str, torch.Tensor]:
    from mobilesdk.models import build_model

    return build_model("textclf", "tiny")[0].state_dict()


def _missing_and_extra(proj: Path):
    sd = state_dict()
    for k in list(sd)[:7]:
        del sd[k]
    sd["head.extra.weight"] = torch.zeros(2)
    torch.save(sd, proj / "w.pt")


def _wrong_shapes(proj: Path):
    sd = state_dict()
    for k in [k for k, v in sd.items() if v.dim() == 2][:2]:
        sd[k] = torch.zeros(sd[k].shape[0] + 1, sd[k].shape[1])
    torch.save(sd, proj / "w.pt")


def _wav(path: Path, channels: int):
    from scipy.io import wavfile

    path.parent.mkdir(exist_ok=True)
    wavfile.write(path, 16000, (np.random.default_rng(0).standard_normal((16000, channels)) * 3000).astype(np.int16))


# (id, config, files to create in the project folder, what the one error line must contain)
CASES = [
    ("malformed-toml", "[models.a\nfamily = 'textclf'\n", None, ["bundle.toml` is not valid TOML", "line 1", "Fix:"]),
    ("unknown-model-key", textclf("chekpoint = 'w.pt'"), None, ["[models.a]", "unknown key `chekpoint`", "did you mean `checkpoint`"]),
    ("unknown-bundle-key", "[bundle]\nformat = ['onnx']\n[models.a]\nfamily = 'textclf'\n", None,
     ["[bundle]", "unknown key `format`", "did you mean `formats`"]),
    ("unknown-family", head() + "[models.a]\nfamily = 'textclassifier'\n", None,
     ["unknown model family `textclassifier`", "Fix: use one of", "textclf"]),
    ("unknown-preset", textclf("preset = 'huge'"), None, ["has no preset `huge`", "Fix: use one of", "tiny"]),
    ("unknown-format", "[bundle]\nformats = ['tflight']\n[models.a]\nfamily = 'textclf'\n", None,
     ["`formats` has unknown entry 'tflight'", "did you mean 'tflite'", "choose from"]),
    ("unknown-precision", "[bundle]\nformats = ['onnx']\nprecisions = ['fp23']\n[models.a]\nfamily = 'textclf'\n", None,
     ["`precisions` has unknown entry 'fp23'", "did you mean 'fp32'"]),
    ("factory-module-missing", head() + "[models.a]\nfactory = 'no_such_module:make'\n", None,
     ["factory `no_such_module:make` cannot be imported", "ModuleNotFoundError", "Fix:"]),
    ("factory-syntax-error", head() + "[models.a]\nfactory = 'broken_syntax:make'\n",
     lambda p: (p / "broken_syntax.py").write_text("def make(:\n    pass\n"),
     ["factory `broken_syntax:make` cannot be imported", "SyntaxError", "Fix:"]),
    ("factory-import-raises", head() + "[models.a]\nfactory = 'raises_on_import:make'\n",
     lambda p: (p / "raises_on_import.py").write_text("import os\nWEIGHTS = os.environ['NO_SUCH_VARIABLE_HERE']\n"),
     ["factory `raises_on_import:make` cannot be imported", "KeyError", "Fix:"]),
    ("factory-function-missing", factory("no_such_function"), None, ["cannot be imported", "AttributeError", "Fix:"]),
    ("factory-raises", factory("raises"), None, ["factory", "raised RuntimeError: weights not found", "Fix:"]),
    ("factory-returns-wrong", factory("not_a_pair"), None, ["returned Tiny", "Fix: return (torch.nn.Module, mobilesdk.spec.ModelSpec)"]),
    ("checkpoint-missing", textclf("checkpoint = 'w.pt'"), None, ["proj/w.pt` does not exist", "Fix:", "relative to the config"]),
    ("checkpoint-unreadable", textclf("checkpoint = 'w.pt'"), lambda p: (p / "w.pt").write_bytes(b"not a checkpoint" * 10),
     ["cannot read checkpoint", "w.pt", "Fix: save it with torch.save(model.state_dict()"]),
    ("checkpoint-keys", textclf("checkpoint = 'w.pt'"), _missing_and_extra,
     ["w.pt` does not fit", "missing keys `", "… and 2 more", "unexpected keys `head.extra.weight`", "Fix:"]),
    ("checkpoint-shapes", textclf("checkpoint = 'w.pt'"), _wrong_shapes, ["w.pt` does not fit", "shape mismatch `", "expected (", "Fix:"]),
    ("spec-output-shape", factory("wrong_width"), None,
     ["[models.a] output `y` is (4, 8, 4) float32 where the spec says ['batch', 'frames', 5]", "Fix:"]),
    ("spec-output-dtype", factory("wrong_dtype"), None, ["[models.a] output `y` is (4, 8, 4) int64", "float32", "Fix:"]),
    ("spec-inputs", factory("wrong_input"), None, ["[models.a] forward() fails on the spec's inputs (x (4, 8, 8) float32)", "Fix:"]),
    ("spec-override", textclf("[models.a.spec]\ndims = [{ name = 'batch', min = 4, max = 1 }]"), None,
     ["[models.a.spec] does not make a valid spec", "dim `batch` needs 0 < min <= max", "Fix:"]),
    ("audio-stereo", head() + "[models.a]\nfamily = 'enhancer'\naudio = 'clips'\n", lambda p: _wav(p / "clips/a.wav", 2),
     ["clips/a.wav has 2 channels", "Fix: mix it down"]),
    ("audio-not-wav", head() + "[models.a]\nfamily = 'enhancer'\naudio = 'clips'\n",
     lambda p: (p / "clips").mkdir() or (p / "clips/a.wav").write_text("RIFF? no"), ["clips/a.wav is not a WAV file", "Fix: convert it"]),
    ("sentences-not-jsonl", textclf("tokenizer = 'tok.json'\nsentences = 's.jsonl'"),
     lambda p: (_tokenizer(p / "tok.json"), (p / "s.jsonl").write_text('{"txt": "hello"}\n')),
     ["sentences file", "s.jsonl` is not JSON lines with a \"text\" field", "Fix:"]),
]


def _tokenizer(path: Path):
    from mobilesdk.text.tokenizer import train_wordpiece

    train_wordpiece(["hello world", "说实话 I like it"], vocab_size=100, min_frequency=1).save(str(path))


@pytest.mark.parametrize("config, setup, expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_is_one_line_naming_it_and_the_fix(run, tmp_path, config, setup, expect):
    if setup:
        setup(tmp_path / "proj")
    code, errors, err = run(config)
    assert code == 2, err
    assert len(errors) == 1 and errors[0].startswith("error: "), err
    for part in expect:
        assert part in errors[0], f"{part!r} not in {errors[0]!r}"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) in (["proj"], ["cache", "proj"])  # no out, no staging


def _config_folder(tmp_path):
    return tmp_path / "proj"


def _cache_parent(tmp_path):
    (tmp_path / "shared/cache").mkdir(parents=True)
    os.environ["MOBILESDK_CACHE"] = str(tmp_path / "shared/cache")  # monkeypatched by `run`, restored after
    return tmp_path / "shared"


def _a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    return tmp_path / "notes.txt"


@pytest.mark.parametrize("where, expect", [
    (lambda t: Path("/proc/no/such/bundle"), "cannot write the bundle at `/proc/no/such/bundle`"),
    (_config_folder, "exists and is not a bundle"),
    (_cache_parent, "exists and is not a bundle"),
    (_a_file, "exists and is not a bundle"),
], ids=["not-creatable", "config-folder", "parent-of-cache", "a-file"])
def test_an_output_directory_that_cannot_or_must_not_be_written_is_refused(run, tmp_path, where, expect):
    out = where(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, errors, err = run(factory("tiny"), "--out", str(out))
    assert code == 2 and len(errors) == 1 and expect in errors[0] and "Fix: pass --out" in errors[0], err
    assert "Traceback" not in err and not any(PROGRESS.match(line) for line in err.splitlines())  # before any work
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.name != "bundle.toml")
    assert after == [p for p in before if p.name != "bundle.toml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory; /proc stands in above")
def test_an_output_directory_without_write_permission_is_refused(run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, errors, err = run(factory("tiny"), "--out", str(locked / "bundle"))
    finally:
        locked.chmod(0o755)
    assert code == 2 and len(errors) == 1 and "cannot write the bundle at" in errors[0], err
    assert list(locked.iterdir()) == []


def test_a_full_disk_names_the_file_and_keeps_the_previous_bundle(run, tmp_path, monkeypatch):
    """A full disk while an artifact is written. No tiny filesystem can be mounted here, so the
    artifact's write is made to fail as the OS fails it: half the file written, then OSError(ENOSPC)
    from write(), which names no file. The build must stop with one line naming the artifact, not
    turn it into a failed cell, and the bundle from before must stay whole and verifiable."""
    from converters.base import get

    code, _, err = run(factory("tiny"))
    assert code == 0, err
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full_disk(self, ep, ctx, precision, out_dir):
        with open(out_dir / "model.onnx", "wb") as f:
            f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(type(get("onnx")), "write", full_disk)
    code, errors, err = run(factory("tiny"), "--no-cache")
    assert code == 2 and len(errors) == 1, err
    assert "could not write `" + str(out / "models/a/onnx/fp32") in errors[0]
    assert "No space left on device" in errors[0] and "the bundle at" in errors[0] and "Traceback" not in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out", "proj"]  # staging removed
    r = subprocess.run([sys.executable, "-m", "mobilesdk.cli", "verify", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("victim", ["report.md", "main.npz"])
def test_a_full_disk_while_writing_a_bundle_file_names_that_file(run, tmp_path, monkeypatch, victim):
    """The same full disk while the report or a golden file is written (write() fails, naming no
    file): the one line names the file in the bundle, and the previous bundle stays."""
    code, _, err = run(factory("tiny"))
    assert code == 0, err
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_text, real_bytes = Path.write_text, Path.write_bytes

    def fail_on_victim(real):
        def write(self, data, *a, **kw):
            if self.name == victim:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(self, data, *a, **kw)
        return write

    monkeypatch.setattr(Path, "write_text", fail_on_victim(real_text))
    monkeypatch.setattr(Path, "write_bytes", fail_on_victim(real_bytes))
    code, errors, err = run(factory("tiny"), "--no-cache")
    assert code == 2 and len(errors) == 1, err
    assert f"could not write `{out}/" in errors[0] and victim in errors[0] and "No space left" in errors[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
