"""The Core ML artifact's intermediate tensors for `mobilesdk explain`: the saved program's MIL ops,
each with the nn.Module path of the fx node it computes, run by the MIL reference evaluator (on
macOS too: Core ML predict shows no intermediate tensors).

A `.mlpackage` keeps no module paths, only names (the MIL scope info coremltools tracks is not
saved). coremltools names the var a translation returns after the fx node it translates
(`linear_3`; the fx graph is the one it converted: `ep` after run_decompositions) and its passes
derive names from that (`linear_3_cast_fp16` where the fp16 pass rewrites an op, `x_to_fp16` for a
cast it inserts); vars it makes itself are `<op type>_<counter>` (`clip_0`), a process-wide counter
that can hit an fx node's name (`transpose_7`). So a name is trusted only where the graph agrees:
the var's nearest named float inputs are the fx node's (the same walk on both sides, through
unnamed ops, ignoring weights and integer/shape paths), and its rank, static sizes and kind fit.
Graph outputs pair by position; a cast of a named var holds that var's value; an fx no-op (eval
dropout, clone, same-shape view) has its input's var.

Unnamed ops (translation internals, fused or renamed ops, shape arithmetic) form connected groups.
A group sitting between exactly the same named values as one group of unnamed fx nodes (and no
other) computes those nodes and gets their paths. Any other group gets the paths common to the
named ops it reads from and feeds: it runs between them, so inside those modules' calls (call
indices `@k` are compared, so ops between two calls of a shared module stay outside it). A module
that hands outward an fx value no var holds is left off every op: it gets no row rather than a row
about the wrong tensor.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from mobilesdk.drift import TapOp, Taps, user_line
from mobilesdk.spec import ModelSpec

# coremltools' derived names: the fp16/int16 passes' `<op>_cast_<dtype>` and `<var>_to_<dtype>`
DERIVED = re.compile(r"_(cast|to)_(fp16|fp32|int16|uint16|int32|int8|uint8|bool)$")


def coreml_taps(path: Path, program_for: Callable[[str], object], spec: ModelSpec) -> Taps:
    """`program_for(how)`: the ExportedProgram ct.convert was given, for the package's recorded
    decomposition ("none" for packages that predate the record: then fewer names pass the checks)."""
    from converters.coreml.mil import NotEvaluatedError, ProgramEvaluator, load_program
    from converters.coreml.predict import COREML_DTYPES, predict_available

    program, model_spec = load_program(path)
    how = model_spec.description.metadata.userDefined.get("mobilesdk.decompositions", "none")
    ep = program_for(how)
    try:
        evaluator = ProgramEvaluator(program)  # as the runner's, without its input-range check
    except NotEvaluatedError as e:  # `explain` then says the layer cannot be named, and why
        raise NotImplementedError(str(e)) from e
    ops = [op for op in evaluator.ops if op.op_type != "const"]
    fx = FxGraph(ep, spec)
    var_of = match(ops, evaluator, fx)
    scopes, found = place(ops, evaluator, fx, var_of)
    dropped = lost_modules(fx, found)
    taps = []
    for op in ops:
        scope = tuple(m for m in dict.fromkeys(re.sub(r"@\d+$", "", s) for s in scopes[op.name]) if m not in dropped)
        named = [var_of[v.name] for v in op.outputs if v.name in var_of]
        source = user_line(fx.nodes[named[0]].meta.get("stack_trace")) if named else ""
        taps.append(TapOp(op.name, op.op_type, scope, tuple(v.name for v in runtime_inputs(op)),
                          tuple(v.name for v in op.outputs), source))
    fp16 = any(_dtype(v) == np.float16 for op in ops for v in op.outputs)
    runtime = "MIL reference evaluator (numpy, " + ("fp16 rounding per op)" if fp16 else "float32)")
    if predict_available():
        runtime += "; Core ML predict, which parity used, shows no intermediate tensors"

    def read(inputs, names: list[str]) -> dict[str, np.ndarray]:
        feeds = {t.name: np.asarray(inputs[t.name]).astype(COREML_DTYPES[t.dtype]) for t in spec.inputs}
        got = evaluator(feeds, keep=names)
        return {n: np.asarray(got[n]) for n in names if n in got}

    return Taps(taps, tuple(evaluator.output_names), read, runtime)


class FxGraph:
    """The converted program's fx nodes: each one's module paths with call index (`path@k`), whether
    its value depends on a model input (else coremltools folds it into a constant), and its kind."""

    def __init__(self, ep, spec: ModelSpec):
        import torch

        graph = ep.graph
        self.nodes = {n.name: n for n in graph.nodes}
        user = [n for n in graph.nodes if n.op == "placeholder" and n.name in ep.graph_signature.user_inputs]
        self.input_name = {n.name: t.name for n, t in zip(user, spec.inputs)}  # fx placeholder -> MIL input
        self.scope: dict[str, tuple[str, ...]] = {}
        self.live: set[str] = set(self.input_name)
        for n in graph.nodes:
            stack = n.meta.get("nn_module_stack") or {}
            self.scope[n.name] = tuple(path + (re.search(r"@\d+$", key) or [""])[0] for key, (path, _) in stack.items()
                                       if path and not path.startswith("_empty_nn_module_stack"))  # torch: "unknown"
            if n.op == "call_function" and any(a.name in self.live for a in n.all_input_nodes):
                self.live.add(n.name)
        # values coremltools drops as no-ops (eval dropout, clone, same-shape view...): the input's var holds them
        self.same_as = {n.name: n.all_input_nodes[0].name for n in graph.nodes
                        if n.name in self.live and same_value(n)}
        out = next(n for n in graph.nodes if n.op == "output")
        self.output_node = out.name
        self.outputs = [a.name if isinstance(a, torch.fx.Node) else None for a in out.args[0]]
        self.users = {n.name: [u.name for u in n.users] for n in graph.nodes}

    def canon(self, name: str) -> str:
        """The node whose value `name` is (itself, unless a no-op of another)."""
        while name in self.same_as:
            name = self.same_as[name]
        return name

    def readers(self, name: str) -> list[str]:
        """The nodes that read `name`'s value, through no-ops."""
        return [r for u in self.users[name] for r in (self.readers(u) if u in self.same_as else [u])]

    def with_same(self, found: set[str]) -> set[str]:
        """`found` and the no-ops of its nodes."""
        return found | {n for n in self.same_as if self.canon(n) in found}

    def val(self, name: str):
        return self.nodes[name].meta.get("val")

    def is_float(self, name: str) -> bool:
        v = self.val(name)
        return getattr(v, "dtype", None) is not None and v.dtype.is_floating_point

    def frontier(self, name: str, named: set[str]) -> set[str]:
        """The nearest named (or model-input) float values `name` is computed from."""
        found, seen = set(), set()

        def walk(n: str) -> None:
            if n in seen or not self.is_float(n):
                return
            seen.add(n)
            if n in named:
                found.add(n)
            elif n in self.input_name:
                found.add(self.input_name[n])
            elif n in self.live and self.nodes[n].op == "call_function":
                for a in self.nodes[n].all_input_nodes:
                    walk(a.name)

        for a in self.nodes[name].all_input_nodes:
            walk(a.name)
        return found


IDENTITY = {"dropout", "feature_dropout", "alpha_dropout", "clone", "alias", "detach", "lift_fresh_copy",
            "_to_copy", "contiguous", "view", "reshape", "_unsafe_view", "expand"}


def same_value(node) -> bool:
    """The node is a no-op on its only input: same shape and dtype, and not a training-mode dropout."""
    import torch

    target = str(node.target)
    if not target.startswith("aten.") or target.split(".")[1] not in IDENTITY:
        return False
    ins = node.all_input_nodes
    a, b = node.meta.get("val"), ins[0].meta.get("val") if len(ins) == 1 else None
    if "dropout" in str(node.target) and len(node.args) > 2 and node.args[2] is not False:
        return False
    return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and \
        tuple(a.shape) == tuple(b.shape)


def runtime_inputs(op) -> list:
    """The op's input vars computed at run time (not consts, not decompressed weights)."""
    out = []
    for v in op.inputs.values():
        for var in v if isinstance(v, (list, tuple)) else [v]:
            if var.op is None or var.op.op_type != "const" and not var.op.op_type.startswith("constexpr_"):
                out.append(var)
    return out


def _dtype(var):
    from converters.coreml.mil.evaluator import _np_dtype

    try:
        return _np_dtype(var)
    except Exception:  # lists, strings
        return None


def _is_float(var) -> bool:
    dtype = _dtype(var)
    return dtype is not None and np.issubdtype(dtype, np.floating)


def match(ops, evaluator, fx: FxGraph) -> dict[str, str]:
    """MIL var name -> the fx node whose value it holds, for the names the graph confirms."""
    var_of: dict[str, str] = {}
    named: set[str] = set()  # var_of's values
    reach: dict[str, frozenset] = {}  # an unnamed var's nearest named float inputs
    inputs = set(evaluator.inputs)

    def walk(var) -> frozenset:
        if not _is_float(var):
            return frozenset()
        if var.name in var_of:
            return frozenset([var_of[var.name]]) if fx.is_float(var_of[var.name]) else frozenset()
        if var.name in inputs:
            return frozenset([var.name])
        if var.name not in reach:
            reach[var.name] = frozenset().union(*[walk(v) for v in runtime_inputs(var.op)])
        return reach[var.name]

    for op in ops:
        if op.op_type.startswith("constexpr_"):
            continue
        ins = runtime_inputs(op)
        for var in op.outputs:
            name, cast = candidate(var.name, evaluator.output_names, fx)
            if name and fits(var, fx.val(name), cast) and \
                    frozenset().union(*[walk(v) for v in ins]) == fx.frontier(name, named):
                var_of[var.name] = name
            elif op.op_type == "cast" and len(ins) == 1 and ins[0].name in var_of:
                var_of[var.name] = var_of[ins[0].name]  # a cast holds its input's value
            if var.name in var_of:
                named.add(var_of[var.name])
    return var_of


def candidate(var: str, outputs: list[str], fx: FxGraph) -> tuple[str | None, bool]:
    """The fx node a var's name points to (by position for graph outputs, else its name less the
    suffixes coremltools' passes add), and whether the var is a cast of it (`_to_<dtype>`)."""
    name, cast = var, False
    if var in outputs:
        i = outputs.index(var)
        name = fx.outputs[i] if i < len(fx.outputs) else None
    while name and name not in fx.nodes and DERIVED.search(name):
        cast = cast or DERIVED.search(name).group(1) == "to"
        name = DERIVED.sub("", name)
    node = fx.nodes.get(name) if name else None
    return (name, cast) if node is not None and node.op == "call_function" and name in fx.live else (None, False)


def fits(var, val, cast: bool) -> bool:
    """The var has the fx value's rank, no static size the fx value lacks (in any order: Core ML's
    passes may keep a name on a channels-last layout, which `explain` undoes; MIL may know a size
    only symbolically) and, unless it is a cast of it, its kind."""
    import torch

    if not isinstance(val, torch.Tensor) or len(var.shape) != val.dim():
        return False
    static = Counter(int(a) for a in var.shape if isinstance(a, (int, np.integer)))
    if static - Counter(b for b in val.shape if isinstance(b, int)):
        return False
    return cast or _is_float(var) == val.dtype.is_floating_point


def common(scopes: list[tuple[str, ...]]) -> tuple[str, ...]:
    out = []
    for level in zip(*scopes):
        if any(s != level[0] for s in level):
            break
        out.append(level[0])
    return tuple(out)


def place(ops, evaluator, fx: FxGraph, var_of: dict[str, str]) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Each op's module paths with call index, and the fx nodes some var holds the value of.

    A named op has its fx node's paths. Unnamed ops form connected groups; a group that sits between
    exactly the same named values as one group of fx nodes no var is named after (and no other group
    does) computes those nodes and takes their common paths; any other group takes the paths common
    to the named ops it reads from and feeds (a model input or output is outside every module)."""
    producer = {v.name: op for op in ops for v in op.outputs}
    readers: dict[str, list] = {}
    for op in ops:
        for v in runtime_inputs(op):
            readers.setdefault(v.name, []).append(op)
    outputs = set(evaluator.output_names)
    scope: dict[str, tuple[str, ...]] = {}
    unnamed = []
    for op in ops:
        named = [fx.scope[var_of[v.name]] for v in op.outputs if v.name in var_of]
        if named or op.op_type.startswith("constexpr_"):  # a decompressed weight is in no module
            scope[op.name] = common(named)
        else:
            unnamed.append(op.name)
    edges = [(producer[v.name].name, op.name) for op in ops for v in runtime_inputs(op) if v.name in producer]
    by_op = {op.name: op for op in ops}
    found = fx.with_same(set(var_of.values()))
    mil_groups, fx_groups = {}, {}
    for group in groups(unnamed, edges):
        into, out, near = set(), set(), []
        for name in group:
            for v in runtime_inputs(by_op[name]):
                p = producer.get(v.name)
                if p is None or p.name not in group:
                    into.add(fx.canon(var_of[v.name]) if v.name in var_of else v.name)
                    near.append(() if p is None else scope[p.name])
            for v in by_op[name].outputs:
                for r in readers.get(v.name, []):
                    if r.name not in group:
                        out.update(fx.canon(var_of[w.name]) for w in r.outputs if w.name in var_of)
                        near.append(scope[r.name])
                if v.name in outputs:
                    out.add(OUTPUT)
                    near.append(())
        mil_groups.setdefault((frozenset(into), frozenset(out)), []).append((group, near))
    lost = [n for n in fx.nodes if n in fx.live and n not in found and n not in fx.same_as
            and fx.nodes[n].op == "call_function"]
    fx_edges = [(fx.canon(a.name), n) for n in lost for a in fx.nodes[n].all_input_nodes]
    for group in groups(lost, fx_edges):
        into = {fx.input_name.get(c, c) for n in group for a in fx.nodes[n].all_input_nodes
                for c in [fx.canon(a.name)] if c not in group and c in fx.live}
        out = {OUTPUT if u == fx.output_node else u for n in group for u in fx.readers(n) if u not in group}
        fx_groups.setdefault((frozenset(into), frozenset(out)), []).append(group)
    for signature, candidates in mil_groups.items():
        twins = fx_groups.get(signature, [])
        for group, near in candidates:
            if len(candidates) == 1 and len(twins) == 1 and signature[0]:
                paths = [fx.scope[n] for n in twins[0]]
                if all(p == paths[0] for p in paths):
                    found = fx.with_same(found | twins[0])
                where = common(paths)
            else:
                where = common(near) if near else ()
            scope.update((name, where) for name in group)
    return scope, found


OUTPUT = "(output)"


def groups(names: list[str], edges: list[tuple[str, str]]) -> list[set[str]]:
    """The connected groups of `names` under `edges` (edges to other names are ignored)."""
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    out: dict[str, set[str]] = {}
    for n in names:
        out.setdefault(root(n), set()).add(n)
    return list(out.values())


def lost_modules(fx: FxGraph, found: set[str]) -> set[str]:
    """Modules (without call index) that hand outward an input-dependent fx value no var holds."""
    out = set()
    for n, node in fx.nodes.items():
        if node.op != "call_function" or n in found or n not in fx.live:
            continue
        readers = [() if u == fx.output_node else fx.scope[u] for u in fx.users[n]]
        for m in fx.scope[n]:
            if any(m not in r for r in readers):
                out.add(re.sub(r"@\d+$", "", m))
    return out
