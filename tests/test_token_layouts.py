"""Property-based proof (hypothesis) that token layouts are inferred as torch computes them:
random (N, L, C) chains of layer norms, per-token linears, self-attention (bare or in a
pre-norm residual, as in a ViT encoder block), permutes and reshapes, from a token input or
from patches of an image, each ending in a class token or a token average. torch runs the
chain layer by layer first: where it runs, every node's shape, parameters and MACs agree
with it; where it refuses a layer, archc refuses that same layer with a located error.

    ARCHC_EXAMPLES=2000 python3 -m pytest tests/test_token_layouts.py
"""
from __future__ import annotations

import os
import re

import pytest
import torch
from conftest import assert_every_node_matches_torch, spec_text
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

import archc

EXAMPLES = int(os.environ.get("ARCHC_EXAMPLES", "60"))
FIXED = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

attention = st.builds(lambda h: {"multihead_attention": {"num_heads": h}}, st.integers(1, 4))
token_layer = st.one_of(
    st.just("layer_norm"), st.just("gelu"),
    st.builds(lambda k: {"linear": {"out_features": k}}, st.integers(1, 12)),
    attention,
    st.builds(lambda a: {"residual": {"body": ["layer_norm", a]}}, attention),  # x + attention(norm(x))
    st.just({"permute": {"dims": [0, 2, 1]}}),
    st.builds(lambda k: {"reshape": {"shape": [-1, k]}}, st.integers(1, 8)),
)
ending = st.sampled_from([[], [{"select": {"dim": 1, "index": 0}}], [{"mean": {"dim": 1}}],
                          [{"select": {"dim": 1, "index": -1}}, {"linear": {"out_features": 3}}]])
PATCHES = [{"conv2d": {"out_channels": 6, "kernel_size": 2, "stride": 2}},  # an image's patches, as ViT's conv_proj
           {"flatten": {"start_dim": 2}}, {"permute": {"dims": [0, 2, 1]}}]


class _Residual(nn.Module):
    def __init__(self, *body):
        super().__init__()
        self.body = nn.Sequential(*body)

    def forward(self, x):
        return x + self.body(x)


class _SelfAttention(nn.Module):
    def __init__(self, embed: int, heads: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed, heads, batch_first=True)  # asserts heads divide embed

    def forward(self, x):
        return self.attention(x, x, x, need_weights=False)[0]


def _torch_layer(entry, shape: tuple) -> nn.Module:
    """The torch module for one entry, from its own arguments and the input's shape."""
    if isinstance(entry, str):
        return {"layer_norm": lambda: nn.LayerNorm(shape[-1]), "gelu": nn.GELU}[entry]()
    (kind, args), = entry.items()
    if kind == "residual":
        return _Residual(*(_torch_layer(e, shape) for e in args["body"]))
    if kind == "multihead_attention":
        return _SelfAttention(shape[-1], args["num_heads"])
    if kind == "linear":
        return nn.Linear(shape[-1], args["out_features"])
    if kind == "conv2d":
        return nn.Conv2d(shape[1], **args)
    if kind == "flatten":
        return nn.Flatten(**args)
    ops = {"permute": lambda x: x.permute(*args["dims"]), "reshape": lambda x: x.reshape(len(x), *args["shape"]),
           "select": lambda x: x.select(args["dim"], args["index"]), "mean": lambda x: x.mean(args["dim"])}
    return _Lambda(ops[kind])


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@FIXED
@given(from_image=st.booleans(), length=st.integers(1, 9), channels=st.integers(1, 12),
       layers=st.lists(token_layer, min_size=1, max_size=6), end=ending)
def test_random_token_chains_agree_with_torch_node_by_node(from_image, length, channels, layers, end):
    if from_image:  # 3×(2·length)×4 image → 2·length patches of 6 channels
        input_shape, layers = (3, 2 * length, 4), [*PATCHES, *layers]
    else:
        input_shape = (length, channels)
    layers = [*layers, *end]
    x, torch_shapes, refused_at = torch.randn(2, *input_shape), [], None
    for index, entry in enumerate(layers):
        try:
            with torch.no_grad():
                x = _torch_layer(entry, tuple(x.shape))(x)
        except (RuntimeError, ValueError, AssertionError):
            refused_at = index
            break
        torch_shapes.append(tuple(x.shape[1:]))
    text = spec_text(layers, input_shape)
    event("torch ran every layer" if refused_at is None else "torch refused a layer")
    if refused_at is None:
        graph = archc.check("t.yaml", text=text)
        assert [n.out_shape for n in graph.root.items] == torch_shapes
        assert_every_node_matches_torch(graph)
    else:
        with pytest.raises(archc.ArchcError) as info:
            archc.check("t.yaml", text=text)
        assert re.match(rf"layer {refused_at}[ .]", info.value.path), info.value.format()
        assert info.value.loc is not None and info.value.loc.line > 0
