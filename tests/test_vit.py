"""The Vision Transformers: the lecture's (d2l 11.8) against d2l's own code, and the ViT
standard-library blocks' teaching claims. torchvision's ViT-B/16 is checked against its
reference fingerprint in test_specs.py."""
from __future__ import annotations

import math

import pytest
import torch
from conftest import SPECS, built, checked
from torch import nn

D2L_VIT = SPECS / "d2l" / "vit.yaml"


# -- d2l's code (chapter 11.8 and the attention it uses), with Lazy layers made concrete ---------
class DotProductAttention(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        return torch.bmm(self.dropout(nn.functional.softmax(scores, dim=-1)), values)


class MultiHeadAttention(nn.Module):
    def __init__(self, num_hiddens, num_heads, dropout, bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_k = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_v = nn.Linear(num_hiddens, num_hiddens, bias=bias)
        self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

    def transpose_qkv(self, X):
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
        X = X.permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
        X = X.permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    def forward(self, queries, keys, values):
        queries = self.transpose_qkv(self.W_q(queries))
        keys = self.transpose_qkv(self.W_k(keys))
        values = self.transpose_qkv(self.W_v(values))
        return self.W_o(self.transpose_output(self.attention(queries, keys, values)))


class PatchEmbedding(nn.Module):
    def __init__(self, img_size=96, patch_size=16, num_hiddens=512):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.conv = nn.Conv2d(1, num_hiddens, kernel_size=patch_size, stride=patch_size)

    def forward(self, X):
        return self.conv(X).flatten(2).transpose(1, 2)


class ViTMLP(nn.Module):
    def __init__(self, num_inputs, mlp_num_hiddens, mlp_num_outputs, dropout=0.5):
        super().__init__()
        self.dense1 = nn.Linear(num_inputs, mlp_num_hiddens)
        self.gelu = nn.GELU()
        self.dropout1 = nn.Dropout(dropout)
        self.dense2 = nn.Linear(mlp_num_hiddens, mlp_num_outputs)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout2(self.dense2(self.dropout1(self.gelu(self.dense1(x)))))


class ViTBlock(nn.Module):
    def __init__(self, num_hiddens, norm_shape, mlp_num_hiddens, num_heads, dropout, use_bias=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(norm_shape)
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.ln2 = nn.LayerNorm(norm_shape)
        self.mlp = ViTMLP(num_hiddens, mlp_num_hiddens, num_hiddens, dropout)

    def forward(self, X):
        X = X + self.attention(*([self.ln1(X)] * 3))
        return X + self.mlp(self.ln2(X))


class ViT(nn.Module):
    def __init__(self, img_size=96, patch_size=16, num_hiddens=512, mlp_num_hiddens=2048, num_heads=8, num_blks=2,
                 emb_dropout=0.1, blk_dropout=0.1, use_bias=False, num_classes=10):
        super().__init__()
        self.patch_embedding = PatchEmbedding(img_size, patch_size, num_hiddens)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, num_hiddens))
        num_steps = self.patch_embedding.num_patches + 1
        self.pos_embedding = nn.Parameter(torch.randn(1, num_steps, num_hiddens) * 0.02)
        self.dropout = nn.Dropout(emb_dropout)
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module(f"{i}", ViTBlock(num_hiddens, num_hiddens, mlp_num_hiddens, num_heads,
                                                  blk_dropout, use_bias))
        self.head = nn.Sequential(nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens, num_classes))

    def forward(self, X):
        X = self.patch_embedding(X)
        X = torch.cat((self.cls_token.expand(X.shape[0], -1, -1), X), 1)
        X = self.dropout(X + self.pos_embedding)
        for blk in self.blks:
            X = blk(X)
        return self.head(X[:, 0])


def _d2l_state(ours: nn.Module) -> dict:
    """Our weights under d2l's names: the packed in_proj split into W_q, W_k, W_v."""
    state = {}
    for key, tensor in ours.state_dict().items():
        if key.endswith("attention.in_proj_weight"):
            prefix = key[: -len("in_proj_weight")]
            for name, part in zip(("W_q", "W_k", "W_v"), tensor.chunk(3)):
                state[f"{prefix}{name}.weight"] = part
        else:
            key = key.replace("attention.out_proj.", "attention.W_o.")
            # head's unnamed layer norm and linear are 0 and 1 in d2l's nn.Sequential, as here
            state[key] = tensor
    return state


@pytest.fixture(scope="module")
def lecture_vit():
    model = built(D2L_VIT)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
    return model


def test_lecture_vit_computes_what_d2ls_vit_computes(lecture_vit):
    theirs = ViT().eval()
    theirs.load_state_dict(_d2l_state(lecture_vit))  # strict: every d2l tensor has a counterpart
    x = torch.randn(2, 1, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(lecture_vit(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_lecture_vit_has_d2ls_parameter_count_and_token_shapes():
    graph = checked(D2L_VIT)
    assert graph.root.params == sum(p.numel() for p in ViT().parameters())
    shapes = {node.path: node.out_shape for node in graph.nodes()}
    assert shapes["patch_embedding"] == (36, 512)  # 6 × 6 patches of 16 × 16
    assert shapes["blks"] == (37, 512)  # and the class token
    assert graph.root.out_shape == (10,)


def test_attention_is_where_the_tokens_mix_and_the_mlp_costs_more():
    """The lecture's contrast with CNNs: every token sees all 37 in one layer; the MLP, which
    sees one token at a time, holds twice the attention's parameters."""
    graph = checked(D2L_VIT)
    nodes = {node.path: node for node in graph.nodes()}
    attention, mlp = nodes["blks.0.attention"], nodes["blks.0.mlp"]
    assert attention.params == 4 * 512 * 512
    assert mlp.params == 2 * 512 * 2048 + 2048 + 512
    assert attention.macs == 4 * 37 * 512**2 + 2 * 37**2 * 512
