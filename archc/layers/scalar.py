"""One number applied to every element: scale (x · factor) and full_like (every element set to value).

Why kinds: decoding a detector's outputs is arithmetic with constants: Ultralytics'
dist2bbox computes anchor − lt and (x1y1 + x2y2) / 2 (with `add`, a negation and a halving
are scale −1 and scale 0.5, exactly, as IEEE negation and halving are), and multiplies every
anchor's box by its level's stride (a full_like of that stride beside the level's anchors,
concatenated over the levels). torch.nn has no module for either.
"""
from __future__ import annotations

from archc.layers.base import Args, Float32, Inferred, Kind, Number, TorchCall
from archc.shapes import format_shape


class ScaleArgs(Args):
    factor: Number  # any float: x * 1e300 is inf in torch, not an error


class Scale(Kind):
    names = ("scale",)
    family = "activation"
    Args = ScaleArgs
    summary = "multiply every element by a constant factor (x * factor); shape unchanged, no parameters"

    def infer(self, kind, a: ScaleArgs, shape):
        return Inferred(shape)

    def explain(self, kind, a, shape, out):
        return [f"scale: every element × {a.factor:g}; shape unchanged ({format_shape(shape)}), no parameters"]

    def torch_call(self, kind, a: ScaleArgs, shape):
        return TorchCall("Scale", (a.factor,), runtime=True)

    def label(self, kind, a: ScaleArgs):
        return f"× {a.factor:g}"


class FullLikeArgs(Args):
    value: Float32


class FullLike(Kind):
    names = ("full_like",)
    family = "shape"
    Args = FullLikeArgs
    summary = "a tensor shaped like the input with every element `value` (torch.full_like); the input's values unused"

    def infer(self, kind, a: FullLikeArgs, shape):
        return Inferred(shape)

    def explain(self, kind, a, shape, out):
        return [f"full_like: {format_shape(shape)} filled with {a.value:g}; the input gives only its shape, "
                "dtype and device; no parameters"]

    def torch_call(self, kind, a: FullLikeArgs, shape):
        return TorchCall("FullLike", (a.value,), runtime=True)

    def label(self, kind, a: FullLikeArgs):
        return f"full {a.value:g}"
