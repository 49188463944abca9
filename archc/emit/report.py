"""Reports: the per-node JSON report and the text table `archc check` prints."""
from __future__ import annotations

from archc.graph import Graph, Layer, Node
from archc.layers import KINDS
from archc.shapes import format_shape


def label(node: Node) -> str:
    """A layer's compact notation, or a container's kind."""
    if isinstance(node, Layer) and node.args is not None:
        return KINDS[node.kind].label(node.kind, node.args)
    return node.kind


def _rows(node: Node, depth: int):
    for child in node.children():
        yield child, depth
        yield from _rows(child, depth + 1)


def report(graph: Graph) -> dict:
    """Every node's path, kind, output shape, params and MACs, and the totals."""
    return {
        "archc": 1,
        "name": graph.name,
        "file": graph.file,
        "input": list(graph.input_shape),
        "output": list(graph.root.out_shape),
        "params": graph.root.params,
        "macs": graph.root.macs,
        "nodes": [
            {
                "path": node.path,
                "kind": node.kind,
                "label": label(node),
                "depth": depth,
                "leaf": isinstance(node, Layer),
                "output": list(node.out_shape),
                "params": node.params,
                "macs": node.macs,
            }
            for node, depth in _rows(graph.root, 0)
        ],
    }


def table(graph: Graph, max_depth: int | None = None) -> str:
    """Rows of layer, kind, output shape and params, then totals; blocks indent their layers."""
    rows = [("layer", "kind", "output", "params")]
    for node, depth in _rows(graph.root, 0):
        if max_depth is not None and depth > max_depth:
            continue
        rows.append(("  " * depth + node.name, label(node), format_shape(node.out_shape), f"{node.params:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{graph.name} ({graph.file}): input {format_shape(graph.input_shape)}"]
    for i, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}".rstrip())
        if i == 0:
            lines.append("  ".join("─" * w for w in widths))
    root = graph.root
    lines.append(f"total: {root.params:,} parameters, {root.macs:,} MACs, output {format_shape(root.out_shape)}")
    return "\n".join(lines)
