"""Fully connected layers."""
from __future__ import annotations

from archc.layers.base import Args, Bool, Inferred, Kind, PositiveInt, TorchCall, expect_rank
from archc.shapes import product, require_concrete


class LinearArgs(Args):
    out_features: PositiveInt
    bias: Bool = True


class Linear(Kind):
    names = ("linear",)
    family = "linear"
    Args = LinearArgs
    summary = ("fully connected layer (torch.nn.Linear) on N×C features or on each token of (N, L, C) tokens; "
               "in_features is inferred")

    def infer(self, kind, a: LinearArgs, shape):
        # torch would apply Linear to the last dim of any tensor; on features and on tokens
        # (a transformer's MLP) that is meant, on an image it is almost always a forgotten
        # flatten, so archc refuses it.
        expect_rank(kind, shape, (1, 2), "flat (N×C features) or (N, L, C) tokens",
                    hint="add '- flatten' before it (or a global pool, then flatten)")
        features = require_concrete(shape[-1], "number of input features")
        params = features * a.out_features + (a.out_features if a.bias else 0)
        per_token = features * a.out_features
        return Inferred((*shape[:-1], a.out_features), params, per_token * product(shape[:-1]))

    def param_shapes(self, kind, a: LinearArgs, shape):
        shapes = {"weight": (a.out_features, shape[-1])}
        return {**shapes, "bias": (a.out_features,)} if a.bias else shapes

    def explain(self, kind, a, shape, out):
        features = shape[-1]
        bias = f" + {a.out_features}" if a.bias else ""
        macs = f"{a.out_features} × {features}" if len(shape) == 1 else \
            f"{shape[0]} tokens × {a.out_features} × {features}"
        return [f"linear {features} → {a.out_features}: parameters {a.out_features} × {features}{bias} = {out.params:,}; "
                f"MACs {macs} = {out.macs:,}"]

    def torch_call(self, kind, a: LinearArgs, shape):
        return TorchCall("Linear", (shape[-1], a.out_features), {} if a.bias else {"bias": False})

    def label(self, kind, a):
        return f"linear → {a.out_features}"
