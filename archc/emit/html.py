"""`archc render -o net.html`: one self-contained page to explore a network in a browser.

The page's input is a plain JSON document (`document`): every layer, merge and block of the
fully expanded diagram with its shapes, figures, explanation and place in the YAML, edges
with their shapes, and clusters with their ×N repeats and whether they start open. The page
(viewer/viewer.js, inlined with viewer/viewer.css) lays it out, expands and collapses blocks,
pans, zooms, searches and shows a side panel; it never fetches anything.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from archc.emit.diagram_model import DCluster, _Builder, auto_depth
from archc.emit.report import flows
from archc.emit.report import label as layer_label
from archc.explain import explanations
from archc.graph import Graph, Layer, Node
from archc.shapes import format_shape

_VIEWER = Path(__file__).with_name("viewer")
_FULLY_EXPANDED = 10**6  # a depth no spec reaches: every block becomes a cluster


class _RecordingBuilder(_Builder):
    """The diagram builder, remembering which graph node each box and cluster stands for."""

    def __init__(self, graph: Graph):
        super().__init__(graph, _FULLY_EXPANDED, show_params=False, repeats=True)
        self.layer_of: dict[str, Node] = {}
        self.block_of: dict[str, tuple[Node, int, int]] = {}  # cluster id -> (node, repeats, level)
        self.owner_of: dict[str, Node] = {}  # merge id -> the node whose inputs it combines

    def add(self, cluster: DCluster, node) -> str:
        if node.role == "merge":
            self.owner_of[node.id] = self._current
        return super().add(cluster, node)

    def draw(self, node: Node, src: str, cluster: DCluster, level: int, times: int = 1,
             frozen: bool = False) -> str:
        before = len(cluster.clusters)
        outer, self._current = getattr(self, "_current", None), node
        try:
            out = super().draw(node, src, cluster, level, times, frozen)
        finally:
            self._current = outer
        if isinstance(node, Layer):
            self.layer_of[out] = node
        elif len(cluster.clusters) > before:
            self.block_of[cluster.clusters[-1].id] = (node, times, level)
        return out

    def merge_node(self, owner: Node, cluster: DCluster, title: str) -> str:
        outer, self._current = getattr(self, "_current", None), owner
        try:
            return super().merge_node(owner, cluster, title)
        finally:
            self._current = outer

    def opened_cluster(self, seq: Node, cluster: DCluster, level: int) -> None:
        self.block_of[cluster.id] = (seq, 1, level)

    def sources(self, item: Node, outputs: dict, cluster: DCluster) -> str:
        outer, self._current = getattr(self, "_current", None), item
        try:
            return super().sources(item, outputs, cluster)
        finally:
            self._current = outer


def _plain(value):
    """A spec argument as JSON data (anything unusual as its text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _figure(n):
    return n if isinstance(n, int) else str(n)  # symbolic MACs are expressions


def _where(node: Node | None) -> str:
    return f"{node.loc.file}:{node.loc.line}" if node is not None and node.loc is not None else ""


def _facts(node: Node, lines: dict[int, list[str]]) -> dict:
    return {"path": node.path, "kind": node.kind, "in": format_shape(node.in_shape),
            "out": format_shape(node.out_shape), "params": _figure(node.params), "macs": _figure(node.macs),
            "explain": lines.get(id(node), []), "loc": _where(node), "trainable": node.trainable}


def document(graph: Graph) -> dict:
    """The page's data: nodes, edges and clusters of the fully expanded diagram."""
    builder = _RecordingBuilder(graph)
    d = builder.build()
    lines = {id(e.node): e.lines for e in explanations(graph)}
    lines[id(graph.root)] = []
    open_depth = auto_depth(graph)  # the page opens as the default diagram does
    order = {nid: i for i, nid in enumerate(d.nodes)}
    parent: dict[str, str | None] = {}
    clusters = []

    def walk(cluster: DCluster, parent_id: str | None) -> None:
        for nid in cluster.nodes:
            parent[nid] = parent_id
        for sub in cluster.clusters:
            node, times, level = builder.block_of[sub.id]
            first = min((order[n] for n in _all_nodes(sub)), default=len(order))
            clusters.append({"id": sub.id, "title": sub.title, "parent": parent_id, "repeat": times,
                             "open": level <= open_depth, "order": first - 0.5, **_facts(node, lines)})
            walk(sub, sub.id)

    walk(d.root, None)
    nodes = []
    for nid, dn in d.nodes.items():
        entry = {"id": nid, "label": dn.title, "detail": dn.detail, "role": dn.role, "family": dn.family,
                 "parent": parent[nid], "order": order[nid]}
        if dn.dead:  # a step no output depends on: in the module, never run
            entry["dead"] = True
        if nid in builder.layer_of:
            layer = builder.layer_of[nid]
            entry.update(_facts(layer, lines), args=_plain(layer.raw_args))
        elif nid in builder.owner_of and builder.owner_of[nid] is not None:
            owner = builder.owner_of[nid]
            entry.update(kind=f"merge ({dn.title})", loc=_where(owner), explain=lines.get(id(owner), []),
                         path=owner.path)
        nodes.append(entry)
    edges = [{"src": e.src, "dst": e.dst, "shape": e.label, "shortcut": e.shortcut} for e in d.edges]
    return {"name": graph.name, "description": graph.description, "file": graph.file,
            "input": format_shape(graph.input_shape), "output": format_shape(graph.root.out_shape),
            "params": _figure(graph.root.params), "macs": _figure(graph.root.macs),
            "nodes": nodes, "edges": edges, "clusters": clusters, "flows": flows(graph)}


def _all_nodes(cluster: DCluster):
    yield from cluster.nodes
    for sub in cluster.clusters:
        yield from _all_nodes(sub)


# inside <script>, '</script>' or '<!--' in a string would end or confuse the element; the
# line separators are valid in JSON but were not in older JavaScript
_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_SAFE_TABLE = str.maketrans(_SCRIPT_SAFE)


def json_for_script(data) -> str:
    """JSON that can sit inside a <script> element whatever strings it holds."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_SCRIPT_SAFE_TABLE)


def page(graph: Graph) -> bytes:
    """The whole HTML page, with its data, style and script inlined."""
    css = (_VIEWER / "viewer.css").read_text()
    js = (_VIEWER / "viewer.js").read_text()
    title = html.escape(f"{graph.name} · archc")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
{css}</style>
<script>
// first, so that an error anywhere later is recorded on the page (the tests read it)
window.__archcErrors = [];
window.addEventListener("error", function (e) {{ window.__archcErrors.push(String(e.message)); }});
(function () {{ var original = console.error; console.error = function () {{
  window.__archcErrors.push(Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); }}; }})();
</script>
</head>
<body>
<header id="bar">
  <span id="title"></span>
  <input id="search" type="search" placeholder="find a layer (Enter: next)" autocomplete="off">
  <span id="hits"></span>
  <button id="zoom-in" title="zoom in">+</button><button id="zoom-out" title="zoom out">−</button><button id="fit" title="fit to window">fit</button>
  <button id="expand-all" title="open every block">expand all</button><button id="collapse-all" title="close every block">collapse all</button>
</header>
<main>
  <svg id="canvas" xmlns="http://www.w3.org/2000/svg"><g id="viewport"></g></svg>
  <aside id="panel"><p class="hint">Hover or click a layer to see its details; click a block's header to open or close it; drag to pan, wheel to zoom.</p></aside>
</main>
<pre id="archc-selftest" hidden></pre>
<script type="application/json" id="archc-data">{json_for_script(document(graph))}</script>
<script>
{js}</script>
</body>
</html>
""".encode()
