"""A network's inputs and outputs as the commands show and use them: one or several named
inputs (the spec's `input:` is one named 'input'), and one output or several (a Flow's
`outputs:` as a dict or a list), each shown by its key."""
from __future__ import annotations

from archc.graph import Flow, Graph
from archc.shapes import format_shape


def output_form(graph: Graph) -> str:
    """'one' (the module returns a tensor), 'dict' or 'tuple'."""
    root = graph.root
    return root.output_form if isinstance(root, Flow) else "one"


def output_shapes(graph: Graph) -> dict[str, tuple]:
    """Output key → shape (one sample): {'output': shape} for a network with one output."""
    if output_form(graph) == "one":
        return {"output": graph.root.out_shape}
    return dict(graph.root.out_shapes)


def io_line(graph: Graph) -> str:
    """'input 3×32×32 → output 10', or every input by name and every output by key."""
    return f"{inputs_text(graph)} → {outputs_text(graph)}"


def inputs_text(graph: Graph) -> str:
    """'input 3×32×32' for `input:`, else every input by name: 'input image 3×16×16', 'inputs a 3×8×8, b 1×8×8'."""
    ins = graph.input_shapes
    if list(ins) == ["input"]:
        return f"input {format_shape(graph.input_shape)}"
    return ("input " if len(ins) == 1 else "inputs ") + ", ".join(f"{n} {format_shape(s)}" for n, s in ins.items())


def outputs_text(graph: Graph) -> str:
    """'output 2×16×16', or 'outputs out 2×16×16, gated 1×16×16'."""
    if output_form(graph) == "one":
        return f"output {format_shape(graph.root.out_shape)}"
    shown = "[{}]" if output_form(graph) == "tuple" else "{}"  # a tuple's keys are its positions
    return "outputs " + ", ".join(f"{shown.format(key)} {format_shape(shape)}" for key, shape in output_shapes(graph).items())


def outputs_by_key(graph: Graph, out) -> dict:
    """The module's result as key → tensor, in output order (a tuple's keys are '0', '1', …)."""
    form = output_form(graph)
    if form == "one":
        return {"output": out}
    if form == "tuple":
        return {key: value for key, value in zip(output_shapes(graph), out)}
    return dict(out)
