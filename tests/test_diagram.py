"""Diagrams: content read back from the SVG, depth collapse, ×N runs, Mermaid, the gallery."""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import REPO, SPECS, check_layers, load_script

import archc
from archc.cli import main
from archc.emit.diagram import render_bytes, source_hash, to_dot, to_mermaid
from archc.emit.diagram_model import diagram

SVG = "{http://www.w3.org/2000/svg}"


def _svg_texts(svg: bytes) -> tuple[list[str], list[str]]:
    """(node texts, edge texts) of a graphviz SVG."""
    root = ET.fromstring(svg)
    nodes, edges = [], []
    for group in root.iter(f"{SVG}g"):
        texts = ["".join(t.itertext()).strip() for t in group.iter(f"{SVG}text")]
        if group.get("class") == "node" and texts:  # textless: the points where a folded chain turns
            nodes.append(" | ".join(texts))
        elif group.get("class") == "edge":
            edges.extend(texts)
    return nodes, edges


def test_lenet_svg_has_a_box_per_layer_and_shapes_on_edges():
    graph = archc.check(SPECS / "d2l" / "lenet.yaml")
    nodes, edges = _svg_texts(render_bytes(graph, "svg"))
    for label in ["conv2d 5×5, p2 → 6", "sigmoid", "avg_pool2d 2×2/2", "conv2d 5×5 → 16", "flatten",
                  "linear → 120", "linear → 84", "linear → 10"]:
        assert any(label in n for n in nodes), label
    assert len(nodes) == 12 + 2  # twelve layers, input and output
    assert sorted(set(edges)) == sorted({"1×28×28", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "400", "120", "84", "10"})


def test_alexnet_first_conv_uses_compact_notation():
    nodes, edges = _svg_texts(render_bytes(archc.check(SPECS / "d2l" / "alexnet.yaml"), "svg"))
    assert any("conv2d 11×11/4, p1 → 96" in n for n in nodes)
    assert "96×54×54" in edges


def test_blocks_are_labelled_clusters():
    svg = render_bytes(archc.check(SPECS / "d2l" / "googlenet.yaml"), "svg", depth=2)
    root = ET.fromstring(svg)
    clusters = ["".join(t.itertext()) for g in root.iter(f"{SVG}g") if g.get("class") == "cluster" for t in g.iter(f"{SVG}text")]
    assert "b3.0 · Inception" in clusters and "b1 · sequential" in clusters


def test_residual_shortcut_and_merge_are_distinct():
    d = diagram(archc.check(SPECS / "d2l" / "resnet18.yaml"), depth=3)
    merges = [n for n in d.nodes.values() if n.role == "merge"]
    assert merges and all(n.title == "+" for n in merges)
    shortcuts = [e for e in d.edges if e.shortcut]
    assert len(shortcuts) >= len(merges)  # each add has a dashed path into it
    assert all(d.nodes[e.dst].role in ("merge", "layer") for e in shortcuts)
    dot = to_dot(d)
    assert 'style=dashed' in dot


def test_parallel_branches_meet_in_one_concat():
    graph = check_layers([{"inception": {"c1": 4, "c2": [4, 8], "c3": [2, 4], "c4": 4}}], (8, 6, 6), imports=["std"])
    d = diagram(graph, depth=5)
    (concat,) = [n for n in d.nodes.values() if n.title == "concat"]
    into = sorted(e.label for e in d.edges if e.dst == concat.id)
    assert into == ["4×6×6", "4×6×6", "4×6×6", "8×6×6"]
    out = [e.label for e in d.edges if e.src == concat.id]
    assert out == ["20×6×6"]


def test_depth_collapse_reduces_nodes_and_keeps_shapes():
    graph = archc.check(SPECS / "d2l" / "googlenet.yaml")
    full, collapsed = diagram(graph, depth=5), diagram(graph, depth=1)
    assert len(collapsed.nodes) < len(full.nodes)
    block = next(n for n in collapsed.nodes.values() if n.title == "b3.0 · Inception")
    assert block.detail == "256×12×12 · 163,696 params"
    assert [e.label for e in collapsed.edges if e.dst == block.id] == ["192×12×12"]
    assert [e.label for e in collapsed.edges if e.src == block.id] == ["256×12×12"]
    zero = diagram(graph, depth=0)
    assert sorted(n.title for n in zero.nodes.values() if n.role == "block") == [
        "b1 · sequential", "b2 · sequential", "b3 · sequential", "b4 · sequential", "b5 · sequential"]


def test_identical_repeated_blocks_are_drawn_once_with_count():
    graph = archc.check(SPECS / "torchvision" / "resnet50.yaml")
    d = diagram(graph, depth=1)
    titles = [n.title for n in d.nodes.values()]
    assert "layer3.1…5 · Bottleneck ×5" in titles  # layer3.0 differs (it downsamples)
    assert "layer3.0 · Bottleneck" in titles
    unrolled = diagram(graph, depth=1, repeats=False)
    assert len(unrolled.nodes) == len(d.nodes) + 1 + 2 + 4 + 1  # runs in layer1..layer4 drawn out


def test_automatic_depth_keeps_lecture_networks_readable():
    for name in ["lenet", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet"]:
        assert len(diagram(archc.check(SPECS / "d2l" / f"{name}.yaml")).nodes) <= 64, name


def _parse_mermaid(text: str):
    lines = text.splitlines()
    if lines[0] == "---":  # front matter: the title
        assert lines[1].startswith("title: ") and lines[2] == "---"
        lines = lines[3:]
    assert lines[0] in ("flowchart TD", "flowchart LR")
    defined, edges, depth = set(), [], 0
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("subgraph "):
            depth += 1
        elif line == "end":
            depth -= 1
            assert depth >= 0
        elif re.fullmatch(r"classDef \w+ [\w#:,.\- ]+|class [\w,]+ \w+", line):
            pass
        elif m := re.fullmatch(r'(\w+) (-->|-\.->)\|"([^"]*)"\| (\w+)', line):
            edges.append((m.group(1), m.group(4), m.group(3)))
        elif m := re.fullmatch(r'(\w+)(\[\[|\(\(|\(\[|\[)"(.*)"(\]\]|\)\)|\]\)|\])', line):
            assert m.group(1) not in defined, f"node {m.group(1)} defined twice"
            defined.add(m.group(1))
        else:
            pytest.fail(f"unparsable mermaid line: {line!r}")
    assert depth == 0
    return defined, edges


@pytest.mark.parametrize("name", ["lenet", "googlenet", "resnet18", "densenet"])
def test_mermaid_flowchart_is_well_formed(name):
    graph = archc.check(SPECS / "d2l" / f"{name}.yaml")
    d = diagram(graph)
    defined, edges = _parse_mermaid(to_mermaid(d))
    assert defined == set(d.nodes)
    assert all(src in defined and dst in defined for src, dst, _ in edges)
    assert len(edges) == len(d.edges)


def test_render_cli_picks_format_from_extension(tmp_path):
    spec = str(SPECS / "d2l" / "lenet.yaml")
    for ext, magic in [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"digraph"), ("mmd", b"---\ntitle: ")]:
        out = tmp_path / f"lenet.{ext}"
        assert main(["render", spec, "-o", str(out)]) == 0
        assert out.read_bytes().startswith(magic), ext


def test_render_never_imports_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from archc.cli import main\n"
            "sys.exit(main(['render', 'specs/d2l/resnet18.yaml', '--format', 'dot', '-o', '-']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph resnet18")


def test_without_graphviz_binary_svg_fails_cleanly_and_dot_still_works(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    spec = str(SPECS / "d2l" / "lenet.yaml")
    out = tmp_path / "lenet.svg"
    assert main(["render", spec, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[graphviz-missing]" in err and "apt-get install graphviz" in err
    assert list(tmp_path.iterdir()) == [], "no partial file"
    assert main(["render", spec, "-o", str(tmp_path / "lenet.dot")]) == 0
    assert main(["render", spec, "-o", str(tmp_path / "lenet.mmd")]) == 0


def test_unknown_extension_is_a_clear_error(tmp_path, capsys):
    assert main(["render", str(SPECS / "d2l" / "lenet.yaml"), "-o", str(tmp_path / "x.jpeg")]) == 1
    assert "error[unknown-format]" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet"])
def test_committed_gallery_diagram_is_current(name, monkeypatch):
    monkeypatch.chdir(REPO)
    graph = archc.check(f"specs/d2l/{name}.yaml")
    expected = source_hash(to_dot(diagram(graph)))
    committed = (REPO / "docs" / "gallery" / f"{name}.svg").read_text()
    assert f"dot&#45;sha256:{expected}" in committed, "stale: run python scripts/gallery.py"


def test_committed_gallery_page_is_current():
    assert (REPO / "docs" / "gallery.md").read_text() == load_script("gallery").page()
