"""Diagram writers: DOT (rendered by graphviz's dot to svg/png/pdf) and Mermaid."""
from __future__ import annotations

import hashlib
import html
import shutil
import subprocess

from archc.emit.diagram_layout import fold
from archc.emit.diagram_model import DCluster, Diagram, diagram
from archc.errors import ArchcError
from archc.graph import Graph

FORMATS = ("svg", "png", "pdf", "dot", "mermaid", "html")
EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
              ".mermaid": "mermaid",
              ".html": "html", ".htm": "html"}

# fill colours by layer family: a reader tells convolutions from pooling at a glance
_FILL = {"conv": "#dbe9f6", "pool": "#fde5c8", "norm": "#dff0d8", "activation": "#f5f5f5",
         "linear": "#e8def3", "attention": "#fbe0ea", "shape": "#ffffff"}
_FAMILY_NAMES = {"conv": "convolution", "pool": "pooling", "norm": "normalisation", "activation": "activation",
                 "linear": "linear", "attention": "attention", "shape": "reshaping"}
_FONT = "Helvetica"
_SHORTCUT = "#c0392b"
_DEAD = {"style": "dashed", "color": "#bbbbbb", "fontcolor": "#999999", "fillcolor": "white"}  # never run
DOT_TIMEOUT = 60.0  # seconds; a 10,000-branch parallel takes minutes
LAYOUTS = ("wrap", "column")  # wrap: a long chain folded into columns (rows for LR); column: one strip
DEFAULT_DPI = 150  # a 1920-pixel-wide slide is filled by a drawing about 13 inches wide, without upscaling


def _html_label(title: str, detail: str) -> str:
    """A box's label: the title, and smaller detail lines (split at newlines) under it."""
    text = f"<b>{html.escape(title)}</b>" if detail else html.escape(title)
    for line in detail.splitlines():
        text += f'<br/><font point-size="9" color="#555555">{html.escape(line)}</font>'
    return f"<{text}>"


def _title_label(d: Diagram) -> str:
    return (f'<font point-size="16"><b>{html.escape(d.name)}</b></font>'
            f'<font point-size="11" color="#444444">   {html.escape(d.totals)}</font>')


def _legend_label(families: list[str]) -> str:
    """An HTML table explaining the notation and the colours actually used in the drawing."""
    rows = ['<tr><td colspan="2" align="left"><b>legend</b></td></tr>',
            '<tr><td align="left">conv2d 3×3/2, p1, g4 → 64</td>'
            '<td align="left">kernel 3×3, stride 2, padding 1, 4 groups, 64 output channels</td></tr>',
            '<tr><td align="left">×N</td><td align="left">N identical blocks in a row, drawn once</td></tr>',
            f'<tr><td align="left"><font color="{_SHORTCUT}">- - -▶</font></td>'
            '<td align="left">shortcut or skip connection</td></tr>',
            '<tr><td align="left">dashed box, (frozen)</td><td align="left">trainable: false</td></tr>',
            '<tr><td align="left" bgcolor="#fff8e1">block</td><td align="left">a collapsed block (--depth)</td></tr>']
    for family in families:
        rows.append(f'<tr><td bgcolor="{_FILL[family]}"> </td><td align="left">{_FAMILY_NAMES[family]}</td></tr>')
    return ('<table border="1" cellborder="0" cellspacing="2" cellpadding="2" color="#999999">'
            + "".join(rows) + "</table>")


def to_dot(d: Diagram, rankdir: str = "TB", comment: str = "", *, title: bool = True, legend: bool = False,
           layout: str = "wrap") -> str:
    """DOT source text (needs the graphviz Python package, not the dot binary). `layout` wrap folds
    a long chain into side-by-side columns (stacked rows for LR) to fit a slide."""
    import graphviz

    folded = fold(d, rankdir) if layout == "wrap" else fold(d, rankdir, columns=1)
    g = graphviz.Digraph(d.name)
    if comment:  # a graph attribute (not a // line), so that dot copies it into the SVG
        g.attr(comment=comment)
    g.attr(rankdir=rankdir, fontname=_FONT, fontsize="10", nodesep="0.2", ranksep="0.22", newrank="true",
           labeljust="l", bgcolor="white")  # white, not transparent: slides and 256-colour PNGs
    heading = [_title_label(d)] if title else []
    if legend:  # in the graph's label, above the drawing: as a node it would take a rank in a column
        heading.append(_legend_label([f for f in _FILL if any(n.family == f for n in d.nodes.values())]))
    if heading:
        rows = "".join(f'<tr><td align="left">{part}</td></tr>' for part in heading)
        g.attr(label=f'<<table border="0" cellspacing="6">{rows}</table>>', labelloc="t", labeljust="l")
    g.attr("node", fontname=_FONT, fontsize="11", shape="box", style="rounded,filled", fillcolor="white",
           color="#666666", margin="0.12,0.04", height="0.3")
    g.attr("edge", fontname=_FONT, fontsize="9", color="#555555", fontcolor="#333333", arrowsize="0.6")

    column_of = {n: i for i, column in enumerate(folded.columns) for n in column}
    for e in d.edges:  # a box off the chain (a parameter the network owns) goes with what it feeds
        if e.src not in column_of and e.dst in column_of:
            column_of[e.src] = column_of[e.dst]
    # snaking columns each go in a box-less cluster of their own, which keeps them apart and in order
    lanes = ([graphviz.Digraph(name=f"cluster_column{i}", graph_attr={"style": "invis", "margin": "2", "label": ""})
              for i in range(len(folded.columns))] if folded.upward else [])

    def emit_cluster(target, cluster: DCluster, top: bool = False) -> None:
        for nid in cluster.nodes:
            node = d.nodes[nid]
            if top and lanes:
                target = lanes[column_of[nid]]
            frozen = {"style": "rounded,filled,dashed", "penwidth": "1.6"} if node.frozen else {}
            if node.role == "merge":
                target.node(nid, node.title, shape="circle" if len(node.title) == 1 else "box",
                            style="filled", fillcolor="#fff3b0", fontsize="12" if len(node.title) == 1 else "9",
                            width="0.3", height="0.3", fixedsize="true" if len(node.title) == 1 else "false")
            elif node.role == "io":
                target.node(nid, _html_label(node.title, node.detail), shape="box", style="filled",
                            fillcolor="#eeeeee", color="#999999")
            elif node.role == "block":
                target.node(nid, _html_label(node.title, node.detail + (" · frozen" if node.frozen else "")),
                            shape="box3d", style="filled", fillcolor="#fff8e1", **frozen)
            else:
                detail = " · ".join(x for x in (node.detail, "frozen" if node.frozen else "") if x)
                target.node(nid, _html_label(node.title, detail), fillcolor=_FILL.get(node.family, "white"), **frozen)
            if node.dead:  # the same node statement again: dot merges the attributes, these win
                target.node(nid, **_DEAD)
        for sub in cluster.clusters:
            if sub.id in folded.unboxed:  # spread over the columns: its items stand on their own
                emit_cluster(target, sub, top)
                continue
            if top and lanes:
                target = lanes[column_of[_first_node(sub)]]
            with target.subgraph(name=sub.id) as inner:
                if sub.invisible:
                    inner.attr(label="", style="invis", margin="4")
                else:
                    inner.attr(label=_html_label(sub.title, ""), style="rounded,dashed", color="#999999",
                               fontsize="10", fontcolor="#444444", margin="10")
                emit_cluster(inner, sub)

    emit_cluster(g, d.root, top=True)
    for lane in lanes:
        g.subgraph(lane)
    if folded.upward:
        _snake_edges(g, d, folded.columns, folded.upward, column_of)
    else:
        _column_edges(g, d, folded.columns, column_of)
    return g.source


def _first_node(cluster: DCluster) -> str:
    return cluster.nodes[0] if cluster.nodes else _first_node(cluster.clusters[0])


def _edge_style(e) -> dict:
    if e.dead:
        return {"style": "dotted", "color": "#bbbbbb", "fontcolor": "#999999"}
    return {"style": "dashed", "color": _SHORTCUT, "fontcolor": _SHORTCUT} if e.shortcut else {}


def _column_edges(g, d: Diagram, columns: list[list[str]], column_of: dict[str, int]) -> None:
    """Edges of columns that all run top to bottom, the chain crossing from each column's foot
    to the next one's head."""
    heads = [column[0] for column in columns]
    connectors: dict[tuple[str, int], str] = {}
    for e in d.edges:
        style = _edge_style(e)
        src, column = e.src, column_of[e.dst]
        if column_of[src] != column:
            # an edge into another column goes through one small point at that column's top, so
            # that a tensor feeding several branches crosses once; it does not rank the point
            # below its tail, so every column starts at the top
            point = connectors.get((src, column))
            if point is None:
                point = connectors[(src, column)] = f"wrap{len(connectors) + 1}"
                g.node(point, "", shape="point", width="0.08", color="#555555")
                g.edge(src, point, constraint="false", **style)
                if heads[column] == columns[column][0]:
                    heads[column] = point
            src = point
        g.edge(src, e.dst, label=f" {e.label}", **style)
    if len(columns) > 1:
        # the columns' first boxes share the top rank, in chain order
        with g.subgraph() as top:
            top.attr(rank="same")
            for a, b in zip(heads, heads[1:]):
                top.edge(a, b, style="invis")


def _snake_edges(g, d: Diagram, columns: list[list[str]], upward: set[int], column_of: dict[str, int]) -> None:
    """Edges of columns that take turns running down and up (a U for two): an upward column's
    edges are written head to tail with dir=back, so that dot ranks them bottom to top and still
    draws the arrow towards the reader. Edges between columns rank nothing and leave a box's
    side facing the next column, so a skip runs straight across to the merge that reads it."""
    for e in d.edges:
        style, label = _edge_style(e), f" {e.label}"
        a, b = column_of[e.src], column_of[e.dst]
        if a == b:
            if a in upward:
                g.edge(e.dst, e.src, label=label, dir="back", **style)
            else:
                g.edge(e.src, e.dst, label=label, **style)
            continue
        ports = {"tailport": "e", "headport": "w"} if b == a + 1 else {}
        g.edge(e.src, e.dst, xlabel=label, constraint="false", **ports, **style)
    for column in range(len(columns) - 1):
        # where the chain turns: the foot (or head) of one column beside the start of the next
        with g.subgraph() as turn:
            turn.attr(rank="same")
            turn.edge(columns[column][-1], columns[column + 1][0], style="invis")


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: '#' first, since the others become #…; codes."""
    return (text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("\n", "<br/>"))


# node shapes by role: merges are circles, collapsed blocks subroutine boxes, input/output stadiums
_MERMAID_BRACKETS = {"merge": ("((", "))"), "block": ("[[", "]]"), "io": ("([", "])")}
_MERMAID_ROLES = {"merge": "fill:#fff3b0,stroke:#666666", "block": "fill:#fff8e1,stroke:#666666",
                  "io": "fill:#eeeeee,stroke:#999999"}


def _mermaid_class(node) -> str:
    return (node.family or "layer") if node.role == "layer" else node.role


def to_mermaid(d: Diagram, rankdir: str = "TB", *, title: bool = True) -> str:
    """A Mermaid flowchart (renders on GitHub; needs no graphviz), coloured by layer family as the
    DOT drawing is; the title goes in Mermaid's front matter as a JSON string (valid YAML)."""
    import json

    lines = [f"flowchart {'TD' if rankdir == 'TB' else rankdir}"]
    if title:
        lines[:0] = ["---", "title: " + json.dumps(f"{d.name} · {d.totals}", ensure_ascii=False), "---"]

    def node_line(nid: str, indent: str) -> str:
        n = d.nodes[nid]
        text = _mermaid_text(n.title) + (f"<br/><small>{_mermaid_text(n.detail)}</small>" if n.detail else "")
        left, right = _MERMAID_BRACKETS.get(n.role, ("[", "]"))
        return f'{indent}{nid}{left}"{text}"{right}'

    def emit(cluster: DCluster, indent: str) -> None:
        for nid in cluster.nodes:
            lines.append(node_line(nid, indent))
        for sub in cluster.clusters:
            if sub.invisible:  # Mermaid would draw the box
                emit(sub, indent)
                continue
            lines.append(f'{indent}subgraph {sub.id}["{_mermaid_text(sub.title)}"]')
            emit(sub, indent + "  ")
            lines.append(f"{indent}end")

    emit(d.root, "  ")
    for e in d.edges:
        arrow = "-.->" if e.shortcut or e.dead else "-->"
        lines.append(f'  {e.src} {arrow}|"{_mermaid_text(e.label)}"| {e.dst}')
    styles = {**{f: f"fill:{c},stroke:#666666" for f, c in _FILL.items()}, **_MERMAID_ROLES}
    members: dict[str, list[str]] = {}
    for nid, node in d.nodes.items():
        members.setdefault(_mermaid_class(node), []).append(nid)
    for name, ids in members.items():
        lines.append(f"  classDef {name} {styles.get(name, 'fill:#ffffff,stroke:#666666')}")
        lines.append(f"  class {','.join(ids)} {name}")
    frozen = [nid for nid, node in d.nodes.items() if node.frozen]
    if frozen:  # a second class on top of the family's colour
        lines.append("  classDef frozen stroke-dasharray:5 3,stroke-width:2px")
        lines.append(f"  class {','.join(frozen)} frozen")
    dead = [nid for nid, node in d.nodes.items() if node.dead]
    if dead:  # steps no output depends on: in the module, never run
        lines.append("  classDef dead stroke-dasharray:3 3,color:#999999,fill:#ffffff,stroke:#bbbbbb")
        lines.append(f"  class {','.join(dead)} dead")
    return "\n".join(lines) + "\n"


def source_hash(dot_source: str) -> str:
    return hashlib.sha256(dot_source.encode()).hexdigest()[:16]


def render_bytes(graph: Graph, fmt: str, *, depth: int | None = None, rankdir: str = "TB",
                 show_params: bool = False, repeats: bool = True, show_paths: bool = False,
                 timeout: float | None = DOT_TIMEOUT, dpi: int = DEFAULT_DPI, title: bool = True,
                 legend: bool = False, layout: str = "wrap", focus: str | None = None) -> bytes:
    """The diagram in `fmt`; svg/png/pdf need graphviz's dot and fail cleanly without it, or
    when dot takes longer than `timeout` seconds (None: no limit). `dpi` sets a PNG's resolution;
    `focus` draws the block at that module path alone."""
    d = diagram(graph, depth, show_params, repeats, show_paths, focus)
    if fmt == "mermaid":
        return to_mermaid(d, rankdir, title=title).encode()
    style = {"title": title, "legend": legend, "layout": layout}
    dot = to_dot(d, rankdir, **style)
    if fmt == "dot":
        return dot.encode()
    # the SVG carries a hash of its DOT source, so a stale committed diagram can be detected
    dot = to_dot(d, rankdir, comment=f"archc {graph.file} dot-sha256:{source_hash(dot)}", **style)
    return run_dot(dot, fmt, timeout, dpi)


def run_dot(dot: str, fmt: str, timeout: float | None = DOT_TIMEOUT, dpi: int = DEFAULT_DPI) -> bytes:
    """graphviz's dot on DOT source, killed after `timeout` seconds (a huge graph can take hours)."""
    exe = shutil.which("dot")
    if exe is None:
        raise ArchcError(
            "graphviz-missing", f"rendering {fmt} needs graphviz's 'dot' program, which is not installed",
            expected="'dot' on PATH", found="none",
            hint="install graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
                 "conda: conda install graphviz), or use --format dot or --format mermaid",
        )
    try:
        resolution = [f"-Gdpi={dpi}"] if fmt.startswith("png") else []  # svg and pdf are vector: sized in points
        done = subprocess.run([exe, "-Kdot", f"-T{fmt}", *resolution], input=dot.encode(), capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:  # subprocess.run has killed dot by now
        raise ArchcError("graphviz-timeout", f"graphviz's dot took longer than {timeout:g} s to draw the diagram",
                         expected=f"at most {timeout:g} s (--diagram-timeout)", found="more",
                         hint="draw fewer boxes (--depth N collapses deeper blocks), use --format mermaid, "
                              "or allow more time with --diagram-timeout") from None
    except OSError as exc:
        raise ArchcError("graphviz-failed", f"graphviz's dot could not be run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise ArchcError("graphviz-failed", f"graphviz's dot failed: {done.stderr.decode(errors='replace')[:300]}")
    return done.stdout
