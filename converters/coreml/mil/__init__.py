"""The MIL reference evaluator: Core ML ML programs, for checking Core ML numerics where `predict` cannot run.

Core ML's `MLModel.predict` exists only on macOS. Everywhere else mobilesdk loads the saved
`.mlpackage` back into MIL (`coremltools.converters.mil.frontend.milproto.load`) and executes the
main function op by op in numpy:

* every op result is cast to the dtype the program declares for it, so an fp16 program is rounded to
  float16 after every op and overflows to inf where the device would (fp32 stays fp32);
* compressed weights (`constexpr_affine_dequantize`, `constexpr_lut_to_dense`,
  `constexpr_blockwise_shift_scale`, `constexpr_sparse_to_dense`, `constexpr_cast`) are decompressed
  exactly, once, when the program is loaded;
* an op type without a kernel raises `NotEvaluatedError("not evaluated: <op>")` — at load time, so a
  parity row fails with that reason and never passes by accident.

What this does not model: the device's internal accumulation order and precision inside one op
(a matmul or a reduction is computed in float32 and rounded once), and compute-unit-specific kernels
(ANE/GPU). Those are covered by `predict` on macOS (`.github/workflows/coreml-macos.yml`).
"""
from converters.coreml.mil.evaluator import (  # noqa: F401
    NotEvaluatedError, ProgramEvaluator, input_ranges, load_evaluator, load_program, op_types, supported_ops,
)
