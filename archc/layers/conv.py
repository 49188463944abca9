"""Convolutions: conv1d, conv2d, conv3d."""
from __future__ import annotations

from typing import Literal

from archc.layers.base import (
    Args, Bool, Inferred, Kind, PadSizes, PositiveInt, Sizes, TorchCall, changed_arguments, compact, expect_rank,
    explain_windows, per_dim, plain, spatial_rank,
)
from archc.shapes import ShapeError, conv_output_size, format_shape, product, require_groups_divide, same_padding
from archc.symbolic import require_at_least


class ConvArgs(Args):
    out_channels: PositiveInt
    kernel_size: Sizes
    stride: Sizes = 1
    padding: PadSizes | Literal["same", "valid"] = 0
    dilation: Sizes = 1
    groups: PositiveInt = 1
    bias: Bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"


class Conv(Kind):
    names = ("conv1d", "conv2d", "conv3d")
    family = "conv"
    Args = ConvArgs
    summary = "N-d cross-correlation (torch.nn.ConvNd); in_channels is inferred"

    def _geometry(self, kind: str, a: ConvArgs):
        rank = spatial_rank(kind)
        kernel = per_dim(a.kernel_size, rank, "kernel_size")
        stride = per_dim(a.stride, rank, "stride")
        dilation = per_dim(a.dilation, rank, "dilation")
        if a.padding == "same":
            if any(s != 1 for s in stride):
                raise ShapeError("same-padding-stride", "padding='same' needs stride 1 (torch refuses strided 'same')",
                                 expected="stride 1", found=f"stride {compact(stride)}",
                                 hint="compute the padding yourself, e.g. (kernel_size − 1) // 2")
            pads = tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
        elif a.padding == "valid":
            pads = ((0, 0),) * rank
        else:
            pads = tuple((p, p) for p in per_dim(a.padding, rank, "padding"))
        return rank, kernel, stride, dilation, pads

    def infer(self, kind, a: ConvArgs, shape):
        rank, kernel, stride, dilation, pads = self._geometry(kind, a)
        expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial",
                    hint="a linear layer's output has no spatial dims; convolutions come before flatten")
        channels, spatial = shape[0], shape[1:]
        for what, count in (("input channels", channels), ("out_channels", a.out_channels)):
            require_groups_divide(count, a.groups, what)
        if a.padding_mode != "zeros":
            for size, (lo, hi) in zip(spatial, pads):
                need = max(lo, hi) + (0 if a.padding_mode == "circular" else 1)
                if a.padding_mode != "replicate" and not require_at_least(size, need, f"{a.padding_mode} padding fits"):
                    raise ShapeError("padding-too-large", f"{a.padding_mode} padding must be smaller than the input",
                                     expected=f"input size ≥ {need}", found=f"padding {max(lo, hi)} on size {size}")
        out = tuple(
            conv_output_size(n, k, s, lo + hi, d)
            for n, k, s, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation)
        )
        per_output = channels // a.groups * product(kernel)
        params = a.out_channels * per_output + (a.out_channels if a.bias else 0)
        out_shape = (a.out_channels, *out)
        return Inferred(out_shape, params, product(out_shape) * per_output)

    def workspace(self, kind, a: ConvArgs, shape):
        if a.padding_mode == "zeros":
            return 0
        # other modes pad a copy of the input (F.pad) before a convolution without padding
        _, _, _, _, pads = self._geometry(kind, a)
        return shape[0] * product(n + lo + hi for n, (lo, hi) in zip(shape[1:], pads))

    def param_shapes(self, kind, a: ConvArgs, shape):
        kernel = per_dim(a.kernel_size, spatial_rank(kind), "kernel_size")
        shapes = {"weight": (a.out_channels, shape[0] // a.groups, *kernel)}
        return {**shapes, "bias": (a.out_channels,)} if a.bias else shapes

    def explain(self, kind, a: ConvArgs, shape, out):
        rank, kernel, stride, dilation, pads = self._geometry(kind, a)
        lines = explain_windows(kind, shape[1:], kernel, stride, pads, dilation, same=a.padding == "same")
        per_group = shape[0] // a.groups
        channels = f"{shape[0]}" if a.groups == 1 else f"({shape[0]} / {a.groups} groups)"
        area = " × ".join(map(str, kernel))
        bias = f" + {a.out_channels}" if a.bias else ""
        lines.append(f"channels {shape[0]} → {a.out_channels}; parameters {a.out_channels} × {channels} × {area}{bias} = {out.params:,}")
        lines.append(f"MACs {format_shape(out.shape)} outputs × {per_group} × {area} = {out.macs:,}")
        return lines

    def torch_call(self, kind, a: ConvArgs, shape):
        kwargs = {"kernel_size": plain(a.kernel_size), **changed_arguments(a, (
            ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1), ("bias", True), ("padding_mode", "zeros")))}
        return TorchCall("Conv" + kind[-2:], (shape[0], a.out_channels), kwargs)

    def label(self, kind, a: ConvArgs):
        rank = spatial_rank(kind)
        text = f"{kind} {'×'.join(map(str, per_dim(a.kernel_size, rank, 'kernel_size')))}"
        if a.stride != 1:
            text += f"/{compact(per_dim(a.stride, rank, 'stride'))}"
        if a.padding not in (0, "valid"):
            text += f", p{a.padding if isinstance(a.padding, str) else compact(per_dim(a.padding, rank, 'padding'))}"
        if a.dilation != 1:
            text += f", d{compact(per_dim(a.dilation, rank, 'dilation'))}"
        if a.groups != 1:
            text += f", g{a.groups}"
        return f"{text} → {a.out_channels}"
