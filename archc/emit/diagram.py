"""Diagram writers: DOT (rendered by graphviz's dot to svg/png/pdf) and Mermaid."""
from __future__ import annotations

import hashlib
import html
import shutil
import subprocess

from archc.emit.diagram_model import DCluster, Diagram, diagram
from archc.errors import ArchcError
from archc.graph import Graph

FORMATS = ("svg", "png", "pdf", "dot", "mermaid", "html")
EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid",
              ".mermaid": "mermaid",
              ".html": "html", ".htm": "html"}

# fill colours by layer family: a reader tells convolutions from pooling at a glance
_FILL = {"conv": "#dbe9f6", "pool": "#fde5c8", "norm": "#dff0d8", "activation": "#f5f5f5",
         "linear": "#e8def3", "shape": "#ffffff"}
_FONT = "Helvetica"
DOT_TIMEOUT = 60.0  # seconds; a 10,000-branch parallel takes minutes


def _html_label(title: str, detail: str) -> str:
    text = f"<b>{html.escape(title)}</b>" if detail else html.escape(title)
    if detail:
        text += f'<br/><font point-size="9" color="#555555">{html.escape(detail)}</font>'
    return f"<{text}>"


def to_dot(d: Diagram, rankdir: str = "TB", comment: str = "") -> str:
    """DOT source text (needs the graphviz Python package, not the dot binary)."""
    import graphviz

    g = graphviz.Digraph(d.name)
    if comment:  # a graph attribute (not a // line), so that dot copies it into the SVG
        g.attr(comment=comment)
    g.attr(rankdir=rankdir, fontname=_FONT, nodesep="0.2", ranksep="0.22", newrank="true", labeljust="l")
    g.attr("node", fontname=_FONT, fontsize="11", shape="box", style="rounded,filled", fillcolor="white",
           color="#666666", margin="0.12,0.04", height="0.3")
    g.attr("edge", fontname=_FONT, fontsize="9", color="#555555", fontcolor="#333333", arrowsize="0.6")

    def emit_cluster(target, cluster: DCluster) -> None:
        for nid in cluster.nodes:
            node = d.nodes[nid]
            if node.role == "merge":
                target.node(nid, node.title, shape="circle" if len(node.title) == 1 else "box",
                            style="filled", fillcolor="#fff3b0", fontsize="12" if len(node.title) == 1 else "9",
                            width="0.3", height="0.3", fixedsize="true" if len(node.title) == 1 else "false")
            elif node.role == "io":
                target.node(nid, _html_label(node.title, node.detail), shape="box", style="filled",
                            fillcolor="#eeeeee", color="#999999")
            elif node.role == "block":
                target.node(nid, _html_label(node.title, node.detail), shape="box3d", style="filled",
                            fillcolor="#fff8e1")
            else:
                target.node(nid, _html_label(node.title, node.detail), fillcolor=_FILL.get(node.family, "white"))
        for sub in cluster.clusters:
            with target.subgraph(name=sub.id) as inner:
                inner.attr(label=sub.title, style="rounded,dashed", color="#999999", fontsize="10",
                           fontcolor="#444444", margin="10")
                emit_cluster(inner, sub)

    emit_cluster(g, d.root)
    for e in d.edges:
        if e.shortcut:
            g.edge(e.src, e.dst, label=f" {e.label}", style="dashed", color="#c0392b", fontcolor="#c0392b")
        else:
            g.edge(e.src, e.dst, label=f" {e.label}")
    return g.source


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


# node shapes by role: merges are circles, collapsed blocks subroutine boxes, input/output stadiums
_MERMAID_BRACKETS = {"merge": ("((", "))"), "block": ("[[", "]]"), "io": ("([", "])")}


def to_mermaid(d: Diagram, rankdir: str = "TB") -> str:
    """A Mermaid flowchart (renders on GitHub; needs no graphviz)."""
    lines = [f"flowchart {'TD' if rankdir == 'TB' else rankdir}"]

    def node_line(nid: str, indent: str) -> str:
        n = d.nodes[nid]
        text = _mermaid_text(n.title) + (f"<br/><small>{_mermaid_text(n.detail)}</small>" if n.detail else "")
        left, right = _MERMAID_BRACKETS.get(n.role, ("[", "]"))
        return f'{indent}{nid}{left}"{text}"{right}'

    def emit(cluster: DCluster, indent: str) -> None:
        for nid in cluster.nodes:
            lines.append(node_line(nid, indent))
        for sub in cluster.clusters:
            lines.append(f'{indent}subgraph {sub.id}["{_mermaid_text(sub.title)}"]')
            emit(sub, indent + "  ")
            lines.append(f"{indent}end")

    emit(d.root, "  ")
    for e in d.edges:
        arrow = "-.->" if e.shortcut else "-->"
        lines.append(f'  {e.src} {arrow}|"{_mermaid_text(e.label)}"| {e.dst}')
    return "\n".join(lines) + "\n"


def source_hash(dot_source: str) -> str:
    return hashlib.sha256(dot_source.encode()).hexdigest()[:16]


def render_bytes(graph: Graph, fmt: str, *, depth: int | None = None, rankdir: str = "TB",
                 show_params: bool = False, repeats: bool = True, show_paths: bool = False,
                 timeout: float | None = DOT_TIMEOUT) -> bytes:
    """The diagram in `fmt`; svg/png/pdf need graphviz's dot and fail cleanly without it, or
    when dot takes longer than `timeout` seconds (None: no limit)."""
    d = diagram(graph, depth, show_params, repeats, show_paths)
    if fmt == "mermaid":
        return to_mermaid(d, rankdir).encode()
    dot = to_dot(d, rankdir)
    if fmt == "dot":
        return dot.encode()
    # the SVG carries a hash of its DOT source, so a stale committed diagram can be detected
    dot = to_dot(d, rankdir, comment=f"archc {graph.file} dot-sha256:{source_hash(dot)}")
    return run_dot(dot, fmt, timeout)


def run_dot(dot: str, fmt: str, timeout: float | None = DOT_TIMEOUT) -> bytes:
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
        done = subprocess.run([exe, "-Kdot", f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=timeout)
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
