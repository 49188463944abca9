"""The dense-prediction std blocks (std/segmentation: fcn_head, aspp, deeplab_head; std/fpn:
feature_pyramid_network) and the ResNet-50 knobs the dense specs use (dilation, frozen batch
norm, include_top), each against a hand-written torch module in torchvision's layout: same
state_dict keys, and the same outputs once the same weights are loaded."""
from __future__ import annotations

import textwrap
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import SPECS

import archc


def built(text: str, file: str = "t.yaml"):
    return archc.build(archc.check(file, text=textwrap.dedent(text)))


def assert_same_function(ours: nn.Module, theirs: nn.Module, *inputs: torch.Tensor):
    """Same keys in the same order; with theirs' (random) weights loaded, the same outputs."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():  # norm weights and statistics away from 1 and 0, so that they count
        for tensor in theirs.state_dict().values():
            if tensor.is_floating_point() and tensor.dim() == 1:
                tensor.uniform_(0.5, 1.5)
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    with torch.no_grad():
        got, want = ours(*inputs), theirs(*inputs)
    if isinstance(want, dict):
        assert list(got) == list(want)
        got, want = list(got.values()), list(want.values())
    else:
        got, want = [got], [want]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w)


# torchvision.models.segmentation's modules, as written there
class FCNHead(nn.Sequential):
    def __init__(self, in_channels, channels):
        inter = in_channels // 4
        super().__init__(nn.Conv2d(in_channels, inter, 3, padding=1, bias=False), nn.BatchNorm2d(inter),
                         nn.ReLU(), nn.Dropout(0.1), nn.Conv2d(inter, channels, 1))


class ASPPConv(nn.Sequential):
    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class ASPPPooling(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for mod in self:
            x = mod(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_channels, atrous_rates, out_channels=256):
        super().__init__()
        modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())]
        modules += [ASPPConv(in_channels, out_channels, rate) for rate in atrous_rates]
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, in_channels, num_classes, rates):
        super().__init__(ASPP(in_channels, rates), nn.Conv2d(256, 256, 3, padding=1, bias=False),
                         nn.BatchNorm2d(256), nn.ReLU(), nn.Conv2d(256, num_classes, 1))


# torchvision.ops.FeaturePyramidNetwork with LastLevelMaxPool and no norm layer
class FeaturePyramidNetwork(nn.Module):
    def __init__(self, in_channels_list, out_channels):
        super().__init__()
        self.inner_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(c, out_channels, 1)) for c in in_channels_list)
        self.layer_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1))
                                          for _ in in_channels_list)

    def forward(self, *x):
        last_inner = self.inner_blocks[-1](x[-1])
        results = [self.layer_blocks[-1](last_inner)]
        for idx in range(len(x) - 2, -1, -1):
            inner_lateral = self.inner_blocks[idx](x[idx])
            top_down = F.interpolate(last_inner, size=inner_lateral.shape[-2:], mode="nearest")
            last_inner = inner_lateral + top_down
            results.insert(0, self.layer_blocks[idx](last_inner))
        results.append(F.max_pool2d(results[-1], 1, 2, 0))
        return OrderedDict(zip(["p2", "p3", "p4", "p5", "pool"], results))


class Named(nn.Module):
    """One module under a name, so that its keys carry the spec's prefix."""

    def __init__(self, **module):
        super().__init__()
        ((self.name, inner),) = module.items()
        self.add_module(self.name, inner)

    def forward(self, *x):
        return getattr(self, self.name)(*x)


def test_fcn_head_is_torchvisions_fcn_head():
    ours = built("""
        archc: 1
        name: t
        input: [32, 9, 11]
        imports: [std/segmentation]
        layers:
          - fcn_head: {name: head, num_classes: 5}
    """)
    x = torch.randn(2, 32, 9, 11)
    assert_same_function(ours.head, FCNHead(32, 5), x)


def test_aspp_concatenates_five_branches_and_the_pooled_one_is_resized_back():
    ours = built("""
        archc: 1
        name: t
        input: [16, 9, 11]
        imports: [std/segmentation]
        layers:
          - aspp: {name: aspp, rates: [1, 2, 3], out_channels: 8}
    """)
    x = torch.randn(2, 16, 9, 11)
    assert_same_function(ours.aspp, ASPP(16, [1, 2, 3], out_channels=8), x)


def test_deeplab_head_is_torchvisions_deeplab_head():
    ours = built("""
        archc: 1
        name: t
        input: [16, 7, 6]
        imports: [std/segmentation]
        layers:
          - deeplab_head: {name: head, num_classes: 3, rates: [2, 4, 6]}
    """)
    x = torch.randn(2, 16, 7, 6)
    assert_same_function(ours.head, DeepLabHead(16, 3, [2, 4, 6]), x)


def test_feature_pyramid_network_merges_top_down_at_each_laterals_size():
    # odd sizes: the nearest resize must follow each lateral's size, not a fixed factor of 2
    ours = built("""
        archc: 1
        name: t
        inputs: {c2: [4, 15, 13], c3: [6, 8, 7], c4: [8, 4, 4], c5: [10, 2, 2]}
        imports: [std/fpn]
        layers:
          - feature_pyramid_network: {name: fpn, from: [c2, c3, c4, c5], out_channels: 5}
        outputs: {p2: fpn.p2, p3: fpn.p3, p4: fpn.p4, p5: fpn.p5, pool: fpn.pool}
    """)
    xs = [torch.randn(2, 4, 15, 13), torch.randn(2, 6, 8, 7), torch.randn(2, 8, 4, 4), torch.randn(2, 10, 2, 2)]
    assert_same_function(ours, Named(fpn=FeaturePyramidNetwork([4, 6, 8, 10], 5)), *xs)


def _conv2s(stage):
    return [(block.conv2.stride[0], block.conv2.dilation[0], block.conv2.padding[0]) for block in stage]


def test_resnet50_dilates_layer3_and_layer4_as_torchvision_does():
    # torchvision's _make_layer: a dilated stage strides 1 and doubles the dilation, but its
    # first block still uses the previous stage's dilation; padding follows the dilation
    m = archc.build(SPECS / "segmentation" / "fcn_resnet50.yaml")
    assert _conv2s(m.backbone.layer2) == [(2, 1, 1)] + [(1, 1, 1)] * 3
    assert _conv2s(m.backbone.layer3) == [(1, 1, 1)] + [(1, 2, 2)] * 5
    assert _conv2s(m.backbone.layer4) == [(1, 2, 2)] + [(1, 4, 4)] * 2
    assert m.backbone.layer3[0].downsample[0].stride == (1, 1)
    assert not hasattr(m.backbone, "fc") and not hasattr(m.backbone, "avgpool")


def test_resnet50_defaults_are_unchanged_and_frozen_batch_norm_drops_num_batches_tracked():
    plain = archc.build(SPECS / "torchvision" / "resnet50.yaml")
    assert _conv2s(plain.layer4) == [(2, 1, 1)] + [(1, 1, 1)] * 2
    assert isinstance(plain.bn1, nn.BatchNorm2d) and hasattr(plain, "fc")
    fpn = archc.build(SPECS / "detection" / "fpn_resnet50.yaml")
    norms = [m for m in fpn.body.modules() if "BatchNorm" in type(m).__name__]
    assert norms and all(type(m).__name__ == "FrozenBatchNorm2d" for m in norms)
    assert not any(k.endswith("num_batches_tracked") for k in fpn.state_dict())
    assert {k.removeprefix("body.") for k in fpn.state_dict() if k.startswith("body.")} == {
        k for k in plain.state_dict() if not k.endswith("num_batches_tracked") and not k.startswith("fc.")}
