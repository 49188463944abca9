"""Normalisations beyond batch norm: layer norm (tokens and ConvNeXt's channels-first form),
group norm and instance norm. Each infers its sizes from the input, as batch norm does."""
from __future__ import annotations

from archc.layers.base import (
    Args, Bool, Inferred, Kind, Number, PositiveInt, TorchCall, expect_rank, spatial_rank,
)
from archc.shapes import format_shape, layout_name, product, require_concrete, require_groups_divide, \
    require_more_than_one, trailing_shape


def _changed(a: Args) -> dict:
    """The arguments that differ from their defaults (what a torch call needs to spell out)."""
    return {k: v for k, v in a.model_dump().items() if v != type(a).model_fields[k].default}


def _affine_text(shape_text: str, count: int, affine: bool, bias: bool) -> str:
    if not affine:
        return "no parameters (affine off)"
    if not bias:
        return f"parameters: a scale per value of {shape_text} = {count:,}"
    return f"parameters 2 × {shape_text} = {2 * count:,} (a scale and a shift each)"


class LayerNormArgs(Args):
    dims: PositiveInt = 1  # how many trailing dims to normalise over; torch's normalized_shape is inferred
    eps: Number = 1e-5  # torch takes any eps (it is added under the square root, never checked)
    elementwise_affine: Bool = True
    bias: Bool = True


class LayerNorm(Kind):
    names = ("layer_norm",)
    family = "norm"
    Args = LayerNormArgs
    summary = ("layer normalisation over the last `dims` dims of each sample (torch.nn.LayerNorm; "
               "normalized_shape is inferred: the channels of (N, L, C) tokens with dims 1)")

    def infer(self, kind, a: LayerNormArgs, shape):
        normalised = trailing_shape(shape, a.dims, kind)
        count = product(normalised)
        params = count * (1 + a.bias) if a.elementwise_affine else 0
        return Inferred(shape, params)

    def param_shapes(self, kind, a: LayerNormArgs, shape):
        if not a.elementwise_affine:
            return {}
        normalised = trailing_shape(shape, a.dims, kind)
        return {"weight": normalised, "bias": normalised} if a.bias else {"weight": normalised}

    def explain(self, kind, a: LayerNormArgs, shape, out):
        normalised = trailing_shape(shape, a.dims, kind)
        text = format_shape(normalised)
        return [f"layer_norm on {layout_name(shape)} {format_shape(shape)}: each sample's last {a.dims} dim(s) "
                f"({text}) normalised to mean 0, variance 1; shape unchanged; "
                + _affine_text(text, product(normalised), a.elementwise_affine, a.bias)]

    def torch_call(self, kind, a: LayerNormArgs, shape):
        kwargs = _changed(a)
        kwargs.pop("dims", None)
        return TorchCall("LayerNorm", (tuple(shape[len(shape) - a.dims:]),), kwargs)

    def label(self, kind, a: LayerNormArgs):
        return "layer_norm" if a.dims == 1 else f"layer_norm last {a.dims}"


class LayerNorm2dArgs(Args):
    eps: Number = 1e-5  # nn.LayerNorm's default; torchvision's ConvNeXt passes 1e-6
    elementwise_affine: Bool = True
    bias: Bool = True


class LayerNorm2d(Kind):
    names = ("layer_norm2d",)
    family = "norm"
    Args = LayerNorm2dArgs
    summary = ("layer norm over the channels of each position of an N×C×H×W map (torchvision's LayerNorm2d, "
               "ConvNeXt's: permute to channels-last, F.layer_norm over C, permute back); C is inferred")

    def infer(self, kind, a: LayerNorm2dArgs, shape):
        expect_rank(kind, shape, (3,), "channels×height×width (N×C×H×W feature maps)",
                    hint="for (N, L, C) tokens use layer_norm, which normalises the last dim")
        channels = require_concrete(shape[0], "number of channels")
        return Inferred(shape, channels * (1 + a.bias) if a.elementwise_affine else 0)

    def workspace(self, kind, a, shape):
        return product(shape)  # F.layer_norm makes the permuted (channels-last) input contiguous

    def param_shapes(self, kind, a: LayerNorm2dArgs, shape):
        if not a.elementwise_affine:
            return {}
        return {"weight": (shape[0],), "bias": (shape[0],)} if a.bias else {"weight": (shape[0],)}

    def explain(self, kind, a, shape, out):
        return [f"layer_norm2d on {format_shape(shape)}: at each of the {format_shape(shape[1:])} positions the "
                f"{shape[0]} channels are normalised to mean 0, variance 1; shape unchanged; "
                + _affine_text(str(shape[0]), shape[0], a.elementwise_affine, a.bias)]

    def torch_call(self, kind, a: LayerNorm2dArgs, shape):
        return TorchCall("LayerNorm2d", (shape[0],), _changed(a), runtime=True)


class GroupNormArgs(Args):
    num_groups: PositiveInt
    eps: Number = 1e-5
    affine: Bool = True
    bias: Bool = True


class GroupNorm(Kind):
    names = ("group_norm",)
    family = "norm"
    Args = GroupNormArgs
    summary = "group normalisation (torch.nn.GroupNorm): channels in num_groups groups; num_channels is inferred"

    def infer(self, kind, a: GroupNormArgs, shape):
        expect_rank(kind, shape, (1, 2, 3, 4), "channels-first")
        channels = require_concrete(shape[0], "number of channels")
        require_groups_divide(channels, a.num_groups, "channels")
        return Inferred(shape, channels * (1 + a.bias) if a.affine else 0)

    def param_shapes(self, kind, a: GroupNormArgs, shape):
        if not a.affine:
            return {}
        return {"weight": (shape[0],), "bias": (shape[0],)} if a.bias else {"weight": (shape[0],)}

    def explain(self, kind, a: GroupNormArgs, shape, out):
        per = shape[0] // a.num_groups
        return [f"group_norm: {shape[0]} channels in {a.num_groups} groups of {per}, each group of each sample "
                f"normalised over its {per} × {format_shape(shape[1:]) or '1'} values; shape unchanged; "
                + _affine_text(str(shape[0]), shape[0], a.affine, a.bias)]

    def torch_call(self, kind, a: GroupNormArgs, shape):
        kwargs = _changed(a)
        kwargs.pop("num_groups")
        return TorchCall("GroupNorm", (a.num_groups, shape[0]), kwargs)

    def label(self, kind, a: GroupNormArgs):
        return f"group_norm {a.num_groups}"


class InstanceNormArgs(Args):
    eps: Number = 1e-5
    momentum: Number | None = 0.1
    affine: Bool = False  # torch's defaults, unlike batch norm's
    track_running_stats: Bool = False
    bias: Bool = True


class InstanceNorm(Kind):
    names = ("instance_norm1d", "instance_norm2d", "instance_norm3d")
    family = "norm"
    Args = InstanceNormArgs
    summary = "instance normalisation (torch.nn.InstanceNormNd): each channel of each sample; num_features is inferred"

    def infer(self, kind, a: InstanceNormArgs, shape):
        rank = spatial_rank(kind)
        # with a batch, only rank + 1 sample dims are read as C×spatial (torch takes one dim
        # fewer as an unbatched input, which archc's shapes never are)
        expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial")
        channels = require_concrete(shape[0], "number of channels")
        require_more_than_one(shape[1:], "map of each channel")
        return Inferred(shape, channels * (1 + a.bias) if a.affine else 0)

    def param_shapes(self, kind, a: InstanceNormArgs, shape):
        if not a.affine:
            return {}
        return {"weight": (shape[0],), "bias": (shape[0],)} if a.bias else {"weight": (shape[0],)}

    def explain(self, kind, a: InstanceNormArgs, shape, out):
        return [f"{kind}: each of the {shape[0]} channels of each sample normalised over its "
                f"{format_shape(shape[1:])} values; shape unchanged; "
                + _affine_text(str(shape[0]), shape[0], a.affine, a.bias)]

    def torch_call(self, kind, a: InstanceNormArgs, shape):
        return TorchCall("InstanceNorm" + kind[-2:], (shape[0],), _changed(a))
