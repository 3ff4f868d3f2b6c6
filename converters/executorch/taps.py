"""The ExecuTorch artifact's intermediate tensors for `mobilesdk explain`, from ExecuTorch's devtools:
ETDump with a debug buffer (the runtime logs each instruction's tensors), decoded by the Inspector's
reader, with debug handles and `from_node` provenance naming what each instruction computed.

The shipped .pte is XNNPACK-delegated, and ETDump logs per instruction: a portable op's outputs, a
delegate call's inputs and outputs, nothing inside a delegate. So two programs run, both lowered from
the program `write` lowers (`program_for`: the same rewrites, the same PT2E quantization on the same
calibration batches, so deterministic):

- the shipped model.pte itself. Its instructions are named by lowering that program again as `write`
  does; the re-lowered execution plan must equal the file's (weights may differ, structure may not),
  or no tensor is read from the file;
- an undelegated debug lowering of the same program: portable kernels, every op's outputs logged.
  int8 keeps its quantize/dequantize ops, so its numerics are the quantized model's, computed in
  float between them, not XNNPACK's integer kernels'.

The Taps graph is the debug lowering's: every op, with the nn_module_stack torch.export recorded. A
tensor is read from the shipped file where the file hands out the same value (the final output of the
ops descending from the same node of the captured program, with as many elements), from the debug
lowering otherwise: inside delegates, where the shipped file shows nothing. A drift XNNPACK's kernels
(or anything else in the file and not in the capture) make inside a delegate therefore shows first
where that delegate hands its result out.
"""
from __future__ import annotations

import math
import operator
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.base import BuildContext, native_stderr_held
from mobilesdk.drift import TapOp, Taps, common_scope, user_line
from mobilesdk.spec import Arrays, ModelSpec

Key = tuple[str, int]  # (origin: the captured program's node an op descends from, output index)


def executorch_taps(ep, ctx: BuildContext, precision: str, pte: Path) -> Taps:
    """Taps of `pte`, converted from `ep` at `precision`: two lowerings of the program (tens of seconds
    each), then each `read` runs both programs once."""
    import torch
    from executorch.exir._serialize._program import deserialize_pte_binary

    from converters.executorch.converter import program_for
    from converters.executorch.lowering import check_kernels, lower

    # mkldnn off, as in `write`: the shipped structure is only reproduced under the same flags
    file_bytes = pte.read_bytes()
    with torch.backends.mkldnn.flags(enabled=False), torch.no_grad():
        for tables in (True, False) if precision != "fp32" else (True,):  # as `write` made it: int8 tables first
            program = program_for(ep, ctx, precision, {}, tables)
            shipped = lower(program).to_executorch()
            identical = shipped.buffer == file_bytes
            same = identical or (deserialize_pte_binary(shipped.buffer).program.execution_plan
                                 == deserialize_pte_binary(file_bytes).program.execution_plan)
            if same:
                break
        debug = undelegated(program).to_executorch()
    check_kernels(debug)
    modules = {path for n in ep.graph.nodes for path, _ in (n.meta.get("nn_module_stack") or {}).values()}
    debug_nodes, shipped_nodes = emitted_nodes(debug), emitted_nodes(shipped)
    graph = graph_of(debug_nodes, modules)
    visible = shipped_outputs(shipped_nodes) if same else {}
    from_file = {name: visible[key] for name, key in graph.final.items() if key in visible}
    delegates = sum(1 for _, n in shipped_nodes if _is_delegate(n))
    outputs = tuple(tensor_name(a) for a in debug.exported_program().graph.output_node().args[0])

    def read(inputs: Arrays, wanted: list[str]) -> dict[str, np.ndarray]:
        logged = run_logged(debug, debug_nodes, debug.buffer, inputs, ctx.spec)
        values = {name: v for i, names in graph.names.items() for name, v in zip(names, logged.get(i, []))}
        sizes = bindings(debug, ctx.spec, inputs)
        for name, source, val in graph.views:
            shape = concrete(val.shape, sizes)
            if isinstance(values.get(source), torch.Tensor) and shape is not None:
                values[name] = values[source].reshape(shape)
        file_logged = run_logged(shipped, shipped_nodes, file_bytes, inputs, ctx.spec) if from_file else {}
        got = {}
        for name in wanted:
            value = values.get(name)
            instruction, k = from_file.get(name, (-1, 0))
            mine = [v if isinstance(v, torch.Tensor) else None for v in file_logged.get(instruction, [])]
            # the same op's result, shaped as the op gave it (the debug lowering may hold it flattened:
            # a decomposed linear's matmul)
            if -len(mine) <= k < len(mine) and mine[k] is not None and (value is None
                                                                        or mine[k].numel() == value.numel()):
                value = mine[k]
            if isinstance(value, torch.Tensor):
                got[name] = value.float().numpy() if value.is_floating_point() else value.numpy()
        return got

    named = "a byte-identical re-lowering" if identical else "a re-lowering with its execution plan (not its weights)"
    where = (f"the shipped {pte.name} (XNNPACK, {delegates} delegate calls; instructions named by {named}) where it "
             f"hands the tensor out ({len(from_file)} of {len(graph.final)} op outputs), an undelegated debug "
             "lowering of the same program (portable kernels) elsewhere" if same else
             f"an undelegated debug lowering of the program (portable kernels) only: {pte.name}'s execution "
             "plan differs from this program's lowering, so its tensors cannot be named")
    return Taps(graph.ops, outputs, read, f"executorch.runtime with ETDump intermediate outputs: {where}")


def undelegated(program):
    """`program` lowered without a partitioner: every op on ExecuTorch's portable kernels."""
    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

    from converters.executorch.lowering import load_quantized_kernels

    load_quantized_kernels()  # the quantize/dequantize ops int8 keeps, int8 embedding lookups
    return to_edge_transform_and_lower(program, compile_config=EdgeCompileConfig(_check_ir_validity=False))


# naming the instructions --------------------------------------------------------------------------
def emitted_nodes(et) -> list[tuple[int | None, object]]:
    """The emitted program's graph nodes in order, each with the index of the instruction it emitted
    (None: it emitted none, or a view). The emitter sets an emitted node's debug handle to that index;
    other nodes keep a stale handle, so the instruction must be the node's op. Views get no handle: a
    view emits `executorch_prim::et_view` (whose output ETDump does not log) or, static and memory
    planned, nothing; either way its value is its input's, reshaped."""
    from executorch.exir.memory import alloc, view

    plan = et.executorch_program.execution_plan[0]
    instructions = plan.chains[0].instructions

    def op_at(i: int) -> str:
        args = instructions[i].instr_args if 0 <= i < len(instructions) else None
        if not hasattr(args, "op_index"):
            return "delegate" if args is not None else ""
        op = plan.operators[args.op_index]
        return f"{op.name.replace('::', '.')}.{op.overload}" if op.overload else op.name.replace("::", ".")

    out, cursor = [], -1
    for node in et.exported_program().graph.nodes:
        if node.op != "call_function" or node.target in (operator.getitem, alloc):
            continue
        i = node.meta.get("debug_handle")
        want = "delegate" if _is_delegate(node) else _op_name(node.target)
        i = i if node.target is not view and isinstance(i, int) and i > cursor and op_at(i) == want else None
        cursor = i if i is not None else cursor
        out.append((i, node))
    return out


@dataclass
class Graph:
    """The undelegated program as explain reads it."""

    ops: list[TapOp]
    names: dict[int, tuple[str, ...]]  # instruction index -> the tensors ETDump logs for it
    views: list[tuple[str, str, object]]  # (tensor, input, fake value): reshapes, computed from the input
    final: dict[str, Key]  # tensors that are their origin's final value (the shipped file may show them)


def graph_of(nodes: list, modules: set[str]) -> Graph:
    """The undelegated program's `emitted_nodes` as TapOps, scoped by the module paths of the capture."""
    from executorch.exir.memory import alloc, view

    graph, last = Graph([], {}, [], {}), {}
    for i, node in nodes:
        outputs = output_names(node)
        stack = node.meta.get("nn_module_stack") or {}
        scope = tuple(dict.fromkeys(path for path, _ in stack.values() if path in modules))
        inputs = tuple(tensor_name(a) for a in node.all_input_nodes if a.target is not alloc)
        graph.ops.append(TapOp(node.name, _kind(node.target), scope, inputs, outputs,
                               user_line(node.meta.get("stack_trace"))))
        if i is not None:
            graph.names[i] = outputs
        elif node.target is view:
            graph.views.append((outputs[0], inputs[0], node.meta["val"]))
        if (origin := _origin(node)) is not None:
            last[origin] = outputs
    graph.final = {name: (origin, k) for origin, outputs in last.items() for k, name in enumerate(outputs)}
    graph.ops = between_modules(graph.ops)
    return graph


def between_modules(ops: list[TapOp]) -> list[TapOp]:
    """int8's quantize/dequantize ops (and dynamic int8's choose_qparams) scoped to where they sit.

    convert_pt2e inserts them with no module path, which would make every module hand out each
    quantized intermediate of its own. Each gets the modules common to the op whose tensor it
    quantizes and the ops that read the result: a q/dq pair inside a module stays inside it; one
    between two modules belongs to neither, so a module hands out its output as it made it, and the
    rounding the next module's input gets shows at that module.
    """
    import dataclasses

    def quant(op: TapOp) -> bool:  # not int8 embedding lookups (embedding_byte): those are their module's op
        name = op.kind.removeprefix("quantized_decomposed.")
        return name != op.kind and name.startswith(("quantize_", "dequantize_", "choose_qparams"))

    producer = {t: op for op in ops for t in op.outputs}
    readers: dict[str, list[TapOp]] = {}
    for op in ops:
        for t in op.inputs:
            readers.setdefault(t, []).append(op)
    scope = {op.name: op.scope for op in ops}
    for op in reversed(ops):  # readers first: a q's dequantize is settled before the q
        if not quant(op):
            continue
        source = producer.get(op.inputs[0]) if op.inputs else None
        while source is not None and quant(source):
            source = producer.get(source.inputs[0]) if source.inputs else None
        around = [scope[r.name] for t in op.outputs for r in readers.get(t, [])]
        around += [source.scope] if source is not None else []
        scope[op.name] = common_scope(around) if around else op.scope
    return [dataclasses.replace(op, scope=scope[op.name]) if quant(op) else op for op in ops]


def shipped_outputs(nodes: list) -> dict[Key, tuple[int, int]]:
    """Where the delegated program (its `emitted_nodes`) hands out each origin's final value:
    (instruction, index among the tensors ETDump logs for it). A delegate call logs its inputs, then its
    outputs: counted from the end."""
    last: dict[str, tuple] = {}
    for i, node in nodes:
        if not _is_delegate(node):  # i None: a view, whose output ETDump does not log
            last[_origin(node)] = (i, None if i is not None else {}, node)
            continue
        inner = getattr(node.graph.owning_module, node.args[0].target).original_module.graph
        results = [_resolve(a) for a in inner.output_node().args[0]]
        for n in inner.nodes:
            if n.op == "call_function" and n.target is not operator.getitem:
                last[_origin(n)] = (i, {r: k - len(results) for k, r in enumerate(results)}, n)
    out = {}
    for origin, (i, positions, node) in last.items():
        if origin is None:
            continue
        for k in range(len(output_names(node))):
            if positions is None:
                out[(origin, k)] = (i, k)
            elif (node, k) in positions:
                out[(origin, k)] = (i, positions[(node, k)])
    return out


def output_names(node) -> tuple[str, ...]:
    """A node's output tensors: itself, or its getitem users for a node returning several."""
    val = node.meta.get("val")
    if not isinstance(val, (tuple, list)):
        return (node.name,)
    users = {u.args[1]: u.name for u in node.users if u.target is operator.getitem}
    return tuple(users.get(k, f"{node.name}.{k}") for k in range(len(val)))


def tensor_name(node) -> str:
    parent, k = _resolve(node)
    return output_names(parent)[k] if parent is not node else node.name


def _resolve(node) -> tuple:
    """(producer, output index) of a tensor, seeing through getitem."""
    if getattr(node, "target", None) is operator.getitem:
        return node.args[0], node.args[1]
    return node, 0


def _origin(node) -> str | None:
    """The node of the captured program this one descends from (what ExecuTorch's debug handles key on)."""
    from executorch.exir.debug_handle_utils import get_greatest_ancestor_node_identifier

    return get_greatest_ancestor_node_identifier(node) if node.meta.get("from_node") else None


def _is_delegate(node) -> bool:
    return "executorch_call_delegate" in str(node.target)


def _op_name(target) -> str:
    from converters.executorch.lowering import op_name

    return op_name(target)


def _kind(target) -> str:
    return _op_name(target).removesuffix(".out").removesuffix("_out")


def bindings(et, spec: ModelSpec, inputs: Arrays) -> dict:
    """The symbols of the program's dynamic axes with their lengths in `inputs`."""
    import torch

    graph = et.exported_program().graph
    placeholders = {n.name: n for n in graph.nodes if n.op == "placeholder"}
    out = {}
    for name, t in zip(et.exported_program().graph_signature.user_inputs, spec.inputs):
        for d, n in zip(placeholders[name].meta["val"].shape, np.shape(inputs[t.name])):
            if isinstance(d, torch.SymInt) and d.node.expr.is_Symbol:
                out[d.node.expr] = n
    return out


def concrete(shape, sizes: dict) -> tuple[int, ...] | None:
    """A symbolic shape at the lengths `sizes` binds; None where it depends on data."""
    try:
        return tuple(int(d) if isinstance(d, int) else int(d.node.expr.xreplace(sizes)) for d in shape)
    except TypeError:
        return None


# running ------------------------------------------------------------------------------------------
def buffer_bytes(et, nodes: list, sizes: dict) -> int:
    """A debug buffer that holds everything ETDump logs on one run at the lengths `sizes` binds: each
    instruction's output tensors (a delegate call's inputs too) and the program's outputs, 64-byte
    aligned. Where a length depends on data, every value at its planned upper bound, 8 bytes an element.
    (ETDump aborts the process when the buffer runs out.)"""
    import torch
    from executorch.exir.schema import Tensor, TensorList
    from torch.utils._pytree import tree_leaves

    logged = [n.meta.get("val") for i, n in nodes if i is not None]
    logged += [a.meta.get("val") for i, n in nodes if i is not None and _is_delegate(n) for a in n.args[1:]
               if hasattr(a, "meta")]
    logged += [a.meta.get("val") for a in et.exported_program().graph.output_node().args[0]]
    tensors = [t for t in tree_leaves(logged) if isinstance(t, torch.Tensor)]
    shapes = [concrete(t.shape, sizes) for t in tensors]
    if None not in shapes:
        return sum(math.prod(s) * t.dtype.itemsize + 64 for s, t in zip(shapes, tensors)) + (1 << 20)
    plan = et.executorch_program.execution_plan[0]

    def size(index: int) -> int:
        v = plan.values[index].val
        if isinstance(v, Tensor):
            return math.prod(v.sizes) * 8 + 64
        return sum(size(j) for j in v.items) if isinstance(v, TensorList) else 0

    total = sum(size(a) for ins in plan.chains[0].instructions for a in getattr(ins.instr_args, "args", []))
    return total + sum(size(o) for o in plan.outputs) + (1 << 20)


def available_memory() -> int:
    """Bytes of memory the kernel says can be had without swapping (MemAvailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def run_logged(et, nodes: list, program: bytes, inputs: Arrays, spec: ModelSpec) -> dict[int, list]:
    """Run `program` (emitted as `et`) once with ETDump on; each instruction's logged tensors (lists
    flattened), in order."""
    from executorch.devtools.inspector._inspector_utils import gen_etdump_object, inflate_runtime_output
    from executorch.runtime import Runtime

    from mobilesdk.capture import to_torch

    size = buffer_bytes(et, nodes, bindings(et, spec, inputs))
    if 3 * size > available_memory():  # the buffer, the file written from it, and the tensors decoded from it
        from mobilesdk.errors import ConfigError

        raise ConfigError(f"ETDump needs {size / 2**30:.1f} GB to log every intermediate tensor of this golden case, "
                          f"about three times that in all, and {available_memory() / 2**30:.1f} GB is available. "
                          "Fix: run it where more memory is free, try a shorter golden case (--case min), or "
                          "explain the model's tflite or coreml artifact")
    with tempfile.TemporaryDirectory() as d, native_stderr_held():  # XNNPACK's cpuinfo probe lines
        loaded = Runtime.get().load_program(program, enable_etdump=True, debug_buffer_size=size)
        loaded.load_method("forward").execute(list(to_torch(inputs, spec)))
        loaded.write_etdump_result_to_file(f"{d}/run.etdp", f"{d}/debug.bin")
        etdump = gen_etdump_object(etdump_path=f"{d}/run.etdp")
        data = bytearray(Path(f"{d}/debug.bin").read_bytes())  # writable: torch.frombuffer warns otherwise
    logged: dict[int, list] = {}
    for run in etdump.run_data:
        for event in run.events:
            e = event.debug_event
            if e is None or e.chain_index != 0 or (e.delegate_debug_id_int not in (-1, None)):
                continue  # program outputs (chain -1), or a delegate's own events
            value = inflate_runtime_output(e.debug_entry, data)
            logged.setdefault(e.instruction_id, []).extend(value if isinstance(value, list) else [value])
    return logged
