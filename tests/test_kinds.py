"""Every layer kind against real torch modules: shape, parameters and MACs, row by row.

The torch module of each row is constructed here from the row's own (PyTorch-named)
arguments, independently of archc's builder, so torch is the answer key.
"""
from __future__ import annotations

import pytest
import torch
from conftest import check_layers, torch_macs, torch_params
from torch import nn

import archc
import archc.layers

# the argument that archc infers, by kind family
_INFERRED = {"Conv": "in_channels", "BatchNorm": "num_features", "Linear": "in_features", "GroupNorm": "num_channels",
             "InstanceNorm": "num_features"}
_BATCH = 2  # every test here runs a batch of two


class _TorchSlice(nn.Module):
    """The answer key for slice_channels: torch's own slicing, x[:, start:stop]."""

    def __init__(self, start: int = 0, stop: int = 0):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x):
        return x[:, self.start:self.stop]


class _TorchFrozenBatchNorm(nn.Module):
    """The answer key for frozen_batch_norm2d (torchvision is not installed): torchvision's four
    buffers in its order, and batch norm's textbook formula (x − mean) / √(var + eps) · w + b."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        for name, fill in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            self.register_buffer(name, torch.full((num_features,), fill))

    def forward(self, x):
        per_channel = lambda t: t[None, :, None, None]  # noqa: E731
        return ((x - per_channel(self.running_mean)) / torch.sqrt(per_channel(self.running_var) + self.eps)
                * per_channel(self.weight) + per_channel(self.bias))


class _TorchLayerNorm2d(nn.Module):
    """The answer key for layer_norm2d: the textbook formula over the channel dim of N×C×H×W,
    (x − mean) / √(var + eps) · w + b, with torchvision's parameter names."""

    def __init__(self, channels: int, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels)) if elementwise_affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if elementwise_affine and bias else None

    def forward(self, x):
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, unbiased=False, keepdim=True)
        y = (x - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight[None, :, None, None]
        return y + self.bias[None, :, None, None] if self.bias is not None else y


class _TorchPermute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class _TorchReshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return torch.reshape(x, (len(x), *self.shape))


class _TorchReduce(nn.Module):
    """torch's own tensor methods: x.mean(dim), x.amax(dim), x.sum(dim)."""

    def __init__(self, how: str, dim, keepdim: bool = False):
        super().__init__()
        self.how, self.dim, self.keepdim = how, dim, keepdim

    def forward(self, x):
        return getattr(x, self.how)(dim=self.dim, keepdim=self.keepdim)


class _TorchStochasticDepth(nn.Module):
    """The answer key for stochastic_depth: torchvision.ops.stochastic_depth as torchvision writes it
    (torchvision is not installed here)."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        if self.p < 0.0 or self.p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {self.p}")
        if self.mode not in ["batch", "row"]:
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {self.mode}")
        if not self.training or self.p == 0.0:
            return input
        survival_rate = 1.0 - self.p
        if self.mode == "row":
            size = [input.shape[0]] + [1] * (input.ndim - 1)
        else:
            size = [1] * input.ndim
        noise = torch.empty(size, dtype=input.dtype, device=input.device)
        noise = noise.bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return input * noise


class _TorchSelect(nn.Module):
    def __init__(self, dim, index):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x):
        return x.select(self.dim, self.index)


class _TorchSelfAttention(nn.Module):
    """The answer key for multihead_attention, from the textbook: per head softmax(Q·Kᵀ/√d)·V,
    with nn.MultiheadAttention's parameter names (one packed in_proj for q, k and v)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.randn(3 * embed_dim, embed_dim) / embed_dim ** 0.5)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, x):
        n, length, embed = x.shape
        q, k, v = nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        heads = lambda t: t.reshape(n, length, self.heads, -1).transpose(1, 2)  # noqa: E731 - N×h×L×d
        q, k, v = heads(q), heads(k), heads(v)
        weights = torch.softmax(q @ k.transpose(-2, -1) / (embed // self.heads) ** 0.5, dim=-1)
        return self.out_proj((weights @ v).transpose(1, 2).reshape(n, length, embed))


class _TorchWindowAttention(nn.Module):
    """The answer key for shifted_window_attention, from Swin's definition rather than
    torchvision's code: pad to whole windows, shift the map by −shift (no shift along a dim one
    window covers), and within each window per head softmax(Q·Kᵀ/√d + B + M)·V, where B is the
    table's row for the pair's offset (Δy + Wh − 1)·(2Ww − 1) + Δx + Ww − 1, and M is −100 for
    a pair that the shift brought together across the map's edge (their offset in the map
    differs from their offset in the window); then proj, shift back, unpad. Window by window
    and head by head, with torchvision's names (the index buffer holds the same formula's rows)."""

    def __init__(self, dim: int, num_heads: int, window_size=7, shift_size=0, qkv_bias: bool = True,
                 proj_bias: bool = True):
        super().__init__()
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        self.window, self.shift, self.heads = pair(window_size), pair(shift_size), num_heads
        wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(torch.randn((2 * wh - 1) * (2 * ww - 1), num_heads))
        cells = [(y, z) for y in range(wh) for z in range(ww)]
        index = [(yi - yj + wh - 1) * (2 * ww - 1) + xi - xj + ww - 1 for yi, xi in cells for yj, xj in cells]
        self.register_buffer("relative_position_index", torch.tensor(index))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)

    def forward(self, x):
        n, h, w, c = x.shape
        (wh, ww), d = self.window, c // self.heads
        ph, pw = -(-h // wh) * wh, -(-w // ww) * ww
        sh = 0 if wh >= ph else self.shift[0]
        sw = 0 if ww >= pw else self.shift[1]
        x = torch.cat([x, x.new_zeros(n, ph - h, w, c)], 1)
        x = torch.cat([x, x.new_zeros(n, ph, pw - w, c)], 2)
        q, k, v = self.qkv(torch.roll(x, (-sh, -sw), (1, 2))).split(c, dim=-1)
        out = torch.zeros_like(x)
        cells = [(y, z) for y in range(wh) for z in range(ww)]
        for top in range(0, ph, wh):
            for left in range(0, pw, ww):
                bias = torch.zeros(self.heads, wh * ww, wh * ww)
                for i, (yi, xi) in enumerate(cells):
                    for j, (yj, xj) in enumerate(cells):
                        bias[:, i, j] = self.relative_position_bias_table[(yi - yj + wh - 1) * (2 * ww - 1) + xi - xj + ww - 1]
                        # where the two tokens were before the shift: a pair whose offset changed wrapped around
                        row_i, row_j = (top + yi + sh) % ph, (top + yj + sh) % ph
                        col_i, col_j = (left + xi + sw) % pw, (left + xj + sw) % pw
                        if row_i - row_j != yi - yj or col_i - col_j != xi - xj:
                            bias[:, i, j] += -100.0
                window = lambda t: t[:, top:top + wh, left:left + ww].reshape(n, wh * ww, c)  # noqa: E731
                qw, kw, vw = window(q), window(k), window(v)
                heads = []
                for head in range(self.heads):
                    part = slice(head * d, (head + 1) * d)
                    for sample in range(n):
                        scores = (qw[sample, :, part] * d ** -0.5) @ kw[sample, :, part].T + bias[head]
                        heads.append(torch.softmax(scores, dim=-1) @ vw[sample, :, part])
                merged = torch.stack(heads).reshape(self.heads, n, wh * ww, d).permute(1, 2, 0, 3).reshape(n, wh * ww, c)
                out[:, top:top + wh, left:left + ww] = merged.reshape(n, wh, ww, c)
        return torch.roll(self.proj(out), (sh, sw), (1, 2))[:, :h, :w]


class _TorchGridCoords(nn.Module):
    """The answer key for grid_coords: Ultralytics' make_anchors for one level (a list of
    (x + offset, y + offset) per cell, row by row), transposed to 2 × cells and batched."""

    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.offset = offset

    def forward(self, x):
        h, w = x.shape[-2:]
        points = [[col + self.offset, row + self.offset] for row in range(h) for col in range(w)]
        return torch.tensor(points, dtype=x.dtype).T.unsqueeze(0).repeat(x.shape[0], 1, 1)


class _TorchScale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return torch.mul(x, self.factor)


class _TorchFullLike(nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full(x.shape, self.value, dtype=x.dtype)


# answer keys written here, for kinds that torch.nn has no module for
_HAND_WRITTEN = {"slice": _TorchSlice, "frozen": _TorchFrozenBatchNorm, "layer_norm2d": _TorchLayerNorm2d,
                 "permute": _TorchPermute, "reshape": _TorchReshape, "mean": _TorchReduce, "amax": _TorchReduce, "sum": _TorchReduce,
                 "stochastic_depth": _TorchStochasticDepth, "grid_coords": _TorchGridCoords, "scale": _TorchScale,
                 "full_like": _TorchFullLike, "select": _TorchSelect, "self_attention": _TorchSelfAttention,
                 "window_attention": _TorchWindowAttention}
# torch's fused attention sums the scores and the weighted values in another order than the
# textbook answer key: float32 rounding of a softmax over products, not a different function
_TOLERANCE = {"self_attention": 2e-5, "window_attention": 2e-5}


def _torch_module(torch_cls: str, args: dict, in_shape) -> nn.Module:
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    if torch_cls in ("frozen", "layer_norm2d", "self_attention", "window_attention"):  # the channels inferred
        if torch_cls in ("self_attention", "window_attention"):
            return _HAND_WRITTEN[torch_cls](in_shape[-1], **kwargs)
        return _HAND_WRITTEN[torch_cls](in_shape[0], **kwargs)
    if torch_cls in ("mean", "amax", "sum"):
        return _TorchReduce(torch_cls, **kwargs)
    if torch_cls in _HAND_WRITTEN:
        return _HAND_WRITTEN[torch_cls](**kwargs)
    if torch_cls == "LayerNorm":  # normalized_shape: the last `dims` sizes (the batch's, beyond the sample)
        return nn.LayerNorm((_BATCH, *in_shape)[-kwargs.pop("dims", 1):], **kwargs)
    if torch_cls == "Unflatten":  # torch.unflatten's name for the sizes, nn.Unflatten's positionally
        return nn.Unflatten(kwargs["dim"], kwargs["sizes"])
    if torch_cls == "Linear":  # torch's Linear reads the last dim (tokens, channels-last maps)
        kwargs.pop("channels_last", None)
        return nn.Linear(in_shape[-1], **kwargs)
    for prefix, name in _INFERRED.items():
        if torch_cls.startswith(prefix):  # the channels, or the features of each token
            kwargs[name] = in_shape[-1] if prefix == "Linear" else in_shape[0]
    return getattr(nn, torch_cls)(**kwargs)


# (id, input shape (no batch), kind, args, torch class)
ROWS = [
    ("conv2d-basic", (3, 16, 16), "conv2d", {"out_channels": 8, "kernel_size": 3}, "Conv2d"),
    ("conv2d-stride-pad", (3, 17, 17), "conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}, "Conv2d"),
    ("conv2d-lenet-pad2", (1, 28, 28), "conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 2}, "Conv2d"),
    ("conv2d-alexnet-first", (1, 224, 224), "conv2d", {"out_channels": 96, "kernel_size": 11, "stride": 4, "padding": 1}, "Conv2d"),
    ("conv2d-rect-kernel", (2, 10, 12), "conv2d", {"out_channels": 4, "kernel_size": [1, 3], "padding": [0, 1]}, "Conv2d"),
    ("conv2d-per-dim-stride", (2, 11, 13), "conv2d", {"out_channels": 4, "kernel_size": 3, "stride": [3, 2]}, "Conv2d"),
    ("conv2d-dilation", (3, 20, 20), "conv2d", {"out_channels": 4, "kernel_size": 3, "dilation": 2}, "Conv2d"),
    ("conv2d-dilation-stride-pad", (3, 21, 19), "conv2d", {"out_channels": 4, "kernel_size": 3, "dilation": [2, 3], "stride": 2, "padding": 2}, "Conv2d"),
    ("conv2d-groups", (8, 9, 9), "conv2d", {"out_channels": 12, "kernel_size": 3, "groups": 4}, "Conv2d"),
    ("conv2d-depthwise", (16, 9, 9), "conv2d", {"out_channels": 16, "kernel_size": 3, "groups": 16, "padding": 1}, "Conv2d"),
    ("conv2d-no-bias", (3, 8, 8), "conv2d", {"out_channels": 5, "kernel_size": 1, "bias": False}, "Conv2d"),
    ("conv2d-same-odd", (3, 9, 9), "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "same"}, "Conv2d"),
    ("conv2d-same-even-kernel", (3, 9, 10), "conv2d", {"out_channels": 4, "kernel_size": 4, "padding": "same"}, "Conv2d"),
    ("conv2d-same-dilated", (3, 9, 9), "conv2d", {"out_channels": 4, "kernel_size": 3, "dilation": 3, "padding": "same"}, "Conv2d"),
    ("conv2d-valid", (3, 9, 9), "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "valid"}, "Conv2d"),
    ("conv2d-reflect", (3, 9, 9), "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 2, "padding_mode": "reflect"}, "Conv2d"),
    ("conv2d-circular", (3, 5, 5), "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "padding_mode": "circular"}, "Conv2d"),
    ("conv2d-replicate", (3, 4, 4), "conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 3, "padding_mode": "replicate"}, "Conv2d"),
    ("conv2d-kernel-equals-input", (3, 5, 5), "conv2d", {"out_channels": 4, "kernel_size": 5}, "Conv2d"),
    ("conv2d-stride-larger-than-kernel", (3, 10, 10), "conv2d", {"out_channels": 4, "kernel_size": 1, "stride": 3}, "Conv2d"),
    ("conv1d", (4, 50), "conv1d", {"out_channels": 6, "kernel_size": 5, "stride": 2, "padding": 1}, "Conv1d"),
    ("conv1d-dilation-groups", (4, 31), "conv1d", {"out_channels": 8, "kernel_size": 3, "dilation": 4, "groups": 2}, "Conv1d"),
    ("conv3d", (2, 8, 9, 10), "conv3d", {"out_channels": 3, "kernel_size": [3, 1, 3], "stride": [1, 2, 2], "padding": 1}, "Conv3d"),
    ("max_pool2d", (3, 16, 16), "max_pool2d", {"kernel_size": 2}, "MaxPool2d"),
    ("max_pool2d-3-2", (96, 54, 54), "max_pool2d", {"kernel_size": 3, "stride": 2}, "MaxPool2d"),
    ("max_pool2d-pad", (3, 15, 15), "max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, "MaxPool2d"),
    ("max_pool2d-ceil", (3, 14, 14), "max_pool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, "MaxPool2d"),
    ("max_pool2d-ceil-drops-window-outside-input", (3, 5, 5), "max_pool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, "MaxPool2d"),
    ("max_pool2d-ceil-last-window-correction", (1, 6, 6), "max_pool2d", {"kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True}, "MaxPool2d"),
    ("max_pool2d-ceil-exact-fit", (3, 8, 8), "max_pool2d", {"kernel_size": 2, "stride": 2, "ceil_mode": True}, "MaxPool2d"),
    ("max_pool2d-dilation", (3, 17, 17), "max_pool2d", {"kernel_size": 3, "dilation": 2, "stride": 1}, "MaxPool2d"),
    ("max_pool2d-dilation-ceil", (3, 16, 13), "max_pool2d", {"kernel_size": 2, "dilation": 3, "stride": 3, "ceil_mode": True}, "MaxPool2d"),
    ("max_pool2d-rect", (3, 16, 9), "max_pool2d", {"kernel_size": [2, 3], "stride": [2, 1]}, "MaxPool2d"),
    ("max_pool2d-stride1-pad1", (3, 7, 7), "max_pool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, "MaxPool2d"),
    ("max_pool1d-ceil", (2, 11), "max_pool1d", {"kernel_size": 4, "stride": 3, "ceil_mode": True}, "MaxPool1d"),
    ("max_pool3d", (2, 6, 7, 8), "max_pool3d", {"kernel_size": 2, "ceil_mode": True}, "MaxPool3d"),
    ("avg_pool2d", (6, 28, 28), "avg_pool2d", {"kernel_size": 2, "stride": 2}, "AvgPool2d"),
    ("avg_pool2d-pad-exclude", (3, 7, 7), "avg_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, "AvgPool2d"),
    ("avg_pool2d-ceil", (3, 7, 7), "avg_pool2d", {"kernel_size": 2, "ceil_mode": True}, "AvgPool2d"),
    ("avg_pool2d-ceil-pad-correction", (3, 4, 4), "avg_pool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, "AvgPool2d"),
    ("avg_pool2d-divisor", (3, 8, 8), "avg_pool2d", {"kernel_size": 2, "divisor_override": 3}, "AvgPool2d"),
    ("avg_pool1d", (3, 9), "avg_pool1d", {"kernel_size": 3, "stride": 2, "padding": 1}, "AvgPool1d"),
    ("avg_pool3d", (3, 4, 6, 6), "avg_pool3d", {"kernel_size": [2, 3, 3]}, "AvgPool3d"),
    ("adaptive_avg_pool2d-1", (64, 7, 7), "adaptive_avg_pool2d", {"output_size": 1}, "AdaptiveAvgPool2d"),
    ("adaptive_avg_pool2d-upsample", (4, 3, 3), "adaptive_avg_pool2d", {"output_size": [5, 6]}, "AdaptiveAvgPool2d"),
    ("adaptive_avg_pool2d-none", (4, 9, 7), "adaptive_avg_pool2d", {"output_size": [None, 2]}, "AdaptiveAvgPool2d"),
    ("adaptive_max_pool2d", (4, 9, 7), "adaptive_max_pool2d", {"output_size": 3}, "AdaptiveMaxPool2d"),
    ("adaptive_avg_pool1d", (4, 9), "adaptive_avg_pool1d", {"output_size": 4}, "AdaptiveAvgPool1d"),
    ("adaptive_max_pool1d", (4, 9), "adaptive_max_pool1d", {"output_size": 2}, "AdaptiveMaxPool1d"),
    ("adaptive_avg_pool3d", (2, 5, 6, 7), "adaptive_avg_pool3d", {"output_size": [2, None, 1]}, "AdaptiveAvgPool3d"),
    ("adaptive_max_pool3d", (2, 5, 6, 7), "adaptive_max_pool3d", {"output_size": [1, 2, 3]}, "AdaptiveMaxPool3d"),
    ("batch_norm2d", (8, 5, 5), "batch_norm2d", {}, "BatchNorm2d"),
    ("batch_norm2d-no-affine", (8, 5, 5), "batch_norm2d", {"affine": False, "eps": 0.001, "momentum": 0.3}, "BatchNorm2d"),
    ("batch_norm1d-features", (10,), "batch_norm1d", {}, "BatchNorm1d"),
    ("batch_norm1d-sequence", (10, 7), "batch_norm1d", {"momentum": None}, "BatchNorm1d"),
    ("batch_norm3d", (4, 3, 3, 3), "batch_norm3d", {"track_running_stats": False}, "BatchNorm3d"),
    ("local_response_norm", (8, 5, 5), "local_response_norm", {"size": 5, "alpha": 0.0001, "beta": 0.75, "k": 2.0}, "LocalResponseNorm"),
    ("linear", (400,), "linear", {"out_features": 120}, "Linear"),
    ("linear-no-bias", (7,), "linear", {"out_features": 3, "bias": False}, "Linear"),
    ("linear-channels-last-map", (5, 6, 8), "linear", {"out_features": 12, "channels_last": True}, "Linear"),
    ("linear-channels-last-tokens-no-bias", (7, 10), "linear", {"out_features": 4, "bias": False, "channels_last": True}, "Linear"),
    ("linear-channels-last-on-features", (9,), "linear", {"out_features": 2, "channels_last": True}, "Linear"),
    ("linear-tokens", (7, 10), "linear", {"out_features": 6}, "Linear"),
    ("linear-channels-last-volume", (2, 3, 4, 5), "linear", {"out_features": 3, "channels_last": True}, "Linear"),
    ("flatten", (16, 5, 5), "flatten", {}, "Flatten"),
    ("flatten-partial", (4, 5, 6), "flatten", {"start_dim": 2}, "Flatten"),
    ("flatten-middle", (4, 5, 6), "flatten", {"start_dim": 1, "end_dim": 2}, "Flatten"),
    ("dropout", (3, 4, 4), "dropout", {"p": 0.3}, "Dropout"),
    ("dropout2d", (3, 4, 4), "dropout2d", {"p": 0.1}, "Dropout2d"),
    ("dropout1d", (3, 4), "dropout1d", {}, "Dropout1d"),
    ("dropout3d", (3, 4, 4, 4), "dropout3d", {"p": 0.2}, "Dropout3d"),
    ("relu", (3, 4, 4), "relu", {}, "ReLU"),
    ("relu-inplace", (3, 4, 4), "relu", {"inplace": True}, "ReLU"),
    ("relu6", (3, 4, 4), "relu6", {}, "ReLU6"),
    ("leaky_relu", (3, 4, 4), "leaky_relu", {"negative_slope": 0.2}, "LeakyReLU"),
    ("elu", (3, 4, 4), "elu", {"alpha": 0.5}, "ELU"),
    ("gelu-tanh", (3, 4, 4), "gelu", {"approximate": "tanh"}, "GELU"),
    ("silu", (3, 4, 4), "silu", {}, "SiLU"),
    ("sigmoid", (3, 4, 4), "sigmoid", {}, "Sigmoid"),
    ("tanh", (3, 4, 4), "tanh", {}, "Tanh"),
    ("hardswish", (3, 4, 4), "hardswish", {}, "Hardswish"),
    ("hardsigmoid", (3, 4, 4), "hardsigmoid", {}, "Hardsigmoid"),
    ("softmax", (10,), "softmax", {"dim": 1}, "Softmax"),
    ("log_softmax-channels", (3, 4, 4), "log_softmax", {"dim": 1}, "LogSoftmax"),
    ("identity", (3, 4, 4), "identity", {}, "Identity"),
    ("slice_channels-first-half", (6, 4, 4), "slice_channels", {"stop": 3}, "slice"),
    ("slice_channels-middle", (6, 4, 4), "slice_channels", {"start": 1, "stop": 5}, "slice"),
    ("channel_shuffle", (6, 4, 4), "channel_shuffle", {"groups": 3}, "ChannelShuffle"),
    ("conv_transpose2d-basic", (4, 5, 7), "conv_transpose2d", {"out_channels": 6, "kernel_size": 3}, "ConvTranspose2d"),
    ("conv_transpose2d-unet-2x2-stride-2", (16, 9, 11), "conv_transpose2d", {"out_channels": 8, "kernel_size": 2, "stride": 2}, "ConvTranspose2d"),
    ("conv_transpose2d-stride-pad-output-padding", (4, 5, 7), "conv_transpose2d", {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1}, "ConvTranspose2d"),
    ("conv_transpose2d-per-dim", (3, 6, 5), "conv_transpose2d", {"out_channels": 4, "kernel_size": [3, 2], "stride": [2, 3], "padding": [1, 0], "output_padding": [1, 2]}, "ConvTranspose2d"),
    ("conv_transpose2d-output-padding-below-dilation", (4, 5, 5), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "dilation": 2, "output_padding": 1}, "ConvTranspose2d"),
    ("conv_transpose2d-groups", (4, 5, 7), "conv_transpose2d", {"out_channels": 6, "kernel_size": 3, "groups": 2, "dilation": [1, 2]}, "ConvTranspose2d"),
    ("conv_transpose2d-depthwise-no-bias", (8, 4, 4), "conv_transpose2d", {"out_channels": 8, "kernel_size": 4, "stride": 2, "padding": 1, "groups": 8, "bias": False}, "ConvTranspose2d"),
    ("conv_transpose2d-output-size-1", (3, 1, 1), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}, "ConvTranspose2d"),
    ("conv_transpose1d", (3, 10), "conv_transpose1d", {"out_channels": 5, "kernel_size": 4, "stride": 3, "padding": 2, "output_padding": 1}, "ConvTranspose1d"),
    ("conv_transpose3d", (2, 3, 4, 5), "conv_transpose3d", {"out_channels": 3, "kernel_size": [2, 3, 1], "stride": [2, 1, 2]}, "ConvTranspose3d"),
    ("interpolate-nearest-x2", (3, 5, 7), "interpolate", {"scale_factor": 2}, "Upsample"),
    ("interpolate-bilinear-x1.5-odd", (2, 7, 9), "interpolate", {"scale_factor": 1.5, "mode": "bilinear"}, "Upsample"),
    ("interpolate-bilinear-align-corners", (2, 7, 9), "interpolate", {"scale_factor": 2, "mode": "bilinear", "align_corners": True}, "Upsample"),
    ("interpolate-half-odd", (2, 7, 9), "interpolate", {"scale_factor": 0.5}, "Upsample"),
    ("interpolate-float-product-truncates", (2, 100), "interpolate", {"scale_factor": 0.29}, "Upsample"),  # 100 × 0.29 = 28.999…
    ("interpolate-linear-0.7", (2, 10), "interpolate", {"scale_factor": 0.7, "mode": "linear"}, "Upsample"),
    ("interpolate-size-bicubic", (2, 7, 9), "interpolate", {"size": [3, 20], "mode": "bicubic", "align_corners": False}, "Upsample"),
    ("interpolate-size-int", (2, 5, 5), "interpolate", {"size": 8}, "Upsample"),
    ("interpolate-trilinear-per-dim-scale", (2, 3, 4, 5), "interpolate", {"scale_factor": [1, 2, 0.5], "mode": "trilinear"}, "Upsample"),
    ("interpolate-nearest-exact", (2, 5, 7), "interpolate", {"scale_factor": 1.75, "mode": "nearest-exact"}, "Upsample"),
    ("interpolate-recompute-scale-factor", (2, 7, 9), "interpolate", {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True}, "Upsample"),
    ("interpolate-nearest-3d", (2, 3, 4, 5), "interpolate", {"scale_factor": 2}, "Upsample"),
    ("pixel_shuffle", (8, 3, 5), "pixel_shuffle", {"upscale_factor": 2}, "PixelShuffle"),
    ("pixel_shuffle-3", (18, 2, 3), "pixel_shuffle", {"upscale_factor": 3}, "PixelShuffle"),
    ("pixel_unshuffle", (2, 6, 4), "pixel_unshuffle", {"downscale_factor": 2}, "PixelUnshuffle"),
    ("pixel_unshuffle-3-rect", (1, 9, 6), "pixel_unshuffle", {"downscale_factor": 3}, "PixelUnshuffle"),
    ("frozen_batch_norm2d", (8, 5, 5), "frozen_batch_norm2d", {}, "frozen"),
    ("frozen_batch_norm2d-eps", (8, 5, 3), "frozen_batch_norm2d", {"eps": 0.001}, "frozen"),
    ("layer_norm-tokens", (7, 12), "layer_norm", {}, "LayerNorm"),
    ("layer_norm-features", (10,), "layer_norm", {"eps": 1e-6}, "LayerNorm"),
    ("layer_norm-last-two-dims", (3, 5, 6), "layer_norm", {"dims": 2, "bias": False}, "LayerNorm"),
    ("layer_norm-whole-sample-no-affine", (3, 4, 4), "layer_norm", {"dims": 3, "elementwise_affine": False}, "LayerNorm"),
    ("layer_norm2d-convnext", (8, 5, 6), "layer_norm2d", {"eps": 1e-6}, "layer_norm2d"),
    ("layer_norm2d-no-bias", (4, 3, 3), "layer_norm2d", {"bias": False}, "layer_norm2d"),
    ("layer_norm2d-no-affine", (4, 3, 2), "layer_norm2d", {"elementwise_affine": False}, "layer_norm2d"),
    ("group_norm", (8, 5, 5), "group_norm", {"num_groups": 4}, "GroupNorm"),
    ("group_norm-one-group-no-affine", (6, 7), "group_norm", {"num_groups": 1, "affine": False, "eps": 0.001}, "GroupNorm"),
    ("group_norm-per-channel-no-bias", (6,), "group_norm", {"num_groups": 6, "bias": False}, "GroupNorm"),
    ("group_norm-3d", (4, 2, 3, 3), "group_norm", {"num_groups": 2}, "GroupNorm"),
    ("instance_norm2d", (3, 5, 5), "instance_norm2d", {}, "InstanceNorm2d"),
    ("instance_norm2d-affine-running-stats", (3, 5, 4), "instance_norm2d", {"affine": True, "track_running_stats": True, "momentum": 0.2}, "InstanceNorm2d"),
    ("instance_norm1d", (4, 9), "instance_norm1d", {"eps": 0.001, "affine": True, "bias": False}, "InstanceNorm1d"),
    ("instance_norm3d", (2, 3, 1, 2), "instance_norm3d", {"track_running_stats": True, "momentum": None}, "InstanceNorm3d"),
    ("instance_norm2d-one-row", (3, 1, 2), "instance_norm2d", {}, "InstanceNorm2d"),
    ("permute-channels-last", (3, 4, 5), "permute", {"dims": [0, 2, 3, 1]}, "permute"),
    ("permute-back-negative-dims", (4, 5, 3), "permute", {"dims": [0, -1, 1, 2]}, "permute"),
    ("permute-tokens", (7, 12), "permute", {"dims": [0, 2, 1]}, "permute"),
    ("reshape", (3, 4, 5), "reshape", {"shape": [12, 5]}, "reshape"),
    ("reshape-infer-one", (3, 4, 5), "reshape", {"shape": [-1, 2, 2]}, "reshape"),
    ("reshape-to-features", (3, 4, 5), "reshape", {"shape": [-1]}, "reshape"),
    ("reshape-one-value", (1, 1), "reshape", {"shape": []}, "reshape"),
    ("flatten-negative-dims", (4, 5, 6), "flatten", {"start_dim": -2}, "Flatten"),
    ("flatten-tokens", (8, 3, 4), "flatten", {"start_dim": 2}, "Flatten"),
    ("unflatten", (12, 5), "unflatten", {"dim": 1, "sizes": [3, 4]}, "Unflatten"),
    ("unflatten-infer-last-dim", (3, 20), "unflatten", {"dim": -1, "sizes": [4, -1]}, "Unflatten"),
    ("mean-spatial", (3, 4, 5), "mean", {"dim": [2, 3]}, "mean"),
    ("mean-tokens-keepdim", (7, 12), "mean", {"dim": 1, "keepdim": True}, "mean"),
    ("amax-channels", (6, 4, 4), "amax", {"dim": 1, "keepdim": True}, "amax"),
    ("amax-negative-dim", (6, 4, 5), "amax", {"dim": -1}, "amax"),
    ("sum-all-sample-dims", (3, 4, 5), "sum", {"dim": [1, -2, 3]}, "sum"),
    ("softmax-tokens-last-dim", (7, 12), "softmax", {"dim": -1}, "Softmax"),
    ("log_softmax-middle-dim", (3, 4, 5), "log_softmax", {"dim": 2}, "LogSoftmax"),
    ("stochastic_depth-row", (3, 4, 4), "stochastic_depth", {"p": 0.2}, "stochastic_depth"),
    ("stochastic_depth-batch", (3, 4, 4), "stochastic_depth", {"p": 0.5, "mode": "batch"}, "stochastic_depth"),
    ("stochastic_depth-tokens-p0", (7, 12), "stochastic_depth", {"p": 0.0}, "stochastic_depth"),
    ("stochastic_depth-p1", (5,), "stochastic_depth", {"p": 1.0}, "stochastic_depth"),
    ("grid_coords-cell-centres", (3, 4, 5), "grid_coords", {"offset": 0.5}, "grid_coords"),
    ("grid_coords-indices", (1, 3, 1), "grid_coords", {}, "grid_coords"),
    ("scale-negate", (3, 4, 4), "scale", {"factor": -1}, "scale"),
    ("scale-half-tokens", (7, 12), "scale", {"factor": 0.5}, "scale"),
    ("full_like-stride", (1, 30), "full_like", {"value": 8}, "full_like"),
    ("linear-on-tokens", (7, 12), "linear", {"out_features": 5}, "Linear"),
    ("linear-on-tokens-no-bias", (3, 8), "linear", {"out_features": 16, "bias": False}, "Linear"),
    ("select-class-token", (7, 12), "select", {"dim": 1, "index": 0}, "select"),
    ("select-last-negative", (3, 4, 5), "select", {"dim": -1, "index": -1}, "select"),
    ("select-middle-dim", (3, 4, 5), "select", {"dim": 2, "index": 3}, "select"),
    ("multihead_attention-vit-like", (9, 12), "multihead_attention", {"num_heads": 3}, "self_attention"),
    ("multihead_attention-one-head", (5, 8), "multihead_attention", {"num_heads": 1}, "self_attention"),
    ("multihead_attention-no-bias", (1, 6), "multihead_attention", {"num_heads": 2, "bias": False}, "self_attention"),
    # channels-last H×W×C maps (Swin's): plain windows, shifted, padded to whole windows,
    # one window covering the map (the shift is dropped), rectangular windows without biases
    ("shifted_window_attention-plain", (8, 8, 12), "shifted_window_attention", {"num_heads": 3, "window_size": 4}, "window_attention"),
    ("shifted_window_attention-shifted", (8, 8, 8), "shifted_window_attention", {"num_heads": 2, "window_size": 4, "shift_size": 2}, "window_attention"),
    ("shifted_window_attention-padded-shifted", (9, 7, 8), "shifted_window_attention", {"num_heads": 2, "window_size": 4, "shift_size": 1}, "window_attention"),
    ("shifted_window_attention-one-window", (5, 6, 6), "shifted_window_attention", {"num_heads": 1, "window_size": 7, "shift_size": 3}, "window_attention"),
    ("shifted_window_attention-rect-no-bias", (6, 8, 6), "shifted_window_attention", {"num_heads": 2, "window_size": [3, 4], "shift_size": [1, 2], "qkv_bias": False, "proj_bias": False}, "window_attention"),
]


@pytest.mark.parametrize("in_shape,kind,args,torch_cls", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_kind_matches_torch(in_shape, kind, args, torch_cls):
    graph = check_layers([{kind: args} if args else kind], in_shape)
    node = graph.root.items[0]
    module = _torch_module(torch_cls, args, in_shape).eval()
    x = torch.randn(2, *in_shape)
    with torch.no_grad():
        y = module(x)
    assert node.out_shape == tuple(y.shape[1:])
    assert node.params == torch_params(module)
    assert node.macs == torch_macs(module, x) // 2  # torch counted a batch of two


def test_every_registered_kind_has_a_torch_row():
    from test_dataflow import DATAFLOW_KINDS  # several inputs or outputs: compared with torch there

    covered = {r[2] for r in ROWS} | DATAFLOW_KINDS
    missing = set(archc.layers.KINDS) - covered
    assert not missing, f"kinds without a row: {sorted(missing)}"


@pytest.mark.parametrize("in_shape,kind,args,torch_cls", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_built_module_equals_independent_torch_module(in_shape, kind, args, torch_cls):
    """archc's builder makes the same module torch makes from the same arguments."""
    if torch_cls in _HAND_WRITTEN:  # archc's runtime module: compare what it computes instead
        built = archc.build(archc.check("t.yaml", text=_spec(in_shape, kind, args)))[0]
        reference = _torch_module(torch_cls, args, in_shape)
        reference.load_state_dict(built.state_dict())  # randomly initialised ones (attention) compute alike
        x = torch.randn(2, *in_shape)
        torch.manual_seed(0)  # in training mode: stochastic depth draws the same noise as its answer key
        got = built(x)
        torch.manual_seed(0)
        tolerance = _TOLERANCE.get(torch_cls, 1e-6)
        torch.testing.assert_close(got, reference(x), rtol=tolerance, atol=tolerance)
        return
    built = archc.build(archc.check("t.yaml", text=_spec(in_shape, kind, args)))[0]
    reference = _torch_module(torch_cls, args, in_shape)
    assert repr(built) == repr(reference)


def _spec(in_shape, kind, args):
    from conftest import spec_text

    return spec_text([{kind: args} if args else kind], in_shape)


# Inputs that torch refuses: archc must refuse them too, before anything is allocated.
# (id, input shape, kind, args, torch class, archc error code)
REFUSED = [
    ("conv-kernel-larger-than-input", (3, 4, 4), "conv2d", {"out_channels": 2, "kernel_size": 5}, "Conv2d", "kernel-too-large"),
    ("conv-dilated-kernel-too-large", (3, 6, 6), "conv2d", {"out_channels": 2, "kernel_size": 3, "dilation": 3}, "Conv2d", "kernel-too-large"),
    ("conv-groups-not-dividing-input", (6, 8, 8), "conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4}, "Conv2d", "groups-mismatch"),
    ("conv-same-with-stride", (3, 8, 8), "conv2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": "same"}, "Conv2d", "same-padding-stride"),
    ("conv-reflect-padding-too-large", (3, 3, 3), "conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 3, "padding_mode": "reflect"}, "Conv2d", "padding-too-large"),
    ("conv-on-flat-input", (10,), "conv2d", {"out_channels": 2, "kernel_size": 1}, "Conv2d", "wrong-rank"),
    ("pool-padding-over-half-kernel", (3, 8, 8), "max_pool2d", {"kernel_size": 2, "padding": 2}, "MaxPool2d", "pool-padding-too-large"),
    ("pool-output-too-small", (3, 2, 2), "max_pool2d", {"kernel_size": 3}, "MaxPool2d", "output-too-small"),
    ("avg-pool-output-too-small", (3, 1, 5), "avg_pool2d", {"kernel_size": 2}, "AvgPool2d", "output-too-small"),
    ("linear-on-image", (3, 4, 4), "linear", {"out_features": 10}, "Linear", "wrong-rank"),
    ("batch-norm2d-on-flat", (10,), "batch_norm2d", {}, "BatchNorm2d", "wrong-rank"),
    ("channel-shuffle-groups-not-dividing", (6, 4, 4), "channel_shuffle", {"groups": 4}, "ChannelShuffle", "groups-mismatch"),
    ("conv-transpose-output-padding-equals-stride", (4, 5, 5), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2}, "ConvTranspose2d", "output-padding-too-large"),
    ("conv-transpose-output-padding-without-stride", (4, 5, 5), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "output_padding": 1}, "ConvTranspose2d", "output-padding-too-large"),
    ("conv-transpose-output-padding-one-dim", (4, 5, 5), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "stride": [2, 1], "output_padding": [1, 1]}, "ConvTranspose2d", "output-padding-too-large"),
    ("conv-transpose-groups-not-dividing-input", (6, 5, 5), "conv_transpose2d", {"out_channels": 8, "kernel_size": 3, "groups": 4}, "ConvTranspose2d", "groups-mismatch"),
    ("conv-transpose-groups-not-dividing-output", (8, 5, 5), "conv_transpose2d", {"out_channels": 6, "kernel_size": 3, "groups": 4}, "ConvTranspose2d", "groups-mismatch"),
    ("conv-transpose-output-below-1", (3, 1, 1), "conv_transpose2d", {"out_channels": 2, "kernel_size": 1, "padding": 1}, "ConvTranspose2d", "output-too-small"),
    ("conv-transpose-reflect-padding", (3, 5, 5), "conv_transpose2d", {"out_channels": 2, "kernel_size": 3, "padding_mode": "reflect"}, "ConvTranspose2d", "bad-value"),
    ("conv-transpose-on-flat-input", (10,), "conv_transpose2d", {"out_channels": 2, "kernel_size": 1}, "ConvTranspose2d", "wrong-rank"),
    ("interpolate-bilinear-on-1d", (3, 8), "interpolate", {"scale_factor": 2, "mode": "bilinear"}, "Upsample", "wrong-rank"),
    ("interpolate-linear-on-image", (3, 8, 8), "interpolate", {"scale_factor": 2, "mode": "linear"}, "Upsample", "wrong-rank"),
    ("interpolate-bicubic-on-3d", (3, 4, 4, 4), "interpolate", {"scale_factor": 2, "mode": "bicubic"}, "Upsample", "wrong-rank"),
    ("interpolate-trilinear-on-image", (3, 8, 8), "interpolate", {"scale_factor": 2, "mode": "trilinear"}, "Upsample", "wrong-rank"),
    ("interpolate-on-flat-input", (10,), "interpolate", {"scale_factor": 2}, "Upsample", "wrong-rank"),
    ("interpolate-align-corners-with-nearest", (3, 8, 8), "interpolate", {"scale_factor": 2, "align_corners": False}, "Upsample", "bad-value"),
    ("interpolate-size-and-scale", (3, 8, 8), "interpolate", {"size": 4, "scale_factor": 2}, "Upsample", "bad-value"),
    ("interpolate-neither-size-nor-scale", (3, 8, 8), "interpolate", {"mode": "bilinear"}, "Upsample", "bad-value"),
    ("interpolate-recompute-with-size", (3, 8, 8), "interpolate", {"size": 4, "recompute_scale_factor": True}, "Upsample", "bad-value"),
    ("interpolate-size-list-too-long", (3, 8, 8), "interpolate", {"size": [2, 3, 4]}, "Upsample", "wrong-length"),
    ("interpolate-scale-list-too-short", (3, 8, 8), "interpolate", {"scale_factor": [2]}, "Upsample", "wrong-length"),
    ("interpolate-negative-scale", (3, 8, 8), "interpolate", {"scale_factor": -2}, "Upsample", "bad-value"),
    ("interpolate-zero-scale", (3, 8, 8), "interpolate", {"scale_factor": 0}, "Upsample", "bad-value"),
    ("interpolate-to-size-zero", (3, 7, 9), "interpolate", {"scale_factor": 0.1}, "Upsample", "output-too-small"),
    ("pixel-shuffle-channels-not-multiple-of-r2", (6, 3, 3), "pixel_shuffle", {"upscale_factor": 2}, "PixelShuffle", "not-divisible"),
    ("pixel-unshuffle-height-not-divisible", (2, 5, 4), "pixel_unshuffle", {"downscale_factor": 2}, "PixelUnshuffle", "not-divisible"),
    ("pixel-unshuffle-width-not-divisible", (2, 6, 7), "pixel_unshuffle", {"downscale_factor": 3}, "PixelUnshuffle", "not-divisible"),
    ("group-norm-groups-not-dividing-channels", (6, 4, 4), "group_norm", {"num_groups": 4}, "GroupNorm", "groups-mismatch"),
    ("instance-norm-single-value-per-channel", (3, 1, 1), "instance_norm2d", {}, "InstanceNorm2d", "too-few-values"),
    ("instance-norm1d-single-value", (3, 1), "instance_norm1d", {"track_running_stats": True}, "InstanceNorm1d", "too-few-values"),
    ("permute-repeated-dim", (3, 4, 5), "permute", {"dims": [0, 1, 1, 2]}, "permute", "bad-dim"),
    ("permute-too-few-dims", (3, 4, 5), "permute", {"dims": [0, 2, 1]}, "permute", "wrong-length"),
    ("reshape-wrong-element-count", (3, 4, 5), "reshape", {"shape": [3, 4, 4]}, "reshape", "bad-reshape"),
    ("reshape-two-inferred-sizes", (3, 4, 5), "reshape", {"shape": [-1, -1, 5]}, "reshape", "bad-reshape"),
    ("reshape-inferred-size-not-whole", (3, 4, 5), "reshape", {"shape": [-1, 7]}, "reshape", "bad-reshape"),
    ("reshape-size-zero", (3, 4, 5), "reshape", {"shape": [0, -1]}, "reshape", "bad-reshape"),
    ("unflatten-sizes-not-matching", (12, 5), "unflatten", {"dim": 1, "sizes": [5, 2]}, "Unflatten", "bad-reshape"),
    ("mean-dim-listed-twice", (3, 4, 5), "mean", {"dim": [2, -2]}, "mean", "bad-dim"),
    ("stochastic-depth-p-above-1", (3, 4, 4), "stochastic_depth", {"p": 1.5}, "stochastic_depth", "bad-value"),
    ("stochastic-depth-unknown-mode", (3, 4, 4), "stochastic_depth", {"p": 0.1, "mode": "column"}, "stochastic_depth", "bad-value"),
]


@pytest.mark.parametrize("in_shape,kind,args,torch_cls,code", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_archc_refuses_what_torch_refuses(in_shape, kind, args, torch_cls, code):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{kind: args}], in_shape)
    assert info.value.code == code
    assert info.value.loc is not None and info.value.loc.line > 0
    if kind == "linear":
        return  # torch would silently apply Linear to the last dim; archc refuses on purpose
    with pytest.raises((RuntimeError, ValueError)):
        module = _torch_module(torch_cls, args, in_shape)
        module(torch.zeros(2, *in_shape))


@pytest.mark.parametrize("args", [{"stop": 7}, {"start": 3, "stop": 3}, {"start": 5, "stop": 2}])
def test_slice_channels_refuses_empty_or_out_of_range_slices(args):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"slice_channels": args}], (6, 4, 4))
    assert info.value.code == "bad-slice"


# Inputs torch accepts but archc refuses on purpose (like linear on an image): the result
# would be empty or silently mean something else. torch must really accept them, or the
# row belongs in REFUSED. (id, input shape, kind, args, torch class, archc error code)
REFUSED_ON_PURPOSE = [
    # torchvision reshapes its buffers to 1×C×1×1: on N×C input that broadcasts to 1×N×C×C, not an error
    ("frozen-batch-norm-on-flat-input", (4,), "frozen_batch_norm2d", {}, "frozen", "wrong-rank"),
    # grouped transposed convolutions give an empty map where ungrouped ones are refused (output size 0)
    ("conv-transpose-grouped-output-size-zero", (2, 1, 1), "conv_transpose2d", {"out_channels": 4, "kernel_size": 1, "stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, "ConvTranspose2d", "output-too-small"),
    # torch reads the last three dims as C×H×W, so a 3-d volume's depth would be shuffled as channels
    ("pixel-shuffle-on-volume", (4, 4, 3, 3), "pixel_shuffle", {"upscale_factor": 2}, "PixelShuffle", "wrong-rank"),
    # the last two dims of a token sequence (C×L) are no grid: the coordinates would mean nothing
    ("grid-coords-on-a-sequence", (4, 6), "grid_coords", {"offset": 0.5}, "grid_coords", "wrong-rank"),
    # the batch is never mixed with the sample: torch reduces, moves or splits it, archc refuses
    ("mean-over-the-batch", (3, 4), "mean", {"dim": 0}, "mean", "bad-dim"),
    ("sum-over-no-dims-reduces-the-batch-too", (3, 4), "sum", {"dim": []}, "sum", "bad-dim"),
    ("permute-moving-the-batch", (2, 4), "permute", {"dims": [1, 0, 2]}, "permute", "bad-dim"),
    ("unflatten-the-batch", (3,), "unflatten", {"dim": 0, "sizes": [2, 1]}, "Unflatten", "bad-dim"),
    ("select-the-batch", (3, 4), "select", {"dim": 0, "index": 1}, "select", "bad-dim"),
    # torch's normalized_shape may reach into the batch when the batch size fits it
    ("layer-norm-beyond-the-sample", (4, 5), "layer_norm", {"dims": 3}, "LayerNorm", "wrong-rank"),
]


@pytest.mark.parametrize("in_shape,kind,args,torch_cls,code", [r[1:] for r in REFUSED_ON_PURPOSE],
                         ids=[r[0] for r in REFUSED_ON_PURPOSE])
def test_archc_refuses_on_purpose_what_torch_would_run(in_shape, kind, args, torch_cls, code):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{kind: args}], in_shape)
    assert info.value.code == code
    assert info.value.loc is not None and info.value.loc.line > 0
    _torch_module(torch_cls, args, in_shape)(torch.zeros(2, *in_shape))  # runs without complaint


@pytest.mark.parametrize("in_shape,kind,args,torch_cls", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_built_layer_computes_what_the_answer_key_computes(in_shape, kind, args, torch_cls):
    """Same weights and buffers in, same numbers out: the arguments a repr does not show
    (interpolate's align_corners and recompute_scale_factor) must reach the module too."""
    built = archc.build(archc.check("t.yaml", text=_spec(in_shape, kind, args)))[0].eval()
    reference = _torch_module(torch_cls, args, in_shape).eval()
    with torch.no_grad():
        for tensor in reference.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)  # positive: running_var must be
    assert list(built.state_dict()) == list(reference.state_dict())
    built.load_state_dict(reference.state_dict())
    x = torch.randn(2, *in_shape)
    with torch.no_grad():
        expected, got = reference(x), built(x)
    if torch_cls in _HAND_WRITTEN:
        tolerance = _TOLERANCE.get(torch_cls, 1e-6)
        torch.testing.assert_close(got, expected, rtol=tolerance, atol=tolerance)
    else:
        assert torch.equal(got, expected)
