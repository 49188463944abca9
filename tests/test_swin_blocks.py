"""std/swin and the Swin-T spec against torchvision's Swin, written out here from
torchvision/models/swin_transformer.py (torchvision is not installed): _patch_merging_pad
concatenates x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
x[..., 1::2, 1::2, :] on the last dim, then PatchMerging runs norm then reduction (registered
reduction first); SwinTransformerBlock is x + sd(attn(norm1(x))), then x + sd(mlp(norm2(x)));
block i_layer of a stage shifts by 0 when even, window // 2 when odd; block k of all
`total` blocks has sd_prob = 0.2 · k / (total − 1)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import SPECS, assert_every_node_matches_torch, check_text, checked, spec_text

import archc


def _block(name, shape, **args):
    graph = check_text(spec_text([{name: {"name": "blk", **args}}], shape, imports=["std/swin"]))
    torch.manual_seed(0)
    return graph, archc.build(graph)


def test_patch_merging_is_torchvisions_strided_slices_concatenated_then_norm_then_reduction():
    graph, model = _block("patch_merging", (6, 8, 5))
    blk = model.blk
    assert [k for k in blk.state_dict()] == ["reduction.weight", "norm.weight", "norm.bias"]
    assert graph.root.out_shape == (3, 4, 10)
    with torch.no_grad():
        for tensor in blk.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape))
        x = torch.randn(2, 6, 8, 5)
        merged = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                            x[..., 1::2, 1::2, :]], -1)
        expected = F.linear(F.layer_norm(merged, (20,), blk.norm.weight, blk.norm.bias, 1e-5), blk.reduction.weight)
        assert torch.equal(model.eval()(x), expected)  # pure data movement: the same values, not close ones
    assert_every_node_matches_torch(graph, model=model)


def test_patch_merging_on_an_odd_size_is_a_located_error():
    """torchvision pads an odd height or width with zeros; the reshape here refuses it, located."""
    with pytest.raises(archc.ArchcError) as info:
        check_text(spec_text([{"patch_merging": {"name": "blk"}}], (7, 8, 4), imports=["std/swin"]))
    assert info.value.code == "bad-reshape" and info.value.loc.line > 0


def test_swin_block_is_two_pre_norm_residual_branches():
    graph, model = _block("swin_block", (14, 14, 12), num_heads=3, shift=3)
    blk = model.blk.eval()
    assert list(blk.state_dict())[:2] == ["norm1.weight", "norm1.bias"]
    with torch.no_grad():
        x = torch.randn(2, 14, 14, 12)
        y = x + blk.attn(F.layer_norm(x, (12,), blk.norm1.weight, blk.norm1.bias))
        mlp = blk.mlp
        expected = y + mlp[3](F.gelu(mlp[0](F.layer_norm(y, (12,), blk.norm2.weight, blk.norm2.bias))))
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert_every_node_matches_torch(graph, model=model)


def test_swin_t_shifts_every_odd_block_of_a_stage_and_raises_stochastic_depth_linearly():
    model = archc.build(checked(SPECS / "torchvision" / "swin_t.yaml"))
    stages = {1: 2, 3: 2, 5: 6, 7: 2}
    k = 0
    for index, depth in stages.items():
        for i in range(depth):
            blk = model.features[index][i]
            assert blk.attn.shift_size == ([0, 0] if i % 2 == 0 else [3, 3])
            assert blk.stochastic_depth.p == blk.mlp_stochastic_depth.p == pytest.approx(0.2 * k / 11)
            k += 1
    assert k == 12
