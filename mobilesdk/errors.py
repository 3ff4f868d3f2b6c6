"""User errors print one line and exit 2; InternalError means a bug in mobilesdk.

Also the one way to summarise a toolchain's exception (`summary`, `chain`) and to turn a known
toolchain failure into an error naming the op and the fix (`KnownFailure`, `explain`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SUMMARY_CHARS = 300  # the longest toolchain message quoted in a one-line error


class MobileSDKError(Exception):
    """Base of the errors a user can fix. The message names the bad thing and the fix."""

    exit_code = 2


class ConfigError(MobileSDKError):
    pass


class UnsupportedOpError(MobileSDKError):
    def __init__(self, op: str, backend: str, hint: str, node: str = ""):
        where = f" (node `{node}`)" if node else ""
        super().__init__(f"`{backend}` cannot convert `{op}`{where}. Fix: {hint}")
        self.op, self.backend, self.hint = op, backend, hint


class ConversionError(MobileSDKError):
    """A conversion step failed and no single op can be blamed; the message names model and step."""


class ParityError(MobileSDKError):
    pass


class BundleError(MobileSDKError):
    pass


class CheckpointError(MobileSDKError):
    pass


class FailedCells(MobileSDKError):
    """`build --strict`: some cells failed, so the bundle was not written. Not bad input: exit 1."""

    exit_code = 1

    def __init__(self, message: str, rows: list[str]):
        super().__init__(message)
        self.rows = rows


class InternalError(Exception):
    """A bug: never caught by the CLI's one-line error handler."""


def summary(e: BaseException) -> str:
    """`Type: first line of the message`, cut to SUMMARY_CHARS: how every error quotes a toolchain."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"[:SUMMARY_CHARS]


def chain(e: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from or during, outermost first."""
    out, cur = [], e
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


@dataclass(frozen=True)
class KnownFailure:
    """A toolchain failure whose message names no node, or names the op in a form we can parse.

    `pattern` is searched in the text of the whole exception chain; `op` names the op, or is empty
    when the pattern's first group captures it.
    """

    pattern: str
    hint: str
    op: str = ""


def explain(e: BaseException, backend: str, known: tuple[KnownFailure, ...], node: str = "",
            program=None) -> UnsupportedOpError | None:
    """An UnsupportedOpError for the first entry of `known` that matches anywhere in e's chain; without
    `node`, the first node of `program` (a torch.fx graph holder) calling the op is named."""
    if isinstance(e, UnsupportedOpError):
        return e
    text = " | ".join(str(x) for x in chain(e))
    cause = summary(chain(e)[-1])
    for k in known:
        m = re.search(k.pattern, text)
        if m:
            op = k.op or m.group(1).rstrip(",;:.").replace("::", ".")
            return UnsupportedOpError(op, backend, f"{k.hint} ({cause})", node=node or node_calling(program, op))
    return None


def node_calling(program, op: str) -> str:
    """The name of the first call of `op` (`aten.prelu`, `prelu` or `aten.prelu.default`) in the graph
    of `program` (an ExportedProgram or GraphModule), or '' when there is none or no program."""
    graph = getattr(program, "graph", None)
    for n in getattr(graph, "nodes", ()):
        if n.op != "call_function":
            continue
        full = str(n.target)  # aten.prelu.default
        parts = full.split(".")
        if op in (full, ".".join(parts[:2]), parts[1] if len(parts) > 1 else full, getattr(n.target, "__name__", "")):
            return n.name
    return ""
