"""fp16 mask lint on the captured graph, before any conversion.

Finds mask fills and adds whose constant lies outside the fp16 range (-inf, finfo(float32).min,
-1e9, ...) and that feed a softmax: in fp16 they overflow to -inf, and a fully padded row becomes
NaN. Each finding names the node and the source line. With `fp16_safe_masks = true` in bundle.toml
the constants are rewritten to -1e4 in the ExportedProgram, which every converter then receives.
"""
from __future__ import annotations

import math
import re
import torch

from mobilesdk.manifest import LintFinding as Finding
from mobilesdk.spec import FP16_SAFE_MASK_FILL

FP16_MAX = 65504.0
SOFTMAX = ("_softmax", "softmax", "_safe_softmax", "log_softmax", "_log_softmax", "scaled_dot_product_attention")


def _unsafe(v) -> bool:
    return isinstance(v, float) and (math.isinf(v) or math.isnan(v) or abs(v) > FP16_MAX)


def _source(node) -> str:
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)\n\s*(.*)', trace)
    if not frames:
        return ""
    path, line, func, code = frames[-1]
    return f"{path.rsplit('/', 1)[-1]}:{line} in {func}: {code.strip()}"


def _feeds_softmax(graph) -> set:
    """Every node upstream of a softmax input."""
    seen, stack = set(), [n.args[0] for n in graph.nodes if n.op == "call_function" and _name(n).split(".")[0] in SOFTMAX]
    while stack:
        n = stack.pop()
        if not isinstance(n, torch.fx.Node) or n in seen:
            continue
        seen.add(n)
        stack.extend(n.all_input_nodes)
    return seen


def _name(node) -> str:
    target = node.target
    return getattr(target, "__name__", str(target)).replace("aten.", "")


def lint(ep, rewrite: bool = False) -> list[Finding]:
    """Unsafe fp16 constants that reach a softmax; rewrite them in place when asked."""
    findings = []
    upstream = _feeds_softmax(ep.graph)
    constants = dict(ep.constants)
    changed = False
    for node in ep.graph.nodes:
        if node not in upstream:
            continue
        if node.op == "call_function":
            args = list(node.args)
            for i, a in enumerate(args):
                if _unsafe(a):
                    findings.append(Finding(node.name, _name(node), repr(float(a)), _source(node), rewrite))
                    if rewrite:
                        args[i] = FP16_SAFE_MASK_FILL if a < 0 else -FP16_SAFE_MASK_FILL
            if rewrite and args != list(node.args):
                node.args = tuple(args)
                changed = True
        elif node.op == "placeholder":
            name = ep.graph_signature.inputs_to_lifted_tensor_constants.get(node.name)
            t = constants.get(name) if name else None
            if t is None or not t.is_floating_point() or t.numel() > 16:
                continue
            bad = ~torch.isfinite(t) | (t.abs() > FP16_MAX)
            if bad.any():
                user = next(iter(node.users), node)
                findings.append(Finding(user.name, "constant", repr(float(t[bad].flatten()[0])), _source(user), rewrite))
                if rewrite:
                    safe = torch.where(t < 0, torch.full_like(t, FP16_SAFE_MASK_FILL), torch.full_like(t, -FP16_SAFE_MASK_FILL))
                    ep.constants[name] = torch.where(bad, safe, t)
    if changed:
        ep.graph_module.recompile()
    return findings
