"""A drawing of a network as plain data (nodes, edges, clusters), shared by the DOT and
Mermaid writers. Shapes come from the inferred graph; nothing is recomputed here.

A Flow (the network or a block with its own dataflow) is drawn from its program: one box per
step, an edge from each value's producer to each step that reads it (so a long skip is an
edge straight to the merge that reads it), the network's inputs and declared outputs as
named io boxes, and opened sequences as clusters holding their children's boxes. Every item
of a sequence is a part the slide layout may fold at, even where a skip crosses: the layout
then turns the chain round (a U) so that the skip runs across, not along, the columns."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from archc.emit.report import label as layer_label
from archc.graph import MERGES, Dense, Flow, Graph, Layer, Node, Parallel, Residual, Seq, Step
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
    frozen: bool = False  # `trainable: false` here or on an enclosing block
    # a step no output depends on (graph.Node.dead): in the module tree but never run; drawn
    # faded and dashed rather than left out, since its parameters are still the spec's
    dead: bool = False


@dataclass
class DEdge:
    src: str
    dst: str
    label: str
    shortcut: bool = False  # residual shortcuts and dense skips are drawn distinctly
    dead: bool = False  # into a step that never runs


@dataclass
class DCluster:
    id: str
    title: str
    nodes: list[str] = field(default_factory=list)
    clusters: list["DCluster"] = field(default_factory=list)
    # for a sequence: the node ids each of its items drew (nested clusters included), in order;
    # the slide layout folds a long chain into columns at these boundaries
    parts: list[list[str]] = field(default_factory=list)
    invisible: bool = False  # holds one branch together as a column; no box, no title


@dataclass
class Diagram:
    name: str
    totals: str = ""  # params, MACs, input → output: the title's second half
    nodes: dict[str, DNode] = field(default_factory=dict)
    edges: list[DEdge] = field(default_factory=list)
    root: DCluster = field(default_factory=lambda: DCluster("root", ""))


def _fingerprint(node: Node) -> tuple:
    """Equal for structurally identical subtrees with the same input and output shape."""
    return (type(node).__name__, node.kind, layer_label(node), node.in_shape, node.out_shape,
            getattr(node, "how", None), tuple(_fingerprint(c) for c in node.children()))


def auto_depth(graph: Graph, repeats: bool = True, focus: Node | None = None) -> int:
    """The deepest level whose drawing stays within AUTO_MAX_NODES boxes (at least 1)."""
    best, previous = 1, None
    for depth in range(1, 16):
        count = len(_Builder(graph, depth, False, repeats).build(focus).nodes)
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
        self.frozen = False  # inside a frozen block
        self.flow_outputs: dict[int, list[str]] = {}  # id(Flow) -> the box of each output, once drawn open
        self.taken: set[tuple[str, str]] = set()  # (box, piece) values some step of a Flow has read

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
    def draw(self, node: Node, src: str, cluster: DCluster, level: int, times: int = 1,
             frozen: bool = False) -> str:
        frozen = frozen or not node.trainable
        first = src[0] if isinstance(src, list) else src  # a list: one box per input of a Flow
        if isinstance(node, Layer):
            parts = [node.path] if self.show_paths else []
            if self.show_params and node.params:
                parts.append(f"{node.params:,} params")
            detail = " · ".join(parts)
            nid = self.add(cluster, DNode(self.new_id(), layer_label(node), detail, "layer", KINDS[node.kind].family,
                                          frozen))
            self.edge(first, nid, node.in_shape)
            return nid
        title = self.block_title(node, times)
        if level > self.depth:
            nid = self.collapsed(node, cluster, times, frozen)
            self.edge(first, nid, node.in_shape)
            return nid
        if not isinstance(node, Flow):
            src = first
        inner = DCluster(f"cluster_{self.new_id()}", title + (" (frozen)" if frozen else ""))
        cluster.clusters.append(inner)
        saved, self.frozen = self.frozen, frozen
        try:
            return getattr(self, "draw_" + type(node).__name__.lower())(node, src, inner, level)
        finally:
            self.frozen = saved

    def collapsed(self, node: Node, cluster: DCluster, times: int, frozen: bool) -> str:
        """One box for a block drawn shut: its name, output shape, parameters and gist."""
        params = self.params_text(node) + (" each" if times > 1 and node.params else "")
        detail = " · ".join(x for x in (format_shape(node.out_shape), params) if x)
        detail = "\n".join(_gist(node) + [detail])
        return self.add(cluster, DNode(self.new_id(), self.block_title(node, times), detail, "block", frozen=frozen))

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

    def nodes_since(self, first: int) -> list[str]:
        """The ids of the nodes added after the first `first`, from the end: copying every id
        for each layer would make a long network's diagram quadratic."""
        return list(islice(reversed(self.d.nodes), len(self.d.nodes) - first))[::-1]

    def draw_seq(self, node: Seq, src: str, cluster: DCluster, level: int) -> str:
        outputs = {"input": (src, node.in_shape)}
        current = src
        runs = self.runs(node.items)
        starts = _branch_starts([item for item, _ in runs])
        into = cluster
        for index, (item, times) in enumerate(runs):
            first = len(self.d.nodes)
            if index in starts:  # each branch in a box of its own, so that dot keeps it a column
                into = DCluster(f"cluster_{self.new_id()}", "", invisible=True)
                cluster.clusters.append(into)
            if item.sources:
                current = self.sources(item, outputs, cluster)
                if len(item.sources) > 1:
                    into = cluster
            if not (_is_identity(item) and len(item.sources) > 1):  # the merge node already says it
                current = self.draw(item, current, into, level + 1, times, self.frozen)
            outputs[item.name] = (current, item.out_shape)
            if not starts:  # parallel branches are not a chain to fold
                cluster.parts.append(self.nodes_since(first))
        return current

    def sources(self, item: Node, outputs: dict, cluster: DCluster) -> str:
        feeds = [outputs[s] for s in item.sources]
        if len(feeds) == 1:
            return feeds[0][0]
        nid = self.merge_node(item, cluster, _MERGE_SYMBOL[item.merge])
        used = {e.src for e in self.d.edges}
        for fid, shape in feeds:
            # a tensor something else already reads skips ahead to the merge (a shortcut); a
            # branch's last output, read by nothing else, is one of parallel branches meeting
            self.edge(fid, nid, shape, shortcut=fid in used)
        # the merged tensor is the layer's input; its shape labels the next edge
        return nid

    def merge_node(self, owner: Node, cluster: DCluster, title: str) -> str:
        """The symbol where several tensors meet; `owner` is the node whose inputs it combines."""
        return self.add(cluster, DNode(self.new_id(), title, "", "merge"))

    def opened_cluster(self, seq: Seq, cluster: DCluster, level: int) -> None:
        """Called when an opened sequence gets its box (the html viewer records which node it is)."""

    # -- a Flow, drawn from its program -----------------------------------------------------
    def draw_flow(self, node: Flow, src, cluster: DCluster, level: int) -> str:
        """One box per step with edges from the boxes that produced what it reads (`src`: one box
        per input of the flow). Returns the first output's box; self.flow_outputs[id(node)] holds
        every output's box, in the order of node.outputs."""
        feeds = src if isinstance(src, list) else [src]
        shapes = node.in_shapes or (node.in_shape,)
        values = {name: (box, node.value_shapes.get(name, shape), "")
                  for name, box, shape in zip(node.inputs, feeds, shapes)}
        for param in node.own_params:  # a tensor the module holds itself: a source, like an input
            box = self.add(cluster, DNode(self.new_id(), f"parameter {param.name}", format_shape(param.shape), "io"))
            values[param.name] = (box, param.value_shape, "")
        opened = _opened(node)
        places: dict[str, DCluster | str] = {}  # opened sequence's path -> its cluster, or its box when shut
        linked: set[tuple[str, str]] = set()  # edges into a shut sequence's box, drawn once
        last_part: dict[str, str] = {}  # cluster id -> the item its last part was drawn for
        for step in node.program:
            first_node = len(self.d.nodes)
            place, frozen, chain = self.place(step, opened, places, cluster, level)
            reads = [values[name] for name in step.reads]
            if isinstance(place, str):  # inside a sequence drawn shut: its box stands for all its values
                for box, shape, piece in reads:
                    if box != place and (box, place) not in linked:
                        linked.add((box, place))
                        self.d.edges.append(DEdge(box, place, piece + format_shape(shape)))
                outs = [place] * len(step.writes)
            else:
                outs = self.draw_step(step, reads, place, level + len(step.target.split(".")), frozen)
            for box, _, piece in reads:
                self.taken.add((box, piece))
            pieces = [w[len(step.target) + 1:] + ": " for w in step.writes] if len(step.writes) > 1 else [""]
            for name, box, piece in zip(step.writes, outs, pieces):
                values[name] = (box, node.value_shapes.get(name, step.node.out_shape), piece)
            _add_parts(step.target, self.nodes_since(first_node), cluster, chain, last_part)
        self.flow_outputs[id(node)] = [values[name][0] for _, name in node.outputs]
        return self.flow_outputs[id(node)][0]

    def place(self, step: Step, opened: dict, places: dict, cluster: DCluster, level: int):
        """Where a step's box goes: (the cluster of the innermost opened sequence around it, made
        on first use, or the box of one drawn shut; whether it is frozen; the clusters in between)."""
        parts = step.target.split(".")
        into, frozen, chain = cluster, self.frozen, []
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            seq = opened.get(prefix)
            if seq is None:
                continue
            frozen = frozen or not seq.trainable
            if prefix not in places:
                if level + i > self.depth:
                    places[prefix] = self.collapsed(seq, into, 1, frozen)
                else:
                    places[prefix] = DCluster(f"cluster_{self.new_id()}",
                                              self.block_title(seq, 1) + (" (frozen)" if frozen else ""))
                    into.clusters.append(places[prefix])
                    self.opened_cluster(seq, places[prefix], level + i)
            if isinstance(places[prefix], str):
                return places[prefix], frozen, chain
            into = places[prefix]
            chain.append((i, into))
        return into, frozen, chain

    def draw_step(self, step: Step, reads: list, cluster: DCluster, level: int, frozen: bool) -> list[str]:
        """A step's boxes (a merge symbol first when it merges); returns the box of each value it writes."""
        node, first_node, first_edge = step.node, len(self.d.nodes), len(self.d.edges)

        def read_edge(box, shape, piece, dst, label_prefix=""):
            # a value some step already reads skips ahead to this one: drawn as a shortcut
            self.d.edges.append(DEdge(box, dst, label_prefix + piece + format_shape(shape), (box, piece) in self.taken))

        if step.merge:
            title = _MERGE_SYMBOL[step.merge] + (f" dim {step.dim}" if step.merge == "concat" and step.dim != 1 else "")
            merge = self.merge_node(node, cluster, title)
            for box, shape, piece in reads:
                read_edge(box, shape, piece, merge)
            if isinstance(node, Layer) and (node.kind in MERGES or node.kind == "identity"):
                outs = [merge] * len(step.writes)  # the merge symbol is the whole layer
                reads = []
            else:
                reads = [(merge, node.in_shape, "")]
        if reads:
            box, _, piece = reads[0]
            expanded_flow = isinstance(node, Flow) and level <= self.depth
            out = self.draw(node, [r[0] for r in reads] if expanded_flow else box, cluster, level, 1, frozen)
            if not expanded_flow and len(self.d.edges) > first_edge and self.d.edges[first_edge].src == box:
                # a step's one input is a plain edge even when others read it too (branches);
                # only a merge's or a several-input step's further inputs are skips
                self.d.edges[first_edge].label = piece + self.d.edges[first_edge].label
            outs = self.flow_outputs.pop(id(node), None) or [out] * len(step.writes)
            if not expanded_flow:
                for extra, (box, shape, piece) in enumerate(reads[1:], start=1):
                    size_of = getattr(node, "size_of", None) is not None and extra == len(reads) - 1
                    read_edge(box, shape, piece, out, "size of " if size_of else "")
        if not step.live:
            for nid in self.nodes_since(first_node):
                self.d.nodes[nid].dead = True
            for e in self.d.edges[first_edge:]:
                e.dead = True
        return outs

    def draw_residual(self, node: Residual, src: str, cluster: DCluster, level: int) -> str:
        body = src
        for child in node.body:
            body = self.draw(child, body, cluster, level + 1, frozen=self.frozen)
        merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL[node.how], "", "merge"))
        self.edge(body, merge, node.body[-1].out_shape if node.body else node.in_shape)
        if node.shortcut is not None:
            first_new_edge = len(self.d.edges)
            short = self.draw(node.shortcut, src, cluster, level + 1, frozen=self.frozen)
            self.edge(short, merge, node.shortcut.out_shape)
            for e in self.d.edges[first_new_edge:]:  # the whole shortcut path is drawn distinctly
                e.shortcut = True
        else:
            self.edge(src, merge, node.in_shape, shortcut=True)
        out = merge
        for child in node.after:
            out = self.draw(child, out, cluster, level + 1, frozen=self.frozen)
        return out

    def draw_parallel(self, node: Parallel, src: str, cluster: DCluster, level: int) -> str:
        ends = [(self.draw(branch, src, cluster, level + 1, frozen=self.frozen), branch.out_shape) for branch in node.branches]
        merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL[node.how], "", "merge"))
        for end, shape in ends:
            self.edge(end, merge, shape)
        return merge

    def draw_dense(self, node: Dense, src: str, cluster: DCluster, level: int) -> str:
        current, shape = src, node.in_shape
        for unit in node.units:
            end = self.draw(unit, current, cluster, level + 1, frozen=self.frozen)
            merge = self.add(cluster, DNode(self.new_id(), _MERGE_SYMBOL["concat"], "", "merge"))
            self.edge(end, merge, unit.out_shape)
            self.edge(current, merge, shape, shortcut=True)
            current, shape = merge, (shape[0] + unit.out_shape[0], *shape[1:])
        return current

    def build(self, focus: Node | None = None) -> Diagram:
        """The whole network, or the block `focus` alone (its input and output as the ends)."""
        g = self.graph
        top = focus or g.root
        if isinstance(top, Flow):
            return self.build_flow(top, focus)
        root = self.d.root
        inp = self.add(root, DNode("input", f"input {format_shape(top.in_shape)}", "", "io"))
        if focus is None:
            last = self.draw_seq(g.root, inp, root, 0)
        else:
            self.d.name = f"{g.name}.{focus.path}"
            last = self.draw(focus, inp, root, 1, frozen=_frozen_at(g.root, focus.path))
            root.parts = [list(self.d.nodes)[1:]]
        root.parts[0:1] = [["input"] + (root.parts[0] if root.parts else [])]
        macs = "" if g.symbolic else f" · {_short(top.macs)} MACs"
        self.d.totals = (f"{_short(top.params)} params{macs} · "
                         f"{format_shape(top.in_shape)} → {format_shape(top.out_shape)}")
        out = self.add(root, DNode("output", f"output {format_shape(top.out_shape)}",
                                   f"{top.params:,} params" + ("" if g.symbolic else f" · {top.macs:,} MACs"), "io"))
        root.parts[-1].append("output")
        self.edge(last, out, top.out_shape)
        return self.d


    def build_flow(self, top: Flow, focus: Node | None) -> Diagram:
        """A Flow drawn whole: one io box per input and per declared output, named."""
        g, root = self.graph, self.d.root
        inputs = []
        for i, (name, shape) in enumerate(zip(top.inputs, top.in_shapes or (top.in_shape,))):
            inputs.append(self.add(root, DNode("input" if i == 0 else f"input{i + 1}",
                                               f"{name} {format_shape(shape)}", "", "io")))
        if focus is None:
            self.draw_flow(top, inputs, root, 0)
        else:
            self.d.name = f"{g.name}.{focus.path}"
            self.draw(top, inputs, root, 1, frozen=_frozen_at(g.root, focus.path))
            root.parts = [list(self.d.nodes)[len(inputs):]]
        last = self.flow_outputs.pop(id(top), None) or [list(self.d.nodes)[-1]] * len(top.outputs)
        root.parts[0:1] = [inputs + (root.parts[0] if root.parts else [])]
        shapes = [top.value_shapes.get(name, top.out_shape) for _, name in top.outputs]
        macs = "" if g.symbolic else f" · {_short(top.macs)} MACs"
        self.d.totals = (f"{_short(top.params)} params{macs} · {', '.join(format_shape(s) for s in (top.in_shapes or (top.in_shape,)))}"
                         f" → {', '.join(format_shape(s) for s in shapes)}")
        totals = f"{top.params:,} params" + ("" if g.symbolic else f" · {top.macs:,} MACs")
        for i, ((key, _), box, shape) in enumerate(zip(top.outputs, last, shapes)):
            nid = "output" if i == 0 else f"output{i + 1}"
            title = {"one": "output", "tuple": f"output {key}"}.get(top.output_form, key)
            detail = totals if top.output_form == "one" else " · ".join(["output"] + ([totals] if i == 0 else []))
            self.add(root, DNode(nid, f"{title} {format_shape(shape)}", detail, "io"))
            root.parts[-1].append(nid)
            self.edge(box, nid, shape)
        return self.d


def _opened(flow: Flow) -> dict[str, Seq]:
    """The sequences whose children the flow's program calls one by one, by path below the flow."""
    found: dict[str, Seq] = {}

    def walk(items, prefix):
        for item in items:
            if isinstance(item, Seq) and item.opened:
                found[prefix + item.name] = item
                walk(item.items, prefix + item.name + ".")

    walk(flow.items, "")
    return found


def _add_parts(target: str, fresh: list[str], cluster: DCluster, chain: list, last_part: dict) -> None:
    """File a step's new boxes under the item of each enclosing cluster it belongs to (the
    parts the slide layout folds a long chain at)."""
    names = target.split(".")
    for depth, box in [(0, cluster), *chain]:
        key = names[depth]
        if box.parts and last_part.get(box.id) == key:
            box.parts[-1].extend(fresh)
        else:
            box.parts.append(list(fresh))
            last_part[box.id] = key


def _short(count: int) -> str:
    """11,689,512 → 11.7M: totals a slide's reader takes in at a glance."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


GIST_MAX = 6  # a collapsed block lists its convolutions and poolings when it has at most this many (MBConv with SE: 6)


def _gist(node: Node) -> list[str]:
    """What a lecture says of a collapsed block: its convolutions' and poolings' notation in order
    (kernels, strides, groups, channels, so an expansion or a depthwise step shows), when few."""
    if isinstance(node, Dense) and node.units:  # a dense block's units differ in input only
        unit = _gist(node.units[0])
        if unit and all(_gist(u) == unit for u in node.units):
            return [f"{len(node.units)} units, each:"] + unit
    found = [layer_label(n) for n in _walk(node)
             if isinstance(n, Layer) and KINDS[n.kind].family in ("conv", "pool")]
    return found if len(found) <= GIST_MAX else []


def _branch_starts(items: list[Node]) -> set[int]:
    """Where the parallel branches of a sequence written with `from:` begin (Inception in
    torchvision's layout: siblings, each branch reading the block's input, a concat at the end):
    empty unless a merge later reads several of them."""
    starts = {i for i, item in enumerate(items)
              if len(item.sources) == 1 and (i == 0 or item.sources[0] != items[i - 1].name)}
    merges = [i for i, item in enumerate(items) if len(item.sources) > 1]
    starts = {i for i in starts if merges and i < merges[-1]}
    return {0} | starts if starts else set()  # the first branch follows on from the block's input


def _is_identity(node: Node) -> bool:
    return isinstance(node, Layer) and node.kind == "identity"


def _walk(node: Node):
    yield node
    for child in node.children():
        yield from _walk(child)


def _frozen_at(root: Node, path: str) -> bool:
    """Whether the node at `path` or a block around it is frozen."""
    return any(not n.trainable for n in _walk(root) if n.path and (path == n.path or path.startswith(n.path + ".")))


def find_block(graph: Graph, path: str) -> Node:
    """The node at module path `path` (as in state_dict keys), for --focus."""
    paths = {n.path: n for n in _walk(graph.root) if n.path}
    if path not in paths:
        from archc.errors import ArchcError, did_you_mean

        raise ArchcError("unknown-focus", f"'{path}' is not a module path in {graph.name}",
                         expected="a module path such as " + ", ".join(list(paths)[:3]), found=path,
                         hint=did_you_mean(path, list(paths)) or "archc summary SPEC lists every module path")
    return paths[path]


_MERGE_SYMBOL = {"add": "+", "mul": "×", "concat": "concat"}


def diagram(graph: Graph, depth: int | None = None, show_params: bool = False, repeats: bool = True,
            show_paths: bool = False, focus: str | None = None) -> Diagram:
    """The drawing of an inferred graph, or of the block at module path `focus` alone; depth None
    picks one that keeps it readable."""
    block = find_block(graph, focus) if focus else None
    depth = auto_depth(graph, repeats, block) if depth is None else depth
    return _Builder(graph, depth, show_params, repeats, show_paths).build(block)
