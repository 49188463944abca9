"""The EfficientNet specs' stochastic depth against torchvision's EfficientNet: the rate of
every block, where it sits in the block, and that eval mode is unchanged by it.

torchvision is not installed here, so its rule is written out below from efficientnet.py:
`EfficientNet.__init__` counts blocks over all stages from 0 (`stage_block_id`) and gives
block k `sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks`, with
`stochastic_depth_prob` 0.2 for B0 and V2-S; `MBConv` / `FusedMBConv.forward` apply
`self.stochastic_depth` (`StochasticDepth(sd_prob, "row")`) to the branch only when
`use_res_connect` (stride 1 and equal channels), just before adding the input back.
"""
from __future__ import annotations

import pytest
import torch
from conftest import SPECS, checked

import archc
from archc.runtime import StochasticDepth

# torchvision's stage settings: (stride, input channels, output channels, blocks), from
# efficientnet.py's _efficientnet_conf for efficientnet_b0 and efficientnet_v2_s
TORCHVISION_STAGES = {
    "efficientnet_b0": [(1, 32, 16, 1), (2, 16, 24, 2), (2, 24, 40, 2), (2, 40, 80, 3), (1, 80, 112, 3),
                        (2, 112, 192, 4), (1, 192, 320, 1)],
    "efficientnet_v2_s": [(1, 24, 24, 2), (2, 24, 48, 4), (2, 48, 64, 4), (2, 64, 128, 6), (1, 128, 160, 9),
                          (2, 160, 256, 15)],
}
STOCHASTIC_DEPTH_PROB = 0.2  # torchvision's default, which both models keep


def torchvision_rates(name: str) -> list[tuple[str, float]]:
    """(module path, p) of each stochastic depth torchvision's forward applies, in forward order."""
    stages = TORCHVISION_STAGES[name]
    total_stage_blocks = sum(blocks for *_, blocks in stages)
    rates, stage_block_id = [], 0
    for stage, (stride, in_channels, out_channels, blocks) in enumerate(stages, start=1):  # features.0 is the stem
        for block in range(blocks):
            if block > 0:  # torchvision: later blocks of a stage read the stage's width at stride 1
                in_channels, stride = out_channels, 1
            sd_prob = STOCHASTIC_DEPTH_PROB * float(stage_block_id) / total_stage_blocks
            if stride == 1 and in_channels == out_channels:  # use_res_connect
                rates.append((f"features.{stage}.{block}.stochastic_depth", sd_prob))
            stage_block_id += 1
    return rates


NAMES = sorted(TORCHVISION_STAGES)


def spec(name: str):
    return SPECS / "torchvision" / f"{name}.yaml"


@pytest.mark.parametrize("name", NAMES)
def test_every_residual_block_has_torchvisions_stochastic_depth_rate_in_the_checked_graph(name):
    nodes = [node for node in checked(spec(name)).root.walk() if node.kind == "stochastic_depth"]
    assert [(node.path, node.args.p) for node in nodes] == torchvision_rates(name)  # exact: same float arithmetic
    assert {node.args.mode for node in nodes} == {"row"}


@pytest.mark.parametrize("name", NAMES)
def test_built_network_applies_stochastic_depth_in_training_with_torchvisions_rates(name):
    model = archc.build(checked(spec(name)))  # a fresh copy: training updates batch-norm statistics
    applied = []
    for path, module in model.named_modules():
        if isinstance(module, StochasticDepth):
            module.register_forward_hook(lambda m, args, out, path=path: applied.append((path, m.p, m.mode)))
    with torch.no_grad():
        model.train()(torch.randn(2, 3, 32, 32))
    assert applied == [(path, p, "row") for path, p in torchvision_rates(name)]


def test_stochastic_depth_drops_the_branch_before_the_input_is_added_back():
    block = archc.build(checked(spec("efficientnet_b0"))).features[2][1]  # a fresh copy: p is changed below
    assert [name for name, _ in block.named_children()] == ["block", "stochastic_depth"]  # torchvision's order
    x = torch.randn(4, 24, 8, 8)
    block.train()
    block.stochastic_depth.p = 1.0  # the branch is always dropped: only the input remains
    assert torch.equal(block(x), x)
    block.stochastic_depth.p = 0.0  # never dropped: the branch is there
    assert not torch.equal(block(x), x)


@pytest.mark.parametrize("name", NAMES)
def test_in_eval_mode_stochastic_depth_changes_nothing(name):
    model = archc.build(checked(spec(name))).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        with_it = model(x)
        removed = [path for path, module in model.named_modules() if isinstance(module, StochasticDepth)]
        for path in removed:
            parent, _, child = path.rpartition(".")
            setattr(model.get_submodule(parent), child, torch.nn.Identity())
        assert len(removed) == len(torchvision_rates(name))
        assert not any(isinstance(module, StochasticDepth) for module in model.modules())
        assert torch.equal(model(x), with_it)
