"""Fully connected layers."""
from __future__ import annotations

from archc.layers.base import Args, Bool, Inferred, Kind, PositiveInt, TorchCall, expect_rank


class LinearArgs(Args):
    out_features: PositiveInt
    bias: Bool = True


class Linear(Kind):
    names = ("linear",)
    family = "linear"
    Args = LinearArgs
    summary = "fully connected layer (torch.nn.Linear); in_features is inferred"

    def infer(self, kind, a: LinearArgs, shape):
        # torch would apply Linear to the last dim of any tensor; on an image that is almost
        # always a forgotten flatten, so archc refuses it.
        expect_rank(kind, shape, (1,), "flat (features only)",
                    hint="add '- flatten' before it (or a global pool, then flatten)")
        params = shape[0] * a.out_features + (a.out_features if a.bias else 0)
        return Inferred((a.out_features,), params, shape[0] * a.out_features)

    def param_shapes(self, kind, a: LinearArgs, shape):
        shapes = {"weight": (a.out_features, shape[0])}
        return {**shapes, "bias": (a.out_features,)} if a.bias else shapes

    def explain(self, kind, a, shape, out):
        bias = f" + {a.out_features}" if a.bias else ""
        return [f"linear {shape[0]} → {a.out_features}: parameters {a.out_features} × {shape[0]}{bias} = {out.params:,}; "
                f"MACs {a.out_features} × {shape[0]} = {out.macs:,}"]

    def torch_call(self, kind, a: LinearArgs, shape):
        return TorchCall("Linear", (shape[0], a.out_features), {} if a.bias else {"bias": False})

    def label(self, kind, a):
        return f"linear → {a.out_features}"
