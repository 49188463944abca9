"""Frozen batch norm: torchvision.ops.FrozenBatchNorm2d, batch norm with fixed statistics."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from archc.layers.base import Args, Inferred, Kind, Number, TorchCall, expect_rank


class FrozenBatchNormArgs(Args):
    eps: Annotated[Number, Field(ge=0)] = 1e-5


class FrozenBatchNorm(Kind):
    names = ("frozen_batch_norm2d",)
    family = "norm"
    Args = FrozenBatchNormArgs
    summary = ("batch norm with fixed statistics and affine (torchvision.ops.FrozenBatchNorm2d): four buffers, "
               "no parameters; num_features is inferred")

    def infer(self, kind, a: FrozenBatchNormArgs, shape):
        # torchvision reshapes its buffers to 1×C×1×1, so it needs an N×C×H×W input
        expect_rank(kind, shape, (3,), "channels×height×width")
        return Inferred(shape)  # weight, bias and the statistics are buffers: nothing trains

    def explain(self, kind, a, shape, out):
        return [f"{kind} over {shape[0]} channels: x · w/√(var + {a.eps:g}) + (b − mean · w/√(var + {a.eps:g})); "
                f"shape unchanged; no parameters (4 × {shape[0]} = {4 * shape[0]:,} fixed values in buffers)"]

    def torch_call(self, kind, a: FrozenBatchNormArgs, shape):
        kwargs = {"eps": a.eps} if a.eps != FrozenBatchNormArgs.model_fields["eps"].default else {}
        return TorchCall("FrozenBatchNorm2d", (shape[0],), kwargs, runtime=True)

    def label(self, kind, a):
        return "frozen_batch_norm2d"
