"""Layers that move values without learning: flatten, dropout, identity."""
from __future__ import annotations

from archc.layers.base import (
    Args,
    Bool,
    Inferred,
    Int,
    Kind,
    Probability,
    TorchCall,
    expect_rank,
    spatial_rank,
)
from archc.shapes import flatten_shape, format_shape, product


class FlattenArgs(Args):
    start_dim: Int = 1  # torch's dims, which count the batch as dim 0
    end_dim: Int = -1


class Flatten(Kind):
    names = ("flatten",)
    family = "shape"
    Args = FlattenArgs
    summary = "flatten dims start_dim..end_dim into one (torch.nn.Flatten; dim 0 is the batch)"

    def infer(self, kind, a: FlattenArgs, shape):
        return Inferred(flatten_shape(shape, a.start_dim, a.end_dim))

    def explain(self, kind, a, shape, out):
        start = a.start_dim - 1 if a.start_dim > 0 else a.start_dim + len(shape)
        end = (a.end_dim - 1 if a.end_dim > 0 else a.end_dim + len(shape)) + 1
        merged = " × ".join(map(str, shape[start:end]))
        return [f"flatten {format_shape(shape)}: {merged} = {product(shape[start:end]):,}"
                + (f" → {format_shape(out.shape)}" if len(out.shape) > 1 else "")]

    def torch_call(self, kind, a: FlattenArgs, shape):
        kwargs = {k: v for k, v in a.model_dump().items() if v != FlattenArgs.model_fields[k].default}
        return TorchCall("Flatten", (), kwargs)


class DropoutArgs(Args):
    p: Probability = 0.5
    inplace: Bool = False


class Dropout(Kind):
    names = ("dropout", "dropout1d", "dropout2d", "dropout3d")
    family = "shape"
    Args = DropoutArgs
    summary = "dropout (elementwise, or whole channels for the Nd kinds); identity in eval mode"

    def infer(self, kind, a, shape):
        if kind != "dropout":
            rank = spatial_rank(kind)
            expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial")
        return Inferred(shape)

    def torch_call(self, kind, a: DropoutArgs, shape):
        cls = "Dropout" + ("" if kind == "dropout" else kind[-2:])
        kwargs = {k: v for k, v in a.model_dump().items() if v != DropoutArgs.model_fields[k].default}
        return TorchCall(cls, (), kwargs)

    def label(self, kind, a):
        return f"{kind} {a.p:g}"


class Identity(Kind):
    names = ("identity",)
    family = "shape"
    summary = "passes its input through (useful with from: to merge earlier outputs)"

    def infer(self, kind, a, shape):
        return Inferred(shape)

    def torch_call(self, kind, a, shape):
        return TorchCall("Identity")
