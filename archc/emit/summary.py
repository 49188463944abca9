"""`archc summary`: a hierarchical table of blocks and layers with the figures that matter."""
from __future__ import annotations

from dataclasses import dataclass

from archc.emit.report import label
from archc.graph import Graph, Layer, Node
from archc.network_io import io_line, output_shapes
from archc.passes.infer import peak_workspace
from archc.shapes import format_shape, product

BYTES = 4  # float32


@dataclass
class Totals:
    params: int
    trainable: int
    macs: int
    param_bytes: int
    activation_bytes: int  # one sample's layer outputs, all kept (as for a backward pass)
    input_bytes: int
    workspace_bytes: int  # the largest one layer's temporary buffers (LRN's padded square …)


def trainable_params(node: Node) -> int:
    if isinstance(node, Layer):
        return node.params if node.trainable else 0
    own = sum(product(p.shape) for p in getattr(node, "own_params", ())) if node.trainable else 0  # `parameters:`
    return own + sum(trainable_params(c) for c in node.children())


def totals(graph: Graph) -> Totals:
    root = graph.root
    activations = sum(product(n.out_shape) for n in graph.nodes() if isinstance(n, Layer))
    return Totals(root.params, trainable_params(root), root.macs, root.params * BYTES, activations * BYTES,
                  sum(product(s) for s in graph.input_shapes.values()) * BYTES, peak_workspace(graph) * BYTES)


def _rows(node: Node, depth: int, max_depth: int | None):
    for child in node.children():
        if max_depth is not None and depth > max_depth:
            continue
        yield child, depth
        yield from _rows(child, depth + 1, max_depth)


def _mb(n) -> str:
    return f"{n / 2**20:,.2f} MiB" if isinstance(n, int) else "depends on the input size"


def summary_json(graph: Graph, max_depth: int | None = None) -> dict:
    t = totals(graph)
    return {
        "name": graph.name, "input": list(graph.input_shape), "output": list(graph.root.out_shape),
        "inputs": {name: list(shape) for name, shape in graph.input_shapes.items()},
        "outputs": {key: list(shape) for key, shape in output_shapes(graph).items()},
        "rows": [{"path": n.path, "kind": n.kind, "label": label(n), "depth": d, "output": list(n.out_shape),
                  "params": n.params, "trainable_params": trainable_params(n), "macs": n.macs,
                  "params_share": n.params / t.params if t.params else 0.0}
                 for n, d in _rows(graph.root, 0, max_depth)],
        "totals": t.__dict__,
    }


def summary_text(graph: Graph, max_depth: int | None = None) -> str:
    t = totals(graph)
    header = ("layer", "kind", "output", "params", "MACs", "% params", "trainable")
    rows = [header]
    for node, depth in _rows(graph.root, 0, max_depth):
        share = f"{100 * node.params / t.params:.1f}%" if t.params and node.params else ""
        trainable = "" if not node.params else ("yes" if trainable_params(node) == node.params else
                                                 "no" if trainable_params(node) == 0 else "partly")
        rows.append(("  " * depth + node.name, label(node), format_shape(node.out_shape), f"{node.params:,}",
                     f"{node.macs:,}", share, trainable))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {3, 4, 5}
    lines = [f"{graph.name}: {graph.description}".rstrip(": ")]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.rjust(w) if j in right else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("─" * w for w in widths))
    lines += [
        "",
        io_line(graph),
        f"parameters: {t.params:,} ({t.trainable:,} trainable, {t.params - t.trainable:,} frozen)",
        f"MACs per sample: {t.macs:,} (convolutions and linear layers)" if isinstance(t.macs, int)
        else "MACs per sample: depend on the input size",
        f"parameter memory: {_mb(t.param_bytes)} (float32)",
        f"activation memory per sample: {_mb(t.activation_bytes)} (every layer's output, float32); input {_mb(t.input_bytes)}",
    ]
    if t.workspace_bytes:  # only some layers (local response norm, reflect padding …) need one
        lines.append(f"working memory per sample: {_mb(t.workspace_bytes)} (the largest layer's temporary buffers)")
    return "\n".join(lines)
