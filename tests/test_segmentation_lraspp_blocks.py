"""std/segmentation_lraspp's lraspp_head against torchvision's LRASPPHead.forward, written out."""
from __future__ import annotations

import torch
import torch.nn.functional as F
import yaml
from conftest import check_text

import archc

HEAD = {"archc": 1, "name": "t", "inputs": {"low": [8, 12, 12], "high": [16, 5, 7]}, "imports": ["std/segmentation_lraspp"],
        "layers": [{"lraspp_head": {"name": "classifier", "from": ["low", "high"], "num_classes": 3, "inter_channels": 6}}]}


def _torchvision_head(head: torch.nn.Module, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    x = head.cbr(high) * head.scale(high)
    x = F.interpolate(x, size=low.shape[-2:], mode="bilinear", align_corners=False)
    return head.low_classifier(low) + head.high_classifier(x)


def test_lraspp_head_gates_upsamples_and_sums_both_classifiers_as_torchvision():
    model = archc.build(check_text(yaml.safe_dump(HEAD, sort_keys=False))).eval()
    torch.manual_seed(0)
    for tensor in model.state_dict().values():   # BN statistics away from 0 and 1, so they count
        if tensor.is_floating_point():
            tensor.copy_(torch.rand(tensor.shape) + 0.5)
    low, high = torch.randn(2, 8, 12, 12), torch.randn(2, 16, 5, 7)
    with torch.no_grad():
        ours, theirs = model(low, high), _torchvision_head(model.classifier, low, high)
    assert ours.shape == (2, 3, 12, 12)
    torch.testing.assert_close(ours, theirs)


def test_lraspp_head_keeps_torchvisions_parameter_names_and_its_own_batch_norm():
    model = archc.build(check_text(yaml.safe_dump({**HEAD, "defaults": {"batch_norm2d": {"eps": 0.001}}}, sort_keys=False)))
    assert [k for k in model.state_dict() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))] == [
        "classifier.cbr.0.weight", "classifier.cbr.1.weight", "classifier.cbr.1.bias", "classifier.scale.1.weight",
        "classifier.low_classifier.weight", "classifier.low_classifier.bias",
        "classifier.high_classifier.weight", "classifier.high_classifier.bias"]
    # torchvision builds the head's BatchNorm2d with nn's defaults whatever the backbone uses
    assert (model.classifier.cbr[1].eps, model.classifier.cbr[1].momentum) == (1e-5, 0.1)
