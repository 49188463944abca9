"""shifted_window_attention (Swin's attention, torchvision's ShiftedWindowAttention): torchvision's
keys and buffer, the answer key of tests/test_kinds.py computed window by window, MACs as
FlopCounterMode counts the built module's forward, the generated source, and located errors."""
from __future__ import annotations

import pytest
import torch
from conftest import check_layers
from test_kinds import _TorchWindowAttention
from torch.utils.flop_counter import FlopCounterMode

import archc
from archc.explain import explain_node


def _window_attention(shape=(8, 8, 12), **args):
    graph = check_layers([{"shifted_window_attention": {"num_heads": 3, "window_size": 4, **args}}], shape)
    return graph, archc.build(graph)[0]


def test_keys_are_torchvisions_with_the_index_a_persistent_integer_buffer():
    _, built = _window_attention()
    assert [(k, tuple(v.shape)) for k, v in built.state_dict().items()] == [
        ("relative_position_bias_table", (49, 3)), ("relative_position_index", (256,)),
        ("qkv.weight", (36, 12)), ("qkv.bias", (36,)), ("proj.weight", (12, 12)), ("proj.bias", (12,))]
    assert built.relative_position_index.dtype == torch.long
    assert "relative_position_index" not in dict(built.named_parameters())  # a buffer: not learned, not counted
    # the index is the answer key's explicit formula (Δy + Wh − 1)·(2Ww − 1) + Δx + Ww − 1
    assert torch.equal(built.relative_position_index, _TorchWindowAttention(12, 3, 4).relative_position_index)


@pytest.mark.parametrize("shape,args", [
    ((56, 56, 96), {"num_heads": 3, "window_size": 7}),            # Swin-T's first stage
    ((14, 14, 48), {"num_heads": 3, "window_size": 7, "shift_size": 3}),
    ((9, 7, 8), {"num_heads": 2, "window_size": 4, "shift_size": 1}),  # padded to 12 × 8
    ((5, 6, 6), {"num_heads": 1, "window_size": 7, "shift_size": 3}),  # one padded window, no shift
])
def test_macs_are_what_flop_counter_counts_for_the_built_module(shape, args):
    """qkv and proj on every token of the padded map (4·H'W'·C²) and the two batched matmuls in
    every window (2·H'W'·Wh·Ww·C), as FlopCounterMode counts the module's own forward."""
    graph, built = _window_attention(shape, **args)
    x = torch.randn(2, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        built.eval()(x)
    counts = counter.get_flop_counts()["Global"]
    assert graph.root.macs == counter.get_total_flops() // 2 // 2  # a batch of two
    assert {str(op) for op in counts} >= {"aten.bmm"}  # the attention's matmuls were counted, not only the linears
    window = args["window_size"]
    padded = -(-shape[0] // window) * window * (-(-shape[1] // window) * window)
    assert graph.root.macs == 4 * padded * shape[2] ** 2 + 2 * padded * window * window * shape[2]


def test_training_dropout_acts_and_eval_is_deterministic():
    _, built = _window_attention(attention_dropout=0.5, dropout=0.5)
    x = torch.randn(2, 8, 8, 12)
    with torch.no_grad():
        assert torch.equal(built.eval()(x), built(x))
        assert not torch.allclose(built.train()(x), built.eval()(x))


def test_generated_source_computes_what_the_built_module_computes():
    graph = check_layers([{"shifted_window_attention": {"num_heads": 2, "window_size": 4, "shift_size": 2}}],
                         (9, 10, 8))
    ours = archc.build(graph).eval()
    namespace: dict = {}
    exec(compile(archc.source(graph), "window_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 9, 10, 8)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_explain_names_windows_heads_parameters_and_a_dropped_shift():
    graph, _ = _window_attention((7, 7, 48), num_heads=3, window_size=7, shift_size=3)
    text = "\n".join(explain_node(graph.root.items[0]))
    assert "1 windows of 7×7 = 49 tokens" in text and "3 heads of 48 / 3 = 16 channels" in text
    assert "shift 3 dropped: one window covers the map" in text
    assert f"{graph.root.params:,}" in text and f"{graph.root.macs:,}" in text
    assert graph.root.params == 4 * 48 * 48 + 4 * 48 + 13 * 13 * 3


def test_heads_not_dividing_the_channels_is_a_located_error():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"shifted_window_attention": {"num_heads": 5}}], (7, 7, 12))
    assert info.value.code == "not-divisible" and info.value.loc.line > 0
    assert "channels C" in str(info.value)


@pytest.mark.parametrize("shape,layout", [((49, 96), "(N, L, C) tokens"), ((96,), "N×C features")])
def test_a_map_that_is_not_channels_last_rank_three_names_the_layout_and_the_fix(shape, layout):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"shifted_window_attention": {"num_heads": 3}}], shape)
    message = str(info.value)
    assert info.value.code == "wrong-rank" and info.value.loc.line > 0
    assert "N×H×W×C" in message and layout in message and "permute" in message and "unflatten" in message


@pytest.mark.parametrize("name", ["window_size", "shift_size"])
def test_a_third_window_or_shift_dim_is_refused_where_it_is_written(name):
    """torchvision's ShiftedWindowAttention raises ValueError for a window or shift not of length 2."""
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"shifted_window_attention": {"num_heads": 3, name: [1, 1, 1]}}], (14, 14, 12))
    assert info.value.code == "bad-value" and info.value.loc.line > 0 and name in str(info.value)
