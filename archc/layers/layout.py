"""Layouts: permute, reshape and unflatten move a sample's values into another shape,
without learning (the channels-last and token layouts of ConvNeXt and ViT); select takes
one index of a dim (ViT's class token)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from archc.layers.base import MAX_SIZE, Args, Int, Kind, Inferred, TorchCall
from archc.shapes import ShapeError, format_shape, layout_name, permuted_shape, reshaped_shape, sample_dims, \
    unflattened_shape
from archc.symbolic import require_at_least

# a size ≥ 1, or -1 for the one that is inferred (torch's reshape and unflatten)
TargetSize = Annotated[int, Field(strict=True, ge=-1, le=MAX_SIZE)]


class PermuteArgs(Args):
    dims: list[Int]  # every dim, the batch (0) included, as in x.permute(0, 2, 3, 1)


class Permute(Kind):
    names = ("permute",)
    family = "shape"
    Args = PermuteArgs
    summary = ("reorder dims as torch.permute does; dims list every dim, the batch included, and start with 0 "
               "(e.g. [0, 2, 3, 1]: N×C×H×W → N×H×W×C)")

    def infer(self, kind, a: PermuteArgs, shape):
        return Inferred(permuted_shape(shape, a.dims))

    def explain(self, kind, a, shape, out):
        return [f"permute {tuple(a.dims)}: {layout_name(shape)} {format_shape(shape)} → {format_shape(out.shape)} "
                "(a view: no values move until a later layer needs them contiguous); no parameters"]

    def torch_call(self, kind, a: PermuteArgs, shape):
        return TorchCall("Permute", (tuple(a.dims),), runtime=True)

    def label(self, kind, a: PermuteArgs):
        return f"permute {', '.join(map(str, a.dims))}"


class ReshapeArgs(Args):
    shape: list[TargetSize]  # the sample's new shape, the batch left out; one size may be -1


class Reshape(Kind):
    names = ("reshape",)
    family = "shape"
    Args = ReshapeArgs
    summary = "x.reshape(N, *shape): the sample's elements in a new shape (batch left out; one size may be -1)"

    def infer(self, kind, a: ReshapeArgs, shape):
        return Inferred(reshaped_shape(shape, a.shape))

    def explain(self, kind, a, shape, out):
        return [f"reshape {format_shape(shape)} → {format_shape(out.shape) or 'one value'}: the same "
                f"{'×'.join(map(str, shape)) or '1'} elements in a new shape; no parameters"]

    def torch_call(self, kind, a: ReshapeArgs, shape):
        return TorchCall("Reshape", (tuple(a.shape),), runtime=True)

    def label(self, kind, a: ReshapeArgs):
        return f"reshape {'×'.join(map(str, a.shape))}"


class UnflattenArgs(Args):
    dim: Int  # torch's dims: 1 is the first dim after the batch
    sizes: Annotated[list[TargetSize], Field(min_length=1)]


class Unflatten(Kind):
    names = ("unflatten",)
    family = "shape"
    Args = UnflattenArgs
    summary = "split one dim into several (torch.nn.Unflatten; dim 0 is the batch; one size may be -1)"

    def infer(self, kind, a: UnflattenArgs, shape):
        return Inferred(unflattened_shape(shape, a.dim, a.sizes))

    def explain(self, kind, a, shape, out):
        at = a.dim % (len(shape) + 1) - 1
        split = out.shape[at:at + len(a.sizes)]
        return [f"unflatten dim {a.dim}: {shape[at]} = {' × '.join(map(str, split))}; "
                f"{format_shape(shape)} → {format_shape(out.shape)}; no parameters"]

    def torch_call(self, kind, a: UnflattenArgs, shape):
        return TorchCall("Unflatten", (a.dim, tuple(a.sizes)))

    def label(self, kind, a: UnflattenArgs):
        return f"unflatten {a.dim} → {'×'.join(map(str, a.sizes))}"


class SelectArgs(Args):
    dim: Int  # torch's dims: 1 is the first dim after the batch; never 0
    index: Int  # negative counts from the end, as in x[:, -1]


class Select(Kind):
    names = ("select",)
    family = "shape"
    Args = SelectArgs
    summary = ("one index of a dim, which is removed (torch.select; ViT's class token x[:, 0] is "
               "{dim: 1, index: 0}); dim 0, the batch, is refused")

    def infer(self, kind, a: SelectArgs, shape):
        (at,) = sample_dims(a.dim, shape, kind)
        size = shape[at]
        needed = a.index + 1 if a.index >= 0 else -a.index  # the size that has this index
        if not require_at_least(size, needed, f"dim {a.dim} has index {a.index}"):
            raise ShapeError("bad-index", f"{kind} index {a.index} is outside dim {a.dim}",
                             expected=f"{-size} ≤ index < {size} on {layout_name(shape)} {format_shape(shape)}",
                             found=f"index {a.index}")
        return Inferred(shape[:at] + shape[at + 1:])

    def explain(self, kind, a: SelectArgs, shape, out):
        (at,) = sample_dims(a.dim, shape, kind)
        return [f"select index {a.index} of dim {a.dim} ({shape[at]} long) of {layout_name(shape)} "
                f"{format_shape(shape)} → {format_shape(out.shape) or 'one value'} (a view); no parameters"]

    def torch_call(self, kind, a: SelectArgs, shape):
        return TorchCall("Select", (a.dim, a.index), runtime=True)

    def label(self, kind, a: SelectArgs):
        return f"select {a.index} of dim {a.dim}"
