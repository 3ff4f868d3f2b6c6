"""An explicit build graph: each step names what it needs; the order is derived, never implied.

Steps run in dependency order (ties broken by insertion order). Each step receives the results of
the steps it needs, keyed by their names. Progress goes to stderr, one line per step with timings,
so long conversions never look hung.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from mobilesdk.errors import InternalError


@dataclass(frozen=True)
class Step:
    name: str
    needs: tuple[str, ...]
    run: Callable[[dict[str, Any]], Any]
    quiet: bool = False  # fast bookkeeping steps are not announced


class Graph:
    def __init__(self):
        self.steps: dict[str, Step] = {}

    def add(self, name: str, needs: tuple[str, ...] | list[str], run: Callable[[dict[str, Any]], Any], quiet: bool = False):
        if name in self.steps:
            raise InternalError(f"build step `{name}` declared twice")
        self.steps[name] = Step(name, tuple(needs), run, quiet)

    def order(self) -> list[Step]:
        done: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, chain: tuple[str, ...]):
            if name not in self.steps:
                raise InternalError(f"step `{chain[-1]}` needs unknown step `{name}`")
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise InternalError(f"build steps form a cycle: {' -> '.join(chain + (name,))}")
            state[name] = "visiting"
            for need in self.steps[name].needs:
                visit(need, chain + (name,))
            state[name] = "done"
            done.append(name)

        for name in self.steps:
            visit(name, ())
        return [self.steps[n] for n in done]

    def run(self, log=None) -> dict[str, Any]:
        log = log or Progress()
        results: dict[str, Any] = {}
        steps = self.order()
        loud = [s for s in steps if not s.quiet]
        for step in steps:
            if step.quiet:
                results[step.name] = step.run({n: results[n] for n in step.needs})
                continue
            log.start(loud.index(step) + 1, len(loud), step.name)
            t0 = time.perf_counter()
            results[step.name] = step.run({n: results[n] for n in step.needs})
            log.end(time.perf_counter() - t0, results[step.name])
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

    def _write(self, text: str):
        self.stream.write(text)
        self.stream.flush()
