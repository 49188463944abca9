"""Transposed convolutions: conv_transpose1d, conv_transpose2d, conv_transpose3d."""
from __future__ import annotations

from typing import Literal

from archc.layers.base import (
    Args, Bool, Inferred, Kind, PadSizes, PositiveInt, Sizes, TorchCall, changed_arguments, compact, expect_rank,
    per_dim, plain, spatial_rank,
)
from archc.shapes import conv_transpose_output_size, format_shape, product, require_groups_divide


class ConvTransposeArgs(Args):
    out_channels: PositiveInt
    kernel_size: Sizes
    stride: Sizes = 1
    padding: PadSizes = 0
    output_padding: PadSizes = 0
    groups: PositiveInt = 1
    bias: Bool = True
    dilation: Sizes = 1
    padding_mode: Literal["zeros"] = "zeros"  # torch refuses every other mode for transposed convolutions


class ConvTranspose(Kind):
    names = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    family = "conv"
    Args = ConvTransposeArgs
    summary = "N-d transposed convolution (torch.nn.ConvTransposeNd), the upsampling convolution; in_channels is inferred"

    def _geometry(self, kind: str, a: ConvTransposeArgs):
        rank = spatial_rank(kind)
        return tuple(per_dim(getattr(a, name), rank, name)
                     for name in ("kernel_size", "stride", "padding", "dilation", "output_padding"))

    def infer(self, kind, a: ConvTransposeArgs, shape):
        rank = spatial_rank(kind)
        expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial")
        kernel, stride, padding, dilation, output_padding = self._geometry(kind, a)
        channels = shape[0]
        for what, count in (("input channels", channels), ("out_channels", a.out_channels)):
            require_groups_divide(count, a.groups, what)
        out = tuple(conv_transpose_output_size(n, k, s, p, d, op)
                    for n, k, s, p, d, op in zip(shape[1:], kernel, stride, padding, dilation, output_padding))
        # every input value is scattered through the kernel into out_channels / groups outputs
        per_input = a.out_channels // a.groups * product(kernel)
        params = channels * per_input + (a.out_channels if a.bias else 0)
        # torch's FlopCounter counts a transposed convolution by its input: each input value
        # meets (out_channels / groups) × kernel weights, whatever the stride and padding
        return Inferred((a.out_channels, *out), params, product(shape) * per_input)

    def param_shapes(self, kind, a: ConvTransposeArgs, shape):
        kernel = per_dim(a.kernel_size, spatial_rank(kind), "kernel_size")
        shapes = {"weight": (shape[0], a.out_channels // a.groups, *kernel)}  # in, out / groups: the transpose of conv's
        return {**shapes, "bias": (a.out_channels,)} if a.bias else shapes

    def explain(self, kind, a: ConvTransposeArgs, shape, out):
        kernel, stride, padding, dilation, output_padding = self._geometry(kind, a)
        names = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[len(kernel)]
        parts = []
        for n, k, s, p, d, op, o in zip(shape[1:], kernel, stride, padding, dilation, output_padding, out.shape[1:]):
            parts.append(f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {o}")
        setting = (f"{kind} {'×'.join(map(str, kernel))}, stride {compact(stride)}, padding {compact(padding)}"
                   + (f", dilation {compact(dilation)}" if any(d != 1 for d in dilation) else "")
                   + (f", output_padding {compact(output_padding)}" if any(output_padding) else ""))
        rule = "(n − 1)·s − 2p + d·(k − 1) + output_padding + 1"
        if len(set(parts)) == 1:
            lines = [f"{setting} on {shape[1]}: {rule} = {parts[0]}"]
        else:
            lines = [f"{setting}: {rule}"] + [f"  {name} {n}: {part}" for name, n, part in zip(names, shape[1:], parts)]
        area = " × ".join(map(str, kernel))
        per_group = a.out_channels // a.groups
        outputs = f"{a.out_channels}" if a.groups == 1 else f"({a.out_channels} / {a.groups} groups)"
        bias = f" + {a.out_channels}" if a.bias else ""
        lines.append(f"channels {shape[0]} → {a.out_channels}; parameters {shape[0]} × {outputs} × {area}{bias} = {out.params:,}")
        lines.append(f"MACs {format_shape(shape)} inputs × {per_group} × {area} = {out.macs:,}")
        return lines

    def torch_call(self, kind, a: ConvTransposeArgs, shape):
        kwargs = {"kernel_size": plain(a.kernel_size), **changed_arguments(a, (
            ("stride", 1), ("padding", 0), ("output_padding", 0), ("groups", 1), ("bias", True), ("dilation", 1)))}
        return TorchCall("ConvTranspose" + kind[-2:], (shape[0], a.out_channels), kwargs)

    def label(self, kind, a: ConvTransposeArgs):
        rank = spatial_rank(kind)
        text = f"{kind} {'×'.join(map(str, per_dim(a.kernel_size, rank, 'kernel_size')))}"
        if a.stride != 1:
            text += f"/{compact(per_dim(a.stride, rank, 'stride'))}"
        if a.padding != 0:
            text += f", p{compact(per_dim(a.padding, rank, 'padding'))}"
        if a.output_padding != 0:
            text += f", op{compact(per_dim(a.output_padding, rank, 'output_padding'))}"
        if a.dilation != 1:
            text += f", d{compact(per_dim(a.dilation, rank, 'dilation'))}"
        if a.groups != 1:
            text += f", g{a.groups}"
        return f"{text} → {a.out_channels}"
