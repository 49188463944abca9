"""The standard library's attention blocks (std/attention: CBAM, squeeze-and-excitation)
against the same computation written by hand in torch from the built module's own
submodules, and every node against torch's shapes, parameters and MACs."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_every_node_matches_torch, check_text, spec_text

import archc


def _build(layers, input_shape, imports=("std/attention",)):
    graph = check_text(spec_text(layers, input_shape, imports=list(imports)))
    torch.manual_seed(0)
    model = archc.build(graph).eval()
    with torch.no_grad():  # every tensor random and away from 0, biases included
        for tensor in model.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape) * 0.3)
    return graph, model


def _input(shape):
    return torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))


def test_cbam_is_channel_attention_with_one_shared_mlp_then_spatial_attention():
    graph, model = _build([{"cbam": {"reduction": 4, "name": "att"}}], (16, 9, 11))
    assert_every_node_matches_torch(graph, model=model)
    channel, spatial = model.att.channel, model.att.spatial
    # one MLP, applied to both pooled vectors: its weights appear once
    assert [k for k in model.state_dict() if "fc" in k] == [
        "att.channel.mlp.fc1.weight", "att.channel.mlp.fc1.bias", "att.channel.mlp.fc2.weight", "att.channel.mlp.fc2.bias"]

    def mlp(pooled):
        return channel.mlp.fc2(F.relu(channel.mlp.fc1(pooled)))

    x = _input((16, 9, 11))
    with torch.no_grad():
        weights = torch.sigmoid(mlp(F.adaptive_avg_pool2d(x, 1)) + mlp(F.adaptive_max_pool2d(x, 1)))
        refined = x * weights
        stacked = torch.cat([refined.mean(dim=1, keepdim=True), refined.amax(dim=1, keepdim=True)], dim=1)
        expected = refined * torch.sigmoid(spatial.conv(stacked))
        torch.testing.assert_close(model(x), expected, rtol=1e-6, atol=1e-6)


def test_channel_attention_weights_each_channel_by_its_average_and_maximum():
    graph, model = _build([{"channel_attention": {"reduction": 2, "name": "ca"}}], (6, 5, 5))
    assert_every_node_matches_torch(graph, model=model)
    mlp = model.ca.mlp
    x = _input((6, 5, 5))
    with torch.no_grad():
        avg, top = x.mean(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True)
        expected = x * torch.sigmoid(mlp.fc2(mlp.fc1(avg).relu()) + mlp.fc2(mlp.fc1(top).relu()))
        torch.testing.assert_close(model(x), expected, rtol=1e-6, atol=1e-6)
    # the hidden width is channels // reduction
    assert tuple(mlp.fc1.weight.shape) == (3, 6, 1, 1)


@pytest.mark.parametrize("kernel_size", [7, 3])
def test_spatial_attention_weights_each_position_by_its_channel_mean_and_maximum(kernel_size):
    graph, model = _build([{"spatial_attention": {"kernel_size": kernel_size, "name": "sa"}}], (5, 8, 6))
    assert_every_node_matches_torch(graph, model=model)
    x = _input((5, 8, 6))
    conv = model.sa.conv
    assert conv.bias is None and conv.padding == ((kernel_size - 1) // 2,) * 2
    with torch.no_grad():
        stacked = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        torch.testing.assert_close(model(x), x * torch.sigmoid(conv(stacked)), rtol=1e-6, atol=1e-6)


def test_squeeze_excitation_is_offered_by_std_attention():
    graph, model = _build([{"squeeze_excitation": {"squeeze": 3, "name": "se"}}], (12, 5, 7))
    assert_every_node_matches_torch(graph, model=model)
    se = model.se
    x = _input((12, 5, 7))
    with torch.no_grad():
        scale = torch.sigmoid(se.fc2(F.relu(se.fc1(F.adaptive_avg_pool2d(x, 1)))))
        torch.testing.assert_close(model(x), x * scale, rtol=1e-6, atol=1e-6)
