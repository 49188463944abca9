"""summary and explain: figures against torch and against inference, for every spec."""
from __future__ import annotations

import re

import pytest
import torch
from conftest import SPECS, attention_as_matmuls, built, check_layers, checked, reference

import archc
from archc.cli import main
from archc.emit.summary import summary_json, summary_text, totals
from archc.explain import explain_text, explanations
from archc.graph import Layer

ALL_SPECS = sorted(SPECS.rglob("*.yaml"))
IDS = [str(p.relative_to(SPECS)) for p in ALL_SPECS]


def _torch_activation_bytes_and_macs(model, x, layers: set[str]) -> tuple[int, int]:
    """Bytes of every layer module's output for one sample, measured with hooks (`layers`: the
    paths of the spec's layers; attention is a layer with a submodule, out_proj, it never calls),
    and the MACs torch's FlopCounter counts, in one forward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += output[0].numel() * output.element_size()

    hooks = [m.register_forward_hook(hook) for path, m in model.named_modules() if path in layers]
    with torch.no_grad(), attention_as_matmuls(), FlopCounterMode(display=False) as counter:
        model(x)
    for h in hooks:
        h.remove()
    return total, counter.get_total_flops() // 2


@pytest.mark.parametrize("path", ALL_SPECS, ids=IDS)
def test_summary_totals_equal_torch(path):
    graph, model = checked(path), built(path)
    x = torch.zeros(1, *graph.input_shape)
    t = totals(graph)
    assert t.params == sum(p.numel() for p in model.parameters())
    assert t.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert t.param_bytes == sum(p.numel() * p.element_size() for p in model.parameters())
    activation_bytes, macs = _torch_activation_bytes_and_macs(
        model, x, {n.path for n in graph.nodes() if isinstance(n, Layer)})
    assert t.macs == macs
    assert t.activation_bytes == activation_bytes


@pytest.mark.parametrize("name", ["lenet", "resnet18", "densenet"])
def test_summary_matches_reference(name):
    facts = reference("seed_models.json")[name]
    report = summary_json(archc.check(SPECS / "d2l" / f"{name}.yaml"))
    assert report["totals"]["params"] == facts["params"]
    assert report["totals"]["macs"] == facts["macs_conv_linear"]
    top = [r for r in report["rows"] if r["depth"] == 0]
    assert abs(sum(r["params_share"] for r in top) - 1) < 1e-9


def test_frozen_layers_are_not_trainable_in_module_summary_and_source():
    graph = check_layers([{"conv2d": {"out_channels": 4, "kernel_size": 3, "trainable": False}},
                          {"sequential": {"trainable": False, "layers": ["batch_norm2d"]}},
                          {"conv2d": {"out_channels": 2, "kernel_size": 1}}], (3, 8, 8))
    model = archc.build(graph)
    assert [p.requires_grad for p in model.parameters()] == [False, False, False, False, True, True]
    t = totals(graph)
    assert (t.params, t.trainable) == (112 + 8 + 10, 10)
    namespace: dict = {}
    exec(compile(archc.source(graph), "gen.py", "exec"), namespace)  # noqa: S102 - our own output
    assert [p.requires_grad for p in namespace["build"]().parameters()] == [False, False, False, False, True, True]
    text = summary_text(graph)
    assert "parameters: 130 (10 trainable, 120 frozen)" in text


def test_summary_depth_limits_rows(capsys):
    assert main(["summary", str(SPECS / "d2l" / "resnet18.yaml"), "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "b5     repeat" in out and "conv1" not in out
    assert "activation memory per sample" in out


_FINAL = re.compile(r"= ([\d,]+)$")


@pytest.mark.parametrize("path", ALL_SPECS, ids=IDS)
def test_every_explained_number_equals_inference(path):
    graph = archc.check(path)
    for e in explanations(graph):
        node = e.node
        if not isinstance(node, Layer):
            if node.kind in ("parallel",) or getattr(node, "how", None) == "concat":
                assert any(line.endswith(f"= {node.out_shape[0]}") or f"= {node.out_shape[0]};" in line for line in e.lines)
            continue
        if "conv" in node.kind or ("pool" in node.kind and "adaptive" not in node.kind):
            # a transposed convolution's size line ends "+ output_padding + 1 = (…) + 0 + 1 = 32"
            sizes = [int(_FINAL.search(line).group(1)) for line in e.lines
                     if "⌋ = " in line or "⌉ = " in line or "− 1 = " in line or "output_padding + 1 = " in line]
            spatial = list(node.out_shape[1:])
            assert sizes == spatial or (len(sizes) == 1 and set(spatial) == {sizes[0]}), (node.path, e.lines)
        if node.params:
            assert any(f"= {node.params:,}" in line for line in e.lines), (node.path, e.lines)
        if node.macs:
            assert any(f"= {node.macs:,}" in line for line in e.lines), (node.path, e.lines)
        if node.kind == "flatten":  # the merged size: the whole output, or one of its dims (start_dim 2)
            assert any(f"= {size:,}" in e.lines[0] for size in node.out_shape), e.lines


def test_explain_reads_like_the_lecture():
    text = explain_text(archc.check(SPECS / "d2l" / "alexnet.yaml"))
    assert "conv2d 11×11, stride 4, padding 1 on 224: ⌊(224 − 11 + 2·1 + 4) / 4⌋ = 54" in text
    assert "parameters 96 × 1 × 11 × 11 + 96 = 11,712" in text
    googlenet = explain_text(archc.check(SPECS / "d2l" / "googlenet.yaml"), "b3.0")
    assert "concat on channels: 64 + 128 + 32 + 32 = 256" in googlenet


def test_explain_shows_dilation_and_the_ceil_mode_correction():
    dilated = explain_text(check_layers([{"conv2d": {"out_channels": 2, "kernel_size": 3, "dilation": 2}}], (1, 8, 8)))
    assert "⌊(8 − 5 (= 2·(3 − 1) + 1) + 0 + 1) / 1⌋ = 4" in dilated
    graph = check_layers([{"max_pool2d": {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}}], (1, 5, 5))
    text = explain_text(graph)
    assert "⌈(5 − 2 + 2·1 + 2) / 2⌉ − 1 (the last window would start in the padding) = 4 − 1 = 3" in text
    assert graph.root.items[0].out_shape == (1, 3, 3)


def test_explain_residual_names_both_shapes():
    text = explain_text(archc.check(SPECS / "d2l" / "resnet18.yaml"), "b3.0")
    assert "add: needs equal shapes: body 128×12×12, conv3 128×12×12 → 128×12×12" in text


def test_explain_unknown_layer_suggests(capsys):
    assert main(["explain", str(SPECS / "d2l" / "lenet.yaml"), "feature.0"]) == 1
    assert "error[unknown-layer]" in capsys.readouterr().err
