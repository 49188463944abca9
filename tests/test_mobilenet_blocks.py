"""torchvision's `dilated=True` MobileNetV3-Large (the segmentation backbone) in std/mobilenet."""
from __future__ import annotations

import torch
from conftest import check_layers

import archc


def _features(dilated: bool) -> archc.Graph:
    return check_layers([{"mobilenet_v3_large_features": {"dilated": dilated, "name": "backbone"}}], (3, 224, 224),
                        imports=["std/mobilenet"], defaults={"batch_norm2d": {"eps": 0.001, "momentum": 0.01}})


def test_dilated_features_stop_at_output_stride_16_with_the_same_weights():
    plain, dilated = _features(False), _features(True)
    assert plain.root.out_shape == (960, 7, 7)
    assert dilated.root.out_shape == (960, 14, 14)
    shapes = lambda graph: [(k, tuple(v.shape)) for k, v in archc.build(graph).state_dict().items()]
    assert shapes(plain) == shapes(dilated)


def test_dilated_stage_has_torchvisions_depthwise_stride_dilation_and_padding():
    model = archc.build(_features(True))
    depthwise = {index: model.backbone[index].block[1][0] for index in (12, 13, 14, 15)}
    assert (depthwise[12].stride, depthwise[12].dilation, depthwise[12].padding) == ((1, 1), (1, 1), (1, 1))
    for index in (13, 14, 15):   # C4 onwards: kernel 5, dilation 2, padding (5 − 1) / 2 · 2, never strided
        conv = depthwise[index]
        assert (conv.kernel_size, conv.stride, conv.dilation, conv.padding) == ((5, 5), (1, 1), (2, 2), (4, 4))


def test_dilation_does_not_change_the_classifier():
    model = archc.build("specs/torchvision/mobilenet_v3_large.yaml")
    assert model.features[13].block[1][0].stride == (2, 2)
    assert all(m.dilation == (1, 1) for m in model.modules() if isinstance(m, torch.nn.Conv2d))
