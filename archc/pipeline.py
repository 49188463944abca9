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


def at_example_size(graph: Graph, source: str | Path | Spec, limits: Limits = Limits()) -> Graph:
    """`graph` again at the sizes `archc export` traces with (64, or the least size above it the
    constraints accept) when its one input has symbolic sizes; otherwise `graph` itself.
    A module has no sizes of its own, and check has proven every size the constraints allow,
    so building at one of them builds the network for all of them."""
    if not graph.symbolic or len(graph.input_shapes) > 1:
        return graph  # several symbolic inputs: building asks for concrete sizes
    from archc.export import plan_dims

    return check(source, limits=limits, input_shape=plan_dims(graph).example_shape)
