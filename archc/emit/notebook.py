"""How a checked graph shows itself in Jupyter and at the Python prompt: a few lines of
totals for print/repr, the summary table as HTML, and the diagram as inline SVG.

Everything a spec wrote (names, kinds, labels, its description) passes through html.escape;
the diagram's SVG comes from graphviz, which escapes its own labels. No torch."""
from __future__ import annotations

import html

from archc.errors import ArchcError
from archc.graph import Graph, Layer
from archc.shapes import format_shape

NOTEBOOK_DOT_TIMEOUT = 20.0  # seconds: a notebook cell should not hang on a huge diagram


def _count(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def short_summary(graph: Graph) -> str:
    """print(graph): the network in three lines."""
    root = graph.root
    layers = sum(isinstance(node, Layer) for node in graph.nodes())
    lines = [f"{graph.name} ({graph.file})" + (f": {graph.description.strip()}" if graph.description.strip() else ""),
             f"  input {format_shape(graph.input_shape)} → output {format_shape(root.out_shape)}",
             f"  {_count(root.params)} parameters, {_count(root.macs)} MACs, {layers:,} layers"]
    return "\n".join(lines)


def one_line(graph: Graph) -> str:
    """repr(graph)."""
    root = graph.root
    return (f"<archc.Graph {graph.name}: {format_shape(graph.input_shape)} → {format_shape(root.out_shape)}, "
            f"{_count(root.params)} parameters, {_count(root.macs)} MACs>")


def diagram_svg(graph: Graph) -> str | None:
    """The diagram as SVG text, or None where graphviz's dot is missing, fails or is too slow."""
    from archc.emit.diagram import render_bytes

    try:
        svg = render_bytes(graph, "svg", timeout=NOTEBOOK_DOT_TIMEOUT).decode("utf-8")
    except ArchcError:
        return None
    start = svg.find("<svg")  # inline SVG: without the XML declaration and DOCTYPE
    return svg[start:] if start >= 0 else None


def summary_html(graph: Graph, diagram: bool = True) -> str:
    """The summary table as an HTML table, then the diagram when graphviz can draw it."""
    from archc.emit.summary import summary_json

    data = summary_json(graph)
    esc = html.escape
    head = "".join(f"<th>{h}</th>" for h in ("layer", "kind", "output", "params", "MACs"))
    rows = []
    for row in data["rows"]:
        indent = "&nbsp;" * 2 * row["depth"]
        rows.append(f"<tr><td><code>{indent}{esc(row['path'])}</code></td><td>{esc(row['label'])}</td>"
                    f"<td>{esc(format_shape(row['output']))}</td><td style=\"text-align:right\">{_count(row['params'])}</td>"
                    f"<td style=\"text-align:right\">{_count(row['macs'])}</td></tr>")
    lines = short_summary(graph).splitlines()
    parts = [f"<div class=\"archc-graph\"><p><b>{esc(lines[0])}</b><br>{esc(lines[1].strip())}<br>{esc(lines[2].strip())}</p>",
             f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"]
    svg = diagram_svg(graph) if diagram else None
    if svg:
        parts.append(f"<div class=\"archc-diagram\">{svg}</div>")
    parts.append("</div>")
    return "\n".join(parts)
