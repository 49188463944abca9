"""The container modules archc builds networks from: plain PyTorch, no archc imports.

The definitions a network uses are copied verbatim into its generated source file (found
by parsing this file: see emit/source.py), so a model written by `archc build` runs
without archc installed and has the same structure (and so the same state_dict keys and
outputs) as the module archc builds.
"""
from __future__ import annotations

import torch
from torch import nn


def merge(tensors: list[torch.Tensor], how: str) -> torch.Tensor:
    """Combine tensors of matching shape: concat along channels, add or multiply."""
    if how == "concat":
        return torch.cat(tensors, dim=1)
    out = tensors[0]
    for t in tensors[1:]:
        out = out + t if how == "add" else out * t
    return out


def initialise(module: nn.Module, **params: tuple) -> nn.Module:
    """Set a layer's parameters as its spec says: (torch.nn.init function name, arguments)
    or ("tensor", literal values). Returns the module, so it wraps a constructor call."""
    with torch.no_grad():
        for name, (how, value) in params.items():
            tensor = getattr(module, name)
            if how == "tensor":
                tensor.copy_(torch.tensor(value, dtype=tensor.dtype))
            else:
                getattr(nn.init, how + "_")(tensor, **value)
    return module


class SliceChannels(nn.Module):
    """Channels start … stop − 1 of the input (ShuffleNet's split: x.chunk(2, dim=1))."""

    def __init__(self, start: int, stop: int):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.stop]

    def extra_repr(self) -> str:
        return f"start={self.start}, stop={self.stop}"


class Chain(nn.Module):
    """Children applied in order, where a child may read earlier children's outputs.

    wiring maps a child's name to (source names, merge); 'input' is the chain's input.
    Children without wiring read the previous child's output, as in nn.Sequential.
    """

    def __init__(self, layers: dict[str, nn.Module], wiring: dict[str, tuple[tuple[str, ...], str]]):
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)
        kept = {source for sources, _ in wiring.values() for source in sources}
        # per child, in order: (sources it reads, their merge, whether a later child reads it);
        # a tuple of fixed length, so TorchScript unrolls the loop over it and the children
        self.wiring = tuple((tuple(wiring[name][0]) if name in wiring else (), wiring[name][1] if name in wiring else "",
                             name in kept) for name in layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        saved: dict[str, torch.Tensor] = {"input": x}
        for (sources, how, kept), (name, layer) in zip(self.wiring, self.named_children()):
            if len(sources) > 0:
                x = merge([saved[source] for source in sources], how)
            x = layer(x)
            if kept:
                saved[name] = x
        return x


class Flow(nn.Module):
    """A module whose layers read any earlier value by name: a dataflow program.

    program: per step (module path below this one, the values it reads, how to merge them
    ('' passes each as an argument), the concat dim, the names it writes, how to unpack
    its result: 'one', 'seq' (a tuple) or 'dict' (by keys), and which reads are batched
    parameters a concat expands to the batch). inputs names forward()'s arguments; outputs
    is ('one' | 'dict' | 'tuple', ((key, value name), …)); parameters are the tensors this
    module holds itself: (name, shape, batched, (torch.nn.init function, arguments) or None).
    """

    def __init__(self, layers: dict[str, nn.Module], program: tuple, inputs: tuple[str, ...],
                 outputs: tuple, parameters: tuple = ()):
        super().__init__()
        # own parameters first: a module's state_dict lists them before its children's, as torchvision's
        for name, shape, _batched, _init in parameters:
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))
        inits = {name: init for name, _shape, _batched, init in parameters if init is not None}
        if inits:
            initialise(self, **inits)
        self.parameter_names = tuple(name for name, *_ in parameters)
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.program = tuple((tuple(path.split(".")), tuple(reads), how, dim, tuple(writes), unpack, tuple(keys),
                              tuple(expand)) for path, reads, how, dim, writes, unpack, keys, expand in program)
        self.input_names = tuple(inputs)
        self.output_form, self.output_values = outputs[0], tuple(tuple(pair) for pair in outputs[1])

    def forward(self, *inputs: torch.Tensor):
        values = dict(zip(self.input_names, inputs))
        for name in self.parameter_names:
            values[name] = self._parameters[name]
        for path, reads, how, dim, writes, unpack, keys, expand in self.program:
            layer = self
            for part in path:  # looked up on each call, so a replaced submodule is the one used
                layer = layer._modules[part]
            args = [values[name] for name in reads]
            if expand:  # a batched parameter (ViT's class token) joins every sample of the batch
                batch = inputs[0].shape[0]
                args = [a.expand(batch, *a.shape[1:]) if i in expand else a for i, a in enumerate(args)]
            if how == "concat":
                args = [torch.cat(args, dim=dim)]
            elif how:
                args = [merge(args, how)]
            out = layer(*args)
            if unpack == "one":
                values[writes[0]] = out
            elif unpack == "seq":
                for name, piece in zip(writes, out):
                    values[name] = piece
            else:
                for name, key in zip(writes, keys):
                    values[name] = out[key]
        if self.output_form == "one":
            return values[self.output_values[0][1]]
        if self.output_form == "tuple":
            return tuple(values[name] for _, name in self.output_values)
        return {key: values[name] for key, name in self.output_values}


class Chunk(nn.Module):
    """torch.chunk into equal pieces along dim (a tuple of views)."""

    def __init__(self, chunks: int, dim: int = 1):
        super().__init__()
        self.chunks, self.dim = chunks, dim

    def forward(self, x: torch.Tensor):
        return x.chunk(self.chunks, dim=self.dim)

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, dim={self.dim}"


class Split(nn.Module):
    """torch.split into pieces of the given sizes along dim (a tuple of views)."""

    def __init__(self, sizes: tuple[int, ...], dim: int = 1):
        super().__init__()
        self.sizes, self.dim = tuple(sizes), dim

    def forward(self, x: torch.Tensor):
        return x.split(list(self.sizes), dim=self.dim)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, dim={self.dim}"


class ResizeLike(nn.Module):
    """F.interpolate(x, size=like.shape[2:]): resize to another tensor's spatial size
    (torchvision's segmentation heads resize to the input's size this way)."""

    def __init__(self, mode: str = "nearest", align_corners: bool | None = None):
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, size=like.shape[2:], mode=self.mode, align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, align_corners={self.align_corners}"


class Residual(nn.Module):
    """merge(body(x), shortcut(x)), then the `after` layers; no shortcut means identity.

    Body and after layers are registered directly on this module (conv1, bn1, …), as in
    torchvision's BasicBlock, so checkpoints keep their familiar keys. The body runs first,
    then the shortcut (archc's aliasing check assumes this order).
    """

    def __init__(self, body: dict[str, nn.Module], shortcut: nn.Module | None = None,
                 shortcut_name: str = "shortcut", after: dict[str, nn.Module] | None = None, how: str = "add",
                 shortcut_first: bool = False):
        super().__init__()
        after = after or {}
        shortcut_items = [(shortcut_name, shortcut)] if shortcut is not None else []
        # registration order is state_dict order: as the spec wrote body and shortcut
        ordered = [*shortcut_items, *body.items()] if shortcut_first else [*body.items(), *shortcut_items]
        for name, layer in [*ordered, *after.items()]:
            self.add_module(name, layer)
        self.body_names = tuple(body)
        self.after_names = tuple(after)
        self.shortcut_name = shortcut_name if shortcut is not None else ""  # "": the identity
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # loops over the children (not self._modules[name]) so that TorchScript can compile them
        out = x
        for name, layer in self.named_children():
            if name in self.body_names:
                out = layer(out)
        shortcut = x
        for name, layer in self.named_children():
            if name == self.shortcut_name:
                shortcut = layer(x)
        out = merge([out, shortcut], self.how)
        for name, layer in self.named_children():
            if name in self.after_names:
                out = layer(out)
        return out


class Parallel(nn.Module):
    """Branches applied to the same input, their outputs merged (Inception)."""

    def __init__(self, branches: dict[str, nn.Module], how: str = "concat"):
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for branch in self.children():
            outputs.append(branch(x))
        return merge(outputs, self.how)


class Dense(nn.Module):
    """DenseNet block: each unit's output is concatenated onto its input."""

    def __init__(self, units: dict[str, nn.Module]):
        super().__init__()
        for name, unit in units.items():
            self.add_module(name, unit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.children():
            x = torch.cat([x, unit(x)], dim=1)
        return x


class FrozenBatchNorm2d(nn.Module):
    """Batch norm whose statistics and affine are fixed buffers (torchvision.ops.FrozenBatchNorm2d:
    the same buffers, in the same order, and the same arithmetic, so checkpoints and outputs match)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # a BatchNorm2d checkpoint also holds num_batches_tracked, which a frozen norm has no use for
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the reshapes come first, as in torchvision (fuser-friendly)
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an N×C×H×W map (torchvision's LayerNorm2d, ConvNeXt's):
    channels-last, F.layer_norm over C, back. A subclass of nn.LayerNorm, so the state_dict
    keys are weight and bias, as torchvision's are."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """torch.permute with every dim listed, the batch first (torchvision.ops.Permute)."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Reshape(nn.Module):
    """x.reshape(N, *shape): each sample's elements in a new shape; the batch stays."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the batch is never named: a trace (ONNX export) would bake x.shape[0] in as a constant
        if len(self.shape) == 0:
            return x.reshape(-1)
        return x.flatten(1).unflatten(1, self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Mean(nn.Module):
    """torch.mean over dims of each sample (torch.nn has no module for a reduction)."""

    def __init__(self, dim: int | tuple[int, ...], keepdim: bool = False):
        super().__init__()
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, dim=self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, keepdim={self.keepdim}"


class Amax(Mean):
    """torch.amax over dims of each sample (the maximum, not max's (values, indices))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=self.dim, keepdim=self.keepdim)


class Sum(Mean):
    """torch.sum over dims of each sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=self.dim, keepdim=self.keepdim)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: while training, zero the input with probability p per
    sample (row) or for the whole batch (batch) and scale what is kept by 1/(1 − p); the
    identity in eval mode. The arithmetic is torchvision's, step for step."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p < 0.0 or self.p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {self.p}")
        if self.mode not in ["batch", "row"]:
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {self.mode}")
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class GridCoords(nn.Module):
    """The (x, y) of every cell of the input's H×W grid plus offset, flattened row by row:
    N×C×H×W → N×2×(H·W), in the input's dtype and device (Ultralytics' make_anchors, one level,
    transposed: its anchors are (H·W)×2). Only the input's shape is read."""

    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        sx = torch.arange(w, device=x.device, dtype=x.dtype) + self.offset
        sy = torch.arange(h, device=x.device, dtype=x.dtype) + self.offset
        sy, sx = torch.meshgrid(sy, sx, indexing="ij")
        return torch.stack((sx, sy), 0).reshape(1, 2, h * w).repeat(x.shape[0], 1, 1)  # a tensor of its own: a later in-place layer may write it

    def extra_repr(self) -> str:
        return f"offset={self.offset}"


class Scale(nn.Module):
    """x * factor, elementwise (torch.nn has no module for a constant factor)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class FullLike(nn.Module):
    """torch.full_like(x, value): the input's shape, dtype and device, every element `value`."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.value)

    def extra_repr(self) -> str:
        return f"value={self.value}"


class SelfAttention(nn.MultiheadAttention):
    """Self-attention on (N, L, E) tokens: x → attention(x, x, x, need_weights=False)[0], as
    torchvision's ViT EncoderBlock calls nn.MultiheadAttention (batch_first). A subclass, so
    the state_dict keys are torch's (in_proj_weight, in_proj_bias, out_proj.weight,
    out_proj.bias) and torchvision's checkpoints load; forward returns the tensor alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x, x, x, need_weights=False)[0]


class Select(nn.Module):
    """torch.select: the one index `index` of dim `dim`, which is removed (ViT's class token, x[:, 0])."""

    def __init__(self, dim: int, index: int):
        super().__init__()
        self.dim, self.index = dim, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.select(x, self.dim, self.index)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, index={self.index}"


class ShiftedWindowAttention(nn.Module):
    """torchvision's ShiftedWindowAttention (Swin Transformer), step for step: channels-last
    N×H×W×C in, the same shape out. The map is padded to a multiple of the window, rolled by
    −shift, cut into windows; each window's tokens attend to each other (multi-head, with a
    learned bias per relative position, and a mask so that tokens rolled in from the far edge
    do not attend to their new neighbours); the windows are put back, rolled back, unpadded.
    The same parameter and buffer names as torchvision (relative_position_bias_table,
    relative_position_index, qkv, proj), so its checkpoints load."""

    def __init__(self, dim: int, window_size: tuple[int, int], shift_size: tuple[int, int], num_heads: int,
                 qkv_bias: bool = True, proj_bias: bool = True, attention_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError("window_size and shift_size must be of length 2")
        self.window_size = [int(window_size[0]), int(window_size[1])]
        self.shift_size = [int(shift_size[0]), int(shift_size[1])]
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        wh, ww = self.window_size
        # one learned bias per head for each of the (2·Wh − 1)·(2·Ww − 1) relative positions
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        # for each (query, key) pair of a window's tokens, the row of the table for their offset
        coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        relative[:, :, 0] += wh - 1
        relative[:, :, 1] += ww - 1
        relative[:, :, 0] *= 2 * ww - 1
        self.register_buffer("relative_position_index", relative.sum(-1).flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wh, ww = self.window_size[0], self.window_size[1]
        tokens = wh * ww
        bias = self.relative_position_bias_table[self.relative_position_index]
        bias = bias.view(tokens, tokens, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        b, h, w, c = x.shape
        # pad the map to a multiple of the window
        pad_r = (ww - w % ww) % ww
        pad_b = (wh - h % wh) % wh
        x = nn.functional.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        pad_h, pad_w = x.shape[1], x.shape[2]
        # no shift along a dim that one window covers
        shift_h = 0 if wh >= pad_h else self.shift_size[0]
        shift_w = 0 if ww >= pad_w else self.shift_size[1]
        shifted = shift_h + shift_w > 0
        if shifted:
            x = torch.roll(x, shifts=(-shift_h, -shift_w), dims=(1, 2))
        # partition into windows: (B · windows) × tokens × C
        windows = (pad_h // wh) * (pad_w // ww)
        x = x.view(b, pad_h // wh, wh, pad_w // ww, ww, c)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b * windows, tokens, c)
        # multi-head attention within each window, plus the relative position bias
        qkv = nn.functional.linear(x, self.qkv.weight, self.qkv.bias)
        qkv = qkv.reshape(x.size(0), x.size(1), 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * (c // self.num_heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1)) + bias
        if shifted:
            # label the regions the roll brought together; a token attends only within its own
            # torchvision's slices [0:−W], [−W:−s], [−s:] per dim, as the bounds Python makes of them
            mask = x.new_zeros((pad_h, pad_w))
            rows = ((0, self._from_end(wh, pad_h)), (self._from_end(wh, pad_h), self._from_end(shift_h, pad_h)),
                    (self._from_end(shift_h, pad_h), pad_h))
            cols = ((0, self._from_end(ww, pad_w)), (self._from_end(ww, pad_w), self._from_end(shift_w, pad_w)),
                    (self._from_end(shift_w, pad_w), pad_w))
            count = 0
            for r0, r1 in rows:
                for c0, c1 in cols:
                    mask[r0:r1, c0:c1] = count
                    count += 1
            mask = mask.view(pad_h // wh, wh, pad_w // ww, ww).permute(0, 2, 1, 3).reshape(windows, tokens)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))
            attn = attn.view(x.size(0) // windows, windows, self.num_heads, tokens, tokens)
            attn = (attn + mask.unsqueeze(1).unsqueeze(0)).view(-1, self.num_heads, tokens, tokens)
        attn = nn.functional.softmax(attn, dim=-1)
        attn = nn.functional.dropout(attn, p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), c)
        x = nn.functional.linear(x, self.proj.weight, self.proj.bias)
        x = nn.functional.dropout(x, p=self.dropout, training=self.training)
        # merge the windows, roll back, unpad
        x = x.view(b, pad_h // wh, pad_w // ww, wh, ww, c)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, pad_h, pad_w, c)
        if shifted:
            x = torch.roll(x, shifts=(shift_h, shift_w), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()

    @staticmethod
    def _from_end(count: int, size: int) -> int:
        """The bound Python makes of the index −count in a dim of `size` (−0 is 0)."""
        return max(size - count, 0) if count > 0 else 0

    def extra_repr(self) -> str:
        return f"window_size={self.window_size}, shift_size={self.shift_size}, num_heads={self.num_heads}"
