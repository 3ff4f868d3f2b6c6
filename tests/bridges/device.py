"""Test-only: the device side of the Kotlin harness's ProcessEngine. Each line on stdin names an
artifact file, an entry point, an .npz of inputs (keys `<index>_<name>`, in call order) and where
to write the outputs; this executes exactly those tensors in the real runtime (executorch.runtime
for .pte, ai_edge_litert for .tflite) and answers `ok`. No spec, padding or layout logic lives here:
that is the Kotlin under test."""
from __future__ import annotations

import sys

import numpy as np


def main() -> None:
    programs, interpreters = {}, {}
    for line in sys.stdin:
        file, signature, request, response, names = line.rstrip("\n").split("\t")
        try:
            with np.load(request) as z:
                inputs = [(k.split("_", 1)[1], z[k]) for k in sorted(z.files, key=lambda k: int(k.split("_", 1)[0]))]
            if file.endswith(".pte"):
                import executorch.kernels.quantized  # noqa: F401  (int8 embedding tables; the Android AAR links them)
                import torch
                from executorch.runtime import Runtime

                if file not in programs:
                    programs[file] = Runtime.get().load_program(file).load_method("forward")
                got = programs[file].execute([torch.from_numpy(np.ascontiguousarray(x)) for _, x in inputs])
                outputs = dict(zip(names.split(","), (np.asarray(t) for t in got)))
            else:
                from ai_edge_litert.interpreter import Interpreter

                if file not in interpreters:
                    interpreters[file] = Interpreter(model_path=file)
                got = interpreters[file].get_signature_runner(signature)(**dict(inputs))
                outputs = {k: got[k] for k in names.split(",")}
            np.savez(response, **outputs)
            print("ok", flush=True)
        except Exception as e:  # the harness reports it as the runtime's failure
            print(f"{type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
