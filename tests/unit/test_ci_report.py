"""CI outputs: GitHub annotations, the JSON summary, the JUnit file from a manifest, and the example
workflow, whose every `mobilesdk` command must parse with the real command line."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

from mobilesdk.cli import parser
from mobilesdk.pipeline import ci_report
from mobilesdk.pipeline.ci_report import FAIL, PASS, SKIP, Outcome
from tests.fixtures.junit import junit_errors

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/bundle.yml"
OUTCOMES = [
    Outcome("m.tflite.fp32", "parity logits", PASS, "SQNR 80.0 dB (min 60)"),
    Outcome("m.tflite.fp32", "reference logits", FAIL, "SQNR 3.0 dB (min 60)\nagreement 0.5: 50%, of rows"),
    Outcome("m.tflite.fp32", "mask-suite shape_sweep", SKIP, "no dynamic dim"),
]


def test_annotations_are_one_line_each_with_github_escapes():
    lines = ci_report.annotations(OUTCOMES, "build")
    assert lines == ["::error title=mobilesdk build%3A m.tflite.fp32 reference logits::"
                     "SQNR 3.0 dB (min 60)%0Aagreement 0.5: 50%25, of rows"]


def test_files_are_written_whole_and_the_summary_counts(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    ci_report.write(OUTCOMES, "verify", str(tmp_path / "r/j.xml"), str(tmp_path / "r/s.json"))
    assert capsys.readouterr().out == ""  # annotations only under GitHub Actions
    assert junit_errors(tmp_path / "r/j.xml") == []
    summary = json.loads((tmp_path / "r/s.json").read_text())
    assert summary["counts"] == {"pass": 1, "fail": 1, "skip": 1} and summary["passed"] is False
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["j.xml", "s.json"]  # no temporaries left

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    ci_report.write(OUTCOMES, "verify", None, None)
    assert capsys.readouterr().out.startswith("::error title=mobilesdk verify")


def _mobilesdk_commands(run: str, env: dict) -> list[list[str]]:
    """The `.venv/bin/mobilesdk ...` lines of a run block, variables expanded as the shell would here."""
    commands = []
    for line in run.splitlines():
        if ".venv/bin/mobilesdk" not in line:
            continue
        line = line.replace('"${ref[@]}"', f"--reference {env['REFERENCE']}")
        line = re.sub(r'"?\$(\w+)"?', lambda m: env[m.group(1)], line)
        commands.append(shlex.split(line.split(".venv/bin/mobilesdk", 1)[1]))
    return commands


def test_the_example_workflow_runs_commands_the_cli_accepts():
    flow = yaml.safe_load(WORKFLOW.read_text())
    env = flow["env"]
    steps = flow["jobs"]["bundle"]["steps"]
    commands = [c for s in steps if "run" in s for c in _mobilesdk_commands(s["run"], env)]
    assert [c[0] for c in commands] == ["build", "verify", "compare"]
    reports = []
    for argv in commands:
        args = parser().parse_args(argv)  # exits (fails the test) on an unknown flag
        reports += [Path(p) for p in (args.junit, args.json_summary) if p]
    assert (ROOT / env["CONFIG"]).is_file() and len(reports) == 4
    uploaded = [s["with"]["path"] for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert all(str(r).startswith(uploaded[1].rstrip("/")) for r in reports)  # every report is uploaded
    cached = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert cached["with"]["path"] == "${{ env.MOBILESDK_CACHE }}" and "MOBILESDK_CACHE" in env
