"""`build --shard i/n` and `merge` (issue 19): the shards of a build, joined, make the bundle an
unsharded build makes (conversion times aside), with the conversion cache shared between the jobs
as a CI fleet would share it; and the joins that must not happen are one-line errors."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_build_verify import cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[bundle]
name = "fleet"
formats = ["executorch", "onnx"]
precisions = ["fp32", "int8-dynamic"]

[models.good]
factory = "tests.fixtures.masked_models:good"

[models.other]
factory = "tests.fixtures.masked_models:finfo_min_mask"
skip = ["onnx/fp32"]
"""


def without_times(manifest: dict) -> dict:
    for model in manifest["models"]:
        for a in model["artifacts"]:
            a["meta"].pop("seconds", None)
    return manifest


def env_of(tmp: Path) -> dict:
    return {**os.environ, "MOBILESDK_CACHE": f"file://{tmp / 'cache'}"}  # the fleet's shared cache


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    (tmp / "bundle.toml").write_text(CONFIG)
    for i in (1, 2):
        r = cli("build", tmp / "bundle.toml", "--shard", f"{i}/2", "--out", tmp / f"shard{i}", cwd=ROOT, env=env_of(tmp))
        assert r.returncode == 0, r.stderr[-2000:]
    r = cli("build", tmp / "bundle.toml", "--out", tmp / "whole", cwd=ROOT, env=env_of(tmp))
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp


def test_each_shard_builds_its_share_and_the_merge_equals_the_whole_build(built):
    cells = [[f"{m['name']}/{a['format']}/{a['precision']}" for m in json.loads((built / f"shard{i}/manifest.json").read_text())["models"]
              for a in m["artifacts"]] for i in (1, 2)]
    # 5 cells (ONNX has fp32 only; `other` skips it), every other one: the shards mix models and formats
    assert cells == [["good/executorch/fp32", "good/onnx/fp32", "other/executorch/int8-dynamic"],
                     ["good/executorch/int8-dynamic", "other/executorch/fp32"]]
    r = cli("merge", built / "shard2", built / "shard1", "--out", built / "merged")
    assert r.returncode == 0, r.stderr
    assert "2 shards, 2 models, 5 artifacts, all parity checks passed" in r.stdout
    merged = json.loads((built / "merged/manifest.json").read_text())
    whole = json.loads((built / "whole/manifest.json").read_text())
    assert without_times(merged) == without_times(whole)  # files (sha256 of every artifact, report, pictures) included
    assert cli("verify", built / "merged").returncode == 0


def test_joins_that_must_not_happen_are_exit_2(built, tmp_path):
    def merge(*dirs):
        r = cli("merge", *dirs, "--out", tmp_path / "out")
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Fix:" in r.stderr, r.stderr
        assert not (tmp_path / "out").exists()
        return r.stderr

    assert "shard 2/2 is missing" in merge(built / "shard1")
    assert "is a whole bundle, not a shard" in merge(built / "shard1", built / "whole")
    assert "passed twice" in merge(built / "shard1", built / "shard1", built / "shard2")
    damaged = tmp_path / "damaged"
    shutil.copytree(built / "shard2", damaged)
    golden = bytearray((damaged / "golden/good/main.npz").read_bytes())
    golden[len(golden) // 2] ^= 0xFF
    (damaged / "golden/good/main.npz").write_bytes(bytes(golden))
    assert "does not match its manifest" in merge(built / "shard1", damaged)


def test_jobs_build_a_models_formats_apart_and_join_them_as_one_build(built):
    """--jobs 2 hands out each model's formats as separate units (`build.work_units`); joined, they make
    the single-process build's manifest, shared files included. Every cell is in the shared cache by
    now, so this checks the split and the join, not the conversions."""
    from mobilesdk.pipeline import load_config
    from mobilesdk.pipeline.build import work_units

    units = work_units(load_config(built / "bundle.toml"))
    assert [(mc.name, sorted(set(mc.skip)), first) for mc, first in units] == [
        ("good", ["onnx/fp32"], True), ("good", ["executorch/fp32", "executorch/int8-dynamic"], False),
        ("other", ["onnx/fp32"], True)]
    r = cli("build", built / "bundle.toml", "--jobs", "2", "--out", built / "jobs2", cwd=ROOT, env=env_of(built))
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(re.findall(r"capture/good \.\.\. [\d.]+s", r.stderr)) == 2  # one capture step per unit of `good`
    whole = json.loads((built / "whole/manifest.json").read_text())
    assert without_times(json.loads((built / "jobs2/manifest.json").read_text())) == without_times(whole)
