"""An explicit build graph: each step names the steps it needs; the order follows from that.

`add` returns a typed handle; a step's function receives the results of the steps it needs as
positional arguments, in the order it named them, and a run's results are looked up by handle.
A step can only need steps added before it, so the graph has no cycles by construction.
Progress goes to stderr, one line per step with timings, so long conversions never look hung.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Generic, TypeVar

from mobilesdk.errors import InternalError

T = TypeVar("T")


class Step(Generic[T]):
    """A handle on one step of one graph."""

    def __init__(self, graph: "Graph", name: str, run: Callable[..., T], needs: tuple["Step", ...], quiet: bool):
        self.graph, self.name, self.run, self.needs, self.quiet = graph, name, run, needs, quiet

    def __repr__(self) -> str:
        return f"Step({self.name!r})"


class Results:
    """What a run produced, by step handle."""

    def __init__(self):
        self._values: dict[Step, Any] = {}

    def __getitem__(self, step: Step[T]) -> T:
        return self._values[step]

    def __setitem__(self, step: Step, value) -> None:
        self._values[step] = value


class Graph:
    def __init__(self):
        self.steps: list[Step] = []

    def add(self, name: str, run: Callable[..., T], *needs: Step, quiet: bool = False) -> Step[T]:
        """A step `name` (its progress label) computing `run(*results of needs)`."""
        if any(s.name == name for s in self.steps):
            raise InternalError(f"build step `{name}` declared twice")
        for need in needs:
            if need.graph is not self:
                raise InternalError(f"step `{name}` needs `{need.name}`, a step of another graph")
        step = Step(self, name, run, tuple(needs), quiet)
        self.steps.append(step)
        return step

    def run(self, log: "Progress | None" = None) -> Results:
        log = log or Progress()
        results = Results()
        loud = [s for s in self.steps if not s.quiet]
        for step in self.steps:  # insertion order is a dependency order: needs come first
            args = [results[n] for n in step.needs]
            if step.quiet:
                results[step] = step.run(*args)
                continue
            log.start(loud.index(step) + 1, len(loud), step.name)
            t0 = time.perf_counter()
            try:
                results[step] = step.run(*args)
            except BaseException:
                log.fail(time.perf_counter() - t0)
                raise
            log.end(time.perf_counter() - t0, results[step])
        return results


class Progress:
    """One line per step: `[ 3/27] convert/aligner/executorch/fp32 ... 4.2s  1171 KB`.

    With `whole_lines` (several processes sharing one terminal) a step prints a start line and a
    complete end line, so lines of different processes never run into each other.
    """

    def __init__(self, stream=None, whole_lines: bool = False):
        self.stream = stream or sys.stderr
        self.whole_lines = whole_lines
        self.current = ""

    def start(self, i: int, n: int, name: str):
        width = len(str(n))
        self.current = f"[{i:>{width}}/{n}] {name} ..."
        self._write(self.current + ("\n" if self.whole_lines else " "))

    def end(self, seconds: float, result: Any):
        summary = getattr(result, "summary", "")
        done = f"{seconds:.1f}s{'  ' + summary if summary else ''}\n"
        self._write(f"{self.current} {done}" if self.whole_lines else done)

    def fail(self, seconds: float):
        """End the step's line, so the error printed next starts a line of its own."""
        self._write(f"{self.current} {seconds:.1f}s  stopped\n" if self.whole_lines else f"{seconds:.1f}s  stopped\n")

    def _write(self, text: str):
        self.stream.write(text)
        self.stream.flush()
