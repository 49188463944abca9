"""The interactive page (`archc render -o net.html`), driven in a real headless chromium.

The page runs its own interactions when opened as `net.html#selftest&cluster=PATH&q=TEXT`
and writes what it saw into #archc-selftest; `chromium --dump-dom` hands that back."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from conftest import SPECS

import archc
from archc.cli import main
from archc.emit.html import document, json_for_script, page
from archc.explain import explanations
from archc.graph import Layer


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("these tests need a headless chromium: run scripts/setup.sh --dev (it installs it with apt)")
    return exe


def _selftest(path, fragment: str) -> dict:
    done = subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
                           "--dump-dom", f"file://{path}#selftest&{fragment}"],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="archc-selftest"[^>]*>(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), f"the page wrote no self-test result; stderr: {done.stderr[-2000:]}"
    import html
    return json.loads(html.unescape(found.group(1)))


def _render(spec, tmp_path, name="net.html"):
    out = tmp_path / name
    assert main(["render", str(spec), "-o", str(out)]) == 0
    return out


def test_lenet_page_shows_its_twelve_layers_and_their_shapes_without_errors(tmp_path):
    seen = _selftest(_render(SPECS / "d2l" / "lenet.yaml", tmp_path), "")
    graph = archc.check(SPECS / "d2l" / "lenet.yaml")
    from archc.emit.report import label
    assert seen["initial"]["layers"] == [label(n) for n in graph.nodes() if isinstance(n, Layer)]
    assert len(seen["initial"]["layers"]) == 12
    assert sorted(set(seen["initial"]["edges"])) == sorted(
        {"1×28×28", "6×28×28", "6×14×14", "16×10×10", "16×5×5", "400", "120", "84", "10"})
    assert seen["errors"] == []


def test_googlenet_inception_block_collapses_and_expands_to_its_branches(tmp_path):
    seen = _selftest(_render(SPECS / "d2l" / "googlenet.yaml", tmp_path), "cluster=b3.0")
    # closed, the block is one box; open, its four branches and their concat come back
    assert seen["opened"]["boxes"] == seen["closed"]["boxes"] + 4
    assert seen["closedAgain"] == seen["closed"]
    for shape in ["64×12×12", "128×12×12", "32×12×12"]:  # the branches' outputs, on the edges into concat
        assert seen["opened"]["edges"].count(shape) > seen["closed"]["edges"].count(shape)
    assert seen["errors"] == []


def test_search_finds_a_nested_layer_and_the_panel_shows_its_explanation_and_place(tmp_path):
    spec = SPECS / "d2l" / "googlenet.yaml"
    seen = _selftest(_render(spec, tmp_path), "q=b4.2.b3.1")
    graph = archc.check(spec)
    layer = next(n for n in graph.nodes() if n.path == "b4.2.b3.1")
    explain = next(e.lines for e in explanations(graph) if e.node is layer)
    assert seen["current"] == "b4.2.b3.1" and seen["hits"] == "1/1"
    for line in explain:
        assert line in seen["panel"]
    assert f"{layer.loc.file}:{layer.loc.line}" in seen["panel"]
    assert format(layer.params, ",") in seen["panel"]
    assert seen["errors"] == []


HOSTILE = """\
archc: 1
name: hostile
description: "</script><script>document.title='pwned'</script> & <b>bold</b> \\u2028"
input: [1, 8, 8]
layers:
  - conv2d: {out_channels: 2, kernel_size: 3}
  - flatten
"""


def test_hostile_description_and_file_name_stay_text(tmp_path):
    spec = tmp_path / "a<b>&'x.yaml"
    spec.write_text(HOSTILE)
    out = _render(spec, tmp_path)
    text = out.read_text()
    assert "<script>document.title" not in text and "<b>bold" not in text
    seen = _selftest(out, "")
    assert seen["errors"] == [] and len(seen["initial"]["layers"]) == 2
    dom = subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          f"file://{out}"], capture_output=True, text=True, timeout=120).stdout
    assert "<title>hostile · archc</title>" in dom  # the injected script never ran
    assert "&lt;/script&gt;&lt;script&gt;document.title" in dom  # the description shows as text


def test_embedded_json_cannot_end_its_script_element():
    value = {"s": "</script><!-- & \u2028\u2029 >"}
    text = json_for_script(value)
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == value


def test_page_is_self_contained_and_its_document_is_plain_json():
    graph = archc.check(SPECS / "d2l" / "resnet18.yaml")
    text = page(graph).decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing fetched from anywhere
    doc = json.loads(json.dumps(document(graph)))
    assert {c["repeat"] for c in doc["clusters"]} >= {1}
    assert any(e["shortcut"] for e in doc["edges"])  # the residual shortcuts are marked


def test_format_html_writes_the_page(tmp_path):
    out = tmp_path / "page.out"
    assert main(["render", str(SPECS / "d2l" / "lenet.yaml"), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
