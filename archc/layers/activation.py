"""Elementwise activations and softmax."""
from __future__ import annotations

from typing import Literal

from archc.layers.base import Args, Bool, Float32, Inferred, Int, Kind, TorchCall
from archc.shapes import ShapeError


class InplaceArgs(Args):
    inplace: Bool = False


class LeakyReluArgs(InplaceArgs):
    negative_slope: Float32 = 0.01


class EluArgs(InplaceArgs):
    alpha: Float32 = 1.0


class GeluArgs(Args):
    approximate: Literal["none", "tanh"] = "none"


class SoftmaxArgs(Args):
    dim: Int = 1  # torch's dims: 1 is the first dim after the batch


# kind -> (torch class, argument schema)
_ACTIVATIONS: dict[str, tuple[str, type[Args]]] = {
    "relu": ("ReLU", InplaceArgs),
    "relu6": ("ReLU6", InplaceArgs),
    "leaky_relu": ("LeakyReLU", LeakyReluArgs),
    "elu": ("ELU", EluArgs),
    "gelu": ("GELU", GeluArgs),
    "silu": ("SiLU", InplaceArgs),
    "sigmoid": ("Sigmoid", Args),
    "tanh": ("Tanh", Args),
    "hardswish": ("Hardswish", InplaceArgs),
    "hardsigmoid": ("Hardsigmoid", InplaceArgs),
    "softmax": ("Softmax", SoftmaxArgs),
    "log_softmax": ("LogSoftmax", SoftmaxArgs),
}


def _activation_kind(kind: str, torch_cls: str, schema: type[Args]) -> type[Kind]:
    """One Kind class per activation: shape unchanged, no parameters, no MACs."""

    class Activation(Kind):
        names = (kind,)
        family = "activation"
        Args = schema
        summary = f"torch.nn.{torch_cls}"

        def infer(self, kind, a, shape):
            slope = {"leaky_relu": "negative_slope", "elu": "alpha"}.get(kind)
            if slope and a.inplace and getattr(a, slope) < 0:
                # autograd refuses the backward of these two in place with a negative slope
                raise ShapeError("bad-value", f"an in-place {kind} with a negative {slope} cannot be trained",
                                 expected=f"{slope} ≥ 0, or inplace: false",
                                 found=f"{slope} {getattr(a, slope):g} with inplace: true",
                                 hint="drop 'inplace: true' (torch computes its backward only out of place)")
            if isinstance(a, SoftmaxArgs):
                rank = len(shape) + 1  # torch counts the batch as dim 0
                if not -rank <= a.dim < rank or a.dim % rank == 0:
                    raise ShapeError("bad-dim", f"{kind} dim is out of range or is the batch",
                                     expected=f"1 ≤ dim < {rank} (dim 0 is the batch)", found=f"dim {a.dim}")
            return Inferred(shape)

        def torch_call(self, kind, a, shape):
            kwargs = {k: v for k, v in a.model_dump().items() if v != type(a).model_fields[k].default}
            if isinstance(a, SoftmaxArgs):
                kwargs["dim"] = a.dim  # torch's default (None) is deprecated: always explicit
            return TorchCall(torch_cls, (), kwargs)

    Activation.__name__ = Activation.__qualname__ = torch_cls
    return Activation


ACTIVATION_KINDS = [_activation_kind(k, cls, schema) for k, (cls, schema) in _ACTIVATIONS.items()]
