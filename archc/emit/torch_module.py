"""The torch emitter: a ModulePlan → a real nn.Module tree."""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from archc import runtime
from archc.blocks import block_class
from archc.emit.plan import ModulePlan, network_plan, require_concrete_input
from archc.graph import Graph
from archc.shapes import format_shape

def _class(name: str | None, base: type) -> type:
    """A block's own class (shared by its instances; see archc/blocks.py), or the plain base."""
    return base if name is None else block_class(name, base)


def instantiate(p: ModulePlan) -> nn.Module:
    if p.call is not None:
        module = getattr(runtime if p.call.runtime else nn, p.call.cls)(*p.call.args, **p.call.kwargs)
        if p.init:  # right after construction, so random draws come in the same order as in the source
            runtime.initialise(module, **p.init)
        return module.requires_grad_(False) if p.frozen else module
    kids = OrderedDict((name, instantiate(child)) for name, child in p.children.items())
    if p.container == "Sequential":
        return _class(p.cls_name, nn.Sequential)(kids)
    if p.container == "Flow":
        o = p.options
        return _class(p.cls_name, runtime.Flow)(kids, o["program"], o["inputs"], o["outputs"], o["parameters"])
    if p.container == "Chain":
        return _class(p.cls_name, runtime.Chain)(kids, p.options["wiring"])
    if p.container == "Residual":
        o = p.options
        body = OrderedDict((n, kids[n]) for n in o["body"])
        after = OrderedDict((n, kids[n]) for n in o["after"])
        shortcut = kids[o["shortcut"]] if o["shortcut"] else None
        return _class(p.cls_name, runtime.Residual)(body, shortcut, o["shortcut"] or "shortcut", after, o["how"],
                                                    o["shortcut_first"])
    if p.container == "Parallel":
        return _class(p.cls_name, runtime.Parallel)(kids, p.options["how"])
    if p.container == "Dense":
        return _class(p.cls_name, runtime.Dense)(kids)
    raise ValueError(p.container)


def build_module(graph: Graph, device=None, dtype=None) -> nn.Module:
    """The network as an nn.Module tree named after the spec, on `device` in `dtype`."""
    require_concrete_input(graph)  # before the device check, as a spec error comes first
    if device is not None:
        _check_device(device)
    module = instantiate(network_plan(graph))
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module


def _check_device(device) -> None:
    """A clear error for a device this machine does not have (torch's own is a traceback)."""
    try:
        torch.empty(0, device=device)
    except Exception:  # torch says "unavailable" in many ways: RuntimeError, AssertionError, NotImplementedError,
        # ModuleNotFoundError ('hpu'), ValueError …; all mean the same to the user
        from archc.errors import ArchcError

        raise ArchcError("device-unavailable", f"device '{device}' is not available here",
                         expected="a device this machine and this torch build have", found=f"'{device}'",
                         hint="omit --device to build on the CPU; torch.cuda.device_count() says how many GPUs torch sees") from None


def example_input(graph: Graph, batch: int = 1, device=None, dtype=None) -> torch.Tensor:
    return torch.zeros((batch, *graph.input_shape), device=device, dtype=dtype)


def example_inputs(graph: Graph, batch: int = 1, device=None, dtype=None) -> tuple[torch.Tensor, ...]:
    """Zeros for every input, in the order forward takes them."""
    return tuple(torch.zeros((batch, *shape), device=device, dtype=dtype) for shape in graph.input_shapes.values())
