"""Shifted-window multi-head self-attention on a channels-last N×H×W×C map: the Swin
Transformer's attention (Liu et al. 2021), torchvision's ShiftedWindowAttention.

A kind of its own, not written in the language from linear, reshape and softmax: the
computation pads the map to a window multiple, rolls it, cuts it into windows, gathers a
relative position bias from a learned table by an index buffer, masks the attention between
regions the roll brought together, and undoes all of it afterwards — a dozen steps whose
arithmetic must match torchvision's to the element, and whose checkpoints store
relative_position_bias_table, the relative_position_index buffer, qkv and proj under
torchvision's names. One kind with torchvision's names is clearer to read and to check
than the same steps spread over a spec, and any windowed-attention model (Swin V1 sizes,
other window or shift sizes) can use it.
"""
from __future__ import annotations

from pydantic import field_validator

from archc.layers.base import (
    Args, Bool, Inferred, Kind, NonNegativeInt, PositiveInt, Probability, TorchCall, compact, per_dim,
)
from archc.shapes import ShapeError, format_shape, layout_name, product, require_concrete, require_divisible


class ShiftedWindowAttentionArgs(Args):
    num_heads: PositiveInt
    window_size: PositiveInt | list[PositiveInt] = 7  # one int, or [height, width]
    # Swin: 0 in even blocks, window // 2 in odd ones; any size is accepted, as torchvision does
    shift_size: NonNegativeInt | list[NonNegativeInt] = 0
    qkv_bias: Bool = True
    proj_bias: Bool = True
    attention_dropout: Probability = 0.0  # on the attention weights, while training
    dropout: Probability = 0.0  # after proj, while training

    @field_validator("window_size", "shift_size")
    @classmethod
    def _one_or_two(cls, value):
        if len(_pair(value)) != 2:
            raise ValueError(f"an int or [height, width] (found {len(value)} values)")
        return value


def _pair(value) -> tuple[int, ...]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _map(kind: str, shape) -> tuple:
    """(H, W, C) of a channels-last map."""
    if len(shape) != 3:
        raise ShapeError(
            "wrong-rank", f"{kind} needs a channels-last N×H×W×C map",
            expected="3 dims after the batch: height, width, channels (channels last)",
            found=f"{layout_name(shape)} ({format_shape(shape) or 'no dims'})",
            hint="a channels-first N×C×H×W map becomes channels-last with 'permute: {dims: [0, 2, 3, 1]}'; "
                 "(N, L, C) tokens of an H×W grid with 'unflatten: {dim: 1, sizes: [H, W]}'")
    height, width, channels = shape
    require_concrete(channels, "channels C (the last dim)")
    return height, width, channels


def _padded(size, window: int):
    """The size padded up to a multiple of the window, as torchvision pads the map."""
    return (size + window - 1) // window * window


class ShiftedWindowAttention(Kind):
    names = ("shifted_window_attention",)
    family = "attention"
    Args = ShiftedWindowAttentionArgs
    summary = ("Swin's (shifted) window multi-head self-attention on a channels-last N×H×W×C map "
               "(torchvision's ShiftedWindowAttention, same keys): tokens attend within window_size windows, "
               "shifted by shift_size, with a learned relative position bias; shape unchanged")

    def _geometry(self, kind, a: ShiftedWindowAttentionArgs, shape):
        height, width, channels = _map(kind, shape)
        require_divisible(channels, a.num_heads, "channels C",
                          hint=f"each of the {a.num_heads} heads attends over C / num_heads channels: "
                               "choose num_heads dividing C")
        (wh, ww), (sh, sw) = per_dim(a.window_size, 2, "window_size"), per_dim(a.shift_size, 2, "shift_size")
        return height, width, channels, (wh, ww), (sh, sw)

    def infer(self, kind, a: ShiftedWindowAttentionArgs, shape):
        height, width, channels, (wh, ww), _ = self._geometry(kind, a, shape)
        tokens = wh * ww
        params = (4 * channels * channels + (3 * channels if a.qkv_bias else 0) + (channels if a.proj_bias else 0)
                  + (2 * wh - 1) * (2 * ww - 1) * a.num_heads)
        # As torch's FlopCounter counts the forward: the qkv and proj linears on every token of
        # the padded map (4 · H'W' · C²), and the two batched matmuls Q·Kᵀ and attention·V within
        # each window (2 · H'W' · Wh·Ww · C over all heads). The bias gather, mask, scaling and
        # softmax are not multiply-accumulates.
        positions = product((_padded(height, wh), _padded(width, ww)))
        macs = 4 * product((positions, channels, channels)) + 2 * product((positions, tokens, channels))
        return Inferred(shape, params, macs)

    def workspace(self, kind, a: ShiftedWindowAttentionArgs, shape):
        height, width, channels, (wh, ww), _ = self._geometry(kind, a, shape)
        positions = product((_padded(height, wh), _padded(width, ww)))
        tokens = wh * ww
        # padded/rolled map, packed q, k, v, the heads' output and proj's (6 · H'W' · C), every
        # window's Wh·Ww × Wh·Ww weights per head; and, built with the module, the index buffer
        # and its relative coordinates (3 · (Wh·Ww)², which a large window makes the largest part)
        return 6 * product((positions, channels)) + product((positions, tokens, a.num_heads)) + 3 * tokens * tokens

    def param_shapes(self, kind, a: ShiftedWindowAttentionArgs, shape):
        # the one parameter this module owns itself (what `init:` may set); qkv and proj are
        # its children, set by torch's nn.Linear init
        (wh, ww) = per_dim(a.window_size, 2, "window_size")
        return {"relative_position_bias_table": ((2 * wh - 1) * (2 * ww - 1), a.num_heads)}

    def explain(self, kind, a: ShiftedWindowAttentionArgs, shape, out):
        height, width, channels, (wh, ww), (sh, sw) = self._geometry(kind, a, shape)
        ph, pw = _padded(height, wh), _padded(width, ww)
        # torchvision does not shift along a dim that one window covers
        shift = (0 if wh >= ph else sh, 0 if ww >= pw else sw)
        pad = f", padded to {ph}×{pw}" if (ph, pw) != (height, width) else ""
        windows = (ph // wh) * (pw // ww)
        moved = (f"rolled by −{compact(shift)} first (and back after), with a mask so that tokens the roll brought "
                 "together from opposite edges do not attend to each other" if any(shift) else "not shifted")
        if any(shift) != any((sh, sw)):
            moved += f" (shift {compact((sh, sw))} dropped: one window covers the map)"
        tokens = wh * ww
        qkv_bias = f" + 3 × {channels}" if a.qkv_bias else ""
        proj_bias = f" + {channels}" if a.proj_bias else ""
        return [
            f"shifted_window_attention on channels-last N×H×W×C {format_shape(shape)}{pad}: {windows} windows of "
            f"{wh}×{ww} = {tokens} tokens; {a.num_heads} heads of {channels} / {a.num_heads} = "
            f"{channels // a.num_heads} channels; {moved}; shape unchanged",
            f"parameters: qkv {3 * channels} × {channels}{qkv_bias}, proj {channels} × {channels}{proj_bias}, "
            f"relative position bias table (2·{wh} − 1)·(2·{ww} − 1) × {a.num_heads} = {out.params:,} "
            f"(relative_position_index is a buffer, not a parameter)",
            f"MACs: qkv and proj 4 × {ph * pw} × {channels}² + Q·Kᵀ and attention·V 2 × {ph * pw} × {tokens} × "
            f"{channels} = {out.macs:,}",
        ]

    def torch_call(self, kind, a: ShiftedWindowAttentionArgs, shape):
        window, shift = _pair(a.window_size), _pair(a.shift_size)
        defaults = (("qkv_bias", True), ("proj_bias", True), ("attention_dropout", 0.0), ("dropout", 0.0))
        kwargs = {name: getattr(a, name) for name, default in defaults if getattr(a, name) != default}
        return TorchCall("ShiftedWindowAttention", (shape[-1], window, shift, a.num_heads), kwargs, runtime=True)

    def label(self, kind, a: ShiftedWindowAttentionArgs):
        window, shift = _pair(a.window_size), _pair(a.shift_size)
        shifted = f", shift {compact(shift)}" if any(shift) else ""
        return f"window attention {'×'.join(map(str, window))}{shifted} × {a.num_heads} heads"
