"""Stochastic depth: torchvision.ops.StochasticDepth, which drops a residual branch per sample
(row) or for the whole batch while training, and is the identity in eval mode."""
from __future__ import annotations

from typing import Literal

from archc.layers.base import Args, Inferred, Kind, Probability, TorchCall


class StochasticDepthArgs(Args):
    p: Probability  # the probability of dropping; torchvision refuses p outside [0, 1]
    mode: Literal["row", "batch"] = "row"  # torchvision has no default; every torchvision model uses row


class StochasticDepth(Kind):
    names = ("stochastic_depth",)
    family = "shape"
    Args = StochasticDepthArgs
    summary = ("torchvision.ops.StochasticDepth: while training, zero the input with probability p per sample "
               "(row) or for the whole batch, scaling what is kept by 1/(1 − p); identity in eval mode")

    def infer(self, kind, a, shape):
        return Inferred(shape)

    def explain(self, kind, a: StochasticDepthArgs, shape, out):
        keep = 1 - a.p
        scale = f"kept ones scaled by 1/{keep:g}" if keep > 0 else "nothing kept"
        unit = "each sample" if a.mode == "row" else "the whole batch"
        return [f"stochastic_depth p={a.p:g} ({a.mode}): while training {unit} is dropped with probability {a.p:g}, "
                f"{scale}; identity in eval mode; shape unchanged"]

    def torch_call(self, kind, a: StochasticDepthArgs, shape):
        return TorchCall("StochasticDepth", (a.p, a.mode), runtime=True)

    def label(self, kind, a: StochasticDepthArgs):
        return f"stochastic_depth {a.p:g}" + ("" if a.mode == "row" else " batch")
