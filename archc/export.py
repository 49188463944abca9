"""`archc export`: a built network as an ONNX model, a torch.export program or TorchScript.

The batch dimension is always dynamic. A spec with named sizes (`input: [3, H, W]`, or
`--input 3xHxW`) exports with dynamic spatial dims: archc's own constraints (symbolic.py)
give each dim's least size and say whether the network allows it at all (sizes that must
agree modulo a stride, which no exporter can express, keep the dims static, with a note).
The network is traced on an example input of batch 2 (torch specialises a dim traced at 1)
and a spatial size its constraints accept.

The artefact is produced in memory and written whole by outputs.write_all.
"""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from archc.errors import ArchcError
from archc.graph import Flow, Graph
from archc.network_io import output_shapes
from archc.spec.load import Spec
from archc.symbolic import AtLeast, SymSize
from archc.weights import missing_package

FORMATS = ("onnx", "pt2", "torchscript")
EXTENSIONS = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".pt"}
EXAMPLE_BATCH = 2
EXAMPLE_SIZE = 64  # spatial size traced at when the spec leaves it open (raised to the least size that fits)
MAX_BATCH = 4096  # the batch dim's upper bound in the torch.export program
ONNX_OPSET = 17


@dataclass
class Exported:
    data: bytes
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What to trace at and which input dims stay dynamic (index → name)."""

    example_shape: tuple  # one sample, concrete
    dynamic: dict[int, str]  # input dims (batch = 0) → name
    least: dict[int, int]  # input dims → least size archc's constraints allow
    notes: list[str] = field(default_factory=list)


def plan_dims(graph: Graph) -> Plan:
    """The example input and the dynamic dims of a (possibly symbolic) checked graph."""
    dynamic, least, notes, example = {0: "batch"}, {0: 1}, [], []
    constraints = graph.constraints
    periodic = constraints is not None and any(not isinstance(c, AtLeast) for c in constraints.items)
    for index, size in enumerate(graph.input_shape, start=1):
        if not isinstance(size, SymSize):
            example.append(size)
            continue
        bounds = [c.smallest() for c in constraints.items if isinstance(c, AtLeast) and c.size.var == size.var]
        lower = max([1, *bounds])
        value = _example_value(constraints, size.var, lower)
        example.append(value)
        if periodic:
            continue  # the dims are traced static at `value`
        dynamic[index], least[index] = size.var, lower
    if periodic:
        notes.append("spatial dims exported static at " + "×".join(map(str, example[1:])) + ": the network needs "
                     "sizes that agree modulo a stride (" + "; ".join(constraints.describe(constraints.variables()))
                     + "), which an exported program cannot express")
    return Plan(tuple(example), dynamic, least, notes)


def _example_value(constraints, var: str, lower: int) -> int:
    """A size for `var` that every constraint accepts, EXAMPLE_SIZE or the first one above it."""
    start = max(lower, EXAMPLE_SIZE)
    # near EXAMPLE_SIZE first; then from the least size up (a network may take one size only)
    for value in (*range(start, start + 4096), *range(lower, start)):
        env = {v: value for v in constraints.variables()}
        if constraints.holds(env):
            return value
    raise ArchcError("export-failed", f"no size of {var} near {start} fits the network",
                     hint="export at a concrete size with --input, e.g. --input 3x224x224")


def export(graph: Graph, fmt: str, model, plan: Plan) -> Exported:
    """The model (built from `graph` at `plan.example_shape`, weights loaded) as bytes of `fmt`."""
    import torch

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    model = model.eval()
    generator = torch.Generator().manual_seed(0)
    # one example per input, in forward's order; the first is traced at the plan's size
    shapes = [plan.example_shape, *list(graph.input_shapes.values())[1:]]
    examples = tuple(torch.randn((EXAMPLE_BATCH, *shape), generator=generator) for shape in shapes)
    where = graph.root.loc
    io = Io(list(graph.input_shapes), list(output_shapes(graph)),
            any(isinstance(node, Flow) for node in graph.nodes()))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and exporter chatter is not the user's to act on
            data, notes = _EXPORTERS[fmt](model, examples, plan, io)
    except ArchcError:
        raise
    except Exception as exc:  # the exporters raise many kinds; each means the network could not be exported
        text = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else type(exc).__name__
        raise ArchcError("export-failed", f"torch could not export the network as {fmt}", where,
                         found=f"{type(exc).__name__}: {text}",
                         hint="try another --format, or a concrete --input size") from None
    return Exported(data, plan.notes + notes)


@dataclass
class Io:
    """The names the exported program gives its inputs (the spec's) and outputs (the output keys,
    'output' for one), and whether a Flow is inside (runtime.Flow cannot be scripted)."""

    inputs: list[str]
    outputs: list[str]
    has_flow: bool


def _onnx(model, examples, plan: Plan, io: Io) -> tuple[bytes, list[str]]:
    import torch

    try:
        import onnx
    except ImportError:
        raise missing_package("onnx", "exporting ONNX", "export") from None
    # the first input's dims follow the plan; every other input and every output has a dynamic batch
    axes = {name: dict(plan.dynamic) if index == 0 else {0: "batch"} for index, name in enumerate(io.inputs)}
    axes.update({name: {0: "batch"} for name in io.outputs})
    buffer = BytesIO()
    # the TorchScript-based exporter: the torch.export-based one needs onnxscript, a further package,
    # and gives the same graph for these networks. A dict or tuple result is flattened in output order.
    torch.onnx.export(model, examples, buffer, input_names=io.inputs, output_names=io.outputs,
                      dynamic_axes=axes, opset_version=ONNX_OPSET, dynamo=False)
    data = buffer.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    return data, []


def _pt2(model, examples, plan: Plan, io: Io) -> tuple[bytes, list[str]]:
    import torch
    from torch.export import Dim

    # AUTO lets torch keep a dim static where the network needs it; archc's least size bounds it below
    shapes = {i: Dim.AUTO(min=plan.least[i], max=MAX_BATCH if i == 0 else None) for i in plan.dynamic}
    others = [{0: Dim.AUTO(min=1, max=MAX_BATCH)} for _ in examples[1:]]
    dynamic = (shapes, *others)
    if any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(model.forward).parameters.values()):
        dynamic = (dynamic,)  # runtime.Flow's forward(*inputs): the specs go under its one varargs parameter
    program = torch.export.export(model, examples, dynamic_shapes=dynamic)
    notes = []
    placeholder = [n for n in program.graph.nodes if n.op == "placeholder"][-len(examples)]
    traced = placeholder.meta["val"].shape
    static = [plan.dynamic[i] for i in plan.dynamic if isinstance(traced[i], int)]
    if static:
        notes.append(f"torch.export kept {', '.join(static)} static: the network's program needs it fixed")
    buffer = BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue(), notes


def _torchscript(model, examples, plan: Plan, io: Io) -> tuple[bytes, list[str]]:
    """Scripted, not traced: the program keeps the network's control flow and takes any batch
    and size the network accepts (archc's runtime containers are written to script). A network
    with a dataflow (runtime.Flow looks its modules up by path in a loop, which TorchScript
    cannot compile) is traced instead: its program is fixed at the traced sizes."""
    import torch

    notes = []
    if io.has_flow:
        scripted = torch.jit.trace(model, examples, strict=False, check_trace=False)
        notes.append("TorchScript traced, not scripted (the network reads named values, which scripting cannot "
                     "compile): sizes that change the network's program are fixed at the traced ones; "
                     "--format pt2 or onnx keep them dynamic")
    else:
        scripted = torch.jit.script(model)
    buffer = BytesIO()
    torch.jit.save(scripted, buffer)
    return buffer.getvalue(), notes


_EXPORTERS = {"onnx": _onnx, "pt2": _pt2, "torchscript": _torchscript}


def export_spec(spec: str | Path | Spec, fmt: str, *, weights=None, input_shape=None, limits=None) -> Exported:
    """Check `spec` (with `input_shape` replacing its input), build it at an example size,
    load `weights` and export it: the Python face of `archc export`."""
    from archc.emit.torch_module import build_module
    from archc.passes.limits import Limits
    from archc.pipeline import check
    from archc.weights import load_weights

    limits = limits or Limits()
    graph = check(spec, limits=limits, input_shape=input_shape)
    if graph.symbolic and len(graph.input_shapes) > 1:
        raise ArchcError("export-failed", "a network with several inputs exports at concrete sizes only",
                         graph.input_loc or graph.root.loc, found="named sizes in " + ", ".join(graph.input_shapes),
                         hint="give every input concrete sizes in the spec")
    plan = plan_dims(graph)
    concrete = check(spec, limits=limits, input_shape=plan.example_shape) if graph.symbolic else graph
    model = build_module(concrete)
    if weights is not None:
        load_weights(model, weights)
    return export(concrete, fmt, model, plan)
