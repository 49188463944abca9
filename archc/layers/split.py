"""Kinds with several outputs: chunk and split cut a tensor along a dim into pieces.

A later layer reads piece k of the layer named `y` as `y.k` (0-based), as YOLOv8's C2f
reads `y[0]` and `y[1]` of `cv1(x).chunk(2, 1)`. infer and the runtime agree with
torch.chunk and torch.split, whose pieces are views of the input.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from archc.layers.base import Args, Inferred, Int, Kind, PositiveInt, TorchCall
from archc.shapes import ShapeError, format_shape


class ChunkArgs(Args):
    chunks: Annotated[int, Field(ge=2, le=4096, strict=True)]
    dim: Int = 1


class SplitArgs(Args):
    sizes: Annotated[list[PositiveInt], Field(min_length=2, max_length=4096)]
    dim: Int = 1


def sample_dim(kind: str, dim: int, shape: tuple) -> int:
    """The index into a sample's shape (no batch) of torch's `dim` (batch = 0, negatives from the end)."""
    rank = len(shape) + 1
    index = dim + rank if dim < 0 else dim
    if not 1 <= index < rank:
        raise ShapeError("bad-dim", f"{kind} cuts along a dim the input does not have" if index != 0
                         else f"{kind} cannot cut the batch (dim 0)",
                         expected=f"a dim from 1 to {rank - 1} (or {-(rank - 1)} to -1)",
                         found=f"dim {dim} of input {format_shape(shape)}")
    return index - 1


def _cut(shape: tuple, d: int, sizes: list[int]) -> list[tuple]:
    return [(*shape[:d], size, *shape[d + 1:]) for size in sizes]


class Chunk(Kind):
    names = ("chunk",)
    family = "split"
    Args = ChunkArgs
    summary = "cut into `chunks` equal pieces along dim (torch.chunk); read piece k as <name>.k"

    def output_shapes(self, kind, a: ChunkArgs, shape):
        d = sample_dim(kind, a.dim, shape)
        size = shape[d]
        if not isinstance(size, int) or size % a.chunks:
            # torch.chunk would make unequal (or fewer) pieces: refused, so every piece is what it says
            raise ShapeError("not-divisible", f"chunk needs the size along dim {a.dim} to divide into {a.chunks} pieces",
                             expected=f"a multiple of {a.chunks}", found=f"{size} (input {format_shape(shape)})",
                             hint="use split with explicit sizes for unequal pieces")
        return _cut(shape, d, [size // a.chunks] * a.chunks)

    def infer(self, kind, a, shape):
        return Inferred(self.output_shapes(kind, a, shape)[0])

    def explain(self, kind, a: ChunkArgs, shape, out):
        d = sample_dim(kind, a.dim, shape)
        pieces = self.output_shapes(kind, a, shape)
        return [f"chunk along dim {a.dim}: {shape[d]} / {a.chunks} = {pieces[0][d]} each → {a.chunks} pieces of "
                f"{format_shape(pieces[0])} (read as <name>.0 … <name>.{a.chunks - 1}); no parameters"]

    def torch_call(self, kind, a: ChunkArgs, shape):
        return TorchCall("Chunk", (a.chunks, a.dim), runtime=True)

    def label(self, kind, a: ChunkArgs):
        return f"chunk {a.chunks}" + ("" if a.dim == 1 else f" dim {a.dim}")


class Split(Kind):
    names = ("split",)
    family = "split"
    Args = SplitArgs
    summary = "cut into pieces of the given sizes along dim (torch.split); read piece k as <name>.k"

    def output_shapes(self, kind, a: SplitArgs, shape):
        d = sample_dim(kind, a.dim, shape)
        if not isinstance(shape[d], int) or sum(a.sizes) != shape[d]:
            raise ShapeError("bad-value", f"split's sizes must add up to the size along dim {a.dim}",
                             expected=f"sizes adding up to {shape[d]}", found=f"{a.sizes} (sum {sum(a.sizes)})")
        return _cut(shape, d, a.sizes)

    def infer(self, kind, a, shape):
        return Inferred(self.output_shapes(kind, a, shape)[0])

    def explain(self, kind, a: SplitArgs, shape, out):
        d = sample_dim(kind, a.dim, shape)
        pieces = self.output_shapes(kind, a, shape)
        return [f"split along dim {a.dim}: {' + '.join(map(str, a.sizes))} = {shape[d]} → pieces "
                + ", ".join(format_shape(p) for p in pieces) + f" (read as <name>.0 … <name>.{len(pieces) - 1}); no parameters"]

    def torch_call(self, kind, a: SplitArgs, shape):
        return TorchCall("Split", (tuple(a.sizes), a.dim), runtime=True)

    def label(self, kind, a: SplitArgs):
        return "split " + "/".join(map(str, a.sizes))
