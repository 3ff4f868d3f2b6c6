"""Where an artifact drifts: its intermediate tensors against PyTorch's, at nn.Module boundaries.

Every format keeps, in its own way, the nn.Module path torch.export recorded for each op (ONNX's
`name_scopes`, the fx node names Core ML's MIL ops carry, ExecuTorch's debug handles; TFLite names
keep none, so its backend converts a named twin and checks it is the same graph). A backend exposes its artifact as `Taps`: ops in execution order with
that scope and their input and output tensor names, and a way to run the artifact and read any of
those tensors. A module's boundary is what it hands outward: the tensors its ops produce that an op
outside it, or the graph's output, reads. PyTorch's side is the captured ExportedProgram, run node
by node (`torch_taps`). Boundaries of the same module path are paired by shape (a channels-last
layout is undone when exactly one transpose fits); a boundary that cannot be paired gets a row
saying why, never a guess.
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mobilesdk.golden import lengths_from_inputs, valid_from_inputs
from mobilesdk.parity import SQNR_CAP_DB, sqnr_db
from mobilesdk.spec import Arrays, ModelSpec

ROOT = "(outputs)"  # the row of the whole model: the spec's outputs
# PyTorch ops that hand their input on unchanged at inference (a module of only these, e.g. Dropout,
# has nothing of its own to compare, and formats drop it)
PASS_THROUGH = {"aten.dropout", "aten.clone", "aten.alias", "aten.detach", "aten.contiguous", "aten.identity"}


@dataclass(frozen=True)
class TapOp:
    """One op of a format's graph: its name and type in that format, and the module path it came from."""

    name: str
    kind: str
    scope: tuple[str, ...]  # nn.Module paths, outermost first ("module", "module.layers.0", ...)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str = ""  # file:line of the PyTorch code that made it, where the format kept it


@dataclass
class Taps:
    """A format's graph as `explain` reads it. `read(inputs, names)` runs the artifact on one batch and
    returns the named tensors (float32 numpy arrays)."""

    ops: list[TapOp]
    outputs: tuple[str, ...]  # the graph's output tensors
    read: Callable[[Arrays, list[str]], dict[str, np.ndarray]]
    runtime: str = ""  # what produced the tensors, and how (said in the report)


@dataclass(frozen=True)
class Boundary:
    module: str
    tensors: tuple[str, ...]  # what the module hands outward, in production order
    position: int  # index of the last op producing one of them
    op: str  # the kind of that op
    source: str


def module_boundaries(taps: Taps) -> dict[str, Boundary]:
    """Per module path (and ROOT), the tensors its ops produce that something outside it reads."""
    producer: dict[str, int] = {}
    for i, op in enumerate(taps.ops):
        for t in op.outputs:
            producer[t] = i
    handed: dict[str, dict[str, int]] = {}

    def hand(scope_of_reader: tuple[str, ...] | None, tensor: str) -> None:
        if tensor not in producer:
            return
        made = taps.ops[producer[tensor]]
        for module in made.scope:
            if scope_of_reader is None or module not in scope_of_reader:
                handed.setdefault(module, {})[tensor] = producer[tensor]

    for op in taps.ops:
        for t in op.inputs:
            hand(op.scope, t)
    for t in taps.outputs:
        hand(None, t)
    handed[ROOT] = {t: producer[t] for t in taps.outputs if t in producer}
    out = {}
    for module, tensors in handed.items():
        order = sorted(tensors, key=tensors.get)
        last = taps.ops[tensors[order[-1]]] if order else None
        out[module] = Boundary(module, tuple(order), tensors[order[-1]] if order else -1,
                               last.kind if last else "", last.source if last else "")
    return out


@dataclass(frozen=True)
class Row:
    module: str
    op: str  # PyTorch's op at the boundary
    source: str  # PyTorch source line of that op
    sqnr_db: float | None  # None: not mapped
    drop_db: float | None  # from the previous mapped row
    below: bool  # under the precision's threshold
    first: bool  # the first row below it, in graph order
    note: str = ""  # how it was paired, or why not

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("module", "op", "source", "sqnr_db", "drop_db", "below", "first", "note")}


@dataclass
class Explanation:
    """The table of one artifact on one golden case."""

    model: str
    cell: str  # format/precision
    case: str
    threshold_db: float
    rows: list[Row]
    runtime: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def first(self) -> Row | None:
        return next((r for r in self.rows if r.first), None)

    def to_json(self) -> dict:
        first = self.first
        return {"model": self.model, "cell": self.cell, "case": self.case, "threshold_db": self.threshold_db,
                "runtime": self.runtime, "seconds": round(self.seconds, 2), "notes": self.notes,
                "first_divergent": first.module if first else None, "rows": [r.to_json() for r in self.rows]}


def display(module: str) -> str:
    """A module path as the user wrote it: without the wrapper that orders the spec's outputs."""
    if module == ROOT:
        return module
    return module.removeprefix("module.") if module != "module" else "(forward)"


def compare(ref_taps: Taps, got_taps: Taps, spec: ModelSpec, inputs: Arrays, threshold_db: float) -> list[Row]:
    """Rows in PyTorch's graph order: each module's boundary in the artifact against PyTorch's.

    A module called more than once (shared layers) is `path@k` on PyTorch's side and one path in a
    format's naming: its calls' tensors pair with the artifact's in the order they are produced."""
    ref_b, got_b = module_boundaries(ref_taps), module_boundaries(got_taps)
    modules = sorted(ref_b, key=lambda m: (ref_b[m].position, m == ROOT, -m.count(".")))  # inner modules first
    kinds: dict[str, set[str]] = {}
    for op in ref_taps.ops:
        for m in op.scope:
            kinds.setdefault(m, set()).add(op.kind)
    modules = [m for m in modules if m == ROOT or not kinds.get(m, set()) <= PASS_THROUGH]
    ref = ref_taps.read(inputs, sorted({t for m in modules for t in ref_b[m].tensors}))
    floats = {n for n, v in ref.items() if np.issubdtype(v.dtype, np.floating)}
    # rows that say something: a module handing out float tensors that no inner module (listed first)
    # or the model's outputs already hand out
    shown = {frozenset(ref_b[ROOT].tensors)}
    rows_of = []
    for m in modules:
        tensors = frozenset(ref_b[m].tensors)
        if floats & tensors and (m == ROOT or tensors not in shown):
            rows_of.append(m)
            shown.add(tensors)
    modules = rows_of
    wanted = sorted({t for m in modules if base(m) in got_b for t in got_b[base(m)].tensors})
    got = got_taps.read(inputs, wanted) if wanted else {}
    got = {n: np.asarray(v) for n, v in got.items() if np.issubdtype(np.asarray(v).dtype, np.floating)}
    # pairs per module path without call indices, as formats name them: there, a call's output that
    # the next call of the same module reads never leaves the module
    ref_base = module_boundaries(Taps([dataclasses.replace(op, scope=tuple(map(base, op.scope))) for op in ref_taps.ops],
                                      ref_taps.outputs, ref_taps.read))
    partners: dict[str, dict[str, tuple[np.ndarray, str] | str]] = {}
    for b in {base(m) for m in modules}:
        refs = [t for t in ref_base[b].tensors if t in floats]
        partners[b] = pair_in_order(refs, ref, [t for t in got_b[b].tensors if t in got] if b in got_b else [], got)
    positions = Positions(spec, inputs)
    rows: list[Row] = []
    previous, seen_below = None, False
    for m in modules:
        b = ref_b[m]
        sqnr, notes = None, []
        for t in (t for t in b.tensors if t in floats):
            partner = partners[base(m)].get(t, "read inside the module's next call: a format shows only what leaves it")
            if isinstance(partner, str):
                sqnr, notes = None, [partner]
                break
            g, how = partner
            s = finite_sqnr(*positions.select(ref[t], g.astype(np.float32)))
            sqnr = s if sqnr is None else min(sqnr, s)
            notes += [how] if how else []
        below = sqnr is not None and sqnr < threshold_db
        drop = None if sqnr is None or previous is None else previous - sqnr
        rows.append(Row(display(m), b.op, b.source, sqnr, drop, below, below and not seen_below, "; ".join(dict.fromkeys(notes))))
        seen_below = seen_below or below
        previous = sqnr if sqnr is not None else previous
    return rows


def finite_sqnr(ref: np.ndarray, got: np.ndarray) -> float:
    """SQNR, with an overflow (inf or NaN in the artifact's tensor) the worst there is."""
    return sqnr_db(ref, got) if np.isfinite(got).all() else -SQNR_CAP_DB


def common_scope(scopes) -> tuple[str, ...]:
    """The outermost module paths all `scopes` share (for an op a converter added between modules)."""
    scopes = list(scopes)
    out = scopes[0] if scopes else ()
    for s in scopes[1:]:
        k = 0
        while k < min(len(out), len(s)) and out[k] == s[k]:
            k += 1
        out = out[:k]
    return out


def base(module: str) -> str:
    """A module path without PyTorch's call index (`layer@1`: the second call of `layer`)."""
    return re.sub(r"@\d+$", "", module)


def pair_in_order(refs: list[str], ref: dict, gots: list[str], got: dict) -> dict:
    """Each of PyTorch's boundary tensors with the artifact's that fits its shape, the k-th fitting
    one for the k-th of that shape; a reason instead where the counts differ."""
    if not gots:
        return {t: "no op of the artifact carries this module's path" for t in refs}
    out: dict = {}
    for shape in dict.fromkeys(tuple(ref[t].shape) for t in refs):
        mine = [t for t in refs if tuple(ref[t].shape) == shape]
        theirs: list[tuple[np.ndarray, str]] = []
        for f in (fit(got[g], shape) for g in gots):  # one value in two layouts (NCW and NWC copies) counts once
            if f is not None and not any(np.array_equal(f[0], t[0]) for t in theirs):
                theirs.append(f)
        for k, t in enumerate(mine):
            out[t] = theirs[k] if len(theirs) == len(mine) else (
                f"PyTorch hands out {len(mine)} tensor(s) shaped {shape} here, the artifact {len(theirs)}")
    return out


def fit(got: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, str] | None:
    """`got` arranged as `shape` and how: as it is, or by the one transpose that fits (channels-last
    back to channels-first where several do); None when none does."""
    if got.shape == tuple(shape):
        return got, ""
    if sorted(got.shape) != sorted(shape):
        return None
    perms = [p for p in itertools.permutations(range(got.ndim)) if tuple(got.shape[i] for i in p) == tuple(shape)]
    last_to_1 = tuple([0, got.ndim - 1] + list(range(1, got.ndim - 1)))
    pick = perms[0] if len(perms) == 1 else last_to_1 if last_to_1 in perms else None
    return None if pick is None else (np.transpose(got, pick), f"layout {got.shape} transposed {pick}")


class Positions:
    """Valid positions of an intermediate tensor: an axis whose length is a masked dim's padded length
    (or a length the spec's conv stack makes of it along the way) is cut to each row's valid length,
    with rows on the axis of the batch's size. Where either is ambiguous, every position counts."""

    def __init__(self, spec: ModelSpec, inputs: Arrays):
        full = lengths_from_inputs(spec, inputs)
        valid = valid_from_inputs(spec, inputs)
        self.batch = next(iter(inputs.values())).shape[0]
        table: dict[int, tuple[int, ...] | None] = {}

        def add(n: int, rows: list[int]) -> None:
            table[n] = tuple(rows) if table.get(n, tuple(rows)) == tuple(rows) else None

        for dim, rows in valid.items():
            add(full[dim], rows)
            for d in spec.derived_dims:
                if d.source == dim:
                    n, vs = full[dim], list(rows)
                    for k, st in d.conv_stack:
                        n = (n - k) // st + 1 if n >= k else 0
                        vs = [(v - k) // st + 1 if v >= k else 0 for v in vs]
                        add(n, vs)
        self.table = {n: rows for n, rows in table.items() if rows is not None and any(v < n for v in rows)}

    def select(self, ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        batch_axes = [a for a, n in enumerate(ref.shape) if n == self.batch]
        axes = [a for a, n in enumerate(ref.shape) if n in self.table and a not in batch_axes]
        if len(batch_axes) != 1 or not axes:
            return ref, got
        keep = np.ones(ref.shape, dtype=bool)
        b = batch_axes[0]
        for a in axes:
            index = np.arange(ref.shape[a]).reshape([-1 if i == a else 1 for i in range(ref.ndim)])
            rows = np.asarray(self.table[ref.shape[a]]).reshape([-1 if i == b else 1 for i in range(ref.ndim)])
            keep &= index < rows
        return ref[keep], got[keep]


def torch_taps(ep, spec: ModelSpec) -> Taps:
    """The captured ExportedProgram as Taps: every call_function node with its nn.Module path and the
    line of the user's code that made it, run node by node on the CPU."""
    import torch

    gm = ep.module()
    ops = []
    fed = {n.name for n in gm.graph.nodes if n.op == "placeholder" and n.name.startswith("args")}  # the spec's inputs
    for node in gm.graph.nodes:
        if node.op != "call_function" or not any(a.name in fed for a in node.all_input_nodes):
            continue  # computes from weights alone (weight norm, constants): no activation to compare
        fed.add(node.name)
        stack = node.meta.get("nn_module_stack") or {}
        # the key ends in @k on a module's k-th further call; the path alone names the module
        scope = tuple(path + (re.search(r"@\d+$", key) or [""])[0] for key, (path, _) in stack.items() if path)
        inputs = tuple(a.name for a in node.all_input_nodes)
        ops.append(TapOp(node.name, op_name(node.target), scope, inputs, (node.name,), user_line(node.meta.get("stack_trace"))))
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    outputs = tuple(a.name for a in out_node.all_input_nodes)

    def read(inputs: Arrays, names: list[str]) -> dict[str, np.ndarray]:
        from mobilesdk.capture import to_torch

        wanted = set(names)
        kept: dict[str, np.ndarray] = {}

        class Keep(torch.fx.Interpreter):
            def run_node(self, n):
                value = super().run_node(n)
                if n.name in wanted and isinstance(value, torch.Tensor):
                    kept[n.name] = value.detach().float().numpy() if value.is_floating_point() else value.numpy()
                return value

        with torch.no_grad():
            Keep(gm).run(*to_torch(inputs, spec))
        return kept

    return Taps(ops, outputs, read, "PyTorch (the captured program, eager)")


def op_name(target) -> str:
    """`aten.linear` from torch.ops.aten.linear.default; a Python function's name otherwise."""
    text = str(target)
    return re.sub(r"\.(default|Tensor|Scalar|int|dim|self)$", "", text) if text.startswith("aten.") else getattr(target, "__name__", text)


def user_line(trace: str | None) -> str:
    """The innermost `file:line` of the stack trace that is the user's code (not torch's, not ours)."""
    if not trace:
        return ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    own = [f for f in frames if "/torch/" not in f[0] and not f[0].endswith("mobilesdk/capture.py")]
    if not own:
        return ""
    path, line = own[-1]
    return f"{short_path(path)}:{line}"


def short_path(path: str) -> str:
    """A source path relative to the working directory where it lies under it."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
