"""The Core AI runtime in a process of its own: `python worker.py MODEL.aimodel`, one per artifact.

Why a separate process: the runtime ends its host process on a bad artifact instead of raising
(measured with coreai-core 1.0.0b3: a corrupted `main.mlirb` aborts with rc 134, a missing path
segfaults with rc 139, and after a failed load a later good one aborts at interpreter exit). Run
in-process, one broken artifact would kill the whole build; here it kills only this worker, and
the parent (`runner.py`) turns the exit into a failed parity row with the runtime's message.

Protocol on stdin/stdout, one request at a time: an 8-byte little-endian length, then an `.npz` of
the inputs by name. The reply is one status byte (`+` outputs follow as an `.npz`, `!` an error
message follows as UTF-8), an 8-byte length, then the payload. A load failure that Python sees is
sent as an `!` reply to the first request. Self-contained (numpy and coreai only, no project
imports), so it starts in about a second and needs no PYTHONPATH.
"""
from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
from pathlib import Path

import numpy as np

FUNCTION = "main"


def read_frame(stream) -> bytes | None:
    head = stream.read(8)
    if len(head) < 8:
        return None  # the parent closed the pipe: done
    (n,) = struct.unpack("<Q", head)
    return stream.read(n)


def write_frame(stream, status: bytes, payload: bytes) -> None:
    stream.write(status + struct.pack("<Q", len(payload)) + payload)
    stream.flush()


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


async def serve(path: Path, stdin, stdout) -> None:
    from coreai.authoring import AIModelAsset
    from coreai.runtime import NDArray

    async with AIModelAsset.load(path).executable() as model:
        fn = model.load_function(FUNCTION)
        while (request := read_frame(stdin)) is not None:
            try:
                out = await fn({k: NDArray(np.ascontiguousarray(v)) for k, v in unpack(request).items()})
                reply = pack({k: np.array(v.numpy(), copy=True) for k, v in out.items()})
            except Exception as e:  # a bad request is answered, the worker goes on
                write_frame(stdout, b"!", f"{type(e).__name__}: {e}".encode())
                continue
            write_frame(stdout, b"+", reply)


def main() -> int:
    path = Path(sys.argv[1])
    stdin = sys.stdin.buffer
    # Nothing but frames on the pipe: frames go to a copy of fd 1, and fd 1 itself (Python's prints and
    # whatever the runtime's native code writes there) goes to stderr.
    sys.stdout.flush()
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    if not (path / "main.mlirb").is_file():  # the runtime segfaults on a missing asset: say it first
        message = f"{path} is no Core AI asset (no main.mlirb)"
    else:
        try:
            asyncio.run(serve(path, stdin, stdout))
            return 0
        except Exception as e:
            message = f"{type(e).__name__}: {e}"
    if read_frame(stdin) is not None:
        write_frame(stdout, b"!", message.encode())
    return 1


if __name__ == "__main__":
    sys.exit(main())
