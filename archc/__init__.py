"""archc: a declarative architecture compiler for convolutional networks.

    import archc
    graph = archc.check("specs/d2l/alexnet.yaml")   # shapes, params, MACs (no torch)
    model = archc.build("specs/d2l/alexnet.yaml")   # an nn.Module named after the spec
    svg = archc.render(graph, "svg")                # the diagram (no torch)

`load`, `check`, `render` and `source` never import torch; `build` does.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archc.errors import ArchcError, ArchcErrors
from archc.graph import Graph
from archc.passes.limits import Limits
from archc.pipeline import check, load
from archc.spec.load import Spec

if TYPE_CHECKING:
    from torch import nn

__version__ = "0.1.0"
__all__ = ["ArchcError", "ArchcErrors", "Graph", "Limits", "Spec", "build", "check", "load", "render", "source"]


def build(spec: str | Path | Spec | Graph, *, device=None, dtype=None, limits: Limits = Limits(),
          weights: str | Path | None = None) -> "nn.Module":
    """Check a spec and construct its nn.Module (on `device`, in `dtype` when given), with the
    trained `weights` (a torch.save state_dict or a .safetensors file) loaded when given.
    A spec with symbolic sizes (input: [3, H, W]) is built at example sizes: the module takes
    every size the spec allows."""
    from archc.emit.torch_module import build_module
    from archc.pipeline import at_example_size

    graph = spec if isinstance(spec, Graph) else at_example_size(check(spec, limits=limits), spec, limits)
    model = build_module(graph, device=device, dtype=dtype)
    if weights is not None:
        from archc.weights import load_weights

        load_weights(model, weights)
    return model


def source(spec: str | Path | Spec | Graph, *, limits: Limits = Limits()) -> str:
    """The network as a standalone plain-PyTorch Python file (no torch needed to write it)."""
    from archc.emit.source import python_source

    graph = spec if isinstance(spec, Graph) else check(spec, limits=limits)
    return python_source(graph)


def render(spec: str | Path | Spec | Graph, fmt: str = "svg", *, depth: int | None = None, rankdir: str = "TB",
           params: bool = False, repeats: bool = True, limits: Limits = Limits(), **slide) -> bytes:
    """The architecture diagram as svg, png, pdf (these need graphviz's dot), dot or mermaid.
    `slide` takes archc render's options by keyword: dpi, title, legend, layout, focus."""
    from archc.emit.diagram import FORMATS, render_bytes

    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    graph = spec if isinstance(spec, Graph) else check(spec, limits=limits)
    unknown = set(slide) - {"dpi", "title", "legend", "layout", "focus"}
    if unknown:
        raise TypeError(f"render() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    return render_bytes(graph, fmt, depth=depth, rankdir=rankdir, show_params=params, repeats=repeats, **slide)
