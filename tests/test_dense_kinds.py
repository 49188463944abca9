"""The dense-prediction kinds beyond their rows in test_kinds.py: the generated source,
frozen batch norm against torch's batch norm, labels and explanations."""
from __future__ import annotations

import pytest
import torch
from conftest import check_layers, spec_text, torch_params
from torch import nn

import archc
from archc.explain import explain_node
from archc.layers import KINDS

DECODER = [
    {"conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}},
    {"frozen_batch_norm2d": {"eps": 0.001}},
    "relu",
    {"pixel_unshuffle": {"downscale_factor": 2}},
    {"conv_transpose2d": {"out_channels": 16, "kernel_size": 2, "stride": 2, "name": "up1"}},
    {"interpolate": {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}},
    {"conv_transpose2d": {"out_channels": 8, "kernel_size": 3, "stride": [2, 1], "padding": 1,
                          "output_padding": [1, 0], "groups": 4}},
    {"pixel_shuffle": {"upscale_factor": 2}},
    {"interpolate": {"size": [20, 24], "mode": "nearest-exact"}},
    {"conv_transpose1d": {"out_channels": 3, "kernel_size": 3, "when": False}},  # 1-d: dropped
]


def _randomise_buffers(model: nn.Module) -> None:
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                buffer.copy_(torch.rand_like(buffer) + 0.5)  # positive, as running_var must be


def test_generated_source_builds_the_same_dense_prediction_module():
    graph = check_layers(DECODER, (3, 10, 6))
    ours = archc.build(graph).eval()
    _randomise_buffers(ours)
    namespace: dict = {}
    exec(compile(archc.source(graph), "decoder_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 10, 6)
    with torch.no_grad():
        out = ours(x)
        torch.testing.assert_close(out, theirs(x), rtol=0, atol=0)
    assert tuple(out.shape[1:]) == graph.root.out_shape == (2, 20, 24)


def test_frozen_batch_norm_computes_what_batch_norm_computes_in_eval_mode():
    reference = nn.BatchNorm2d(6, eps=1e-3).eval()
    _randomise_buffers(reference)
    with torch.no_grad():
        reference.weight.copy_(torch.randn(6))
        reference.bias.copy_(torch.randn(6))
    graph = check_layers([{"frozen_batch_norm2d": {"eps": 1e-3}}], (6, 5, 7))
    frozen = archc.build(graph)[0]
    # a BatchNorm2d checkpoint loads as it is: its num_batches_tracked is dropped, the rest matches
    assert "num_batches_tracked" in "".join(reference.state_dict())
    frozen.load_state_dict(reference.state_dict())
    x = torch.randn(3, 6, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), reference(x), rtol=1e-6, atol=1e-6)


def test_frozen_batch_norm_holds_torchvisions_buffers_and_no_parameters():
    graph = check_layers(["frozen_batch_norm2d"], (6, 5, 7))
    frozen = archc.build(graph)[0]
    assert list(frozen.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert torch_params(frozen) == 0 == graph.root.items[0].params
    assert repr(frozen) == "FrozenBatchNorm2d(6, eps=1e-05)"  # torchvision's __repr__


def test_frozen_batch_norm_uses_torchvisions_arithmetic_to_the_bit():
    frozen = archc.build(check_layers(["frozen_batch_norm2d"], (4, 3, 3)))[0]
    _randomise_buffers(frozen)
    x = torch.randn(2, 4, 3, 3)
    w, b, rm, rv = (t.reshape(1, -1, 1, 1) for t in (frozen.weight, frozen.bias, frozen.running_mean, frozen.running_var))
    scale = w * (rv + 1e-5).rsqrt()  # torchvision.ops.FrozenBatchNorm2d.forward
    assert torch.equal(frozen(x), x * scale + (b - rm * scale))


@pytest.mark.parametrize("layer,label", [
    ({"conv_transpose2d": {"out_channels": 64, "kernel_size": 2, "stride": 2}}, "conv_transpose2d 2×2/2 → 64"),
    ({"conv_transpose2d": {"out_channels": 8, "kernel_size": 3, "stride": [2, 1], "padding": 1, "output_padding": [1, 0]}},
     "conv_transpose2d 3×3/2×1, p1, op1×0 → 8"),
    ({"interpolate": {"scale_factor": 2, "mode": "bilinear"}}, "interpolate ×2 bilinear"),
    ({"interpolate": {"scale_factor": [2, 1.5]}}, "interpolate ×(2, 1.5) nearest"),
    ({"interpolate": {"size": [32, 48]}}, "interpolate → 32×48 nearest"),
    ({"pixel_shuffle": {"upscale_factor": 3}}, "pixel_shuffle ×3"),
    ({"pixel_unshuffle": {"downscale_factor": 2}}, "pixel_unshuffle ÷2"),
])
def test_labels_read_like_the_layer(layer, label):
    node = check_layers([layer], (18, 6, 6)).root.items[0]
    assert KINDS[node.kind].label(node.kind, node.args) == label


def test_explanations_show_the_arithmetic_with_inferences_numbers():
    graph = check_layers([
        {"conv_transpose2d": {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}},
        {"interpolate": {"scale_factor": 0.29, "mode": "nearest"}},
    ], (2, 50, 50))
    conv, interpolate = graph.root.items
    lines = explain_node(conv)
    assert lines[0].endswith("(n − 1)·s − 2p + d·(k − 1) + output_padding + 1 = (50 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1 = 100")
    assert "parameters 2 × 4 × 3 × 3 + 4 = 76" in lines[1]
    assert lines[2] == f"MACs 2×50×50 inputs × 4 × 3 × 3 = {conv.macs:,}"
    assert "⌊100 × 0.29⌋ = 28" in explain_node(interpolate)[0]  # 100 × 0.29 is 28.999… in double precision
    assert interpolate.out_shape == (4, 28, 28)


def test_spec_with_the_new_kinds_checks_and_builds_from_the_command_line(tmp_path, capsys):
    from archc.cli import main

    spec = tmp_path / "decoder.yaml"
    spec.write_text(spec_text(DECODER, (3, 10, 6), name="decoder"))
    assert main(["build", str(spec), "-o", str(tmp_path / "out")]) == 0
    assert main(["summary", str(spec)]) == 0
    assert "conv_transpose2d 2×2/2 → 16" in capsys.readouterr().out


def test_a_network_named_like_a_runtime_module_does_not_shadow_it_in_the_source():
    # the network's class would be FrozenBatchNorm2d, the runtime module the layer needs
    graph = check_layers(["frozen_batch_norm2d"], (6, 5, 7), name="frozen_batch_norm2d")
    namespace: dict = {}
    exec(compile(archc.source(graph), "frozen_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    model = namespace["build"]()
    assert type(model).__name__ == "FrozenBatchNorm2d_"
    assert type(model[0]).__name__ == "FrozenBatchNorm2d" and list(model.state_dict()) == [
        "0.weight", "0.bias", "0.running_mean", "0.running_var"]


# ---- properties: random arguments and sizes, torch as the answer key ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIXED = settings(max_examples=120, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def _archc_or_code(layer, in_shape):
    try:
        return check_layers([layer], in_shape).root.items[0], None
    except archc.ArchcError as exc:
        return None, exc.code


@FIXED
@given(channels=st.integers(1, 4), size=st.integers(1, 9), kernel=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 3), dilation=st.integers(1, 3), output_padding=st.integers(0, 2), groups=st.sampled_from([1, 2]))
def test_conv_transpose_shape_params_and_refusals_match_torch(channels, size, kernel, stride, padding, dilation,
                                                              output_padding, groups):
    args = {"out_channels": 2 * groups, "kernel_size": kernel, "stride": stride, "padding": padding,
            "dilation": dilation, "output_padding": output_padding, "groups": groups}
    node, code = _archc_or_code({"conv_transpose1d": args}, (channels, size))
    try:
        module = nn.ConvTranspose1d(channels, **args)
        y = module(torch.zeros(1, channels, size))
    except (RuntimeError, ValueError):
        assert node is None, f"torch refused what archc accepted: {code}"
        return
    if y.numel() == 0:  # torch's grouped path returns an empty map instead of refusing; archc refuses
        assert code == "output-too-small"
        return
    assert node is not None, f"archc refused ({code}) what torch ran"
    assert node.out_shape == tuple(y.shape[1:]) and node.params == torch_params(module)


@FIXED
@given(size=st.integers(1, 300), scale=st.floats(0.05, 4.0, allow_nan=False), mode=st.sampled_from(["nearest", "linear"]))
def test_interpolate_size_is_torchs_for_any_scale(size, scale, mode):
    node, code = _archc_or_code({"interpolate": {"scale_factor": scale, "mode": mode}}, (1, size))
    try:
        y = nn.Upsample(scale_factor=scale, mode=mode)(torch.zeros(1, 1, size))
    except RuntimeError:
        assert code == "output-too-small"
        return
    assert node is not None and node.out_shape == tuple(y.shape[1:])


def test_conv_transpose_init_takes_torchs_weight_layout_in_channels_first():
    layer = {"conv_transpose2d": {"out_channels": 2, "kernel_size": [1, 2], "bias": False,
                                  "init": {"weight": [[[[1, 2]], [[3, 4]]]]}}}  # 1 in × 2 out × 1 × 2
    model = archc.build(check_layers([layer], (1, 3, 3)))
    assert model[0].weight.tolist() == [[[[1, 2]], [[3, 4]]]]
    with pytest.raises(archc.ArchcError) as info:  # conv's layout (out × in × …) is the wrong one here
        check_layers([{"conv_transpose2d": {**layer["conv_transpose2d"], "init": {"weight": [[[[1, 2]]], [[[3, 4]]]]}}}], (1, 3, 3))
    assert info.value.code == "bad-init"
