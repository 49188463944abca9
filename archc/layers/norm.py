"""Normalisation: batch norm and local response norm."""
from __future__ import annotations

from archc.layers.base import (
    WINDOW_READ_COST, Args, Bool, Inferred, Kind, Number, PositiveInt, PositiveNumber, TorchCall, expect_rank,
    spatial_rank,
)
from archc.shapes import product


class BatchNormArgs(Args):
    eps: PositiveNumber = 1e-5  # torch refuses eps ≤ 0 whenever batch statistics are used (training)
    momentum: Number | None = 0.1
    affine: Bool = True
    track_running_stats: Bool = True


class BatchNorm(Kind):
    names = ("batch_norm1d", "batch_norm2d", "batch_norm3d")
    family = "norm"
    Args = BatchNormArgs
    summary = "batch normalisation (torch.nn.BatchNormNd); num_features is inferred"

    def infer(self, kind, a: BatchNormArgs, shape):
        rank = spatial_rank(kind)
        # BatchNorm1d takes (N, C) or (N, C, L); the others exactly rank + 1 dims.
        expect_rank(kind, shape, (1, 2) if rank == 1 else (rank + 1,), "channels-first")
        return Inferred(shape, 2 * shape[0] if a.affine else 0)

    def param_shapes(self, kind, a: BatchNormArgs, shape):
        return {"weight": (shape[0],), "bias": (shape[0],)} if a.affine else {}

    def explain(self, kind, a, shape, out):
        params = f"parameters 2 × {shape[0]} = {out.params:,} (a scale and a shift per channel)" if a.affine else "no parameters (affine off)"
        return [f"{kind} over {shape[0]} channels: shape unchanged; {params}"]

    def torch_call(self, kind, a: BatchNormArgs, shape):
        kwargs = {k: v for k, v in a.model_dump().items()
                  if v != BatchNormArgs.model_fields[k].default}
        return TorchCall("BatchNorm" + kind[-2:], (shape[0],), kwargs)

    def label(self, kind, a):
        return kind


class LocalResponseNormArgs(Args):
    size: PositiveInt
    alpha: Number = 1e-4
    beta: Number = 0.75
    k: Number = 1.0


class LocalResponseNorm(Kind):
    names = ("local_response_norm",)
    family = "norm"
    Args = LocalResponseNormArgs
    summary = "local response normalisation across channels (AlexNet)"

    def infer(self, kind, a, shape):
        expect_rank(kind, shape, (2, 3, 4), "channels×spatial")
        return Inferred(shape)

    def workspace(self, kind, a: LocalResponseNormArgs, shape):
        # F.local_response_norm squares the input, pads the square with size − 1 channels and
        # average-pools it across channels: with a large size the padded square dwarfs the output
        channels, spatial = shape[0], product(shape[1:])
        return (channels + a.size - 1) * spatial + 2 * channels * spatial

    def work(self, kind, a: LocalResponseNormArgs, shape, out):
        return WINDOW_READ_COST * product(shape) * a.size  # each value averages `size` squares across channels

    def torch_call(self, kind, a: LocalResponseNormArgs, shape):
        kwargs = {k: v for k, v in a.model_dump().items()
                  if k != "size" and v != LocalResponseNormArgs.model_fields[k].default}
        return TorchCall("LocalResponseNorm", (a.size,), kwargs)

    def label(self, kind, a):
        return f"lrn {a.size}"
