"""Pooling: max, average and adaptive pooling in 1-3 spatial dims."""
from __future__ import annotations

from archc.layers.base import (
    WINDOW_READ_COST, Args, Bool, Inferred, Kind, PadSizes, PositiveInt, Sizes, TorchCall, compact, expect_rank,
    explain_windows, per_dim, plain, spatial_rank,
)
from archc.shapes import ShapeError, format_shape, pool_output_size, product
from archc.symbolic import require_at_least


class MaxPoolArgs(Args):
    kernel_size: Sizes
    stride: Sizes | None = None  # torch: defaults to kernel_size
    padding: PadSizes = 0
    dilation: Sizes = 1
    ceil_mode: Bool = False


class AvgPool1dArgs(Args):
    kernel_size: Sizes
    stride: Sizes | None = None
    padding: PadSizes = 0
    ceil_mode: Bool = False
    count_include_pad: Bool = True


class AvgPoolArgs(AvgPool1dArgs):
    divisor_override: PositiveInt | None = None  # torch's AvgPool1d has none


class _Pool(Kind):
    family = "pool"

    def infer(self, kind, a, shape):
        rank = spatial_rank(kind)
        expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial")
        kernel = per_dim(a.kernel_size, rank, "kernel_size")
        stride = per_dim(a.stride if a.stride is not None else a.kernel_size, rank, "stride")
        pad = per_dim(a.padding, rank, "padding")
        dilation = per_dim(getattr(a, "dilation", 1), rank, "dilation")
        out = tuple(
            pool_output_size(n, k, s, p, d, a.ceil_mode)
            for n, k, s, p, d in zip(shape[1:], kernel, stride, pad, dilation)
        )
        if kind == "avg_pool3d":
            # ATen's avg_pool3d alone also wants the *unpadded* input to hold the kernel
            for n, k in zip(shape[1:], kernel):
                if not require_at_least(n, k, "avg_pool3d's input holds its kernel"):
                    raise ShapeError("kernel-too-large", "avg_pool3d's kernel is larger than its unpadded input",
                                     expected=f"every input size ≥ its kernel size ({format_shape(kernel)}); "
                                              "torch's avg_pool3d does not count the padding here",
                                     found=f"input {format_shape(shape[1:])}",
                                     hint="reduce the kernel, or pool an earlier, larger activation")
        return Inferred((shape[0], *out))

    def work(self, kind, a, shape, out):
        # every output reads its window: a 600×600 window slid over a 1200×1200 map is 10¹¹ reads
        return WINDOW_READ_COST * product(out) * product(per_dim(a.kernel_size, spatial_rank(kind), "kernel_size"))

    def explain(self, kind, a, shape, out):
        rank = spatial_rank(kind)
        kernel = per_dim(a.kernel_size, rank, "kernel_size")
        stride = per_dim(a.stride if a.stride is not None else a.kernel_size, rank, "stride")
        pads = tuple((p, p) for p in per_dim(a.padding, rank, "padding"))
        dilation = per_dim(getattr(a, "dilation", 1), rank, "dilation")
        lines = explain_windows(kind, shape[1:], kernel, stride, pads, dilation, a.ceil_mode, pooling=True)
        return lines + [f"channels stay {shape[0]}; no parameters"]

    def torch_call(self, kind, a, shape):
        cls = ("MaxPool" if kind.startswith("max") else "AvgPool") + kind[-2:]
        kwargs = {"kernel_size": plain(a.kernel_size)}
        defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                    "count_include_pad": True, "divisor_override": None}
        for name, default in defaults.items():
            if hasattr(a, name) and getattr(a, name) != default:
                kwargs[name] = plain(getattr(a, name))
        return TorchCall(cls, (), kwargs)

    def label(self, kind, a):
        rank = spatial_rank(kind)
        text = f"{kind} {'×'.join(map(str, per_dim(a.kernel_size, rank, 'kernel_size')))}"
        stride = a.stride if a.stride is not None else a.kernel_size
        text += f"/{compact(per_dim(stride, rank, 'stride'))}"
        if a.padding != 0:
            text += f", p{compact(per_dim(a.padding, rank, 'padding'))}"
        if a.ceil_mode:
            text += ", ceil"
        return text


class MaxPool(_Pool):
    names = ("max_pool1d", "max_pool2d", "max_pool3d")
    Args = MaxPoolArgs
    summary = "max pooling (torch.nn.MaxPoolNd); stride defaults to kernel_size"


class AvgPool(_Pool):
    names = ("avg_pool2d", "avg_pool3d")
    Args = AvgPoolArgs
    summary = "average pooling (torch.nn.AvgPoolNd); stride defaults to kernel_size"


class AvgPool1d(_Pool):
    names = ("avg_pool1d",)
    Args = AvgPool1dArgs
    summary = "average pooling over one dim (torch.nn.AvgPool1d: no divisor_override)"


class AdaptiveArgs(Args):
    output_size: PositiveInt | list[PositiveInt | None]


class Adaptive1dArgs(Args):
    output_size: PositiveInt | list[PositiveInt]  # torch's 1-d adaptive pools take no None


class AdaptivePool(Kind):
    names = tuple(f"adaptive_{op}_pool{r}d" for op in ("avg", "max") for r in (2, 3))
    family = "pool"
    Args = AdaptiveArgs
    summary = "adaptive pooling to a fixed output size (None keeps that input size)"

    def infer(self, kind, a: AdaptiveArgs, shape):
        rank = spatial_rank(kind)
        expect_rank(kind, shape, (rank + 1,), f"channels×{rank}-d spatial")
        sizes = [a.output_size] * rank if isinstance(a.output_size, int) else a.output_size
        if len(sizes) != rank:
            raise ShapeError("wrong-length", "'output_size' needs one value per spatial dimension",
                             expected=f"an int or a list of {rank}", found=str(a.output_size))
        out = tuple(n if s is None else s for n, s in zip(shape[1:], sizes))
        return Inferred((shape[0], *out))

    def work(self, kind, a, shape, out):
        # ATen's window for output i spans ⌊i·n/m⌋ … ⌈(i+1)·n/m⌉: at most ⌈n/m⌉ + 1 inputs per dim
        return WINDOW_READ_COST * product(out) * product(-(-n // m) + 1 for n, m in zip(shape[1:], out[1:]))

    def explain(self, kind, a, shape, out):
        return [f"{kind}: the output size is fixed at {format_shape(out.shape[1:])} whatever the input "
                f"({format_shape(shape[1:])}); channels stay {shape[0]}"]

    def torch_call(self, kind, a, shape):
        cls = "Adaptive" + ("AvgPool" if "avg" in kind else "MaxPool") + kind[-2:]
        return TorchCall(cls, (plain(a.output_size),))

    def label(self, kind, a):
        size = a.output_size
        return f"{kind} → {size if isinstance(size, int) else '×'.join(str(s) for s in size)}"


class AdaptivePool1d(AdaptivePool):
    names = ("adaptive_avg_pool1d", "adaptive_max_pool1d")
    Args = Adaptive1dArgs
    summary = "adaptive pooling over one dim to a fixed output size"
