"""std/convnext and the ConvNeXt-Tiny spec against torchvision's ConvNeXt, written out here
from torchvision/models/convnext.py (torchvision is not installed): CNBlock.forward is
`result = self.layer_scale * self.block(input); result = self.stochastic_depth(result);
result += input`, with `layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)` and
`StochasticDepth(sd_prob, "row")`; ConvNeXt.__init__ counts blocks over all stages from 0
and gives block k `sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)`
(0.1 and 18 blocks for convnext_tiny)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from conftest import SPECS, assert_every_node_matches_torch, check_text, checked, spec_text

import archc

CONVNEXT_TINY_DEPTHS = [3, 3, 9, 3]


def _cn_block(shape=(8, 6, 5), **args):
    graph = check_text(spec_text([{"cn_block": {"name": "blk", "dim": shape[0], **args}}], shape, imports=["std/convnext"]))
    torch.manual_seed(0)
    return graph, archc.build(graph)


def _randomise(model):
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape) * 0.3)


def _branch(blk, x):
    """torchvision's CNBlock.block, step by step, from the built block's own submodules."""
    conv, norm, fc1, fc2 = blk.block[0], blk.block[2], blk.block[3], blk.block[5]
    y = conv(x).permute(0, 2, 3, 1)
    y = F.layer_norm(y, (y.shape[-1],), norm.weight, norm.bias, 1e-6)
    y = fc2(F.gelu(fc1(y)))
    return y.permute(0, 3, 1, 2)


def test_cn_block_owns_its_layer_scale_first_starting_at_one_millionth():
    _, model = _cn_block()
    keys = list(model.state_dict())
    assert keys[0] == "blk.layer_scale"  # a module's own parameters before its children's, as torch lists them
    assert keys[1:] == [f"blk.block.{i}.{p}" for i in (0, 2, 3, 5) for p in ("weight", "bias")]
    scale = model.blk.layer_scale
    assert isinstance(scale, torch.nn.Parameter) and tuple(scale.shape) == (8, 1, 1)
    torch.testing.assert_close(scale.detach(), torch.full((8, 1, 1), 1e-6))
    assert tuple(model.blk.block[3].weight.shape) == (32, 8) and tuple(model.blk.block[5].weight.shape) == (8, 32)


def test_cn_block_in_eval_adds_the_scaled_branch_to_its_input():
    graph, model = _cn_block(stochastic_depth_prob=0.5)
    _randomise(model)
    assert_every_node_matches_torch(graph, model=model)
    blk = model.blk.eval()
    x = torch.randn(2, 8, 6, 5)
    with torch.no_grad():
        expected = blk.layer_scale * _branch(blk, x) + x  # stochastic depth is the identity in eval
        torch.testing.assert_close(model.eval()(x), expected, rtol=1e-5, atol=1e-6)


def test_cn_block_in_training_drops_the_branch_per_sample_as_torchvision_does():
    _, model = _cn_block(stochastic_depth_prob=0.5)
    _randomise(model)
    model.train()
    blk = model.blk
    x = torch.randn(8, 8, 6, 5)
    with torch.no_grad():
        torch.manual_seed(3)
        got = model(x)
        torch.manual_seed(3)
        branch = blk.layer_scale * _branch(blk, x)
        noise = torch.empty(8, 1, 1, 1).bernoulli_(0.5).div_(0.5)  # torchvision's stochastic_depth, mode row
        torch.testing.assert_close(got, branch * noise + x, rtol=1e-5, atol=1e-6)
    dropped = noise.flatten() == 0
    assert dropped.any() and (~dropped).any()  # the seed exercises both cases
    torch.testing.assert_close(got[dropped], x[dropped])


def test_convnext_tiny_has_torchvisions_stochastic_depth_rate_in_every_block():
    total = sum(CONVNEXT_TINY_DEPTHS)
    expected, block_id = [], 0
    for stage, depth in enumerate(CONVNEXT_TINY_DEPTHS):
        for b in range(depth):
            expected.append((f"features.{1 + 2 * stage}.{b}.stochastic_depth", 0.1 * block_id / (total - 1.0)))
            block_id += 1
    nodes = [n for n in checked(SPECS / "torchvision" / "convnext_tiny.yaml").root.walk() if n.kind == "stochastic_depth"]
    assert [(n.path, n.args.p) for n in nodes] == expected  # exact: the same float arithmetic
    assert {n.args.mode for n in nodes} == {"row"}


def test_cn_block_starts_from_torchvisions_initialisation():
    """ConvNeXt.__init__: trunc_normal_(weight, std=0.02) and zeros_(bias) for every Conv2d and
    Linear (LayerNorm keeps torch's ones and zeros)."""
    _, model = _cn_block(shape=(64, 4, 4))
    block = model.blk.block
    for layer in (block[0], block[3], block[5]):
        weight = layer.weight.detach()
        assert abs(weight.std().item() - 0.02) < 0.002 and weight.abs().max().item() <= 2.0
        assert not layer.bias.detach().any()
    assert bool((block[2].weight == 1).all()) and not block[2].bias.detach().any()
