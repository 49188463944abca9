"""Structural kinds and the standard library's blocks against real forwards, node by node."""
from __future__ import annotations

import pytest
import torch
import yaml
from conftest import assert_every_node_matches_torch, check_layers, check_text, spec_text

import archc

CONV = {"conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}}

# (id, input shape, layers, extra top-level keys)
STRUCTURES = [
    ("sequential-named", (3, 8, 8), [{"sequential": {"name": "stem", "layers": [CONV, "relu"]}}], {}),
    ("repeat-spliced", (3, 8, 8), [{"repeat": {"times": 3, "layers": [{"conv2d": {"out_channels": "${4 * (i + 1)}", "kernel_size": 3}}, "relu"]}}], {}),
    ("repeat-named", (3, 8, 8), [{"repeat": {"name": "stage", "times": 2, "layers": [CONV, "relu"]}}], {}),
    ("repeat-prefix", (3, 8, 8), [{"repeat": {"times": 2, "prefix": "unit", "layers": [CONV, "relu"]}}], {}),
    ("repeat-zero-times", (3, 8, 8), [{"repeat": {"times": 0, "layers": [CONV]}}, "relu"], {}),
    ("residual-identity", (8, 8, 8), [{"residual": {"body": [CONV, "relu", CONV]}}], {}),
    ("residual-projection", (3, 8, 8), [{"residual": {
        "body": [{"conv2d": {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}}],
        "shortcut": [{"conv2d": {"out_channels": 8, "kernel_size": 1, "stride": 2}}, "batch_norm2d"],
        "after": ["relu"]}}], {}),
    ("residual-mul", (4, 6, 6), [{"residual": {"body": ["sigmoid"], "merge": "mul"}}], {}),
    ("residual-mul-broadcasts-a-channel-gate", (4, 6, 6), [{"residual": {"merge": "mul", "body": [
        {"adaptive_avg_pool2d": {"output_size": 1}}, {"conv2d": {"out_channels": 4, "kernel_size": 1}}, "sigmoid"]}}], {}),
    ("residual-concat", (4, 6, 6), [{"residual": {"body": [CONV], "merge": "concat"}}], {}),
    ("parallel-concat", (3, 9, 9), [{"parallel": {"branches": {
        "a": [{"conv2d": {"out_channels": 4, "kernel_size": 1}}],
        "b": [{"conv2d": {"out_channels": 6, "kernel_size": 3, "padding": 1}}, "relu"],
        "c": [{"max_pool2d": {"kernel_size": 3, "stride": 1, "padding": 1}}]}}}], {}),
    ("parallel-add", (3, 9, 9), [{"parallel": {"merge": "add", "branches": {
        "a": [{"conv2d": {"out_channels": 4, "kernel_size": 1}}],
        "b": [{"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}}]}}}], {}),
    ("parallel-mul", (3, 5, 5), [{"parallel": {"merge": "mul", "branches": {"a": ["sigmoid"], "b": ["tanh"]}}}], {}),
    ("dense", (4, 6, 6), [{"dense": {"units": 3, "layers": ["batch_norm2d", "relu", {"conv2d": {"out_channels": 5, "kernel_size": 3, "padding": 1}}]}}], {}),
    ("dense-prefix-grows-by-i", (4, 6, 6), [{"dense": {"units": 2, "prefix": "layer", "layers": [
        {"conv2d": {"out_channels": "${2 + i}", "kernel_size": 1}}]}}], {}),
    ("from-skip-add", (4, 8, 8), [
        {"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1, "name": "a"}},
        {"relu": {"name": "r"}},
        {"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1, "name": "b"}},
        {"identity": {"from": ["a", "b"], "merge": "add", "name": "sum"}},
        {"conv2d": {"out_channels": 2, "kernel_size": 1, "from": "input", "name": "c"}},
        {"relu": {"from": ["c", "sum"], "merge": "concat"}}], {}),
    ("expression-in-channels", (6, 8, 8), [{"conv2d": {"out_channels": "${in.channels * 2}", "kernel_size": 1}},
                                           {"conv2d": {"out_channels": "${in.shape[1] // 2}", "kernel_size": 1}}], {}),
    ("block-with-defaults-and-when", (3, 8, 8), [{"stem": {"c": 5}}, {"stem": {"c": 6, "pool": True}}], {
        "blocks": {"stem": {"params": {"c": "int", "pool": False}, "layers": [
            {"conv2d": {"out_channels": "$c", "kernel_size": 3, "padding": 1}},
            {"max_pool2d": {"kernel_size": 2, "when": "$pool"}}]}}}),
    ("defaults-section", (3, 8, 8), [{"conv2d": {"out_channels": 4}}, {"conv2d": {"out_channels": 4, "bias": True}}], {
        "defaults": {"conv2d": {"kernel_size": 3, "bias": False}}}),
]


@pytest.mark.parametrize("in_shape,layers,top", [s[1:] for s in STRUCTURES], ids=[s[0] for s in STRUCTURES])
def test_structure_matches_torch_at_every_node(in_shape, layers, top):
    assert_every_node_matches_torch(check_layers(layers, in_shape, **top))


STD_USES = [
    ("vgg_block", (3, 16, 16), {"num_convs": 2, "channels": 8}),
    ("nin_block", (3, 32, 32), {"channels": 8, "kernel_size": 5, "stride": 2, "padding": 1}),
    ("inception", (16, 12, 12), {"c1": 4, "c2": [4, 8], "c3": [2, 4], "c4": 4}),
    ("residual_block", (8, 12, 12), {"channels": 8}),
    ("residual_block-projection", (8, 12, 12), {"channels": 16, "use_1x1conv": True, "stride": 2}),
    ("basic_block", (8, 12, 12), {"channels": 8}),
    ("basic_block-downsample", (8, 12, 12), {"channels": 16, "stride": 2, "downsample": True}),
    ("bottleneck", (32, 8, 8), {"channels": 8}),
    ("bottleneck-grouped-downsample", (16, 8, 8), {"channels": 16, "stride": 2, "downsample": True, "groups": 4, "base_width": 16}),
    ("dense_block", (8, 8, 8), {"units": 3, "growth": 4}),
    ("transition", (12, 8, 8), {}),
    ("dense_layer", (8, 8, 8), {"growth": 4, "bn_size": 2}),
    ("dense_transition", (12, 8, 8), {"channels": 5}),
    ("conv_bn_act", (4, 9, 9), {"channels": 8, "stride": 2}),
    ("conv_bn_act-depthwise-silu", (8, 9, 9), {"channels": 8, "groups": 8, "kernel_size": 5, "activation": "silu"}),
    ("conv_bn_act-dilated", (8, 9, 9), {"channels": 8, "groups": 8, "kernel_size": 3, "dilation": 3}),
    ("squeeze_excitation", (8, 5, 5), {"squeeze": 2}),
    ("mbconv_body", (8, 9, 9), {"channels": 12, "kernel_size": 5, "stride": 2}),
    ("mbconv", (8, 9, 9), {"channels": 8, "residual": True}),
    ("mbconv-stochastic-depth", (8, 9, 9), {"channels": 8, "residual": True, "stochastic_depth_prob": 0.1}),
    ("mbconv-no-expand", (8, 9, 9), {"channels": 4, "expand": 1}),
    ("inverted_residual_body", (8, 9, 9), {"channels": 12, "stride": 2}),
    ("inverted_residual", (8, 9, 9), {"channels": 8, "residual": True}),
    ("inverted_residual-no-expand", (8, 9, 9), {"channels": 4, "expand": 1}),
    ("inverted_residual_v3_body", (8, 9, 9), {"channels": 12, "expanded": 40, "kernel_size": 5, "stride": 2, "se": True,
                                              "activation": "hardswish"}),
    ("inverted_residual_v3", (8, 9, 9), {"channels": 8, "expanded": 8, "expand": False, "residual": True}),
    ("inverted_residual_v3-dilated", (8, 9, 9), {"channels": 8, "expanded": 16, "kernel_size": 5, "stride": 2, "dilation": 2,
                                                 "se": True}),
    ("mobilenet_v3_large_features", (3, 33, 33), {}),
    ("mobilenet_v3_large_features-dilated", (3, 33, 33), {"dilated": True}),
    ("regnet_block", (8, 9, 9), {"channels": 16, "stride": 2, "project": True, "se": True}),
    ("regnet_block-identity", (16, 9, 9), {"channels": 16, "group_width": 4}),
    ("mnas_layers", (8, 9, 9), {"channels": 12, "kernel_size": 5, "stride": 2, "expand": 3}),
    ("mnas_inverted_residual", (8, 9, 9), {"channels": 8, "residual": True}),
    ("fused_mbconv_body", (8, 9, 9), {"channels": 12, "stride": 2}),
    ("fused_mbconv", (8, 9, 9), {"channels": 8, "expand": 1, "residual": True}),
    ("shuffle_unit", (8, 9, 9), {}),
    ("shuffle_down", (8, 9, 9), {"channels": 12}),
    ("fire", (8, 9, 9), {"squeeze": 4, "expand1x1": 6, "expand3x3": 5}),
    ("lraspp_head", {"low": (8, 12, 12), "high": (16, 5, 5)}, {"num_classes": 3, "inter_channels": 6}),
    ("double_conv", (3, 9, 9), {"channels": 4}),
    ("unet_decoder_block_without_skip", (8, 5, 5), {"channels": 4}),
    ("channel_attention", (16, 7, 6), {"reduction": 4}),
    ("spatial_attention", (5, 7, 6), {"kernel_size": 3}),
    ("cbam", (16, 9, 9), {"reduction": 8}),
    ("cn_block", (8, 9, 9), {"dim": 8, "stochastic_depth_prob": 0.2}),
    ("convnext_stage", (8, 7, 7), {"dim": 8, "depth": 2, "first": 1, "total": 4}),
    ("convnext_downsample", (8, 9, 9), {"channels": 16}),
    # blocks with several inputs: the network's inputs, by name, bound to them in order
    ("unet_up", {"x": (8, 4, 4), "skip": (4, 8, 8)}, {"channels": 4}),
    ("unet_decoder_block", {"x": (8, 4, 4), "skip": (6, 7, 7)}, {"channels": 5}),
    ("fcn_head", (16, 7, 7), {"num_classes": 3}),
    ("aspp_conv", (8, 9, 9), {"dilation": 2, "out_channels": 4}),
    ("aspp_pooling", (8, 5, 7), {"out_channels": 4}),
    ("aspp", (8, 9, 9), {"rates": [1, 2, 3], "out_channels": 4}),
    ("deeplab_head", (8, 9, 9), {"num_classes": 3, "rates": [1, 2, 3]}),
    ("conv", (3, 9, 9), {"channels": 8, "kernel_size": 3, "stride": 2}),
    ("c2f_bottleneck", (8, 6, 6), {"hidden": 8, "shortcut": True}),
    ("c2f", (8, 6, 6), {"channels": 8, "n": 2, "shortcut": True}),
    ("sppf", (8, 9, 9), {"channels": 8}),
    ("dfl", (64, 12), {}),
    ("detect_branch", (8, 6, 6), {"hidden": 8, "channels": 4}),
    ("detect", {"p3": (8, 8, 8), "p4": (16, 4, 4), "p5": (32, 2, 2)}, {"nc": 5}),
    ("feature_pyramid_network", {"c2": (4, 16, 16), "c3": (8, 8, 8), "c4": (16, 4, 4), "c5": (32, 2, 2)},
     {"out_channels": 8}),
    # the Vision Transformer's, on (L, C) tokens (and patches of an image)
    ("mlp_block", (5, 8), {"mlp_dim": 16}),
    ("encoder_block", (5, 8), {"num_heads": 2, "mlp_dim": 16}),
    ("encoder", (5, 8), {"seq_length": 5, "hidden_dim": 8, "num_layers": 2, "num_heads": 4, "mlp_dim": 12}),
    ("patch_embedding", (3, 8, 12), {"hidden": 6, "patch": 4}),
    # the Swin Transformer's, on channels-last H×W×C maps (windows of 4, padded from 9 × 6 to 12 × 8)
    ("swin_mlp", (4, 6, 8), {}),
    ("swin_block", (9, 6, 8), {"num_heads": 2, "window": 4, "shift": 2, "stochastic_depth_prob": 0.1}),
    ("swin_stage", (8, 8, 8), {"depth": 2, "num_heads": 2, "first": 1, "total": 4, "window": 4}),
    ("patch_merging", (6, 4, 5), {}),
]


@pytest.mark.parametrize("block,in_shape,params", [(s[0].split("-")[0], s[1], s[2]) for s in STD_USES],
                         ids=[s[0] for s in STD_USES])
def test_standard_library_block_matches_torch(block, in_shape, params):
    if isinstance(in_shape, dict):   # a block of several inputs reads the network's, in order
        doc = {"archc": 1, "name": "t", "inputs": {name: list(shape) for name, shape in in_shape.items()},
               "imports": ["std"], "layers": [{block: {**params, "from": list(in_shape)}}]}
        graph = check_text(yaml.safe_dump(doc, sort_keys=False))
    else:
        graph = check_layers([{block: params} if params else block], in_shape, imports=["std"])
    assert_every_node_matches_torch(graph)


def test_every_standard_library_block_is_tested():
    import yaml

    from archc.spec.load import std_files

    defined = {name for path in std_files().values() for name in yaml.safe_load(path.read_text())["blocks"]}
    assert defined == {s[0].split("-")[0] for s in STD_USES}


def test_block_instances_are_named_submodules_of_the_block_class():
    graph = check_layers([{"basic_block": {"channels": 3, "name": "first"}}], (3, 8, 8), imports=["std/resnet"])
    model = archc.build(graph)
    assert type(model.first).__name__ == "BasicBlock"
    assert [name for name, _ in model.first.named_children()] == ["conv1", "bn1", "relu", "conv2", "bn2", "relu_out"]
    assert "(first): BasicBlock(" in str(model)


def test_names_are_deterministic():
    text = spec_text([{"repeat": {"times": 2, "name": "stage", "layers": [{"basic_block": {"channels": 3}}]}}], (3, 8, 8),
                     imports=["std/resnet"])
    keys = [list(archc.build(archc.check("t.yaml", text=text)).state_dict()) for _ in range(2)]
    assert keys[0] == keys[1] and keys[0][0] == "stage.0.conv1.weight"


def test_unnamed_layers_are_numbered_like_nn_sequential():
    graph = check_layers(["relu", {"conv2d": {"out_channels": 2, "kernel_size": 1, "name": "proj"}}, "relu"], (3, 4, 4))
    assert [n.name for n in graph.root.items] == ["0", "proj", "2"]


def test_from_chain_runs_like_hand_written_code():
    graph = check_layers([
        {"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1, "name": "a"}},
        {"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1, "name": "b"}},
        {"relu": {"from": ["a", "b"], "merge": "add"}}], (4, 8, 8))
    model = archc.build(graph).eval()
    x = torch.randn(1, 4, 8, 8)
    expected = torch.relu(model.a(x) + model.b(model.a(x)))
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("merge,channels", [("concat", 8), ("add", 4), ("mul", 4)])
def test_parallel_merge_is_the_one_written(merge, channels):
    graph = check_layers([{"parallel": {"merge": merge, "branches": {"a": ["identity"], "b": ["sigmoid"]}}}], (4, 5, 5))
    assert graph.root.out_shape == (channels, 5, 5)
    model = archc.build(graph)
    x = torch.randn(1, 4, 5, 5)
    expected = {"concat": torch.cat([x, x.sigmoid()], 1), "add": x + x.sigmoid(), "mul": x * x.sigmoid()}[merge]
    torch.testing.assert_close(model(x), expected)


def test_in_in_a_block_parameter_means_the_block_input():
    graph = check_layers([{"widen": {}}], (6, 4, 4), blocks={"widen": {
        "params": {"back": "${in.channels}", "half": "${back // 2}"},
        "layers": [{"conv2d": {"out_channels": 16, "kernel_size": 1}},
                   {"conv2d": {"out_channels": "$back", "kernel_size": 1}},
                   {"conv2d": {"out_channels": "${half + in.channels}", "kernel_size": 1}}]}})
    # back = 6 (the block's input), half = 3; the last conv's own input has 6 channels
    assert [n.out_shape[0] for n in graph.root.items[0].items] == [16, 6, 9]
    assert_every_node_matches_torch(graph)


def test_in_at_a_block_use_site_means_the_block_input():
    graph = check_layers([{"conv2d": {"out_channels": 8, "kernel_size": 1}},
                          {"transition": {"channels": "${in.channels // 4}"}}], (3, 8, 8), imports=["std/densenet"])
    assert graph.root.items[1].out_shape == (2, 4, 4)


def test_a_block_can_take_a_kind_as_a_parameter():
    blocks = {"act_conv": {"params": {"act": "relu"}, "layers": [{"conv2d": {"out_channels": 2, "kernel_size": 1}}, "$act"]}}
    graph = check_layers([{"act_conv": {}}, {"act_conv": {"act": "hardswish"}}], (3, 4, 4), blocks=blocks)
    assert [n.items[1].kind for n in graph.root.items] == ["relu", "hardswish"]
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"act_conv": {"act": "swish"}}], (3, 4, 4), blocks=blocks)
    assert info.value.code == "unknown-kind" and "did you mean" in info.value.hint


def test_add_does_not_broadcast():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"residual": {"body": [{"adaptive_avg_pool2d": {"output_size": 1}}]}}], (4, 6, 6))
    assert info.value.code == "merge-mismatch"


@pytest.mark.parametrize("shortcut_first", [False, True])
def test_residual_registers_body_and_shortcut_in_the_order_written(shortcut_first):
    body = [{"conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1, "name": "conv"}}]
    shortcut = [{"conv2d": {"out_channels": 4, "kernel_size": 1, "name": "proj"}}]
    args = {"shortcut": shortcut, "body": body} if shortcut_first else {"body": body, "shortcut": shortcut}
    graph = check_layers([{"residual": args}], (2, 5, 5))
    keys = list(archc.build(graph).state_dict())
    expected = ["0.shortcut.weight", "0.shortcut.bias", "0.conv.weight", "0.conv.bias"]
    assert keys == (expected if shortcut_first else expected[2:] + expected[:2])
    namespace: dict = {}
    exec(compile(archc.source(graph), "gen.py", "exec"), namespace)  # noqa: S102 - our own output
    assert list(namespace["build"]().state_dict()) == keys
    assert_every_node_matches_torch(graph)


def test_module_names_may_hold_hyphens_like_torchvision_regnet():
    graph = check_layers([{"repeat": {"times": 2, "layers": [{"relu": {"name": "block1-${i}"}}]}}], (2, 3, 3))
    assert [n.name for n in graph.root.items] == ["block1-0", "block1-1"]
