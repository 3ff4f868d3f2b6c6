"""Parity's view of a `.aimodel`: a Runner that sends spec-shaped inputs to a `worker.py` process.

One worker per artifact, started on first use and ended when the runner is closed or collected,
so what the Core AI runtime does to its process (see worker.py) never reaches the build. The
runner adapts spec dtypes to what the converted function takes: int64 inputs go in as int32 (the
converter narrows them), and it checks shapes against the spec itself, because the runtime does
not enforce the dynamic dims' bounds.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path

import numpy as np

from converters.base import check_input_shapes
from converters.coreai.worker import FUNCTION, pack, read_frame, unpack
from mobilesdk.spec import NP_DTYPES, ModelSpec

WORKER = Path(__file__).with_name("worker.py")
INT32 = np.iinfo(np.int32)


class WorkerRunner:
    """Callable like any Runner: `runner(arrays) -> outputs`, executed in the worker process."""

    def __init__(self, path: Path, spec: ModelSpec, function: str = FUNCTION):
        self.path, self.spec, self.function = Path(path), spec, function
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self._finalizer = None

    def __call__(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = self._feeds(arrays)
        proc = self._start()
        try:
            blob = pack(feeds)
            proc.stdin.write(len(blob).to_bytes(8, "little") + blob)
            proc.stdin.flush()
            status, payload = proc.stdout.read(1), read_frame(proc.stdout)
        except (BrokenPipeError, OSError):
            status, payload = b"", None
        if status == b"+" and payload is not None:
            return self._outputs(unpack(payload))
        if status == b"!" and payload is not None:
            raise RuntimeError(f"the Core AI runtime failed on {self.path.name}: {payload.decode(errors='replace')}")
        raise RuntimeError(self._death())

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    # helpers --------------------------------------------------------------------------------------
    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self._stderr = tempfile.TemporaryFile()
            env = {**os.environ, "PYTHONPATH": ""}  # numpy and coreai only; the project is not needed
            self.proc = subprocess.Popen([sys.executable, str(WORKER), str(self.path)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr, env=env)
            self._finalizer = weakref.finalize(self, _stop, self.proc, self._stderr)
        return self.proc

    def _death(self) -> str:
        """Why the worker gave no answer: its exit code and the runtime's last error line."""
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().decode(errors="replace").splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()] or lines
        why = errors[-1][:300] if errors else "no message"
        return f"the Core AI runtime ended its process (rc {rc}) on {self.path.name}: {why}"

    def _feeds(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        check_input_shapes(arrays, self.spec)
        feeds = {}
        for t in self.spec.inputs:
            x = np.asarray(arrays[t.name])
            if t.dtype == "int64":  # coreai-torch narrows int64 inputs to int32; int64 feeds fail
                if x.size and (x.min() < INT32.min or x.max() > INT32.max):
                    raise ValueError(f"input `{t.name}` has values outside int32, which the Core AI model cannot take")
                x = x.astype(np.int32)
            else:
                x = x.astype(NP_DTYPES[t.dtype], copy=False)
            feeds[t.name] = np.ascontiguousarray(x)
        return feeds

    def _outputs(self, got: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [o.name for o in self.spec.outputs if o.name not in got]
        if missing:
            raise ValueError(f"{self.path.name} returned no output {missing} (it gave {sorted(got)})")
        return {o.name: got[o.name].astype(NP_DTYPES[o.dtype]) for o in self.spec.outputs}


def _stop(proc: subprocess.Popen, stderr) -> None:
    """Close the worker's stdin (it exits after the current request) and reap it."""
    try:
        proc.stdin.close()
        proc.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    stderr.close()
