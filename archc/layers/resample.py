"""Resampling without parameters: interpolate (nn.Upsample), pixel_shuffle, pixel_unshuffle."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from archc.layers.base import (
    Args, Bool, Inferred, Kind, Number, PositiveInt, Sizes, TorchCall, expect_rank, plain,
)
from archc.shapes import (
    ShapeError, format_shape, interpolate_output_size, multiplied_size, require_divisible,
)

Scale = Annotated[Number, Field(gt=0, allow_inf_nan=False)]  # inf or nan would have no floor
Scales = Scale | list[Scale]

# The spatial ranks each mode works on, as F.interpolate dispatches them (anything else it refuses).
MODE_RANKS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
              "bicubic": (2,), "trilinear": (3,)}
_LINEAR_MODES = ("linear", "bilinear", "bicubic", "trilinear")
_SPATIAL = {1: "length", 2: "height×width", 3: "depth×height×width"}


class InterpolateArgs(Args):
    size: Sizes | None = None
    scale_factor: Scales | None = None
    mode: Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"] = "nearest"
    align_corners: Bool | None = None
    recompute_scale_factor: Bool | None = None


class Interpolate(Kind):
    """One kind, F.interpolate's name (F.upsample is its deprecated alias), built as nn.Upsample,
    the module that calls F.interpolate with the same five arguments."""

    names = ("interpolate",)
    family = "resample"
    Args = InterpolateArgs
    summary = "resize by size or scale_factor (torch.nn.Upsample, i.e. F.interpolate); no parameters"

    def _check_arguments(self, a: InterpolateArgs) -> None:
        # F.interpolate's own checks on its arguments, in its order
        if a.mode not in _LINEAR_MODES and a.align_corners is not None:
            raise ShapeError("bad-value", f"align_corners applies only to the interpolating modes, not '{a.mode}'",
                             expected="mode linear, bilinear, bicubic or trilinear, or no align_corners",
                             found=f"mode '{a.mode}', align_corners {a.align_corners}")
        if (a.size is None) == (a.scale_factor is None):
            raise ShapeError("bad-value", "interpolate needs exactly one of size and scale_factor",
                             expected="size: or scale_factor:",
                             found="both" if a.size is not None else "neither")
        if a.size is not None and a.recompute_scale_factor:
            raise ShapeError("bad-value", "recompute_scale_factor means nothing with an explicit size",
                             expected="scale_factor: with recompute_scale_factor, or size: without it",
                             found="size and recompute_scale_factor: true")

    def target_sizes(self, a: InterpolateArgs, rank: int) -> tuple:
        """The size asked for in each spatial dim (None where the scale decides it).

        A size taken from another tensor (`size_of:`) would be resolved to these same values.
        """
        if a.size is None:
            return (None,) * rank
        return _per_dim(a.size, rank, "size")

    def infer(self, kind, a: InterpolateArgs, shape):
        self._check_arguments(a)
        expect_rank(kind, shape, tuple(r + 1 for r in MODE_RANKS[a.mode]),
                    f"channels×{' or '.join(_SPATIAL[r] for r in MODE_RANKS[a.mode])}",
                    hint=f"mode '{a.mode}' works on {' or '.join(f'{r}-d' for r in MODE_RANKS[a.mode])} spatial inputs"
                    + ("; 'nearest' works on any" if a.mode != "nearest" else ""))
        rank = len(shape) - 1
        targets = self.target_sizes(a, rank)
        scales = (None,) * rank if a.scale_factor is None else _per_dim(a.scale_factor, rank, "scale_factor")
        out = tuple(interpolate_output_size(n, t, s) for n, t, s in zip(shape[1:], targets, scales))
        return Inferred((shape[0], *out))

    def explain(self, kind, a: InterpolateArgs, shape, out):
        how = f"interpolate ({a.mode})"
        if a.size is not None:
            return [f"{how}: the output size is fixed at {format_shape(out.shape[1:])} whatever the input "
                    f"({format_shape(shape[1:])}); channels stay {shape[0]}"]
        scales = _per_dim(a.scale_factor, len(shape) - 1, "scale_factor")
        parts = [f"⌊{n} × {s:g}⌋ = {o}" for n, s, o in zip(shape[1:], scales, out.shape[1:])]
        return [f"{how}: each size ⌊n × scale_factor⌋: {', '.join(parts)}; channels stay {shape[0]}; no parameters"]

    def explain_size_of(self, a: InterpolateArgs, like: str, shape, out) -> list[str]:
        """`size_of: like`: the size is that value's, whatever the input's, and follows it when it changes."""
        return [f"interpolate ({a.mode}): the output takes the spatial size of '{like}' "
                f"({format_shape(out.shape[1:])}), whatever the input's ({format_shape(shape[1:])}); "
                f"channels stay {shape[0]}; no parameters"]

    def torch_call(self, kind, a: InterpolateArgs, shape):
        kwargs = {}
        for name, default in (("size", None), ("scale_factor", None), ("mode", "nearest"),
                              ("align_corners", None), ("recompute_scale_factor", None)):
            value = getattr(a, name)
            if value != default:
                kwargs[name] = plain(value)
        return TorchCall("Upsample", (), kwargs)

    def label(self, kind, a: InterpolateArgs):
        if a.size is not None:
            size = a.size if isinstance(a.size, int) else "×".join(map(str, a.size))
            return f"interpolate → {size} {a.mode}"
        scales = a.scale_factor if isinstance(a.scale_factor, list) else [a.scale_factor]
        scale = f"{scales[0]:g}" if len(set(scales)) == 1 else f"({', '.join(f'{s:g}' for s in scales)})"
        return f"interpolate ×{scale} {a.mode}"


def _per_dim(value, rank: int, name: str) -> tuple:
    """An int or float for every spatial dim, or a list with one per dim."""
    if not isinstance(value, list):
        return (value,) * rank
    if len(value) != rank:
        raise ShapeError("wrong-length", f"'{name}' needs one value per spatial dimension",
                         expected=f"a number or a list of {rank}", found=f"a list of {len(value)}: {value}")
    return tuple(value)


class PixelShuffleArgs(Args):
    upscale_factor: PositiveInt


class PixelShuffle(Kind):
    names = ("pixel_shuffle",)
    family = "resample"
    Args = PixelShuffleArgs
    summary = "C·r² × H × W → C × H·r × W·r, moving channels into space (torch.nn.PixelShuffle)"

    def infer(self, kind, a: PixelShuffleArgs, shape):
        expect_rank(kind, shape, (3,), "channels×height×width")
        r = a.upscale_factor
        channels = require_divisible(shape[0], r * r, "channels", hint=f"the channels are split into {r}×{r} = {r * r} sub-pixels")
        h, w = (multiplied_size(n, r, "pixel_shuffle") for n in shape[1:])
        return Inferred((channels, h, w))

    def explain(self, kind, a, shape, out):
        r = a.upscale_factor
        return [f"pixel_shuffle ×{r}: channels {shape[0]} / {r}² = {out.shape[0]}; "
                f"height {shape[1]} × {r} = {out.shape[1]}, width {shape[2]} × {r} = {out.shape[2]}; no parameters"]

    def torch_call(self, kind, a: PixelShuffleArgs, shape):
        return TorchCall("PixelShuffle", (a.upscale_factor,))

    def label(self, kind, a):
        return f"pixel_shuffle ×{a.upscale_factor}"


class PixelUnshuffleArgs(Args):
    downscale_factor: PositiveInt


class PixelUnshuffle(Kind):
    names = ("pixel_unshuffle",)
    family = "resample"
    Args = PixelUnshuffleArgs
    summary = "C × H·r × W·r → C·r² × H × W, moving space into channels (torch.nn.PixelUnshuffle)"

    def infer(self, kind, a: PixelUnshuffleArgs, shape):
        expect_rank(kind, shape, (3,), "channels×height×width")
        r = a.downscale_factor
        h, w = (require_divisible(n, r, what, hint=f"pixel_unshuffle cuts the {what} into blocks of {r}")
                for n, what in zip(shape[1:], ("height", "width")))
        return Inferred((shape[0] * r * r, h, w))

    def explain(self, kind, a, shape, out):
        r = a.downscale_factor
        return [f"pixel_unshuffle ÷{r}: channels {shape[0]} × {r}² = {out.shape[0]}; "
                f"height {shape[1]} / {r} = {out.shape[1]}, width {shape[2]} / {r} = {out.shape[2]}; no parameters"]

    def torch_call(self, kind, a: PixelUnshuffleArgs, shape):
        return TorchCall("PixelUnshuffle", (a.downscale_factor,))

    def label(self, kind, a):
        return f"pixel_unshuffle ÷{a.downscale_factor}"
