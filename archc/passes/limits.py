"""Bounds on what one spec may expand to, so no input can hang or exhaust the machine."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_repeat: int = 10_000  # iterations of one repeat, units of one dense
    max_depth: int = 64  # nesting of blocks and structural kinds
    max_nodes: int = 100_000  # nodes in the expanded graph
    max_work: int = 3_000_000  # units of expansion work (passes/work.py), about a microsecond each
    max_params: int = 2_000_000_000  # parameters, checked before any tensor exists
    max_elements: int = 2_000_000_000  # elements of any one activation (per sample)
    max_memory: int = 64 * 2**30  # bytes: float32 parameters + one sample's activations
