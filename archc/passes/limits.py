"""Bounds on what one spec may expand to, so no input can hang or exhaust the machine."""
from __future__ import annotations

import os
from dataclasses import dataclass


def default_max_memory() -> int:
    """Half this machine's physical memory (the rest is for the OS, torch and other work);
    16 GiB where the platform does not say."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        physical = 0
    return physical // 2 if physical > 0 else 16 * 2**30


@dataclass(frozen=True)
class Limits:
    max_repeat: int = 10_000  # iterations of one repeat, units of one dense
    max_depth: int = 64  # nesting of blocks and structural kinds
    max_nodes: int = 100_000  # nodes in the expanded graph
    max_work: int = 3_000_000  # units of expansion work (passes/work.py), about a microsecond each
    max_params: int = 2_000_000_000  # parameters, checked before any tensor exists
    max_elements: int = 2_000_000_000  # elements of any one activation (per sample)
    max_memory: int = default_max_memory()  # bytes: float32 parameters, one sample's activations, working buffers
    # multiply-accumulates of one sample's forward pass: build runs one, run a batch of them; a
    # trillion is minutes of CPU time and 50× the largest classifier archc ships
    max_macs: int = 10**12
