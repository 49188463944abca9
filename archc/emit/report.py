"""Reports: the per-node JSON report and the text table `archc check` prints."""
from __future__ import annotations

from archc.graph import Flow, Graph, Layer, Node
from archc.layers import KINDS
from archc.network_io import inputs_text, output_shapes, outputs_text
from archc.shapes import format_shape


def label(node: Node) -> str:
    """A layer's compact notation, or a container's kind."""
    if isinstance(node, Layer) and node.size_of is not None and node.args is not None:
        return f"interpolate to {node.size_of}'s size, {node.args.mode}"  # the size is read at run time
    if isinstance(node, Layer) and node.args is not None:
        return KINDS[node.kind].label(node.kind, node.args)
    return node.kind


def _rows(node: Node, depth: int):
    for child in node.children():
        yield child, depth
        yield from _rows(child, depth + 1)


def _json(value):
    """Sizes and counts for JSON: ints stay ints, symbolic sizes become their formula, unknown counts null."""
    from archc.symbolic import Unknown, is_symbolic

    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if is_symbolic(value):
        return str(value)
    return None if isinstance(value, Unknown) else value


def constraint_lines(graph: Graph) -> list[str]:
    """What a symbolic network needs of its input sizes, in plain words and in full."""
    if not graph.symbolic:
        return []
    variables = [s.var for s in graph.input_shape if hasattr(s, "var")]
    lines = ["valid input sizes: " + "; ".join(graph.constraints.describe(variables))]
    lines += [f"  because {c}" for c in dict.fromkeys(str(c) for c in graph.constraints.binding())]
    return lines


def report(graph: Graph) -> dict:
    """Every node's path, kind, output shape, params and MACs, and the totals."""
    return {
        "archc": 1,
        "name": graph.name,
        "file": graph.file,
        "input": _json(graph.input_shape),
        "output": _json(graph.root.out_shape),
        "inputs": {name: _json(shape) for name, shape in graph.input_shapes.items()},
        "outputs": {key: _json(shape) for key, shape in output_shapes(graph).items()},
        "params": graph.root.params,
        "macs": _json(graph.root.macs),
        "constraints": [str(c) for c in graph.constraints.items] if graph.symbolic else [],
        "flows": flows(graph),
        "nodes": [
            {
                "path": node.path,
                "kind": node.kind,
                "label": label(node),
                "depth": depth,
                "leaf": isinstance(node, Layer),
                "output": _json(node.out_shape),
                "params": node.params,
                "macs": _json(node.macs),
            }
            for node, depth in _rows(graph.root, 0)
        ],
    }


def flows(graph: Graph) -> list[dict]:
    """The dataflow of the network and of every block with its own (graph.Flow), outermost
    first: inputs, values with their shapes and producers, steps, edges (value -> step) and
    outputs. Value names and step targets are relative to the flow (as in its program);
    `producer` and an edge's `to` are module paths, as in "nodes". Empty for a plain chain."""
    return [_flow(node) for node in graph.nodes() if isinstance(node, Flow)]


def _flow(flow: Flow) -> dict:
    shapes = flow.value_shapes
    in_shapes = flow.in_shapes or (flow.in_shape,)
    values = [{"name": name, "shape": _json(shapes.get(name, shape)), "producer": None}
              for name, shape in zip(flow.inputs, in_shapes)]
    for step in flow.program:
        values += [{"name": name, "shape": _json(shapes.get(name)), "producer": step.node.path} for name in step.writes]
    return {
        "path": flow.path,
        "kind": flow.kind,
        "inputs": [{"name": name, "shape": _json(shape)} for name, shape in zip(flow.inputs, in_shapes)],
        "values": values,
        "steps": [{"path": step.node.path, "target": step.target, "kind": step.node.kind, "reads": list(step.reads),
                   "writes": list(step.writes), "merge": step.merge, "live": step.live} for step in flow.program],
        "edges": [{"from": name, "to": step.node.path} for step in flow.program for name in step.reads],
        "output_form": flow.output_form,
        "outputs": {key: name for key, name in flow.outputs},
    }


def table(graph: Graph, max_depth: int | None = None) -> str:
    """Rows of layer, kind, output shape and params, then totals; blocks indent their layers."""
    rows = [("layer", "kind", "output", "params")]
    for node, depth in _rows(graph.root, 0):
        if max_depth is not None and depth > max_depth:
            continue
        rows.append(("  " * depth + node.name, label(node), format_shape(node.out_shape), f"{node.params:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{graph.name} ({graph.file}): {inputs_text(graph)}"]
    for i, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}".rstrip())
        if i == 0:
            lines.append("  ".join("─" * w for w in widths))
    root = graph.root
    macs = f"{root.macs:,} MACs" if not graph.symbolic else "MACs depend on the input size"
    lines.append(f"total: {root.params:,} parameters, {macs}, {outputs_text(graph)}")
    return "\n".join(lines + constraint_lines(graph))
