"""Fully connected layers."""
from __future__ import annotations

from archc.layers.base import Args, Bool, Inferred, Kind, PositiveInt, TorchCall, expect_rank
from archc.shapes import format_shape, product, require_concrete


class LinearArgs(Args):
    out_features: PositiveInt
    bias: Bool = True
    # The opt-in for what torch does on any tensor: apply the layer to the last dim at every
    # position of a channels-last map (N×H×W×C after a permute, ConvNeXt's MLP).
    channels_last: Bool = False


class Linear(Kind):
    names = ("linear",)
    family = "linear"
    Args = LinearArgs
    summary = ("fully connected layer (torch.nn.Linear) on N×C features or on each token of (N, L, C) tokens; "
               "in_features is inferred; channels_last: true applies it at every position of a channels-last "
               "map (N×H×W×C)")

    def infer(self, kind, a: LinearArgs, shape):
        if not a.channels_last:
            # torch would apply Linear to the last dim of any tensor; on features and on (N, L, C)
            # tokens (a transformer's MLP) that is meant, on an image it is almost always a
            # forgotten flatten, so archc refuses it unless the spec says channels_last.
            expect_rank(kind, shape, (1, 2), "flat (N×C features) or (N, L, C) tokens",
                        hint="add '- flatten' before it (or a global pool, then flatten); on a channels-last "
                             "map, where the last dim is the features, say channels_last: true")
        elif not shape:
            expect_rank(kind, shape, tuple(range(1, 9)), "channels-last (features in the last dim)")
        features = require_concrete(shape[-1], "number of input features")
        params = features * a.out_features + (a.out_features if a.bias else 0)
        # one matrix-vector product per position, as torch's FlopCounter counts a Linear on a map
        macs = product(shape[:-1]) * features * a.out_features
        return Inferred((*shape[:-1], a.out_features), params, macs)

    def param_shapes(self, kind, a: LinearArgs, shape):
        shapes = {"weight": (a.out_features, shape[-1])}
        return {**shapes, "bias": (a.out_features,)} if a.bias else shapes

    def explain(self, kind, a, shape, out):
        bias = f" + {a.out_features}" if a.bias else ""
        features = shape[-1]
        positions = shape[:-1]
        where = f" at each of the {format_shape(positions)} positions" if positions else ""
        per_position = f"{format_shape(positions)} × " if positions else ""
        return [f"linear {features} → {a.out_features}{where}: parameters {a.out_features} × {features}{bias} = "
                f"{out.params:,}; MACs {per_position}{a.out_features} × {features} = {out.macs:,}"]

    def torch_call(self, kind, a: LinearArgs, shape):
        return TorchCall("Linear", (shape[-1], a.out_features), {} if a.bias else {"bias": False})

    def label(self, kind, a):
        return f"linear → {a.out_features}" + (" per position" if a.channels_last else "")
