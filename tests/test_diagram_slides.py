"""Diagrams that fit a slide: resolution, title, legend, folded layout, lecture depth, --focus,
frozen layers, Mermaid colours. Sizes are read back from the PNGs dot writes."""
from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import pytest
from conftest import SPECS, check_layers

import archc
from archc.cli import main
from archc.emit.diagram import DEFAULT_DPI, render_bytes, run_dot, to_dot, to_mermaid
from archc.emit.diagram_model import diagram

SVG = "{http://www.w3.org/2000/svg}"


def _png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG")
    return struct.unpack(">II", png[16:24])


def _svg_text(svg: bytes) -> str:
    return " ".join("".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text"))


def _d2l(name: str) -> archc.Graph:
    return archc.check(SPECS / "d2l" / f"{name}.yaml")


# --dpi

def test_png_resolution_follows_dpi_and_defaults_to_slide_resolution():
    graph = _d2l("lenet")
    low, high = _png_size(render_bytes(graph, "png", dpi=75)), _png_size(render_bytes(graph, "png", dpi=150))
    assert abs(high[0] - 2 * low[0]) <= 4 and abs(high[1] - 2 * low[1]) <= 4
    assert DEFAULT_DPI >= 150
    assert _png_size(render_bytes(graph, "png")) == _png_size(render_bytes(graph, "png", dpi=DEFAULT_DPI))


def test_cli_dpi_is_written_into_the_png(tmp_path):
    out = tmp_path / "lenet.png"
    assert main(["render", str(SPECS / "d2l" / "lenet.yaml"), "-o", str(out), "--dpi", "72"]) == 0
    small = _png_size(out.read_bytes())
    assert main(["render", str(SPECS / "d2l" / "lenet.yaml"), "-o", str(out)]) == 0
    assert _png_size(out.read_bytes())[0] > 1.8 * small[0]


@pytest.mark.parametrize("value", ["0", "5000", "hi"])
def test_cli_dpi_out_of_range_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", str(SPECS / "d2l" / "lenet.yaml"), "--dpi", value])
    assert exit_.value.code == 2
    assert "--dpi" in capsys.readouterr().err


# title and legend

def test_title_names_the_network_and_its_totals_unless_turned_off():
    graph = _d2l("resnet18")
    text = _svg_text(render_bytes(graph, "svg"))
    assert "resnet18" in text and "11.2M params · 319M MACs · 1×96×96 → 10" in text
    assert "11.2M params" not in _svg_text(render_bytes(graph, "svg", title=False))


def test_legend_explains_the_notation_and_the_colours_used():
    graph = _d2l("lenet")
    text = _svg_text(render_bytes(graph, "svg", legend=True))
    assert "kernel 3×3, stride 2, padding 1, 4 groups, 64 output channels" in text
    assert "convolution" in text and "pooling" in text and "trainable: false" in text
    assert "normalisation" not in text  # lenet has no batch norm: only colours drawn are explained
    assert "kernel 3×3, stride 2" not in _svg_text(render_bytes(graph, "svg"))


def test_spec_text_in_titles_is_escaped_for_dot_html_and_mermaid():
    d = diagram(_d2l("lenet"))
    d.name = 'net<b>&"x'
    d.root.clusters.append(type(d.root)("cluster_x", 'block <i>"\\n'))
    d.nodes["input"].title = 'a"#<b>'
    svg = run_dot(to_dot(d), "svg")  # dot accepts the labels
    text = _svg_text(svg)
    assert 'net<b>&"x' in text and 'a"#<b>' in text
    mermaid = to_mermaid(d)
    assert 'title: "net<b>&\\"x' in mermaid.splitlines()[1]
    assert 'input(["a#quot;#35;#lt;b#gt;"])' in mermaid and "<b>" not in mermaid.split("---")[2]


# the folded layout

SLIDE_NETWORKS = [("d2l", n) for n in ["lenet", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet"]] + [
    ("torchvision", "resnet50")]


@pytest.mark.parametrize("folder,name", SLIDE_NETWORKS)
def test_default_drawing_has_a_slide_aspect_ratio(folder, name):
    width, height = _png_size(render_bytes(archc.check(SPECS / folder / f"{name}.yaml"), "png", dpi=36))
    assert 0.85 <= width / height <= 1.9, (width, height)  # about 1:1 to 16:9


def test_column_layout_is_the_long_strip_that_wrap_folds():
    graph = _d2l("resnet18")
    width, height = _png_size(render_bytes(graph, "png", dpi=36, layout="column"))
    assert width / height < 0.2


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "googlenet"])
def test_left_to_right_wraps_into_rows_instead_of_a_strip(name):
    graph = _d2l(name)
    width, height = _png_size(render_bytes(graph, "png", dpi=36, rankdir="LR"))
    assert width / height < 2.2, (width, height)
    strip = _png_size(render_bytes(graph, "png", dpi=36, rankdir="LR", layout="column"))
    assert strip[0] / strip[1] > 4


def test_folded_columns_each_start_at_the_top():
    dot = to_dot(diagram(_d2l("resnet18")))
    assert "rank=same" in dot and "constraint=false" in dot
    assert "rank=same" not in to_dot(diagram(_d2l("resnet18")), layout="column")


# what the default depth shows

def test_inception_block_at_default_depth_shows_its_four_branches_with_kernels():
    d = diagram(_d2l("googlenet"))
    details = [n.detail for n in d.nodes.values()]
    assert any("conv2d 1×1 → 96\nconv2d 3×3, p1 → 128" in x for x in details)
    assert any("conv2d 1×1 → 16\nconv2d 5×5, p2 → 32" in x for x in details)
    assert any("max_pool2d 3×3/1, p1\nconv2d 1×1 → 32" in x for x in details)
    concats = [n.id for n in d.nodes.values() if n.title == "concat"]
    assert concats and all(sum(e.dst == c for e in d.edges) == 4 for c in concats)


def test_collapsed_mbconv_and_dense_blocks_show_kernel_stride_and_expansion():
    d = diagram(archc.check(SPECS / "torchvision" / "efficientnet_b0.yaml"))
    details = [n.detail for n in d.nodes.values()]
    assert any(x.startswith("conv2d 1×1 → 96\n") for x in details)  # expansion ×6 of 16 channels
    assert any(x.startswith("conv2d 1×1 → 96\nconv2d 3×3/2, p1, g96 → 96\n") for x in details)  # then depthwise, stride 2
    dense = diagram(archc.check(SPECS / "torchvision" / "densenet121.yaml"))
    block = next(n for n in dense.nodes.values() if n.title == "features.denseblock1 · dense")
    assert block.detail.startswith("6 units, each:\nconv2d 1×1 → 128\nconv2d 3×3, p1 → 32\n")


def test_inception_v3_branches_meet_in_a_concat_not_as_skips_and_no_identity_follows():
    d = diagram(archc.check(SPECS / "torchvision" / "inception_v3.yaml"), depth=2, focus="Mixed_5b")
    (concat,) = [n.id for n in d.nodes.values() if n.title == "concat"]
    into = [e for e in d.edges if e.dst == concat]
    assert len(into) == 4 and not any(e.shortcut for e in into)
    assert [d.nodes[e.dst].role for e in d.edges if e.src == concat] == ["io"]  # straight to the output
    assert not any(n.title == "identity" for n in d.nodes.values())
    assert sum(e.src == "input" for e in d.edges) == 4  # one fork into four parallel branches


def test_a_from_skip_is_still_drawn_as_a_shortcut():
    graph = check_layers([{"conv2d": {"out_channels": 3, "kernel_size": 3, "padding": 1, "name": "c"}},
                          {"identity": {"from": ["input", "c"], "merge": "add"}}], (3, 8, 8))
    d = diagram(graph, depth=5)
    (plus,) = [n.id for n in d.nodes.values() if n.title == "+"]
    kinds = sorted((d.nodes[e.src].role, e.shortcut) for e in d.edges if e.dst == plus)
    assert kinds == [("io", True), ("layer", False)]


# --focus

def test_focus_draws_one_block_alone(tmp_path, capsys):
    graph = archc.check(SPECS / "torchvision" / "resnet50.yaml")
    d = diagram(graph, focus="layer2.0")
    assert d.nodes["input"].title == "input 256×56×56" and d.nodes["output"].title == "output 512×28×28"
    titles = [n.title for n in d.nodes.values()]
    assert "conv2d 3×3/2, p1 → 128" in titles and "conv2d 7×7/2, p3 → 64" not in titles
    assert "layer2.0" in d.name
    out = tmp_path / "block.dot"
    assert main(["render", str(SPECS / "torchvision" / "resnet50.yaml"), "--focus", "layer2.0", "-o", str(out)]) == 0
    assert "conv2d 1×1/2 → 512" in out.read_text()


def test_unknown_focus_is_a_clear_error_with_a_suggestion(capsys):
    spec = str(SPECS / "torchvision" / "resnet50.yaml")
    assert main(["render", spec, "--focus", "layr2.0", "--format", "dot", "-o", "-"]) == 1
    err = capsys.readouterr().err
    assert "error[unknown-focus]" in err and "did you mean 'layer2.0'" in err and "Traceback" not in err


# frozen layers and Mermaid colours

def test_frozen_layers_are_dashed_and_marked_in_dot_and_mermaid():
    graph = check_layers([{"conv2d": {"out_channels": 4, "kernel_size": 3, "trainable": False}},
                          {"relu": None}, {"conv2d": {"out_channels": 4, "kernel_size": 3}}], (3, 12, 12))
    d = diagram(graph, depth=5)
    frozen = [n for n in d.nodes.values() if n.frozen]
    assert [n.title for n in frozen] == ["conv2d 3×3 → 4"]
    dot = to_dot(d)
    assert re.search(rf"{frozen[0].id} \[label=<.*frozen.*style=\"rounded,filled,dashed\"", dot)
    assert sum("dashed" in line for line in dot.splitlines() if "conv2d" in line) == 1
    assert f"class {frozen[0].id} frozen" in to_mermaid(d)


def test_frozen_block_marks_everything_inside():
    graph = check_layers([{"sequential": {"name": "stem", "trainable": False, "layers": [
        {"conv2d": {"out_channels": 4, "kernel_size": 3}}, {"relu": None}]}},
        {"conv2d": {"out_channels": 4, "kernel_size": 3}}], (3, 12, 12))
    d = diagram(graph, depth=5)
    assert sorted(n.title for n in d.nodes.values() if n.frozen) == ["conv2d 3×3 → 4", "relu"]
    assert "(frozen)" in d.root.clusters[0].title


def test_mermaid_colours_nodes_by_kind_family():
    text = to_mermaid(diagram(_d2l("lenet")))
    assert "classDef conv fill:#dbe9f6" in text and "classDef pool fill:#fde5c8" in text
    conv_ids = re.search(r"^  class ([\w,]+) conv$", text, re.M).group(1).split(",")
    assert len(conv_ids) == 2  # lenet's two convolutions


def test_a_folded_column_does_not_start_with_the_activation_of_the_layer_before():
    from archc.emit.diagram_layout import fold

    d = diagram(_d2l("lenet"))
    columns = fold(d).columns
    assert len(columns) >= 2
    for column in columns[1:]:
        first = d.nodes[column[0]]
        assert first.family not in ("activation", "norm"), first.title


@pytest.mark.parametrize("name", ["lenet", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet", "unet_small"])
def test_gallery_has_a_small_slide_sized_png(name):
    from conftest import REPO

    png = (REPO / "docs" / "gallery" / f"{name}.png").read_bytes()
    width, height = _png_size(png)
    assert len(png) < 300_000 and 0.85 <= width / height <= 1.9
    assert f"(gallery/{name}.png)" in (REPO / "docs" / "gallery.md").read_text()


def test_torchvision_style_inception_branches_are_kept_as_columns_and_not_folded():
    from archc.emit.diagram_layout import fold

    d = diagram(archc.check(SPECS / "torchvision" / "inception_v3.yaml"), depth=5, focus="Mixed_6b")
    (block,) = d.root.clusters
    columns = [c for c in block.clusters if c.invisible]
    assert len(columns) == 4  # 1×1, 7×7, double 7×7, pool: each one box-less cluster, in order
    assert [c.clusters[0].title.split(" ·")[0] for c in columns] == [
        "Mixed_6b.branch1x1", "Mixed_6b.branch7x7_1", "Mixed_6b.branch7x7dbl_1", "Mixed_6b.branch_pool"]
    assert len(fold(d).columns) == 1  # the branches side by side already; no chain to fold
    assert "style=invis" in to_dot(d)
    assert '[""]' not in to_mermaid(d)  # Mermaid would draw an empty box: the branch's nodes stand inline
