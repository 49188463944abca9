"""`archc explain`: why every output has its shape, in the lecture's terms.

Layers explain themselves (each kind's `explain`, whose numbers come from the same shape
functions inference uses); this module adds what containers do: concatenations summing
channels, residual merges needing equal shapes, dense blocks growing.
"""
from __future__ import annotations

from dataclasses import dataclass

from archc.errors import ArchcError, did_you_mean
from archc.graph import MERGES, Dense, Flow, Graph, Layer, Node, Parallel, Residual, Seq, Step
from archc.layers import KINDS
from archc.layers.base import Inferred
from archc.network_io import io_line
from archc.shapes import format_shape
from archc.symbolic import Constraints, collecting, stop_collecting


@dataclass
class Explanation:
    node: Node
    depth: int
    lines: list[str]


def _merge_lines(how: str, named: list[tuple[str, tuple]], out: tuple) -> list[str]:
    if how == "concat":
        sums = " + ".join(str(shape[0]) for _, shape in named)
        rest = format_shape(out[1:])
        return [f"concat on channels: {sums} = {out[0]}" + (f"; every input is {rest} (they must agree)" if rest else "")]
    listing = ", ".join(f"{name} {format_shape(shape)}" for name, shape in named)
    if how == "mul":
        return [f"mul: elementwise, size-1 dims broadcast: {listing} → {format_shape(out)}"]
    return [f"{how}: needs equal shapes: {listing} → {format_shape(out)}"]


def _flow_merge_lines(node: Layer, step: Step, flow: Flow) -> list[str]:
    """A merge in a Flow, with the value each input is and its shape."""
    named = [(name, flow.value_shapes[name]) for name in step.reads]
    out = node.out_shape
    if node.kind == "concat":
        d = step.dim - 1 if step.dim > 0 else len(out) + step.dim
        sums = " + ".join(f"{shape[d]} ({name})" for name, shape in named)
        rest = [i for i in range(len(out)) if i != d]
        agree = "×".join(str(out[i]) for i in rest)
        return [f"concat along dim {step.dim}: {sums} = {out[d]}"
                + (f"; every input's other dims are {agree} (they must agree)" if rest else "") + "; no parameters"]
    return _merge_lines(node.kind, named, out)


def explain_node(node: Node, steps: dict | None = None) -> list[str]:
    """`steps`: id(node) → (Step, Flow) for the nodes a Flow's program calls (their inputs' names)."""
    if isinstance(node, Layer):
        kind = KINDS[node.kind]
        found = (steps or {}).get(id(node))
        if found and found[0].merge and node.kind in MERGES:
            return _flow_merge_lines(node, *found)
        inferred = Inferred(node.out_shape, node.params, node.macs)
        if node.size_of is not None:
            return kind.explain_size_of(node.args, node.size_of, node.in_shape, inferred)
        return kind.explain(node.kind, node.args, node.in_shape, inferred)
    if isinstance(node, Residual):
        short = (node.shortcut.name, node.shortcut.out_shape) if node.shortcut else ("identity shortcut", node.in_shape)
        body = node.body[-1].out_shape if node.body else node.in_shape
        merged = (body[0] + short[1][0], *body[1:]) if node.how == "concat" else body
        return [f"residual: body {format_shape(node.in_shape)} → {format_shape(body)}"] + _merge_lines(
            node.how, [("body", body), short], merged)
    if isinstance(node, Parallel):
        return [f"parallel: {len(node.branches)} branches on {format_shape(node.in_shape)}"] + _merge_lines(
            node.how, [(b.name, b.out_shape) for b in node.branches], node.out_shape)
    if isinstance(node, Dense):
        lines = [f"dense: {len(node.units)} units, each output concatenated onto its input"]
        channels = node.in_shape[0]
        for unit in node.units:
            lines.append(f"  {unit.name}: {channels} + {unit.out_shape[0]} = {channels + unit.out_shape[0]} channels")
            channels += unit.out_shape[0]
        return lines
    if isinstance(node, Seq):
        return [f"{node.kind}: {len(node.items)} layers, {format_shape(node.in_shape)} → {format_shape(node.out_shape)}"
                + (f", {node.params:,} parameters" if node.params else "")]
    raise TypeError(type(node).__name__)


def explanations(graph: Graph, layer: str | None = None) -> list[Explanation]:
    """Every node's explanation in order (or those of one node and what is inside it)."""
    start, depth0 = graph.root, 0
    if layer:
        paths = {n.path: n for n in graph.nodes()}
        if layer not in paths:
            raise ArchcError("unknown-layer", f"no layer '{layer}' in {graph.name}",
                             expected="a module path such as " + ", ".join(list(paths)[1:4]),
                             found=f"'{layer}'", hint=did_you_mean(layer, paths))
        start = paths[layer]
    out = []
    steps = {id(step.node): (step, flow) for flow in graph.nodes() if isinstance(flow, Flow) for step in flow.program}

    def walk(node: Node, depth: int) -> None:
        out.append(Explanation(node, depth, explain_node(node, steps)))
        for child in node.children():
            walk(child, depth + 1)

    # explanations recompute sizes through shapes.py; symbolic requirements they meet again
    # are already in graph.constraints, so they go to a scratch collector
    token = collecting(Constraints())
    try:
        if layer:
            walk(start, depth0)
        else:
            for child in graph.root.children():
                walk(child, 0)
    finally:
        stop_collecting(token)
    return out


def explain_text(graph: Graph, layer: str | None = None) -> str:
    lines = [f"{graph.name}: {io_line(graph)}"]
    for e in explanations(graph, layer):
        indent = "  " * e.depth
        lines.append(f"{indent}{e.node.path} → {format_shape(e.node.out_shape)}")
        lines += [f"{indent}    {line}" for line in e.lines]
    return "\n".join(lines)
