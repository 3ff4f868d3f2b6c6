"""Static int8 for TFLite: what the calibrated model needs before `mlir_quantize` makes it integer.

`to_tflite` calibrates only; `quantize` then sets one range per activation over all of a model's
bucket files (`_observe_ranges`), repairs the ranges of clamp ops (`_widen_clamp_ranges`) and names
the ops to leave in float (`_float_ends`: the model's first and last layers, normalisations and
attention cores, the same split PT2E's XNNPACK quantizer makes for ExecuTorch). All of it walks the
TFLite flatbuffer, so it applies to any model onnx2tf converts.
"""
from __future__ import annotations

import numpy as np


CLAMP_OPS = ("MINIMUM", "MAXIMUM")


def _load(blob: bytes):
    """The flatbuffer as mutable objects, and a function naming each operator's builtin kind."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.convert_bytearray_to_object(blob)

    def kind(op) -> str:
        code = model.operatorCodes[op.opcodeIndex]
        return names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")

    return model, kind


def float_op_count(blob: bytes) -> tuple[int, int]:
    """(ops computing in float, all compute ops) of a converted model's main bucket (subgraph 0: both
    routes put it first); QUANTIZE/DEQUANTIZE not counted."""
    from tensorflow.lite.python import schema_py_generated as schema

    model, kind = _load(blob)
    g = model.subgraphs[0]
    ops = [op for op in g.operators if kind(op) not in ("QUANTIZE", "DEQUANTIZE")]
    floats = sum(1 for op in ops if op.outputs and g.tensors[op.outputs[0]].type == schema.TensorType.FLOAT32)
    return floats, len(ops)


def int8_embedding_count(blob: bytes) -> int:
    """EMBEDDING_LOOKUP ops of a converted model's main bucket whose table is int8."""
    from tensorflow.lite.python import schema_py_generated as schema

    model, kind = _load(blob)
    g = model.subgraphs[0]
    return sum(1 for op in g.operators
               if kind(op) == "EMBEDDING_LOOKUP" and g.tensors[op.inputs[1]].type == schema.TensorType.INT8)


def quantize(calibrated: list[bytes], feeds: list[list[dict]], signature: str,
             floats: list[set[str]] | None = None) -> list[bytes]:
    """The int8 files for one model's calibrated bucket files (`feeds[i]`: bucket i's calibration
    batches for `signature`): shared least-error ranges, clamp ranges widened, ends, normalisations
    and attention cores left in float, and the ops `floats[i]` names (by first output tensor) in
    bucket i (the `float_modules` option's)."""
    from tensorflow.lite.python import convert as tf_convert
    from tensorflow.lite.tools import flatbuffer_utils

    loaded = [_load(blob) for blob in calibrated]
    _observe_ranges([model for model, _ in loaded], calibrated, feeds, signature)
    out = []
    for i, (model, kind) in enumerate(loaded):
        keep = _float_ends(model, kind)  # reads the graph only; widening changes recorded ranges only
        keep |= floats[i] if floats else set()
        _widen_clamp_ranges(model, kind)
        widened = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
        out.append(tf_convert.mlir_quantize(widened, disable_per_channel=False, denylisted_nodes=sorted(keep)))
    return out


SAMPLES_PER_RUN = 8192  # values kept per tensor and calibration batch to choose its range from
SAMPLING_SEED = 0  # which values are kept


def _observe_ranges(models, calibrated: list[bytes], feeds: list[list[dict]], signature: str) -> None:
    """Set every activation's range from its values on all buckets' calibration batches, run in the
    calibrated (still float) files: one range per tensor name, so the valid positions of a padded
    batch compute the same in every bucket, and the one with least squared error (`_mse_range`), as
    PT2E's HistogramObserver does, so a rare extreme does not spread the 256 levels thin
    (docs/decisions.md#tflite-activation-ranges-one-per-tensor-across-all-buckets-least-squared-error).
    A tensor the interpreter does not keep gets the union of its recorded min/max.
    """
    from ai_edge_litert.interpreter import Interpreter

    samples: dict[str, list] = {}
    rng = np.random.default_rng(SAMPLING_SEED)
    for blob, batches in zip(calibrated, feeds):
        interp = Interpreter(model_content=blob, experimental_preserve_all_tensors=True)
        interp.allocate_tensors()
        run = interp.get_signature_runner(signature)
        tensors = [d for d in interp.get_tensor_details() if d["dtype"] == np.float32]
        for feed in batches:
            run(**feed)
            for d in tensors:
                try:
                    x = interp.get_tensor(d["index"]).ravel()
                except ValueError:  # not kept (a constant folded away, a scratch tensor)
                    continue
                lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
                if not np.isfinite([lo, hi]).all():  # a masked score may be -inf: never an int8 value
                    x = x[np.isfinite(x)]
                    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
                seen = samples.setdefault(d["name"], [0.0, 0.0, []])  # min, max, values
                seen[0], seen[1] = min(seen[0], lo), max(seen[1], hi)
                seen[2].append(x[rng.integers(0, x.size, SAMPLES_PER_RUN)] if x.size > SAMPLES_PER_RUN else x)
    observed = {name: _mse_range(np.concatenate(x), lo, hi) for name, (lo, hi, x) in samples.items()}
    ranges: dict[bytes, list[tuple[float, float]]] = {}
    for model in models:
        for q, name in _ranged(model):
            ranges.setdefault(name, []).append((float(np.min(q.min)), float(np.max(q.max))))
    for model in models:
        for q, name in _ranged(model):
            lo, hi = observed.get(name.decode()) or (min(r[0] for r in ranges[name]), max(r[1] for r in ranges[name]))
            q.min, q.max = [lo] * len(q.min), [hi] * len(q.max)


CLIP_RATIOS = np.linspace(0.2, 1.0, 81)


def _mse_range(x: np.ndarray, lo: float, hi: float, bins: int = 2048) -> tuple[float, float]:
    """The range over 256 levels with the least squared error on samples x of a tensor whose
    extremes are lo <= 0 <= hi: [lo, hi] scaled by each of CLIP_RATIOS, judged on a histogram
    (a clipped value costs its distance to the bound, any other step^2 / 12)."""
    if hi - lo <= 0:
        return lo, hi
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    centers = (edges[:-1] + edges[1:]) / 2
    a, b = CLIP_RATIOS[:, None] * lo, CLIP_RATIOS[:, None] * hi
    step = (b - a) / 255
    err = np.where(centers < a, (centers - a) ** 2, np.where(centers > b, (centers - b) ** 2, step**2 / 12))
    best = int(np.argmin(err @ counts))
    return float(a[best, 0]), float(b[best, 0])


def _ranged(model):
    """(quantization, tensor name) for every per-tensor calibrated range in the model."""
    for graph in model.subgraphs:
        for t in graph.tensors:
            q = t.quantization
            if q is not None and q.min is not None and len(q.min) == 1:
                yield q, t.name


def _widen_clamp_ranges(model, kind) -> None:
    """Give each MINIMUM/MAXIMUM output the calibrated range of its inputs as well.

    The quantizer makes these ops same-scale and takes the scale from the output's range; for
    `min(x, 0)` (ClampPReLU's negative half) that range is [min(x), 0] and the conv feeding both
    halves would clip every positive activation (docs/decisions.md#static-int8-keeps-the-models-ends-in-float).
    With the union range x keeps its sign; the clamp output loses one bit.
    """
    for graph in model.subgraphs:
        for op in graph.operators:
            if kind(op) not in CLAMP_OPS:
                continue
            stats = [graph.tensors[i].quantization for i in [*op.inputs, *op.outputs] if i >= 0]
            stats = [q for q in stats if q is not None and q.min is not None and len(q.min)]
            if not stats:
                continue
            lo, hi = min(float(np.min(q.min)) for q in stats), max(float(np.max(q.max)) for q in stats)
            for i in op.outputs:
                q = graph.tensors[i].quantization
                if q is not None and q.min is not None and len(q.min):
                    q.min, q.max = [lo] * len(q.min), [hi] * len(q.max)


# Ops whose constant operand is a weight: the model's "layers" for `_float_ends`.
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "FULLY_CONNECTED", "BATCH_MATMUL")


def _float_ends(model, kind) -> set[str]:
    """The ops int8-static leaves in fp32, by node name (their first output tensor's name): the
    model's first and last layers, as `converters.executorch.quantize.float_ends` picks them.

    First: every op between a floating-point graph input and the first weighted op on each path
    (CONV_2D, FULLY_CONNECTED, ... with a constant weight), that op included. Last: every weighted
    op from which a graph output is reachable without crossing another one, and everything after it
    (log-softmax, softplus, output masks), with the masked pooling that feeds such a head (SUM, DIV
    by the count, MUL by the mask). Why: docs/decisions.md#static-int8-keeps-the-models-ends-in-float.
    Between the ends, what PT2E's XNNPACK quantizer leaves in float stays float here as well:
    normalisations (`_norm_blocks`) and attention cores (`_attention_cores`); after the first layer
    its reshapes and normalisation too, so the first int8 tensor is already normalised.
    Also the integer inputs' own math (masks cast to float, ONE_HOT of a language id, valid-token
    counts): ops fed only by integer inputs and constants, up to the first weighted op or
    table lookup (GATHER of a constant embedding stays int8), stay in float/int32.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    keep: set[str] = set()
    for graph in model.subgraphs:
        chosen = _ends_in_graph(model, graph, kind, schema)
        keep |= {graph.tensors[graph.operators[i].outputs[0]].name.decode() for i in chosen
                 if graph.operators[i].outputs}
    return keep


def _ends_in_graph(model, graph, kind_of, schema) -> set[int]:
    """`_float_ends` for one subgraph, as operator indices."""
    ops = graph.operators
    kind = [kind_of(op) for op in ops]

    def constant(t: int) -> bool:
        buf = model.buffers[graph.tensors[t].buffer]
        return buf is not None and buf.data is not None and len(buf.data) > 0

    producer = {t: i for i, op in enumerate(ops) for t in op.outputs if t >= 0}
    users: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            if t >= 0:
                users.setdefault(t, []).append(i)

    def weighted(i: int) -> bool:
        return kind[i] in WEIGHTED_OPS and any(t >= 0 and constant(t) for t in ops[i].inputs)

    def forward(starts: list[int], admit) -> set[int]:
        found, stack = set(), [i for t in starts for i in users.get(t, [])]
        while stack:
            i = stack.pop()
            if i in found or not admit(i):
                continue
            found.add(i)
            if not weighted(i):
                stack.extend(u for t in ops[i].outputs if t >= 0 for u in users.get(t, []))
        return found

    float_in = [t for t in graph.inputs if graph.tensors[t].type == schema.TensorType.FLOAT32]
    int_in = [t for t in graph.inputs if graph.tensors[t].type != schema.TensorType.FLOAT32]
    norms = _norm_blocks(ops, kind, producer, users, constant)
    norms |= _attention_cores(ops, kind, producer, users, constant)
    chosen = forward(float_in, lambda i: True)
    # past the first layer: its output's reshapes and normalisation stay float too, so the
    # first int8 tensor is a normalised one (quiet frames at full scale, not on a few levels)
    stack = [u for i in chosen if weighted(i) for t in ops[i].outputs for u in users.get(t, [])]
    while stack:
        i = stack.pop()
        if i in chosen or not (kind[i] in LAYOUT_OPS or i in norms):
            continue
        chosen.add(i)
        stack.extend(u for t in ops[i].outputs if t >= 0 for u in users.get(t, []))
    # integer-input math: every non-constant operand comes from an integer input or its math
    int_math: set[int] = set()
    derived = set(int_in)

    def only_int(i: int) -> bool:
        if kind[i] == "GATHER" and constant(ops[i].inputs[0]):
            return False
        ok = all(t < 0 or constant(t) or t in derived for t in ops[i].inputs)
        if ok:
            derived.update(t for t in ops[i].outputs if t >= 0)
        return ok

    changed = True
    while changed:  # inputs of an op may be reached in any order
        before = len(int_math)
        int_math |= forward(int_in, only_int)
        changed = len(int_math) != before
    chosen |= int_math
    chosen |= norms
    # backward from the outputs, stopping at the last weighted op; then on through the pooling
    # that feeds it (masked sum / count: its range follows the valid length), if any
    stack = [(producer[t], False) for t in graph.outputs if t in producer]
    seen: dict[int, bool] = {}  # op -> reached in pooling mode only
    while stack:
        i, pooling = stack.pop()
        if (i in seen and (pooling or not seen[i])) or (pooling and kind[i] not in POOLING_OPS):
            continue
        seen[i] = pooling
        chosen.add(i)
        after = pooling or weighted(i)
        stack.extend((producer[t], after) for t in ops[i].inputs if t in producer and not constant(t))
    return chosen


LAYOUT_OPS = ("RESHAPE", "TRANSPOSE", "SQUEEZE", "EXPAND_DIMS")
POOLING_OPS = ("SUM", "MEAN", "DIV", "MUL", *LAYOUT_OPS)
NORM_STATS = ("MEAN", "SQUARED_DIFFERENCE", "SUM")
ELEMENTWISE = ("ADD", "SUB", "MUL", "DIV", "RSQRT", "SQRT")


def _norm_blocks(ops, kind, producer, users, constant) -> set[int]:
    """The ops of each normalisation (LayerNorm as onnx2tf decomposes it: MEAN, SQUARED_DIFFERENCE,
    MEAN, ADD eps, RSQRT, then MULs/SUB/ADD with gamma and beta), found from its RSQRT.

    In int8 the RSQRT of a per-frame variance takes its scale from the quietest frame, so every
    other frame's 1/std lands on a few levels. PT2E's XNNPACK quantizer never quantizes layer_norm;
    this keeps the TFLite file to the same split (docs/decisions.md).
    """
    found: set[int] = set()
    for r, k in enumerate(kind):
        if k not in ("RSQRT", "SQRT"):
            continue
        block, anchors, stack = {r}, set(), [producer[t] for t in ops[r].inputs if t in producer]
        while stack:  # back to the statistics ops; their inputs (x) are the block's anchors
            i = stack.pop()
            if i in block or kind[i] not in NORM_STATS + ELEMENTWISE:
                continue
            block.add(i)
            for t in ops[i].inputs:
                if t < 0 or constant(t):
                    continue
                # a statistic's operand is x (an anchor) unless it is another statistic: the
                # variance is MEAN(SQUARED_DIFFERENCE(x, MEAN(x)))
                if kind[i] in NORM_STATS and kind[producer.get(t, r)] not in NORM_STATS:
                    anchors.add(t)
                elif t in producer:
                    stack.append(producer[t])
        if not any(kind[i] in NORM_STATS for i in block):
            continue
        inside = {t for i in block for t in ops[i].outputs} | anchors
        stack = [u for t in ops[r].outputs for u in users.get(t, [])]
        while stack:  # forward through the scale and shift while every operand is the block's own
            i = stack.pop()
            if i in block or kind[i] not in ELEMENTWISE:
                continue
            if not all(t < 0 or constant(t) or t in inside for t in ops[i].inputs):
                continue
            block.add(i)
            inside.update(ops[i].outputs)
            stack.extend(u for t in ops[i].outputs for u in users.get(t, []))
        found |= block
    return found


def _attention_cores(ops, kind, producer, users, constant) -> set[int]:
    """Each SOFTMAX with the activation-by-activation BATCH_MATMULs on either side (scores = Q.K^T,
    then weights.V) and the scaling and masking between them.

    A softmax over T keys gives weights around 1/T, a few of int8's 1/256 levels. PT2E's XNNPACK
    quantizer quantizes neither softmax nor bmm; this keeps the TFLite file to the same split.
    """
    def act_matmul(i: int) -> bool:
        return kind[i] == "BATCH_MATMUL" and not any(t >= 0 and constant(t) for t in ops[i].inputs)

    between = ("ADD", "SUB", "MUL", "DIV", "SELECT_V2", *LAYOUT_OPS)
    found: set[int] = set()
    for s, k in enumerate(kind):
        if k != "SOFTMAX":
            continue
        found.add(s)
        stack = [producer[t] for t in ops[s].inputs if t in producer]
        while stack:  # back to the scores matmul
            i = stack.pop()
            if i in found or not (act_matmul(i) or kind[i] in between):
                continue
            found.add(i)
            if not act_matmul(i):
                stack.extend(producer[t] for t in ops[i].inputs if t in producer and not constant(t))
        stack = [u for t in ops[s].outputs for u in users.get(t, [])]
        while stack:  # on to the matmul with V
            i = stack.pop()
            if i in found or not (act_matmul(i) or kind[i] in LAYOUT_OPS):
                continue
            found.add(i)
            if not act_matmul(i):
                stack.extend(u for t in ops[i].outputs for u in users.get(t, []))
    return found
