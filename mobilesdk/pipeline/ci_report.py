"""What `build`, `verify`, `check` and `compare` found, in the formats CI systems read.

Each command turns its findings into Outcomes, one per artifact x check (model.format.precision x
"parity logits", "reference logits", "mask-suite pad_length", ...), with the numbers in the message.
From them: `--junit FILE` (one <testsuite>, validated in the tests against Jenkins' junit-10.xsd,
which GitLab and the GitHub test reporters read too), `--json FILE` (a summary and every outcome),
and, when GITHUB_ACTIONS is set, one `::error` annotation per failure on stdout.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mobilesdk.manifest import Artifact, Manifest, OutputParity

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Outcome:
    group: str  # JUnit classname: model.format.precision, or what was checked (bundle, device results)
    name: str  # the check
    status: str  # pass | fail | skip
    message: str  # the numbers, or why it failed or was skipped


def row_message(p: OutputParity) -> str:
    text = f"SQNR {p.sqnr_db:.1f} dB (min {p.min_sqnr_db:g})"
    if p.agreement is not None:
        text += f", agreement {p.agreement:.4f} (min {p.min_agreement:g})"
    return text


def rows_outcomes(group: str, rows: list[OutputParity], given: list[OutputParity], judged: bool = True) -> list[Outcome]:
    """One outcome per parity row against PyTorch and per row against the user's reference outputs;
    a row that is not judged (a diagnostic artifact) is skipped, its numbers kept."""
    out = []
    for kind, ps in (("parity", rows), ("reference", given)):
        for p in ps:
            status = PASS if p.passed else FAIL if judged else SKIP
            out.append(Outcome(group, f"{kind} {p.output}", status, row_message(p)))
    return out


def artifact_outcomes(model: str, a: Artifact) -> list[Outcome]:
    group = f"{model}.{a.format}.{a.precision}"
    if not a.parity:
        return [Outcome(group, "convert" if not a.files else "parity", SKIP if a.diagnostic else FAIL, a.note)]
    out = rows_outcomes(group, a.parity, a.reference_parity, judged=not a.diagnostic)
    for s in a.semantics:
        status = SKIP if not s.applicable or a.diagnostic else PASS if s.passed else FAIL
        numbers = "" if s.sqnr_db is None else f"SQNR {s.sqnr_db:.1f} dB; "
        out.append(Outcome(group, f"mask-suite {s.check}", status, numbers + s.detail))
    return out


def manifest_outcomes(m: Manifest) -> list[Outcome]:
    return [o for model in m.models for a in model.artifacts for o in artifact_outcomes(model.name, a)]


def write(outcomes: list[Outcome], command: str, junit: str | None, json_path: str | None) -> None:
    """The files asked for (each written whole or not at all), and annotations under GitHub Actions."""
    if junit:
        _atomic(Path(junit), lambda tmp: _junit(outcomes, command).write(str(tmp), pretty=True))
    if json_path:
        _atomic(Path(json_path), lambda tmp: tmp.write_text(json.dumps(summary(outcomes, command), indent=2) + "\n"))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(outcomes, command):
            print(line)


def summary(outcomes: list[Outcome], command: str) -> dict:
    counts = {s: sum(o.status == s for o in outcomes) for s in (PASS, FAIL, SKIP)}
    return {"command": command, "passed": counts[FAIL] == 0, "counts": counts,
            "failures": [asdict(o) for o in outcomes if o.status == FAIL], "outcomes": [asdict(o) for o in outcomes]}


def annotations(outcomes: list[Outcome], command: str) -> list[str]:
    """GitHub's workflow commands: `::error title=...::message`, with its escapes (% CR LF; and : , in properties)."""
    def esc(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    return [f"::error title={esc(f'mobilesdk {command}: {o.group} {o.name}', prop=True)}::{esc(o.message)}"
            for o in outcomes if o.status == FAIL]


def _junit(outcomes: list[Outcome], command: str):
    from junitparser import Failure, Skipped, TestCase, TestSuite

    suite = TestSuite(f"mobilesdk {command}")
    for o in outcomes:
        case = TestCase(o.name, classname=o.group, time=0)
        if o.status == FAIL:
            case.result = [Failure(o.message)]
        elif o.status == SKIP:
            case.result = [Skipped(o.message)]
        else:
            case.system_out = o.message
        suite.add_testcase(case)
    suite.update_statistics()
    return suite  # a <testsuite> root: junit-10.xsd has no `skipped` on <testsuites>, which junitparser writes


def _atomic(path: Path, write_to) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_to(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
