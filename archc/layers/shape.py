"""Layers that move values without learning: flatten, dropout, identity."""
from __future__ import annotations

from archc.layers.base import (
    Args, Bool, Inferred, Int, Kind, NonNegativeInt, PositiveInt, Probability, TorchCall, expect_rank, spatial_rank,
)
from archc.shapes import ShapeError, flatten_shape, format_shape, product, require_groups_divide


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


class SliceChannelsArgs(Args):
    start: NonNegativeInt = 0
    stop: PositiveInt


class SliceChannels(Kind):
    names = ("slice_channels",)
    family = "shape"
    Args = SliceChannelsArgs
    summary = "channels start … stop − 1 (ShuffleNet's channel split; torch: x[:, start:stop])"

    def infer(self, kind, a: SliceChannelsArgs, shape):
        expect_rank(kind, shape, (1, 2, 3, 4), "channels-first")
        if not a.start < a.stop <= shape[0]:
            raise ShapeError("bad-slice", "the channel slice must be non-empty and inside the input",
                             expected=f"0 ≤ start < stop ≤ {shape[0]}", found=f"start {a.start}, stop {a.stop}")
        return Inferred((a.stop - a.start, *shape[1:]))

    def explain(self, kind, a, shape, out):
        return [f"slice_channels {a.start}:{a.stop} of {shape[0]}: {a.stop} − {a.start} = {out.shape[0]} channels"]

    def torch_call(self, kind, a: SliceChannelsArgs, shape):
        return TorchCall("SliceChannels", (a.start, a.stop), runtime=True)

    def label(self, kind, a):
        return f"channels {a.start}:{a.stop}"


class ChannelShuffleArgs(Args):
    groups: PositiveInt


class ChannelShuffle(Kind):
    names = ("channel_shuffle",)
    family = "shape"
    Args = ChannelShuffleArgs
    summary = "interleave the channels of `groups` groups (torch.nn.ChannelShuffle; ShuffleNet)"

    def infer(self, kind, a: ChannelShuffleArgs, shape):
        expect_rank(kind, shape, (2, 3, 4), "channels×spatial")
        require_groups_divide(shape[0], a.groups, "channels")
        return Inferred(shape)

    def explain(self, kind, a, shape, out):
        return [f"channel_shuffle: {a.groups} groups of {shape[0] // a.groups} channels interleaved; shape unchanged"]

    def torch_call(self, kind, a: ChannelShuffleArgs, shape):
        return TorchCall("ChannelShuffle", (a.groups,))

    def label(self, kind, a):
        return f"channel_shuffle {a.groups}"
