"""The multi-input kinds: concat, add and mul combine the values their `from:` names.

The combining itself is the step's (runtime.Flow and runtime.Chain merge before they call
the layer, and infer checks the shapes by the merge's rule); the layer is then the
identity, so an Ultralytics-style `Concat` keeps its place (and index) in the module tree.
"""
from __future__ import annotations

from archc.layers.base import Args, Inferred, Int, Kind, TorchCall
from archc.shapes import format_shape


class ConcatArgs(Args):
    dim: Int = 1  # counting the batch as dim 0, as torch.cat does


class Concat(Kind):
    names = ("concat",)
    family = "merge"
    Args = ConcatArgs
    summary = "concatenate the values named by from: along dim (default 1, the channels); no parameters"

    def infer(self, kind, a, shape):
        return Inferred(shape)  # the merged shape: infer merged the inputs already

    def explain(self, kind, a: ConcatArgs, shape, out):
        # `shape` is the merged shape (infer merged the inputs); archc/explain.py adds each input's
        d = a.dim - 1 if a.dim > 0 else len(shape) + a.dim
        return [f"concat along dim {a.dim}: the inputs' sizes along it add up to {out.shape[d]}; every other dim "
                f"must agree → {format_shape(out.shape)}; no parameters"]

    def torch_call(self, kind, a, shape):
        return TorchCall("Identity")

    def label(self, kind, a):
        return "concat" if a.dim == 1 else f"concat dim {a.dim}"


class Combine(Kind):
    names = ("add", "mul")
    family = "merge"
    summary = "add or multiply the values named by from: (mul broadcasts size-1 dims, as gating does); no parameters"

    def infer(self, kind, a, shape):
        return Inferred(shape)

    def explain(self, kind, a, shape, out):
        if kind == "mul":
            return [f"mul: elementwise product of the inputs, size-1 dims broadcast → {format_shape(out.shape)}; "
                    "no parameters"]
        return [f"add: elementwise sum of the inputs, which need equal shapes → {format_shape(out.shape)}; no parameters"]

    def torch_call(self, kind, a, shape):
        return TorchCall("Identity")
