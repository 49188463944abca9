"""The registry of built-in layer kinds: one explicit list, duplicates refused."""
from __future__ import annotations

from archc.layers.activation import ACTIVATION_KINDS
from archc.layers.attention import MultiheadAttention
from archc.layers.base import Kind
from archc.layers.conv import Conv
from archc.layers.conv_transpose import ConvTranspose
from archc.layers.frozen_norm import FrozenBatchNorm
from archc.layers.grid import GridCoords
from archc.layers.layout import Permute, Reshape, Select, Unflatten
from archc.layers.linear import Linear
from archc.layers.merge import Combine, Concat
from archc.layers.norm import BatchNorm, LocalResponseNorm
from archc.layers.norm_extra import GroupNorm, InstanceNorm, LayerNorm, LayerNorm2d
from archc.layers.pool import AdaptivePool, AdaptivePool1d, AvgPool, AvgPool1d, MaxPool
from archc.layers.reduce import Reduce
from archc.layers.regularize import StochasticDepth
from archc.layers.resample import Interpolate, PixelShuffle, PixelUnshuffle
from archc.layers.scalar import FullLike, Scale
from archc.layers.shape import ChannelShuffle, Dropout, Flatten, Identity, SliceChannels
from archc.layers.split import Chunk, Split
from archc.layers.window_attention import ShiftedWindowAttention

_KIND_CLASSES: list[type[Kind]] = [
    Conv, MaxPool, AvgPool, AvgPool1d, AdaptivePool, AdaptivePool1d, BatchNorm, LocalResponseNorm,
    Linear, Flatten, Dropout, Identity, SliceChannels, ChannelShuffle, *ACTIVATION_KINDS,
    ConvTranspose, Interpolate, PixelShuffle, PixelUnshuffle, FrozenBatchNorm,
    LayerNorm, LayerNorm2d, GroupNorm, InstanceNorm, Permute, Reshape, Unflatten, Reduce, StochasticDepth,
    Concat, Combine, Chunk, Split, GridCoords, Scale, FullLike, MultiheadAttention, Select,
    ShiftedWindowAttention,
]


def _build_registry() -> dict[str, Kind]:
    registry: dict[str, Kind] = {}
    for cls in _KIND_CLASSES:
        instance = cls()
        for name in cls.names:
            if name in registry:
                raise RuntimeError(f"layer kind '{name}' registered twice")
            registry[name] = instance
    return registry


KINDS: dict[str, Kind] = _build_registry()
