"""Diagrams and reports drawn from the dataflow (graph.Flow): one box per step of the program,
edges from each value's producer (a long skip goes straight to the merge that reads it), the
network's inputs and declared outputs as named io boxes, opened sequences as clusters."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO

import archc
from archc.cli import main
from archc.emit.diagram import render_bytes, to_dot, to_mermaid
from archc.emit.diagram_model import diagram
from archc.emit.report import label
from archc.graph import MERGES, Flow

UNET = REPO / "tests" / "specs_multi_io" / "tiny_unet.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def _unet():
    return archc.check(UNET)


def _steps(flow: Flow):
    """Every step of a flow and of the flows drawn open inside it."""
    for step in flow.program:
        yield step
        if isinstance(step.node, Flow):
            yield from _steps(step.node)


def _box(d, path: str) -> str:
    """The id of the layer box whose detail is module path `path` (drawn with show_paths)."""
    [nid] = [nid for nid, n in d.nodes.items() if n.detail == path]
    return nid


def _svg_nodes(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [" | ".join("".join(t.itertext()).strip() for t in g.iter(f"{SVG}text"))
            for g in root.iter(f"{SVG}g") if g.get("class") == "node" and list(g.iter(f"{SVG}text"))]


def test_unet_svg_draws_one_box_per_step_and_its_named_inputs_and_outputs():
    graph = _unet()
    nodes = _svg_nodes(render_bytes(graph, "svg"))
    steps = [s for s in _steps(graph.root) if not isinstance(s.node, Flow)]
    for step in steps:
        text = {"concat": "concat", "mul": "×", "add": "+"}.get(step.node.kind, label(step.node))
        assert any(n.startswith(text) for n in nodes), step.target
    assert any(n.startswith("image 3×16×16") for n in nodes)
    for key, shape in [("out", "2×16×16"), ("resized", "2×16×16"), ("gated", "1×16×16")]:
        assert any(n.startswith(f"{key} {shape}") for n in nodes), key
    assert len(nodes) == len(steps) + 1 + 3  # no identity boxes, no stray extras


def test_unet_long_skip_is_a_shortcut_edge_into_the_decoders_concat():
    d = diagram(_unet(), show_paths=True)
    r1, upsample, conv = _box(d, "enc.r1"), _box(d, "dec.upsample"), _box(d, "dec.conv")
    [concat] = [nid for nid, n in d.nodes.items() if n.role == "merge" and n.title == "concat"]
    into_concat = {(e.src, e.label, e.shortcut) for e in d.edges if e.dst == concat}
    assert into_concat == {(upsample, "4×16×16", False), (r1, "4×16×16", True)}
    assert [e.dst for e in d.edges if e.src == concat] == [conv]  # the merge is the concat layer itself
    assert not any(n.title == "identity" for n in d.nodes.values())


def test_unet_mermaid_has_the_skip_the_chunk_pieces_and_the_output_keys_in_order():
    d = diagram(_unet(), show_paths=True)
    text = to_mermaid(d)
    [concat] = [nid for nid, n in d.nodes.items() if n.title == "concat"]
    assert f'{_box(d, "enc.r1")} -.->|"4×16×16"| {concat}' in text
    [mul] = [nid for nid, n in d.nodes.items() if n.title == "×"]
    chunk = _box(d, "halves")
    assert f'{chunk} -->|"0: 1×16×16"| {mul}' in text and f'{chunk} -->|"1: 1×16×16"| {mul}' in text
    outputs = re.findall(r'^\s*output\d*\(\["(\w+) ', text, re.M)
    assert outputs == ["out", "resized", "gated"]  # as the spec's outputs: lists them
    assert f'{_box(d, "resized")} -->|"2×16×16"| output2' in text


def test_unet_opened_encoder_is_a_cluster_holding_its_layers():
    d = diagram(_unet(), show_paths=True)
    [enc] = [c for c in d.root.clusters if c.title.startswith("enc")]
    assert enc.nodes == [_box(d, f"enc.{n}") for n in ("c1", "r1", "pool", "c2", "r2")]
    dot = to_dot(d)
    assert f"subgraph {enc.id}" in dot


def test_two_input_block_gets_both_inputs_open_shut_and_focused():
    graph = _unet()
    d = diagram(graph, show_paths=True)
    assert (_box(d, "enc.r2"), _box(d, "dec.upsample")) in {(e.src, e.dst) for e in d.edges}
    shut = diagram(graph, depth=0)
    [dec] = [nid for nid, n in shut.nodes.items() if n.title.startswith("dec")]
    [enc] = [nid for nid, n in shut.nodes.items() if n.title.startswith("enc")]
    assert sorted((e.src, e.label, e.shortcut) for e in shut.edges if e.dst == dec) == [
        (enc, "4×16×16", True), (enc, "8×8×8", False)]  # enc.r2 as x, enc.r1 as the skip
    focused = diagram(graph, focus="dec")
    assert [n.title for n in focused.nodes.values() if n.role == "io"] == ["x 8×8×8", "skip 4×16×16", "output 4×16×16"]


def test_size_of_is_drawn_as_an_edge_from_the_value_it_measures():
    d = diagram(_unet(), show_paths=True)
    assert ("input", _box(d, "resized"), "size of 3×16×16") in {(e.src, e.dst, e.label) for e in d.edges}


def test_a_step_no_output_reads_is_drawn_faded_not_left_out(tmp_path):
    text = UNET.read_text().replace("  - chunk:", "  - relu: {from: enc.r2, name: spare}\n  - chunk:")
    graph = archc.check("t.yaml", text=text)
    d = diagram(graph, show_paths=True)
    spare = _box(d, "spare")
    assert d.nodes[spare].dead and not d.nodes[_box(d, "head")].dead
    assert [e.dead for e in d.edges if e.dst == spare] == [True]
    assert f"class {spare} dead" in to_mermaid(d)
    assert re.search(rf'{spare} \[[^]]*style=dashed', to_dot(d))


def test_every_tiny_unet_format_renders_from_the_command_line(tmp_path):
    for name in ("u.svg", "u.mmd", "u.dot", "u.html"):
        assert main(["render", str(UNET), "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).stat().st_size > 0


def _program_edges(flow: Flow) -> list[dict]:
    return [{"from": r, "to": s.node.path} for s in flow.program for r in s.reads]


def test_json_report_lists_values_edges_and_outputs_of_each_flow(capsys):
    graph = _unet()
    assert main(["check", "--json", str(UNET)]) == 0
    report = json.loads(capsys.readouterr().out)
    root, dec = report["flows"]
    program = graph.root.program
    assert root["path"] == "" and root["inputs"] == [{"name": "image", "shape": [3, 16, 16]}]
    assert [v["name"] for v in root["values"]] == ["image"] + [w for s in program for w in s.writes]
    assert {v["name"]: v["shape"] for v in root["values"]} == {k: list(v) for k, v in graph.root.value_shapes.items()}
    assert {v["name"]: v["producer"] for v in root["values"]}["halves.1"] == "halves"
    assert root["edges"] == _program_edges(graph.root)
    assert {"from": "enc.r1", "to": "dec"} in root["edges"]  # the skip, as the block's second input
    assert root["outputs"] == {"out": "head", "resized": "resized", "gated": "gated"}
    assert root["output_form"] == "dict"
    assert dec["path"] == "dec" and [i["name"] for i in dec["inputs"]] == ["x", "skip"]
    assert {"from": "skip", "to": "dec.1"} in dec["edges"]
    assert [s["merge"] for s in dec["steps"]] == [None, "concat", None, None]


def test_plain_chain_report_has_no_flows():
    assert archc.check(REPO / "specs" / "d2l" / "lenet.yaml") is not None
    from archc.emit.report import report
    assert report(archc.check(REPO / "specs" / "d2l" / "lenet.yaml"))["flows"] == []


def test_html_document_carries_the_dataflow_and_every_step():
    from archc.emit.html import document
    graph = _unet()
    doc = document(graph)
    assert doc["flows"][0]["edges"] == _program_edges(graph.root)
    paths = {n.get("path") for n in doc["nodes"]}
    assert {s.node.path for s in _steps(graph.root) if not isinstance(s.node, Flow)} <= paths
    clusters = {c["path"] for c in doc["clusters"]}
    assert {"enc", "dec"} <= clusters  # the opened encoder and the decoder block, each a block of its own


def test_unet_page_opens_in_a_browser_without_errors(tmp_path):
    from test_html_viewer import _selftest

    out = tmp_path / "unet.html"
    assert main(["render", str(UNET), "-o", str(out)]) == 0
    seen = _selftest(out, "")
    assert seen["errors"] == []
    assert "4×16×16" in seen["initial"]["edges"]


def test_slide_layout_folds_across_skips_as_a_snake_and_prefers_clean_cuts():
    from archc.emit.diagram_layout import fold

    d = diagram(_unet())
    # the image's size_of edge and the outputs span the whole network: each item is still a part
    assert len(d.root.parts) > 1
    resnet = diagram(archc.check(REPO / "specs" / "d2l" / "resnet18.yaml"))
    assert fold(resnet).upward == set()  # clean cuts exist: plain top-down columns


def test_unet_small_png_is_slide_shaped_and_draws_every_skip():
    import struct

    from archc.emit.diagram_layout import fold

    graph = archc.check(REPO / "specs" / "d2l" / "unet_small.yaml")
    png = render_bytes(graph, "png", dpi=36)
    width, height = struct.unpack(">II", png[16:24])
    assert 0.85 <= width / height <= 1.9, (width, height)  # was 1179×3344: one tall column
    d = diagram(graph)
    folded = fold(d)
    assert len(folded.columns) > 1 and folded.upward  # folded across the long skips, snaking
    concats = [nid for nid, n in d.nodes.items() if n.title == "concat"]
    skips = [e for e in d.edges if e.shortcut and e.dst in concats]
    assert len(concats) == 2 and len(skips) == 2  # enc2 → dec2's concat, enc1 → dec1's concat
    dot = to_dot(d)
    for e in skips:
        assert re.search(rf"\b{e.src} -> {e.dst} \[.*dashed", dot), (e.src, e.dst)


ALL_SPECS = sorted((REPO / "specs").rglob("*.yaml"))


@pytest.mark.parametrize("path", ALL_SPECS, ids=[str(p.relative_to(REPO / "specs")) for p in ALL_SPECS])
def test_every_spec_draws_as_dot_and_mermaid_at_its_default_depth(path):
    """Every shipped network, dataflow or chain, draws without an error: the DOT source holds one
    box per layer drawn and every edge ends at a box (dot itself is tested on the gallery)."""
    from conftest import checked

    graph = checked(path)
    dot = render_bytes(graph, "dot").decode()
    boxes = set(re.findall(r"^\s*(\w+) \[", dot, flags=re.M))
    for src, dst in re.findall(r"^\s*(\w+) -> (\w+)", dot, flags=re.M):
        assert src in boxes and dst in boxes, (src, dst)
    assert render_bytes(graph, "mermaid").decode().startswith(("flowchart", "---"))
