"""Numbers, not booleans: compare an artifact's outputs with PyTorch's on valid positions.

Every output gets max-abs, mean-abs and SQNR over its valid positions, plus the task metric
(top-1, frame-argmax or LID agreement) where the spec asks for one. Pass/fail is derived from the
spec's thresholds for the artifact's precision. An output's results over several golden cases are
combined (`combine`) as the worst case for SQNR and error, and as one rate over all their decisions
for agreement: the min-length case of the aligner has 6 frames, where one flip reads as 83% and a
95% threshold could only mean "no flip at all"; pooled, each decision weighs the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mobilesdk.golden import lengths_from_inputs, valid_from_inputs
from mobilesdk.spec import DEFAULT_THRESHOLDS, ModelSpec, OutputSpec, valid_length

SQNR_CAP_DB = 200.0  # identical outputs: reported as the cap, not infinity (JSON has no inf)
FP32_TIE_MARGIN = DEFAULT_THRESHOLDS["fp32"].tie_margin


@dataclass(frozen=True)
class Stats:
    max_abs: float
    mean_abs: float
    sqnr_db: float
    agreement: float | None  # None for outputs judged by SQNR alone
    finite: bool
    decisions: int = 0  # how many decisions `agreement` is a rate over


def valid_selector(spec: ModelSpec, output: OutputSpec, inputs: dict[str, np.ndarray], shape: tuple[int, ...]):
    """A boolean array over the output's leading axes [batch, (positions)] marking valid entries."""
    batch = shape[0]
    if output.position_axis is None:
        return np.ones((batch,), dtype=bool)
    full = lengths_from_inputs(spec, inputs)
    valid = valid_from_inputs(spec, inputs)
    n_pos = shape[output.position_axis]
    sel = np.zeros((batch, n_pos), dtype=bool)
    for row in range(batch):
        row_valid = {dim: lengths[row] for dim, lengths in valid.items()}
        sel[row, : min(valid_length(spec, output, row_valid, full), n_pos)] = True
    return sel


def _rows_positions_last(x: np.ndarray, output: OutputSpec) -> np.ndarray:
    """Move the position axis next to batch so a [batch, positions] selector indexes it."""
    if output.position_axis is None or output.position_axis == 1:
        return x
    return np.moveaxis(x, output.position_axis, 1)


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - got.astype(np.float64)) ** 2))
    signal = float(np.sum(ref.astype(np.float64) ** 2))
    if noise == 0.0:
        return SQNR_CAP_DB
    if signal == 0.0:
        return -SQNR_CAP_DB
    return float(min(SQNR_CAP_DB, 10.0 * math.log10(signal / noise)))


def compare(spec: ModelSpec, output: OutputSpec, inputs: dict[str, np.ndarray], ref: np.ndarray, got: np.ndarray,
            tie_margin: float = FP32_TIE_MARGIN) -> Stats:
    if got.shape != ref.shape:
        raise ValueError(f"output `{output.name}` has shape {got.shape}, PyTorch gave {ref.shape}")
    sel = valid_selector(spec, output, inputs, ref.shape)
    r = _rows_positions_last(ref, output)[sel].astype(np.float64)
    g = _rows_positions_last(got, output)[sel].astype(np.float64)
    finite = bool(np.isfinite(g).all())
    if r.size == 0:
        return Stats(0.0, 0.0, SQNR_CAP_DB, None if output.metric == "sqnr" else 1.0, finite)
    decisions = 0 if output.metric == "sqnr" else int(np.prod(r.shape[:-1]))
    if not finite:
        return Stats(math.nan, math.nan, -SQNR_CAP_DB, 0.0 if decisions else None, False, decisions)
    diff = np.abs(r - g)
    agreement = None
    if decisions:  # top1 / frame_argmax / lid: argmax over the class axis
        agreement = decision_agreement(r, g, tie_margin)
    return Stats(float(diff.max()), float(diff.mean()), sqnr_db(r, g), agreement, finite, decisions)


def decision_agreement(ref: np.ndarray, got: np.ndarray, tie_margin: float = FP32_TIE_MARGIN) -> float:
    """Fraction of rows where the artifact picks a class PyTorch ranks first.

    A class within `tie_margin` (relative) of PyTorch's best counts as first: on a near-tie (seen:
    two fp32 logits 9e-7 apart) rounding noise alone flips the decision, and that is no error."""
    picked = np.take_along_axis(ref, np.argmax(got, axis=-1)[..., None], axis=-1)[..., 0]
    best = ref.max(axis=-1)
    tolerance = tie_margin * np.maximum(1.0, np.abs(best))
    return float(np.mean(picked >= best - tolerance))


def combine(cases: list[Stats]) -> Stats:
    """One output over several cases: worst SQNR and error, agreement pooled over all decisions."""
    judged = [s for s in cases if s.agreement is not None]
    total = sum(s.decisions for s in judged)
    pooled = None
    if judged:
        pooled = sum(s.agreement * s.decisions for s in judged) / total if total else min(s.agreement for s in judged)
    return Stats(
        max_abs=max(s.max_abs for s in cases),
        mean_abs=float(np.mean([s.mean_abs for s in cases])),
        sqnr_db=min(s.sqnr_db for s in cases),
        agreement=pooled,
        finite=all(s.finite for s in cases),
        decisions=total,
    )


def worst(stats: list[Stats]) -> Stats:
    """The worst of several outputs' stats, for a one-line summary (each output is judged alone)."""
    agreements = [s.agreement for s in stats if s.agreement is not None]
    return Stats(
        max_abs=max(s.max_abs for s in stats),
        mean_abs=float(np.mean([s.mean_abs for s in stats])),
        sqnr_db=min(s.sqnr_db for s in stats),
        agreement=min(agreements) if agreements else None,
        finite=all(s.finite for s in stats),
    )


def judge(stats: Stats, min_sqnr_db: float, min_agreement: float) -> bool:
    if not stats.finite or stats.sqnr_db < min_sqnr_db:
        return False
    return stats.agreement is None or stats.agreement >= min_agreement


def clean(x: float | None) -> float | None:
    """JSON-safe float: NaN becomes None."""
    if x is None or math.isnan(x):
        return None
    return float(x)
