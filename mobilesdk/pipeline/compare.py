"""`mobilesdk compare OLD NEW`: what changed between two bundles, cell by cell, and whether it regressed.

Per model x format x precision of OLD: the change in each output's SQNR and agreement, the size, and
the mask-suite rows that pass. A cell regresses when an output's SQNR drops by more than
`max_drop_db`, its agreement drops by more than `max_drop_agreement`, it passed and now fails, a
mask-suite row that passed now fails, or the cell is gone from NEW. Cells only NEW has are listed.
Both manifests are read and schema-checked as `verify` reads them; nothing is re-run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mobilesdk.manifest import Artifact, Manifest
from mobilesdk.pipeline.ci_report import FAIL, PASS, Outcome
from mobilesdk.pipeline.verify import read_manifest

MAX_DROP_DB = 3.0
MAX_DROP_AGREEMENT = 0.01


@dataclass
class Cell:
    label: str  # model/format/precision
    lines: list[str] = field(default_factory=list)  # the changes, one per output and fact
    regressions: list[str] = field(default_factory=list)

    def outcome(self) -> Outcome:
        return Outcome(self.label.replace("/", "."), "no regression", FAIL if self.regressions else PASS,
                       "; ".join(self.regressions or self.lines))

    def render(self) -> str:
        head = f"  {self.label:<40} {'REGRESSED' if self.regressions else 'ok'}"
        return "\n".join([head] + [f"    {line}" for line in self.lines])


def cells(m: Manifest) -> dict[str, Artifact]:
    return {f"{model.name}/{a.format}/{a.precision}": a for model in m.models for a in model.artifacts}


def _size(a: Artifact) -> int | None:
    size = a.meta.get("size_bytes")
    return int(size) if isinstance(size, (int, float)) else None


def compare_cell(label: str, old: Artifact, new: Artifact, max_drop_db: float, max_drop_agreement: float) -> Cell:
    cell = Cell(label)
    rows = {p.output: p for p in new.parity}
    for p in old.parity:
        q = rows.get(p.output)
        if q is None:
            cell.regressions.append(f"output `{p.output}` has no parity row")
            continue
        drop = p.sqnr_db - q.sqnr_db
        line = f"{p.output}: SQNR {p.sqnr_db:.1f} -> {q.sqnr_db:.1f} dB ({q.sqnr_db - p.sqnr_db:+.1f})"
        if p.agreement is not None and q.agreement is not None:
            line += f", agreement {p.agreement:.4f} -> {q.agreement:.4f}"
            if p.agreement - q.agreement > max_drop_agreement:
                cell.regressions.append(f"{p.output} agreement fell {p.agreement - q.agreement:.4f}")
        if drop > max_drop_db:
            cell.regressions.append(f"{p.output} SQNR fell {drop:.1f} dB (more than {max_drop_db:g})")
        cell.lines.append(line)
    if old.passed and not new.passed:
        cell.regressions.append(f"it passed and now fails ({new.note})")
    was = {s.check for s in old.semantics if s.passed}
    now_failing = sorted(s.check for s in new.semantics if not s.passed and s.check in was)
    if now_failing:
        cell.regressions.append(f"mask-suite rows that passed now fail: {', '.join(now_failing)}")
    cell.lines.append(f"mask suite: {len(was)} -> {sum(s.passed for s in new.semantics)} rows pass")
    a, b = _size(old), _size(new)
    if a and b:
        cell.lines.append(f"size: {a / 1e3:.0f} -> {b / 1e3:.0f} KB ({(b - a) / a:+.1%})")
    cell.lines += [f"REGRESSION: {r}" for r in cell.regressions]
    return cell


def compare(old_root: Path, new_root: Path, max_drop_db: float = MAX_DROP_DB,
            max_drop_agreement: float = MAX_DROP_AGREEMENT) -> tuple[list[Cell], list[str]]:
    """Every cell of OLD compared with NEW, and the labels of cells only NEW has."""
    old, new = cells(read_manifest(old_root, older=True)), cells(read_manifest(new_root, older=True))
    out = []
    for label, a in old.items():
        if label in new:
            out.append(compare_cell(label, a, new[label], max_drop_db, max_drop_agreement))
        else:
            out.append(Cell(label, ["REGRESSION: the cell is gone from the new bundle"], ["gone"]))
    return out, [label for label in new if label not in old]
