"""Issue 11's additive kinds beyond their rows in test_kinds.py: the generated source, stochastic
depth while training, symbolic sizes, token-layout errors, labels and explanations."""
from __future__ import annotations

import pytest
import torch
from conftest import check_layers
from torch import nn

import archc
from archc.explain import explain_node
from archc.layers import KINDS
from archc.symbolic import evaluate

TOKENS = [
    {"conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
    {"layer_norm2d": {"eps": 1.0e-6}},
    {"permute": {"dims": [0, 2, 3, 1]}},
    "layer_norm",
    {"permute": {"dims": [0, 3, 1, 2]}},
    {"group_norm": {"num_groups": 2}},
    {"instance_norm2d": {"affine": True, "track_running_stats": True}},
    {"stochastic_depth": {"p": 0.3}},
    {"flatten": {"start_dim": 2}},
    {"permute": {"dims": [0, 2, 1]}},
    {"layer_norm": {"dims": 2, "bias": False}},
    {"amax": {"dim": 2, "keepdim": True}},
    {"mean": {"dim": -1}},
    {"unflatten": {"dim": 1, "sizes": [4, -1]}},
    {"sum": {"dim": [1]}},
    {"reshape": {"shape": [-1, 2]}},
    {"log_softmax": {"dim": -1}},
]


def _generated(graph):
    namespace: dict = {}
    exec(compile(archc.source(graph), "tokens_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    return namespace["build"]()


def test_generated_source_builds_the_same_token_module_in_eval_and_training():
    graph = check_layers(TOKENS, (3, 8, 8))
    ours = archc.build(graph)
    with torch.no_grad():
        for tensor in ours.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    theirs = _generated(graph)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        out = ours.eval()(x)
        torch.testing.assert_close(out, theirs.eval()(x), rtol=0, atol=0)
        torch.manual_seed(1)  # training: stochastic depth draws the same noise in both
        trained = ours.train()(x)
        torch.manual_seed(1)
        torch.testing.assert_close(trained, theirs.train()(x), rtol=0, atol=0)
    assert tuple(out.shape[1:]) == graph.root.out_shape == (8, 2)
    assert not torch.equal(trained, out)  # training really ran differently (batch statistics, dropped samples)


def _stochastic(p, mode="row"):
    return archc.build(check_layers([{"stochastic_depth": {"p": p, "mode": mode}}], (3, 2)))[0]


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_stochastic_depth_row_mode_drops_each_sample_with_probability_p_and_rescales(p):
    module = _stochastic(p).train()
    x = torch.ones(20000, 3, 2)
    torch.manual_seed(7)
    y = module(x)
    kept = y.flatten(1).amax(dim=1) > 0
    # a whole sample is kept or dropped, and what is kept is scaled by 1/(1 − p)
    assert torch.equal(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert torch.equal(y[~kept], torch.zeros_like(y[~kept]))
    # the fraction kept is within four standard deviations of 1 − p
    sd = (p * (1 - p) / len(x)) ** 0.5
    assert abs(kept.float().mean() - (1 - p)) < 4 * sd
    assert y.mean().item() == pytest.approx(1.0, abs=4 * sd / (1 - p))  # unbiased: E[y] = x


def test_stochastic_depth_batch_mode_keeps_or_drops_the_whole_batch():
    module = _stochastic(0.5, "batch").train()
    x = torch.randn(64, 3, 2)
    outcomes = set()
    torch.manual_seed(3)
    for _ in range(40):
        y = module(x)
        if torch.equal(y, torch.zeros_like(y)):
            outcomes.add("dropped")
        else:
            torch.testing.assert_close(y, x * 2)
            outcomes.add("kept")
    assert outcomes == {"dropped", "kept"}


def test_stochastic_depth_is_the_identity_in_eval_mode_and_with_p_zero():
    x = torch.randn(16, 3, 2)
    assert torch.equal(_stochastic(0.9).eval()(x), x)
    assert torch.equal(_stochastic(0.0).train()(x), x)
    assert torch.equal(_stochastic(1.0).train()(x), torch.zeros_like(x))  # nothing survives, nothing divided


def test_layer_norm2d_is_an_nn_layer_norm_with_torchvisions_keys_and_arithmetic():
    built = archc.build(check_layers([{"layer_norm2d": {"eps": 1e-6}}], (6, 4, 5)))[0]
    assert isinstance(built, nn.LayerNorm) and list(built.state_dict()) == ["weight", "bias"]
    tokens = nn.LayerNorm(6, eps=1e-6)
    with torch.no_grad():
        tokens.weight.copy_(torch.randn(6))
        tokens.bias.copy_(torch.randn(6))
    built.load_state_dict(tokens.state_dict())
    x = torch.randn(2, 6, 4, 5)
    with torch.no_grad():  # channels-first layer norm = token layer norm on the channels-last view
        torch.testing.assert_close(built(x), tokens(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


# -- symbolic sizes ------------------------------------------------------------------------------
SYMBOLIC = [
    {"conv2d": {"out_channels": 4, "kernel_size": 3}},
    {"layer_norm2d": {}},
    {"permute": {"dims": [0, 2, 3, 1]}},
    "layer_norm",
    {"permute": {"dims": [0, 3, 1, 2]}},
    {"group_norm": {"num_groups": 2}},
    {"stochastic_depth": {"p": 0.2}},
    {"amax": {"dim": 1, "keepdim": True}},
    {"mean": {"dim": [-1]}},
]


def test_layout_kinds_keep_symbolic_sizes_exactly():
    symbolic = archc.check("t.yaml", text=_text(SYMBOLIC), input_shape=(3, "H", "W"))
    for h, w in [(3, 3), (7, 12), (20, 5)]:
        concrete = archc.check("t.yaml", text=_text(SYMBOLIC), input_shape=(3, h, w))
        for sym_node, node in zip(symbolic.nodes(), concrete.nodes()):
            assert tuple(evaluate(s, {"H": h, "W": w}) for s in sym_node.out_shape) == node.out_shape


def _text(layers):
    from conftest import spec_text

    return spec_text(layers, (3, 16, 16))


def test_instance_norm_records_exactly_the_sizes_it_needs():
    layers = [{"instance_norm2d": {}}]
    graph = archc.check("t.yaml", text=_text(layers), input_shape=(3, "H", 1))
    for h in range(1, 8):
        try:
            archc.check("t.yaml", text=_text(layers), input_shape=(3, h, 1))
            works = True
        except archc.ArchcError as exc:
            assert exc.code == "too-few-values"
            works = False
        assert graph.constraints.holds({"H": h}) == works


@pytest.mark.parametrize("layer", [{"reshape": {"shape": [-1]}}, {"unflatten": {"dim": 2, "sizes": [-1, 1]}},
                                   {"instance_norm2d": {}}],
                         ids=["reshape", "unflatten-a-symbolic-dim", "instance-norm-on-two-symbolic-dims"])
def test_what_no_single_formula_expresses_needs_concrete_sizes(layer):
    with pytest.raises(archc.ArchcError) as info:
        archc.check("t.yaml", text=_text([layer]), input_shape=(3, "H", "W"))
    assert info.value.code == "needs-concrete-size"


def test_a_norm_whose_size_a_permute_made_symbolic_needs_concrete_sizes():
    with pytest.raises(archc.ArchcError) as info:
        archc.check("t.yaml", text=_text([{"permute": {"dims": [0, 2, 3, 1]}}, {"group_norm": {"num_groups": 1}}]),
                    input_shape=(3, "H", "W"))
    assert info.value.code == "needs-concrete-size"
    assert "channels" in info.value.message


# -- token layouts in errors ---------------------------------------------------------------------
def test_layer_norm_over_more_dims_than_the_sample_names_the_layout():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"layer_norm": {"dims": 4}}], (3, 8, 8))
    text = info.value.format()
    assert info.value.code == "wrong-rank"
    assert "N×C×H×W feature maps" in text and "(N, L, C) tokens" in text and "flatten/permute" in text


def test_layer_norm2d_on_tokens_points_to_layer_norm():
    with pytest.raises(archc.ArchcError) as info:
        check_layers(["layer_norm2d"], (7, 12))
    assert info.value.code == "wrong-rank"
    assert "N×C×H×W" in info.value.format() and "use layer_norm" in info.value.hint


def test_a_permute_without_the_batch_says_to_list_it():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"permute": {"dims": [1, 2, 0]}}], (3, 8, 8))
    assert info.value.code == "wrong-length"
    assert "the batch (0) included" in info.value.message and "[0, 2, 3, 1]" in info.value.expected


# -- labels and explanations ---------------------------------------------------------------------
@pytest.mark.parametrize("layer,in_shape,label,explained", [
    ({"layer_norm": {"dims": 2}}, (7, 12), "layer_norm last 2", "parameters 2 × 7×12 = 168"),
    ({"layer_norm2d": {"bias": False}}, (8, 3, 3), "layer_norm2d", "a scale per value of 8 = 8"),
    ({"group_norm": {"num_groups": 4}}, (8, 3, 3), "group_norm 4", "8 channels in 4 groups of 2"),
    ({"instance_norm3d": {}}, (2, 3, 4, 5), "instance_norm3d", "no parameters (affine off)"),
    ({"permute": {"dims": [0, 2, 1]}}, (7, 12), "permute 0, 2, 1", "(N, L, C) tokens 7×12 → 12×7"),
    ({"reshape": {"shape": [-1, 4]}}, (3, 4, 4), "reshape -1×4", "reshape 3×4×4 → 12×4"),
    ({"unflatten": {"dim": -1, "sizes": [2, 3]}}, (4, 6), "unflatten -1 → 2×3", "6 = 2 × 3"),
    ({"mean": {"dim": [2, 3]}}, (8, 3, 5), "mean dim 2, 3", "3 × 5 values averaged → 8"),
    ({"amax": {"dim": 1, "keepdim": True}}, (8, 3, 5), "amax dim 1 keep", "8 values maximum taken → 1×3×5 (kept as size 1)"),
    ({"sum": {"dim": -1}}, (7, 12), "sum dim -1", "12 values summed → 7"),
    ({"stochastic_depth": {"p": 0.25, "mode": "batch"}}, (8, 3, 3), "stochastic_depth 0.25 batch",
     "the whole batch is dropped with probability 0.25, kept ones scaled by 1/0.75"),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_labels_and_explanations_give_the_numbers(layer, in_shape, label, explained):
    node = check_layers([layer], in_shape).root.items[0]
    assert KINDS[node.kind].label(node.kind, node.args) == label
    assert explained in " ".join(explain_node(node))
