"""multihead_attention against torch.nn.MultiheadAttention itself (torchvision's EncoderBlock
calls it as attn(x, x, x, need_weights=False)[0]), select, and linear on tokens: keys, numbers,
MACs as FlopCounterMode counts them, and located errors that name the layout."""
from __future__ import annotations

import pytest
import torch
from conftest import attention_as_matmuls, check_layers
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.explain import explain_node


def _attention(embed=12, heads=3, length=9, **args):
    graph = check_layers([{"multihead_attention": {"num_heads": heads, **args}}], (length, embed))
    return graph, archc.build(graph)[0]


def _torch_attention(built, embed, heads, **kwargs):
    reference = nn.MultiheadAttention(embed, heads, batch_first=True, **kwargs)
    reference.load_state_dict(built.state_dict())
    return reference


def test_keys_are_torchvisions_and_eval_output_equals_torchs_self_attention_exactly():
    _, built = _attention()
    assert list(built.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    reference = _torch_attention(built, 12, 3).eval()
    x = torch.randn(2, 9, 12)
    with torch.no_grad():  # eval without grad: torch's fused fast path, in both
        expected = reference(x, x, x, need_weights=False)[0]
        assert torch.equal(built.eval()(x), expected)
    expected = reference(x, x, x, need_weights=False)[0]  # with grad: the plain path
    assert torch.equal(built(x), expected)


def test_dropout_on_the_attention_weights_trains_as_torchs_does():
    _, built = _attention(dropout=0.5)
    reference = _torch_attention(built, 12, 3, dropout=0.5).train()
    x = torch.randn(2, 9, 12)
    torch.manual_seed(4)
    got = built.train()(x)
    torch.manual_seed(4)
    torch.testing.assert_close(got, reference(x, x, x, need_weights=False)[0], rtol=0, atol=0)
    assert not torch.allclose(got, built.eval()(x))  # dropout really acted


def test_no_bias_drops_both_biases_as_torch_does():
    graph, built = _attention(bias=False)
    assert list(built.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    assert graph.root.params == sum(p.numel() for p in nn.MultiheadAttention(12, 3, bias=False).parameters())


@pytest.mark.parametrize("embed,heads,length", [(768, 12, 197), (12, 3, 9), (8, 1, 1), (6, 2, 50)])
def test_macs_are_what_flop_counter_counts_for_torchs_multihead_attention(embed, heads, length):
    """The projections 4·L·E² and the two matmuls Q·Kᵀ, softmax·V 2·L²·E, as FlopCounterMode
    counts nn.MultiheadAttention when it runs them as matmuls (its fused eval fast path and
    CPU's fused attention kernel are invisible to it)."""
    graph, built = _attention(embed, heads, length)
    x = torch.randn(1, length, embed)
    with torch.no_grad(), attention_as_matmuls(), FlopCounterMode(display=False) as counter:
        built.eval()(x)
    counted = counter.get_flop_counts()["Global"]
    assert graph.root.macs == counter.get_total_flops() // 2 == 4 * length * embed**2 + 2 * length**2 * embed
    names = {str(op) for op in counted}
    assert {"aten.bmm"} <= names  # the attention's own matmuls were counted, not only the projections
    # without the switch the counter misses the attention: the fused fast path (even heads)
    # is one op it cannot see, and CPU's fused attention kernel leaves it the projections only
    with torch.no_grad(), FlopCounterMode(display=False) as blind:
        built.eval()(x)
    assert blind.get_total_flops() // 2 == (0 if heads % 2 == 0 else 4 * length * embed**2)


def test_explain_shows_heads_parameters_and_macs():
    graph, _ = _attention(768, 12, 197)
    text = "\n".join(explain_node(graph.root.items[0]))
    assert "12 heads of 768 / 12 = 64 dims" in text
    assert f"{4 * 768 * 768 + 4 * 768:,}" in text and f"{graph.root.macs:,}" in text


def test_heads_not_dividing_the_embedding_dim_is_a_located_error():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"multihead_attention": {"num_heads": 5}}], (9, 12))
    assert info.value.code == "not-divisible" and info.value.loc.line > 0
    assert "embedding dim E" in str(info.value)
    with pytest.raises(AssertionError):  # torch refuses it too, at construction
        nn.MultiheadAttention(12, 5)


@pytest.mark.parametrize("shape,layout", [((3, 8, 8), "N×C×H×W feature maps"), ((12,), "N×C features")])
def test_attention_on_a_non_token_layout_names_the_layout_and_the_fix(shape, layout):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"multihead_attention": {"num_heads": 2}}], shape)
    message = str(info.value)
    assert info.value.code == "wrong-rank" and info.value.loc.line > 0
    assert "(N, L, E) tokens" in message and layout in message and "flatten" in message and "permute" in message


def test_generated_source_runs_attention_and_select_as_the_built_module_does():
    graph = check_layers([{"flatten": {"start_dim": 2}}, {"permute": {"dims": [0, 2, 1]}},
                          {"multihead_attention": {"num_heads": 2, "dropout": 0.1}},
                          {"linear": {"out_features": 6}}, {"select": {"dim": 1, "index": 0}}], (4, 3, 5))
    ours = archc.build(graph).eval()
    namespace: dict = {}
    exec(compile(archc.source(graph), "attention_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 3, 5)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    assert graph.root.out_shape == (6,)


@pytest.mark.parametrize("index,error", [(7, "bad-index"), (-8, "bad-index")])
def test_select_index_outside_the_dim_is_a_located_error_where_torch_raises(index, error):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"select": {"dim": 1, "index": index}}], (7, 12))
    assert info.value.code == error and info.value.loc.line > 0
    with pytest.raises(IndexError):
        torch.zeros(2, 7, 12).select(1, index)
    assert check_layers([{"select": {"dim": 1, "index": -7}}], (7, 12)).root.out_shape == (12,)


@pytest.mark.parametrize("index", [2, -3])
def test_select_on_a_symbolic_length_records_exactly_the_lengths_that_have_the_index(index):
    text = f"archc: 1\nname: t\ninput: [4, 8]\nlayers:\n  - select: {{dim: 2, index: {index}}}\n"
    graph = archc.check("t.yaml", text=text, input_shape=(4, "L"))
    assert graph.root.out_shape == (4,)
    for length in range(1, 6):
        try:
            archc.check("t.yaml", text=text, input_shape=(4, length))
            works = True
        except archc.ArchcError as exc:
            assert exc.code == "bad-index"
            works = False
        assert graph.constraints.holds({"L": length}) == works == (length >= 3)


def test_linear_on_tokens_counts_every_token_and_refuses_feature_maps():
    graph = check_layers([{"linear": {"out_features": 5}}], (7, 12))
    assert graph.root.out_shape == (7, 5) and graph.root.macs == 7 * 12 * 5 and graph.root.params == 12 * 5 + 5
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"linear": {"out_features": 5}}], (3, 4, 4))
    assert info.value.code == "wrong-rank" and "flatten" in str(info.value)
