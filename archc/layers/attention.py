"""Multi-head self-attention over (N, L, E) tokens: torch.nn.MultiheadAttention with the
tokens as query, key and value, as torchvision's ViT EncoderBlock calls it.

A kind of its own (not written in the language from linear, reshape and softmax) because
torchvision's checkpoints store the attention as nn.MultiheadAttention does: one packed
in_proj_weight (3E × E) for the query, key and value projections, and out_proj.* for the
output. Written from linears, a spec would have other keys and could not load them.
"""
from __future__ import annotations

from archc.layers.base import Args, Bool, Inferred, Kind, PositiveInt, Probability, TorchCall
from archc.shapes import ShapeError, format_shape, layout_name, product, require_concrete, require_divisible


class MultiheadAttentionArgs(Args):
    num_heads: PositiveInt
    dropout: Probability = 0.0  # on the attention weights, while training (torch's default)
    bias: Bool = True  # in_proj_bias and out_proj.bias


def _tokens(kind: str, shape) -> tuple:
    """(L, E): the sequence length and the embedding dim of (N, L, E) tokens."""
    if len(shape) != 2:
        raise ShapeError(
            "wrong-rank", f"{kind} needs (N, L, E) tokens",
            expected="(N, L, E) tokens: 2 dims after the batch",
            found=f"{layout_name(shape)} ({format_shape(shape) or 'no dims'})",
            hint="add a flatten/permute first: feature maps N×C×H×W become tokens with "
                 "'flatten: {start_dim: 2}' then 'permute: {dims: [0, 2, 1]}'")
    length, embed = shape
    require_concrete(embed, "embedding dim E")
    return length, embed


class MultiheadAttention(Kind):
    names = ("multihead_attention",)
    family = "attention"
    Args = MultiheadAttentionArgs
    summary = ("multi-head self-attention on (N, L, E) tokens (torch.nn.MultiheadAttention, batch_first; "
               "query = key = value = the input; embed_dim is inferred and must be divisible by num_heads)")

    def infer(self, kind, a: MultiheadAttentionArgs, shape):
        length, embed = _tokens(kind, shape)
        require_divisible(embed, a.num_heads, "embedding dim E",
                          hint=f"each of the {a.num_heads} heads attends over E / num_heads dims: "
                               "choose num_heads dividing E")
        params = 4 * embed * embed + (4 * embed if a.bias else 0)
        # As torch's FlopCounter counts them: the query, key, value and output projections
        # (4 · L · E²) and the two batched matmuls Q·Kᵀ and softmax(·)·V (2 · L² · E over all
        # heads). Bias adds, the scaling and the softmax are not multiply-accumulates.
        macs = 4 * product((length, embed, embed)) + 2 * product((length, length, embed))
        return Inferred(shape, params, macs)

    def workspace(self, kind, a: MultiheadAttentionArgs, shape):
        length, embed = shape
        # the packed q, k, v (3 · L · E), each head's L × L weights, the heads' output before out_proj
        return 4 * product((length, embed)) + a.num_heads * product((length, length))

    def param_shapes(self, kind, a: MultiheadAttentionArgs, shape):
        embed = shape[-1]
        shapes = {"in_proj_weight": (3 * embed, embed), "in_proj_bias": (3 * embed,),
                  "out_proj.weight": (embed, embed), "out_proj.bias": (embed,)}
        return shapes if a.bias else {k: v for k, v in shapes.items() if "bias" not in k}

    def explain(self, kind, a: MultiheadAttentionArgs, shape, out):
        length, embed = shape
        head = embed // a.num_heads
        bias = f" + 4 × {embed}" if a.bias else ""
        return [
            f"multihead_attention on {layout_name(shape)} {format_shape(shape)}: {a.num_heads} heads of "
            f"{embed} / {a.num_heads} = {head} dims; every token attends to all {length}; shape unchanged",
            f"parameters: q, k, v and output projections 4 × {embed} × {embed}{bias} = {out.params:,}",
            f"MACs: projections 4 × {length} × {embed}² + scores Q·Kᵀ and weighted sum 2 × {length}² × {embed} "
            f"= {out.macs:,}",
        ]

    def torch_call(self, kind, a: MultiheadAttentionArgs, shape):
        kwargs = {"dropout": a.dropout} if a.dropout else {}
        if not a.bias:
            kwargs["bias"] = False
        return TorchCall("SelfAttention", (shape[-1], a.num_heads), {**kwargs, "batch_first": True}, runtime=True)

    def label(self, kind, a: MultiheadAttentionArgs):
        return f"attention × {a.num_heads} heads"
