"""A drawing of a network as plain data (nodes, edges, clusters), shared by the DOT and
Mermaid writers. Shapes come from the inferred graph; nothing is recomputed here."""
from __future__ import annotations

from dataclasses import dataclass, field

from archc.emit.report import label as layer_label
from archc.graph import Dense, Graph, Layer, Node, Parallel, Residual, Seq
from archc.layers import KINDS
from archc.shapes import format_shape

AUTO_MAX_NODES = 64  # the automatic depth keeps a drawing at most this many boxes


@dataclass
class DNode:
    id: str
    title: str  # first line: the layer's notation or the block's name
    detail: str = ""  # second line, smaller: module path, or shape and params of a collapsed block
    role: str = "layer"  # layer | block | merge | io
    family: str = ""  # conv | pool | norm | activation | linear | shape (for colours)


@dataclass
class DEdge:
    src: str
    dst: str
    label: str
    shortcut: bool = False  # residual shortcuts and dense skips are drawn distinctly


@dataclass
class DCluster:
    id: str
    title: str
    nodes: list[str] = field(default_factory=list)
    clusters: list["DCluster"] = field(default_factory=list)


@dataclass
class Diagram:
    name: str
    nodes: dict[str, DNode] = field(default_factory=dict)
    edges: list[DEdge] = field(default_factory=list)
    root: DCluster = field(default_factory=lambda: DCluster("root", ""))


def _fingerprint(node: Node) -> tuple:
    """Equal for structurally identical subtrees with the same input and output shape."""
    return (type(node).__name__, node.kind, layer_label(node), node.in_shape, node.out_shape,
            getattr(node, "how", None), tuple(_fingerprint(c) for c in node.children()))


def auto_depth(graph: Graph, repeats: bool = True) -> int:
    """The deepest level whose drawing stays within AUTO_MAX_NODES boxes (at least 1)."""
    best, previous = 1, None
    for depth in range(1, 16):
        count = len(_Builder(graph, depth, False, repeats).build().nodes)
        if count > AUTO_MAX_NODES or count == previous:
            break
        best, previous = depth, count
    return best


class _Builder:
    def __init__(self, graph: Graph, depth: int, show_params: bool, repeats: bool, show_paths: bool = False):
        self.graph, self.depth, self.show_params, self.repeats = graph, depth, show_params, repeats
        self.show_paths = show_paths
        self.d = Diagram(graph.name)
        self.counter = 0

    def new_id(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    def add(self, cluster: DCluster, node: DNode) -> str:
        self.d.nodes[node.id] = node
        cluster.nodes.append(node.id)
        return node.id

    def edge(self, src: str, dst: str, shape, shortcut: bool = False) -> None:
        self.d.edges.append(DEdge(src, dst, format_shape(shape), shortcut))

    def params_text(self, node: Node) -> str:
        return f"{node.params:,} params" if node.params else ""

    # each draw_* takes the id feeding it and returns the id of its output
    def draw(self, node: Node, src: str, cluster: DCluster, level: int, times: int = 1) -> str:
        if isinstance(node, Layer):
            parts = [node.path] if self.show_paths else []
            if self.show_params and node.params:
                parts.append(f"{node.params:,} params")
            detail = " · ".join(parts)
            nid = self.add(cluster, DNode(self.new_id(), layer_label(node), detail, "layer", KINDS[node.kind].family))
            self.edge(src, nid, node.in_shape)
            return nid
        title = self.block_title(node, times)
        if level > self.depth:
            params = self.params_text(node) + (" each" if times > 1 and node.params else "")
            detail = " · ".join(x for x in (format_shape(node.out_shape), params) if x)
            nid = self.add(cluster, DNode(self.new_id(), title, detail, "block"))
            self.edge(src, nid, node.in_shape)
            return nid
        inner = DCluster(f"cluster_{self.new_id()}", title)
        cluster.clusters.append(inner)
        return getattr(self, "draw_" + type(node).__name__.lower())(node, src, inner, level)

    def block_title(self, node: Node, times: int) -> str:
        cls = getattr(node, "cls_name", None)
        kind = cls or node.kind
        name = node.path or self.graph.name
        if times > 1:
            last = node.path.rsplit(".", 1)
            name = f"{node.path}…{int(last[-1]) + times - 1}" if last[-1].isdigit() else node.path
        text = f"{name} · {kind}" if name != kind else name
        return f"{text} ×{times}" if times > 1 else text

    def runs(self, items: list[Node]):
        """Consecutive identical items (same structure and shapes) as (node, count)."""
        out: list[list] = []
        for item in items:
            same = (self.repeats and out and not item.sources and item.children()
                    and item.in_shape == item.out_shape and _fingerprint(out[-1][0]) == _fingerprint(item))
            if same:
                out[-1][1] += 1
            else:
                out.append([item, 1])
        return out

    def draw_seq(self, node: Seq, src: str, cluster: DCluster, level: int) -> str:
        outputs = {"input": (src, node.in_shape)}
        current = src
        for item, times in self.runs(node.items):
            if item.sources:
                current = self.sources(item, outputs, cluster)
            current = self.draw(item, current, cluster, level + 1, times)
            outputs[item.name] = (current, item.out_shape)
        return current

    def sources(self, item: Node, outputs: dict, cluster: DCluster) -> str:
        feeds = [outputs[s] for s in item.sources]
        if len(feeds) == 1:
            return feeds[0][0]
        nid = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL[item.merge], "", "merge"))
        for fid, shape in feeds:
            self.edge(fid, nid, shape, shortcut=True)
        # the merged tensor is the layer's input; its shape labels the next edge
        return nid

    def draw_residual(self, node: Residual, src: str, cluster: DCluster, level: int) -> str:
        body = src
        for child in node.body:
            body = self.draw(child, body, cluster, level + 1)
        merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL[node.how], "", "merge"))
        self.edge(body, merge, node.body[-1].out_shape if node.body else node.in_shape)
        if node.shortcut is not None:
            first_new_edge = len(self.d.edges)
            short = self.draw(node.shortcut, src, cluster, level + 1)
            self.edge(short, merge, node.shortcut.out_shape)
            for e in self.d.edges[first_new_edge:]:  # the whole shortcut path is drawn distinctly
                e.shortcut = True
        else:
            self.edge(src, merge, node.in_shape, shortcut=True)
        out = merge
        for child in node.after:
            out = self.draw(child, out, cluster, level + 1)
        return out

    def draw_parallel(self, node: Parallel, src: str, cluster: DCluster, level: int) -> str:
        ends = [(self.draw(branch, src, cluster, level + 1), branch.out_shape) for branch in node.branches]
        merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL[node.how], "", "merge"))
        for end, shape in ends:
            self.edge(end, merge, shape)
        return merge

    def draw_dense(self, node: Dense, src: str, cluster: DCluster, level: int) -> str:
        current, shape = src, node.in_shape
        for unit in node.units:
            end = self.draw(unit, current, cluster, level + 1)
            merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL["concat"], "", "merge"))
            self.edge(end, merge, unit.out_shape)
            self.edge(current, merge, shape, shortcut=True)
            current, shape = merge, (shape[0] + unit.out_shape[0], *shape[1:])
        return current

    def build(self) -> Diagram:
        g = self.graph
        root = self.d.root
        inp = self.add(root, DNode("input", f"input {format_shape(g.input_shape)}", "", "io"))
        last = self.draw_seq(g.root, inp, root, 0)
        macs = "" if g.symbolic else f" · {g.root.macs:,} MACs"
        out = self.add(root, DNode("output", f"output {format_shape(g.root.out_shape)}", f"{g.root.params:,} params{macs}", "io"))
        self.edge(last, out, g.root.out_shape)
        return self.d


_MERGE_SYMBOL = {"add": "+", "mul": "×", "concat": "concat"}


def diagram(graph: Graph, depth: int | None = None, show_params: bool = False, repeats: bool = True,
            show_paths: bool = False) -> Diagram:
    """The drawing of an inferred graph; depth None picks one that keeps it readable."""
    depth = auto_depth(graph, repeats) if depth is None else depth
    return _Builder(graph, depth, show_params, repeats, show_paths).build()
