"""load → expand → wire → infer → aliasing, the torch-free front half of the compiler."""
from __future__ import annotations

from pathlib import Path

from archc.graph import Graph
from archc.passes.aliasing import check_aliasing
from archc.passes.expand import expand
from archc.passes.infer import infer
from archc.passes.limits import Limits
from archc.passes.wire import wire
from archc.spec.load import Spec, load_spec


def load(source: str | Path, *, text: str | bytes | None = None) -> Spec:
    """Read and validate a spec (no torch)."""
    return load_spec(source, text=text)


def check(source: str | Path | Spec, *, text: str | bytes | None = None, limits: Limits = Limits(),
          input_shape: tuple | None = None) -> Graph:
    """Load, expand and infer a spec: every node's shape, params and MACs (no torch); refuse
    in-place layers that would overwrite a value read after them.
    `input_shape` replaces the spec's input (e.g. binds `input: [3, H, W]` to (3, 96, 96))."""
    spec = source if isinstance(source, Spec) else load_spec(source, text=text)
    return check_aliasing(infer(wire(expand(spec, limits, input_shape)), limits))
